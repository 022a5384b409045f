package ags

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// logoutClaims are the claims of a valid logout token of the test provider.
func logoutClaims(tp *testProvider, sid, sub string) map[string]interface{} {
	c := map[string]interface{}{
		"iss": tp.issuer, "aud": tpClientID, "iat": time.Now().Unix(), "jti": fmt.Sprintf("jti-%d", time.Now().UnixNano()),
		"events": map[string]interface{}{backChannelLogoutEvent: map[string]interface{}{}},
	}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	return c
}

// postLogout posts a logout token to the back-channel path, as the provider does.
func postLogout(h http.Handler, token string) *httptest.ResponseRecorder {
	body := url.Values{"logout_token": {token}}.Encode()
	r := httptest.NewRequest(http.MethodPost, "http://app.example/backchannel-logout", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// logoutConfig is flowConfig with back-channel logout on, its own client (so
// that the process-wide revocation set of one test is not another's).
func logoutConfig(tp *testProvider) *Config {
	c := flowConfig(tp)
	c.BackChannelLogoutPath = "backchannel-logout"
	return c
}

// TestBackChannelLogoutEndsSession: a logout token for the session's sid ends it on
// every route of the client (a second instance with other paths shares the session),
// for a browser (a new sign-in) and an API call (401), and the app never sees the
// identity again. The answer is 200, no-store, with no cookie.
func TestBackChannelLogoutEndsSession(t *testing.T) {
	tp := newTestProvider(t)
	tp.sid = "provider-session-1"
	m, app := newFlow(t, logoutConfig(tp))
	other := logoutConfig(tp)
	other.AuthenticatedPaths = []string{"/other"}
	m2, app2 := newFlow(t, other)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b2 := newFlowBrowser(t, m2)
	b2.jar = b.jar
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("signed in: got %d, want 200", rec.Code)
	}
	if rec := b2.get("/other"); rec.Code != http.StatusOK || app2.last.Header.Get("X-Auth-Request-User") != "user-42" {
		t.Fatalf("second route signed in: got %d", rec.Code)
	}

	rec := postLogout(m, tpSign(tp.key, tp.kid, logoutClaims(tp, "provider-session-1", "user-42")))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Set-Cookie") != "" || rec.Header().Get("Location") != "" {
		t.Fatalf("logout: got %d, Cache-Control %q, Set-Cookie %q; body %s", rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("Set-Cookie"), rec.Body.String())
	}
	calls := app.calls
	if rec := b.get("/private"); rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize") {
		t.Errorf("browser after logout: got %d to %q, want a new sign-in", rec.Code, rec.Header().Get("Location"))
	}
	if rec := b.do(http.MethodGet, "/private", http.Header{"Accept": {"application/json"}}); rec.Code != http.StatusUnauthorized {
		t.Errorf("API call after logout: got %d, want 401", rec.Code)
	}
	if app.calls != calls {
		t.Errorf("the app was called on a protected path after logout")
	}
	b.get("/open")
	if u := app.last.Header.Get("X-Auth-Request-User"); u != "" {
		t.Errorf("open path after logout: the app got identity %q", u)
	}
	if rec := b2.get("/other"); rec.Code != http.StatusFound {
		t.Errorf("the other route after logout: got %d, want a new sign-in", rec.Code)
	}
	// A new sign-in (the provider's new session) works again.
	tp.set(func(tp *testProvider) { tp.sid = "provider-session-2" })
	later := time.Now().Add(2 * time.Second)
	setClock(m, func() time.Time { return later })
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Errorf("new sign-in after logout: got %d, want 200", rec.Code)
	}
}

// TestBackChannelLogoutBySub: a token with a sub and no sid ends the user's sessions
// signed in before it, not those signed in after.
func TestBackChannelLogoutBySub(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, logoutConfig(tp))
	now := time.Now()
	setClock(m, func() time.Time { return now })
	old := newFlowBrowser(t, m)
	old.signIn("/private")

	rec := postLogout(m, tpSign(tp.key, tp.kid, logoutClaims(tp, "", "user-42")))
	if rec.Code != http.StatusOK {
		t.Fatalf("logout: got %d %s", rec.Code, rec.Body.String())
	}
	now = now.Add(2 * time.Minute)
	fresh := newFlowBrowser(t, m)
	fresh.signIn("/private")
	if rec := fresh.get("/private"); rec.Code != http.StatusOK {
		t.Errorf("session signed in after the logout: got %d, want 200", rec.Code)
	}
	if rec := old.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("session signed in before the logout: got %d, want a new sign-in", rec.Code)
	}
}

// TestBackChannelLogoutSidEndsSessionWithoutSid: a token naming a sid and a sub ends
// the user's sessions that carry no sid (older sessions), and not another user's.
func TestBackChannelLogoutSidEndsSessionWithoutSid(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, logoutConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := postLogout(m, tpSign(tp.key, tp.kid, logoutClaims(tp, "someone-elses", "user-7"))); rec.Code != http.StatusOK {
		t.Fatalf("logout: got %d", rec.Code)
	}
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("another user's logout: got %d, want 200", rec.Code)
	}
	if rec := postLogout(m, tpSign(tp.key, tp.kid, logoutClaims(tp, "unknown-sid", "user-42"))); rec.Code != http.StatusOK {
		t.Fatalf("logout: got %d", rec.Code)
	}
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("a session without sid after its user's logout: got %d, want a new sign-in", rec.Code)
	}
}

// TestLogoutTokenChecks: every check of a logout token, each case refused with 400
// and an RFC 6749 body, and nothing revoked.
func TestLogoutTokenChecks(t *testing.T) {
	tp := newTestProvider(t)
	tp.sid = "sid-checks"
	m, _ := newFlow(t, logoutConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	sign := func(c map[string]interface{}) string { return tpSign(tp.key, tp.kid, c) }
	valid := func() map[string]interface{} { return logoutClaims(tp, "sid-checks", "user-42") }
	none := func(c map[string]interface{}) string {
		h, _ := json.Marshal(map[string]string{"alg": "none"})
		p, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	otherKey := jwtLoadKey(t, "rsa2048_b.pem")
	cases := []struct {
		name  string
		token func() string
	}{
		{"alg none", func() string { return none(valid()) }},
		{"signed by another key", func() string {
			s := &jwtSigner{alg: "RS256", kid: tp.kid, key: otherKey}
			return s.sign(t, nil, valid())
		}},
		{"not a JWT", func() string { return "not-a-jwt" }},
		{"wrong issuer", func() string { c := valid(); c["iss"] = "https://evil.example"; return sign(c) }},
		{"another client", func() string { c := valid(); c["aud"] = "another-client"; return sign(c) }},
		{"no iat", func() string { c := valid(); delete(c, "iat"); return sign(c) }},
		{"iat in the future", func() string { c := valid(); c["iat"] = time.Now().Add(5 * time.Minute).Unix(); return sign(c) }},
		{"iat too old", func() string { c := valid(); c["iat"] = time.Now().Add(-10 * time.Minute).Unix(); return sign(c) }},
		{"exp past", func() string { c := valid(); c["exp"] = time.Now().Add(-5 * time.Minute).Unix(); return sign(c) }},
		{"no events", func() string { c := valid(); delete(c, "events"); return sign(c) }},
		{"another event", func() string {
			c := valid()
			c["events"] = map[string]interface{}{"http://schemas.openid.net/event/other": map[string]interface{}{}}
			return sign(c)
		}},
		{"event not an object", func() string {
			c := valid()
			c["events"] = map[string]interface{}{backChannelLogoutEvent: "yes"}
			return sign(c)
		}},
		{"neither sid nor sub", func() string { c := valid(); delete(c, "sid"); delete(c, "sub"); return sign(c) }},
		{"with a nonce", func() string { c := valid(); c["nonce"] = "n"; return sign(c) }},
		{"no jti", func() string { c := valid(); delete(c, "jti"); return sign(c) }},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			rec := postLogout(m, tc.token())
			var body map[string]string
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || body["error"] != "invalid_request" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("got %d %q, want 400 with an RFC 6749 error", rec.Code, rec.Body.String())
			}
			if rec.Header().Get("Location") != "" || rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("got a redirect or a cookie: %v", rec.Header())
			}
		})
	}
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("after refused tokens: got %d, want the session alive", rec.Code)
	}

	t.Run("GET", func(t *testing.T) {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://app.example/backchannel-logout?logout_token="+sign(valid()), nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("got %d, want 405", rec.Code)
		}
	})
	t.Run("no token", func(t *testing.T) {
		if rec := postLogout(m, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("got %d, want 400", rec.Code)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		if rec := postLogout(m, strings.Repeat("a", maxLogoutBody)); rec.Code != http.StatusBadRequest {
			t.Errorf("got %d, want 400", rec.Code)
		}
	})
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("after refused requests: got %d, want the session alive", rec.Code)
	}

	token := sign(valid())
	if rec := postLogout(m, token); rec.Code != http.StatusOK {
		t.Fatalf("valid token: got %d %s", rec.Code, rec.Body.String())
	}
	if rec := postLogout(m, token); rec.Code != http.StatusBadRequest {
		t.Errorf("the same jti again: got %d, want 400", rec.Code)
	}
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("after the valid token: got %d, want a new sign-in", rec.Code)
	}
}

// TestBackChannelLogoutProviderDown: the provider's keys cannot be had: 503, so
// that the provider sends the token again, and nothing revoked.
func TestBackChannelLogoutProviderDown(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, logoutConfig(tp))
	tp.set(func(tp *testProvider) { tp.down = true })
	rec := postLogout(m, tpSign(tp.key, tp.kid, logoutClaims(tp, "s", "user-42")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("got %d %s, want 503", rec.Code, rec.Body.String())
	}
}

// TestSignOutRevokesCopiedCookie: with revocation on, a copy of the session cookie
// taken before sign-out stops working at once; with it off, it works on (the README
// says so).
func TestSignOutRevokesCopiedCookie(t *testing.T) {
	for _, on := range []bool{true, false} {
		on := on
		t.Run(fmt.Sprintf("revocation %t", on), func(t *testing.T) {
			tp := newTestProvider(t)
			tp.sid = "sid-own"
			c := flowConfig(tp)
			if on {
				c.BackChannelLogoutPath = "backchannel-logout"
			}
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			b.signIn("/private")
			thief := newFlowBrowser(t, m)
			for k, v := range b.jar {
				thief.jar[k] = v
			}
			if rec := thief.get("/private"); rec.Code != http.StatusOK {
				t.Fatalf("copied cookie before sign-out: got %d", rec.Code)
			}
			b.get("/sign-out")
			want := http.StatusOK
			if on {
				want = http.StatusFound
			}
			if rec := thief.get("/private"); rec.Code != want {
				t.Errorf("copied cookie after sign-out: got %d, want %d", rec.Code, want)
			}
		})
	}
}

func TestBackChannelLogoutPathOption(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct{ value, want string }{
		{"bad path", "backChannelLogoutPath"},
		{"oidc_callback", "backChannelLogoutPath"},
		{"sign-out", "backChannelLogoutPath"},
	} {
		c := flowConfig(tp)
		c.BackChannelLogoutPath = tc.value
		if _, err := newMiddleware(&flowBackend{}, c, "test"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error naming %s", tc.value, err, tc.want)
		}
	}
	// Off: the path is the app's, and nothing is revoked.
	off, app := newFlow(t, flowConfig(tp))
	rec := postLogout(off, "x")
	if rec.Code != http.StatusOK || app.last == nil || app.last.URL.Path != "/backchannel-logout" || off.revs != nil {
		t.Errorf("off: got %d, want the request passed to the app", rec.Code)
	}
	env := map[string]string{"AGS_CLIENT_BACK_CHANNEL_LOGOUT_PATH": "/bcl/"}
	s, err := flowConfig(tp).resolved(func(k string) string { return env[k] }).validate()
	if err != nil || s.backChannelLogoutPath != "/bcl" || !s.revocation {
		t.Errorf("from the environment: got %v, %v", s, err)
	}
}
