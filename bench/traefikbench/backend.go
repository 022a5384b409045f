package main

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// emptyHeader is the request header that the empty plugin sets.
const emptyHeader = "X-Empty"

// backend is the app behind every route: 200 with a 3-byte body, as fast as a Go
// server answers. It counts, per route (by path prefix), the requests it served and
// those that carried ags's identity or the empty plugin's header, so that each run can
// be checked: wrk counts a redirect to the provider as a success.
type backend struct {
	URL string
	srv *http.Server
	per [numRoutes]routeCounters
}

type routeCounters struct {
	served, withUser, withEmpty atomic.Int64
	withReload                  [2]atomic.Int64 // reloadHeaders[i]
}

// counts is a snapshot of one route's counters.
type counts struct {
	served, withUser, withEmpty int64
	// requests that carried the identity header of each value of the option that
	// a -reload run toggles (reloadHeaders): proof that the new options took effect
	withReload [2]int64
}

var body = []byte("ok\n")

func startBackend() (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{URL: "http://" + ln.Addr().String()}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := -1
	for i, prefix := range routePaths {
		if strings.HasPrefix(r.URL.Path, prefix) {
			route = i
			break
		}
	}
	if route >= 0 {
		c := &b.per[route]
		c.served.Add(1)
		if r.Header.Get("X-Auth-Request-User") != "" {
			c.withUser.Add(1)
		}
		if r.Header.Get(emptyHeader) != "" {
			c.withEmpty.Add(1)
		}
		for i, h := range reloadHeaders {
			if r.Header.Get(h) != "" {
				c.withReload[i].Add(1)
			}
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	w.Write(body)
}

func (b *backend) counts(route int) counts {
	c := &b.per[route]
	return counts{served: c.served.Load(), withUser: c.withUser.Load(), withEmpty: c.withEmpty.Load(),
		withReload: [2]int64{c.withReload[0].Load(), c.withReload[1].Load()}}
}

// settled returns route's counts once they have not moved for quiet (or after
// most): when wrk ends a run, each of its connections may have a request on the way,
// which Traefik still passes on, so the next run's counts must start after them.
func (b *backend) settled(route int, quiet, most time.Duration) counts {
	deadline := time.Now().Add(most)
	c := b.counts(route)
	for time.Now().Before(deadline) {
		time.Sleep(quiet)
		next := b.counts(route)
		if next == c {
			break
		}
		c = next
	}
	return c
}

// Close stops the backend.
func (b *backend) Close() { b.srv.Close() }
