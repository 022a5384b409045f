package ags

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Open redirects, path tricks, header smuggling, login CSRF and session fixation,
// through ServeHTTP (and, for headers and paths, through net/http's own parser).

// TestAttackSignOutRedirects: every payload of the open-redirect corpus, put where a
// return URL could hide in a sign-out, never sends the browser off the host: the
// provider is told to come back to the sign-out path on this host only, the return
// from the provider is never a redirect, and the payload as a path under the
// sign-out path leads to the provider's login or stays on the host.
func TestAttackSignOutRedirects(t *testing.T) {
	payloads := atkPayloads(t)
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{".*"}
	m, _ := newFlow(t, c)
	b := newFlowBrowser(t, m)
	if rec := b.signIn("/private"); rec.Code != http.StatusFound {
		t.Fatalf("sign-in: got %d", rec.Code)
	}
	signedIn := atkCookieHeader(b.jar)
	serve := func(target, cookie string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, atkRequest(http.MethodGet, target, cookie))
		return rec
	}
	for _, p := range payloads {
		q := url.Values{}
		for _, name := range []string{"post_logout_redirect_uri", "redirect_uri", "rd", "next", "return_to", "url"} {
			q.Set(name, p)
		}
		rec := serve("/sign-out?"+q.Encode(), signedIn)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusFound || err != nil || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/end_session?") {
			t.Errorf("payload %q: sign-out got %d to %q, want the end-session endpoint", p, rec.Code, rec.Header().Get("Location"))
			continue
		}
		if got := loc.Query()["post_logout_redirect_uri"]; len(got) != 1 || got[0] != "http://app.example/sign-out" {
			t.Errorf("payload %q: post_logout_redirect_uri got %q, want the sign-out URL on this host", p, got)
		}
		q.Set("state", p)
		if rec := serve("/sign-out?"+q.Encode(), ""); rec.Header().Get("Location") != "" {
			t.Errorf("payload %q: the return from the provider redirects to %q", p, rec.Header().Get("Location"))
		}
		rec = serve("/sign-out/"+strings.TrimPrefix(p, "/"), "")
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, tp.issuer+"/authorize?") && !isSameHost(loc) {
			t.Errorf("payload %q under the sign-out path: redirect to %q", p, loc)
		}
	}
}

// atkProtectedTricks are spellings of the protected /private and /admin/... that an
// app reads as those paths.
var atkProtectedTricks = []string{
	"//admin", "/./admin", "/x/../admin", "/%61dmin", "/admin%2F", "/%2e/admin", "/public/..%2Fadmin",
	"/admin/", "/admin//", "///admin///x", "/private/", "/private//", "/private/.", "/./private/",
	"/admin;x=1", "/admin/;x=1/y", "/private;jsessionid=0", "/public/..;/admin", "/public/..;x=1/private",
	"/%2fadmin", "/%2F%2Fadmin", "/%2561dmin", "/%70rivate", "/p%72ivate/",
	"/public/%2e%2e/private", "/public/%252e%252e/private", "/public/%2e%2e%2fprivate", "/public%5c..%5cprivate",
	"/private?/public", "/private?x=/public", "/admin/x?/public", "/private%3F/public", "/private%3f.css",
	"/private%23/public", "/private#/public", "/admin/%0a", "/admin/%0d%0a",
	"/sign-out/../private", "/sign-out/..%2Fprivate", "/oidc_callback/../private", "/toggle-feature/../private",
}

// TestAttackPathTricks: no spelling of a protected path reaches the app without a
// session; a browser is sent to sign in, anything else gets 401.
func TestAttackPathTricks(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	for _, target := range atkProtectedTricks {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, atkRequest(method, target, ""))
			if method == http.MethodGet && (rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize?")) {
				t.Errorf("GET %s: got %d to %q, want a login", target, rec.Code, rec.Header().Get("Location"))
			}
			if method == http.MethodPost && rec.Code != http.StatusUnauthorized {
				t.Errorf("POST %s: got %d, want 401", target, rec.Code)
			}
		}
	}
	if app.calls != 0 {
		t.Errorf("the app was called %d times, last for %q", app.calls, app.last.URL.RequestURI())
	}
	// The open paths stay open, however they look.
	for _, target := range []string{"/public", "/public?/private", "/public?x=/admin/", "/administrator", "/public/admin", "/private2"} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, atkRequest(http.MethodGet, target, ""))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: got %d, want the open page", target, rec.Code)
		}
	}
}

// TestAttackPathInvalidEscape: an app that decodes the path once more than Go
// does, with a lenient decoder that keeps an invalid escape as it is (PHP's
// urldecode, Python's unquote), reads /%2561dmin/%25zz as /admin/%zz. So ags must
// decode every valid escape even when another one in the path is invalid (it once
// stopped at the first invalid escape, and these paths reached the app).
func TestAttackPathInvalidEscape(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	for _, target := range []string{"/%2561dmin/%25zz", "/%2561dmin/100%25", "/%252e/admin/%25"} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, atkRequest(http.MethodGet, target, ""))
		if rec.Code != http.StatusFound {
			t.Errorf("GET %s (path %q): got %d, want a login", target, atkRequest(http.MethodGet, target, "").URL.Path, rec.Code)
		}
	}
	if app.calls != 0 {
		t.Errorf("the app was called %d times", app.calls)
	}
}

// TestAttackPathFlood: a path as long as Traefik takes (its headers may hold 1 MB),
// made of escapes, dots or slashes, costs about what receiving it costs. Work per
// escape in interpreted code would make each such request cost most of a second of
// CPU under Yaegi.
func TestAttackPathFlood(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	for _, unit := range []string{"%25zz", "%252541", "%2e%2e/", "a/", ";x", "%5c"} {
		target := "/" + strings.Repeat(unit, 300000/len(unit))
		read, serve := time.Hour, time.Hour
		for i := 0; i < 3; i++ {
			raw := "GET " + target + "?try=" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: app.example\r\nAccept: text/html\r\n\r\n"
			start := time.Now()
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if d := time.Since(start); d < read {
				read = d
			}
			if err != nil {
				t.Fatalf("%s...: %v", target[:12], err)
			}
			rec := httptest.NewRecorder()
			start = time.Now()
			m.ServeHTTP(rec, r)
			if d := time.Since(start); d < serve {
				serve = d
			}
		}
		// The bound is loose (the fastest of three, against a quadratic walk's
		// seconds): a shared 2-core machine under load took 57ms for a 50ms bound.
		if serve > 10*read+250*time.Millisecond {
			t.Errorf("path %s... of %d bytes took %s, reading the request %s: want at most 10 times that and 250ms", target[:12], len(target), serve, read)
		}
	}
}

// atkBackend is an app behind a real server: it keeps the headers of the latest
// request under a lock.
type atkBackend struct {
	mu     sync.Mutex
	calls  int
	header http.Header
}

func (b *atkBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.calls++
	b.header = r.Header.Clone()
	b.mu.Unlock()
	w.Write([]byte("app"))
}

// take returns the headers of the request the app received since the last take,
// or nil.
func (b *atkBackend) take() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.header
	b.header = nil
	return h
}

// atkRawRequest writes request to srv as it is, over a new TCP connection, and
// reads the answer.
func atkRawRequest(t *testing.T, srv *httptest.Server, request string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestAttackHeaderSmugglingOverTCP sends identity headers spelt in any letter case
// and with "_" for "-" (oauth2-proxy CVE-2025-64484) over a real connection, so that
// net/http's parser, not the test, decides what the middleware sees: none reaches
// the app, signed in or not, flag on or off. Path tricks go the same way.
func TestAttackHeaderSmugglingOverTCP(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.IdentityHeaders = map[string]string{"name": "X-User-Name"}
	c.PassAccessToken = "true"
	c.PassIDToken = "true"
	m, _ := newFlow(t, c)
	app := &atkBackend{}
	m.next = app
	m.serve = m.handler() // the request path holds the next handler
	b := newFlowBrowser(t, m)
	if rec := b.signIn("/private"); rec.Code != http.StatusFound {
		t.Fatalf("sign-in: got %d", rec.Code)
	}
	session := atkCookieHeader(b.jar)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close() })

	forged := []string{
		"x-auth-request-user", "X_AUTH_REQUEST_USER", "x-Auth_Request-user", "X-Auth-Request_User",
		"X-AUTH-REQUEST-EMAIL", "x_auth_request_email", "X-Auth-Request-Preferred_Username",
		"x-auth-request-preferred-username", "X_Auth_Request_Groups", "x-auth-request-groups",
		"X-AUTH_REQUEST-ACCESS_TOKEN", "x-auth-request-access-token", "x-auth-request-id-token",
		"X_AUTH_REQUEST_ID_TOKEN", "x-user-name", "X_USER_NAME", "authorization",
	}
	cases := []struct {
		name, path, cookie, user string
		app                      bool
	}{
		{name: "signed out, open path", path: "/public", app: true},
		{name: "signed out, protected path", path: "/private"},
		{name: "signed in, protected path", path: "/private", cookie: session, user: "user-42", app: true},
		{name: "signed in, open path", path: "/public", cookie: session, user: "user-42", app: true},
		{name: "flag off", path: "/private", cookie: "ags_client_active=0", app: true},
		{name: "flag off, signed in", path: "/private", cookie: session + "; ags_client_active=0", app: true},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			var req strings.Builder
			req.WriteString("GET " + tc.path + " HTTP/1.1\r\nHost: app.example\r\nAccept: text/html\r\n")
			for _, name := range forged {
				req.WriteString(name + ": forged\r\n")
			}
			req.WriteString("X-Auth-Request-User: forged-again\r\n")
			if tc.cookie != "" {
				req.WriteString("Cookie: " + tc.cookie + "\r\n")
			}
			req.WriteString("Connection: close\r\n\r\n")
			resp := atkRawRequest(t, srv, req.String())
			got := app.take()
			if !tc.app {
				if resp.StatusCode != http.StatusFound || got != nil {
					t.Fatalf("got %d and the app called %v, want a login", resp.StatusCode, got != nil)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || got == nil {
				t.Fatalf("got %d, want the app", resp.StatusCode)
			}
			for k, v := range got {
				if strings.Contains(strings.Join(v, ","), "forged") {
					t.Errorf("header %q reached the app with %q", k, v)
				}
			}
			if got.Get(headerUser) != tc.user {
				t.Errorf("user: got %q, want %q", got.Get(headerUser), tc.user)
			}
			if tc.user != "" && (got.Get("X-User-Name") != "Ada Lovelace" || !strings.HasPrefix(got.Get("Authorization"), "Bearer access-")) {
				t.Errorf("identity headers: got name %q, Authorization %q", got.Get("X-User-Name"), got.Get("Authorization"))
			}
		})
	}
	t.Run("path tricks", func(t *testing.T) {
		for _, target := range atkProtectedTricks {
			if strings.Contains(target, "#") {
				continue // never on the wire
			}
			resp := atkRawRequest(t, srv, "GET "+target+" HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusFound || app.take() != nil {
				t.Errorf("GET %s: got %d, want a login and no app", target, resp.StatusCode)
			}
		}
	})
}

// TestAttackLoginCSRF: a callback that is not this browser's own login, or that
// was used already, creates no session.
func TestAttackLoginCSRF(t *testing.T) {
	t.Run("the attacker's callback in the victim's browser", func(t *testing.T) {
		tp := newTestProvider(t)
		m, app := newFlow(t, flowConfig(tp))
		attacker := newFlowBrowser(t, m)
		lure := attacker.authorize(attacker.get("/private"))
		victim := newFlowBrowser(t, m)
		victim.get("/private") // a login of its own in flight
		atkWantRejected(t, victim, app, tp, victim.get(lure), http.StatusBadRequest, "Sign-in expired or invalid")
		if len(tp.tokenForms) != 0 {
			t.Errorf("the code was exchanged %d times, want never", len(tp.tokenForms))
		}
	})
	for _, skipPKCE := range []bool{false, true} {
		skipPKCE := skipPKCE
		name, status, page := "another login's code with this login's state", http.StatusBadGateway, "could not be completed"
		if skipPKCE {
			// Without PKCE at the provider, the nonce still tells the logins apart.
			name, status, page = name+", provider without PKCE", http.StatusUnauthorized, "did not pass the security checks"
		}
		t.Run(name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.atkSkipPKCE = skipPKCE
			m, app := newFlow(t, flowConfig(tp))
			b := newFlowBrowser(t, m)
			first, _ := url.Parse(b.authorize(b.get("/private?tab=1")))
			second, _ := url.Parse(b.authorize(b.get("/private?tab=2")))
			swapped := "/oidc_callback?code=" + url.QueryEscape(second.Query().Get("code")) + "&state=" + url.QueryEscape(first.Query().Get("state"))
			atkWantRejected(t, b, app, tp, b.get(swapped), status, page)
		})
	}
	t.Run("replayed after success, in a fresh browser", func(t *testing.T) {
		tp := newTestProvider(t)
		m, app := newFlow(t, flowConfig(tp))
		b := newFlowBrowser(t, m)
		callback := b.authorize(b.get("/private"))
		atkWantSignedIn(t, b, app, b.get(callback), "/private")
		other := newFlowBrowser(t, m)
		atkWantRejected(t, other, app, tp, other.get(callback), http.StatusBadRequest, "Sign-in expired or invalid")
		if len(tp.tokenForms) != 1 {
			t.Errorf("got %d code exchanges, want the first only", len(tp.tokenForms))
		}
	})
	t.Run("an error callback ends the login", func(t *testing.T) {
		tp := newTestProvider(t)
		m, app := newFlow(t, flowConfig(tp))
		b := newFlowBrowser(t, m)
		callback := b.authorize(b.get("/private"))
		u, _ := url.Parse(callback)
		b.get("/oidc_callback?error=access_denied&state=" + url.QueryEscape(u.Query().Get("state")))
		atkWantRejected(t, b, app, tp, b.get(callback), http.StatusBadRequest, "Sign-in expired or invalid")
	})
}

// TestAttackSessionFixation: cookies planted in the victim's browser (by a sibling
// subdomain, say) holding the attacker's own valid session, in more chunks than the
// victim's, are all replaced when the victim's sign-in completes.
func TestAttackSessionFixation(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	padding := ckRandomB64(t, 6000)
	tp.set(func(tp *testProvider) {
		tp.claims = func(c map[string]interface{}) {
			c["sub"] = "mallory"
			c["padding"] = padding
		}
		tp.userinfoSub = "mallory"
	})
	attacker := newFlowBrowser(t, m)
	attacker.signIn("/private")
	if n := attacker.sessionCookies(); n < 2 {
		t.Fatalf("the attacker's session has %d chunks, want several", n)
	}
	tp.set(func(tp *testProvider) {
		tp.claims = nil
		tp.userinfoSub = ""
	})
	victim := newFlowBrowser(t, m)
	callback := victim.authorize(victim.get("/private"))
	for name, value := range attacker.jar {
		if atkSessionCookie(name) {
			victim.jar[name] = value
		}
	}
	atkWantSignedIn(t, victim, app, victim.get(callback), "/private")
	for name, value := range victim.jar {
		if attacker.jar[name] == value {
			t.Errorf("cookie %s still holds the attacker's value", name)
		}
	}
	if n := victim.sessionCookies(); n != 1 {
		t.Errorf("got %d session chunks, want the victim's one", n)
	}
}
