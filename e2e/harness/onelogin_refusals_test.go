package harness

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Each request One Login refuses is refused the way it refuses it: an error page
// when the client or redirect URI is unknown, else a redirect with error.
func TestOneLoginAuthorizeRefusals(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	secretRP := newRelyingParty(t, ol, func(c *OneLoginClient) { c.PublicKeyPEM = ""; c.Secret = "s3cret" })
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	withQuery := func(change func(url.Values)) func() url.Values {
		return func() url.Values { q := rp.query(); change(q); return q }
	}
	withObject := func(alg jose.SignatureAlgorithm, key any, change func(map[string]any)) func() url.Values {
		return func() url.Values {
			c := rp.objectClaims()
			change(c)
			return rp.objectQuery(rp.sign(alg, key, c))
		}
	}
	tests := []struct {
		name      string
		query     func() url.Values
		wantPage  bool   // 400 and no redirect
		wantError string // the redirect's error
		wantDesc  string // part of its error_description
	}{
		{name: "unregistered redirect URI", wantPage: true,
			query: withQuery(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9/elsewhere") })},
		{name: "unknown client", wantPage: true, query: withQuery(func(q url.Values) { q.Set("client_id", "nobody") })},
		{name: "parameter twice", wantPage: true, query: withQuery(func(q url.Values) { q.Add("nonce", "again") })},
		{name: "no openid scope", wantPage: true, query: withQuery(func(q url.Values) { q.Set("scope", "email") })},
		{name: "missing state", wantError: "invalid_request", wantDesc: "state",
			query: withQuery(func(q url.Values) { q.Del("state") })},
		{name: "missing nonce", wantError: "invalid_request", wantDesc: "nonce",
			query: withQuery(func(q url.Values) { q.Del("nonce") })},
		{name: "response_type token", wantError: "unsupported_response_type",
			query: withQuery(func(q url.Values) { q.Set("response_type", "token") })},
		{name: "unknown scope", wantError: "invalid_scope",
			query: withQuery(func(q url.Values) { q.Set("scope", "openid profile") })},
		{name: "identity with Cl", wantError: "invalid_request", wantDesc: "vtr not valid",
			query: withQuery(func(q url.Values) { q.Set("vtr", `["Cl.P2"]`) })},
		{name: "identity and non-identity vectors", wantError: "invalid_request", wantDesc: "vtr not valid",
			query: withQuery(func(q url.Values) { q.Set("vtr", `["Cl.Cm.P2","Cl.Cm"]`) })},
		{name: "vtr not JSON", wantError: "invalid_request", wantDesc: "vtr not valid",
			query: withQuery(func(q url.Values) { q.Set("vtr", "Cl.Cm") })},
		{name: "unknown claim", wantError: "invalid_request", wantDesc: "claims",
			query: withQuery(func(q url.Values) { q.Set("claims", `{"userinfo":{"name":null}}`) })},
		{name: "PKCE plain", wantError: "invalid_request", wantDesc: "code_challenge_method",
			query: withQuery(func(q url.Values) { q.Set("code_challenge", "abc"); q.Set("code_challenge_method", "plain") })},
		{name: "request_uri", wantError: "request_uri_not_supported",
			query: withQuery(func(q url.Values) { q.Set("request_uri", "https://example.org/r") })},
		{name: "identity for a client_secret_post client", wantError: "invalid_request", wantDesc: "not permitted",
			query: func() url.Values {
				q := secretRP.query()
				return q
			}},
		{name: "request object with the wrong aud", wantError: "access_denied",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["aud"] = ol.Issuer })},
		{name: "request inside the request object", wantError: "invalid_request", wantDesc: "request inside",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["request"] = "eyJ.eyJ.sig" })},
		{name: "request_uri inside the request object", wantError: "invalid_request", wantDesc: "request_uri inside",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["request_uri"] = "https://example.org/r" })},
		{name: "request object's client_id differs", wantError: "unauthorized_client",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["client_id"] = "someone-else" })},
		{name: "request object's iss is not the client", wantError: "unauthorized_client",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["iss"] = "someone-else" })},
		{name: "request object expired", wantError: "invalid_request", wantDesc: "expired",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })},
		{name: "request object from the future", wantError: "invalid_request", wantDesc: "not valid yet",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })},
		{name: "request object's vtr not an array of strings", wantError: "invalid_request", wantDesc: "vtr not valid",
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["vtr"] = []any{1} })},
		{name: "request object signed by another key", wantPage: true,
			query: withObject(jose.RS256, other, func(map[string]any) {})},
		{name: "request object signed ES256", wantPage: true,
			query: func() url.Values {
				k, _, _ := newECKey()
				c := rp.objectClaims()
				return rp.objectQuery(rp.sign(jose.ES256, k, c))
			}},
		{name: "request object with an unregistered redirect URI", wantPage: true,
			query: withObject(jose.RS256, nil, func(c map[string]any) { c["redirect_uri"] = "http://127.0.0.1:9/elsewhere" })},
		{name: "other parameters beside the request object", wantError: "invalid_request", wantDesc: "beside a request object",
			query: func() url.Values {
				q := rp.objectQuery(rp.sign(jose.RS256, nil, rp.objectClaims()))
				q.Set("ui_locales", "cy")
				return q
			}},
		{name: "query scope differs from the request object's", wantError: "invalid_request", wantDesc: "differ",
			query: func() url.Values {
				q := rp.objectQuery(rp.sign(jose.RS256, nil, rp.objectClaims()))
				q.Set("scope", "openid")
				return q
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, loc := rp.authorize(tc.query())
			if tc.wantPage {
				if status != http.StatusBadRequest || loc != nil {
					t.Errorf("got %d to %v, want an error page (400)", status, loc)
				}
				return
			}
			if status != http.StatusFound || loc == nil {
				t.Fatalf("got %d, want a redirect", status)
			}
			got := loc.Query()
			if got.Get("error") != tc.wantError || !strings.Contains(got.Get("error_description"), tc.wantDesc) || got.Has("code") {
				t.Errorf("got %v, want error %s with %q", got, tc.wantError, tc.wantDesc)
			}
			if wantState := tc.wantDesc != "state"; got.Has("state") != wantState {
				t.Errorf("state sent back: got %v, want %v", got.Has("state"), wantState)
			}
			if loc.Scheme+"://"+loc.Host+loc.Path != rp.redirect {
				t.Errorf("redirect: got %v, want %s", loc, rp.redirect)
			}
		})
	}
}

// Each token request One Login refuses is refused with its error.
func TestOneLoginTokenRefusals(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	secretRP := newRelyingParty(t, ol, func(c *OneLoginClient) { c.PublicKeyPEM = ""; c.Secret = "s3cret" })
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	withAssertion := func(change func(map[string]any)) func(url.Values) {
		return func(f url.Values) { f.Set("client_assertion", rp.assertion(jose.RS256, change)) }
	}
	tests := []struct {
		name      string
		rp        *relyingParty
		form      func(url.Values)
		replay    bool // send the same request twice; the second is refused
		wantError string
	}{
		{name: "assertion aud is the authorize URL", wantError: "invalid_client",
			form: withAssertion(func(c map[string]any) { c["aud"] = ol.URL("authorize") })},
		{name: "assertion iss is not the client", wantError: "invalid_client",
			form: withAssertion(func(c map[string]any) { c["iss"] = "someone-else" })},
		{name: "assertion expired", wantError: "invalid_grant",
			form: withAssertion(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })},
		{name: "assertion valid for an hour", wantError: "invalid_client",
			form: withAssertion(func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() })},
		{name: "assertion without jti", wantError: "invalid_request",
			form: withAssertion(func(c map[string]any) { delete(c, "jti") })},
		{name: "assertion signed by another key", wantError: "invalid_client",
			form: func(f url.Values) {
				now := time.Now()
				f.Set("client_assertion", rp.sign(jose.RS256, other, map[string]any{"iss": rp.id, "sub": rp.id,
					"aud": ol.URL("token"), "exp": now.Add(time.Minute).Unix(), "jti": randomToken()}))
			}},
		{name: "wrong client_assertion_type", wantError: "invalid_request",
			form: func(f url.Values) { f.Set("client_assertion_type", "jwt") }},
		{name: "replayed jti", replay: true, wantError: "invalid_client", form: func(url.Values) {}},
		{name: "redirect_uri differs", wantError: "invalid_grant",
			form: func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/elsewhere") }},
		{name: "unknown code", wantError: "invalid_grant", form: func(f url.Values) { f.Set("code", "nope") }},
		{name: "code_verifier without a challenge", wantError: "invalid_grant",
			form: func(f url.Values) { f.Set("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") }},
		{name: "grant_type refresh_token", wantError: "unsupported_grant_type",
			form: func(f url.Values) { f.Set("grant_type", "refresh_token") }},
		{name: "client_secret_post with the wrong secret", rp: secretRP, wantError: "invalid_client",
			form: func(f url.Values) {
				f.Del("client_assertion")
				f.Del("client_assertion_type")
				f.Set("client_id", secretRP.id)
				f.Set("client_secret", "wrong")
			}},
		{name: "private_key_jwt for a client_secret_post client", wantError: "invalid_client",
			form: withAssertion(func(c map[string]any) { c["iss"], c["sub"] = secretRP.id, secretRP.id })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := rp
			if tc.rp != nil {
				client = tc.rp
			}
			q := client.query()
			q.Set("vtr", `["Cl.Cm"]`)
			q.Del("claims")
			f := client.tokenForm(client.code(q))
			tc.form(f)
			if tc.replay {
				if status, body := client.post(f); status != http.StatusOK {
					t.Fatalf("first request: got %d %v, want 200", status, body)
				}
				f.Set("code", client.code(q))
			}
			status, body := client.post(f)
			if status != http.StatusBadRequest || body["error"] != tc.wantError {
				t.Errorf("got %d %v, want 400 %s", status, body, tc.wantError)
			}
		})
	}

	t.Run("code used twice", func(t *testing.T) {
		f := rp.tokenForm(rp.code(rp.query()))
		rp.tokens(f)
		f.Set("client_assertion", rp.assertion(jose.RS256, nil))
		if status, body := rp.post(f); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("got %d %v, want 400 invalid_grant", status, body)
		}
	})
	t.Run("client_secret_post", func(t *testing.T) {
		q := secretRP.query()
		q.Set("vtr", `["Cl.Cm"]`)
		f := url.Values{"grant_type": {"authorization_code"}, "code": {secretRP.code(q)},
			"redirect_uri": {secretRP.redirect}, "client_id": {secretRP.id}, "client_secret": {"s3cret"}}
		secretRP.tokens(f)
	})
	t.Run("no User-Agent", func(t *testing.T) {
		for _, path := range []string{"token", "userinfo", ".well-known/did.json"} {
			req, _ := http.NewRequest(http.MethodGet, ol.URL(path), nil)
			if path == "token" {
				req.Method = http.MethodPost
			}
			req.Header.Set("User-Agent", "") // net/http then sends none
			resp, err := rp.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: got %d, want 403", path, resp.StatusCode)
			}
		}
	})
	t.Run("userinfo with an unknown token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, ol.URL("userinfo"), nil)
		req.Header.Set("Authorization", "Bearer nope")
		resp, err := rp.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("got %d %q, want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}
