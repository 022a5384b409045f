package ags

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// publicPathCases read paths over the path readings table (encodings, "//", dot
// segments, ;params, %2F, a segment's trailing dot) with authenticatedPaths [".*"] and
// publicPaths [healthz, "static/.*"]: a path opens only if every reading of it is
// public.
var publicPathCases = []struct {
	path string
	open bool
}{
	{"/healthz", true},
	{"/healthz/", true},
	{"/%68ealthz", true},
	{"/static", true},
	{"/static/app.js", true},
	{"/static/css/site.css", true},
	{"/static/./app.js", true},
	{"/static/a%20b.js", true},
	{"/static/x/../app.js", true},
	{"/", false},
	{"/admin", false},
	{"/healthzx", false},
	{"/x/healthz", false},
	{"/staticx/app.js", false},
	{"/healthz;x", false},
	{"/healthz;x/", false},
	{"/healthz.", false},
	{"/healthz%20", false},
	{"/healthz%00", false},
	{"/healthz%2F", false},
	{"/healthz/../admin", false},
	{"/healthz/..%2Fadmin", false},
	{"/static/../admin", false},
	{"/static/..%2Fadmin", false},
	{"/static/%2e%2e/admin", false},
	{"/static/%252e%252e/admin", false},
	{"/static%2F..%2Fadmin", false},
	{"/static%2Fapp.js", false},
	{"/static;x/../admin", false},
	{"//admin", false},
	{"/static/..;/admin", false},
}

func publicPathsConfig(tp *testProvider) *Config {
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{".*"}
	c.PublicPaths = []string{"healthz", "static/.*"}
	return c
}

// TestPublicPaths: through ServeHTTP, a public path reaches the app without a
// session, and with a session whose user the rules refuse; every other reading of
// the table is protected (a visitor is sent to sign in, the refused user gets 403),
// on the first request and on the next, which reads the cache of open paths.
func TestPublicPaths(t *testing.T) {
	tp := newTestProvider(t)
	visitor, app := newFlow(t, publicPathsConfig(tp))
	refusing := publicPathsConfig(tp)
	refusing.RequiredClaims = map[string]interface{}{"groups": []interface{}{"nobody"}}
	refused, _ := newFlow(t, refusing)
	b := newFlowBrowser(t, refused)
	b.signIn("/admin")
	for round := 0; round < 2; round++ {
		for _, tc := range publicPathCases {
			app.calls = 0
			rec := newFlowBrowser(t, visitor).get(tc.path)
			if got := rec.Code == http.StatusOK && app.calls == 1; got != tc.open {
				t.Errorf("round %d, visitor, %s: got %d, want open %v", round, tc.path, rec.Code, tc.open)
			}
			if !tc.open && (rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize?")) {
				t.Errorf("round %d, visitor, %s: got %d to %q, want a sign-in", round, tc.path, rec.Code, rec.Header().Get("Location"))
			}
			rec = b.get(tc.path)
			want := http.StatusForbidden
			if tc.open {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Errorf("round %d, refused user, %s: got %d, want %d", round, tc.path, rec.Code, want)
			}
		}
	}
	for _, tc := range publicPathCases {
		u := httptest.NewRequest(http.MethodGet, "http://app.example"+tc.path, nil).URL
		if got := visitor.isProtected(u.Path, u.RawPath); got == tc.open {
			t.Errorf("isProtected(%q, %q): got %v, want %v", u.Path, u.RawPath, got, !tc.open)
		}
	}
}

// TestPublicPathsOption: publicPaths comes from AGS_CLIENT_PUBLIC_PATHS too, and a
// bad expression is an error that names it.
func TestPublicPathsOption(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{".*"}
	env := map[string]string{"AGS_CLIENT_PUBLIC_PATHS": "healthz, static/.*"}
	m, _ := newFlow(t, c.resolved(func(k string) string { return env[k] }))
	for _, tc := range []struct {
		path string
		want int
	}{{"/healthz", http.StatusOK}, {"/static/app.js", http.StatusOK}, {"/admin", http.StatusFound}} {
		if rec := newFlowBrowser(t, m).get(tc.path); rec.Code != tc.want {
			t.Errorf("%s with publicPaths from the environment: got %d, want %d", tc.path, rec.Code, tc.want)
		}
	}
	for _, bad := range [][]string{{"("}, {"healthz", " "}} {
		c := flowConfig(tp)
		c.PublicPaths = bad
		if _, err := newMiddleware(&flowBackend{}, c, "test"); err == nil || !strings.Contains(err.Error(), "publicPaths[") {
			t.Errorf("publicPaths %q: got error %v, want one naming publicPaths", bad, err)
		}
	}
}
