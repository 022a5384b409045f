package ags

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestVectorsOfTrust (SPEC 12, issue 24): with authParams vtr, the ID token's vot
// must be a vector asked for, or one without its P component; otherwise the sign-in
// fails as for a bad ID token (401, no session). With max_age, auth_time must be
// within it.
func TestVectorsOfTrust(t *testing.T) {
	tp := newTestProvider(t)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		params map[string]string
		claims map[string]interface{}
		want   int
	}{
		{"vot as asked", map[string]string{"vtr": `["Cl.Cm"]`}, map[string]interface{}{"vot": "Cl.Cm"}, http.StatusFound},
		{"vot in another order", map[string]string{"vtr": `["Cl.Cm"]`}, map[string]interface{}{"vot": "Cm.Cl"}, http.StatusFound},
		{"one factor where two were asked", map[string]string{"vtr": `["Cl.Cm"]`}, map[string]interface{}{"vot": "Cl"}, http.StatusUnauthorized},
		{"no vot", map[string]string{"vtr": `["Cl.Cm"]`}, nil, http.StatusUnauthorized},
		{"vot not a string", map[string]string{"vtr": `["Cl.Cm"]`}, map[string]interface{}{"vot": []string{"Cl.Cm"}}, http.StatusUnauthorized},
		{"vot malformed", map[string]string{"vtr": `["Cl.Cm"]`}, map[string]interface{}{"vot": "Cl..Cm"}, http.StatusUnauthorized},
		{"more than asked", map[string]string{"vtr": `["Cl"]`}, map[string]interface{}{"vot": "Cl.Cm"}, http.StatusUnauthorized},
		{"one of two vectors", map[string]string{"vtr": `["Cl.Cm","Cl"]`}, map[string]interface{}{"vot": "Cl"}, http.StatusFound},
		{"P2 asked, vot without it (One Login)", map[string]string{"vtr": `["Cl.Cm.P2"]`}, map[string]interface{}{"vot": "Cl.Cm"}, http.StatusFound},
		{"P2 asked, vot with it", map[string]string{"vtr": `["P2.Cl.Cm"]`}, map[string]interface{}{"vot": "Cl.Cm.P2"}, http.StatusFound},
		{"P2 asked, vot P1", map[string]string{"vtr": `["Cl.Cm.P2"]`}, map[string]interface{}{"vot": "Cl.Cm.P1"}, http.StatusUnauthorized},
		{"P2 asked, vot one factor", map[string]string{"vtr": `["Cl.Cm.P2"]`}, map[string]interface{}{"vot": "Cl"}, http.StatusUnauthorized},
		{"no vtr, any vot", nil, map[string]interface{}{"vot": "Cl"}, http.StatusFound},
		{"max_age, fresh", map[string]string{"max_age": "300"}, map[string]interface{}{"auth_time": now.Add(-time.Minute).Unix()}, http.StatusFound},
		{"max_age, within the skew", map[string]string{"max_age": "300"}, map[string]interface{}{"auth_time": now.Add(-330 * time.Second).Unix()}, http.StatusFound},
		{"max_age, too old", map[string]string{"max_age": "300"}, map[string]interface{}{"auth_time": now.Add(-10 * time.Minute).Unix()}, http.StatusUnauthorized},
		{"max_age, no auth_time", map[string]string{"max_age": "300"}, nil, http.StatusUnauthorized},
		{"max_age 0, now", map[string]string{"max_age": "0"}, map[string]interface{}{"auth_time": now.Unix()}, http.StatusFound},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(tp)
			c.Debug = "true"
			c.AuthParams = tc.params
			reviewUser(tp, tc.claims, nil)
			m, app := newFlow(t, c)
			b := newFlowBrowser(t, m)
			rec := b.signIn("/private")
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				if b.sessionCookies() != 0 || app.calls != 0 || !strings.Contains(rec.Body.String(), "level of trust not met") {
					t.Errorf("a refused sign-in left %d session cookies, %d app calls, page %s", b.sessionCookies(), app.calls, rec.Body.String())
				}
			}
		})
	}
}

// TestVectorsOfTrustAcrossInstances: one sign-in serves several routers; an instance
// whose vtr the session does not meet refuses it (403) on its protected paths, from
// the cache too, while the instance it signed in through lets it pass.
func TestVectorsOfTrustAcrossInstances(t *testing.T) {
	tp := newTestProvider(t)
	reviewUser(tp, map[string]interface{}{"vot": "Cl"}, nil)
	low := flowConfig(tp)
	high := flowConfig(tp)
	high.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`}
	lowM, _ := newFlow(t, low)
	highM, highApp := newFlow(t, high)
	b := newFlowBrowser(t, lowM)
	b.signIn("/private")
	for i := 0; i < 2; i++ {
		b.h = lowM
		if rec := b.get("/private"); rec.Code != http.StatusOK {
			t.Errorf("the instance without vtr: got %d, want 200", rec.Code)
		}
		b.h = highM
		if rec := b.get("/private"); rec.Code != http.StatusForbidden || highApp.calls != 0 {
			t.Errorf("the instance asking Cl.Cm, request %d: got %d (%d app calls), want 403", i, rec.Code, highApp.calls)
		}
	}
}

// TestRequestObject (RFC 9101): with requestObject, the authorization request is a
// JWT signed with the client's key, holding every parameter with its JSON type; the
// query holds response_type, scope, client_id and request only. The provider must
// announce request_parameter_supported, and a key is required.
func TestRequestObject(t *testing.T) {
	tp := newTestProvider(t)
	keyPEM, key := clientKey(t, "rsa-2048-pkcs8.pem")
	for _, audience := range []string{"issuer", "authorization_endpoint"} {
		audience := audience
		t.Run(audience, func(t *testing.T) {
			tp.set(func(tp *testProvider) { tp.requestParameter = true })
			c := flowConfig(tp)
			c.ClientPrivateKey = keyPEM
			c.RequestObject = "true"
			c.RequestObjectAudience = audience
			c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`, "claims": `{"userinfo":{"https://vocab.account.gov.uk/v1/address":null}}`, "max_age": "600", "ui_locales": "cy", "prompt": "login"}
			reviewUser(tp, map[string]interface{}{"vot": "Cl.Cm", "auth_time": time.Now().Unix()}, nil)
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			if rec := b.signIn("/private"); rec.Code != http.StatusFound || b.sessionCookies() == 0 {
				t.Fatalf("sign-in with a request object: got %d %s", rec.Code, rec.Body.String())
			}
			tp.mu.Lock()
			q, ro := tp.authorizeQuery, tp.requestObject
			tp.mu.Unlock()
			if len(q) != 4 || q.Get("response_type") != "code" || q.Get("scope") != "openid profile email" || q.Get("client_id") != tpClientID {
				t.Errorf("the query holds %v, want response_type, scope, client_id and request only", q)
			}
			aud := tp.issuer
			if audience == "authorization_endpoint" {
				aud = tp.issuer + "/authorize"
			}
			if ro["iss"] != tpClientID || ro["aud"] != aud || ro["client_id"] != tpClientID || ro["response_type"] != "code" ||
				ro["redirect_uri"] != "http://app.example/oidc_callback" || ro["code_challenge_method"] != "S256" || ro["ui_locales"] != "cy" || ro["prompt"] != "login" {
				t.Errorf("request object claims: %v", ro)
			}
			if vtr, ok := ro["vtr"].([]interface{}); !ok || len(vtr) != 1 || vtr[0] != "Cl.Cm" {
				t.Errorf("vtr is %#v, want the array", ro["vtr"])
			}
			if _, ok := ro["claims"].(map[string]interface{}); !ok {
				t.Errorf("claims is %#v, want an object", ro["claims"])
			}
			if ro["max_age"] != float64(600) {
				t.Errorf("max_age is %#v, want the number 600", ro["max_age"])
			}
			iat, _ := ro["iat"].(float64)
			exp, _ := ro["exp"].(float64)
			if exp-iat != 300 || ro["nbf"] != ro["iat"] || len(ro["jti"].(string)) < 22 || ro["request"] != nil {
				t.Errorf("request object times or jti: %v", ro)
			}
			verifyRequestObject(t, q.Get("request"), key.(*rsa.PublicKey))
		})
	}
	t.Run("not announced", func(t *testing.T) {
		tp.set(func(tp *testProvider) { tp.requestParameter = false })
		c := flowConfig(tp)
		c.ClientPrivateKey = keyPEM
		c.RequestObject = "true"
		m, _ := newFlow(t, c)
		if rec := newFlowBrowser(t, m).get("/private"); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("got %d, want 503: the provider takes no request object", rec.Code)
		}
	})
	for _, bad := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no key", func(c *Config) { c.RequestObject = "true" }, "requestObject needs the client's private key"},
		{"bad audience", func(c *Config) { c.RequestObjectAudience = "token_endpoint" }, "requestObjectAudience must be"},
		{"bad flag", func(c *Config) { c.RequestObject = "yes" }, "requestObject must be true or false"},
		{"vtr not JSON", func(c *Config) { c.AuthParams = map[string]string{"vtr": "Cl.Cm"} }, "authParams vtr must be a JSON array"},
		{"vtr empty", func(c *Config) { c.AuthParams = map[string]string{"vtr": "[]"} }, "authParams vtr must be a JSON array"},
		{"vtr bad vector", func(c *Config) { c.AuthParams = map[string]string{"vtr": `["Cl..Cm"]`} }, "not a vector of trust"},
		{"max_age negative", func(c *Config) { c.AuthParams = map[string]string{"max_age": "-1"} }, "authParams max_age must be whole seconds"},
	} {
		bad := bad
		t.Run(bad.name, func(t *testing.T) {
			c := flowConfig(tp)
			bad.edit(c)
			if _, err := New(nil, http.NotFoundHandler(), c, "ro"); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("got %v, want an error with %q", err, bad.want)
			}
		})
	}
}

// verifyRequestObject checks a request object's header and RS256 signature.
func verifyRequestObject(t *testing.T, token string, key *rsa.PublicKey) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("request object %q is no compact JWS", token)
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var header map[string]string
	json.Unmarshal(h, &header)
	if header["alg"] != "RS256" || header["typ"] != "oauth-authz-req+jwt" || header["kid"] == "" {
		t.Errorf("request object header %v", header)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("request object signature: %v", err)
	}
}

// TestUserAgent: every call to the provider names ags, as One Login asks.
func TestUserAgent(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	newFlowBrowser(t, m).signIn("/private")
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks", "/token", "/userinfo"} {
		if got := tp.userAgents[path]; !strings.HasPrefix(got, "ags/"+version+" (+https://") {
			t.Errorf("%s: User-Agent %q, want ags's", path, got)
		}
	}
}
