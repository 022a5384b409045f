package ags

import (
	"net/http"
	"strings"
	"testing"
)

// TestClaimPathsAndObjects (issue 25): an object claim is the set of its keys for
// rules (ZITADEL's roles), and a quoted step holds dots (Keycloak's client roles
// under resource_access."my.app"), from YAML, Docker labels and the environment.
func TestClaimPathsAndObjects(t *testing.T) {
	zitadel := map[string]interface{}{"admin": map[string]interface{}{"284061812436566017": "ags.example.org"}}
	keycloak := map[string]interface{}{
		"my.app":  map[string]interface{}{"roles": []interface{}{"admin", "viewer"}},
		"account": map[string]interface{}{"roles": []interface{}{"manage-account"}},
	}
	const zRoles = "urn:zitadel:iam:org:project:roles"
	cases := []struct {
		name     string
		idToken  map[string]interface{}
		userinfo map[string]interface{}
		rule     map[string]interface{}
		env      string
		want     int
	}{
		{name: "object keys hold the role", idToken: map[string]interface{}{zRoles: zitadel}, rule: map[string]interface{}{zRoles: []interface{}{"admin"}}, want: 200},
		{name: "object keys lack the role", idToken: map[string]interface{}{zRoles: zitadel}, rule: map[string]interface{}{zRoles: []interface{}{"viewer"}}, want: 403},
		{name: "object values are not keys", idToken: map[string]interface{}{zRoles: zitadel}, rule: map[string]interface{}{zRoles: []interface{}{"ags.example.org"}}, want: 403},
		{name: "object at userinfo", userinfo: map[string]interface{}{"sub": "user-42", zRoles: zitadel}, rule: map[string]interface{}{zRoles: "admin"}, want: 200},
		{name: "object from the environment", idToken: map[string]interface{}{zRoles: zitadel}, env: zRoles + "=admin", want: 200},
		{name: "quoted step", idToken: map[string]interface{}{"resource_access": keycloak}, rule: map[string]interface{}{`resource_access."my.app".roles`: []interface{}{"admin"}}, want: 200},
		{name: "quoted step, role not held", idToken: map[string]interface{}{"resource_access": keycloak}, rule: map[string]interface{}{`resource_access."my.app".roles`: []interface{}{"manage-account"}}, want: 403},
		{name: "unquoted dots cannot reach it", idToken: map[string]interface{}{"resource_access": keycloak}, rule: map[string]interface{}{`resource_access.my.app.roles`: []interface{}{"admin"}}, want: 403},
		{name: "quoted step at userinfo", userinfo: map[string]interface{}{"sub": "user-42", "resource_access": keycloak}, rule: map[string]interface{}{`resource_access."my.app".roles`: []interface{}{"admin"}}, want: 200},
		{name: "quoted step from Docker labels", idToken: map[string]interface{}{"resource_access": keycloak},
			// Traefik splits the label key requiredClaims.resource_access."my.app".roles at every dot.
			rule: map[string]interface{}{"resource_access": map[string]interface{}{`"my`: map[string]interface{}{`app"`: map[string]interface{}{"roles": "viewer,admin"}}}}, want: 200},
		{name: "quoted step from the environment", idToken: map[string]interface{}{"resource_access": keycloak}, env: `resource_access."my.app".roles=x|admin`, want: 200},
		{name: "quoted whole name", idToken: map[string]interface{}{"https://example.org/roles": []interface{}{"admin"}}, rule: map[string]interface{}{`"https://example.org/roles"`: "admin"}, want: 200},
		{name: "quoted object keys", idToken: map[string]interface{}{"org": map[string]interface{}{"a.b": zitadel}}, rule: map[string]interface{}{`org."a.b"`: "admin"}, want: 200},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			reviewUser(tp, tc.idToken, tc.userinfo)
			providersSetenv(t, "AGS_CLIENT_REQUIRED_CLAIMS", tc.env)
			c := flowConfig(tp)
			c.RequiredClaims = tc.rule
			got := reviewGet(t, reviewInstances(t, tp, c), "/private", headerUser)
			want := "403 "
			if tc.want == 200 {
				want = "200 user-42"
			}
			if !reviewSame(got, want) {
				t.Errorf("got %q, want %q every time", got, want)
			}
		})
	}
}

// TestClaimPathErrors: a path that cannot be read stops New, naming requiredClaims.
func TestClaimPathErrors(t *testing.T) {
	for _, name := range []string{`a."b`, `a."".c`, `a."b"c`, `a.b"c".d`, `a."b".`, `"`} {
		c := flowConfig(&testProvider{issuer: "https://idp.example.org"})
		c.RequiredClaims = map[string]interface{}{name: "x"}
		_, err := New(nil, http.NotFoundHandler(), c, "test")
		if err == nil || !strings.Contains(err.Error(), "requiredClaims "+name) {
			t.Errorf("%s: got %v, want an error naming requiredClaims %s", name, err, name)
		}
	}
}
