package ags

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// flowBackend is the app behind the middleware; it records what reached it.
type flowBackend struct {
	mu    sync.Mutex // for tests that send requests at once; they read after
	calls int
	last  *http.Request
}

func (b *flowBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.calls++
	b.last = r
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("app " + r.URL.Path))
}

// flowConfig is a valid configuration for the test provider.
func flowConfig(tp *testProvider) *Config {
	c := CreateConfig()
	c.Issuer = tp.issuer
	c.ClientID = tpClientID
	c.ClientSecret = tpClientSecret
	c.SessionSecret = tpSessionKey
	c.AuthenticatedPaths = []string{"/private", "admin/.*"}
	return c
}

// flowLog collects a middleware's log lines for a test.
type flowLog struct {
	mu    sync.Mutex
	lines strings.Builder
}

func (l *flowLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines.Write(p)
}

func (l *flowLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines.String()
}

// newFlow builds the middleware in front of a recording backend. Its log goes to
// the test's log, and no line may carry a secret or a token.
func newFlow(t *testing.T, c *Config) (*middleware, *flowBackend) {
	t.Helper()
	backend := &flowBackend{}
	m, err := newMiddleware(backend, c, "test")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	log := &flowLog{}
	m.log.out = log
	t.Cleanup(func() {
		text := log.String()
		for _, secret := range []string{tpClientSecret, tpSessionKey, "eyJ", "access-", "code-"} {
			if strings.Contains(text, secret) {
				t.Errorf("a log line shows a secret or token (%q):\n%s", secret, text)
			}
		}
		if t.Failed() {
			t.Logf("middleware log:\n%s", text)
		}
	})
	return m, backend
}

// setClock makes now the middleware's one clock.
func setClock(m *middleware, now func() time.Time) {
	m.setClock(now)
}

// flowBrowser keeps cookies for one host, as a browser would (or, with authHost,
// for one cookieDomain: the tests check the cookies' Domain themselves).
type flowBrowser struct {
	t    *testing.T
	h    http.Handler
	host string
	jar  map[string]string
	// callbackHost, when set, is where the provider must send the browser back
	// (authHost); authorize then moves the browser there.
	callbackHost string
}

func newFlowBrowser(t *testing.T, h http.Handler) *flowBrowser {
	return &flowBrowser{t: t, h: h, host: "app.example", jar: map[string]string{}}
}

// do sends a request with the jar's cookies and applies the Set-Cookie answers.
func (b *flowBrowser) do(method, target string, header http.Header) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest(method, "http://"+b.host+target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	return b.send(r)
}

// send sends r with the jar's cookies and applies the Set-Cookie answers.
func (b *flowBrowser) send(r *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	for name, value := range b.jar {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return rec
}

func (b *flowBrowser) get(target string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(http.MethodGet, target, nil)
}

// authorize follows a login redirect to the provider and returns the callback
// target (path and query) the provider sends the browser back to.
func (b *flowBrowser) authorize(rec *httptest.ResponseRecorder) string {
	b.t.Helper()
	if rec.Code != http.StatusFound {
		b.t.Fatalf("login start: got status %d, want 302; body %s", rec.Code, rec.Body.String())
	}
	// A bare round trip does not follow the provider's redirect. (Yaegi cannot
	// run an http.Client CheckRedirect that returns http.ErrUseLastResponse.)
	req, err := http.NewRequest(http.MethodGet, rec.Header().Get("Location"), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // read to the end, so the connection is used again
	resp.Body.Close()
	want := b.host
	if b.callbackHost != "" {
		want = b.callbackHost
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Host != want {
		b.t.Fatalf("provider sent the browser to %q, want host %s", resp.Header.Get("Location"), want)
	}
	b.host = want
	return back.RequestURI()
}

// signIn goes through a whole login from target and returns the callback's answer.
func (b *flowBrowser) signIn(target string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.get(b.authorize(b.get(target)))
}

// sessionCookies counts the session cookies in the jar.
func (b *flowBrowser) sessionCookies() int {
	n := 0
	for name := range b.jar {
		if name == "ags_client_session" || strings.HasPrefix(name, "ags_client_session_") && !strings.Contains(name, "login") && !strings.Contains(name, "signout") {
			n++
		}
	}
	return n
}

func TestSignInFlow(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)

	rec := b.get("/private?tab=2")
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || rec.Code != http.StatusFound {
		t.Fatalf("got %d %q, want a redirect to the provider", rec.Code, rec.Header().Get("Location"))
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, tp.issuer+"/authorize"; got != want {
		t.Errorf("redirect to %q, want %q", got, want)
	}
	q := loc.Query()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             tpClientID,
		"redirect_uri":          "http://app.example/oidc_callback",
		"scope":                 "openid profile email",
		"code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s: got %q, want %q", k, q.Get(k), v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 22 {
			t.Errorf("%s: got %q, want at least 128 random bits", k, q.Get(k))
		}
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state and nonce are the same value")
	}
	if app.calls != 0 {
		t.Fatalf("the app was called %d times before sign-in", app.calls)
	}

	done := b.get(b.authorize(rec))
	if done.Code != http.StatusFound || done.Header().Get("Location") != "/private?tab=2" {
		t.Fatalf("callback: got %d to %q, want 302 to /private?tab=2; body %s", done.Code, done.Header().Get("Location"), done.Body.String())
	}
	if len(tp.tokenForms) != 1 || tp.userinfoCalls != 1 {
		t.Fatalf("got %d code exchanges and %d userinfo calls, want 1 and 1", len(tp.tokenForms), tp.userinfoCalls)
	}
	if !strings.HasPrefix(tp.tokenAuth[0], "Basic ") || tp.tokenForms[0].Get("client_secret") != "" {
		t.Errorf("client authentication: got %q, want client_secret_basic only", tp.tokenAuth[0])
	}
	if tp.tokenForms[0].Get("code_verifier") == "" {
		t.Error("the code exchange carries no PKCE code_verifier")
	}

	page := b.get("/private?tab=2")
	if page.Code != http.StatusOK || app.calls != 1 {
		t.Fatalf("signed-in request: got %d and %d app calls, want 200 and 1", page.Code, app.calls)
	}
	headers := map[string]string{
		"X-Auth-Request-User":               "user-42",
		"X-Auth-Request-Email":              "ada@example.org",
		"X-Auth-Request-Preferred-Username": "ada",
		"X-Auth-Request-Groups":             "admins,staff",
		"X-Auth-Request-Access-Token":       "",
		"X-Auth-Request-Id-Token":           "",
		"Authorization":                     "",
	}
	for k, v := range headers {
		if got := app.last.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if c := app.last.Header.Get("Cookie"); strings.Contains(c, "ags_client_session") {
		t.Errorf("the app received the session cookie: %q", c)
	}
	open := b.get("/elsewhere")
	if open.Code != http.StatusOK || app.last.Header.Get("X-Auth-Request-User") != "user-42" {
		t.Errorf("open path signed in: got %d, user %q", open.Code, app.last.Header.Get("X-Auth-Request-User"))
	}
}

func TestPassTokensAndIdentityHeaders(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.PassAccessToken = "true"
	c.PassIDToken = "1"
	c.IdentityHeaders = map[string]string{"name": "X-User-Name", "email": "X-Mail"}
	m, app := newFlow(t, c)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.do(http.MethodGet, "/private", http.Header{"Authorization": {"Bearer forged"}, "X-User-Name": {"forged"}})
	h := app.last.Header
	if !strings.HasPrefix(h.Get("X-Auth-Request-Access-Token"), "access-") || h.Get("Authorization") != "Bearer "+h.Get("X-Auth-Request-Access-Token") {
		t.Errorf("access token headers: got %q and %q", h.Get("X-Auth-Request-Access-Token"), h.Get("Authorization"))
	}
	if strings.Count(h.Get("X-Auth-Request-Id-Token"), ".") != 2 {
		t.Errorf("id token header: got %q", h.Get("X-Auth-Request-Id-Token"))
	}
	if h.Get("X-User-Name") != "Ada Lovelace" || h.Get("X-Mail") != "ada@example.org" {
		t.Errorf("identityHeaders: got name %q, mail %q", h.Get("X-User-Name"), h.Get("X-Mail"))
	}
}

func TestClientSecretPost(t *testing.T) {
	tp := newTestProvider(t)
	tp.authMethods = []string{"client_secret_post"}
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	if rec := b.signIn("/private"); rec.Code != http.StatusFound {
		t.Fatalf("sign-in: got %d, want 302; %s", rec.Code, rec.Body.String())
	}
	if tp.tokenAuth[0] != "" || tp.tokenForms[0].Get("client_secret") != tpClientSecret {
		t.Errorf("got Authorization %q and client_secret %q, want client_secret_post", tp.tokenAuth[0], tp.tokenForms[0].Get("client_secret"))
	}
}

func TestTwoTabsSignInAtOnce(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	first := b.authorize(b.get("/private?tab=1"))
	second := b.authorize(b.get("/admin/users?tab=2"))
	for _, tc := range []struct{ callback, want string }{{second, "/admin/users?tab=2"}, {first, "/private?tab=1"}} {
		rec := b.get(tc.callback)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.want {
			t.Errorf("callback: got %d to %q, want 302 to %q; %s", rec.Code, rec.Header().Get("Location"), tc.want, rec.Body.String())
		}
	}
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Errorf("after both logins: got %d, want 200", rec.Code)
	}
}

func TestNonNavigationGets401(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	cases := []struct {
		name   string
		method string
		header http.Header
	}{
		{"post", http.MethodPost, nil},
		{"put", http.MethodPut, nil},
		{"delete", http.MethodDelete, nil},
		{"xhr", http.MethodGet, http.Header{"X-Requested-With": {"XMLHttpRequest"}}},
		{"json", http.MethodGet, http.Header{"Accept": {"application/json"}}},
		{"fetch", http.MethodGet, http.Header{"Sec-Fetch-Mode": {"cors"}}},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			rec := b.do(tc.method, "/private", tc.header)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("Location") != "" {
				t.Errorf("got %d to %q, want 401 and no redirect", rec.Code, rec.Header().Get("Location"))
			}
			// An API caller reads an answer, not a page.
			want := "text/plain; charset=utf-8"
			if tc.name == "json" {
				want = "application/json"
			}
			if got := rec.Header().Get("Content-Type"); got != want || strings.Contains(rec.Body.String(), "<html") {
				t.Errorf("got %q %q, want %s", got, rec.Body.String(), want)
			}
		})
	}
	if app.calls != 0 {
		t.Errorf("the app was called %d times", app.calls)
	}
	if rec := b.do(http.MethodHead, "/private", nil); rec.Code != http.StatusFound {
		t.Errorf("HEAD: got %d, want 302", rec.Code)
	}
}
