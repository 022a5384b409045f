package ags

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A provider that is slow, stalls, sends too much or sends nonsense: the timeout
// and the size limits hold, the page is clear, and no session is made.

// atkDiscoveryDoc is the test provider's discovery document with changes (nil
// deletes).
func atkDiscoveryDoc(tp *testProvider, changes map[string]interface{}) []byte {
	doc := tpDocument(tp.issuer)
	b, _ := json.Marshal(jwtWith(doc, changes))
	return b
}

func TestAttackProviderMisbehaviour(t *testing.T) {
	k := atkNewKeys(t)
	huge := strings.Repeat("x", 2<<20) // twice the 1 MiB limit
	rsJWK, _ := json.Marshal(k.rs.jwk(t, false))
	const (
		wellKnown   = "/.well-known/openid-configuration"
		unavailable = "cannot be reached"
		exchange    = "could not be completed"
		checks      = "did not pass the security checks"
		userinfo    = "user information did not match"
	)
	slow := func(path string) func(tp *testProvider) {
		return func(tp *testProvider) { tp.atkDelay = map[string]time.Duration{path: time.Minute} }
	}
	stall := func(path string) func(tp *testProvider) {
		return func(tp *testProvider) { tp.atkStall = map[string]bool{path: true} }
	}
	discovery := func(changes map[string]interface{}) func(tp *testProvider) {
		return func(tp *testProvider) { tp.atkDiscovery = atkDiscoveryDoc(tp, changes) }
	}
	cases := []struct {
		name     string
		set      func(tp *testProvider)
		callback bool // the failure comes at the callback; else at the login start
		status   int
		page     string
	}{
		{name: "discovery slow", set: slow(wellKnown), status: 503, page: unavailable},
		{name: "discovery stalls in the body", set: stall(wellKnown), status: 503, page: unavailable},
		{name: "discovery over 1 MiB", set: discovery(map[string]interface{}{"padding": huge}), status: 503, page: unavailable},
		{name: "discovery not JSON", set: func(tp *testProvider) { tp.atkDiscovery = []byte(`{"issuer":"` + tp.issuer + `",`) }, status: 503, page: unavailable},
		{name: "discovery a JSON array", set: func(tp *testProvider) { tp.atkDiscovery = []byte(`[]`) }, status: 503, page: unavailable},
		{name: "discovery with wrong types", set: discovery(map[string]interface{}{"authorization_endpoint": []string{"x"}}), status: 503, page: unavailable},
		{name: "discovery issuer with a trailing slash", set: func(tp *testProvider) { tp.discoveryIssuer = tp.issuer + "/" }, status: 503, page: unavailable},
		{name: "discovery authorization endpoint javascript:", set: discovery(map[string]interface{}{"authorization_endpoint": "javascript:alert(1)//"}), status: 503, page: unavailable},
		{name: "discovery authorization endpoint scheme-relative", set: discovery(map[string]interface{}{"authorization_endpoint": "//evil.example/authorize"}), status: 503, page: unavailable},
		{name: "discovery token endpoint file:", set: discovery(map[string]interface{}{"token_endpoint": "file:///etc/passwd"}), status: 503, page: unavailable},
		{name: "discovery without jwks_uri", set: discovery(map[string]interface{}{"jwks_uri": nil}), status: 503, page: unavailable},
		// RFC 6749 section 3.1: the endpoint URI MUST NOT include a fragment. With
		// one, the parameters ags appends land in the fragment, never sent to the
		// provider (found by FuzzParseDiscovery).
		{name: "discovery authorization endpoint with a fragment", set: func(tp *testProvider) {
			tp.atkDiscovery = atkDiscoveryDoc(tp, map[string]interface{}{"authorization_endpoint": tp.issuer + "/authorize#x"})
		}, status: 503, page: unavailable},

		// A key set that cannot be had is the provider being unavailable (SPEC 8):
		// 503, as at discovery, not the page of a forged token (issue 23, 9).
		{name: "keys slow", set: slow("/jwks"), callback: true, status: 503, page: unavailable},
		{name: "keys stall in the body", set: stall("/jwks"), callback: true, status: 503, page: unavailable},
		{name: "keys over 1 MiB", set: func(tp *testProvider) {
			tp.atkKeys = []byte(`{"keys":[` + string(rsJWK) + `],"padding":"` + huge + `"}`)
		}, callback: true, status: 503, page: unavailable},
		{name: "keys not JSON", set: func(tp *testProvider) { tp.atkKeys = []byte(`{"keys":[`) }, callback: true, status: 503, page: unavailable},
		{name: "keys with wrong types", set: func(tp *testProvider) { tp.atkKeys = []byte(`{"keys":"rsa-a"}`) }, callback: true, status: 503, page: unavailable},
		{name: "keys answer 500", set: func(tp *testProvider) { tp.atkJWKSStatus = 500 }, callback: true, status: 503, page: unavailable},
		// A key set that was had but holds no key for the token: the token fails.
		{name: "keys empty", set: func(tp *testProvider) { tp.atkKeys = []byte(`{"keys":[]}`) }, callback: true, status: 401, page: checks},
		{name: "keys without the token's key", set: func(tp *testProvider) { tp.atkKeys = atkKeySet(t, k.rsB) }, callback: true, status: 401, page: checks},

		{name: "token slow", set: slow("/token"), callback: true, status: 502, page: exchange},
		{name: "token stalls in the body", set: stall("/token"), callback: true, status: 502, page: exchange},
		{name: "token over 1 MiB", set: func(tp *testProvider) {
			tp.tokenStatus = 200
			tp.tokenBody = `{"access_token":"access-1","token_type":"Bearer","id_token":"a.b.c","padding":"` + huge + `"}`
		}, callback: true, status: 502, page: exchange},
		{name: "token not JSON", set: func(tp *testProvider) {
			tp.tokenStatus, tp.tokenBody = 200, `{"access_token":"access-1",`
		}, callback: true, status: 502, page: exchange},
		{name: "token with wrong types", set: func(tp *testProvider) {
			tp.tokenStatus, tp.tokenBody = 200, `{"access_token":5,"token_type":"Bearer","id_token":"a.b.c"}`
		}, callback: true, status: 502, page: exchange},
		{name: "token without id_token", set: func(tp *testProvider) {
			tp.tokenStatus, tp.tokenBody = 200, `{"access_token":"access-1","token_type":"Bearer"}`
		}, callback: true, status: 502, page: exchange},
		{name: "token id_token an object", set: func(tp *testProvider) {
			tp.tokenStatus, tp.tokenBody = 200, `{"access_token":"access-1","token_type":"Bearer","id_token":{"alg":"none"}}`
		}, callback: true, status: 502, page: exchange},
		{name: "token type not Bearer", set: func(tp *testProvider) {
			tp.tokenStatus, tp.tokenBody = 200, `{"access_token":"access-1","token_type":"mac","id_token":"a.b.c"}`
		}, callback: true, status: 502, page: exchange},
		{name: "token null", set: func(tp *testProvider) { tp.tokenStatus, tp.tokenBody = 200, `null` }, callback: true, status: 502, page: exchange},

		{name: "userinfo slow", set: slow("/userinfo"), callback: true, status: 401, page: userinfo},
		{name: "userinfo stalls in the body", set: stall("/userinfo"), callback: true, status: 401, page: userinfo},
		{name: "userinfo over 1 MiB", set: func(tp *testProvider) {
			tp.atkUserinfo = []byte(`{"sub":"user-42","padding":"` + huge + `"}`)
		}, callback: true, status: 401, page: userinfo},
		{name: "userinfo not JSON", set: func(tp *testProvider) { tp.atkUserinfo = []byte(`{"sub":`) }, callback: true, status: 401, page: userinfo},
		{name: "userinfo a signed JWT", set: func(tp *testProvider) {
			tp.atkUserinfo = []byte(tpSign(tp.key, tp.kid, map[string]interface{}{"sub": "user-42"}))
		}, callback: true, status: 401, page: userinfo},
		{name: "userinfo sub a number", set: func(tp *testProvider) { tp.atkUserinfo = []byte(`{"sub":42}`) }, callback: true, status: 401, page: userinfo},
		{name: "userinfo without sub", set: func(tp *testProvider) { tp.atkUserinfo = []byte(`{"email":"ada@example.org"}`) }, callback: true, status: 401, page: userinfo},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.atkKeys = atkKeySet(t, k.rs)
			tp.atkToken = func(nonce, accessToken string) string { return k.rs.sign(t, nil, atkClaims(tp, nonce, accessToken)) }
			tp.set(tc.set)
			c := flowConfig(tp)
			c.Timeout = "250ms"
			if strings.HasPrefix(tc.name, "userinfo") {
				c.Userinfo = "required" // auto goes on without it: TestUserinfoModes
			}
			m, app := newFlow(t, c)
			b := newFlowBrowser(t, m)
			start := time.Now()
			rec := b.get("/private")
			if tc.callback {
				callback := b.authorize(rec)
				start = time.Now()
				rec = b.get(callback)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s, want the 250ms timeout to hold", took)
			}
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.page) {
				t.Errorf("got %d %q, want %d with %q", rec.Code, rec.Body.String(), tc.status, tc.page)
			}
			atkNoSession(t, b, rec)
			if app.calls != 0 {
				t.Errorf("the app was called %d times", app.calls)
			}
		})
	}
}

// TestAttackErrorPagesEscape: what a provider or an attacker puts in an error, an
// error_description or a claim is escaped on the page, with debug on and off.
func TestAttackErrorPagesEscape(t *testing.T) {
	const xss = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
	stateOf := func(callback string) string {
		u, _ := url.Parse(callback)
		return u.Query().Get("state")
	}
	cases := []struct {
		name     string
		set      func(tp *testProvider)
		callback func(good string) string
		shown    bool // the provider's words are always shown; other detail only with debug
	}{
		{name: "error callback", callback: func(good string) string {
			return "/oidc_callback?error=" + url.QueryEscape(xss) + "&error_description=" + url.QueryEscape(xss) + "&state=" + stateOf(good)
		}, shown: true},
		{name: "error callback without state", callback: func(good string) string {
			return "/oidc_callback?error=" + url.QueryEscape(xss) + "&error_description=" + url.QueryEscape(xss)
		}, shown: true},
		{name: "token endpoint error", set: func(tp *testProvider) {
			b, _ := json.Marshal(map[string]string{"error": xss, "error_description": xss})
			tp.tokenStatus, tp.tokenBody = 400, string(b)
		}, shown: true},
		{name: "issuer claim", set: func(tp *testProvider) { tp.claims = func(c map[string]interface{}) { c["iss"] = xss } }},
		{name: "userinfo sub", set: func(tp *testProvider) { tp.userinfoSub = xss }},
	}
	for _, debug := range []string{"false", "true"} {
		for _, tc := range cases {
			tc := tc
			debug := debug
			t.Run(tc.name+", debug "+debug, func(t *testing.T) {
				tp := newTestProvider(t)
				if tc.set != nil {
					tp.set(tc.set)
				}
				c := flowConfig(tp)
				c.Debug = debug
				m, _ := newFlow(t, c)
				b := newFlowBrowser(t, m)
				target := b.authorize(b.get("/private"))
				if tc.callback != nil {
					target = tc.callback(target)
				}
				rec := b.get(target)
				page := rec.Body.String()
				for _, raw := range []string{"<script", "<img", "onerror=alert(2)>"} {
					if strings.Contains(page, raw) {
						t.Errorf("the page holds %q unescaped: %s", raw, page)
					}
				}
				if (tc.shown || debug == "true") && !strings.Contains(page, escaped) {
					t.Errorf("got page %s, want the text shown escaped", page)
				}
				h := rec.Header()
				if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") {
					t.Errorf("headers: got %v", h)
				}
				atkNoSession(t, b, rec)
			})
		}
	}
}

// TestAttackLogInjection: anyone can send /oidc_callback?error=...&error_description=
// with line breaks in it, and a provider's error can hold them too; the log must keep
// one line per event, so that no line can be forged.
func TestAttackLogInjection(t *testing.T) {
	const forged = "2001-01-01T00:00:00Z INFO ags[test]: sign-in sub=\"admin\""
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	log := atkCaptureLog(m)
	b := newFlowBrowser(t, m)
	b.get("/oidc_callback?error=access_denied&error_description=" + url.QueryEscape("denied\n"+forged))
	b.get("/oidc_callback?error=" + url.QueryEscape("denied\r\n"+forged))
	body, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": "expired\n" + forged})
	tp.set(func(tp *testProvider) { tp.tokenStatus, tp.tokenBody = 400, string(body) })
	b.signIn("/private")

	down := newTestProvider(t)
	down.down = true
	m2, _ := newFlow(t, flowConfig(down))
	log2 := atkCaptureLog(m2)
	newFlowBrowser(t, m2).get("/admin/x" + url.PathEscape("\n"+forged))

	for _, text := range []string{log.String(), log2.String()} {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimPrefix(line, "\r"), "2001-01-01") {
				t.Errorf("a forged line made it into the log: %q\nlog:\n%s", line, text)
			}
		}
	}
}
