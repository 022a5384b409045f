package harness

import (
	"fmt"
	"net"
	"testing"
)

// TestFreePort: the ports are below the ephemeral range, free, and never the same
// twice in a process, also when the tests ask at the same time.
func TestFreePort(t *testing.T) {
	low, high := portRange()
	if high-low != 12000 || low < 1024 {
		t.Fatalf("portRange() = %d, %d; want 12,000 ports from 1024 up", low, high)
	}
	// A port taken meanwhile is skipped.
	held, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", nextPort()))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	seen := make(chan int, 400)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 100 {
				p, err := FreePort()
				if err != nil {
					errs <- err
					return
				}
				seen <- p
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(seen)
	got := map[int]bool{}
	for p := range seen {
		if p < low || p >= high {
			t.Errorf("port %d is outside %d-%d", p, low, high-1)
		}
		if got[p] {
			t.Errorf("port %d handed out twice", p)
		}
		if p == heldPort {
			t.Errorf("port %d handed out while a listener held it", p)
		}
		got[p] = true
	}
	if len(got) != 400 {
		t.Errorf("%d distinct ports from 400 calls", len(got))
	}
}

// nextPort is the port FreePort tries next.
func nextPort() int {
	if _, err := FreePort(); err != nil { // sets the range up
		panic(err)
	}
	ports.mu.Lock()
	defer ports.mu.Unlock()
	return ports.next
}
