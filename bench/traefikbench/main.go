// Command traefikbench measures what the ags plugin costs inside a real Traefik
// (v3.6.12, built by tools/traefik/build.sh), per SPEC.md section 10. Four routes of one
// Traefik lead to the same fast backend: no middleware (bare), an empty Yaegi plugin
// that sets one header (bench/emptyplugin), ags on an open path, and ags on a
// protected path with a valid session cookie. wrk loads them in turn, the four
// alternating over several rounds; for each run it reads Traefik's CPU time
// (utime + stime in /proc/<pid>/stat) and divides it by the requests wrk counted.
// A fifth route is signed in with many users (-sessions, 5,000), each request the
// next of their sessions, made by bench/sessions against the same provider. Then it
// replays signed-in requests and reads Traefik's RSS before and after; with -flood and
// -session-flood, it floods the many-sessions route with forged cookies, or with one
// session's invented cookies, and measures the route before and after. With -sweep,
// it measures the many-sessions route's CPU per request above bare at each number
// of sessions, as a table and a plot (-svg). A sixth route has one session and an
// app cookie new on every request: a view cache miss with a session ags has opened.
// The result is a Markdown report; see README.md for how to read it.
//
//	cd bench && go run ./traefikbench [-rounds 4] [-duration 5s] [-out result.md]
//	cd bench && go run ./traefikbench -sweep-only -sweep 1,100,1000,3000,10000,30000 -rounds 3 -duration 3s -svg sweep.svg
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// settings are the command's flags.
type settings struct {
	rounds      int
	duration    time.Duration
	connections int
	threads     int
	warmup      time.Duration
	c1Rounds    int
	c1Duration  time.Duration
	// -reload-duration: wrk's run under reloads; 0: as -duration. make test's smoke
	// runs beside the end-to-end tests, where Traefik on a busy machine took over a
	// second to apply a reload: its runs under reloads are longer than its others.
	reloadDuration time.Duration
	rssRequests    int64
	out            string
	wrk            string
	emptyDir       string
	cpuProfile     string
	pluginDir      string
	sessions       int           // the many-sessions route's users
	parallel       int           // sign-ins at once while making them
	sweep          []int         // session counts of the sweep; none: no sweep
	sweepOnly      bool          // the sweep alone, no route rounds
	svg            string        // the sweep's plot
	cacheBound     float64       // the cache's stated memory bound, MiB, for the RSS target
	reload         time.Duration // -reload: a configuration change this often in one more many-sessions run per round; 0: none
	flood          int           // -flood: forged-cookie requests after the rounds; 0: none
	// -session-flood: requests of one session with an invented cookie each, after
	// the rounds (and -flood); 0: none
	sessionFlood int
}

func main() {
	var s settings
	flag.IntVar(&s.rounds, "rounds", 4, "rounds; each runs every route once")
	flag.DurationVar(&s.duration, "duration", 5*time.Second, "wrk's run per route per round (whole seconds)")
	flag.IntVar(&s.connections, "connections", 8, "wrk's connections (-c)")
	flag.IntVar(&s.threads, "threads", 1, "wrk's threads (-t)")
	flag.DurationVar(&s.warmup, "warmup", time.Second, "an unrecorded run per route before the first round (whole seconds; 0: none)")
	flag.IntVar(&s.c1Rounds, "c1-rounds", -1, "rounds at one connection (-c1); -1: as many as -rounds, 0: none")
	flag.DurationVar(&s.c1Duration, "c1-duration", 0, "wrk's run per route per one-connection round; 0: as -duration")
	flag.DurationVar(&s.reloadDuration, "reload-duration", 0, "wrk's run under reloads (-reload); 0: as -duration")
	flag.Int64Var(&s.rssRequests, "rss-requests", 200000, "signed-in requests between the two RSS readings (0: no RSS phase)")
	flag.StringVar(&s.out, "out", "", "also write the report to this file")
	flag.StringVar(&s.wrk, "wrk", "wrk", "the wrk binary")
	flag.StringVar(&s.emptyDir, "empty", "", "the empty plugin's folder (default: bench/emptyplugin of the repository)")
	flag.StringVar(&s.cpuProfile, "cpuprofile", "", "write Traefik's CPU profile of each route's run in the first round to this folder, one file per route")
	flag.StringVar(&s.pluginDir, "plugin", os.Getenv("AGS_PLUGIN_DIR"), "the plugin's source folder that Traefik loads (default $AGS_PLUGIN_DIR, else the repository root)")
	flag.IntVar(&s.sessions, "sessions", 5000, "distinct signed-in users of the many-sessions route, one after the other")
	flag.IntVar(&s.parallel, "sign-ins", 2, "sign-ins at once while making the sessions")
	sweep := flag.String("sweep", "", "comma-separated session counts, e.g. 1,100,1000,3000,10000,30000: Traefik's CPU per request above bare at each")
	flag.BoolVar(&s.sweepOnly, "sweep-only", false, "run the sweep alone: no route rounds, no one-connection rounds, no RSS phase")
	flag.StringVar(&s.svg, "svg", "", "write the sweep's plot to this SVG file")
	flag.DurationVar(&s.reload, "reload", 0, "in each round, also run the many-sessions route while the dynamic configuration changes this often, once with ags's options unchanged and once with one of them changed (0: no reload runs)")
	flag.IntVar(&s.flood, "flood", 0, "after the rounds, send this many requests to the many-sessions route, each with a forged or made-up Cookie header of its own, and measure the route before and after (0: no flood)")
	flag.IntVar(&s.sessionFlood, "session-flood", 0, "after the rounds (and -flood), send this many requests of one signed-in session, each with an app cookie of its own (the churn route's script), to the many-sessions route, and measure one pass over its sessions before and after (0: no session flood)")
	flag.Float64Var(&s.cacheBound, "cache-bound", 64, "the session cache's stated memory bound in MiB (ags's cacheSize, per middleware instance): Traefik's RSS growth over the many-sessions runs must stay within it plus 10%")
	flag.Parse()
	var err error
	if s.sweep, err = parseSweep(*sweep); err != nil {
		fmt.Fprintln(os.Stderr, "traefikbench:", err)
		os.Exit(2)
	}
	if s.c1Rounds < 0 {
		s.c1Rounds = s.rounds
	}
	if s.c1Duration == 0 {
		s.c1Duration = s.duration
	}
	if s.reloadDuration == 0 {
		s.reloadDuration = s.duration
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "traefikbench:", err)
		os.Exit(1)
	}
}

func (s settings) check() error {
	switch {
	case s.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case s.connections < 1 || s.threads < 1 || s.threads > s.connections:
		return errors.New("-connections and -threads must be at least 1, threads at most connections")
	case s.sessions < 1 || s.parallel < 1:
		return errors.New("-sessions and -sign-ins must be at least 1")
	case s.sweepOnly && len(s.sweep) == 0:
		return errors.New("-sweep-only needs -sweep")
	case s.svg != "" && len(s.sweep) == 0:
		return errors.New("-svg needs -sweep")
	case s.reload < 0 || s.reload > s.reloadDuration:
		return fmt.Errorf("-reload must be between 0 and -reload-duration (%s), got %s", s.reloadDuration, s.reload)
	case s.flood < 0:
		return errors.New("-flood must be 0 or more")
	case s.sessionFlood < 0:
		return errors.New("-session-flood must be 0 or more")
	case s.sweepOnly && (s.reload > 0 || s.flood > 0 || s.sessionFlood > 0):
		return errors.New("-reload, -flood and -session-flood need the route rounds, not -sweep-only")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
		zero bool
	}{{"duration", s.duration, false}, {"c1-duration", s.c1Duration, false}, {"reload-duration", s.reloadDuration, false}, {"warmup", s.warmup, true}} {
		if (d.d == 0 && !d.zero) || d.d < 0 || d.d%time.Second != 0 {
			return fmt.Errorf("-%s must be whole seconds (wrk counts in seconds), got %s", d.name, d.d)
		}
	}
	return nil
}

// sessionSecret seals the benchmark's session; any 32 bytes will do.
const sessionSecret = "bench-session-secret-0123456789abcdef-0123456789"

// The routes, in the order of the report.
const (
	routeBare = iota
	routeEmpty
	routeOpen
	routeSignedIn
	routeMany   // signed in, -sessions users in turn
	routeChurn  // signed in, one session, an app cookie new on every request
	routeToken  // ags with bearerTokens, one known access token (bearer.go)
	routeTokens // the same, -sessions tokens in turn
	numRoutes
)

var routeNames = [numRoutes]string{"bare", "empty plugin", "ags open path", "ags signed in", "ags many sessions", "ags app cookie churn",
	"ags bearer token", "ags bearer tokens"}

// routePaths are the paths wrk asks for; the backend counts by their prefix.
var routePaths = [numRoutes]string{"/bare/", "/empty/", "/open/", "/protected/", "/many/", "/churn/", "/token/", "/tokens/"}

// authenticatedPaths is ags's option: the signed-in routes.
var authenticatedPaths = []string{"/protected(/.*)?", "/many(/.*)?", "/churn(/.*)?"}

func run(ctx context.Context, s settings) error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := exec.LookPath(s.wrk); err != nil {
		return fmt.Errorf("%s not found (Debian: apt-get install wrk): %w", s.wrk, err)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	if s.emptyDir == "" {
		s.emptyDir = filepath.Join(root, "bench", "emptyplugin")
	}
	if s.pluginDir == "" {
		s.pluginDir = root
	}
	bin, err := harness.TraefikBinary()
	if err != nil {
		return err
	}
	r := &report{s: s, loadBefore: loadAverage(), machine: machineInfo(bin, s.wrk, s.pluginDir)}
	started := time.Now()

	be, err := startBackend()
	if err != nil {
		return err
	}
	defer be.Close()
	p, err := harness.StartProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	agsCfg := map[string]any{
		"issuer":             p.Issuer,
		"clientID":           harness.ClientID,
		"clientSecret":       harness.ClientSecret,
		"authenticatedPaths": authenticatedPaths,
		"sessionSecret":      sessionSecret,
	}
	// The churn route's middleware: the same options but a cacheSize of 8 MiB, so
	// that its views have a cache of their own (caches are per configuration): in
	// the shared one they would push the many-sessions route's views out, first in
	// first out, and its misses into that route's figure. Small, since none of its
	// views is asked for twice: it is full within seconds, and from then on every
	// request also evicts, as on a site whose app cookies churn; and Traefik's RSS
	// grows by at most its 8 MiB beside the 64 MiB of the shared cache.
	churnCfg := map[string]any{}
	for k, v := range agsCfg {
		churnCfg[k] = v
	}
	churnCfg["cacheSize"] = churnCacheSize
	tr, err := harness.StartTraefik(harness.TraefikConfig{
		PluginDir:   s.pluginDir,
		PluginName:  "ags",
		MorePlugins: map[string]string{"empty": s.emptyDir},
		Pprof:       s.cpuProfile != "",
	}, &harness.Dynamic{
		Routes: map[string]harness.Route{
			"bare":     {Rule: "PathPrefix(`/bare`)", Backend: be.URL},
			"empty":    {Rule: "PathPrefix(`/empty`)", Middlewares: []string{"empty"}, Backend: be.URL},
			"ags-open": {Rule: "PathPrefix(`/open`)", Middlewares: []string{"ags"}, Backend: be.URL},
			// a router of its own: its own ags instance, as ags-open has
			"ags-many": {Rule: "PathPrefix(`/many`)", Middlewares: []string{"ags"}, Backend: be.URL},
			// a middleware of its own: its own cache (churnCfg)
			"ags-churn": {Rule: "PathPrefix(`/churn`)", Middlewares: []string{"ags-churn"}, Backend: be.URL},
			// API clients (issue 27): a middleware with bearerTokens, two routers
			"ags-token":  {Rule: "PathPrefix(`/token/`)", Middlewares: []string{"ags-bearer"}, Backend: be.URL},
			"ags-tokens": {Rule: "PathPrefix(`/tokens/`)", Middlewares: []string{"ags-bearer"}, Backend: be.URL},
			// also the callback, for the sign-in
			"ags": {Rule: "PathPrefix(`/`)", Middlewares: []string{"ags"}, Backend: be.URL},
		},
		Middlewares: map[string]harness.Middleware{
			"ags":        {Plugin: "ags", Config: agsCfg},
			"ags-churn":  {Plugin: "ags", Config: churnCfg},
			"ags-bearer": {Plugin: "ags", Config: bearerConfig(agsCfg)},
			"empty":      {Plugin: "empty", Config: map[string]any{"header": emptyHeader}},
		},
	})
	if err != nil {
		return err
	}
	defer tr.Close()
	pid := tr.PID()
	fmt.Fprintf(os.Stderr, "traefikbench: Traefik pid %d on %s, log %s\n", pid, tr.URL("/"), tr.LogPath)
	if r.rssStart, err = readRSS(pid); err != nil {
		return err
	}

	sessionHeader, openHeader, err := signIn(tr, p, be)
	if err != nil {
		return fmt.Errorf("sign in through Traefik: %w", err)
	}
	r.cookieBytes = len(sessionHeader)
	cookies := [numRoutes]string{sessionHeader, sessionHeader, openHeader, sessionHeader}
	b := &bencher{ctx: ctx, s: s, pid: pid, tr: tr, be: be, cookies: cookies, many: s.sessions,
		base: tr.Dynamic(), providerURL: p.URL("/")}

	work, err := os.MkdirTemp("", "traefikbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b.churnScript = filepath.Join(work, "churn.lua")
	if err := os.WriteFile(b.churnScript, []byte(churnScript(sessionHeader, tr.URL(""))), 0o644); err != nil {
		return err
	}
	most := s.sessions
	if s.sweepOnly {
		most = 0
	}
	for _, n := range s.sweep {
		most = max(most, n)
	}
	fmt.Fprintf(os.Stderr, "traefikbench: making %d sessions with bench/sessions\n", most)
	// the plugin's source as Traefik loaded it: the sessions must open there
	loaded := filepath.Join(tr.Dir, "plugins-local", "src", filepath.FromSlash(tr.Module))
	if b.sessions, err = makeSessions(ctx, root, loaded, work, p, tr.URL(""), most, s.parallel); err != nil {
		return err
	}
	r.sessions = b.sessions
	fmt.Fprintf(os.Stderr, "traefikbench: %d sessions in %s: %s\n", most, b.sessions.took.Round(time.Millisecond), b.sessions.signIns)
	if !s.sweepOnly {
		if b.token, b.tokens, err = makeTokens(p, work, tr.URL(""), s.sessions); err != nil {
			return err
		}
		r.tokens, r.tokenBytes = b.tokens, len(b.token)
		fmt.Fprintf(os.Stderr, "traefikbench: %d access tokens signed in %s\n", 1+s.sessions, b.tokens.took.Round(time.Millisecond))
	}

	if !s.sweepOnly {
		if err := b.routeRounds(r); err != nil {
			return err
		}
	}
	if len(s.sweep) > 0 {
		if r.sweep, err = b.runSweep(); err != nil {
			return err
		}
		traefikVersion, err := harness.TraefikVersion()
		if err != nil {
			return err
		}
		r.sweep.note = fmt.Sprintf("plugin %s; Traefik %s, %d cores: %d rounds of %s per point, medians; load average %s before",
			pluginVersion(s.pluginDir), traefikVersion, runtime.NumCPU(), s.rounds, s.duration, r.loadBefore)
		if s.svg != "" {
			if err := os.WriteFile(s.svg, []byte(r.sweep.svg()), 0o644); err != nil {
				return err
			}
		}
	}
	r.loadAfter = loadAverage()
	r.took = time.Since(started)

	text := r.markdown()
	fmt.Print(text)
	if s.out != "" {
		if err := os.WriteFile(s.out, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// routeRounds runs every route in rounds at -connections (with -reload, the
// many-sessions route also under reloads), then at one connection, then the RSS
// phase, then the floods (-flood, -session-flood), into r. Traefik's RSS is read before the many-sessions route's
// first request, after each of its runs, and after the rounds.
func (b *bencher) routeRounds(r *report) error {
	s := b.s
	var err error
	if s.warmup > 0 {
		for route := 0; route < numRoutes; route++ {
			if route == routeMany || route == routeTokens {
				continue // warmed below, until every session (token) has been asked for
			}
			if _, err := b.run(route, s.connections, s.warmup); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	if err := b.warmTokens(r); err != nil {
		return err
	}
	if r.manyBefore, err = readRSS(b.pid); err != nil {
		return err
	}
	r.manyMax = r.manyBefore
	if r.manyWarm, err = b.warmMany(s.sessions, s.warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := r.readManyRSS(b.pid); err != nil {
		return err
	}
	for round := 0; round < s.rounds; round++ {
		for i := 0; i < numRoutes; i++ {
			route := (round + i) % numRoutes // each round starts with the next route
			var profiled <-chan error
			if round == 0 && s.cpuProfile != "" {
				profiled = b.profile(route, s.duration)
			}
			res, err := b.run(route, s.connections, s.duration)
			if err != nil {
				return err
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					return err
				}
			}
			if route == routeMany {
				if err := r.readManyRSS(b.pid); err != nil {
					return err
				}
			}
			res.round = round
			r.main = append(r.main, res)
			fmt.Fprintf(os.Stderr, "round %d/%d  -c%d  %s\n", round+1, s.rounds, s.connections, res)
			if route == routeMany && s.reload > 0 {
				if err := b.reloadRuns(r, round); err != nil {
					return err
				}
			}
		}
	}
	if r.manyAfter, err = readRSS(b.pid); err != nil {
		return err
	}
	for round := 0; round < s.c1Rounds; round++ {
		for i := 0; i < numRoutes; i++ {
			route := (round + i) % numRoutes
			res, err := b.run(route, 1, s.c1Duration)
			if err != nil {
				return err
			}
			res.round = round
			r.c1 = append(r.c1, res)
			fmt.Fprintf(os.Stderr, "round %d/%d  -c1  %s\n", round+1, s.c1Rounds, res)
		}
	}
	if s.rssRequests > 0 {
		if err := b.rssPhase(r); err != nil {
			return err
		}
	}
	if s.flood > 0 {
		if r.flood, err = b.floodPhase(); err != nil {
			return err
		}
	}
	if s.sessionFlood > 0 {
		if r.sessionFlood, err = b.sessionFloodPhase(r.medianRPS(routeMany), r.medianRPS(routeChurn)); err != nil {
			return err
		}
	}
	return nil
}

// warmMany runs the many-sessions route with its first n sessions for at least d
// and until each has been asked for at least once (one wrk thread goes through them
// in turn), so that the rounds measure the steady state of n active users, not
// their first requests. It returns the requests it made.
func (b *bencher) warmMany(n int, d time.Duration) (int64, error) {
	b.many = n
	return b.warm(routeMany, n, d)
}

// warm runs route, whose load goes through n sessions or tokens in turn, as
// warmMany does.
func (b *bencher) warm(route, n int, d time.Duration) (int64, error) {
	d = max(d, time.Second)
	var done int64
	for done < int64(n) || done == 0 {
		res, err := b.run(route, b.s.connections, d)
		if err != nil {
			return done, err
		}
		done += res.wrk.requests
		rate := max(res.wrk.rps, 1)
		d = time.Duration(int(float64(int64(n)-done)/rate)+1) * time.Second
	}
	return done, nil
}

// bencher runs wrk against one Traefik and checks each run at the backend.
type bencher struct {
	ctx     context.Context
	s       settings
	pid     int
	tr      *harness.Traefik
	be      *backend
	cookies [numRoutes]string
	// the many-sessions route: its users, and how many of them the next run asks for
	sessions *sessionSet
	many     int
	// the dynamic configuration that Traefik started with, which -reload's runs
	// change and put back; the provider's URL, where the flood's answers must lead
	base        *harness.Dynamic
	providerURL string
	// the churn route's wrk script, and the runs it has made, the session flood's
	// among them (each run's values must be new)
	churnScript string
	churnRuns   int
	// the bearer routes' loads: one known token, and -sessions tokens in turn
	token  string
	tokens *sessionSet
}

// run loads one route for d with c connections and returns what wrk and /proc saw.
// It fails when wrk saw errors or the backend did not get what the route must pass
// (the identity on the signed-in route, none on the open one, the empty plugin's header).
func (b *bencher) run(route, c int, d time.Duration) (result, error) {
	return b.runLoad(route, c, d, b.load(route))
}

// runLoad is run with load, which wrk sends on route.
func (b *bencher) runLoad(route, c int, d time.Duration, load wrkLoad) (result, error) {
	before := b.be.counts(route)
	cpu0, err := cpuTime(b.pid)
	if err != nil {
		return result{}, err
	}
	w, err := runWrk(b.ctx, b.s.wrk, b.s.threads, c, d, load)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", routeNames[route], err)
	}
	cpu1, err := cpuTime(b.pid)
	if err != nil {
		return result{}, err
	}
	res := result{route: route, conns: c, wrk: w, cpu: cpu1 - cpu0}
	switch route {
	case routeMany:
		res.sessions = b.many
	case routeTokens:
		res.sessions = len(b.tokens.headers)
	}
	after := b.be.counts(route)
	if err := checkRun(route, w, before, after); err != nil {
		return res, fmt.Errorf("%s, wrk -c%d: %w", routeNames[route], c, err)
	}
	return res, nil
}

// load is what wrk sends on route: the route's Cookie header and the browser's
// headers, on the many-sessions route the first b.many sessions in turn, on the
// churn route the session with an app cookie of this run's own.
func (b *bencher) load(route int) wrkLoad {
	url := b.tr.URL(routePaths[route])
	switch route {
	case routeMany:
		return b.sessions.load(url, b.many)
	case routeChurn:
		return b.churnLoad(url, 0)
	case routeToken:
		return tokenLoad(url, b.token)
	case routeTokens:
		return b.tokens.load(url, len(b.tokens.headers))
	}
	headers := []string{"Cookie: " + b.cookies[route]}
	for _, kv := range browserHeaders {
		headers = append(headers, kv[0]+": "+kv[1])
	}
	return wrkLoad{url: url, headers: headers}
}

// churnLoad is the churn route's script on url, with an argument new to every run
// (whatever its route: the churn route's and the session flood's runs count
// together), each wrk thread stopping after perThread answers (0: at wrk's -d).
func (b *bencher) churnLoad(url string, perThread int64) wrkLoad {
	b.churnRuns++
	args := []string{strconv.Itoa(b.churnRuns)}
	if perThread > 0 {
		args = append(args, strconv.FormatInt(perThread, 10))
	}
	return wrkLoad{url: url, script: b.churnScript, scriptArgs: args}
}

// checkRun compares wrk's count with what the backend received in the meantime.
func checkRun(route int, w wrkResult, before, after counts) error {
	served := after.served - before.served
	user := after.withUser - before.withUser
	empty := after.withEmpty - before.withEmpty
	switch {
	case w.requests == 0:
		return errors.New("wrk completed no request")
	case w.non2xx3xx > 0:
		return fmt.Errorf("%d responses were not 2xx or 3xx", w.non2xx3xx)
	case w.connectErrs+w.readErrs+w.writeErrs > 0:
		return fmt.Errorf("socket errors: connect %d, read %d, write %d", w.connectErrs, w.readErrs, w.writeErrs)
	case served < w.requests:
		// wrk counts a 302 to the provider as a success; the backend never sees it
		return fmt.Errorf("wrk completed %d requests, the backend served %d", w.requests, served)
	case signedIn(route) && user < w.requests:
		return fmt.Errorf("the backend got the identity on %d of %d signed-in requests", user, w.requests)
	case !signedIn(route) && user > 0:
		return fmt.Errorf("the backend got an identity on %d requests", user)
	case route == routeEmpty && empty < w.requests:
		return fmt.Errorf("the empty plugin's header on %d of %d requests", empty, w.requests)
	case route != routeEmpty && empty > 0:
		return fmt.Errorf("the empty plugin's header on %d requests", empty)
	}
	return nil
}

func signedIn(route int) bool {
	return route == routeSignedIn || route == routeMany || route == routeChurn || route == routeToken || route == routeTokens
}

// rssPhase replays signed-in requests, in wrk runs of whole seconds, until at
// least s.rssRequests have been served, and reads Traefik's RSS before and after.
func (b *bencher) rssPhase(r *report) error {
	var err error
	if r.rssBefore, err = readRSS(b.pid); err != nil {
		return err
	}
	rate := r.medianRPS(routeSignedIn)
	r.rssMax = r.rssBefore
	for r.rssRequests < b.s.rssRequests {
		left := float64(b.s.rssRequests - r.rssRequests)
		secs := int(left/rate) + 1
		if secs > 30 {
			secs = 30 // read the RSS at least every 30 s
		}
		res, err := b.run(routeSignedIn, b.s.connections, time.Duration(secs)*time.Second)
		if err != nil {
			return fmt.Errorf("RSS phase: %w", err)
		}
		r.rssRequests += res.wrk.requests
		if res.wrk.rps > 0 {
			rate = res.wrk.rps
		}
		rss, err := readRSS(b.pid)
		if err != nil {
			return err
		}
		if rss.rss > r.rssMax.rss {
			r.rssMax = rss
		}
		r.rssAfter = rss
		fmt.Fprintf(os.Stderr, "RSS phase: %d signed-in requests, VmRSS %d kB\n", r.rssRequests, rss.rss)
	}
	return nil
}

// signIn signs in through Traefik with the harness's plain client and returns two
// Cookie headers, as a browser would send them: the session cookie between two
// ordinary cookies, and the same with the session cookie renamed (same length; ags
// sees a visitor without a session), for the open path.
func signIn(tr *harness.Traefik, p *harness.Provider, be *backend) (string, string, error) {
	c := harness.NewClient()
	login, err := c.Get(tr.URL("/protected/"))
	if err != nil {
		return "", "", err
	}
	if login.Status != http.StatusOK || !strings.HasPrefix(login.URL.String(), p.URL("/login/")) {
		return "", "", fmt.Errorf("GET /protected/ ended at %d %s, want the provider's login page", login.Status, login.URL)
	}
	page, err := c.SignIn(login, p.Username, harness.TestPassword)
	if err != nil {
		return "", "", err
	}
	if page.Status != http.StatusOK || page.URL.String() != tr.URL("/protected/") {
		return "", "", fmt.Errorf("after the login form: %d at %s, want 200 at %s", page.Status, page.URL, tr.URL("/protected/"))
	}
	var session, renamed []string
	for _, ck := range c.HTTP.Jar.Cookies(page.URL) {
		session = append(session, ck.Name+"="+ck.Value)
		if strings.HasPrefix(ck.Name, "ags_") {
			renamed = append(renamed, "app_"+ck.Name[len("ags_"):]+"="+ck.Value)
		}
	}
	if len(renamed) == 0 {
		return "", "", fmt.Errorf("no ags_ cookie in the jar after the sign-in: %v", session)
	}
	sessionHeader := cookieBefore + "; " + strings.Join(session, "; ") + "; " + cookieAfter
	openHeader := cookieBefore + "; " + strings.Join(renamed, "; ") + "; " + cookieAfter

	// The session alone, without the jar: the backend must get the identity.
	before := be.counts(routeSignedIn)
	req, _ := http.NewRequest(http.MethodGet, tr.URL("/protected/"), nil)
	req.Header.Set("Cookie", sessionHeader)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}).Do(req)
	if err != nil {
		return "", "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if after := be.counts(routeSignedIn); resp.StatusCode != http.StatusOK || after.withUser != before.withUser+1 {
		return "", "", fmt.Errorf("GET /protected/ with the session cookie: %s, identity passed: %v",
			resp.Status, after.withUser == before.withUser+1)
	}
	return sessionHeader, openHeader, nil
}
