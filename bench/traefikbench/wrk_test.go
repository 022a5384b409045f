package main

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	const out = `Running 5s test @ http://127.0.0.1:4000/protected/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.35us    1.02ms  21.64ms   93.50%
    Req/Sec    10.46k   512.00    11.02k    80.00%
  Latency Distribution
     50%  639.00us
     75%  801.00us
     90%    1.10ms
     99%    6.03ms
  52310 requests in 5.10s, 7.83MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  10256.87
Transfer/sec:      1.54MB
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{requests: 52310, seconds: 5.1, rps: 10256.87, p50: 639 * time.Microsecond,
		p99: 6030 * time.Microsecond, non2xx3xx: 7, readErrs: 2, timeouts: 3}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parseWrk("Running 1s test @ http://127.0.0.1:1/\n"); err == nil {
		t.Error("got no error for a report without figures")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"812.00us", 812 * time.Microsecond},
		{"1.23ms", 1230 * time.Microsecond},
		{"5.00s", 5 * time.Second},
		{"1.50m", 90 * time.Second},
	} {
		got, err := parseWrkDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseWrkDuration(%q): got %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseWrkDuration("3x"); err == nil {
		t.Error("parseWrkDuration(\"3x\"): got no error")
	}
}
