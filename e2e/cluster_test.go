package e2e

import (
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Scenarios 7 and 8: several Traefik processes, restarts and reloads. They share the
// provider and the app of the shared stack, with Traefik processes of their own.

// Scenario 7: two Traefik processes with the same sessionSecret. A login through one is
// valid through the other, and after a restart of the first the session still works.
// (Cookies are bound to the host, 127.0.0.1, not to the port: the browser sends the
// same cookies to both.)
func TestBrowserTwoTraefiks(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	dyn := agsDynamic(s.app, agsConfig(s.provider, map[string]any{"sessionSecret": sessionSecret}))
	one := startTraefik(t, harness.TraefikConfig{}, dyn)
	two := startTraefik(t, harness.TraefikConfig{}, dyn)
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")

	signIn(t, ctx, one, s.provider, "/protected/")

	openPage(t, ctx, two.URL("/protected/"))
	expectSignedIn(t, ctx, two, s.provider, "/protected/")

	start := time.Now()
	if err := one.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted Traefik one in %s", time.Since(start).Round(time.Millisecond))
	openPage(t, ctx, one.URL("/protected/"))
	expectSignedIn(t, ctx, one, s.provider, "/protected/")
	openPage(t, ctx, two.URL("/open/"))
	expectSignedIn(t, ctx, two, s.provider, "/open/")
}

// Scenario 8: a change to the dynamic configuration makes Traefik call New again; the
// signed-in browser stays signed in. The Traefik runs without sessionSecret (one is
// generated per Traefik process), and the change adds an identity header, which shows
// that the new configuration is in force.
func TestBrowserConfigReload(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	noSecret := map[string]any{"sessionSecret": nil}
	tr := startTraefik(t, harness.TraefikConfig{}, agsDynamic(s.app, agsConfig(s.provider, noSecret)))
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")

	signIn(t, ctx, tr, s.provider, "/protected/")

	changed := agsConfig(s.provider, map[string]any{
		"sessionSecret":   nil,
		"identityHeaders": map[string]any{"name": "X-Auth-Request-Name"},
	})
	start := time.Now()
	if err := tr.SetDynamic(agsDynamic(s.app, changed)); err != nil {
		t.Fatal(err)
	}
	t.Logf("Traefik reloaded the dynamic configuration in %s", time.Since(start).Round(time.Millisecond))

	if _, err := harness.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	v := expectSignedIn(t, ctx, tr, s.provider, "/protected/")
	if got := v.Headers["X-Auth-Request-Name"]; got != "Test User" {
		t.Errorf("after the reload, X-Auth-Request-Name = %q, want %q (the new identityHeaders option); headers: %v",
			got, "Test User", v.Headers)
	}
}
