package ags

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestAuthenticatedPathMatching(t *testing.T) {
	m := &middleware{cfg: &settings{}}
	var err error
	m.cfg.protected, err = compilePathPatterns([]string{"admin/.*", "/private", "reports/[0-9]+"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want bool
	}{
		{"/admin/", true},
		{"/admin", true},
		{"/admin/users", true},
		{"//admin", true},
		{"//admin//x", true},
		{"/./admin", true},
		{"/x/../admin", true},
		{"/%61dmin", true},
		{"/admin%2F", true},
		{"/%2e/admin", true},
		{"/public/..%2Fadmin", true},
		{"/public/%2e%2e/admin/", true},
		{"/public/%252e%252e/admin", true},
		{"/admin;jsessionid=1/x", true},
		{"/admin/%0a", true},
		{"/public\\..\\admin", true},
		{"/private", true},
		{"/private/", true},
		{"private", true},
		{"/private%3Fx=1", true},
		{"/reports/12", true},
		{"/", false},
		{"/public", false},
		{"/administrator", false},
		{"/private2", false},
		{"/reports/x", false},
		{"/public/admin", false},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.path, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.path)
			if err != nil {
				u = &url.URL{Path: tc.path}
			}
			if got := m.isProtected(u.Path, u.RawPath); got != tc.want {
				t.Errorf("isProtected(%q) (decoded %q): got %v, want %v", tc.path, u.Path, got, tc.want)
			}
		})
	}
}

func TestQueryStringNeverMatches(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	if rec := b.get("/public?/private"); rec.Code != 200 || app.calls != 1 {
		t.Errorf("a query that looks like a protected path: got %d, want the open page", rec.Code)
	}
	if rec := b.get("/private?x=/public"); rec.Code != http.StatusFound {
		t.Errorf("a protected path with a harmless query: got %d, want a login", rec.Code)
	}
}

// TestOpenRedirectCorpus uses every payload of mod_auth_openidc's open-redirect list
// (testdata/open-redirect-payloads.txt) as the request path of a protected route and
// follows the sign-in: the browser must end on the same host every time.
func TestOpenRedirectCorpus(t *testing.T) {
	f, err := os.Open("testdata/open-redirect-payloads.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{".*"}
	m, _ := newFlow(t, c)
	scanner := bufio.NewScanner(f)
	lines := 0
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" {
			continue
		}
		lines++
		target := line
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r := &http.Request{Method: http.MethodGet, Host: "app.example", Header: http.Header{}, URL: &url.URL{}}
		if u, perr := url.ParseRequestURI(target); perr == nil {
			r.URL = u
		} else {
			r.URL.Path = target
		}
		r.RequestURI = target
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code != http.StatusFound {
			t.Errorf("payload %q: got status %d, want a login", line, rec.Code)
			continue
		}
		b := newFlowBrowser(t, m)
		for _, ck := range rec.Result().Cookies() {
			b.jar[ck.Name] = ck.Value
		}
		done := b.get(b.authorize(rec))
		loc := done.Header().Get("Location")
		if done.Code != http.StatusFound || !isSameHost(loc) {
			t.Errorf("payload %q: after sign-in got %d to %q, want the same host", line, done.Code, loc)
		}
	}
	if lines < 800 {
		t.Fatalf("read %d payloads, want the whole corpus", lines)
	}
}

// isSameHost resolves a Location the way a browser does and reports whether it
// stays on app.example.
func isSameHost(loc string) bool {
	base, _ := url.Parse("http://app.example/start")
	cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimSpace(loc))
	u, err := base.Parse(cleaned)
	return err == nil && u.Host == "app.example" && strings.HasPrefix(loc, "/")
}

func TestReturnPath(t *testing.T) {
	cases := []struct{ target, want string }{
		{"/private?tab=2", "/private?tab=2"},
		{"/a%20b/c", "/a%20b/c"},
		{"//evil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/%252F%252Fevil.example", "/"},
	}
	for _, tc := range cases {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := returnPath(u); got != tc.want {
			t.Errorf("returnPath(%q): got %q, want %q", tc.target, got, tc.want)
		}
	}
}

// TestPathReadingsTheAppMayActOn: the readings of issue 12, each reaching the app
// signed out before: the decoded path before cleaning (an app that does not clean
// paths routes /admin/../public under /admin/), control characters, and a segment's
// trailing dot or white space. Case stays significant.
func TestPathReadingsTheAppMayActOn(t *testing.T) {
	m := &middleware{cfg: &settings{}}
	var err error
	m.cfg.protected, err = compilePathPatterns([]string{"admin(/.*)?"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want bool
	}{
		{"/admin%2F..%2Fpublic", true},
		{"/admin/..%2Fpublic", true},
		{"/admin/../public", true},
		{"/admin/x/..%2F..%2Fpublic", true},
		{"/admin%252F..%252Fpublic", true},
		{"/admin%00", true},
		{"/admin%00/x", true},
		{"/public%00", true},
		{"/public%01", true},
		{"/public%7f", true},
		{"/admin.", true},
		{"/admin..", true},
		{"/admin%2e", true},
		{"/admin%20", true},
		{"/admin%20./x", true},
		{"/admin./x", true},
		{"/admin%09", true},
		{"/public", false},
		{"/public/admin", false},
		{"/public.", false},
		{"/public%20", false},
		{"/Admin", false},
		{"/ADMIN.", false},
		{"/administrator", false},
		{"/admin2", false},
		{"/public/.admin", false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.isProtected(u.Path, u.RawPath); got != tc.want {
				t.Errorf("isProtected(%q) (decoded %q): got %v, want %v", tc.path, u.Path, got, tc.want)
			}
		})
	}
}

// TestPathReadingsThroughServeHTTP: the same readings, through the whole request
// path: a browser is sent to sign in and the app is not called.
func TestPathReadingsThroughServeHTTP(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{"admin(/.*)?"}
	m, app := newFlow(t, c)
	for _, target := range []string{"/admin%2F..%2Fpublic", "/admin/..%2Fpublic", "/admin/x/..%2F..%2Fpublic",
		"/admin%00", "/admin%00/x", "/admin.", "/admin%2e", "/admin%20"} {
		for round := 0; round < 2; round++ { // the second round reads the path cache
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, atkRequest(http.MethodGet, target, ""))
			if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize?") {
				t.Errorf("GET %s (round %d): got %d to %q, want a login", target, round, rec.Code, rec.Header().Get("Location"))
			}
		}
	}
	if app.calls != 0 {
		t.Errorf("the app was called %d times, last for %q", app.calls, app.last.URL.RequestURI())
	}
}
