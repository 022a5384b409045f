package main

import (
	"strings"
	"testing"
	"time"
)

func TestManyMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name             string
		one, many, churn float64 // CPU µs per request; bare is 100
		wants            []string
	}{
		{name: "flat", one: 110, many: 115, churn: 160, wants: []string{
			"| ags signed in, 5,000 sessions in turn | 15.0 | 1.50 (per round: 1.50) | ≤ 2x: met |",
			"| ags signed in, one session, an app cookie new on every request | 60.0 | 6.00 (per round: 6.00) | none |",
			"ags 10.0 µs above bare's 100.0 = 0.100", "37.6x cheaper; target at least 20x: met.",
			"+10.0 MiB; target within the caches' bound of 72 MiB (64, and the churn route's 8) + 10% (79.2 MiB): met",
		}},
		{name: "a cliff", one: 130, many: 580, churn: 250, wants: []string{
			"an app cookie new on every request | 150.0 | 5.00 (per round: 5.00) | none |",
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
			row[routeChurn] = mk(routeChurn, tc.churn)
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

// The churn row over several rounds: the ratio of the medians above bare is not the
// median of the rounds' ratios.
func TestManyMarkdownChurnRounds(t *testing.T) {
	var rounds [][numRoutes]result
	for i, x := range []struct{ one, churn float64 }{{110, 150}, {120, 160}, {105, 170}} {
		var row [numRoutes]result
		row[routeBare], row[routeSignedIn], row[routeMany] = runOf(routeBare, i, 100), runOf(routeSignedIn, i, x.one), runOf(routeMany, i, 110)
		row[routeChurn] = runOf(routeChurn, i, x.churn)
		rounds = append(rounds, row)
	}
	r := &report{s: settings{sessions: 5000, cacheBound: 64}}
	var b strings.Builder
	r.manyMarkdown(&b, rounds)
	// above bare: one 10, 20, 5 (median 10); churn 50, 60, 70 (median 60); ratios 5, 3, 14
	if want := "| ags signed in, one session, an app cookie new on every request | 60.0 | 6.00 (per round: 5.00) | none |"; !strings.Contains(b.String(), want) {
		t.Errorf("got a report without %q:\n%s", want, b.String())
	}
}

// The churn route has a row in the per-route tables, and at one connection a p99
// figure but no target.
func TestMarkdownChurnRows(t *testing.T) {
	var main, c1 []result
	for route := 0; route < numRoutes; route++ {
		x := runOf(route, 0, 100+10*float64(route))
		x.wrk.rps, x.wrk.p99 = 1000, time.Duration(1+route)*time.Millisecond
		main = append(main, x)
		x.conns = 1
		c1 = append(c1, x)
	}
	r := &report{s: settings{sessions: 5000, cacheBound: 64, connections: 8, threads: 1}, main: main, c1: c1}
	got := r.markdown()
	for _, want := range []string{
		"| ags app cookie churn | 150.0 |",
		"| ags app cookie churn | 150.0 | 1,000 | 0 | 6,000 | 5,000 | 4,000 |  |\n",
		"| ags many sessions | 140.0 | 1,000 | 0 | 5,000 | 4,000 | 3,000 | ≤ 1,000: **missed** |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a report without %q:\n%s", want, got)
		}
	}
}
