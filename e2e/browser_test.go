package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// Browser scenarios 1 to 6 (issue 5), on the shared stack, each with its own Chromium.

// Scenario 1: a protected page sends the browser to the provider's login page; the
// test user's name and password land it back on the page asked for, which shows the
// identity; a reload stays signed in.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")

	took := signIn(t, ctx, s.traefik, s.provider, "/protected/report?year=2026")
	t.Logf("sign-in in Chromium: %s", took)

	if status, err := harness.Reload(ctx); err != nil || status.Status != 200 {
		t.Fatalf("reload: %v %v", status, err)
	}
	expectSignedIn(t, ctx, s.traefik, s.provider, "/protected/report?year=2026")

	if path := os.Getenv("AGS_SCREENSHOT"); path != "" {
		if !filepath.IsAbs(path) {
			root, err := harness.RepoRoot()
			if err != nil {
				t.Fatal(err)
			}
			path = filepath.Join(root, path)
		}
		png, err := harness.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the signed-in page: %s", path)
	}
}

// Scenario 2: an open page works signed out and shows the identity when signed in.
func TestBrowserOpenPage(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")

	if status := openPage(t, ctx, s.traefik.URL("/open/")); status != 200 {
		t.Fatalf("open page signed out: status %d", status)
	}
	if loc := location(t, ctx); loc != s.traefik.URL("/open/") {
		t.Fatalf("open page signed out: redirected to %s", loc)
	}
	expectNoIdentity(t, readApp(t, ctx))

	signIn(t, ctx, s.traefik, s.provider, "/protected/")
	openPage(t, ctx, s.traefik.URL("/open/"))
	expectSignedIn(t, ctx, s.traefik, s.provider, "/open/")
}

// Scenario 3: sign out goes to the provider's end-session endpoint and back to the
// app's sign-out view; the protected page then asks for a login again.
func TestBrowserSignOut(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx, nav := tab(t, b.Tab(), "main")

	signIn(t, ctx, s.traefik, s.provider, "/protected/")
	nav.Reset()
	resp, err := harness.ClickNav(ctx, "#link-sign-out")
	if err != nil {
		t.Fatal(err)
	}
	if !nav.Visited(s.provider.URL("/end_session")) {
		t.Errorf("sign out did not go to the provider's end_session endpoint")
	}
	loc := location(t, ctx)
	if !strings.HasPrefix(loc, s.traefik.URL("/sign-out")) {
		t.Fatalf("after sign out the browser is at %s (status %d) showing %q", loc, resp.Status, pageText(t, ctx))
	}
	v := readApp(t, ctx)
	if v.View != "signed-out" || resp.Status != 200 {
		t.Fatalf("after sign out: status %d, view %q", resp.Status, v.View)
	}
	expectNoIdentity(t, v)

	openPage(t, ctx, s.traefik.URL("/protected/"))
	expectLoginPage(t, ctx, s.provider)
}

// Scenario 4: /toggle-feature/ags_client_active turns ags off for this browser (the
// protected page is served with no identity and no login) and on again.
func TestBrowserFeatureFlag(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")
	toggle := s.traefik.URL("/toggle-feature/" + harness.FlagCookie)

	signIn(t, ctx, s.traefik, s.provider, "/protected/")

	if status := openPage(t, ctx, toggle); status != 200 {
		t.Fatalf("toggle: status %d", status)
	}
	if text := pageText(t, ctx); text != harness.FlagCookie+" feature flag set to: False" {
		t.Fatalf("toggle off: the page says %q", text)
	}
	openPage(t, ctx, s.traefik.URL("/protected/"))
	if loc := location(t, ctx); loc != s.traefik.URL("/protected/") {
		t.Fatalf("with ags off, the protected page went to %s", loc)
	}
	expectNoIdentity(t, readApp(t, ctx))

	openPage(t, ctx, toggle)
	if text := pageText(t, ctx); text != harness.FlagCookie+" feature flag set to: True" {
		t.Fatalf("toggle on: the page says %q", text)
	}
	openPage(t, ctx, s.traefik.URL("/protected/"))
	expectSignedIn(t, ctx, s.traefik, s.provider, "/protected/")
}

// Scenario 5: two tabs that start a login at the same time both end signed in, each on
// the page it asked for.
func TestBrowserTwoTabs(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx1, _ := tab(t, b.Tab(), "one")
	second, closeSecond, err := b.NewTab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeSecond)
	ctx2, _ := tab(t, second, "two")

	// Both tabs ask for a protected page before either signs in.
	tabs := []context.Context{ctx1, ctx2}
	paths := []string{"/protected/one", "/protected/two"}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := harness.Open(tabs[i], s.traefik.URL(paths[i]))
			if err == nil && resp.Status != 200 {
				err = fmt.Errorf("status %d", resp.Status)
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("tab %d: open %s: %v", i+1, paths[i], errs[i])
		}
	}
	expectLoginPage(t, ctx1, s.provider)
	expectLoginPage(t, ctx2, s.provider)

	// Both sign in, at the same time.
	for i := range tabs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = harness.SubmitLogin(tabs[i], s.provider.Username, harness.TestPassword)
		}(i)
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("tab %d: %v", i+1, errs[i])
		}
	}
	expectSignedIn(t, ctx1, s.traefik, s.provider, "/protected/one")
	expectSignedIn(t, ctx2, s.traefik, s.provider, "/protected/two")

	if _, err := harness.Reload(ctx1); err != nil {
		t.Fatal(err)
	}
	expectSignedIn(t, ctx1, s.traefik, s.provider, "/protected/one")
}

// Scenario 6: the provider says no. A wrong password keeps the browser on the
// provider's login page with its error; cancelling sends it back with
// error=access_denied, and ags shows a clear page with the provider's error code and
// description. Neither creates a session.
func TestBrowserProviderSaysNo(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	b := requireBrowser(t)
	ctx, _ := tab(t, b.Tab(), "main")

	openPage(t, ctx, s.traefik.URL("/protected/"))
	expectLoginPage(t, ctx, s.provider)
	submitLogin(t, ctx, s.provider, "not-the-password")
	expectLoginPage(t, ctx, s.provider)
	if text := pageText(t, ctx); !strings.Contains(text, "username or password wrong") {
		t.Fatalf("after a wrong password the login page says %q", text)
	}

	resp, err := harness.ClickNav(ctx, "#cancel")
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, ctx)
	text := pageText(t, ctx)
	t.Logf("after cancel: %d at %s: %q", resp.Status, loc, text)
	if !strings.HasPrefix(loc, s.traefik.URL("/oidc_callback?")) {
		t.Fatalf("after cancel the browser is at %s", loc)
	}
	if resp.Status < 400 {
		t.Errorf("the provider's refusal answered %d, want an error status", resp.Status)
	}
	if !strings.Contains(text, "access_denied") || !strings.Contains(text, "The user cancelled the sign-in.") {
		t.Errorf("the error page does not show the provider's error code and description: %q", text)
	}
	if v, _ := harness.ReadApp(ctx); v.View != "" {
		t.Errorf("the refusal reached the app: %+v", v)
	}

	openPage(t, ctx, s.traefik.URL("/protected/"))
	expectLoginPage(t, ctx, s.provider)
}
