package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseSweep reads -sweep: distinct positive session counts, comma separated.
func parseSweep(list string) ([]int, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sweep: %q is not a positive number of sessions", f)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// sweepPoint is one session count of the sweep: its rounds of bare, one session and
// N sessions in turn.
type sweepPoint struct {
	n       int
	rounds  [][numRoutes]result // only routeBare, routeSignedIn and routeMany are set
	warm    int64               // requests of the warm-up
	rssMost memory              // the highest RSS reading after one of its runs
}

// The routes of each sweep round.
var sweepRoutes = []int{routeBare, routeSignedIn, routeMany}

func (pt *sweepPoint) above() float64 {
	return medianOf(pt.rounds, minus(cpuOf(routeMany), cpuOf(routeBare)))
}

func (pt *sweepPoint) oneAbove() float64 {
	return medianOf(pt.rounds, minus(cpuOf(routeSignedIn), cpuOf(routeBare)))
}

// sweepResult is the whole sweep.
type sweepResult struct {
	points              []*sweepPoint
	rssBefore, rssAfter memory
	rssMost             memory
	took                time.Duration
	note                string // the plot's subtitle: what was measured, where
}

// runSweep measures, for each session count N of -sweep in turn (smallest first),
// Traefik's CPU per request on the many-sessions route with N sessions in turn, in
// -rounds rounds of three runs (bare, one session, N sessions; the order rotated
// each round), after a warm-up that asks for each of the N sessions at least once:
// the steady state of N active users.
func (b *bencher) runSweep() (*sweepResult, error) {
	s := b.s
	sw := &sweepResult{}
	started := time.Now()
	var err error
	if s.warmup > 0 {
		for _, route := range []int{routeBare, routeSignedIn} {
			if _, err := b.run(route, s.connections, s.warmup); err != nil {
				return nil, fmt.Errorf("sweep warm-up: %w", err)
			}
		}
	}
	if sw.rssBefore, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	sw.rssMost = sw.rssBefore
	readMost := func(pt *sweepPoint) error {
		m, err := readRSS(b.pid)
		if err != nil {
			return err
		}
		if m.rss > pt.rssMost.rss {
			pt.rssMost = m
		}
		if m.rss > sw.rssMost.rss {
			sw.rssMost = m
		}
		return nil
	}
	for _, n := range s.sweep {
		pt := &sweepPoint{n: n}
		sw.points = append(sw.points, pt)
		if pt.warm, err = b.warmMany(n, s.warmup); err != nil {
			return nil, fmt.Errorf("sweep, %d sessions, warm-up: %w", n, err)
		}
		if err := readMost(pt); err != nil {
			return nil, err
		}
		for round := 0; round < s.rounds; round++ {
			var row [numRoutes]result
			for i := range sweepRoutes {
				route := sweepRoutes[(round+i)%len(sweepRoutes)]
				res, err := b.run(route, s.connections, s.duration)
				if err != nil {
					return nil, fmt.Errorf("sweep, %d sessions: %w", n, err)
				}
				res.round = round
				row[route] = res
				fmt.Fprintf(os.Stderr, "sweep %d sessions, round %d/%d  %s\n", n, round+1, s.rounds, res)
				if route == routeMany {
					if err := readMost(pt); err != nil {
						return nil, err
					}
				}
			}
			pt.rounds = append(pt.rounds, row)
		}
	}
	if sw.rssAfter, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	sw.took = time.Since(started)
	return sw, nil
}

// runs is every run of the sweep, for the report's list.
func (sw *sweepResult) runs() []result {
	var out []result
	for _, pt := range sw.points {
		for _, row := range pt.rounds {
			for _, route := range sweepRoutes {
				out = append(out, row[route])
			}
		}
	}
	return out
}

// base is the sweep's figure for one session: its point of 1 session in turn if it
// has one, else the one-session route's median over the whole sweep.
func (sw *sweepResult) base() (float64, string) {
	if len(sw.points) > 0 && sw.points[0].n == 1 {
		return sw.points[0].above(), "the sweep's point of 1 session"
	}
	var all [][numRoutes]result
	for _, pt := range sw.points {
		all = append(all, pt.rounds...)
	}
	return medianOf(all, minus(cpuOf(routeSignedIn), cpuOf(routeBare))), "the one-session route over the whole sweep"
}

func (sw *sweepResult) markdown(b *strings.Builder, s settings) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	base, baseName := sw.base()
	p("### Sweep: Traefik CPU per request above bare against active sessions\n\n")
	p("Each point: a warm-up that asks for each of its N sessions at least once, then %d rounds of `wrk -t%d -c%d` for %s "+
		"on bare, one session (fixed Cookie header) and N sessions in turn (the wrk script); the order rotated each round; "+
		"medians of the per-round differences. The sweep took %s.\n\n",
		s.rounds, s.threads, s.connections, s.duration, sw.took.Round(time.Second))
	p("| active sessions | CPU µs above bare | × 1 session | one session in the same rounds, µs above bare | × that | bare CPU µs/request | N sessions req/s | N sessions p99 µs | warm-up requests | highest VmRSS kB |\n")
	p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	highest, mostPaired := math.Inf(-1), 0.0
	for _, pt := range sw.points {
		above, one := pt.above(), pt.oneAbove()
		highest = max(highest, above)
		mostPaired = max(mostPaired, medianOf(pt.rounds, over(minus(cpuOf(routeMany), cpuOf(routeBare)), minus(cpuOf(routeSignedIn), cpuOf(routeBare)))))
		p("| %s | %.1f | %.2f | %.1f | %.2f | %.1f | %s | %s | %s | %s |\n", thousands(float64(pt.n)), above, above/base,
			one, medianOf(pt.rounds, over(minus(cpuOf(routeMany), cpuOf(routeBare)), minus(cpuOf(routeSignedIn), cpuOf(routeBare)))),
			medianOf(pt.rounds, cpuOf(routeBare)), thousands(medianOf(pt.rounds, rpsOf(routeMany))),
			usf(medianOf(pt.rounds, p99Of(routeMany))), thousands(float64(pt.warm)), thousands(float64(pt.rssMost.rss)))
	}
	p("\n\"× 1 session\": over %s (%.1f µs). \"× that\": the median of the rounds' ratios to the one-session route, "+
		"which corrects for the machine's drift between points.\n\n", baseName, base)
	p("| target (issue 16) | figure | |\n|---|--:|---|\n")
	first, last := sw.points[0].n, sw.points[len(sw.points)-1].n
	p("| the curve within %dx from %s to %s sessions | highest %.2fx | %s |\n", targetSweepRatio,
		thousands(float64(first)), thousands(float64(last)), highest/base, ratioVerdict(highest, base, targetSweepRatio))
	p("| the same, each point over the one-session route in its own rounds (\"× that\") | highest %.2fx | %s |\n",
		mostPaired, verdict(mostPaired <= targetSweepRatio))
	for _, pt := range sw.points {
		if pt.n == 5000 {
			r := pt.above() / base
			p("| 5,000 sessions within %dx of one session | %.2fx | %s |\n", targetManyRatio, r, ratioVerdict(pt.above(), base, targetManyRatio))
		}
	}
	growthMB := float64(sw.rssMost.rss-sw.rssBefore.rss) / 1024 // VmRSS is in KiB
	limit := s.cacheBound * (1 + targetBoundSlack)
	p("| Traefik's RSS growth over the sweep (VmRSS %s kB before, highest %s, after %s) within the cache's bound of %.0f MiB + 10%% | %+.1f MiB | %s |\n",
		thousands(float64(sw.rssBefore.rss)), thousands(float64(sw.rssMost.rss)), thousands(float64(sw.rssAfter.rss)),
		s.cacheBound, growthMB, verdict(growthMB <= limit))
	if s.svg != "" {
		p("\nThe plot: `%s`.\n", s.svg)
	}
}
