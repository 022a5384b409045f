package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Scenario 9: the provider is down when Traefik starts. The routes load, the open page
// works, the protected page answers 503 with a clear page within 10 seconds; once the
// provider starts, a login works without restarting Traefik.
func TestBrowserProviderDown(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	p, err := harness.NewProvider(0) // its port is known, nothing listens on it yet
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	tr := startTraefik(t, harness.TraefikConfig{}, agsDynamic(s.app, agsConfig(p, nil))) // waits for the routes
	b := requireBrowser(t)
	ctx, _ := tabWithin(t, b.Tab(), "main", 90*time.Second)

	if status := openPage(t, ctx, tr.URL("/open/")); status != 200 {
		t.Fatalf("open page with the provider down: status %d", status)
	}
	expectNoIdentity(t, readApp(t, ctx))

	start := time.Now()
	status := openPage(t, ctx, tr.URL("/protected/"))
	took := time.Since(start)
	text := pageText(t, ctx)
	t.Logf("protected page with the provider down: %d in %s: %q", status, took.Round(time.Millisecond), text)
	if status != 503 {
		t.Errorf("protected page with the provider down: status %d, want 503", status)
	}
	if took > 10*time.Second {
		t.Errorf("protected page with the provider down took %s, want at most 10s", took)
	}
	if strings.TrimSpace(text) == "" || strings.Contains(text, "goroutine ") {
		t.Errorf("the 503 page is not a clear page: %q", text)
	}
	if loc := location(t, ctx); loc != tr.URL("/protected/") {
		t.Errorf("with the provider down the browser went to %s", loc)
	}

	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	deadline := start.Add(45 * time.Second)
	for {
		if openPage(t, ctx, tr.URL("/protected/")); strings.HasPrefix(location(t, ctx), p.URL("/login/")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("45s after the provider started, the protected page still shows %q", pageText(t, ctx))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("login page reached %s after the provider started", time.Since(start).Round(time.Millisecond))
	submitLogin(t, ctx, p, harness.TestPassword)
	expectSignedIn(t, ctx, tr, p, "/protected/")
}
