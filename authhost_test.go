package ags

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// authHost (SPEC 14): every callback on auth.example.org, a session for example.org,
// and the browser back where its login started, never off the domain.

const (
	ahDomain   = "example.org"
	ahAuth     = "auth.example.org"
	ahCallback = "http://auth.example.org/oidc_callback"
)

// ahConfig is flowConfig with authHost on: the provider knows one redirect URI.
func ahConfig(tp *testProvider) *Config {
	c := flowConfig(tp)
	c.CookieDomain = ahDomain
	c.AuthHost = ahAuth
	tp.redirectURIs = []string{ahCallback}
	return c
}

// ahBrowser is a browser on host whose logins come back to authHost.
func ahBrowser(t *testing.T, h http.Handler, host string) *flowBrowser {
	b := newFlowBrowser(t, h)
	b.host, b.callbackHost = host, ahAuth
	return b
}

// ahCookie returns the cookie a response sets whose name starts with prefix.
func ahCookie(t *testing.T, rec *httptest.ResponseRecorder, prefix string) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if strings.HasPrefix(c.Name, prefix) && c.MaxAge >= 0 {
			return c
		}
	}
	t.Fatalf("no %s* cookie set; got %v", prefix, rec.Result().Header["Set-Cookie"])
	return nil
}

// ahLands reports whether a Location sent by the callback on authHost, read as a
// browser reads it there, stays on example.org's hosts or on one of allowed.
func ahLands(loc string, allowed ...string) bool {
	base, _ := url.Parse(ahCallback)
	cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimSpace(loc))
	u, err := base.Parse(cleaned)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range allowed {
		if host == a {
			return true
		}
	}
	return host == ahDomain || strings.HasSuffix(host, "."+ahDomain)
}

// ahSignIn starts a login with r on browser b and follows it through authHost's
// callback; it returns the callback's answer.
func ahSignIn(t *testing.T, b *flowBrowser, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	return b.get(b.authorize(b.send(r)))
}

func TestAuthHostSignInAcrossHosts(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, ahConfig(tp))
	b := ahBrowser(t, m, "wiki.example.org")

	start := b.get("/private?q=1&r=a%2Fb")
	loc, _ := url.Parse(start.Header().Get("Location"))
	if start.Code != http.StatusFound || loc == nil || loc.Query().Get("redirect_uri") != ahCallback {
		t.Fatalf("login start: got %d to %q, want redirect_uri %s", start.Code, start.Header().Get("Location"), ahCallback)
	}
	// The callback on authHost reads the pending login only if it is the domain's.
	if c := ahCookie(t, start, "ags_client_session_login_"); c.Domain != ahDomain {
		t.Errorf("pending-login cookie: got Domain %q, want %q", c.Domain, ahDomain)
	}
	done := b.get(b.authorize(start))
	if want := "http://wiki.example.org/private?q=1&r=a%2Fb"; done.Code != http.StatusFound || done.Header().Get("Location") != want {
		t.Fatalf("callback on %s: got %d to %q, want 302 to %q; %s", b.host, done.Code, done.Header().Get("Location"), want, done.Body.String())
	}
	if c := ahCookie(t, done, "ags_client_session"); c.Domain != ahDomain {
		t.Errorf("session cookie: got Domain %q, want %q", c.Domain, ahDomain)
	}
	if got := tp.tokenForms[0].Get("redirect_uri"); got != ahCallback {
		t.Errorf("code exchange: got redirect_uri %q, want %q", got, ahCallback)
	}
	for _, host := range []string{"wiki.example.org", "ci.example.org", "grafana.example.org", ahAuth} {
		b.host = host
		if rec := b.get("/private"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "user-42" {
			t.Errorf("%s signed in: got %d, want the app with the user", host, rec.Code)
		}
	}
}

// TestAuthHostOwnPaths: on authHost, a path other than the callback is as on any
// host: a login there comes back there.
func TestAuthHostOwnPaths(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, ahConfig(tp))
	b := ahBrowser(t, m, ahAuth)
	done := b.signIn("/admin/x?y=1")
	if want := "http://auth.example.org/admin/x?y=1"; done.Header().Get("Location") != want {
		t.Errorf("got %d to %q, want %q", done.Code, done.Header().Get("Location"), want)
	}
}

// TestAuthHostOption: the option as Traefik or the environment gives it takes
// effect; off, the callback is the request's host as before.
func TestAuthHostOption(t *testing.T) {
	cases := []struct {
		name, authHost, env, externalURL, host, want string
	}{
		{name: "off", host: "wiki.example.org", want: "http://wiki.example.org/oidc_callback"},
		{name: "option", authHost: ahAuth, host: "wiki.example.org", want: ahCallback},
		{name: "environment", env: ahAuth, host: "wiki.example.org", want: ahCallback},
		{name: "upper case", authHost: "AUTH.Example.org", host: "wiki.example.org", want: ahCallback},
		{name: "with a port", authHost: "auth.example.org:8443", host: "wiki.example.org", want: "http://auth.example.org:8443/oidc_callback"},
		{name: "externalURL's scheme", authHost: ahAuth, externalURL: "https://app.example.org", host: "wiki.example.org", want: "https://auth.example.org/oidc_callback"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			c := flowConfig(tp)
			c.CookieDomain, c.AuthHost, c.ExternalURL = ahDomain, tc.authHost, tc.externalURL
			env := map[string]string{"AGS_CLIENT_AUTH_HOST": tc.env}
			c = c.resolved(func(k string) string { return env[k] })
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			b.host = tc.host
			rec := b.get("/private")
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if loc == nil || loc.Query().Get("redirect_uri") != tc.want {
				t.Errorf("got %q, want redirect_uri %q", rec.Header().Get("Location"), tc.want)
			}
		})
	}
}

func TestAuthHostValidation(t *testing.T) {
	cases := []struct {
		name, cookieDomain, authHost string
		redirectHosts                []string
		wantErr                      string // "": valid
	}{
		{name: "without cookieDomain", authHost: ahAuth, wantErr: "authHost needs cookieDomain"},
		{name: "outside cookieDomain", cookieDomain: ahDomain, authHost: "auth.example.net", wantErr: `authHost "auth.example.net" must be cookieDomain "example.org"`},
		{name: "suffix but not under", cookieDomain: ahDomain, authHost: "authexample.org", wantErr: "must be cookieDomain"},
		{name: "domain as a label", cookieDomain: ahDomain, authHost: "example.org.evil.com", wantErr: "must be cookieDomain"},
		{name: "with a scheme", cookieDomain: ahDomain, authHost: "https://auth.example.org", wantErr: "authHost must be a host name"},
		{name: "with a path", cookieDomain: ahDomain, authHost: "auth.example.org/cb", wantErr: "authHost must be a host name"},
		{name: "trailing dot", cookieDomain: ahDomain, authHost: "auth.example.org.", wantErr: "authHost must be a host name"},
		{name: "user info", cookieDomain: ahDomain, authHost: "u@auth.example.org", wantErr: "authHost must be a host name"},
		{name: "bad port", cookieDomain: ahDomain, authHost: "auth.example.org:http", wantErr: "authHost must be a host name"},
		{name: "redirect hosts without authHost", cookieDomain: ahDomain, redirectHosts: []string{"portal.example.net"}, wantErr: "allowedRedirectHosts needs authHost"},
		{name: "redirect host with a scheme", cookieDomain: ahDomain, authHost: ahAuth, redirectHosts: []string{"https://portal.example.net"}, wantErr: `allowedRedirectHosts: "https://portal.example.net" is not a host name`},
		{name: "redirect host with a port", cookieDomain: ahDomain, authHost: ahAuth, redirectHosts: []string{"portal.example.net:443"}, wantErr: "allowedRedirectHosts:"},
		{name: "valid", cookieDomain: ahDomain, authHost: ahAuth, redirectHosts: []string{"Portal.example.net"}},
		{name: "the domain itself", cookieDomain: ahDomain, authHost: ahDomain},
		{name: "leading dot domain", cookieDomain: ".example.org", authHost: ahAuth},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(&testProvider{issuer: "https://id.example.org"})
			c.CookieDomain, c.AuthHost, c.AllowedRedirectHosts = tc.cookieDomain, tc.authHost, tc.redirectHosts
			_, err := New(nil, http.NotFoundHandler(), c, "test")
			if tc.wantErr == "" && err != nil {
				t.Fatalf("got %v, want none", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestAuthHostHostSpellings: the Host a login starts on decides where it returns,
// and only a plain host under cookieDomain (or allowed) is returned to.
func TestAuthHostHostSpellings(t *testing.T) {
	cases := []struct{ host, want string }{
		{"wiki.example.org", "http://wiki.example.org/private"},
		{"WIKI.Example.ORG", "http://wiki.example.org/private"},
		{"EXAMPLE.ORG", "http://example.org/private"},
		{"wiki.example.org:8443", "http://wiki.example.org:8443/private"},
		{"portal.example.net", "http://portal.example.net/private"},
		{"evil.com", "/"},
		{"example.org.evil.com", "/"},
		{"evilexample.org", "/"},
		{"wiki.example.org.", "/"},
		{"wiki.example.org:", "/"},
		{"wiki.example.org:80:80", "/"},
		{"user@wiki.example.org", "/"},
		{"wiki.example.org@evil.com", "/"},
		{"evil.com\\.example.org", "/"},
		{"evil.com/.example.org", "/"},
		{"evil.com#.example.org", "/"},
		{"evil.com?.example.org", "/"},
		{"evil.com%2eexample.org", "/"},
		{"evil.com:443.example.org", "/"},
		{"wiki.example.org\t", "/"},
		{"[::1]", "/"},
		{"", "/"},
		{"portal.example.net.evil.com", "/"},
	}
	tp := newTestProvider(t)
	// allowedRedirectHosts from the environment, as New reads it.
	env := map[string]string{"AGS_CLIENT_ALLOWED_REDIRECT_HOSTS": "portal.example.net, other.example.com"}
	m, _ := newFlow(t, ahConfig(tp).resolved(func(k string) string { return env[k] }))
	for _, tc := range cases {
		b := ahBrowser(t, m, "wiki.example.org")
		r := atkRequest(http.MethodGet, "/private", "")
		r.Host = tc.host
		done := ahSignIn(t, b, r)
		if got := done.Header().Get("Location"); done.Code != http.StatusFound || got != tc.want {
			t.Errorf("Host %q: got %d to %q, want 302 to %q", tc.host, done.Code, got, tc.want)
		}
	}
}

// TestAuthHostCorpus: every line of the open-redirect corpus as the path and as the
// Host of the request that starts a login, and sealed into a pending login as its
// return address (as a path, after authHost's scheme and host, and as a host): the
// callback on authHost never sends the browser off example.org.
func TestAuthHostCorpus(t *testing.T) {
	tp := newTestProvider(t)
	// HS256 keyed by the client secret: some 4,000 sign-ins without an RSA signature each.
	hs := &jwtSigner{alg: "HS256", secret: []byte(tpClientSecret)}
	tp.atkAlgs = []string{"HS256"}
	tp.atkToken = func(nonce, accessToken string) string { return hs.sign(t, nil, atkClaims(tp, nonce, accessToken)) }
	c := ahConfig(tp)
	c.AuthenticatedPaths = []string{".*"}
	m, _ := newFlow(t, c)
	for _, line := range atkPayloads(t) {
		path := line
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		b := ahBrowser(t, m, "wiki.example.org")
		if done := ahSignIn(t, b, atkRequest(http.MethodGet, path, "")); !ahLands(done.Header().Get("Location")) {
			t.Errorf("payload %q as the path: got %d to %q", line, done.Code, done.Header().Get("Location"))
		}
		b = ahBrowser(t, m, "wiki.example.org")
		r := atkRequest(http.MethodGet, "/private", "")
		r.Host = line
		if done := ahSignIn(t, b, r); done.Header().Get("Location") != "/" {
			t.Errorf("payload %q as the Host: got %d to %q, want /", line, done.Code, done.Header().Get("Location"))
		}
		for _, sealed := range []string{line, "http://wiki.example.org" + line, "https://" + strings.TrimLeft(line, "/")} {
			if done := ahSealedReturn(t, m, sealed); !ahLands(done.Header().Get("Location")) {
				t.Errorf("payload %q sealed as %q: got %d to %q", line, sealed, done.Code, done.Header().Get("Location"))
			}
		}
	}
}

// ahSealedReturn starts a login on wiki.example.org, seals returnTo into its pending
// login in place of the one ags wrote, and returns the callback's answer.
func ahSealedReturn(t *testing.T, m *middleware, returnTo string) *httptest.ResponseRecorder {
	t.Helper()
	b := ahBrowser(t, m, "wiki.example.org")
	start := b.get("/private")
	c := ahCookie(t, start, m.store.pendingPrefix)
	plain, err := m.store.sealer.open(c.Name, c.Value, m.now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := decodePending(plain)
	if err != nil {
		t.Fatal(err)
	}
	p.ReturnTo = returnTo
	rec := httptest.NewRecorder()
	if err := m.store.savePending(rec, httptest.NewRequest(http.MethodGet, "http://wiki.example.org/private", nil), p); err != nil {
		t.Fatal(err)
	}
	b.jar[c.Name] = ahCookie(t, rec, c.Name).Value
	return b.get(b.authorize(start))
}

// TestAuthHostSignOutFromAnotherHost: signed in on wiki, signed out on ci: the
// provider is told authHost's sign-out address (one registration), the shared
// session ends for the whole domain, and the browser comes back to ci.
func TestAuthHostSignOutFromAnotherHost(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, ahConfig(tp))
	b := ahBrowser(t, m, "wiki.example.org")
	ahSignIn(t, b, atkRequest(http.MethodGet, "/private", ""))
	b.host = "ci.example.org"
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("ci signed in: got %d", rec.Code)
	}
	out := b.get("/sign-out")
	loc, _ := url.Parse(out.Header().Get("Location"))
	if out.Code != http.StatusFound || loc == nil || loc.Query().Get("post_logout_redirect_uri") != "http://auth.example.org/sign-out" {
		t.Fatalf("sign-out on ci: got %d to %q, want post_logout_redirect_uri on %s", out.Code, out.Header().Get("Location"), ahAuth)
	}
	for _, ck := range out.Result().Cookies() {
		if ck.Domain != ahDomain {
			t.Errorf("sign-out sets %s with Domain %q, want %q", ck.Name, ck.Domain, ahDomain)
		}
	}
	if n := b.sessionCookies(); n != 0 {
		t.Errorf("session cookies left after sign-out: %d", n)
	}
	b.host = ahAuth
	back := b.get("/sign-out?state=" + url.QueryEscape(loc.Query().Get("state")))
	if back.Code != http.StatusFound || back.Header().Get("Location") != "http://ci.example.org/sign-out" {
		t.Fatalf("return to %s: got %d to %q, want 302 to ci's sign-out", ahAuth, back.Code, back.Header().Get("Location"))
	}
	b.host = "ci.example.org"
	calls := app.calls
	if rec := b.get("/sign-out"); rec.Code != http.StatusOK || app.calls != calls+1 || app.last.Host != "ci.example.org" || app.last.URL.Path != "/sign-out" {
		t.Errorf("ci's sign-out view: got %d", rec.Code)
	}
	b.host = "wiki.example.org"
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("wiki after sign-out on ci: got %d, want a new login", rec.Code)
	}
}

// TestAuthHostSignOutSealedReturn: a sign-out state sealed with an address off the
// domain is not followed: the browser stays on authHost's sign-out view.
func TestAuthHostSignOutSealedReturn(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, ahConfig(tp))
	for _, back := range []string{"https://evil.com/sign-out", "https://wiki.example.org.evil.com/sign-out", "https://wiki.example.org//evil.com", "//evil.com", "https://u@wiki.example.org/sign-out"} {
		b := ahBrowser(t, m, ahAuth)
		rec := httptest.NewRecorder()
		state := ckRandomB64(t, 32)
		if err := m.store.saveSignOutState(rec, httptest.NewRequest(http.MethodGet, "http://auth.example.org/sign-out", nil), state, back); err != nil {
			t.Fatal(err)
		}
		b.jar[m.store.signOutName] = ahCookie(t, rec, m.store.signOutName).Value
		calls := app.calls
		if got := b.get("/sign-out?state=" + state); got.Code != http.StatusOK || app.calls != calls+1 {
			t.Errorf("sealed %q: got %d to %q, want authHost's sign-out view", back, got.Code, got.Header().Get("Location"))
		}
	}
}
