package ags

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestEndSessionOverrides: endSessionURL and endSessionParams send the browser where
// the provider signs out, with exactly the parameters it reads, under its names.
func TestEndSessionOverrides(t *testing.T) {
	cases := []struct {
		name       string
		announced  bool              // the provider announces end_session_endpoint
		url        string            // endSessionURL
		params     map[string]string // endSessionParams
		env        map[string]string
		loginHint  string // the ID token's login_hint claim
		wantPrefix string // "ISSUER" stands for the test provider
		wantKeys   []string
		wantState  bool // a sign-out state cookie is kept
	}{
		{name: "announced", announced: true, wantPrefix: "ISSUER/end_session?",
			wantKeys: []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state"}, wantState: true},
		{name: "endSessionURL replaces the announced one", announced: true, url: "https://login.example.org/oidc/logout?tenant=t1",
			wantPrefix: "https://login.example.org/oidc/logout?", wantKeys: []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state", "tenant"}, wantState: true},
		{name: "endSessionURL where none is announced", url: "https://login.example.org/logout",
			wantPrefix: "https://login.example.org/logout?", wantKeys: []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state"}, wantState: true},
		{name: "Cognito", url: "https://my-domain.auth.eu-west-1.amazoncognito.com/logout",
			params:     map[string]string{"post_logout_redirect_uri": "logout_uri", "client_id": "client_id"},
			wantPrefix: "https://my-domain.auth.eu-west-1.amazoncognito.com/logout?", wantKeys: []string{"client_id", "logout_uri"}},
		{name: "Auth0 before late 2023, from the environment",
			env: map[string]string{"AGS_CLIENT_END_SESSION_URL": "https://tenant.eu.auth0.com/v2/logout",
				"AGS_CLIENT_END_SESSION_PARAMS": "post_logout_redirect_uri=returnTo, client_id=client_id"},
			wantPrefix: "https://tenant.eu.auth0.com/v2/logout?", wantKeys: []string{"client_id", "returnTo"}},
		{name: "logout_hint from login_hint", announced: true, loginHint: "O.aa.bb.cc", wantPrefix: "ISSUER/end_session?",
			wantKeys: []string{"client_id", "id_token_hint", "logout_hint", "post_logout_redirect_uri", "state"}, wantState: true},
		{name: "logout_hint not mapped", announced: true, loginHint: "O.aa.bb.cc", params: map[string]string{"id_token_hint": "id_token_hint"},
			wantPrefix: "ISSUER/end_session?", wantKeys: []string{"id_token_hint"}},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.noEndSession = !tc.announced
			if tc.loginHint != "" {
				tp.claims = func(c map[string]interface{}) { c["login_hint"] = tc.loginHint }
			}
			c := flowConfig(tp)
			c.EndSessionURL = tc.url
			c.EndSessionParams = tc.params
			// The environment as New reads it (t.Setenv does not reach Yaegi's os).
			env := tc.env
			c = c.resolved(func(k string) string { return env[k] })
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			b.signIn("/private")
			rec := b.get("/sign-out")
			loc := rec.Header().Get("Location")
			want := strings.Replace(tc.wantPrefix, "ISSUER", tp.issuer, 1)
			if rec.Code != http.StatusFound || !strings.HasPrefix(loc, want) {
				t.Fatalf("sign-out: got %d to %q, want 302 to %s...", rec.Code, loc, want)
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			var keys []string
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, " ") != strings.Join(tc.wantKeys, " ") {
				t.Errorf("parameters: got %v, want %v", keys, tc.wantKeys)
			}
			for _, k := range []string{"post_logout_redirect_uri", "logout_uri", "returnTo"} {
				if v := q.Get(k); v != "" && v != "http://app.example/sign-out" {
					t.Errorf("%s: got %q, want the sign-out address", k, v)
				}
			}
			if v := q.Get("client_id"); v != "" && v != tpClientID {
				t.Errorf("client_id: got %q", v)
			}
			if v := q.Get("logout_hint"); v != "" && v != tc.loginHint {
				t.Errorf("logout_hint: got %q, want %q", v, tc.loginHint)
			}
			_, kept := b.jar["ags_client_session_signout"]
			if kept != tc.wantState {
				t.Errorf("sign-out state kept: got %v, want %v (jar %v)", kept, tc.wantState, b.jar)
			}
			if n := b.sessionCookies(); n != 0 {
				t.Errorf("session cookies left: %d", n)
			}
		})
	}
}

func TestEndSessionOptionErrors(t *testing.T) {
	cases := []struct {
		name   string
		url    string
		params map[string]string
		want   string
	}{
		{"not a URL", "logout", nil, "endSessionURL must be"},
		{"plain http", "http://auth.example.org/logout", nil, "endSessionURL must be"},
		{"a fragment", "https://auth.example.org/logout#x", nil, "endSessionURL must be"},
		{"unknown name", "", map[string]string{"nonce": "nonce"}, `endSessionParams: "nonce" is not one of`},
		{"not a parameter name", "", map[string]string{"state": "st ate"}, "endSessionParams: state must map to a parameter name"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(newTestProvider(t))
			c.EndSessionURL = tc.url
			c.EndSessionParams = tc.params
			_, err := newMiddleware(http.NotFoundHandler(), c, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
