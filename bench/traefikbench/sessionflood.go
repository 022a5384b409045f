package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// The session flood (-session-flood N), issue 23 (6): one signed-in client whose
// Cookie header carries an app cookie new on every request (the churn route's
// script, with the one-session route's session) sends N requests to the
// many-sessions route. Each is a Cookie header new to ags's view cache with a
// valid session, so each makes a view in the budget that every signed-in user's
// views share (one configuration, one cache). Before it and twice after it, one
// pass over the route's sessions, each asked for once: a view that the flood
// pushed out is a miss in the first pass after it, so that pass's CPU per request,
// beside the pass before and the second pass after (every view cached again, the
// machine as it is after the flood), shows how many survived. Before ags bounded
// one session's views, such a client pushed out all of them.

// sessionFloodResult is the session flood phase.
type sessionFloodResult struct {
	// the many-sessions route, one pass right before, right after and once more
	// right after that
	before, after, again sessionPass
	runs                 []result // the flood's wrk runs
	requests             int64    // the flood's requests, all answered signed in
	cpu                  time.Duration
	took                 time.Duration
	// Traefik's RSS right before the flood, the highest reading during it (every
	// 100 ms) and right after it
	rssBefore, rssMost, rssAfter memory
}

// sessionPass is one request for each of the many-sessions route's sessions, in
// wrk runs of whole seconds (a thread that has made its share idles until its
// run's end; with one wrk thread, the default, each session is asked for once).
type sessionPass struct {
	runs []result
}

func (p sessionPass) requests() int64 {
	var n int64
	for _, r := range p.runs {
		n += r.wrk.requests
	}
	return n
}

func (p sessionPass) cpu() time.Duration {
	var d time.Duration
	for _, r := range p.runs {
		d += r.cpu
	}
	return d
}

// cpuPerRequest is Traefik's CPU time per request over the pass, in µs.
func (p sessionPass) cpuPerRequest() float64 {
	return float64(p.cpu()) / float64(time.Microsecond) / float64(p.requests())
}

// pass asks for each of the first b.many sessions once, in order, in wrk runs of
// whole seconds sized by rate (requests per second) until all have been asked
// for; a run that ends before its share sets the rate of the next.
func (b *bencher) pass(label string, rate float64) (sessionPass, error) {
	var p sessionPass
	n, threads := int64(b.many), int64(b.s.threads)
	url := b.tr.URL(routePaths[routeMany])
	rate = max(rate, 1)
	for done := int64(0); done < n; {
		left := n - done
		perThread := (left + threads - 1) / threads
		secs := min(max(int(float64(left)/rate)+1, 1), 10)
		res, err := b.runLoad(routeMany, b.s.connections, time.Duration(secs)*time.Second,
			b.sessions.passLoad(url, b.many, int(done), int(perThread)))
		if err != nil {
			return p, fmt.Errorf("%s: %w", label, err)
		}
		res.label, res.round = label, len(p.runs)
		p.runs = append(p.runs, res)
		done += res.wrk.requests
		if res.wrk.requests < perThread*threads && res.wrk.seconds > 0 {
			rate = max(float64(res.wrk.requests)/res.wrk.seconds, 1)
		}
	}
	return p, nil
}

// sessionFloodPhase makes one pass over the warm many-sessions route, sends
// s.sessionFlood requests of one session with an invented cookie each to it (in
// wrk runs of at most 10 s, each thread stopping at its share), reading Traefik's
// RSS every 100 ms, and makes two more passes. manyRate and churnRate (requests
// per second of the rounds) size the runs. Every flood request must reach the
// backend signed in (checkRun).
func (b *bencher) sessionFloodPhase(manyRate, churnRate float64) (*sessionFloodResult, error) {
	s := b.s
	f := &sessionFloodResult{}
	var err error
	if f.before, err = b.pass(fmt.Sprintf("ags %d sessions, one pass before the session flood", b.many), manyRate); err != nil {
		return nil, err
	}
	if f.rssBefore, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	most, stopSampling := sampleRSS(b.pid, f.rssBefore)
	started := time.Now()
	url := b.tr.URL(routePaths[routeMany])
	rate := max(churnRate, 1)
	for f.requests < int64(s.sessionFlood) {
		left := int64(s.sessionFlood) - f.requests
		perThread := (left + int64(s.threads) - 1) / int64(s.threads)
		secs := min(max(int(float64(left)/rate)+1, 1), 10)
		res, err := b.runLoad(routeMany, s.connections, time.Duration(secs)*time.Second, b.churnLoad(url, perThread))
		if err != nil {
			stopSampling()
			return nil, fmt.Errorf("session flood: %w", err)
		}
		res.label, res.round = "one session, a new app cookie per request", len(f.runs)
		f.runs = append(f.runs, res)
		f.cpu += res.cpu
		f.requests += res.wrk.requests
		if res.wrk.requests < perThread*int64(s.threads) && res.wrk.seconds > 0 {
			rate = max(float64(res.wrk.requests)/res.wrk.seconds, 1) // the run ended before its limit
		}
		fmt.Fprintf(os.Stderr, "session flood: %d of %d requests, VmRSS at most %d kB\n", f.requests, s.sessionFlood, most().rss)
	}
	f.took = time.Since(started)
	f.rssMost = stopSampling()
	if f.rssAfter, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	if f.after, err = b.pass(fmt.Sprintf("ags %d sessions, one pass after the session flood", b.many), manyRate); err != nil {
		return nil, err
	}
	if f.again, err = b.pass(fmt.Sprintf("ags %d sessions, a second pass after the session flood", b.many), manyRate); err != nil {
		return nil, err
	}
	return f, nil
}

// sessionFloodMarkdown is the session flood: the passes before and after, their
// ratios, how many views that suggests were pushed out, and the memory.
func (r *report) sessionFloodMarkdown(b *strings.Builder) {
	f := r.sessionFlood
	if f == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := r.s
	n := thousands(float64(r.s.sessions))
	p("\n### One session, an invented cookie on every request: %s requests to the many-sessions route\n\n", thousands(float64(f.requests)))
	p("`wrk -t%d -c%d` with the churn route's script sent the one-session route's session with an `%s` cookie new on every "+
		"request to `/many/`: each a Cookie header new to ags's view cache with a valid session, so each made a view where "+
		"the %s sessions' views are kept. Every request reached the backend signed in (anything else would have stopped "+
		"the run). Right before it and twice right after it, one pass over the %s sessions, each asked for once: a view the "+
		"flood pushed out is a miss in the first pass after, and cached again for the second, which gives the cost of the "+
		"same requests all cached on the machine as it is after the flood (one pass each: within the noise of short runs). "+
		"The runs last whole seconds: the CPU includes what is left of a run after its last answer.\n\n",
		s.threads, s.connections, churnCookie, n, n)
	p("| | figure |\n|---|--:|\n")
	p("| flood requests, all signed in | %s in %s |\n", thousands(float64(f.requests)), f.took.Round(100*time.Millisecond))
	floodCPU := float64(f.cpu) / float64(time.Microsecond) / float64(f.requests)
	p("| Traefik CPU µs per flood request | %.1f |\n", floodCPU)
	p("| %s sessions, one pass, CPU µs/request right before the flood | %.1f (%s requests) |\n", n, f.before.cpuPerRequest(),
		thousands(float64(f.before.requests())))
	p("| the same right after it | %.1f (%s requests) |\n", f.after.cpuPerRequest(), thousands(float64(f.after.requests())))
	p("| the same once more, right after that | %.1f (%s requests) |\n", f.again.cpuPerRequest(), thousands(float64(f.again.requests())))
	p("| real sessions after %s requests of one session with invented cookies, over before | %s (no target, as the "+
		"forged-cookie flood's ratio has none: near 1 when the views survived, towards a flood request's cost when they did not) |\n",
		thousands(float64(f.requests)), passRatio(f.after, f.before))
	p("| the first pass after over the second | %s (the same, without the machine's drift over the flood) |\n",
		passRatio(f.after, f.again))
	p("| the sessions' views the flood pushed out, estimated | %s |\n\n",
		pushedOut(f.after.cpuPerRequest()-f.again.cpuPerRequest(), floodCPU-f.again.cpuPerRequest()))
	r.boundTable(b, "the session flood", "highest reading during it (every 100 ms)", f.rssBefore, f.rssMost, f.rssAfter, 0)
}

// passRatio is a's CPU per request over b's, unless b's run was too short for
// Traefik's CPU time to move (it counts in ticks of 10 ms).
func passRatio(a, b sessionPass) string {
	if b.cpu() <= 0 {
		return "n/a (no CPU time counted in the pass below: shorter than a tick)"
	}
	return fmt.Sprintf("%.2f", a.cpuPerRequest()/b.cpuPerRequest())
}

// pushedOut estimates the share of the passes' sessions whose view was gone after
// the flood: what the first pass after cost more per request than the second,
// over what a view miss with its session opened adds to a request (missAdds: a
// flood request, which is one, over a request of the second pass, a hit on the
// same route right after). A rough figure: the passes are short runs, within
// their noise.
func pushedOut(extra, missAdds float64) string {
	if missAdds <= 0 {
		return "cannot estimate: a flood request cost no more than a request of the second pass"
	}
	return fmt.Sprintf("about %.0f%% (the first pass after %.1f µs per request above the second, over the %.1f µs a view miss "+
		"adds: a flood request over a request of the second pass)", 100*extra/missAdds, extra, missAdds)
}
