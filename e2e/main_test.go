// Package e2e tests the ags plugin end to end: a real Traefik (tools/traefik/build.sh)
// loads the plugin from this working tree, in front of a small app, with the zitadel/oidc
// example server as the OpenID provider; a plain HTTP client and a headless Chromium
// sign in through it. See README.md.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// sessionSecret is shared by the Traefik processes that must accept each other's sessions.
const sessionSecret = "e2e-session-secret-0123456789abcdef-0123456789"

// protectedPaths is the plugin's authenticatedPaths: /protected, /protected/ and below.
var protectedPaths = []string{"/protected(/.*)?"}

// TestMain runs the tests, then scans every log that a Traefik of the run wrote (ags
// writes its lines there) for the secrets the harness configured or saw: a line that
// holds one, or harness.LeakWindow characters of one, fails the run (SPEC 8).
func TestMain(m *testing.M) {
	if err := harness.CollectLogs(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	harness.Secret("sessionSecret", sessionSecret) // also in Docker labels and Kubernetes objects
	harness.Secret("clientSecret", harness.ClientSecret)
	code := m.Run()
	shared.close()
	harness.CloseSharedBrowser()
	if scanLogs() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// scanLogs prints the secret scan's summary and its leaks (file, line, kind; never
// the secret) and reports whether there were any.
func scanLogs() bool {
	leaks, summary, err := harness.ScanCollectedLogs()
	fmt.Fprintln(os.Stderr, "e2e: "+summary)
	for _, l := range leaks {
		fmt.Fprintln(os.Stderr, "e2e: a log holds a secret: "+l.String())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return true
	}
	return len(leaks) > 0
}

// stack is a provider, an app and a Traefik with ags in front of the app.
type stack struct {
	provider *harness.Provider
	app      *harness.App
	traefik  *harness.Traefik
}

// shared is one stack for the tests that neither restart nor reconfigure anything:
// each of them uses its own browser (its own cookies), so they do not interfere.
var shared sharedStackState

type sharedStackState struct {
	once sync.Once
	s    *stack
	err  error
}

func sharedStack(t *testing.T) *stack {
	t.Helper()
	shared.once.Do(func() {
		start := time.Now()
		s := &stack{}
		if s.provider, shared.err = harness.StartProvider(); shared.err != nil {
			return
		}
		if s.app, shared.err = harness.StartApp(); shared.err != nil {
			return
		}
		shared.s = s
		s.traefik, shared.err = harness.StartTraefik(harness.TraefikConfig{},
			agsDynamic(s.app, agsConfig(s.provider, nil)))
		if shared.err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: shared stack (provider, app, Traefik with ags) ready in %s\n",
			time.Since(start).Round(time.Millisecond))
	})
	if shared.err != nil {
		t.Fatalf("shared stack: %v", shared.err)
	}
	showLogOnFailure(t, shared.s.traefik)
	return shared.s
}

func (sh *sharedStackState) close() {
	if sh.s == nil {
		return
	}
	if sh.s.traefik != nil {
		sh.s.traefik.Close()
	}
	if sh.s.app != nil {
		sh.s.app.Close()
	}
	if sh.s.provider != nil {
		sh.s.provider.Close()
	}
}

// agsConfig is the plugin's configuration for provider p, with extra options on top.
func agsConfig(p *harness.Provider, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"issuer":             p.Issuer,
		"clientID":           harness.ClientID,
		"clientSecret":       harness.ClientSecret,
		"authenticatedPaths": protectedPaths,
		"sessionSecret":      sessionSecret,
		"debug":              true,
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// agsDynamic routes every path through the ags middleware to app.
func agsDynamic(app *harness.App, cfg map[string]any) *harness.Dynamic {
	return &harness.Dynamic{
		Routes: map[string]harness.Route{
			"app": {Rule: "PathPrefix(`/`)", Middlewares: []string{"ags"}, Backend: app.URL},
		},
		Middlewares: map[string]harness.Middleware{"ags": {Plugin: "ags", Config: cfg}},
	}
}

// startProvider starts a provider of the test's own, stopped at the end of the test.
func startProvider(t *testing.T) *harness.Provider {
	t.Helper()
	p, err := harness.StartProvider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// startTraefik starts a Traefik of the test's own, stopped at the end of the test.
func startTraefik(t *testing.T, cfg harness.TraefikConfig, dyn *harness.Dynamic) *harness.Traefik {
	t.Helper()
	start := time.Now()
	tr, err := harness.StartTraefik(cfg, dyn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	t.Logf("Traefik on port %d ready in %s", tr.Port, time.Since(start).Round(time.Millisecond))
	showLogOnFailure(t, tr)
	return tr
}

// showLogOnFailure prints what Traefik logged during the test, if the test fails.
func showLogOnFailure(t *testing.T, tr *harness.Traefik) {
	off := tr.LogSize()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- Traefik on port %d logged during the test (%s):\n%s", tr.Port, tr.LogPath,
				lastLines(tr.LogSince(off), 150))
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// requireBrowser gives the test a headless Chromium's cookie jar of its own, a
// browser context in the Chromium the tests share (harness.OpenBrowser), closed at
// its end. Without a Chromium, the test fails when the CI environment variable is
// set and is skipped otherwise.
func requireBrowser(t *testing.T) *harness.Browser {
	t.Helper()
	return requireBrowserWith(t, harness.BrowserOptions{})
}

// requireBrowserWith is requireBrowser with options (host names, certificates):
// those are flags of a Chromium process, so the test gets a process of its own.
func requireBrowserWith(t *testing.T, opts harness.BrowserOptions) *harness.Browser {
	t.Helper()
	if _, err := harness.FindChromium(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %v", err)
		}
		t.Skipf("skipped: %v", err)
	}
	var b *harness.Browser
	var err error
	if len(opts.Hosts) == 0 && len(opts.TrustSPKI) == 0 {
		b, err = harness.OpenBrowser() // a browser context in the shared Chromium
	} else {
		b, err = harness.StartBrowserWith(opts) // the options are a process's flags
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// requireCommand checks that a program the test runs is on PATH (make e2e installs
// it). Without it, the test fails when the CI environment variable is set and is
// skipped otherwise.
func requireCommand(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		msg := fmt.Sprintf("no %s on PATH: install Debian's %s (apt-get install -y %s), or run make e2e as root", name, pkg, pkg)
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s", msg)
		}
		t.Skip("skipped: " + msg)
	}
}

// tab is a browser tab with a deadline of a minute for the test, recording its
// navigations, which are printed if the test fails.
func tab(t *testing.T, ctx context.Context, name string) (context.Context, *harness.Navigations) {
	t.Helper()
	return tabWithin(t, ctx, name, time.Minute)
}

func tabWithin(t *testing.T, ctx context.Context, name string, d time.Duration) (context.Context, *harness.Navigations) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	nav, err := harness.RecordNavigations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- documents loaded in tab %s:\n%s", name, nav)
		}
	})
	return ctx, nav
}
