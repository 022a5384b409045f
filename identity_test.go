package ags

import (
	"net/http"
	"strings"
	"testing"
)

// TestHeaderCheckNeverTrustsAnIdentityHeader: the common headers the request path
// lets through without a walk never include an identity header, even one that the
// configuration makes out of a common name.
func TestHeaderCheckNeverTrustsAnIdentityHeader(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.IdentityHeaders = map[string]string{"name": "X-Request-Id", "email": "Via"}
	c.PassAccessToken = "true"
	m, _ := newFlow(t, c)
	check := newHeaderCheck(m.removedHeaders)
	for k := range m.removedHeaders {
		if check.common[k] {
			t.Errorf("%s is an identity header and in the common set", k)
		}
	}
	for _, k := range []string{"X-Request-Id", "Via", "Authorization", "X-Auth-Request-User"} {
		if !m.removedHeaders[k] || check.common[k] {
			t.Errorf("%s: removedHeaders %v, common %v", k, m.removedHeaders[k], check.common[k])
		}
	}
	if !check.common["Accept"] || !check.common["X-Forwarded-For"] {
		t.Error("Accept and X-Forwarded-For are not in the common set")
	}
}

// TestHeaderCheck: the one-call check answers "may carry an identity header" for
// exactly the requests that have a header outside the common set.
func TestHeaderCheck(t *testing.T) {
	check := newHeaderCheck(map[string]bool{"X-Auth-Request-User": true})
	for _, tc := range []struct {
		name     string
		header   http.Header
		uncommon bool
	}{
		{"none", http.Header{}, false},
		{"browser", http.Header{"Accept": {"text/html"}, "Cookie": {strings.Repeat("c", 4000)}, "User-Agent": {"x"}, "X-Forwarded-For": {"1.2.3.4"}}, false},
		{"identity", http.Header{"Accept": {"text/html"}, "X-Auth-Request-User": {"forged"}}, true},
		{"identity, underscores", http.Header{"X_auth_request_user": {"forged"}}, true},
		{"unknown", http.Header{"Accept": {"*/*"}, "X-My-App": {"1"}}, true},
		{"identity among many", http.Header{"Accept": {"a"}, "Accept-Language": {"b"}, "Referer": {"c"}, "X-Auth-Request-User": {"d"}, "Origin": {"e"}}, true},
	} {
		if got := tc.header.WriteSubset(check.sink, check.common) != nil; got != tc.uncommon {
			t.Errorf("%s: uncommon %v, want %v", tc.name, got, tc.uncommon)
		}
	}
}

// TestIdentityHeaderAmongCommonHeaders: a forged identity header is stripped when it
// is the only header outside the common set, signed in or not, and with a custom
// identity header whose name is a common one.
func TestIdentityHeaderAmongCommonHeaders(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.IdentityHeaders = map[string]string{"name": "X-Request-Id"}
	m, app := newFlow(t, c)
	signedIn := newFlowBrowser(t, m)
	signedIn.signIn("/private")
	signedOut := newFlowBrowser(t, m)
	for _, b := range []*flowBrowser{signedOut, signedIn} {
		for _, forged := range []string{"X-Auth-Request-Email", "X_auth_request_user", "X-Request-Id"} {
			for i := 0; i < 3; i++ { // the second and third time from the caches
				rec := b.do(http.MethodGet, "/public", http.Header{"Accept": {"text/html"}, forged: {"forged"}})
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: got %d", forged, rec.Code)
				}
				if got := strings.Join(app.last.Header[forged], ","); got == "forged" || strings.Contains(got, "forged") {
					t.Fatalf("%s reached the app: %q", forged, got)
				}
			}
		}
	}
}

// TestUnverifiedEmailNotPassed: an address the provider says is not verified never
// reaches the app, under X-Auth-Request-Email or a mapped header, unless
// allowUnverifiedEmail; an absent email_verified passes. Each sign-in logs it once.
func TestUnverifiedEmailNotPassed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verified interface{} // nil: absent from the ID token
		userinfo string      // "" : the test provider's own userinfo
		passes   bool
	}{
		{name: "absent", passes: true},
		{name: "true", verified: true, passes: true},
		{name: "string true", verified: "true", passes: true},
		{name: "false", verified: false},
		{name: "string false", verified: "false"},
		{name: "string FALSE", verified: "FALSE"},
		{name: "false in userinfo only", userinfo: `{"sub":"user-42","email":"ada@example.org","email_verified":false}`},
		{name: "true in userinfo only", userinfo: `{"sub":"user-42","email":"ada@example.org","email_verified":true}`, passes: true},
	} {
		for _, allow := range []string{"", "false", "true"} {
			t.Run(tc.name+"/allowUnverifiedEmail="+allow, func(t *testing.T) {
				tp := newTestProvider(t)
				tp.set(func(tp *testProvider) {
					tp.claims = func(c map[string]interface{}) {
						if tc.verified != nil {
							c["email_verified"] = tc.verified
						}
					}
					if tc.userinfo != "" {
						tp.atkUserinfo = []byte(tc.userinfo)
					}
				})
				c := flowConfig(tp)
				c.AllowUnverifiedEmail = allow
				c.IdentityHeaders = map[string]string{"email": "X-Mail"}
				m, app := newFlow(t, c)
				log := atkCaptureLog(m)
				b := newFlowBrowser(t, m)
				b.signIn("/private")
				b.get("/private")
				want := ""
				if tc.passes || allow == "true" {
					want = "ada@example.org"
				}
				for _, h := range []string{headerEmail, "X-Mail"} {
					if got := app.last.Header.Get(h); got != want {
						t.Errorf("%s: got %q, want %q", h, got, want)
					}
				}
				if got, wantLines := strings.Count(log.String(), "not verified"), map[bool]int{true: 0, false: 1}[tc.passes]; got != wantLines {
					t.Errorf("got %d log lines about the unverified address, want %d:\n%s", got, wantLines, log.String())
				}
			})
		}
	}
}
