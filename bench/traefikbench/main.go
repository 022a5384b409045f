// Command traefikbench measures what the ags plugin costs inside a real Traefik
// (v3.6.12, built by tools/traefik/build.sh), per SPEC.md section 10. Four routes of one
// Traefik lead to the same fast backend: no middleware (bare), an empty Yaegi plugin
// that sets one header (bench/emptyplugin), ags on an open path, and ags on a
// protected path with a valid session cookie. wrk loads them in turn, the four
// alternating over several rounds; for each run it reads Traefik's CPU time
// (utime + stime in /proc/<pid>/stat) and divides it by the requests wrk counted.
// Then it replays signed-in requests and reads Traefik's RSS before and after.
// The result is a Markdown report; see README.md for how to read it.
//
//	cd bench && go run ./traefikbench [-rounds 4] [-duration 5s] [-out result.md]
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
	rssRequests int64
	out         string
	wrk         string
	emptyDir    string
	cpuProfile  string
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
	flag.Int64Var(&s.rssRequests, "rss-requests", 200000, "signed-in requests between the two RSS readings (0: no RSS phase)")
	flag.StringVar(&s.out, "out", "", "also write the report to this file")
	flag.StringVar(&s.wrk, "wrk", "wrk", "the wrk binary")
	flag.StringVar(&s.emptyDir, "empty", "", "the empty plugin's folder (default: bench/emptyplugin of the repository)")
	flag.StringVar(&s.cpuProfile, "cpuprofile", "", "write Traefik's CPU profile of each route's run in the first round to this folder, one file per route")
	flag.Parse()
	if s.c1Rounds < 0 {
		s.c1Rounds = s.rounds
	}
	if s.c1Duration == 0 {
		s.c1Duration = s.duration
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
	}
	for _, d := range []struct {
		name string
		d    time.Duration
		zero bool
	}{{"duration", s.duration, false}, {"c1-duration", s.c1Duration, false}, {"warmup", s.warmup, true}} {
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
	numRoutes
)

var routeNames = [numRoutes]string{"bare", "empty plugin", "ags open path", "ags signed in"}

// routePaths are the paths wrk asks for; the backend counts by their prefix.
var routePaths = [numRoutes]string{"/bare/", "/empty/", "/open/", "/protected/"}

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
	bin, err := harness.TraefikBinary()
	if err != nil {
		return err
	}
	r := &report{s: s, loadBefore: loadAverage(), machine: machineInfo(bin, s.wrk, root)}
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
		"authenticatedPaths": []string{"/protected(/.*)?"},
		"sessionSecret":      sessionSecret,
	}
	tr, err := harness.StartTraefik(harness.TraefikConfig{
		PluginDir:   root,
		PluginName:  "ags",
		MorePlugins: map[string]string{"empty": s.emptyDir},
		Pprof:       s.cpuProfile != "",
	}, &harness.Dynamic{
		Routes: map[string]harness.Route{
			"bare":     {Rule: "PathPrefix(`/bare`)", Backend: be.URL},
			"empty":    {Rule: "PathPrefix(`/empty`)", Middlewares: []string{"empty"}, Backend: be.URL},
			"ags-open": {Rule: "PathPrefix(`/open`)", Middlewares: []string{"ags"}, Backend: be.URL},
			// also the callback, for the sign-in
			"ags": {Rule: "PathPrefix(`/`)", Middlewares: []string{"ags"}, Backend: be.URL},
		},
		Middlewares: map[string]harness.Middleware{
			"ags":   {Plugin: "ags", Config: agsCfg},
			"empty": {Plugin: "empty", Config: map[string]any{"header": emptyHeader}},
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
	b := &bencher{ctx: ctx, s: s, pid: pid, tr: tr, be: be, cookies: cookies}

	if s.warmup > 0 {
		for route := 0; route < numRoutes; route++ {
			if _, err := b.run(route, s.connections, s.warmup); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
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
			res.round = round
			r.main = append(r.main, res)
			fmt.Fprintf(os.Stderr, "round %d/%d  -c%d  %s\n", round+1, s.rounds, s.connections, res)
		}
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

// bencher runs wrk against one Traefik and checks each run at the backend.
type bencher struct {
	ctx     context.Context
	s       settings
	pid     int
	tr      *harness.Traefik
	be      *backend
	cookies [numRoutes]string
}

// run loads one route for d with c connections and returns what wrk and /proc saw.
// It fails when wrk saw errors or the backend did not get what the route must pass
// (the identity on the signed-in route, none on the open one, the empty plugin's header).
func (b *bencher) run(route, c int, d time.Duration) (result, error) {
	before := b.be.counts(route)
	cpu0, err := cpuTime(b.pid)
	if err != nil {
		return result{}, err
	}
	w, err := runWrk(b.ctx, b.s.wrk, b.s.threads, c, d, b.tr.URL(routePaths[route]), b.wrkHeaders(route))
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", routeNames[route], err)
	}
	cpu1, err := cpuTime(b.pid)
	if err != nil {
		return result{}, err
	}
	res := result{route: route, conns: c, wrk: w, cpu: cpu1 - cpu0}
	after := b.be.counts(route)
	if err := checkRun(route, w, before, after); err != nil {
		return res, fmt.Errorf("%s, wrk -c%d: %w", routeNames[route], c, err)
	}
	return res, nil
}

func (b *bencher) wrkHeaders(route int) []string {
	return []string{
		"Cookie: " + b.cookies[route],
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Accept-Language: en-GB,en;q=0.9",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) traefikbench/1",
	}
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
	case route == routeSignedIn && user < w.requests:
		return fmt.Errorf("the backend got the identity on %d of %d signed-in requests", user, w.requests)
	case route != routeSignedIn && user > 0:
		return fmt.Errorf("the backend got an identity on %d requests", user)
	case route == routeEmpty && empty < w.requests:
		return fmt.Errorf("the empty plugin's header on %d of %d requests", empty, w.requests)
	case route != routeEmpty && empty > 0:
		return fmt.Errorf("the empty plugin's header on %d requests", empty)
	}
	return nil
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
	const ga, theme = "_ga=GA1.1.1234567890.1712345678", "theme=dark"
	sessionHeader := ga + "; " + strings.Join(session, "; ") + "; " + theme
	openHeader := ga + "; " + strings.Join(renamed, "; ") + "; " + theme

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
