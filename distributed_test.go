package ags

import (
	"strings"
	"testing"
)

// TestDistributedGroups (issue 25): Entra ID's groups overage. Without groups, and
// with _claim_names.groups naming a _claim_sources endpoint, the groups are fetched
// once at sign-in; when that fails, a rule on groups refuses and the log says why.
func TestDistributedGroups(t *testing.T) {
	cases := []struct {
		name       string
		inUserinfo bool   // the overage is in userinfo rather than the ID token
		endpoint   string // after the provider's URL; "-": a relative URL
		token      string // the source's own access_token
		groups     bool   // the ID token keeps its groups
		status     int
		body       string
		want       string // /private's status and X-Auth-Request-Groups
		wantCalls  int
		wantAuth   string // the Authorization the source got, prefix
	}{
		{name: "groups from the source", endpoint: "/groups", want: "200 ops-admins,staff", wantCalls: 1, wantAuth: "Bearer access-"},
		{name: "the source's own token", endpoint: "/groups", token: "source-token", want: "200 ops-admins,staff", wantCalls: 1, wantAuth: "Bearer source-token"},
		{name: "overage in userinfo", inUserinfo: true, endpoint: "/groups", want: "200 ops-admins,staff", wantCalls: 1, wantAuth: "Bearer access-"},
		{name: "groups present: no fetch", groups: true, endpoint: "/groups", want: "200 admins,staff", wantCalls: 0},
		{name: "the source fails", endpoint: "/groups", status: 500, want: "403 ", wantCalls: 1},
		{name: "the source refuses the token (Azure AD Graph)", endpoint: "/groups", status: 401, want: "403 ", wantCalls: 1},
		{name: "the answer has no groups", endpoint: "/groups", body: `{"value":["ops-admins"]}`, want: "403 ", wantCalls: 1},
		{name: "the answer is not JSON", endpoint: "/groups", body: `eyJhbGciOiJSUzI1NiJ9.e30.sig`, want: "403 ", wantCalls: 1},
		{name: "the answer is over 1 MiB", endpoint: "/groups", body: `{"groups":["ops-admins"],"x":"` + strings.Repeat("a", 1<<20) + `"}`, want: "403 ", wantCalls: 1},
		{name: "a relative endpoint", endpoint: "-", want: "403 ", wantCalls: 0},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			endpoint := tp.issuer + tc.endpoint
			if tc.endpoint == "-" {
				endpoint = "/groups"
			}
			source := map[string]interface{}{"endpoint": endpoint}
			if tc.token != "" {
				source["access_token"] = tc.token
			}
			overage := map[string]interface{}{
				"_claim_names":   map[string]interface{}{"groups": "src1"},
				"_claim_sources": map[string]interface{}{"src1": source},
			}
			idToken := map[string]interface{}{"groups": nil}
			var userinfo map[string]interface{}
			if tc.inUserinfo {
				userinfo = map[string]interface{}{"sub": "user-42"}
				for k, v := range overage {
					userinfo[k] = v
				}
			} else {
				for k, v := range overage {
					idToken[k] = v
				}
			}
			if tc.groups {
				delete(idToken, "groups")
			}
			reviewUser(tp, idToken, userinfo)
			tp.set(func(tp *testProvider) {
				tp.groupsStatus = tc.status
				if tc.body != "" {
					tp.groupsBody = []byte(tc.body)
				}
			})
			c := flowConfig(tp)
			c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"ops-admins", "admins"}}
			m, _ := newFlow(t, c)
			log := &flowLog{}
			m.log.out = log
			got := reviewGet(t, []*middleware{m}, "/private", headerGroups)
			if !reviewSame(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(tp.groupsAuth) != tc.wantCalls {
				t.Errorf("the source was called %d times, want %d", len(tp.groupsAuth), tc.wantCalls)
			}
			if tc.wantAuth != "" && len(tp.groupsAuth) > 0 && !strings.HasPrefix(tp.groupsAuth[0], tc.wantAuth) {
				t.Errorf("the source got Authorization %q, want %s...", tp.groupsAuth[0], tc.wantAuth)
			}
			if strings.HasPrefix(tc.want, "403") && !strings.Contains(log.String(), "groups overage") {
				t.Errorf("no log line names the overage:\n%s", log.String())
			}
		})
	}
}
