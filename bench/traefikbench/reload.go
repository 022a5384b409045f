package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Reload under load (-reload): Traefik calls the plugin's New again on every change of
// its dynamic configuration (with Docker, every container start). In each round, after
// the many-sessions run, the same load runs twice more while a goroutine rewrites the
// dynamic configuration every -reload: once with a change that leaves ags's options
// as they were (a cache that outlives New stays warm), once with a change of an ags
// option (each reload may start the cache cold).

// The two kinds of reload.
const (
	reloadSame   = iota // a router added or removed; ags's options unchanged
	reloadOption        // an identityHeaders entry of the ags middleware toggled
	numReloadKinds
)

var reloadNames = [numReloadKinds]string{
	"routers rebuilt, ags options unchanged (a router added or removed)",
	"an ags option changed (an `identityHeaders` entry toggled)",
}

// reloadLabels name the runs in the list of every run.
var reloadLabels = [numReloadKinds]string{"reloads, same options", "reloads, option changed"}

// reloadHeaders are the two values of the toggled identityHeaders entry (the sub
// claim to this header): the backend counts the requests that carry each, which
// proves that the new options took effect.
var reloadHeaders = [2]string{"X-Bench-Reload-A", "X-Bench-Reload-B"}

// dummyRouter is the router that reloadSame adds and removes (to the backend; no
// request goes to it).
const dummyRouter = "reload-dummy"

// reloadVariant is base after reload i (from 0) of kind: the dummy router there or
// not in turn, or the sub claim mapped to one header then the other. base is not
// changed.
func reloadVariant(base *harness.Dynamic, kind, i int) *harness.Dynamic {
	d := &harness.Dynamic{Routes: map[string]harness.Route{}, Middlewares: map[string]harness.Middleware{}}
	for k, v := range base.Routes {
		d.Routes[k] = v
	}
	for k, v := range base.Middlewares {
		d.Middlewares[k] = v
	}
	switch kind {
	case reloadSame:
		if i%2 == 0 {
			d.Routes[dummyRouter] = harness.Route{Rule: "PathPrefix(`/reload-dummy`)", Backend: base.Routes["bare"].Backend}
		}
	case reloadOption:
		m := d.Middlewares["ags"]
		cfg := map[string]any{}
		for k, v := range m.Config {
			cfg[k] = v
		}
		cfg["identityHeaders"] = map[string]any{"sub": reloadHeaders[i%2]}
		m.Config = cfg
		d.Middlewares["ags"] = m
	}
	return d
}

// reloadDiffers reports whether the configuration after n reloads of kind is not base.
func reloadDiffers(kind, n int) bool {
	return n > 0 && (kind == reloadOption || (n-1)%2 == 0)
}

// reloadRun is one run of the many-sessions route under reloads.
type reloadRun struct {
	kind    int
	res     result
	applied int             // reloads that Traefik applied while wrk ran
	waits   []time.Duration // SetDynamic's time for each of them: the write and the wait until applied
	rss     memory          // Traefik's RSS right after the run
	headers [2]int64        // requests that reached the backend with reloadHeaders[i]
}

// reload is one SetDynamic of a reloader.
type reload struct {
	i              int
	start, applied time.Time
}

// reloader rewrites the configuration every -reload, the first after half of it,
// until stop is closed; it then finishes the reload in progress and sends what it did.
func (b *bencher) reloader(kind int, stop <-chan struct{}, out chan<- []reload, errs chan<- error) {
	var done []reload
	next := time.Now().Add(b.s.reload / 2)
	for i := 0; ; i++ {
		select {
		case <-stop:
			out <- done
			return
		case <-time.After(time.Until(next)):
		}
		start := time.Now()
		next = start.Add(b.s.reload)
		if err := b.tr.SetDynamic(reloadVariant(b.base, kind, i)); err != nil {
			errs <- fmt.Errorf("reload %d: %w", i+1, err)
			out <- done
			return
		}
		done = append(done, reload{i: i, start: start, applied: time.Now()})
	}
}

// reloadRuns runs the many-sessions route once under each kind of reload (the order
// alternating by round), puts the base configuration back after each, and warms
// the route again for the runs that follow.
func (b *bencher) reloadRuns(r *report, round int) error {
	for j := 0; j < numReloadKinds; j++ {
		kind := (round + j) % numReloadKinds
		run, err := b.reloadRun(kind)
		if err != nil {
			return fmt.Errorf("%s under reloads (%s): %w", routeNames[routeMany], reloadLabels[kind], err)
		}
		run.res.round = round
		r.reloads = append(r.reloads, run)
		fmt.Fprintf(os.Stderr, "round %d/%d  -c%d  %s, %d reloads\n", round+1, b.s.rounds, b.s.connections, run.res, run.applied)
	}
	if _, err := b.warmMany(b.s.sessions, b.s.warmup); err != nil {
		return fmt.Errorf("warm-up after the reloads: %w", err)
	}
	return nil
}

func (b *bencher) reloadRun(kind int) (reloadRun, error) {
	stop, out, errs := make(chan struct{}), make(chan []reload, 1), make(chan error, 1)
	before := b.be.counts(routeMany)
	go b.reloader(kind, stop, out, errs)
	res, runErr := b.run(routeMany, b.s.connections, b.s.reloadDuration)
	ended := time.Now()
	close(stop)
	reloads := <-out
	var reloadErr error
	select {
	case reloadErr = <-errs:
	default:
	}
	after := b.be.counts(routeMany)
	run := reloadRun{kind: kind, res: res}
	run.res.label = fmt.Sprintf("ags %d sessions, %s", res.sessions, reloadLabels[kind])
	for i := range run.headers {
		run.headers[i] = after.withReload[i] - before.withReload[i]
	}
	var err error
	if run.rss, err = readRSS(b.pid); err != nil {
		return run, err
	}
	// the base configuration again, whatever happened, before anything else runs
	if reloadDiffers(kind, len(reloads)) {
		if err := b.tr.SetDynamic(b.base); err != nil {
			return run, fmt.Errorf("the configuration back after the reloads: %w", err)
		}
	}
	if err := errors.Join(runErr, reloadErr); err != nil {
		return run, err
	}
	var applied []reload
	for _, rl := range reloads {
		if !rl.applied.After(ended) {
			applied = append(applied, rl)
			run.waits = append(run.waits, rl.applied.Sub(rl.start))
		}
	}
	run.applied = len(applied)
	if err := checkReloads(kind, applied, ended, run.headers); err != nil {
		return run, err
	}
	return run, nil
}

// settled is how long before wrk's end a reload must have been applied for the
// backend to be sure to see a request under its options.
const settled = 100 * time.Millisecond

// checkReloads checks that reloads were applied while wrk ran, and that the
// option-changing ones took effect: every value of the toggled header applied early
// enough reached the backend, and none did when the options stayed the same.
func checkReloads(kind int, applied []reload, ended time.Time, headers [2]int64) error {
	if len(applied) == 0 {
		return errors.New("no reload was applied while wrk ran (is -reload shorter than -duration?)")
	}
	if kind == reloadSame {
		if headers[0]+headers[1] > 0 {
			return fmt.Errorf("the backend got %s or %s on %d requests, with ags's options unchanged",
				reloadHeaders[0], reloadHeaders[1], headers[0]+headers[1])
		}
		return nil
	}
	for _, rl := range applied {
		if ended.Sub(rl.applied) >= settled && headers[rl.i%2] == 0 {
			return fmt.Errorf("reload %d mapped sub to %s, applied %s before wrk's end, and no request reached the backend with it",
				rl.i+1, reloadHeaders[rl.i%2], ended.Sub(rl.applied).Round(time.Millisecond))
		}
	}
	return nil
}

// reloadMarkdown is the reload runs beside the many-sessions run of the same rounds.
func (r *report) reloadMarkdown(b *strings.Builder, rounds [][numRoutes]result) {
	if len(r.reloads) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	plain := map[int]result{}
	for _, row := range rounds {
		plain[row[routeMany].round] = row[routeMany]
	}
	p("\n### Reloads under load: %s sessions in turn while the configuration changes every %s\n\n",
		thousands(float64(r.s.sessions)), r.s.reload)
	p("| run | CPU µs/request | × the run without reloads in the same round | reloads applied per run | time to apply one, median / highest | Traefik VmRSS after, highest kB |\n")
	p("|---|--:|--:|---|--:|--:|\n")
	p("| without reloads | %.1f | 1 | | | %s |\n", medianOf(rounds, cpuOf(routeMany)), thousands(float64(r.manyMax.rss)))
	for kind := 0; kind < numReloadKinds; kind++ {
		var cpu, ratios []float64
		var counts []string
		var waits []float64
		var most, wait time.Duration
		var rss int64
		for _, run := range r.reloads {
			if run.kind != kind {
				continue
			}
			cpu = append(cpu, run.res.cpuPerRequest())
			if x, ok := plain[run.res.round]; ok {
				ratios = append(ratios, run.res.cpuPerRequest()/x.cpuPerRequest())
			}
			counts = append(counts, fmt.Sprint(run.applied))
			for _, w := range run.waits {
				waits = append(waits, float64(w))
				most = max(most, w)
			}
			rss = max(rss, run.rss.rss)
		}
		if len(cpu) == 0 {
			continue
		}
		wait = time.Duration(median(waits))
		p("| %s | %.1f | %.2f | %s | %s / %s ms | %s |\n", reloadNames[kind], median(cpu), median(ratios), strings.Join(counts, ", "),
			ms(wait), ms(most), thousands(float64(rss)))
	}
	p("\nMedians over the rounds; the ratio is the median of each round's ratio. Each reload is the harness's `SetDynamic`: "+
		"it writes the file provider's file and waits until Traefik serves the new configuration's readiness router and "+
		"its API lists every router as enabled (the time to apply one); the first comes %s after wrk starts. "+
		"A reload whose options are unchanged can keep a warm cache only if the cache outlives `New`; a changed option "+
		"makes every instance new. The option's change is proven at the backend: the toggled header (%s, then %s) "+
		"reaches it. After the reload runs of a round the route is warmed again (unrecorded) for the runs that follow; "+
		"\"without reloads\" gives the highest VmRSS after a run of the route without reloads.\n",
		r.s.reload/2, reloadHeaders[0], reloadHeaders[1])
}

// ms formats a duration in ms with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
