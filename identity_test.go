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
	check := newHeaderCheck(m.stripped)
	for k := range m.stripped {
		if check.common[k] {
			t.Errorf("%s is an identity header and in the common set", k)
		}
	}
	for _, k := range []string{"X-Request-Id", "Via", "Authorization", "X-Auth-Request-User"} {
		if !m.stripped[k] || check.common[k] {
			t.Errorf("%s: stripped %v, common %v", k, m.stripped[k], check.common[k])
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
