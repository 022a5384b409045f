package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPassLoadWrk runs the sessions' script in wrk as a pass (passLoad): each
// thread asks for its share of the sessions from first on, each once, and stops.
func TestPassLoadWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("no wrk (apt-get install wrk)")
	}
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Cookie"))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 8; i++ {
		lines = append(lines, fmt.Sprintf("%s; ags_client_session=s%d; %s", cookieBefore, i, cookieAfter))
	}
	set := &sessionSet{file: filepath.Join(dir, "cookies.txt"), script: filepath.Join(dir, "sessions.lua")}
	if err := os.WriteFile(set.file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(set.script, []byte(luaScript(set.file, srv.URL, "Cookie")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                         string
		threads, n, first, perThread int
		want                         []int // the sessions asked for, sorted
	}{
		{name: "one thread, from the third on", threads: 1, n: 8, first: 2, perThread: 3, want: []int{2, 3, 4}},
		{name: "two threads, a share each", threads: 2, n: 6, first: 0, perThread: 3, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "the rest of a pass, past the end", threads: 1, n: 6, first: 5, perThread: 2, want: []int{0, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			load := set.passLoad(srv.URL+"/many/", tc.n, tc.first, tc.perThread)
			if want := []string{fmt.Sprint(tc.n), fmt.Sprint(tc.first), fmt.Sprint(tc.perThread)}; !reflect.DeepEqual(load.scriptArgs, want) {
				t.Fatalf("got the arguments %q, want %q", load.scriptArgs, want)
			}
			// one connection per thread: none has a request on the way when its
			// thread stops (with more, each may send one more)
			w, err := runWrk(context.Background(), "wrk", tc.threads, tc.threads, time.Second, load)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			got := make([]int, 0, len(asked))
			for _, line := range asked {
				i := -1
				for j, l := range lines {
					if l == line {
						i = j
					}
				}
				got = append(got, i)
			}
			sort.Ints(got)
			if !reflect.DeepEqual(got, tc.want) || w.requests != int64(len(tc.want)) {
				t.Errorf("got the sessions %v (-1: none of them) in %d requests, want %v", got, w.requests, tc.want)
			}
		})
	}
}

// A pass over several runs (one that ended before its share, the rest) adds up.
func TestSessionPass(t *testing.T) {
	p := sessionPass{runs: []result{
		{wrk: wrkResult{requests: 3000, seconds: 2}, cpu: 300 * time.Millisecond},
		{wrk: wrkResult{requests: 2000, seconds: 1}, cpu: 500 * time.Millisecond},
	}}
	if got := p.requests(); got != 5000 {
		t.Errorf("requests: got %d, want 5,000", got)
	}
	if got := p.cpuPerRequest(); got != 160 {
		t.Errorf("cpuPerRequest: got %v µs, want 800 ms over 5,000: 160", got)
	}
}

// sessionFloodOf is a session flood whose pass before costs before µs per request,
// the first after costs after and the second again, and whose requests cost
// flood each (200,000 of them).
func sessionFloodOf(before, after, again, flood float64) *report {
	pass := func(us float64) sessionPass {
		return sessionPass{runs: []result{
			{route: routeMany, wrk: wrkResult{requests: 3000, seconds: 1}, cpu: time.Duration(us * 3000 * float64(time.Microsecond))},
			{route: routeMany, round: 1, wrk: wrkResult{requests: 2000, seconds: 1}, cpu: time.Duration(us * 2000 * float64(time.Microsecond))},
		}}
	}
	f := &sessionFloodResult{
		before: pass(before), after: pass(after), again: pass(again),
		runs:     []result{{route: routeMany, label: "one session, a new app cookie per request", wrk: wrkResult{requests: 200000}}},
		requests: 200000, cpu: time.Duration(flood * 200000 * float64(time.Microsecond)), took: 75 * time.Second,
		rssBefore: memory{rss: 200000}, rssMost: memory{rss: 200000 + 2*1024}, rssAfter: memory{rss: 201000},
	}
	return &report{s: settings{sessions: 5000, cacheBound: 64, threads: 1, connections: 8}, sessionFlood: f}
}

func TestSessionFloodMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		before, after, again, flood float64
		wants                       []string
	}{
		{name: "the views survived", before: 40, after: 42, again: 41, flood: 141, wants: []string{
			"### One session, an invented cookie on every request: 200,000 requests to the many-sessions route",
			"`wrk -t1 -c8` with the churn route's script", "an `XSRF-TOKEN` cookie new on every request",
			"twice right after it, one pass over the 5,000 sessions, each asked for once",
			"| flood requests, all signed in | 200,000 in 1m15s |",
			"| Traefik CPU µs per flood request | 141.0 |",
			"| 5,000 sessions, one pass, CPU µs/request right before the flood | 40.0 (5,000 requests) |",
			"| the same right after it | 42.0 (5,000 requests) |",
			"| the same once more, right after that | 41.0 (5,000 requests) |",
			"| real sessions after 200,000 requests of one session with invented cookies, over before | 1.05 (no target,",
			"| the first pass after over the second | 1.02 (",
			// 1 µs more than the second pass, over the 100 a miss adds (a flood request's 141 - 41)
			"| the sessions' views the flood pushed out, estimated | about 1% (the first pass after 1.0 µs per request above the second, over the 100.0 µs a view miss adds",
			"| Traefik's VmRSS over the session flood | kB |",
			"+2.0 MiB; target within the cache's bound of 64 MiB + 10% (70.4 MiB): met",
		}},
		{name: "every view pushed out, the machine slower after the flood", before: 40, after: 150, again: 50, flood: 150, wants: []string{
			"| 3.75 (no target,", "| the first pass after over the second | 3.00 (", "about 100% (the first pass after 100.0 µs per request above the second",
		}},
		{name: "half of them", before: 40, after: 90, again: 40, flood: 140, wants: []string{"about 50% ("}},
		{name: "passes too short for a tick of CPU time", before: 0, after: 0, again: 0, flood: 100, wants: []string{
			"| n/a (no CPU time counted in the pass below: shorter than a tick) (no target,",
			"| the first pass after over the second | n/a (no CPU time counted in the pass below: shorter than a tick) (",
		}},
		{name: "a flood request no dearer than a hit", before: 40, after: 41, again: 40, flood: 39, wants: []string{
			"| cannot estimate: a flood request cost no more than a request of the second pass |",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sessionFloodOf(tc.before, tc.after, tc.again, tc.flood)
			var b strings.Builder
			r.sessionFloodMarkdown(&b)
			got := b.String()
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("got a report without %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "%!") {
				t.Errorf("got a formatting error:\n%s", got)
			}
		})
	}
	r := sessionFloodOf(40, 42, 41, 141)
	r.sessionFlood = nil
	var b strings.Builder
	if r.sessionFloodMarkdown(&b); b.Len() != 0 {
		t.Errorf("got %q without -session-flood, want nothing", b.String())
	}
}

// The whole report has the section, and the flood's and the passes' runs by name.
func TestMarkdownSessionFlood(t *testing.T) {
	r := sessionFloodOf(40, 42, 41, 141)
	for route := 0; route < numRoutes; route++ {
		r.main = append(r.main, runOf(route, 0, 100))
	}
	r.sessionFlood.again.runs[1].label = "ags 5000 sessions, a second pass after the session flood"
	r.sessionFlood.before.runs[0].label = "ags 5000 sessions, one pass before the session flood"
	got := r.markdown()
	for _, want := range []string{
		"### One session, an invented cookie on every request",
		"| 1 | ags 5000 sessions, one pass before the session flood | 3000 |",
		"| one session, a new app cookie per request | 200000 |",
		"| 2 | ags 5000 sessions, a second pass after the session flood | 2000 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a report without %q:\n%s", want, got)
		}
	}
}
