package main

import (
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSweep(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []int
		wantErr  bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "the issue's", in: "1,100,1000,3000,10000,30000", want: []int{1, 100, 1000, 3000, 10000, 30000}},
		{name: "sorted, spaces, duplicates", in: "20, 2,20", want: []int{2, 20}},
		{name: "zero", in: "0,10", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "not a number", in: "1,1k", wantErr: true},
		{name: "empty entry", in: "1,,2", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSweep(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLuaScript(t *testing.T) {
	got := luaScript("/tmp/x/cookies.txt", "http://127.0.0.1:4000", "Cookie")
	// every header that the -H routes send, and Host as wrk sends it without a script
	for _, want := range []string{
		`local file, host = "/tmp/x/cookies.txt", "127.0.0.1:4000"`,
		`["Host"] = host`, `["Cookie"] = line`,
		`["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"`,
		`["Accept-Language"] = "en-GB,en;q=0.9"`,
		`["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) traefikbench/1"`,
		"function request()", "i = i % #requests + 1",
		"i = (first + (id or 0) * limit) % #requests", "stopAfter(limit)", // a pass (passLoad)
		"i = ((id or 0) * 7919) % #requests", // otherwise, the threads apart
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a script without %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "%!") {
		t.Errorf("got a formatting error in the script:\n%s", got)
	}
}

// sweepOf makes a sweep whose point n costs cpu[n] µs per request on the
// many-sessions route, 100 µs on bare and 110 on one session.
func sweepOf(cpu map[int]float64, ns ...int) *sweepResult {
	sw := &sweepResult{}
	mk := func(route int, us float64) result {
		return result{route: route, wrk: wrkResult{requests: 1000}, cpu: time.Duration(us * 1000 * float64(time.Microsecond))}
	}
	for _, n := range ns {
		var row [numRoutes]result
		row[routeBare], row[routeSignedIn], row[routeMany] = mk(routeBare, 100), mk(routeSignedIn, 110), mk(routeMany, 100+cpu[n])
		sw.points = append(sw.points, &sweepPoint{n: n, rounds: [][numRoutes]result{row}})
	}
	return sw
}

func TestSweepMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sw    *sweepResult
		wants []string
	}{
		{
			name: "flat enough",
			sw:   sweepOf(map[int]float64{1: 10, 5000: 19, 30000: 29}, 1, 5000, 30000),
			wants: []string{"| 1 | 10.0 | 1.00 |", "| 5,000 | 19.0 | 1.90 |", "| 30,000 | 29.0 | 2.90 |",
				"highest 2.90x | met |", "| 5,000 sessions within 2x of one session | 1.90x | met |"},
		},
		{
			name:  "a cliff",
			sw:    sweepOf(map[int]float64{1: 10, 5000: 21, 30000: 300}, 1, 5000, 30000),
			wants: []string{"highest 30.00x | **missed** |", "| 5,000 sessions within 2x of one session | 2.10x | **missed** |"},
		},
		{
			name:  "a base below bare",
			sw:    sweepOf(map[int]float64{1: -5, 100: 20}, 1, 100),
			wants: []string{"| the curve within 3x from 1 to 100 sessions | highest -4.00x | **cannot judge: the base is not above bare** |"},
		},
		{
			name:  "no point of 1: the one-session route is the base",
			sw:    sweepOf(map[int]float64{100: 20}, 100),
			wants: []string{"| 100 | 20.0 | 2.00 |", "the one-session route over the whole sweep (10.0 µs)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tc.sw.markdown(&b, settings{rounds: 1, threads: 1, connections: 8, duration: time.Second, cacheBound: 64})
			got := b.String()
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("got a report without %q:\n%s", want, got)
				}
			}
		})
	}
}

func TestSweepSVG(t *testing.T) {
	sw := sweepOf(map[int]float64{1: 36, 100: 40, 1000: 120, 3000: 420, 10000: 430, 30000: 440}, 1, 100, 1000, 3000, 10000, 30000)
	got := sw.svg()
	// well-formed XML, one circle per point, the axes' decades, the reference lines
	d := xml.NewDecoder(strings.NewReader(got))
	circles := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("got SVG that is not XML: %v\n%s", err, got)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "circle" {
			circles++
		}
	}
	if circles != 6 {
		t.Errorf("got %d circles, want 6", circles)
	}
	for _, want := range []string{">1<", ">10<", ">100,000<", "one session (36 µs)", "3x one session (target) (108 µs)", "log scale", "<polyline"} {
		if !strings.Contains(got, want) {
			t.Errorf("got an SVG without %q", want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0, 1}, {0.3, 0.5}, {7, 10}, {12, 20}, {88, 100}, {100, 100}, {430, 500},
	} {
		if got := niceStep(tc.in); got != tc.want {
			t.Errorf("niceStep(%v): got %v, want %v", tc.in, got, tc.want)
		}
	}
}
