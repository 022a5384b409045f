package ags

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAccessTokenClaims (issue 25): with accessTokenClaims, a JWT access token is
// verified as the ID token is and its claims are read after the ID token's and
// userinfo's, by rules and headers; an opaque one fails the sign-in naming the option.
func TestAccessTokenClaims(t *testing.T) {
	cases := []struct {
		name     string
		on, env  string
		edit     func(c map[string]interface{}) // the access token's claims; nil: an opaque token
		idToken  map[string]interface{}
		tenant   bool // an Entra template issuer, tokens of tenantA
		want     int  // the callback's answer
		wantPage string
		wantRule int    // then /private: 200 or 403
		wantDept string // X-Department
	}{
		{name: "roles in the access token", on: "true", edit: func(c map[string]interface{}) {}, want: 302, wantRule: 200, wantDept: "ops"},
		{name: "from the environment", env: "true", edit: func(c map[string]interface{}) {}, want: 302, wantRule: 200, wantDept: "ops"},
		{name: "off: the access token is not read", edit: func(c map[string]interface{}) {}, want: 302, wantRule: 403},
		{name: "the id token's claim comes first", on: "true", edit: func(c map[string]interface{}) {}, idToken: map[string]interface{}{"department": "id"}, want: 302, wantRule: 200, wantDept: "id"},
		{name: "opaque token", on: "true", want: 401, wantPage: "accessTokenClaims"},
		{name: "another issuer", on: "true", edit: func(c map[string]interface{}) { c["iss"] = "https://evil.example" }, want: 401, wantPage: "access token did not pass"},
		{name: "expired", on: "true", edit: func(c map[string]interface{}) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, want: 401, wantPage: "access token did not pass"},
		{name: "no exp", on: "true", edit: func(c map[string]interface{}) { delete(c, "exp") }, want: 401, wantPage: "access token did not pass"},
		{name: "not yet valid", on: "true", edit: func(c map[string]interface{}) { c["nbf"] = time.Now().Add(time.Hour).Unix() }, want: 401, wantPage: "access token did not pass"},
		{name: "another subject", on: "true", edit: func(c map[string]interface{}) { c["sub"] = "user-666" }, want: 401, wantPage: "access token did not pass"},
		{name: "no subject", on: "true", edit: func(c map[string]interface{}) { delete(c, "sub") }, want: 302, wantRule: 200, wantDept: "ops"},
		{name: "alg none", on: "true", edit: func(c map[string]interface{}) { c["alg-none"] = true }, want: 401, wantPage: "access token did not pass"},
		{name: "template issuer, allowed tenant", on: "true", tenant: true, edit: func(c map[string]interface{}) {}, want: 302, wantRule: 200, wantDept: "ops"},
		{name: "template issuer, another tenant", on: "true", tenant: true, edit: func(c map[string]interface{}) { c["tid"] = tenantB }, want: 401, wantPage: "access token did not pass"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			base := tp.issuer
			idToken := map[string]interface{}{}
			for k, v := range tc.idToken {
				idToken[k] = v
			}
			if tc.tenant {
				tp.set(func(tp *testProvider) { tp.mount, tp.discoveryIssuer = "/organizations/v2.0", base+"/{tenantid}/v2.0" })
				idToken["iss"], idToken["tid"] = base+"/"+tenantA+"/v2.0", tenantA
			}
			reviewUser(tp, idToken, nil)
			if tc.edit != nil {
				tp.set(func(tp *testProvider) {
					tp.accessJWT = func(c map[string]interface{}) {
						c["department"] = "ops"
						if tc.tenant {
							c["iss"], c["tid"] = base+"/"+tenantA+"/v2.0", tenantA
						}
						tc.edit(c)
						if c["tid"] != nil && c["tid"] != tenantA {
							c["iss"] = base + "/" + tenantB + "/v2.0"
						}
					}
				})
			}
			providersSetenv(t, "AGS_CLIENT_ACCESS_TOKEN_CLAIMS", tc.env)
			c := flowConfig(tp)
			if tc.tenant {
				c.Issuer, c.AllowedTenants = base+"/organizations/v2.0", []string{tenantA}
			}
			c.AccessTokenClaims = tc.on
			c.RequiredClaims = map[string]interface{}{"realm_access.roles": []interface{}{"ags-admin"}}
			c.IdentityHeaders = map[string]string{"department": "X-Department"}
			m, app := newFlow(t, c)
			b := newFlowBrowser(t, m)
			rec := b.signIn("/private")
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantPage) {
				t.Fatalf("callback: got %d %s, want %d with %q", rec.Code, rec.Body.String(), tc.want, tc.wantPage)
			}
			if tc.want != 302 {
				if b.sessionCookies() != 0 {
					t.Errorf("a refused sign-in left a session")
				}
				return
			}
			rec = b.get("/private")
			if rec.Code != tc.wantRule {
				t.Fatalf("/private: got %d, want %d", rec.Code, tc.wantRule)
			}
			if tc.wantRule == 200 {
				if got := app.last.Header.Get("X-Department"); got != tc.wantDept {
					t.Errorf("X-Department: got %q, want %q", got, tc.wantDept)
				}
				r := httptest.NewRequest(http.MethodGet, "http://app.example/", nil)
				for name, value := range b.jar {
					r.AddCookie(&http.Cookie{Name: name, Value: value})
				}
				sess := m.sessionOf(r, &identity{})
				if sess == nil {
					t.Fatal("the session does not open")
				}
				for _, name := range []string{"jti", "azp", "typ"} {
					if _, kept := sess.AccessClaims[name]; kept {
						t.Errorf("the session keeps the access token's %s, which nothing reads", name)
					}
				}
			}
		})
	}
}
