package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// TestProviderProfiles (issue 25) runs ags in one Traefik against panva's
// oidc-provider as each provider it imitates (harness.PanvaProfile): one ags instance
// per profile on its own path prefix, with its own callbackPath and signOutPath,
// signing in through Traefik, and a second instance with a rule the user fails where
// the profile is about who may pass. Each subtest signs in with a client of its own.
func TestProviderProfiles(t *testing.T) {
	t.Parallel()
	if _, err := harness.FindNode(); err != nil {
		skipOrFailProfiles(t, err)
	}
	if _, err := harness.OIDCProviderDir(); err != nil {
		skipOrFailProfiles(t, err)
	}
	start := time.Now()
	panvas := map[harness.PanvaProfile]*harness.Panva{}
	for _, profile := range []harness.PanvaProfile{harness.PanvaEntraMultitenant, harness.PanvaKeycloak,
		harness.PanvaZitadel, harness.PanvaEntraOverage, harness.PanvaCognito, harness.PanvaApple} {
		p, err := harness.StartPanva(harness.PanvaOptions{Profile: profile})
		if err != nil {
			t.Fatalf("%s: %v", profile, err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("--- oidc-provider (%s) log:\n%s", profile, lastLines(p.Log(), 40))
			}
			p.Close()
		})
		panvas[profile] = p
	}
	t.Logf("six oidc-providers ready in %s", time.Since(start).Round(time.Millisecond))

	// Apple's form_post needs https (the pending-login cookie is SameSite=None;
	// Secure): a TLS proxy in front of Traefik, which ags knows as externalURL.
	cert, err := harness.NewCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var traefikURL *url.URL
	var callbackPosts atomic.Int32 // the form_post answers that reached the callback
	toTraefik := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(traefikURL)
		r.Out.Host = r.In.Host
		r.SetXForwarded()
	}}
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/apple/oidc_callback" {
			callbackPosts.Add(1)
		}
		toTraefik.ServeHTTP(w, r)
	}))
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	proxy.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	proxy.StartTLS()
	t.Cleanup(proxy.Close)

	echo := startEcho(t)
	dyn := &harness.Dynamic{Routes: map[string]harness.Route{}, Middlewares: map[string]harness.Middleware{}}
	route := func(name string, p *harness.Panva, extra map[string]any) {
		prefix := "/" + name
		options := map[string]any{
			"clientID":           p.ClientID,
			"authenticatedPaths": []string{prefix + "/.*"},
			"callbackPath":       prefix + "/oidc_callback",
			"signOutPath":        prefix + "/sign-out",
		}
		for k, v := range extra {
			options[k] = v
		}
		dyn.Routes[name] = harness.Route{Rule: "PathPrefix(`" + prefix + "/`)", Middlewares: []string{name}, Backend: echo.srv.URL}
		dyn.Middlewares[name] = harness.Middleware{Plugin: "ags", Config: agsConfig(&harness.Provider{Issuer: p.Issuer}, options)}
	}
	entra := panvas[harness.PanvaEntraMultitenant]
	route("entra", entra, map[string]any{"allowedTenants": []string{harness.PanvaTenantID}, "userinfo": "auto"})
	route("entra-other", entra, map[string]any{"allowedTenants": []string{"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}})
	kc := panvas[harness.PanvaKeycloak]
	route("kc", kc, map[string]any{"accessTokenClaims": "true", "requiredClaims": map[string]any{
		"realm_access.roles": []string{"ags-admin"}, `resource_access."my.app".roles`: []string{"admin"}}})
	route("kc-deny", kc, map[string]any{"accessTokenClaims": "true", "requiredClaims": map[string]any{
		"realm_access.roles": []string{"realm-owner"}}})
	const zitadelRoles = "urn:zitadel:iam:org:project:roles"
	route("zitadel", panvas[harness.PanvaZitadel], map[string]any{"requiredClaims": map[string]any{zitadelRoles: []string{"admin"}}})
	route("zitadel-deny", panvas[harness.PanvaZitadel], map[string]any{"requiredClaims": map[string]any{zitadelRoles: []string{"owner"}}})
	overage := panvas[harness.PanvaEntraOverage]
	overageGroups := harness.PanvaClaims(harness.PanvaEntraOverage, harness.PanvaTenantID)["groups"].([]string)
	route("overage", overage, map[string]any{"requiredClaims": map[string]any{"groups": overageGroups[1:]}})
	cognito := panvas[harness.PanvaCognito]
	route("cognito", cognito, map[string]any{"endSessionURL": cognito.URL("/logout"),
		"endSessionParams": map[string]any{"post_logout_redirect_uri": "logout_uri", "client_id": "client_id"}})
	apple := panvas[harness.PanvaApple]
	route("apple", apple, map[string]any{"responseMode": "form_post", "scopes": "openid email name",
		"externalURL": proxy.URL, "cookieSecure": "true"})

	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	if traefikURL, err = url.Parse(tr.URL("")); err != nil {
		t.Fatal(err)
	}

	// signIn gets path through Traefik with a new client, signs in at the login page
	// the provider shows and returns the client and the page it ends on.
	signIn := func(t *testing.T, path string) (*harness.Client, *harness.Page, echoed) {
		t.Helper()
		start := time.Now()
		c := harness.NewClient()
		login, err := c.Get(tr.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		if login.Status != http.StatusOK || !strings.Contains(login.Body, `name="password"`) {
			t.Fatalf("GET %s: %d %.300q, want the provider's login page; hops:\n%s", path, login.Status, login.Body, hops(login.Hops))
		}
		page, err := c.SignIn(login, harness.PanvaUsername, harness.TestPassword)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sign-in at %s: %s", path, time.Since(start).Round(time.Millisecond))
		return c, page, decodeEchoed(page.Body)
	}
	get := func(t *testing.T, c *harness.Client, path string) (*harness.Page, echoed) {
		t.Helper()
		return followEchoed(t, c, tr.URL(path))
	}
	expectApp := func(t *testing.T, page *harness.Page, e echoed, path, sub string) {
		t.Helper()
		if page.Status != http.StatusOK || e.URI != path || e.Header.Get("X-Auth-Request-User") != sub {
			t.Fatalf("want the app at %s as %q, got %d with %q as %q %.400q; hops:\n%s",
				path, sub, page.Status, e.URI, e.Header.Get("X-Auth-Request-User"), page.Body, hops(page.Hops))
		}
	}
	// expectRefused checks that the signed-in c gets 403 at path at once, and the app
	// nothing.
	expectRefused := func(t *testing.T, c *harness.Client, path string) {
		t.Helper()
		before := echo.requests()
		page, _ := get(t, c, path)
		if page.Status != http.StatusForbidden || len(page.Hops) != 1 {
			t.Errorf("GET %s: %d after %d requests, want 403 at once; hops:\n%s%.400q", path, page.Status, len(page.Hops), hops(page.Hops), page.Body)
		}
		if echo.requests() != before {
			t.Errorf("GET %s: a refused request reached the app", path)
		}
	}

	t.Run("EntraMultitenant", func(t *testing.T) {
		off := tr.LogSize()
		_, page, e := signIn(t, "/entra/app")
		expectApp(t, page, e, "/entra/app", harness.PanvaSubject)
		log := tr.LogSince(off)
		if !strings.Contains(log, `sign-in sub="`+harness.PanvaSubject+`": userinfo failed`) || !strings.Contains(log, "userinfo: auto") {
			t.Errorf("Traefik's log has no line for the refused userinfo (userinfo: auto):\n%s", lastLines(log, 20))
		}
		// Only another tenant allowed: the same user's sign-in fails at the callback.
		off = tr.LogSize()
		before := echo.requests()
		_, page, _ = signIn(t, "/entra-other/app")
		last := page.Hops[len(page.Hops)-1]
		if page.Status != http.StatusUnauthorized || !strings.HasPrefix(last.URL, tr.URL("/entra-other/oidc_callback?")) {
			t.Errorf("another tenant's instance: got %d at %s, want 401 from ags at its callback; hops:\n%s%.400q", page.Status, last.URL, hops(page.Hops), page.Body)
		}
		if echo.requests() != before {
			t.Errorf("a refused sign-in reached the app")
		}
		if log := tr.LogSince(off); !strings.Contains(log, `tenant not allowed: tid "`+harness.PanvaTenantID+`" is not in allowedTenants`) {
			t.Errorf("Traefik's log does not name the refused tenant %s:\n%s", harness.PanvaTenantID, lastLines(log, 20))
		}
	})

	t.Run("Keycloak", func(t *testing.T) {
		c, page, e := signIn(t, "/kc/app")
		expectApp(t, page, e, "/kc/app", harness.PanvaSubject)
		expectRefused(t, c, "/kc-deny/app")
	})

	t.Run("Zitadel", func(t *testing.T) {
		c, page, e := signIn(t, "/zitadel/app")
		expectApp(t, page, e, "/zitadel/app", harness.PanvaSubject)
		expectRefused(t, c, "/zitadel-deny/app")
	})

	t.Run("EntraOverage", func(t *testing.T) {
		off := tr.LogSize()
		_, page, e := signIn(t, "/overage/app")
		expectApp(t, page, e, "/overage/app", harness.PanvaSubject)
		got := e.Header.Get("X-Auth-Request-Groups")
		for _, g := range overageGroups {
			if !strings.Contains(got, g) {
				t.Errorf("X-Auth-Request-Groups = %q, want the distributed source's %q", got, g)
			}
		}
		if log := tr.LogSince(off); !strings.Contains(log, "groups read from the distributed claim source") {
			t.Errorf("Traefik's log has no line for the overage's source:\n%s", lastLines(log, 20))
		}
	})

	t.Run("Cognito", func(t *testing.T) {
		c, page, e := signIn(t, "/cognito/app")
		expectApp(t, page, e, "/cognito/app", cognito.Subject)
		page, err := c.Get(tr.URL("/cognito/sign-out"))
		if err != nil {
			t.Fatal(err)
		}
		back := tr.URL("/cognito/sign-out")
		if len(page.Hops) < 3 {
			t.Fatalf("sign-out: want ags, the provider's /logout, and back; hops:\n%s", hops(page.Hops))
		}
		to, err := url.Parse(page.Hops[0].Location)
		if err != nil {
			t.Fatal(err)
		}
		q := to.Query()
		if to.Scheme+"://"+to.Host+to.Path != cognito.URL("/logout") || len(q) != 2 ||
			q.Get("logout_uri") != back || q.Get("client_id") != cognito.ClientID {
			t.Errorf("sign-out sent the browser to %s, want %s with exactly logout_uri=%s and client_id=%s",
				to, cognito.URL("/logout"), back, cognito.ClientID)
		}
		if page.Hops[1].Location != back || page.Hops[2].URL != back {
			t.Errorf("the provider did not send the browser back to %s; hops:\n%s", back, hops(page.Hops))
		}
		// The provider's session ended too: the next sign-in shows its login page.
		login, _ := get(t, c, "/cognito/app")
		if login.Status != http.StatusOK || !strings.Contains(login.Body, `name="password"`) {
			t.Errorf("after sign-out: %d %.300q, want the provider's login page; hops:\n%s", login.Status, login.Body, hops(login.Hops))
		}
	})

	t.Run("Apple", func(t *testing.T) {
		// The pending-login cookie of form_post is sent on the provider's cross-site POST.
		c := harness.NewClient()
		c.ResolveTo127(cert.Pool)
		resp, err := c.HTTP.Get(proxy.URL + "/apple/app")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var pending []string
		for _, line := range resp.Header.Values("Set-Cookie") {
			if !strings.Contains(line, "Max-Age=0") {
				pending = append(pending, line)
			}
		}
		if resp.StatusCode != http.StatusFound || len(pending) != 1 ||
			!strings.Contains(pending[0], "; Secure") || !strings.Contains(pending[0], "SameSite=None") {
			t.Errorf("GET /apple/app over https: %d with cookies %q, want a redirect and one SameSite=None; Secure cookie", resp.StatusCode, pending)
		}
		if to, _ := url.Parse(resp.Header.Get("Location")); to == nil || to.Query().Get("response_mode") != "form_post" {
			t.Errorf("the authorization request %s does not ask for response_mode=form_post", resp.Header.Get("Location"))
		}

		b := requireBrowserWith(t, harness.BrowserOptions{TrustSPKI: []string{cert.SPKIHash}})
		ctx, nav := tab(t, b.Tab(), "apple")
		start := time.Now()
		app := proxy.URL + "/apple/app"
		openPage(t, ctx, app)
		if _, err := harness.SubmitLogin(ctx, harness.PanvaUsername, harness.TestPassword); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for location(t, ctx) != app && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if loc := location(t, ctx); loc != app {
			t.Fatalf("after the login form the tab is at %s, want %s: %q", loc, app, lastLines(pageText(t, ctx), 10))
		}
		t.Logf("sign-in through form_post in Chromium: %s", time.Since(start).Round(time.Millisecond))
		if e := decodeEchoed(pageText(t, ctx)); e.URI != "/apple/app" || e.Header.Get("X-Auth-Request-User") != apple.Subject {
			t.Errorf("the app got %q as %q, want /apple/app as %q", e.URI, e.Header.Get("X-Auth-Request-User"), apple.Subject)
		}
		if n := callbackPosts.Load(); n != 1 {
			t.Errorf("%d POSTs reached the callback, want the provider's form_post answer; navigations:\n%s", n, nav)
		}
	})
}

// skipOrFailProfiles skips the test for a missing program, or fails it when CI is set.
func skipOrFailProfiles(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %v", err)
	}
	t.Skipf("skipped: %v", err)
}

// followEchoed gets u with c, following redirects, and decodes the echo app's answer
// (the zero echoed when another page answered).
func followEchoed(t *testing.T, c *harness.Client, u string) (*harness.Page, echoed) {
	t.Helper()
	page, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return page, decodeEchoed(page.Body)
}

// decodeEchoed is what the echo app says it received, from its answer body.
func decodeEchoed(body string) echoed {
	var e echoed
	json.Unmarshal([]byte(body), &e)
	return e
}
