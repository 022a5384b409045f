package main

import (
	"testing"
	"time"
)

// settled waits for the requests still on the way (a run's last ones) before it
// reads the counts, and no longer than it is told to.
func TestBackendSettled(t *testing.T) {
	b := &backend{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 5; i++ {
			b.per[routeMany].served.Add(1)
			b.per[routeMany].withUser.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if got := b.settled(routeMany, 60*time.Millisecond, 2*time.Second); got.served != 5 || got.withUser != 5 {
		<-done
		t.Errorf("got %+v, want the 5 requests that arrived 20 ms apart", got)
	}
	<-done

	// a route that never settles: the counts after at most the limit
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				b.per[routeBare].served.Add(1)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer close(stop)
	started := time.Now()
	b.settled(routeBare, 20*time.Millisecond, 200*time.Millisecond)
	if took := time.Since(started); took > time.Second {
		t.Errorf("settled took %s on a busy route, want at most about 200 ms", took)
	}
}
