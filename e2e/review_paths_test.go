package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// reviewTraefikPaths records what Traefik hands on for the path spellings that
// findings 4 and 5 are about, with its path cleaning on and off, on an open path of
// the review stack (signed out, so ags passes every one on): what ags reads there.
func reviewTraefikPaths(t *testing.T, s *reviewStack) {
	for _, tc := range []struct {
		target, on, off string // sent; what the app gets with cleaning on, off
	}{
		{"/open/q3%2Fsalaries", "/open/q3%2Fsalaries", "/open/q3%2Fsalaries"},
		{"/open/q3%2fsalaries", "/open/q3%2Fsalaries", "/open/q3%2Fsalaries"},
		{"/open;jsessionid=0", "/open;jsessionid=0", "/open;jsessionid=0"},
		{"/open%3Bjsessionid=0", "/open%3Bjsessionid=0", "/open%3Bjsessionid=0"},
		{"//open", "/open", "//open"},
		{"/x/../open", "/open", "/x/../open"},
		{"/./open", "/open", "/./open"},
		{"/open/", "/open/", "/open/"},
		{"/%6Fpen%2D", "/open-", "/open-"},
	} {
		for name, want := range map[string]string{"sanitizePath on": tc.on, "sanitizePath off": tc.off} {
			resp := rawGet(t, s.traefiks[name], tc.target, nil)
			if e := readEcho(t, resp); e.URI != want {
				t.Errorf("%s: Traefik passed %s on as %s, want %s", name, tc.target, e.URI, want)
			}
		}
	}
}

// reviewEscapedSlash (4): with reports/[^/]+ protected, a visitor's
// /reports/q3%2Fsalaries (one segment to an app that routes on the escaped path) is
// sent to sign in, before and after /reports/q3/salaries (open: two segments) was
// served, with path cleaning on and off; signed in, the app gets it as sent.
func reviewEscapedSlash(t *testing.T, s *reviewStack) {
	login := s.provider.URL("/auth?")
	for name, tr := range s.traefiks {
		for _, tc := range []struct {
			target    string
			protected bool
		}{
			{"/reports/q3", true}, // the control
			{"/reports/q3/salaries", false},
			{"/reports/q3%2Fsalaries", true},
			{"/reports/q3%2fsalaries", true},
			{"/reports/q3/salaries", false}, // now known open
			{"/reports/q3%2Fsalaries", true},
			{"/reports%2Fq3", true},
		} {
			before := s.echo.requests()
			resp := rawGet(t, tr, tc.target, nil)
			reached := s.echo.requests() - before
			if tc.protected && (resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), login) || reached != 0) {
				t.Errorf("%s: a visitor's %s: %d to %q, the app reached %d times; want a sign-in", name, tc.target, resp.StatusCode, resp.Header.Get("Location"), reached)
			}
			if !tc.protected && (resp.StatusCode != http.StatusOK || readEcho(t, resp).URI != tc.target) {
				t.Errorf("%s: a visitor's %s: %d, want the open page", name, tc.target, resp.StatusCode)
			}
		}
		c := signInClient(t, tr, s.provider.Username, "/reports/q3")
		if resp, e := getEchoed(t, c, tr, "/reports/q3%2Fsalaries"); resp.StatusCode != http.StatusOK || e.URI != "/reports/q3%2Fsalaries" || e.Header.Get("X-Auth-Request-User") != s.provider.Subject {
			t.Errorf("%s: signed in, /reports/q3%%2Fsalaries: %d, the app got %q as %q", name, resp.StatusCode, e.URI, e.Header.Get("X-Auth-Request-User"))
		}
	}
}

// reviewSignOutReadings (5): a signed-in user's request for a spelling of the sign-out
// path signs out: 302 to the provider's end_session, the session cookie cleared, the
// app not reached, and the next protected request starts a sign-in. A path that only
// resembles it (the control) reaches the app with the identity.
func reviewSignOutReadings(t *testing.T, s *reviewStack) {
	p := s.provider
	for name, targets := range map[string][]string{
		"sanitizePath on":  {"/sign-out;jsessionid=0", "/sign-out%3Bjsessionid=0", "/sign%2Dout", "/sign-out/"},
		"sanitizePath off": {"/sign-out;jsessionid=0", "//sign-out", "/x/../sign-out", "/sign-out/."},
	} {
		tr := s.traefiks[name]
		for _, target := range targets {
			c := signInClient(t, tr, p.Username, "/protected/x")
			if resp, e := getEchoed(t, c, tr, "/sign-out-now"); resp.StatusCode != http.StatusOK || e.Header.Get("X-Auth-Request-User") != p.Subject {
				t.Errorf("%s: /sign-out-now: %d as %q, want the app with the identity", name, resp.StatusCode, e.Header.Get("X-Auth-Request-User"))
			}
			before := s.echo.requests()
			resp := rawGetWith(t, c.HTTP, tr, target, nil)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/end_session?")) || s.echo.requests() != before {
				t.Errorf("%s: %s: %d to %q, the app reached %d times; want a sign-out at the provider", name, target, resp.StatusCode, resp.Header.Get("Location"), s.echo.requests()-before)
			}
			if left := sessionCookies(c, tr); len(left) != 0 {
				t.Errorf("%s: %s: session cookies left: %q", name, target, left)
			}
			if resp := rawGetWith(t, c.HTTP, tr, "/protected/x", nil); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/auth?")) {
				t.Errorf("%s: after %s, /protected/x: %d to %q, want a sign-in", name, target, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
}

// sessionCookies lists the ags session cookies (its chunks, not the pending sign-in or
// sign-out cookies) that c's jar holds for tr.
func sessionCookies(c *harness.Client, tr *harness.Traefik) []string {
	u, _ := url.Parse(tr.URL("/"))
	var names []string
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if sessionCookieName.MatchString(ck.Name) {
			names = append(names, ck.Name)
		}
	}
	return names
}

var sessionCookieName = regexp.MustCompile(`^ags_client_session(_[0-9])?$`)

// callbackEdit is a client transport that keeps the query of the callback the
// provider sent the browser to, and changes it with edit before it is sent.
type callbackEdit struct {
	edit func(q url.Values)
	sent url.Values
}

func (ce *callbackEdit) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/oidc_callback" {
		ce.sent = r.URL.Query()
		q := r.URL.Query()
		ce.edit(q)
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// reviewCallbackIssuer (RFC 9207): sign-in works with the zitadel example provider
// as it is (whether it announces authorization_response_iss_parameter_supported and
// sends iss or not), and with iss the issuer; a callback whose iss is another issuer
// is refused with 400, and the user is not signed in.
func reviewCallbackIssuer(t *testing.T, s *reviewStack) {
	p, tr := s.provider, s.traefiks["sanitizePath on"]
	doc, err := p.Discovery()
	if err != nil {
		t.Fatal(err)
	}
	announced, said := doc["authorization_response_iss_parameter_supported"]
	t.Logf("the provider's discovery: authorization_response_iss_parameter_supported %v (present: %v)", announced, said)
	for _, tc := range []struct {
		name string
		iss  string // "-": as the provider sent the callback
		want int
	}{
		{"as the provider sends it", "-", http.StatusOK},
		{"iss the issuer", p.Issuer, http.StatusOK},
		{"iss another issuer", "https://evil.example", http.StatusBadRequest},
	} {
		ce := &callbackEdit{edit: func(q url.Values) {
			if tc.iss != "-" {
				q.Set("iss", tc.iss)
			}
		}}
		c := harness.NewClient()
		c.HTTP.Transport = ce
		start, err := c.Get(tr.URL("/protected/iss"))
		if err != nil {
			t.Fatal(err)
		}
		before := s.echo.requests()
		page, err := c.SignIn(start, p.Username, harness.TestPassword)
		if err != nil {
			t.Fatal(err)
		}
		if tc.iss == "-" {
			t.Logf("the provider's callback: %s (iss %q)", strings.Join(keysOf(ce.sent), ", "), ce.sent["iss"])
			if announced == true && ce.sent.Get("iss") != p.Issuer {
				t.Errorf("the provider announces iss and sent %q", ce.sent["iss"])
			}
		}
		if page.Status != tc.want {
			t.Errorf("%s: got %d at %s, want %d; hops:\n%s", tc.name, page.Status, page.URL, tc.want, hops(page.Hops))
		}
		if tc.want == http.StatusBadRequest && (!strings.Contains(page.Body, "did not come from this site") || len(sessionCookies(c, tr)) != 0 || s.echo.requests() != before) {
			t.Errorf("%s: page %q, session cookies %q, the app reached %d times: want the mix-up page, no session, no app",
				tc.name, page.Body, sessionCookies(c, tr), s.echo.requests()-before)
		}
	}
}

func keysOf(q url.Values) []string {
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	return keys
}
