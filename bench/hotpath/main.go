// Command hotpath times ags's request path in process, compiled and under Yaegi (the
// interpreter Traefik runs plugins in), next to an empty plugin that sets one
// header. It signs in once against a small in-process provider, then drives
// ServeHTTP for an open path and for a signed-in request, and prints ns and
// allocations per request and the interpreted/compiled ratio.
//
//	go run ./hotpath [-n 20000]
package main

import (
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
	"strings"
	"syscall"
	"time"

	"github.com/ags-client/ags"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

func main() {
	n := flag.Int("n", 20000, "requests per measurement")
	root := flag.String("plugin", "..", "the plugin's source folder")
	empty := flag.String("empty", "emptyplugin", "the empty plugin's source folder")
	profile := flag.String("memprofile", "", "write an allocation profile of the interpreted signed-in and open rows to this file")
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

	p := newProvider()
	defer p.srv.Close()
	settings := map[string]interface{}{
		"Issuer": p.srv.URL, "ClientID": "bench", "ClientSecret": "bench-secret",
		"SessionSecret":      "bench-session-secret-0123456789abcdef",
		"AuthenticatedPaths": []string{"/private", "admin/.*"},
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

	compiled := compiledAgs(settings, next)
	interpreted := interpretedPlugin(*root, "github.com/ags-client/ags", "ags", settings, next)
	emptyInterp := interpretedPlugin(*empty, "github.com/ags-client/empty", "empty", map[string]interface{}{"Header": "X-Empty"}, next)

	cookies := signIn(compiled)
	fmt.Printf("%-34s %12s %10s %10s\n", "case", "ns/request", "allocs", "CPU µs")
	var rows [][2]float64
	for _, c := range []struct {
		name string
		h    http.Handler
		path string
		cks  string
	}{
		{"empty plugin, yaegi", emptyInterp, "/open", ""},
		{"ags open path, compiled", compiled, "/open", ""},
		{"ags open path, yaegi", interpreted, "/open", ""},
		{"ags signed in, compiled", compiled, "/private", cookies},
		{"ags signed in, yaegi", interpreted, "/private", cookies},
		{"ags signed in open path, yaegi", interpreted, "/open", cookies},
		{"ags open path, other cookies, yaegi", interpreted, "/open", strings.Replace(cookies, "ags_client_session", "app_client_session", 1)},
	} {
		ns, allocs, cpu := measure(c.h, c.path, c.cks, *n)
		rows = append(rows, [2]float64{ns, cpu})
		fmt.Printf("%-34s %12.0f %10.1f %10.2f\n", c.name, ns, allocs, cpu)
	}
	fmt.Printf("\nabove the empty plugin (yaegi, CPU): open %.2f µs, signed in %.2f µs\n", rows[2][1]-rows[0][1], rows[4][1]-rows[0][1])
	fmt.Printf("interpreted/compiled: open %.1fx, signed in %.1fx\n", rows[2][0]/rows[1][0], rows[4][0]/rows[3][0])
}

// measure drives h with n copies of one request and returns wall ns, allocations
// and process CPU µs per request.
func measure(h http.Handler, path, cookies string, n int) (float64, float64, float64) {
	run := func(count int) {
		for i := 0; i < count; i++ {
			r := httptest.NewRequest(http.MethodGet, "http://app.example"+path, nil)
			r.Header.Set("Accept", "text/html")
			r.Header.Set("User-Agent", "bench")
			r.Header.Set("Accept-Encoding", "gzip")
			r.Header.Set("X-Forwarded-Proto", "http")
			r.Header.Set("X-Forwarded-For", "127.0.0.1")
			// What Traefik adds before any middleware runs.
			r.Header.Set("X-Forwarded-Host", "app.example")
			r.Header.Set("X-Forwarded-Port", "80")
			r.Header.Set("X-Forwarded-Server", "traefik")
			r.Header.Set("X-Real-Ip", "127.0.0.1")
			r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
			if cookies != "" {
				r.Header.Set("Cookie", cookies)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				fmt.Fprintf(os.Stderr, "%s: status %d\n", path, w.Code)
				os.Exit(1)
			}
		}
	}
	run(n / 10)
	base := time.Now()
	run(n / 10)
	overhead := time.Since(base) // not subtracted; the request building is the same for all rows
	_ = overhead
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	run(n)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	return float64(elapsed.Nanoseconds()) / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n), float64(cpu.Microseconds()) / float64(n)
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

// interpretedPlugin loads a plugin from source the way Traefik does: a GOPATH with
// the source under src/{module}, Yaegi with the standard library, then
// CreateConfig and New called through reflection.
func interpretedPlugin(dir, module, pkg string, settings map[string]interface{}, next http.Handler) http.Handler {
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
	fnNew, err := i.Eval(pkg + ".New")
	if err != nil {
		panic(err)
	}
	fnCreate, err := i.Eval(pkg + ".CreateConfig")
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
