package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlood(t *testing.T) {
	const two = `Running 2s test @ http://127.0.0.1:4000/many/
  Latency Distribution
     50%  639.00us
     99%    6.03ms
  500 requests in 2.00s, 1.2MB read
Requests/sec:    250.00
flood: answered 250 redirects 249 other 1 status 401 issued 254
flood: answered 250 redirects 250 other 0 status 0 issued 255
`
	for _, tc := range []struct {
		name    string
		out     string
		threads int
		want    floodCount
		wantErr string
	}{
		{name: "two threads", out: two, threads: 2,
			want: floodCount{answered: 500, redirects: 499, other: 1, status: 401, issued: 509}},
		{name: "a thread's line missing (the script died)", out: two, threads: 3, wantErr: "want one per thread (3)"},
		{name: "no line at all", out: "PANIC: unprotected error in call to Lua API\n", threads: 1, wantErr: `0 "flood:" lines`},
		{name: "a line cut short", out: "flood: answered 12 redirects\n", threads: 1, wantErr: `line "flood: answered 12 redirects"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlood(tc.out, tc.threads)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheckFlood(t *testing.T) {
	all := floodCount{answered: 500, redirects: 500, issued: 508}
	before := counts{served: 100, withUser: 100}
	for _, tc := range []struct {
		name    string
		w       wrkResult
		count   floodCount
		after   counts
		wantErr string
	}{
		{name: "all redirected, none at the backend", w: wrkResult{requests: 500}, count: all, after: before},
		{name: "nothing answered", after: before, wantErr: "no flood request answered"},
		{name: "socket errors", w: wrkResult{requests: 500, readErrs: 3}, count: all, after: before, wantErr: "socket errors"},
		{name: "one with an identity", w: wrkResult{requests: 500}, count: all, after: counts{served: 101, withUser: 101},
			wantErr: "1 flood requests reached the backend with an identity header"},
		{name: "one passed without a session", w: wrkResult{requests: 500}, count: all, after: counts{served: 101, withUser: 100},
			wantErr: "1 flood requests reached the backend, without a session"},
		{name: "a 401", w: wrkResult{requests: 500, non2xx3xx: 1}, count: floodCount{answered: 500, redirects: 499, other: 1, status: 401},
			after: before, wantErr: "1 flood answers were not a redirect to the provider (the last: status 401)"},
		{name: "a 302 elsewhere", w: wrkResult{requests: 500}, count: floodCount{answered: 500, redirects: 499, other: 1, status: 302},
			after: before, wantErr: "(the last: status 302)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFlood(tc.w, tc.count, before, tc.after)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestFloodScript(t *testing.T) {
	got := floodScript("/tmp/x/cookies.txt", "http://127.0.0.1:4000")
	for _, want := range []string{
		`local file, host = "/tmp/x/cookies.txt", "127.0.0.1:4000"`,
		`["Host"] = host`, `["Cookie"] = cookie(c)`,
		`["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"`,
		`["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) traefikbench/1"`,
		"local c = first + issued * stride", // distinct per request, thread and run
		`string.format("%011d", c)`,         // the forged session's changed characters
		"if answered >= limit then wrk.thread:stop() end",
		`io.write(string.format("flood: answered %d redirects %d other %d status %d issued %d\n",`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a script without %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "%!") {
		t.Errorf("got a formatting error in the script:\n%s", got)
	}
}

func TestFloodMarkdown(t *testing.T) {
	f := &floodResult{
		before: runOf(routeMany, 0, 30), after: runOf(routeMany, 0, 33),
		flood: floodCount{answered: 200000, redirects: 200000, issued: 200009},
		cpu:   40 * time.Second, took: 21 * time.Second,
		rssBefore: memory{rss: 200000}, rssMost: memory{rss: 200000 + 9*1024}, rssAfter: memory{rss: 205000},
	}
	r := &report{s: settings{sessions: 5000, cacheBound: 64, threads: 1, connections: 8}, flood: f}
	var b strings.Builder
	r.floodMarkdown(&b)
	got := b.String()
	for _, want := range []string{
		"### Forged-cookie flood: 200,000 requests to the many-sessions route, each with a Cookie header of its own",
		"`wrk -t1 -c8`", "one of the 5,000 real session values", "All 200,000 answers were redirects to the provider",
		"| flood requests answered (made) | 200,000 (200,009) in 21s |",
		"| Traefik CPU µs per flood request | 200.0 |",
		"| 5,000 sessions in turn, CPU µs/request right before the flood | 30.0 |",
		"| the same right after it | 33.0 |",
		"| after / before | 1.10 (",
		"| highest reading during it (every 100 ms) | 209,216 |",
		"+9.0 MiB; target within the cache's bound of 64 MiB + 10% (70.4 MiB): met",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a report without %q:\n%s", want, got)
		}
	}
	r.flood = nil
	b.Reset()
	if r.floodMarkdown(&b); b.Len() != 0 {
		t.Errorf("got %q without -flood, want nothing", b.String())
	}
}
