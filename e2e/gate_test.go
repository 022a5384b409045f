package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// echoBackend is an app that answers every request with what it received, as JSON,
// and counts the requests that reached it.
type echoBackend struct {
	srv   *httptest.Server
	mu    sync.Mutex
	count int
}

type echoed struct {
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
}

func startEcho(t *testing.T) *echoBackend {
	t.Helper()
	e := &echoBackend{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.count++
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoed{URI: r.RequestURI, Header: r.Header})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echoBackend) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// gateStack is the README's strict gate (featureFlagToggle false) protecting
// admin(/.*)?, behind a middleware that stores an identity header under a
// non-canonical key, on an entry point with Traefik's path cleaning on and one with it
// off.
type gateStack struct {
	provider *harness.Provider
	echo     *echoBackend
	traefiks map[string]*harness.Traefik // "sanitizePath on", "sanitizePath off"
}

func startGate(t *testing.T) *gateStack {
	t.Helper()
	p := startProvider(t)
	g := &gateStack{provider: p, echo: startEcho(t), traefiks: map[string]*harness.Traefik{}}
	dyn := &harness.Dynamic{
		Routes: map[string]harness.Route{
			"app": {Rule: "PathPrefix(`/`)", Middlewares: []string{"earlier", "ags"}, Backend: g.echo.srv.URL},
		},
		Middlewares: map[string]harness.Middleware{
			"earlier": {Plugin: "setheader", Config: map[string]any{
				"header": "x-auth-request-user", "value": "from-an-earlier-middleware", "raw": true}},
			"ags": {Plugin: "ags", Config: agsConfig(p, map[string]any{
				"authenticatedPaths": []string{"admin(/.*)?"},
				"featureFlagToggle":  false,
				"debug":              nil,
			})},
		},
	}
	plugins := map[string]string{"setheader": filepath.Join("harness", "testdata", "setheader")}
	for name, off := range map[string]bool{"sanitizePath on": false, "sanitizePath off": true} {
		cfg := harness.TraefikConfig{MorePlugins: plugins}
		if off {
			cfg.Static = sanitizePathOff
		}
		g.traefiks[name] = startTraefik(t, cfg, dyn)
	}
	return g
}

// sanitizePathOff is a TraefikConfig.Static that turns off the web entry point's path
// cleaning (Traefik's sanitizePath: /./, /../ and // left as sent).
func sanitizePathOff(static map[string]any) {
	web := static["entryPoints"].(map[string]any)["web"].(map[string]any)
	web["http"] = map[string]any{"sanitizePath": false}
}

// rawGet sends GET with the request target exactly as written, and does not follow
// redirects.
func rawGet(t *testing.T, tr *harness.Traefik, target string, header http.Header) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return rawGetWith(t, client, tr, target, header)
}

// rawGetWith is rawGet with client (a harness.Client's HTTP, for its cookie jar, which
// follows no redirect either). The target is read as a server reads a request line,
// so "//x" is a path; the test fails if Go would send it spelt otherwise.
func rawGetWith(t *testing.T, client *http.Client, tr *harness.Traefik, target string, header http.Header) *http.Response {
	t.Helper()
	return rawSend(t, client, http.MethodGet, tr.URL("/"), target, header)
}

// rawSend is rawGetWith with any method, to the server of base (an absolute URL).
func rawSend(t *testing.T, client *http.Client, method, base, target string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	if sent := req.URL.RequestURI(); sent != target {
		t.Fatalf("Go would send %q as %q", target, sent)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readEcho(t *testing.T, resp *http.Response) echoed {
	t.Helper()
	var e echoed
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("the app's answer: %v", err)
	}
	return e
}

// TestStrictGate (issue 12) runs the README's strict gate through a real Traefik: the
// flag cookie means nothing, no reading of a protected path passes signed out, and no
// client (or earlier middleware) hands the app an identity or a path override.
func TestStrictGate(t *testing.T) {
	t.Parallel()
	g := startGate(t)
	login := g.provider.URL("/auth?")
	for name, tr := range g.traefiks {
		t.Run(name, func(t *testing.T) {
			// The flag cookie cannot switch the gate off, and the toggle path is the app's.
			for _, cookie := range []string{"ags_client_active=0", "ags_client_active=1", "ags_client_active=junk"} {
				before := g.echo.requests()
				resp := rawGet(t, tr, "/admin", http.Header{"Cookie": {cookie}})
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), login) || g.echo.requests() != before {
					t.Errorf("GET /admin with %s: got %d to %q, want a login and no request to the app", cookie, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
			resp := rawGet(t, tr, "/toggle-feature/ags_client_active", nil)
			if e := readEcho(t, resp); e.URI != "/toggle-feature/ags_client_active" || len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("the toggle path: the app got %q, Set-Cookie %q; want the app's page and no cookie", e.URI, resp.Header.Values("Set-Cookie"))
			}

			// Every reading of a protected path.
			for _, target := range []string{"/admin%2F..%2Fpublic", "/admin/..%2Fpublic", "/admin/x/..%2F..%2Fpublic",
				"/admin%00", "/admin%00/x", "/admin.", "/admin%2e", "/admin%20"} {
				before := g.echo.requests()
				resp := rawGet(t, tr, target, nil)
				redirected := resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), login)
				if g.echo.requests() != before || !(redirected || resp.StatusCode == http.StatusBadRequest) {
					t.Errorf("GET %s: got %d to %q (%d requests reached the app), want a login or 400", target, resp.StatusCode,
						resp.Header.Get("Location"), g.echo.requests()-before)
				}
			}

			// Path overrides and forged identity headers never reach the app.
			forged := http.Header{
				"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "X-Original-Uri": {"/admin"},
				"X_auth_request_user": {"mallory"}, "X-Auth-Request-Email": {"mallory@example.com"},
			}
			e := readEcho(t, rawGet(t, tr, "/public", forged))
			for k, v := range e.Header {
				lower := strings.ToLower(k)
				if strings.Contains(lower, "original") || strings.Contains(lower, "rewrite") || strings.Contains(strings.ReplaceAll(lower, "_", "-"), "x-auth-request") {
					t.Errorf("the app received %s: %q", k, v)
				}
			}
		})
	}
}

// TestUnverifiedEmailThroughTraefik (issue 12): a provider that says email_verified
// false signs the user in, but the app does not get the address.
func TestUnverifiedEmailThroughTraefik(t *testing.T) {
	t.Parallel()
	g := startGate(t)
	g.provider.SetEmailVerified(false)
	tr := g.traefiks["sanitizePath on"]
	c := harness.NewClient()
	start, err := c.Get(tr.URL("/admin/page"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(start, g.provider.Username, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	var e echoed
	if err := json.Unmarshal([]byte(page.Body), &e); err != nil || e.URI != "/admin/page" {
		t.Fatalf("after sign-in: %d %q, want the app at /admin/page", page.Status, page.Body)
	}
	if got := e.Header.Get("X-Auth-Request-User"); got != g.provider.Subject {
		t.Errorf("X-Auth-Request-User: got %q, want %q", got, g.provider.Subject)
	}
	if got := e.Header.Get("X-Auth-Request-Email"); got != "" {
		t.Errorf("X-Auth-Request-Email: got %q for an unverified address, want none", got)
	}
	if log := tr.LogSince(0); !strings.Contains(log, "not verified") {
		t.Errorf("Traefik's log does not say the address was withheld")
	}
}

// TestDeepLinkInChromium (issue 12): a protected URL whose query would make the
// pending-login cookie larger than a browser keeps still signs in, on its path.
func TestDeepLinkInChromium(t *testing.T) {
	t.Parallel()
	g := startGate(t)
	tr := g.traefiks["sanitizePath on"]
	browser := requireBrowser(t)
	ctx, _ := tab(t, browser.Tab(), "deep link")
	target := "/admin/report?q=" + strings.Repeat("a", 6000)
	openPage(t, ctx, tr.URL(target))
	expectLoginPage(t, ctx, g.provider)
	submitLogin(t, ctx, g.provider, harness.TestPassword)
	loc := location(t, ctx)
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/admin/report" {
		t.Fatalf("after sign-in the browser is at %.120q, want /admin/report", loc)
	}
	if text := pageText(t, ctx); !strings.Contains(text, g.provider.Subject) {
		t.Errorf("the app's answer does not show the signed-in user: %.200q", text)
	}
}

// TestAppCookieChangesThroughTraefik (issue 16): an app whose own cookie changes on
// every response (each request a Cookie header ags has not seen, with a session it
// has opened) keeps its user signed in, and the app gets its cookie without ags's;
// the same header with the session tampered with never reaches the app.
func TestAppCookieChangesThroughTraefik(t *testing.T) {
	t.Parallel()
	g := startGate(t)
	tr := g.traefiks["sanitizePath on"]
	c := harness.NewClient()
	start, err := c.Get(tr.URL("/admin/page"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignIn(start, g.provider.Username, harness.TestPassword); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(tr.URL("/admin/page"))
	var session []string
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if strings.HasPrefix(ck.Name, "ags_client_session") {
			session = append(session, ck.Name+"="+ck.Value)
		}
	}
	if len(session) == 0 {
		t.Fatal("no session cookie after sign-in")
	}
	line := strings.Join(session, "; ")
	for i := 1; i <= 5; i++ {
		token := "XSRF-TOKEN=" + strings.Repeat("t", i)
		resp := rawGet(t, tr, "/admin/page", http.Header{"Cookie": {"theme=dark; " + line + "; " + token}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d, want the app's page", i, resp.StatusCode)
		}
		e := readEcho(t, resp)
		if got := e.Header.Get("X-Auth-Request-User"); got != g.provider.Subject {
			t.Errorf("request %d: X-Auth-Request-User %q, want %q", i, got, g.provider.Subject)
		}
		if got, want := e.Header.Values("Cookie"), []string{"theme=dark; " + token}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("request %d: the app got Cookie %q, want %q", i, got, want)
		}
	}
	before := g.echo.requests()
	tampered := []byte(line)
	tampered[len(tampered)-5] ^= 1
	resp := rawGet(t, tr, "/admin/page", http.Header{"Cookie": {"theme=dark; " + string(tampered) + "; XSRF-TOKEN=x"}})
	if resp.StatusCode != http.StatusFound || g.echo.requests() != before {
		t.Errorf("a tampered session with a new app cookie: status %d, the app reached %d times; want a redirect to sign in and no request to the app", resp.StatusCode, g.echo.requests()-before)
	}
}
