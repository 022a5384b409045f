package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Issue 28 through Traefik: Ory Hydra ends a session (its own logout, an administrator)
// and POSTs a logout token to ags's backChannelLogoutPath; the next request with the
// old cookie starts a sign-in. With a revocation store (redis-server), every replica
// learns it. The logout tokens are Hydra's own: Hydra's back channel goes through a
// relay in the test (logoutRelay) that keeps each token and Traefik's answer, for the
// replay and the delay measured across replicas.

// bclPath is the ags option backChannelLogoutPath of these tests.
const bclPath = "backchannel-logout"

// logoutRelay stands between Hydra and Traefik on the back channel: it passes each
// POST on to the target and keeps the logout token, Traefik's answer and when it came.
type logoutRelay struct {
	URL string // what Hydra's client registers as backchannel_logout_uri

	srv    *http.Server
	mu     sync.Mutex
	target string
	posts  chan relayedLogout
}

// relayedLogout is one back-channel POST of Hydra and Traefik's answer to it.
type relayedLogout struct {
	token  string
	status int
	header http.Header
	body   string
	at     time.Time     // when Traefik's answer came
	took   time.Duration // from the POST to the answer
}

// startLogoutRelay starts a relay on a free port, stopped at the end of the test.
func startLogoutRelay(t *testing.T) *logoutRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &logoutRelay{URL: "http://" + ln.Addr().String() + "/" + bclPath, posts: make(chan relayedLogout, 16)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

// sendTo makes the relay pass the POSTs on to u.
func (r *logoutRelay) sendTo(u string) {
	r.mu.Lock()
	r.target = u
	r.mu.Unlock()
}

func (r *logoutRelay) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	target := r.target
	r.mu.Unlock()
	req.ParseForm()
	token := req.PostForm.Get("logout_token")
	resp, err := postLogoutToken(target, "", token)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	io.WriteString(w, resp.body)
	r.posts <- resp
}

// next waits for Hydra's next back-channel POST.
func (r *logoutRelay) next(t *testing.T, within time.Duration) relayedLogout {
	t.Helper()
	select {
	case p := <-r.posts:
		return p
	case <-time.After(within):
		t.Fatalf("Hydra sent no logout token within %s", within)
	}
	return relayedLogout{}
}

// none checks that Hydra sent no back-channel POST for a while.
func (r *logoutRelay) none(t *testing.T, wait time.Duration, after string) {
	t.Helper()
	select {
	case p := <-r.posts:
		t.Errorf("after %s Hydra sent a logout token (%s), want none", after, claimsOf(t, p.token))
	case <-time.After(wait):
	}
}

// postLogoutToken POSTs token as the provider does to u, with the Host header host
// when not empty, and returns the answer.
func postLogoutToken(u, host, token string) (relayedLogout, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return relayedLogout{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if host != "" {
		req.Host = host
	}
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return relayedLogout{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	at := time.Now()
	return relayedLogout{token: token, status: resp.StatusCode, header: resp.Header, body: string(body), at: at, took: at.Sub(start)}, nil
}

// claimsOf decodes a JWT's claims (unverified: the test only reads what Hydra sent).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("the JWT's claims: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatalf("the JWT's claims: %v", err)
	}
	return claims
}

// hydraSession is a plain client signed in through a Traefik at Hydra: a login
// session of Hydra's of its own (its jar), sid its id.
type hydraSession struct {
	client *harness.Client
	cookie string // the ags session's cookies, as a copy of them sends them
	sid    string
}

// signInHydra signs a new plain client in through tr at Hydra. ags must pass the ID
// token (passIDToken), where the test reads Hydra's sid.
func signInHydra(t *testing.T, tr *harness.Traefik) *hydraSession {
	t.Helper()
	c := harness.NewClient()
	start, err := c.Get(tr.URL("/protected/"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(start, harness.HydraUsername, harness.TestPassword)
	if err != nil {
		t.Fatalf("sign-in at Hydra: %v; before the login form:\n%s", err, hops(start.Hops))
	}
	if page.Status != 200 {
		t.Fatalf("sign-in at Hydra: %v, hops:\n%s", err, hops(page.Hops))
	}
	v := harness.ParseAppView(page.Body)
	if v.User != harness.HydraSubject {
		t.Fatalf("signed in, the app received the user %q, want %q", v.User, harness.HydraSubject)
	}
	sid, _ := claimsOf(t, v.Headers["X-Auth-Request-Id-Token"])["sid"].(string)
	if sid == "" {
		t.Fatalf("Hydra's ID token has no sid")
	}
	var cookies []string
	u, _ := url.Parse(tr.URL("/"))
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if sessionCookieName.MatchString(ck.Name) {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
	}
	return &hydraSession{client: c, cookie: strings.Join(cookies, "; "), sid: sid}
}

// sessionAnswer is what a request with a copy of a session's cookies got.
type sessionAnswer struct {
	status   int
	location string
	user     string // the app's X-Auth-Request-User; "" when the app did not answer
	err      error
}

func (a sessionAnswer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d Location %q user %q", a.status, a.location, a.user)
}

// signedIn: the app answered with the Hydra user's identity.
func (a sessionAnswer) signedIn() bool {
	return a.err == nil && a.status == 200 && a.user == harness.HydraSubject
}

// signInStarted: ags sent the request to Hydra's authorization endpoint.
func (a sessionAnswer) signInStarted(h *harness.Hydra) bool {
	return a.err == nil && a.status == http.StatusFound && strings.HasPrefix(a.location, h.URL("/oauth2/auth?"))
}

// sessionClient sends the copies of the cookies: no jar, no redirects followed.
var sessionClient = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// withCookie GETs path through tr with cookie as the Cookie header.
func withCookie(tr *harness.Traefik, path, cookie string) sessionAnswer {
	req, err := http.NewRequest(http.MethodGet, tr.URL(path), nil)
	if err != nil {
		return sessionAnswer{err: err}
	}
	req.Header.Set("Cookie", cookie)
	resp, err := sessionClient.Do(req)
	if err != nil {
		return sessionAnswer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := sessionAnswer{status: resp.StatusCode, location: resp.Header.Get("Location")}
	if v := harness.ParseAppView(string(body)); v.View != "" {
		a.user = v.User
	}
	return a
}

// expectSessionWorks checks that a copy of s's cookies is signed in through tr.
func expectSessionWorks(t *testing.T, tr *harness.Traefik, s *hydraSession, when string) {
	t.Helper()
	if a := withCookie(tr, "/protected/", s.cookie); !a.signedIn() {
		t.Fatalf("%s, the session through Traefik %d: %s, want 200 as %s", when, tr.Port, a, harness.HydraSubject)
	}
}

// waitSessionEnded polls tr tightly with a copy of s's cookies until ags starts a
// sign-in, and returns how long after since that was; any other answer than the
// signed-in page fails the test. Then the open page shows no identity either.
func waitSessionEnded(t *testing.T, tr *harness.Traefik, h *harness.Hydra, s *hydraSession, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		a := withCookie(tr, "/protected/", s.cookie)
		if a.signInStarted(h) {
			break
		}
		if !a.signedIn() {
			t.Fatalf("waiting for the session to end through Traefik %d: %s", tr.Port, a)
		}
		if time.Since(since) > within {
			t.Fatalf("the session still works through Traefik %d after %s", tr.Port, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(since)
	if a := withCookie(tr, "/open/", s.cookie); a.status != 200 || a.user != "(none)" {
		t.Errorf("the session ended, the open page through Traefik %d: %s, want 200 without identity", tr.Port, a)
	}
	return took
}

// expectLogoutAccepted checks ags's answer to Hydra's POST and that the token names
// s's sid.
func expectLogoutAccepted(t *testing.T, p relayedLogout, s *hydraSession) {
	t.Helper()
	if p.status != 200 || p.header.Get("Cache-Control") != "no-store" || p.header.Get("Set-Cookie") != "" {
		t.Errorf("ags answered Hydra's logout token %d, Cache-Control %q, Set-Cookie %q; want 200, no-store, none",
			p.status, p.header.Get("Cache-Control"), p.header.Get("Set-Cookie"))
	}
	if sid := claimsOf(t, p.token)["sid"]; sid != s.sid {
		t.Errorf("Hydra's logout token names sid %v, want the session's %q", sid, s.sid)
	}
}

// expectLogoutRefused checks a 400 with an RFC 6749 error body, and no cookie, no
// redirect.
func expectLogoutRefused(t *testing.T, what string, p relayedLogout) {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	err := json.Unmarshal([]byte(p.body), &body)
	if p.status != http.StatusBadRequest || err != nil || body.Error != "invalid_request" ||
		!strings.HasPrefix(p.header.Get("Content-Type"), "application/json") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: %d %q (Content-Type %q, Cache-Control %q), want 400 with an RFC 6749 JSON error, no-store",
			what, p.status, p.body, p.header.Get("Content-Type"), p.header.Get("Cache-Control"))
	}
	if p.header.Get("Set-Cookie") != "" || p.header.Get("Location") != "" {
		t.Errorf("%s: Set-Cookie %q, Location %q, want neither", what, p.header.Get("Set-Cookie"), p.header.Get("Location"))
	}
}

// expectLogged checks that Traefik logged want since the log's offset off.
func expectLogged(t *testing.T, tr *harness.Traefik, off int64, want string) {
	t.Helper()
	if log := tr.LogSince(off); !strings.Contains(log, want) {
		t.Errorf("Traefik did not log %q; it logged:\n%s", want, lastLines(log, 20))
	}
}

// hydraLogout ends s's login session through Hydra's end-session endpoint, as the
// user does from another app of the same provider (no id_token_hint: Hydra asks its
// logout app, which accepts).
func hydraLogout(t *testing.T, h *harness.Hydra, s *hydraSession) {
	t.Helper()
	page, err := s.client.Get(h.URL("/oauth2/sessions/logout"))
	if err != nil || page.Status != 200 || page.URL.String() != h.UI+"/signed-out" {
		t.Fatalf("logout at Hydra: %v, hops:\n%s", err, hops(page.Hops))
	}
}

// adminRevoke sends DELETE to Hydra's admin API (path and query) and expects 204.
func adminRevoke(t *testing.T, h *harness.Hydra, pathQuery string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, h.Admin+pathQuery, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("Hydra DELETE %s: %d %s", pathQuery, resp.StatusCode, body)
	}
}

// hydraBackChannelClient is the Hydra client registration of these tests: its
// back-channel logout URI is relay's, with the sid required.
func hydraBackChannelClient(relay *logoutRelay) map[string]any {
	return map[string]any{
		"client_secret":                       hydraSecret,
		"token_endpoint_auth_method":          "client_secret_basic",
		"backchannel_logout_uri":              relay.URL,
		"backchannel_logout_session_required": true,
	}
}

// backChannelOptions are ags's options of these tests, with more on top.
func backChannelOptions(more map[string]any) map[string]any {
	cfg := map[string]any{
		"clientSecret":          hydraSecret,
		"backChannelLogoutPath": bclPath,
		"passIDToken":           true,
	}
	for k, v := range more {
		cfg[k] = v
	}
	return cfg
}

// TestHydraBackChannelLogout: one Traefik, no store. Hydra's logout (its end-session
// endpoint, and an administrator revoking the login session) POSTs a logout token
// to ags; ags answers 200 and the next request with the old cookie starts a
// sign-in. A replay of that token, and a token for another client, get 400.
func TestHydraBackChannelLogout(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")
	relay := startLogoutRelay(t)
	tr := hydraStack(t, h, hydraBackChannelClient(relay), backChannelOptions(nil))
	relay.sendTo(tr.URL("/" + bclPath))
	var captured relayedLogout

	t.Run("HydraLogout", func(t *testing.T) {
		s := signInHydra(t, tr)
		expectSessionWorks(t, tr, s, "signed in")
		hydraLogout(t, h, s)
		captured = relay.next(t, 10*time.Second)
		expectLogoutAccepted(t, captured, s)
		took := waitSessionEnded(t, tr, h, s, captured.at, 2*time.Second)
		t.Logf("the session ended %d ms after ags answered Hydra's POST", took.Milliseconds())
		// The browser's own cookies, too: a sign-in at Hydra, whose login session is
		// over, so its login form.
		page, err := s.client.Get(tr.URL("/protected/"))
		if err != nil || !strings.HasPrefix(page.URL.String(), h.UI+"/login?") {
			t.Errorf("after Hydra's logout the browser went to %v (%v), want Hydra's login form; hops:\n%s", page.URL, err, hops(page.Hops))
		}
	})

	t.Run("AdminRevokesLoginSession", func(t *testing.T) {
		s := signInHydra(t, tr)
		// Revoking the consent, or the login sessions by subject, sends no logout
		// token (Hydra v2.3.0, consent/handler.go): only a login session named by
		// its sid does.
		adminRevoke(t, h, "/admin/oauth2/auth/sessions/login?subject="+url.QueryEscape(harness.HydraSubject))
		relay.none(t, 300*time.Millisecond, "revoking the login sessions by subject")
		expectSessionWorks(t, tr, s, "Hydra revoked the login sessions by subject")
		s = signInHydra(t, tr)
		adminRevoke(t, h, "/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(s.sid))
		p := relay.next(t, 10*time.Second)
		expectLogoutAccepted(t, p, s)
		waitSessionEnded(t, tr, h, s, p.at, 2*time.Second)
	})

	t.Run("ConsentRevoked", func(t *testing.T) {
		// Revoking the consent deletes the flows that tie the login session to the
		// client (Hydra v2.3.0, persister_consent.go revokeConsentSession): no logout
		// token then, nor when the login session ends later. The ags session lives
		// on until it expires (or its refresh fails, with refresh on).
		s := signInHydra(t, tr)
		client, _ := tr.Dynamic().Middlewares["ags"].Config["clientID"].(string)
		adminRevoke(t, h, "/admin/oauth2/auth/sessions/consent?subject="+url.QueryEscape(harness.HydraSubject)+"&client="+url.QueryEscape(client))
		adminRevoke(t, h, "/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(s.sid))
		relay.none(t, 300*time.Millisecond, "revoking the consent, then the login session")
		expectSessionWorks(t, tr, s, "Hydra revoked the consent and then the login session")
	})

	t.Run("Replay", func(t *testing.T) {
		if captured.token == "" {
			t.Skip("no logout token captured")
		}
		off := tr.LogSize()
		p, err := postLogoutToken(tr.URL("/"+bclPath), "", captured.token)
		if err != nil {
			t.Fatal(err)
		}
		expectLogoutRefused(t, "Hydra's logout token sent again", p)
		expectLogged(t, tr, off, "jti seen before")
	})

	t.Run("OtherClient", func(t *testing.T) {
		if captured.token == "" {
			t.Skip("no logout token captured")
		}
		// A second middleware on the same Traefik, for requests to localhost: the
		// same issuer and key set, another client ID, so the token's aud is not its.
		dyn := tr.Dynamic()
		other := map[string]any{}
		for k, v := range dyn.Middlewares["ags"].Config {
			other[k] = v
		}
		other["clientID"] = "ags-e2e-another-client"
		dyn.Middlewares["ags-other"] = harness.Middleware{Plugin: "ags", Config: other}
		dyn.Routes["other"] = harness.Route{Rule: "Host(`localhost`)", Middlewares: []string{"ags-other"}, Backend: dyn.Routes["app"].Backend}
		if err := tr.SetDynamic(dyn); err != nil {
			t.Fatal(err)
		}
		off := tr.LogSize()
		p, err := postLogoutToken(tr.URL("/"+bclPath), "localhost", captured.token)
		if err != nil {
			t.Fatal(err)
		}
		expectLogoutRefused(t, "a logout token for another client", p)
		expectLogged(t, tr, off, `wrong audience: aud holds none of ["ags-e2e-another-client"]`)
	})
}
