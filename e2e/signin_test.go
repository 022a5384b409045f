package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// TestSignInThroughTraefik (issue 4) signs in with a plain HTTP client and a cookie
// jar, as a browser without JavaScript: a protected path through Traefik redirects to
// the provider, the client fills the provider's login form, the callback sends it back
// to the protected page, where the app receives the identity headers.
func TestSignInThroughTraefik(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	tr, p := s.traefik, s.provider
	c := harness.NewClient()
	const path = "/protected/page?x=1&y=%C3%A9"

	start := time.Now()
	login, err := c.Get(tr.URL(path))
	if err != nil {
		t.Fatal(err)
	}
	first := login.Hops[0]
	if first.Status != http.StatusFound {
		t.Fatalf("GET %s: %d, want 302 to the provider; hops:\n%s", path, first.Status, hops(login.Hops))
	}
	auth, err := url.Parse(first.Location)
	if err != nil || !strings.HasPrefix(first.Location, p.URL("/auth?")) {
		t.Fatalf("GET %s: Location %q, want the provider's authorization endpoint", path, first.Location)
	}
	q := auth.Query()
	for key, want := range map[string]string{
		"response_type": "code", "client_id": harness.ClientID,
		"redirect_uri": tr.URL("/oidc_callback"), "code_challenge_method": "S256",
	} {
		if q.Get(key) != want {
			t.Errorf("authorization request: %s = %q, want %q", key, q.Get(key), want)
		}
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		t.Errorf("authorization request: scope %q without openid", q.Get("scope"))
	}
	for _, key := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(key)) < 22 { // 128 bits in base64url
			t.Errorf("authorization request: %s = %q, want at least 128 random bits", key, q.Get(key))
		}
	}
	if login.Status != 200 || !strings.HasPrefix(login.URL.String(), p.URL("/login/username")) {
		t.Fatalf("expected the provider's login page, got %d at %s; hops:\n%s", login.Status, login.URL, hops(login.Hops))
	}

	page, err := c.SignIn(login, p.Username, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	requests := len(login.Hops) + len(page.Hops)
	if page.Status != 200 || page.URL.String() != tr.URL(path) {
		t.Fatalf("after the login form: %d at %s, want 200 at %s; hops:\n%s",
			page.Status, page.URL, tr.URL(path), hops(page.Hops))
	}
	v := harness.ParseAppView(page.Body)
	if v.View != "protected" || v.Path != path {
		t.Fatalf("the app shows view %q for path %q, want the protected page for %q", v.View, v.Path, path)
	}
	for header, want := range map[string]string{
		"X-Auth-Request-User":               p.Subject,
		"X-Auth-Request-Email":              p.Email,
		"X-Auth-Request-Preferred-Username": p.Username,
	} {
		if got := v.Headers[header]; got != want {
			t.Errorf("the app received %s = %q, want %q", header, got, want)
		}
	}
	if strings.Contains(v.Cookies, "ags_client_session") {
		t.Errorf("the app received the session cookie (cookies: %s)", v.Cookies)
	}
	t.Logf("sign-in through Traefik with a plain client: %s, %d requests:\n%s%s",
		took.Round(time.Millisecond), requests, hops(login.Hops), hops(page.Hops))

	// Signed in: the protected page answers at once, and again with the same identity.
	start = time.Now()
	again, err := c.Get(tr.URL(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Hops) != 1 || again.Status != 200 || harness.ParseAppView(again.Body).User != p.Subject {
		t.Fatalf("signed in, GET %s: %d after %d requests, user %q", path, again.Status, len(again.Hops),
			harness.ParseAppView(again.Body).User)
	}
	t.Logf("a signed-in request: %s", time.Since(start).Round(time.Microsecond))
}

// TestIdentityHeadersWithoutSession: without a session, identity headers that the
// client sends never reach the app, and a request that is not a browser navigation to
// a protected path gets 401 and no redirect.
func TestIdentityHeadersWithoutSession(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	c := harness.NewClient()
	req, _ := http.NewRequest(http.MethodGet, s.traefik.URL("/open/"), nil)
	req.Header.Set("X-Auth-Request-User", "mallory")
	req.Header.Set("X_Auth_Request_Email", "mallory@example.com")
	req.Header.Set("x-auth-request-preferred-username", "mallory")
	page, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	v := harness.ParseAppView(page.Body)
	if page.Status != 200 || v.View != "open" {
		t.Fatalf("open page: %d, view %q", page.Status, v.View)
	}
	if v.User != "(none)" || len(v.Headers) != 0 {
		t.Errorf("spoofed identity headers reached the app: user %q, headers %v", v.User, v.Headers)
	}

	req, _ = http.NewRequest(http.MethodGet, s.traefik.URL("/protected/api"), nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	page, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if page.Hops[0].Status != http.StatusUnauthorized || page.Hops[0].Location != "" {
		t.Errorf("an XHR to a protected path without a session: %s, want 401 and no redirect", page.Hops[0])
	}
}

func hops(hs []harness.Hop) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString("  " + h.String() + "\n")
	}
	return b.String()
}
