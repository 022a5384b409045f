package ags

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCORSPreflight: with corsPreflight on, an OPTIONS request with both Origin and
// Access-Control-Request-Method reaches the app on a protected path without a
// session and without identity (a forged identity header stripped); without either
// header, with another method, or with the option off, the request is answered as
// before (a preflight is not let through), and the path stays protected afterwards.
func TestCORSPreflight(t *testing.T) {
	tp := newTestProvider(t)
	on := flowConfig(tp)
	on.CORSPreflight = "true"
	withOption, app := newFlow(t, on)
	without, _ := newFlow(t, flowConfig(tp))
	preflight := http.Header{"Origin": {"https://spa.example"}, "Access-Control-Request-Method": {"POST"}}
	cases := []struct {
		name   string
		method string
		header http.Header
		passes bool // with the option on
	}{
		{"preflight", http.MethodOptions, preflight, true},
		{"preflight with forged identity", http.MethodOptions, http.Header{"Origin": {"https://spa.example"}, "Access-Control-Request-Method": {"GET"}, "X-Auth-Request-User": {"admin"}}, true},
		{"no Origin", http.MethodOptions, http.Header{"Access-Control-Request-Method": {"POST"}}, false},
		{"no Access-Control-Request-Method", http.MethodOptions, http.Header{"Origin": {"https://spa.example"}}, false},
		{"empty Origin", http.MethodOptions, http.Header{"Origin": {""}, "Access-Control-Request-Method": {"POST"}}, false},
		{"bare OPTIONS", http.MethodOptions, nil, false},
		{"GET with both", http.MethodGet, preflight, false},
		{"POST with both", http.MethodPost, preflight, false},
		{"DELETE with both", http.MethodDelete, preflight, false},
	}
	for round := 0; round < 2; round++ { // the second with what the first cached
		for _, tc := range cases {
			before := newFlowBrowser(t, without).do(tc.method, "/private", tc.header)
			if before.Code == http.StatusOK {
				t.Fatalf("%s without corsPreflight: got 200, want the protected path's answer", tc.name)
			}
			app.calls = 0
			app.last = nil // not in one assignment with the line above: Yaegi panics
			rec := newFlowBrowser(t, withOption).do(tc.method, "/private", tc.header)
			if tc.passes {
				if rec.Code != http.StatusOK || app.calls != 1 {
					t.Errorf("round %d, %s: got %d, %d app calls, want the app", round, tc.name, rec.Code, app.calls)
					continue
				}
				if u := app.last.Header.Get(headerUser); u != "" {
					t.Errorf("round %d, %s: the app got identity %q", round, tc.name, u)
				}
				continue
			}
			if rec.Code != before.Code || app.calls != 0 {
				t.Errorf("round %d, %s: got %d (%d app calls), want %d as without corsPreflight", round, tc.name, rec.Code, app.calls, before.Code)
			}
		}
	}
	if rec := newFlowBrowser(t, withOption).get("/private"); rec.Code != http.StatusFound {
		t.Errorf("GET after preflights: got %d, want a sign-in", rec.Code)
	}
	bad := flowConfig(tp)
	bad.CORSPreflight = "yes"
	if _, err := newMiddleware(&flowBackend{}, bad, "test"); err == nil || !strings.Contains(err.Error(), "corsPreflight") {
		t.Errorf("corsPreflight yes: got %v, want an error naming corsPreflight", err)
	}
}

// TestExternalURL: externalURL pins the scheme and host of the redirect_uri, at
// the login's start and at the code exchange, and of the post-logout address,
// whatever the request's Host and X-Forwarded-Proto say; without it they follow the
// request.
func TestExternalURL(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name, external, want string
	}{
		{"pinned", "https://app.example.org", "https://app.example.org"},
		{"pinned with a trailing slash", "https://app.example.org/", "https://app.example.org"},
		{"pinned with a port", "http://app.example.org:8443", "http://app.example.org:8443"},
		{"from the request", "", "http://internal.lan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(tp)
			c.ExternalURL = tc.external
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			b.host = "internal.lan"
			plain := http.Header{"X-Forwarded-Proto": {"http"}}
			start := b.do(http.MethodGet, "/private", plain)
			loc, err := url.Parse(start.Header().Get("Location"))
			if err != nil || start.Code != http.StatusFound {
				t.Fatalf("login start: got %d to %q", start.Code, start.Header().Get("Location"))
			}
			if got := loc.Query().Get("redirect_uri"); got != tc.want+"/oidc_callback" {
				t.Errorf("redirect_uri at the login's start: got %q, want %q", got, tc.want+"/oidc_callback")
			}
			// The provider sends the browser to the redirect_uri; it reaches ags
			// on the internal host.
			resp, err := http.DefaultTransport.RoundTrip(mustRequest(t, loc.String()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			back, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			tp.mu.Lock()
			tp.tokenForms = nil
			tp.mu.Unlock()
			if done := b.do(http.MethodGet, back.RequestURI(), plain); done.Code != http.StatusFound || b.sessionCookies() == 0 {
				t.Fatalf("callback: got %d %s", done.Code, done.Body.String())
			}
			if got := tp.tokenForms[0].Get("redirect_uri"); got != tc.want+"/oidc_callback" {
				t.Errorf("redirect_uri at the code exchange: got %q, want %q", got, tc.want+"/oidc_callback")
			}
			out := b.do(http.MethodGet, "/sign-out", plain)
			end, err := url.Parse(out.Header().Get("Location"))
			if err != nil || !strings.HasPrefix(out.Header().Get("Location"), tp.issuer+"/end_session?") {
				t.Fatalf("sign-out: got %d to %q", out.Code, out.Header().Get("Location"))
			}
			if got := end.Query().Get("post_logout_redirect_uri"); got != tc.want+"/sign-out" {
				t.Errorf("post_logout_redirect_uri: got %q, want %q", got, tc.want+"/sign-out")
			}
		})
	}
	env := map[string]string{"AGS_CLIENT_EXTERNAL_URL": "https://app.example.org"}
	m, _ := newFlow(t, flowConfig(tp).resolved(func(k string) string { return env[k] }))
	start := newFlowBrowser(t, m).get("/private")
	if loc, _ := url.Parse(start.Header().Get("Location")); loc == nil || loc.Query().Get("redirect_uri") != "https://app.example.org/oidc_callback" {
		t.Errorf("externalURL from the environment: got %q", start.Header().Get("Location"))
	}
	for _, bad := range []string{"app.example.org", "ftp://app.example.org", "https://", "https://app.example.org/app", "https://app.example.org?x=1", "https://app.example.org#top", "https://user@app.example.org", "https://app.example.org?"} {
		c := flowConfig(tp)
		c.ExternalURL = bad
		if _, err := newMiddleware(&flowBackend{}, c, "test"); err == nil || !strings.Contains(err.Error(), "externalURL") {
			t.Errorf("externalURL %q: got %v, want an error naming externalURL", bad, err)
		}
	}
}

func mustRequest(t *testing.T, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
