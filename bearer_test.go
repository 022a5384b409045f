package ags

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The API clients' tests (issue 27): every rule through ServeHTTP, over the token
// shapes peers were caught by.

// bearerAudience is the API's resource identifier in these tests.
const bearerAudience = "https://api.example.test"

// bearerConfig is flowConfig with bearerTokens on for bearerAudience.
func bearerConfig(tp *testProvider) *Config {
	c := flowConfig(tp)
	c.BearerTokens = "true"
	c.BearerAudiences = []string{bearerAudience}
	return c
}

// bearerSigner signs with the test provider's own key, as its key set says.
func bearerSigner(tp *testProvider) *jwtSigner {
	return &jwtSigner{alg: "RS256", kid: tp.kid, key: tp.key}
}

// bearerClaims are the claims of a valid client-credentials access token.
func bearerClaims(tp *testProvider) map[string]interface{} {
	now := tp.now()
	return map[string]interface{}{
		"iss": tp.issuer, "aud": []string{bearerAudience, "https://other.example"}, "sub": "service-7",
		"client_id": "reports-cli", "scope": "reports:read reports:write", "jti": "at-1",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// bearerAt signs claims as an RFC 9068 access token (typ at+jwt).
func bearerAt(t *testing.T, tp *testProvider, claims map[string]interface{}) string {
	s := bearerSigner(tp)
	return s.sign(t, jwtWith(s.header(), map[string]interface{}{"typ": "at+jwt"}), claims)
}

// bearerRequest sends a request to target with the Authorization lines given.
func bearerRequest(m *middleware, target string, auth ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://app.example"+target, nil)
	r.Header.Set("Accept", "application/json")
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	return rec
}

// bearerWantRefused checks a refusal: the status, RFC 6750's challenge with code,
// no redirect, nothing of the token or its claims in the body, the app not reached.
func bearerWantRefused(t *testing.T, rec *httptest.ResponseRecorder, app *flowBackend, status int, code, token string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status: got %d, want %d (body %q)", rec.Code, status, rec.Body.String())
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `error="`+code+`"`; !strings.HasPrefix(got, "Bearer") || !strings.Contains(got, want) {
		t.Errorf("WWW-Authenticate: got %q, want Bearer with %s", got, want)
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("Location: got %q, want no redirect", loc)
	}
	body := rec.Body.String()
	for _, secret := range []string{"service-7", "reports-cli", "eyJ"} {
		if strings.Contains(body, secret) {
			t.Errorf("body: got %q, which shows %q", body, secret)
		}
	}
	if len(token) > 8 && strings.Contains(body, token[len(token)-8:]) {
		t.Errorf("body: got %q, which shows the token", body)
	}
	if app.calls != 0 {
		t.Errorf("app calls: got %d, want 0", app.calls)
	}
}

func TestBearerTokens(t *testing.T) {
	k := atkNewKeys(t)
	pub, err := x509.MarshalPKIXPublicKey(newTestProvider(t).key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	// with signs the valid claims, changed (nil deletes), as an at+jwt.
	with := func(changes map[string]interface{}) func(t *testing.T, tp *testProvider) string {
		return func(t *testing.T, tp *testProvider) string {
			return bearerAt(t, tp, jwtWith(bearerClaims(tp), changes))
		}
	}
	header := func(changes map[string]interface{}) func(t *testing.T, tp *testProvider) string {
		return func(t *testing.T, tp *testProvider) string {
			s := bearerSigner(tp)
			return s.sign(t, jwtWith(s.header(), changes), bearerClaims(tp))
		}
	}
	cases := []struct {
		name   string
		algs   []string // the provider's id_token_signing_alg_values_supported
		token  func(t *testing.T, tp *testProvider) string
		auth   func(token string) []string // the Authorization lines; nil: "Bearer " + token
		query  string
		accept bool
		reason string // in the refusal's log line
	}{
		{name: "at+jwt", token: with(nil), accept: true},
		{name: "typ JWT", token: header(nil), accept: true},
		{name: "no typ", token: header(map[string]interface{}{"typ": nil}), accept: true},
		{name: "aud a string", token: with(map[string]interface{}{"aud": bearerAudience}), accept: true},
		{name: "scheme in lower case", token: with(nil), auth: func(tok string) []string { return []string{"bearer " + tok} }, accept: true},
		{name: "a 10 KB token", token: with(map[string]interface{}{"padding": strings.Repeat("p", 10<<10)}), accept: true},

		{name: "another API's token", token: with(map[string]interface{}{"aud": "https://other.example"}), reason: "wrong audience"},
		{name: "another client's token for another API", token: with(map[string]interface{}{"aud": tpClientID, "client_id": "other-client"}), reason: "wrong audience"},
		{name: "no aud", token: with(map[string]interface{}{"aud": nil}), reason: "wrong audience"},
		{name: "an ID token", token: func(t *testing.T, tp *testProvider) string {
			return tp.idToken("nonce-0123456789", "access-x")
		}, reason: "wrong audience"},
		{name: "an ID token's nonce", token: with(map[string]interface{}{"nonce": "n-0123456789"}), reason: "not an access token"},
		{name: "an ID token's at_hash", token: with(map[string]interface{}{"at_hash": "abc"}), reason: "not an access token"},
		{name: "typ logout+jwt", token: header(map[string]interface{}{"typ": "logout+jwt"}), reason: "not an access token"},
		{name: "alg none", token: func(t *testing.T, tp *testProvider) string {
			return atkB64JSON(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + atkB64JSON(bearerClaims(tp)) + "."
		}, reason: "algorithm not allowed"},
		{name: "HS256 keyed with the provider's public key", algs: []string{"RS256", "HS256"}, token: func(t *testing.T, tp *testProvider) string {
			return jwtHMACWith(t, pubPEM, tp.kid, bearerClaims(tp))
		}, reason: "algorithm not allowed"},
		{name: "HS256 keyed with the client secret", algs: []string{"RS256", "HS256"}, token: func(t *testing.T, tp *testProvider) string {
			return jwtHMACWith(t, []byte(tpClientSecret), "", bearerClaims(tp))
		}, reason: "algorithm not allowed"},
		{name: "a kid not in the key set", token: func(t *testing.T, tp *testProvider) string { return k.rs.sign(t, nil, bearerClaims(tp)) }, reason: "unknown signing key"},
		{name: "another key under the known kid", token: func(t *testing.T, tp *testProvider) string {
			return k.rs.sign(t, jwtWith(k.rs.header(), map[string]interface{}{"kid": tp.kid}), bearerClaims(tp))
		}, reason: "invalid signature"},
		{name: "tampered", token: func(t *testing.T, tp *testProvider) string { return jwtTamper(bearerAt(t, tp, bearerClaims(tp))) }, reason: "invalid signature"},
		{name: "expired", token: func(t *testing.T, tp *testProvider) string {
			return bearerAt(t, tp, jwtWith(bearerClaims(tp), map[string]interface{}{"exp": tp.now().Add(-2 * time.Minute).Unix()}))
		}, reason: "token expired"},
		{name: "no exp", token: with(map[string]interface{}{"exp": nil}), reason: "token expired"},
		{name: "nbf ahead", token: func(t *testing.T, tp *testProvider) string {
			return bearerAt(t, tp, jwtWith(bearerClaims(tp), map[string]interface{}{"nbf": tp.now().Add(5 * time.Minute).Unix()}))
		}, reason: "token not yet valid"},
		{name: "iat ahead", token: func(t *testing.T, tp *testProvider) string {
			return bearerAt(t, tp, jwtWith(bearerClaims(tp), map[string]interface{}{"iat": tp.now().Add(5 * time.Minute).Unix()}))
		}, reason: "bad issued-at time"},
		{name: "another issuer", token: with(map[string]interface{}{"iss": "https://evil.example"}), reason: "wrong issuer"},
		{name: "no sub", token: with(map[string]interface{}{"sub": nil}), reason: "subject rejected: sub missing"},
		{name: "token in the query too", token: with(nil), query: "?access_token=x", reason: "a token in the query"},
		{name: "a 17 KB token", token: with(map[string]interface{}{"padding": strings.Repeat("p", 17<<10)}), reason: "longer than"},
		{name: "two tokens in one header", token: with(nil), auth: func(tok string) []string { return []string{"Bearer " + tok + " " + tok} }, reason: "not one token"},
		{name: "two tokens, comma separated", token: with(nil), auth: func(tok string) []string { return []string{"Bearer " + tok + ", Bearer " + tok} }, reason: "not one token"},
		{name: "two Authorization headers", token: with(nil), auth: func(tok string) []string { return []string{"Bearer " + tok, "Bearer " + tok} }, reason: "2 Authorization headers"},
		{name: "a bearer and a basic header", token: with(nil), auth: func(tok string) []string { return []string{"Basic YTpi", "Bearer " + tok} }, reason: "2 Authorization headers"},
		{name: "an empty token", token: with(nil), auth: func(tok string) []string { return []string{"Bearer "} }, reason: "not one token"},
		{name: "an opaque token without introspection", token: func(t *testing.T, tp *testProvider) string { return "ory_at_abc.def" }, reason: "malformed token"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.atkAlgs = tc.algs
			m, app := newFlow(t, bearerConfig(tp))
			log := atkCaptureLog(m)
			token := tc.token(t, tp)
			auth := []string{"Bearer " + token}
			if tc.auth != nil {
				auth = tc.auth(token)
			}
			for i := 0; i < 2; i++ { // the second from the cache, or refused again
				app.calls = 0
				rec := bearerRequest(m, "/private"+tc.query, auth...)
				if !tc.accept {
					bearerWantRefused(t, rec, app, http.StatusUnauthorized, "invalid_token", token)
					if !strings.Contains(log.String(), tc.reason) {
						t.Errorf("log: got %q, want the reason %q", log.String(), tc.reason)
					}
					continue
				}
				if rec.Code != http.StatusOK || app.calls != 1 {
					t.Fatalf("request %d: got %d and %d app calls, want 200 and 1 (body %q)", i, rec.Code, app.calls, rec.Body.String())
				}
				h := app.last.Header
				for name, want := range map[string]string{headerUser: "service-7", headerScope: "reports:read reports:write", headerClientID: "reports-cli"} {
					if got := h.Get(name); got != want {
						t.Errorf("%s: got %q, want %q", name, got, want)
					}
				}
			}
		})
	}
}

// TestBearerTokensOff: without the option a token is not judged: an API call
// without a session gets the sign-in's 401, and the app never sees a caller.
func TestBearerTokensOff(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	rec := bearerRequest(m, "/private", "Bearer "+bearerAt(t, tp, bearerClaims(tp)))
	if rec.Code != http.StatusUnauthorized || app.calls != 0 || strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("got %d, %d app calls, WWW-Authenticate %q; want 401 without Bearer, the app not reached", rec.Code, app.calls, rec.Header().Get("WWW-Authenticate"))
	}
}

// TestBearerTokensPaths: on an open path a token gives identity when valid and
// passes without one when not; no token on an authenticated path is the sign-in's
// 401, now with a Bearer challenge; forged identity headers never pass.
func TestBearerTokensPaths(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, bearerConfig(tp))
	good := "Bearer " + bearerAt(t, tp, bearerClaims(tp))
	bad := "Bearer " + jwtTamper(bearerAt(t, tp, bearerClaims(tp)))
	for _, auth := range []string{good, bad} {
		r := httptest.NewRequest(http.MethodGet, "http://app.example/open", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set(headerScope, "admin")
		r.Header.Set("X-Auth-Request-Client_Id", "forged")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Fatalf("open path: got %d, want 200", rec.Code)
		}
		h := app.last.Header
		wantUser, wantScope := "", ""
		if auth == good {
			wantUser, wantScope = "service-7", "reports:read reports:write"
		}
		if h.Get(headerUser) != wantUser || h.Get(headerScope) != wantScope || h.Get("X-Auth-Request-Client_Id") != "" {
			t.Errorf("open path: got user %q scope %q forged %q, want %q %q and none", h.Get(headerUser), h.Get(headerScope), h.Get("X-Auth-Request-Client_Id"), wantUser, wantScope)
		}
	}
	rec := bearerRequest(m, "/private")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(strings.Join(rec.Header()["Www-Authenticate"], ","), "Bearer") {
		t.Errorf("no token: got %d, WWW-Authenticate %q; want 401 with Bearer", rec.Code, rec.Header()["Www-Authenticate"])
	}
	app.calls = 0
	rec = bearerRequest(m, "/private?access_token="+url.QueryEscape(strings.TrimPrefix(good, "Bearer ")))
	bearerWantRefused(t, rec, app, http.StatusUnauthorized, "invalid_request", good)
}

// TestBearerTokensRules: the access rules judge a token's caller as a session's
// user; one they refuse gets 403 insufficient_scope, every time.
func TestBearerTokensRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rules  func(c *Config)
		accept bool
	}{
		{"allowedUsers holds the sub", func(c *Config) { c.AllowedUsers = []string{"service-7"} }, true},
		{"allowedUsers without the sub", func(c *Config) { c.AllowedUsers = []string{"user-42"} }, false},
		{"requiredClaims on client_id", func(c *Config) { c.RequiredClaims = map[string]interface{}{"client_id": "reports-cli"} }, true},
		{"requiredClaims on another client", func(c *Config) { c.RequiredClaims = map[string]interface{}{"client_id": "billing"} }, false},
		{"allowedEmailDomains, no e-mail", func(c *Config) { c.AllowedEmailDomains = []string{"example.org"} }, false},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			c := bearerConfig(tp)
			tc.rules(c)
			m, app := newFlow(t, c)
			token := bearerAt(t, tp, bearerClaims(tp))
			for i := 0; i < 2; i++ {
				app.calls = 0
				rec := bearerRequest(m, "/private", "Bearer "+token)
				if tc.accept {
					if rec.Code != http.StatusOK || app.calls != 1 {
						t.Fatalf("got %d, want 200", rec.Code)
					}
					continue
				}
				bearerWantRefused(t, rec, app, http.StatusForbidden, "insufficient_scope", token)
			}
		})
	}
}

// TestBearerTokensCache: a known token is served from the view cache without being
// verified again (its key set gone, it still passes), in the class of tokens,
// until it expires; then it is refused.
func TestBearerTokensCache(t *testing.T) {
	tp := newTestProvider(t)
	clock := &jwtClock{t: time.Now()}
	tp.now = clock.now
	m, app := newFlow(t, bearerConfig(tp))
	setClock(m, clock.now)
	token := "Bearer " + bearerAt(t, tp, bearerClaims(tp))
	if rec := bearerRequest(m, "/private", token); rec.Code != http.StatusOK {
		t.Fatalf("first: got %d, want 200", rec.Code)
	}
	if bytes, entries := m.views.entries.held(bearerViews); entries != 1 || bytes <= 0 {
		t.Fatalf("token views: got %d entries (%d bytes), want 1", entries, bytes)
	}
	p, err := m.provider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.bearer = &jwtVerifier{issuer: tp.issuer, algorithms: []string{"RS256"}} // no key set: any verification fails
	if rec := bearerRequest(m, "/private", token); rec.Code != http.StatusOK || app.calls != 2 {
		t.Fatalf("known token: got %d, want 200 without verification", rec.Code)
	}
	clock.advance(11 * time.Minute)
	app.calls = 0
	bearerWantRefused(t, bearerRequest(m, "/private", token), app, http.StatusUnauthorized, "invalid_token", token)
}

// TestBearerTokenWithSession: a token alongside a session cookie wins, and the app
// gets neither ags's cookie nor the session's identity.
func TestBearerTokenWithSession(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, bearerConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "user-42" {
		t.Fatalf("signed in: got %d, want 200 as user-42", rec.Code)
	}
	b.jar["theme"] = "dark"
	rec := b.do(http.MethodGet, "/private", http.Header{"Authorization": {"Bearer " + bearerAt(t, tp, bearerClaims(tp))}})
	h := app.last.Header
	if rec.Code != http.StatusOK || h.Get(headerUser) != "service-7" || h.Get(headerEmail) != "" {
		t.Fatalf("got %d, user %q, email %q; want 200 as service-7 alone", rec.Code, h.Get(headerUser), h.Get(headerEmail))
	}
	if cookie := h.Get("Cookie"); strings.Contains(cookie, "ags_client_session") || !strings.Contains(cookie, "theme=dark") {
		t.Errorf("Cookie: got %q, want the app's own only", cookie)
	}
	bad := b.do(http.MethodGet, "/private", http.Header{"Authorization": {"Bearer x.y.z"}, "Accept": {"application/json"}})
	if bad.Code != http.StatusUnauthorized {
		t.Errorf("a bad token with a session: got %d, want 401 (the token wins)", bad.Code)
	}
}

// TestBearerIntrospection: an opaque token is asked about once (with the client's
// credentials) and kept; an inactive one is refused and kept a few seconds; a slow
// provider is a 503.
func TestBearerIntrospection(t *testing.T) {
	tp := newTestProvider(t)
	clock := &jwtClock{t: time.Now()}
	tp.now = clock.now
	tp.introspect = func(form url.Values) map[string]interface{} {
		aud := bearerAudience
		switch form.Get("token") {
		case "ory_at_good.sig":
		case "ory_at_other_api.sig":
			aud = "https://other.example"
		default:
			return map[string]interface{}{"active": false}
		}
		return map[string]interface{}{"active": true, "iss": tp.issuer, "aud": []string{aud}, "sub": "service-7",
			"client_id": "reports-cli", "scope": "reports:read", "exp": clock.now().Add(time.Hour).Unix()}
	}
	c := bearerConfig(tp)
	c.BearerIntrospection = "true"
	c.Timeout = "1s"
	m, app := newFlow(t, c)
	setClock(m, clock.now)
	for i := 0; i < 3; i++ {
		rec := bearerRequest(m, "/private", "Bearer ory_at_good.sig")
		if rec.Code != http.StatusOK || app.last.Header.Get(headerClientID) != "reports-cli" {
			t.Fatalf("request %d: got %d, client %q; want 200 as reports-cli", i, rec.Code, app.last.Header.Get(headerClientID))
		}
	}
	if tp.introspections != 1 {
		t.Errorf("introspections: got %d, want 1 (the answer kept)", tp.introspections)
	}
	clock.advance(61 * time.Second)
	bearerRequest(m, "/private", "Bearer ory_at_good.sig")
	if tp.introspections != 2 {
		t.Errorf("introspections after a minute: got %d, want 2", tp.introspections)
	}
	app.calls = 0
	for i := 0; i < 2; i++ {
		bearerWantRefused(t, bearerRequest(m, "/private", "Bearer ory_at_revoked.sig"), app, http.StatusUnauthorized, "invalid_token", "ory_at_revoked.sig")
	}
	if tp.introspections != 3 {
		t.Errorf("introspections of an inactive token: got %d, want 3 (kept a few seconds)", tp.introspections)
	}
	bearerWantRefused(t, bearerRequest(m, "/private", "Bearer ory_at_other_api.sig"), app, http.StatusUnauthorized, "invalid_token", "ory_at_other_api.sig")
	tp.set(func(tp *testProvider) { tp.atkDelay = map[string]time.Duration{"/introspect": 5 * time.Second} })
	rec := bearerRequest(m, "/private", "Bearer ory_at_other.sig")
	if rec.Code != http.StatusServiceUnavailable || app.calls != 0 {
		t.Errorf("slow provider: got %d, want 503", rec.Code)
	}
}

// TestIntrospectionURL: a provider that announces no introspection_endpoint (Ory
// Hydra) is asked at introspectionURL; without it, opaque tokens cannot be checked
// (503, the configuration's fault, logged), never let in.
func TestIntrospectionURL(t *testing.T) {
	for _, set := range []bool{true, false} {
		tp := newTestProvider(t)
		tp.hideIntrospect = true
		tp.introspect = func(form url.Values) map[string]interface{} {
			return map[string]interface{}{"active": true, "iss": tp.issuer, "aud": bearerAudience, "sub": "service-7", "client_id": "reports-cli"}
		}
		c := bearerConfig(tp)
		c.BearerIntrospection = "true"
		if set {
			c.IntrospectionURL = tp.issuer + "/introspect"
		}
		m, app := newFlow(t, c)
		rec := bearerRequest(m, "/private", "Bearer ory_at_good.sig")
		switch {
		case set && (rec.Code != http.StatusOK || tp.introspections != 1 || app.last.Header.Get(headerClientID) != "reports-cli"):
			t.Errorf("introspectionURL set: got %d after %d introspections, want 200 after 1", rec.Code, tp.introspections)
		case !set && (rec.Code != http.StatusServiceUnavailable || app.calls != 0):
			t.Errorf("no introspection endpoint: got %d, want 503", rec.Code)
		}
	}
	for _, tc := range []struct {
		edit func(c *Config)
		want string
	}{
		{func(c *Config) { c.IntrospectionURL = "https://idp.example/introspect" }, "need bearerTokens"},
		{func(c *Config) {
			c.BearerTokens, c.BearerAudiences, c.IntrospectionURL = "true", []string{"x"}, "https://idp.example/introspect"
		}, "introspectionURL needs bearerIntrospection"},
		{func(c *Config) {
			c.BearerTokens, c.BearerAudiences, c.BearerIntrospection = "true", []string{"x"}, "true"
			c.IntrospectionURL = "/admin/oauth2/introspect"
		}, "introspectionURL must be an absolute"},
	} {
		c := flowConfig(newTestProvider(t))
		tc.edit(c)
		if _, err := newMiddleware(http.NotFoundHandler(), c, "test"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error with %q", err, tc.want)
		}
	}
}

// TestBearerConfig: the options' validation names them.
func TestBearerConfig(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"audiences missing", func(c *Config) { c.BearerTokens = "true" }, "bearerAudiences is required"},
		{"audiences without the option", func(c *Config) { c.BearerAudiences = []string{"x"} }, "need bearerTokens"},
		{"introspection without the option", func(c *Config) { c.BearerIntrospection = "true" }, "need bearerTokens"},
		{"not a boolean", func(c *Config) { c.BearerTokens = "yes" }, "bearerTokens must be true or false"},
		{"an identity header on the scope's", func(c *Config) {
			c.BearerTokens, c.BearerAudiences = "true", []string{"x"}
			c.IdentityHeaders = map[string]string{"roles": "x-auth-request-scope"}
		}, "which bearerTokens sets"},
	} {
		c := flowConfig(tp)
		tc.edit(c)
		_, err := newMiddleware(http.NotFoundHandler(), c, "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	env := map[string]string{"AGS_CLIENT_BEARER_TOKENS": "true", "AGS_CLIENT_BEARER_AUDIENCES": "a, b", "AGS_CLIENT_BEARER_INTROSPECTION": "1"}
	s, err := flowConfig(tp).resolved(func(k string) string { return env[k] }).validate()
	if err != nil || s.bearer == nil || len(s.bearer.audiences) != 2 || !s.bearer.introspection {
		t.Errorf("from the environment: got %v, want bearerTokens on for two audiences, with introspection", err)
	}
}

// FuzzBearerHeader: whatever the Authorization header, a request on an
// authenticated path is never served without a valid token, never redirected,
// never panics, and its answer never shows the token.
func FuzzBearerHeader(f *testing.F) {
	for _, seed := range []string{"Bearer a.b.c", "Bearer ", "bearer eyJhbGciOiJub25lIn0.e30.", "Basic YTpi", "Bearer a b", "Bearer a,Bearer b",
		"Bearer ory_at_x.y", "Bearer " + strings.Repeat("A", 20<<10), "BEARER\ta.b.c", "Bearer a.b.c==", "Bearer \x00"} {
		f.Add(seed)
	}
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret = "http://127.0.0.1:1", tpClientID, tpClientSecret
	c.SessionSecret, c.AuthenticatedPaths, c.Timeout = tpSessionKey, []string{"/private"}, "1s"
	c.BearerTokens, c.BearerAudiences = "true", []string{bearerAudience}
	m, err := newMiddleware(http.NotFoundHandler(), c, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	m.log.out = &flowLog{}
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest(http.MethodGet, "http://app.example/private", nil)
		r.Header["Authorization"] = []string{auth}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable, http.StatusFound:
		default:
			t.Fatalf("Authorization %q: got %d, want a refusal", auth, rec.Code)
		}
		if _, err := bearerOf([]string{auth}); err == nil && rec.Code == http.StatusFound {
			t.Fatalf("Authorization %q: a bearer token redirected", auth)
		}
		if token := strings.TrimSpace(auth); len(token) >= 16 && strings.Contains(rec.Body.String(), token) {
			t.Fatalf("Authorization %q: the answer shows it", auth)
		}
	})
}
