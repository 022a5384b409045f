package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Steps that the browser scenarios share. Each fails the test with what the user sees.

// openPage navigates the tab to u and returns the HTTP status of the final document.
func openPage(t *testing.T, ctx context.Context, u string) int {
	t.Helper()
	resp, err := harness.Open(ctx, u)
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return int(resp.Status)
}

// location is the tab's URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := harness.Location(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// pageText is the visible text of the tab's page.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := harness.Text(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// readApp reads the app's page in the tab; it fails when the tab shows another page.
func readApp(t *testing.T, ctx context.Context) harness.AppView {
	t.Helper()
	v, err := harness.ReadApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.View == "" {
		t.Fatalf("expected the app's page at %s, the browser shows: %q", location(t, ctx), lastLines(pageText(t, ctx), 20))
	}
	return v
}

// expectLoginPage checks that the tab shows p's login page.
func expectLoginPage(t *testing.T, ctx context.Context, p *harness.Provider) {
	t.Helper()
	loc := location(t, ctx)
	if !strings.HasPrefix(loc, p.URL("/login/username")) {
		t.Fatalf("expected the provider's login page, the browser is at %s showing %q", loc, lastLines(pageText(t, ctx), 20))
	}
}

// expectSignedIn checks that the app's page for path shows the test user's identity,
// and that the session cookies did not reach the app.
func expectSignedIn(t *testing.T, ctx context.Context, tr *harness.Traefik, p *harness.Provider, path string) harness.AppView {
	t.Helper()
	return expectSignedInAt(t, ctx, tr.URL(path), p)
}

// expectSignedInAt is expectSignedIn for the page at URL u.
func expectSignedInAt(t *testing.T, ctx context.Context, u string, p *harness.Provider) harness.AppView {
	t.Helper()
	if loc := location(t, ctx); loc != u {
		t.Fatalf("expected to be at %s, the browser is at %s showing %q", u, loc, lastLines(pageText(t, ctx), 20))
	}
	v := readApp(t, ctx)
	if v.User != p.Subject {
		t.Fatalf("%s: the app shows user %q, want %q (headers %v)", u, v.User, p.Subject, v.Headers)
	}
	if got := v.Headers["X-Auth-Request-Email"]; got != p.Email {
		t.Errorf("%s: X-Auth-Request-Email = %q, want %q", u, got, p.Email)
	}
	if got := v.Headers["X-Auth-Request-Preferred-Username"]; got != p.Username {
		t.Errorf("%s: X-Auth-Request-Preferred-Username = %q, want %q", u, got, p.Username)
	}
	if strings.Contains(v.Cookies, "ags_client_session") {
		t.Errorf("%s: the app received the session cookie (cookies: %s)", u, v.Cookies)
	}
	return v
}

// expectNoIdentity checks that the app's page shows no identity header.
func expectNoIdentity(t *testing.T, v harness.AppView) {
	t.Helper()
	if v.User != "(none)" || len(v.Headers) != 0 {
		t.Fatalf("%s: expected no identity, the app shows user %q, headers %v", v.Path, v.User, v.Headers)
	}
}

// signIn opens path (a protected page) through tr, expects p's login page, signs in
// as the test user and expects to land back on path, signed in. It returns the time
// from the first request to the signed-in page.
func signIn(t *testing.T, ctx context.Context, tr *harness.Traefik, p *harness.Provider, path string) time.Duration {
	t.Helper()
	return signInAt(t, ctx, tr.URL(path), p)
}

// signInAt is signIn for the protected page at URL u.
func signInAt(t *testing.T, ctx context.Context, u string, p *harness.Provider) time.Duration {
	t.Helper()
	start := time.Now()
	if status := openPage(t, ctx, u); status != 200 {
		t.Fatalf("open %s: the login page answered %d", u, status)
	}
	expectLoginPage(t, ctx, p)
	if status := submitLogin(t, ctx, p, harness.TestPassword); status != 200 {
		t.Errorf("after the login form: status %d at %s", status, location(t, ctx))
	}
	took := time.Since(start)
	expectSignedInAt(t, ctx, u, p)
	return took
}

// submitLogin fills and submits the provider's login form and returns the status of
// the page it lands on.
func submitLogin(t *testing.T, ctx context.Context, p *harness.Provider, password string) int {
	t.Helper()
	resp, err := harness.SubmitLogin(ctx, p.Username, password)
	if err != nil {
		t.Fatalf("submit the login form: %v", err)
	}
	return int(resp.Status)
}
