package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
	"github.com/chromedp/chromedp"
)

// Issue 26's options through a real Traefik: publicPaths, externalURL behind a load
// balancer that ends TLS, corsPreflight and sessionIdleTimeout (authHost:
// authhost_test.go). The root module's publicpaths_test.go, site_test.go and idle_test.go test
// them through ServeHTTP.

// TestHostsPublicPaths: authenticatedPaths [".*"] with publicPaths [healthz,
// "static/.*"] is "all but these": a visitor reaches /healthz and /static/app.js, and
// every other path, spellings that only look public included, sends the visitor to
// sign in without reaching the app, with Traefik's path cleaning on and off.
func TestHostsPublicPaths(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, map[string]any{
		"authenticatedPaths": []string{".*"},
		"publicPaths":        []string{"healthz", "static/.*"},
	})
	login := p.URL("/auth?")
	for name, static := range map[string]func(map[string]any){"sanitizePath on": nil, "sanitizePath off": sanitizePathOff} {
		tr := startTraefik(t, harness.TraefikConfig{Static: static}, dyn)
		for _, tc := range []struct {
			target string
			open   bool
		}{
			{"/healthz", true},
			{"/static/app.js", true},
			{"/", false},
			{"/account", false},
			{"/healthz;x", false},
			{"/healthz/", true}, // one trailing "/" is optional in an expression
			{"/static/../admin", false},
			{"/static%2F..%2Fadmin", false},
			{"/static/..%2Fadmin", false},
			{"/%73tatic/app.js", true}, // the control: an escaped letter is still the public path
		} {
			before := echo.requests()
			resp := rawGet(t, tr, tc.target, nil)
			reached := echo.requests() - before
			if tc.open {
				if resp.StatusCode != http.StatusOK || reached != 1 {
					t.Errorf("%s: a visitor's %s: %d (Location %q), want the app's 200", name, tc.target, resp.StatusCode, resp.Header.Get("Location"))
				} else if e := readEcho(t, resp); e.Header.Get("X-Auth-Request-User") != "" {
					t.Errorf("%s: a visitor's %s reached the app as %q", name, tc.target, e.Header.Get("X-Auth-Request-User"))
				}
				continue
			}
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), login) || reached != 0 {
				t.Errorf("%s: a visitor's %s: %d to %q, the app reached %d times; want a sign-in", name, tc.target, resp.StatusCode, resp.Header.Get("Location"), reached)
			}
		}
	}
}

// startTLSBalancer starts a load balancer that ends TLS for host (its certificate
// trusted by the returned pool) and forwards plain HTTP to target with the Host the
// client sent and no X-Forwarded-* or Forwarded headers (httputil's Rewrite drops
// what the client sent and adds none), as one Traefik does not trust.
func startTLSBalancer(t *testing.T, host, target string) (*httptest.Server, *harness.Certificate) {
	t.Helper()
	cert, err := harness.NewCertificate(host)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	to, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	lb := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(to)
		pr.Out.Host = pr.In.Host
	}})
	lb.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	lb.StartTLS()
	t.Cleanup(lb.Close)
	return lb, cert
}

// queryParam is the parameter name of the query of the address in resp's Location.
func queryParam(t *testing.T, resp *http.Response, name string) string {
	t.Helper()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	return u.Query().Get(name)
}

// TestHostsExternalURL: behind a load balancer that ends TLS and that Traefik does not
// trust (Traefik tells the app the request came over http), an instance with
// externalURL https://app.example.org:{the balancer's port} sends the provider a
// redirect_uri and a post_logout_redirect_uri on https and that host, and a sign-in
// through the balancer completes; the control, an instance without it on the same
// Traefik, sends http ones (today's behaviour), which https-only providers refuse.
func TestHostsExternalURL(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, nil)
	const host = "app.example.org"
	// Traefik is started first, for its port; the pinned instance, which needs the
	// balancer's port, is added with SetDynamic.
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	lb, cert := startTLSBalancer(t, host, tr.URL("/"))
	lbPort := lb.Listener.Addr().(*net.TCPAddr).Port
	external := fmt.Sprintf("https://%s:%d", host, lbPort)
	dyn.Routes["pinned"] = harness.Route{Rule: "PathPrefix(`/pinned/`) || Path(`/pinned_callback`) || Path(`/pinned-sign-out`)",
		Middlewares: []string{"pinned"}, Backend: echo.srv.URL}
	dyn.Middlewares["pinned"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, map[string]any{
		"authenticatedPaths": []string{"pinned/.*"}, "callbackPath": "pinned_callback", "signOutPath": "pinned-sign-out",
		"externalURL": external})}
	if err := tr.SetDynamic(dyn); err != nil {
		t.Fatal(err)
	}
	newClient := func() *harness.Client {
		c := harness.NewClient()
		c.ResolveTo127(cert.Pool, host)
		return c
	}

	// The balancer hands Traefik no forwarding headers, even when the client sends them.
	c := newClient()
	resp := rawSend(t, c.HTTP, http.MethodGet, external, "/open", http.Header{"X-Forwarded-Proto": {"https"}})
	if e := readEcho(t, resp); e.Header.Get("X-Forwarded-Proto") != "http" || e.Header.Get("X-Forwarded-Host") != fmt.Sprintf("%s:%d", host, lbPort) {
		t.Fatalf("through the balancer the app got X-Forwarded-Proto %q, X-Forwarded-Host %q; want http from Traefik, and the client's Host",
			e.Header.Get("X-Forwarded-Proto"), e.Header.Get("X-Forwarded-Host"))
	}

	for _, tc := range []struct {
		name, path, callback, signOut, scheme string
	}{
		{"without externalURL", "/protected/x", "/oidc_callback", "/sign-out", "http"},
		{"externalURL " + external, "/pinned/x", "/pinned_callback", "/pinned-sign-out", "https"},
	} {
		base := fmt.Sprintf("%s://%s:%d", tc.scheme, host, lbPort)
		c := newClient()
		resp := rawSend(t, c.HTTP, http.MethodGet, external, tc.path, nil)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/auth?")) {
			t.Fatalf("%s: a visitor's %s through the balancer: %d to %q, want a sign-in", tc.name, tc.path, resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := queryParam(t, resp, "redirect_uri"); got != base+tc.callback {
			t.Errorf("%s: redirect_uri %q, want %q", tc.name, got, base+tc.callback)
		}
		// A session for the sign-out: signed in through the pinned instance (the
		// instances share the session secret), as the control cannot finish a
		// sign-in: the provider sends the browser to http on the balancer's port.
		start, err := c.Get(external + "/pinned/x")
		if err != nil {
			t.Fatal(err)
		}
		page, err := c.SignIn(start, p.Username, harness.TestPassword)
		if err != nil {
			t.Fatal(err)
		}
		if page.Status != http.StatusOK || page.URL.String() != external+"/pinned/x" {
			t.Fatalf("%s: sign-in through the balancer ended %d at %s; hops:\n%s", tc.name, page.Status, page.URL, hops(page.Hops))
		}
		resp = rawSend(t, c.HTTP, http.MethodGet, external, tc.signOut, nil)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/end_session?")) {
			t.Fatalf("%s: %s through the balancer: %d to %q, want the provider's end_session", tc.name, tc.signOut, resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := queryParam(t, resp, "post_logout_redirect_uri"); got != base+tc.signOut {
			t.Errorf("%s: post_logout_redirect_uri %q, want %q", tc.name, got, base+tc.signOut)
		}
	}
}

// TestHostsCORSPreflight: with corsPreflight on, a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) to a protected path reaches the app without identity,
// even one the client claims; an OPTIONS without Access-Control-Request-Method and a
// GET with both headers are protected as before. With it off (the control instance
// on the same Traefik), the preflight gets 401 and the app is not reached.
func TestHostsCORSPreflight(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, nil)
	dyn.Routes["api"] = harness.Route{Rule: "PathPrefix(`/api/`)", Middlewares: []string{"api"}, Backend: echo.srv.URL}
	dyn.Middlewares["api"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, map[string]any{
		"authenticatedPaths": []string{"api/.*"}, "corsPreflight": true})}
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	preflight := http.Header{
		"Origin":                         {"http://spa.example.org"},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"x-custom"},
		"X-Auth-Request-User":            {"mallory"},
	}
	onlyOrigin := http.Header{"Origin": preflight["Origin"]}
	for _, tc := range []struct {
		name, method, target string
		header               http.Header
		want                 int // 200: the app's answer
	}{
		{"on: a preflight", http.MethodOptions, "/api/items", preflight, http.StatusOK},
		{"off: a preflight", http.MethodOptions, "/protected/items", preflight, http.StatusUnauthorized},
		{"on: OPTIONS without Access-Control-Request-Method", http.MethodOptions, "/api/items", onlyOrigin, http.StatusUnauthorized},
		{"on: GET with the preflight's headers", http.MethodGet, "/api/items", preflight, http.StatusFound},
	} {
		before := echo.requests()
		resp := rawSend(t, client, tc.method, tr.URL("/"), tc.target, tc.header)
		reached := echo.requests() - before
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s: %d (Location %q), want %d", tc.name, tc.method, tc.target, resp.StatusCode, resp.Header.Get("Location"), tc.want)
			continue
		}
		switch {
		case tc.want == http.StatusOK:
			e := readEcho(t, resp)
			if reached != 1 || e.URI != tc.target {
				t.Errorf("%s: the app got %q (%d requests), want %s", tc.name, e.URI, reached, tc.target)
			}
			for k := range e.Header {
				if harness.IsIdentityHeader(k) {
					t.Errorf("%s: the app got an identity header %s: %q", tc.name, k, e.Header[k])
				}
			}
		case reached != 0:
			t.Errorf("%s: refused with %d, yet the app was reached", tc.name, resp.StatusCode)
		case tc.want == http.StatusFound && !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/auth?")):
			t.Errorf("%s: redirected to %q, want a sign-in", tc.name, resp.Header.Get("Location"))
		}
	}
}

// TestHostsIdleTimeoutOption: sessionIdleTimeout is read through Traefik's
// interpreter: 2m (its least) signs in and serves the app as usual, and 1m is
// refused, so that Traefik disables the router that uses it and logs why (its paths
// then go to the catch-all router). Whether a session ends once idle is left to
// idle_test.go's clock: through Traefik it would take more than a minute (the least
// renewal period) to see.
func TestHostsIdleTimeoutOption(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, map[string]any{"sessionIdleTimeout": "2m"})
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	c := signInClient(t, tr, p.Username, "/protected/x")
	if resp, e := getEchoed(t, c, tr, "/protected/y"); resp.StatusCode != http.StatusOK || e.Header.Get("X-Auth-Request-User") != p.Subject {
		t.Errorf("signed in with sessionIdleTimeout 2m: /protected/y: %d as %q, want the app with the identity", resp.StatusCode, e.Header.Get("X-Auth-Request-User"))
	}
	dyn.Routes["short"] = harness.Route{Rule: "PathPrefix(`/short/`)", Middlewares: []string{"short"}, Backend: echo.srv.URL}
	dyn.Middlewares["short"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, map[string]any{
		"authenticatedPaths": []string{"short/.*"}, "sessionIdleTimeout": "1m"})}
	off := tr.LogSize()
	if err := tr.SetDynamic(dyn); err == nil || !strings.Contains(err.Error(), "router short@file is") {
		t.Fatalf("sessionIdleTimeout 1m: SetDynamic said %v, want the router short@file not enabled", err)
	}
	if log := tr.LogSince(off); !strings.Contains(log, "sessionIdleTimeout must be at least 2m") {
		t.Errorf("Traefik's log does not say why sessionIdleTimeout 1m was refused")
	}
}

// corsAPI is an API that allows credentialed calls from host (any port) with the header
// X-Custom, and answers every other request with what it received (echoed), counting
// the preflights that reached it.
type corsAPI struct {
	srv        *httptest.Server
	preflights atomic.Int32
}

func startCORSAPI(t *testing.T, host string) *corsAPI {
	t.Helper()
	a := &corsAPI{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); strings.HasPrefix(origin, "http://"+host+":") {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			a.preflights.Add(1)
			w.Header().Set("Access-Control-Allow-Headers", "X-Custom")
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoed{URI: r.RequestURI, Header: r.Header})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestHostsCORSPreflightInChromium: a page on http://spa.example.org calls the API on
// http://api.example.org (the same site, so the browser sends the session cookie)
// with fetch(), credentials and a custom header, after the user signed in at the API.
// With corsPreflight on, the browser's preflight reaches the API, which allows the
// call, and the call reaches it with the identity; with it off (the control, /off/ on
// the same host), the preflight gets 401 and fetch fails without a request.
func TestHostsCORSPreflightInChromium(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	const spaHost, apiHost = "spa.example.org", "api.example.org"
	api := startCORSAPI(t, spaHost)
	spa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>spa</title><p>spa</p>`)
	}))
	t.Cleanup(spa.Close)
	dyn := &harness.Dynamic{
		Routes: map[string]harness.Route{
			"spa": {Rule: "Host(`" + spaHost + "`)", Backend: spa.URL},
			"on":  {Rule: "Host(`" + apiHost + "`)", Middlewares: []string{"on"}, Backend: api.srv.URL},
			"off": {Rule: "Host(`" + apiHost + "`) && PathPrefix(`/off/`)", Middlewares: []string{"off"}, Backend: api.srv.URL},
		},
		Middlewares: map[string]harness.Middleware{
			"on": {Plugin: "ags", Config: agsConfig(p, map[string]any{
				"authenticatedPaths": []string{"api/.*"}, "corsPreflight": true})},
			"off": {Plugin: "ags", Config: agsConfig(p, map[string]any{
				"authenticatedPaths": []string{"off/.*"}})},
		},
	}
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	origin := fmt.Sprintf("http://%s:%d", spaHost, tr.Port)
	apiURL := fmt.Sprintf("http://%s:%d", apiHost, tr.Port)
	b := requireBrowserWith(t, harness.BrowserOptions{Hosts: []string{spaHost, apiHost}})
	ctx, _ := tab(t, b.Tab(), "main")

	openPage(t, ctx, apiURL+"/api/data")
	expectLoginPage(t, ctx, p)
	if status := submitLogin(t, ctx, p, harness.TestPassword); status != 200 || location(t, ctx) != apiURL+"/api/data" {
		t.Fatalf("sign-in at the API: %d at %s, want 200 at %s/api/data", status, location(t, ctx), apiURL)
	}
	if status := openPage(t, ctx, origin+"/"); status != 200 {
		t.Fatalf("the page on %s: %d", origin, status)
	}
	call := func(path string) string {
		t.Helper()
		js := fmt.Sprintf(`fetch(%q, {credentials: "include", headers: {"X-Custom": "1"}})
			.then(r => r.text().then(b => r.status + " " + b), e => "error " + e)`, apiURL+path)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	before := api.preflights.Load()
	out := call("/api/items")
	var e echoed
	status, body, _ := strings.Cut(out, " ")
	if status != "200" || json.Unmarshal([]byte(body), &e) != nil || e.URI != "/api/items" ||
		e.Header.Get("X-Auth-Request-User") != p.Subject || e.Header.Get("X-Custom") != "1" {
		t.Errorf("on: fetch from %s gave %.300q, want 200 and the API's answer with the identity and X-Custom", origin, out)
	}
	if api.preflights.Load() != before+1 {
		t.Errorf("on: %d preflights reached the API, want 1", api.preflights.Load()-before)
	}

	before = api.preflights.Load()
	if out := call("/off/items"); !strings.HasPrefix(out, "error TypeError") {
		t.Errorf("off: fetch from %s gave %.300q, want a TypeError (the preflight refused)", origin, out)
	}
	if api.preflights.Load() != before {
		t.Errorf("off: a preflight reached the API")
	}
}
