package main

import (
	"strings"
	"testing"
	"time"
)

func TestManyMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		one, many float64 // CPU µs per request; bare is 100
		wants     []string
	}{
		{name: "flat", one: 110, many: 115, wants: []string{
			"| ags signed in, 5,000 sessions in turn | 15.0 | 1.50 (per round: 1.50) | ≤ 2x: met |",
			"ags 10.0 µs above bare's 100.0 = 0.100", "37.6x cheaper; target at least 20x: met.",
			"+10.0 MiB; target within the cache's bound of 64 MiB + 10% (70.4 MiB): met",
		}},
		{name: "a cliff", one: 130, many: 580, wants: []string{
			"| 480.0 | 16.00 (per round: 16.00) | ≤ 2x: **missed** |", "12.5x cheaper; target at least 20x: **missed**.",
		}},
		{name: "one session lost in the noise", one: 99, many: 105, wants: []string{
			"≤ 2x: **cannot judge: the base is not above bare** |", "target at least 20x: **cannot judge: one session is not above bare**.",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func(route int, us float64) result {
				return result{route: route, wrk: wrkResult{requests: 1000}, cpu: time.Duration(us * 1000 * float64(time.Microsecond))}
			}
			var row [numRoutes]result
			row[routeBare], row[routeSignedIn], row[routeMany] = mk(routeBare, 100), mk(routeSignedIn, tc.one), mk(routeMany, tc.many)
			r := &report{s: settings{sessions: 5000, cacheBound: 64},
				manyBefore: memory{rss: 100000}, manyMax: memory{rss: 110254}, manyAfter: memory{rss: 105000}}
			var b strings.Builder
			r.manyMarkdown(&b, [][numRoutes]result{row})
			got := b.String()
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("got a report without %q:\n%s", want, got)
				}
			}
		})
	}
}
