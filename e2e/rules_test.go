package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// TestAccessRulesThroughTraefik (issue 13): two routers, each with its own ags
// instance and its own rule, share one sign-in. The first user (groups admins and
// staff) passes on both; the second (staff only) passes on the wiki and gets 403 on
// the admin pages, every time, with no redirect back to the provider.
func TestAccessRulesThroughTraefik(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	p.SetClaims(p.Subject, map[string]any{"groups": []string{"admins", "staff"}})
	p.SetClaims(p.Subject2, map[string]any{"groups": []string{"staff"}})
	echo := startEcho(t)
	rules := func(paths string, extra map[string]any) map[string]any {
		extra["authenticatedPaths"] = []string{paths}
		return agsConfig(p, extra)
	}
	dyn := &harness.Dynamic{
		Routes: map[string]harness.Route{
			"admin": {Rule: "PathPrefix(`/admin`)", Middlewares: []string{"admin"}, Backend: echo.srv.URL},
			"wiki":  {Rule: "PathPrefix(`/`)", Middlewares: []string{"wiki"}, Backend: echo.srv.URL},
		},
		Middlewares: map[string]harness.Middleware{
			"admin": {Plugin: "ags", Config: rules("admin(/.*)?", map[string]any{
				"requiredClaims": map[string]any{"groups": []string{"admins"}}, "debug": nil})},
			"wiki": {Plugin: "ags", Config: rules("wiki(/.*)?", map[string]any{
				"requiredClaims":      map[string]any{"groups": []string{"staff", "ops"}},
				"allowedEmailDomains": []string{"zitadel.ch"}})},
		},
	}
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)

	signIn := func(user string) *harness.Client {
		t.Helper()
		c := harness.NewClient()
		start, err := c.Get(tr.URL("/wiki/start"))
		if err != nil {
			t.Fatal(err)
		}
		page, err := c.SignIn(start, user, harness.TestPassword)
		if err != nil {
			t.Fatal(err)
		}
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `"/wiki/start"`) {
			t.Fatalf("%s: after sign-in got %d %.200q, want the wiki", user, page.Status, page.Body)
		}
		return c
	}
	get := func(c *harness.Client, path string) (*harness.Page, echoed) {
		t.Helper()
		return followEchoed(t, c, tr.URL(path))
	}

	admin := signIn(p.Username)
	for _, path := range []string{"/admin/users", "/wiki/page"} {
		page, e := get(admin, path)
		if page.Status != http.StatusOK || e.URI != path || e.Header.Get("X-Auth-Request-User") != p.Subject {
			t.Errorf("%s on %s: got %d, app saw %q as %q; want the app with the identity", p.Username, path, page.Status, e.URI, e.Header.Get("X-Auth-Request-User"))
		}
	}

	staff := signIn(p.Username2)
	if page, e := get(staff, "/wiki/page"); page.Status != http.StatusOK || e.Header.Get("X-Auth-Request-User") != p.Subject2 {
		t.Errorf("%s on the wiki: got %d as %q, want the app with the identity", p.Username2, page.Status, e.Header.Get("X-Auth-Request-User"))
	}
	before := echo.requests()
	for i := 0; i < 2; i++ {
		page, _ := get(staff, "/admin/users")
		if len(page.Hops) != 1 || page.Status != http.StatusForbidden {
			t.Fatalf("%s on /admin, try %d: %d after %d requests, want 403 and no redirect:\n%s", p.Username2, i, page.Status, len(page.Hops), hops(page.Hops))
		}
		if !strings.Contains(page.Body, p.Username2) || !strings.Contains(page.Body, `href="/sign-out"`) {
			t.Errorf("the 403 page does not name the user or offer to sign out: %.500s", page.Body)
		}
	}
	if echo.requests() != before {
		t.Errorf("a refused request reached the app")
	}
	// On the admin router's open paths the refused user passes, with the identity.
	if page, e := get(staff, "/administration"); page.Status != http.StatusOK || e.Header.Get("X-Auth-Request-User") != p.Subject2 {
		t.Errorf("open path of the admin router: got %d as %q, want the app with the identity", page.Status, e.Header.Get("X-Auth-Request-User"))
	}
	if log := tr.LogSince(0); strings.Count(log, `access refused sub="`+p.Subject2+`"`) != 2 {
		t.Errorf("Traefik's log does not have one line per refusal")
	}
}
