// Command hotpath times ags's request path in process, compiled and under Yaegi (the
// interpreter Traefik runs plugins in), next to the bare handler and an empty plugin
// that sets one header. It signs in once against a small in-process provider, then
// drives ServeHTTP with requests read from the wire as Go's server reads them (plus
// the headers Traefik adds) for an open path and for a signed-in request, in rounds,
// and prints ns, allocations and CPU per request, each row's CPU above the empty
// plugin on the same request, and the interpreted/compiled ratio.
//
//	go run ./hotpath [-n 20000] [-rounds 3] [-cpuprofile FILE [-profile ROW]]
//	go run ./hotpath -only ROW -n N     (one row, no table: for valgrind)
//
// Beside the session rows, rows for API clients' bearer tokens (issue 27: a known
// token, a new one) and for a session with sessionIdleTimeout (issue 26) or with
// revocation on (issue 28), each in a configuration of its own.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ags-client/ags"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

func main() {
	n := flag.Int("n", 20000, "requests per measurement")
	rounds := flag.Int("rounds", 3, "rounds over all rows; each row reports its median")
	root := flag.String("plugin", "..", "the plugin's source folder")
	empty := flag.String("empty", "emptyplugin", "the empty plugin's source folder")
	profile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the -profile row's runs to this file")
	keyFile := flag.String("key", "../testdata/provider_rsa.pem", "the provider's RSA key (PEM, PKCS #8); missing: a new key each run")
	only := flag.String("only", "", "run this row's requests only and print no table (for valgrind)")
	profileRow := flag.String("profile", "ags signed in, yaegi", "the row that -cpuprofile profiles")
	flag.Parse()
	if *profile != "" {
		runtime.MemProfileRate = 1
		defer func() {
			f, err := os.Create(*profile)
			if err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	p := newProvider(*keyFile)
	defer p.srv.Close()
	settings := map[string]interface{}{
		"Issuer": p.srv.URL, "ClientID": "bench", "ClientSecret": "bench-secret",
		"SessionSecret":      "bench-session-secret-0123456789abcdef",
		"AuthenticatedPaths": []string{"/private", "admin/.*"},
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

	compiled := compiledAgs(settings, next)
	agsPlugin := loadPlugin(*root, "github.com/ags-client/ags")
	interpreted := agsPlugin.handler("ags", settings, next)
	emptyInterp := loadPlugin(*empty, "github.com/ags-client/empty").handler("empty", map[string]interface{}{"Header": "X-Empty"}, next)

	cookies := signIn(compiled)
	other := strings.Replace(cookies, "ags_client_session", "app_client_session", 1)
	// The options of issues 26, 27 and 28, each in a configuration of its own (so a
	// cache of its own), made only for the rows that run (lazy): with -only, the
	// other rows' processes hold what they held before these rows existed.
	bearer := with(settings, map[string]interface{}{"BearerTokens": "true", "BearerAudiences": []string{benchAudience}})
	idle := with(settings, map[string]interface{}{"SessionIdleTimeout": "8h"})
	revocation := with(settings, map[string]interface{}{"BackChannelLogoutPath": "backchannel-logout"})
	token := "Bearer " + p.accessToken(0)
	// signedInWith makes a row's handler of settings (under Yaegi with plugin, else
	// compiled) and its session, signed in by the compiled twin.
	signedInWith := func(settings map[string]interface{}, plugin *plugin) func(*row) {
		return func(r *row) {
			twin := compiledAgs(settings, next)
			r.h, r.cookies = twin, signIn(twin)
			if plugin != nil {
				r.h = plugin.handler("ags", settings, next)
			}
		}
	}
	rows := []*row{
		{name: "bare, no middleware", h: next, request: request{path: "/open", cookies: cookies}},
		{name: "empty plugin, yaegi", h: emptyInterp, request: request{path: "/open"}},
		{name: "empty plugin, cookies, yaegi", h: emptyInterp, request: request{path: "/open", cookies: cookies}},
		{name: "ags open path, compiled", h: compiled, request: request{path: "/open"}},
		{name: "ags open path, yaegi", h: interpreted, request: request{path: "/open"}, floor: 1, compiled: 3},
		{name: "ags open path, other cookies, yaegi", h: interpreted, request: request{path: "/open", cookies: other}, floor: 2},
		{name: "ags signed in, compiled", h: compiled, request: request{path: "/private", cookies: cookies}},
		{name: "ags signed in, yaegi", h: interpreted, request: request{path: "/private", cookies: cookies}, floor: 2, compiled: 6},
		{name: "ags signed in open path, yaegi", h: interpreted, request: request{path: "/open", cookies: cookies}, floor: 2},
		// A valid session whose Cookie header is new at every request (one more
		// cookie, numbered): each request is a cache miss, the view made and stored,
		// the session known (opened for an earlier header).
		{name: "ags cache miss, compiled", h: compiled, request: request{path: "/private", cookies: cookies, distinct: true}},
		{name: "ags cache miss, yaegi", h: interpreted, request: request{path: "/private", cookies: cookies, distinct: true}, floor: 2, compiled: 9},
		// A session new to the middleware at every request (the first request of
		// each browser after a restart): signed in before the requests, so only
		// with -only, where valgrind counts the requests alone (bench/callgrind).
		{name: "ags new session, yaegi", h: interpreted, request: request{path: "/private"}, fresh: compiled},
		// API clients (issue 27): an Authorization header with one known access
		// token and no Cookie header, as a service sends it; its floor is the
		// empty plugin on the same request.
		{name: "empty plugin, bearer, yaegi", h: emptyInterp, request: request{path: "/open", auth: token}},
		{name: "ags bearer token hit, compiled", lazy: func(r *row) { r.h = compiledAgs(bearer, next) },
			request: request{path: "/private", auth: token}},
		{name: "ags bearer token hit, yaegi", lazy: func(r *row) { r.h = agsPlugin.handler("ags", bearer, next) },
			request: request{path: "/private", auth: token}, floor: 12, compiled: 13},
		// A token new at every request: its signature verified, its view stored,
		// as every token's first request. The tokens are signed before the
		// requests, so only with -only, as the new session's row.
		{name: "ags bearer token miss, yaegi", lazy: func(r *row) { r.h = agsPlugin.handler("ags", bearer, next) },
			request: request{path: "/private"}, tokens: p.accessToken},
		// A session with sessionIdleTimeout (issue 26), between two renewals of its
		// last use (a tenth of 8h), and with revocation on and nothing revoked
		// (issue 28); each signed in by the compiled twin of its configuration.
		{name: "ags signed in, idle timeout on, compiled", lazy: signedInWith(idle, nil), request: request{path: "/private"}},
		{name: "ags signed in, idle timeout on, yaegi", lazy: signedInWith(idle, agsPlugin), request: request{path: "/private"}, floor: 2, compiled: 16},
		{name: "ags signed in, revocation on, compiled", lazy: signedInWith(revocation, nil), request: request{path: "/private"}},
		{name: "ags signed in, revocation on, yaegi", lazy: signedInWith(revocation, agsPlugin), request: request{path: "/private"}, floor: 2, compiled: 18},
	}
	var cpuOut *os.File
	if *cpuProfile != "" {
		var err error
		if cpuOut, err = os.Create(*cpuProfile); err != nil {
			panic(err)
		}
		defer cpuOut.Close()
	}
	if *only != "" {
		// One row only, for a tool that counts the whole process (valgrind): no
		// warm-up, no other row.
		for _, r := range rows {
			if r.name != *only {
				continue
			}
			if r.lazy != nil {
				r.lazy(r)
			}
			if r.tokens != nil {
				auths := make([]string, *n)
				for i := range auths {
					auths[i] = "Bearer " + r.tokens(i+1)
				}
				runTokens(r.h, r.path, auths)
				return
			}
			if r.fresh != nil {
				sessions := make([]string, *n)
				for i := range sessions {
					sessions[i] = signIn(r.fresh)
				}
				runSessions(r.h, r.path, sessions)
				return
			}
			run(r.h, r.request, *n)
			return
		}
		panic("no row " + *only)
	}
	for _, r := range rows {
		if r.lazy != nil {
			r.lazy(r)
		}
	}
	// Rounds of every row in turn, so that a slow moment of the machine spreads
	// over all rows; each row reports its median round.
	for round := 0; round < *rounds; round++ {
		for _, r := range rows {
			if r.fresh != nil || r.tokens != nil { // signs per request: -only alone
				continue
			}
			if *cpuProfile != "" && r.name == *profileRow {
				pprof.StartCPUProfile(cpuOut)
			}
			ns, allocs, cpu := measure(r.h, r.request, *n)
			if *cpuProfile != "" && r.name == *profileRow {
				pprof.StopCPUProfile()
			}
			r.ns, r.cpu = append(r.ns, ns), append(r.cpu, cpu)
			r.allocs = allocs
		}
	}
	fmt.Printf("%-44s %11s %8s %8s %12s %9s\n", "case", "ns/request", "allocs", "CPU µs", "CPU - floor", "× comp.")
	for _, r := range rows {
		if r.fresh != nil || r.tokens != nil {
			continue
		}
		extra, ratio := "", ""
		if r.floor >= 0 && strings.HasSuffix(r.name, "yaegi") && !strings.HasPrefix(r.name, "empty") {
			extra = fmt.Sprintf("%+.2f", median(r.cpu)-median(rows[r.floor].cpu))
		}
		if r.compiled > 0 {
			ratio = fmt.Sprintf("%.1fx", median(r.ns)/median(rows[r.compiled].ns))
		}
		fmt.Printf("%-44s %11.0f %8.1f %8.2f %12s %9s\n", r.name, median(r.ns), r.allocs, median(r.cpu), extra, ratio)
	}
	fmt.Println("\nCPU - floor: µs of process CPU above the empty plugin on the same request (the SPEC's")
	fmt.Println("targets are on this figure through Traefik: open path 4, signed in 8); × comp.: wall")
	fmt.Println("time interpreted over compiled.")
}

// row is one measured case.
type row struct {
	name string
	h    http.Handler
	// lazy, when set, makes h (and the session, if the row has one of its own)
	// before the row's first request
	lazy func(*row)
	request
	// fresh signs in a new session for each request, with this handler, before the
	// requests: such a row runs with -only alone, not in the timed table. tokens
	// does the same with the access token of a number, sent as a bearer token.
	fresh    http.Handler
	tokens   func(int) string
	floor    int // the row of the empty plugin on the same request
	compiled int // the row of the same case compiled; 0: none
	ns, cpu  []float64
	allocs   float64
}

// request is what a row's requests carry besides the browser's headers.
type request struct {
	path     string
	cookies  string // the Cookie header; none when empty
	auth     string // the Authorization header; none when empty
	distinct bool   // each request's Cookie header is new (numbered)
}

// with is settings with more options (or others) on top.
func with(settings, more map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range settings {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// measure drives h with n copies of one request and returns wall ns, allocations
// and process CPU µs per request.
func measure(h http.Handler, req request, n int) (float64, float64, float64) {
	run(h, req, n/10) // warm-up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	run(h, req, n)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	return float64(elapsed.Nanoseconds()) / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n), float64(cpu.Microseconds()) / float64(n)
}

// run sends h count requests for path: each as Go's server reads it from the wire
// (the header map sized for the lines it holds), with the headers Traefik adds
// before any middleware runs. With distinct, each request's Cookie header ends in
// a cookie of its own.
func run(h http.Handler, req request, count int) {
	if req.distinct {
		cookies := req.cookies
		for i := 0; i < count; i++ {
			req.cookies = cookies + "; n=" + strconv.Itoa(i) + "-" + strconv.Itoa(count)
			runOne(h, req, 1)
		}
		return
	}
	runOne(h, req, count)
}

// runSessions sends h one request for path with each Cookie header. For the rows
// that sign in first, valgrind counts what runOne does alone (callgrind/run.sh).
func runSessions(h http.Handler, path string, cookies []string) {
	for _, c := range cookies {
		runOne(h, request{path: path, cookies: c}, 1)
	}
}

// runTokens sends h one request for path with each Authorization header, as
// runSessions does with Cookie headers.
func runTokens(h http.Handler, path string, auths []string) {
	for _, a := range auths {
		runOne(h, request{path: path, auth: a}, 1)
	}
}

func runOne(h http.Handler, req request, count int) {
	path, cookies := req.path, req.cookies
	raw := "GET " + path + " HTTP/1.1\r\nHost: app.example\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-GB,en;q=0.9\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) hotpath/1\r\n"
	if cookies != "" {
		raw += "Cookie: " + cookies + "\r\n"
	}
	if req.auth != "" {
		raw += "Authorization: " + req.auth + "\r\n"
	}
	raw += "\r\n"
	reader := strings.NewReader(raw)
	buffered := bufio.NewReader(reader)
	for i := 0; i < count; i++ {
		reader.Reset(raw)
		buffered.Reset(reader)
		r, err := http.ReadRequest(buffered)
		if err != nil {
			panic(err)
		}
		for _, h := range [][2]string{
			{"X-Forwarded-For", "127.0.0.1"}, {"X-Forwarded-Host", "app.example"},
			{"X-Forwarded-Port", "80"}, {"X-Forwarded-Proto", "http"},
			{"X-Forwarded-Server", "traefik"}, {"X-Real-Ip", "127.0.0.1"},
		} {
			r.Header.Set(h[0], h[1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			fmt.Fprintf(os.Stderr, "%s: status %d\n", path, w.Code)
			os.Exit(1)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func compiledAgs(settings map[string]interface{}, next http.Handler) http.Handler {
	cfg := ags.CreateConfig()
	setFields(reflect.ValueOf(cfg), settings)
	h, err := ags.New(context.Background(), next, cfg, "bench")
	if err != nil {
		panic(err)
	}
	return h
}

// plugin is a plugin's source loaded into Yaegi the way Traefik loads it: a GOPATH
// with the source under src/{module}, Yaegi with the standard library. Each
// middleware of it is made by handler, with the same interpreter, as Traefik makes
// every middleware of one plugin.
type plugin struct {
	i *interp.Interpreter
}

func loadPlugin(dir, module string) *plugin {
	gopath, err := os.MkdirTemp("", "hotpath-gopath")
	if err != nil {
		panic(err)
	}
	dst := filepath.Join(gopath, "src", module)
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, "_test.go") || !(strings.HasSuffix(name, ".go") || name == "go.mod") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		os.WriteFile(filepath.Join(dst, name), data, 0o644)
	}
	i := interp.New(interp.Options{GoPath: gopath})
	if err := i.Use(stdlib.Symbols); err != nil {
		panic(err)
	}
	if _, err := i.Eval(`import "` + module + `"`); err != nil {
		panic(err)
	}
	return &plugin{i: i}
}

// handler calls the plugin's CreateConfig and New (package pkg) through
// reflection, with settings set on the configuration.
func (p *plugin) handler(pkg string, settings map[string]interface{}, next http.Handler) http.Handler {
	fnNew, err := p.i.Eval(pkg + ".New")
	if err != nil {
		panic(err)
	}
	fnCreate, err := p.i.Eval(pkg + ".CreateConfig")
	if err != nil {
		panic(err)
	}
	cfg := fnCreate.Call(nil)[0]
	setFields(cfg, settings)
	out := fnNew.Call([]reflect.Value{reflect.ValueOf(context.Background()), reflect.ValueOf(next), cfg, reflect.ValueOf("bench")})
	if !out[1].IsNil() {
		panic(out[1].Interface())
	}
	return out[0].Interface().(http.Handler)
}

func setFields(cfg reflect.Value, settings map[string]interface{}) {
	for k, v := range settings {
		cfg.Elem().FieldByName(k).Set(reflect.ValueOf(v))
	}
}

// signIn goes through one login with h and returns the session's Cookie header.
func signIn(h http.Handler) string {
	r := httptest.NewRequest(http.MethodGet, "http://app.example/private", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	pending := w.Result().Cookies()
	resp, err := http.DefaultTransport.RoundTrip(mustRequest(w.Header().Get("Location")))
	if err != nil {
		panic(err)
	}
	back, _ := url.Parse(resp.Header.Get("Location"))
	r = httptest.NewRequest(http.MethodGet, "http://app.example"+back.RequestURI(), nil)
	for _, c := range pending {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusFound {
		panic(fmt.Sprintf("sign-in failed: %d %s", w.Code, w.Body.String()))
	}
	var parts []string
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	parts = append(parts, "_ga=GA1.1.123456789.1700000000", "theme=dark")
	return strings.Join(parts, "; ")
}

func mustRequest(u string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}
