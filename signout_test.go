package ags

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSignOutAtProvider(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")

	rec := b.get("/sign-out")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), tp.issuer+"/end_session?") {
		t.Fatalf("sign-out: got %d to %q, want the end-session endpoint", rec.Code, rec.Header().Get("Location"))
	}
	q := loc.Query()
	if strings.Count(q.Get("id_token_hint"), ".") != 2 || q.Get("post_logout_redirect_uri") != "http://app.example/sign-out" || len(q.Get("state")) < 22 {
		t.Errorf("end-session parameters: got %v", q)
	}
	if n := b.sessionCookies(); n != 0 {
		t.Errorf("session cookies left after sign-out: %d", n)
	}
	back := b.get("/sign-out?state=" + url.QueryEscape(q.Get("state")))
	if back.Code != http.StatusOK || app.last.URL.Path != "/sign-out" {
		t.Fatalf("return from the provider: got %d, want the app's sign-out view", back.Code)
	}
	if app.last.Header.Get("X-Auth-Request-User") != "" {
		t.Error("the sign-out view received an identity")
	}
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("protected page after sign-out: got %d, want a new login", rec.Code)
	}
}

func TestSignOutStateMismatch(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.get("/sign-out")
	calls := app.calls
	rec := b.get("/sign-out?state=forged-state-value-0123456789")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Sign-out link invalid") {
		t.Errorf("got %d %q, want 400 with a clear page", rec.Code, rec.Body.String())
	}
	if app.calls != calls {
		t.Error("a sign-out return with a wrong state reached the app")
	}
}

func TestSignOutWithoutSessionOrEndpoint(t *testing.T) {
	tp := newTestProvider(t)
	tp.noEndSession = true
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	if rec := b.get("/sign-out"); rec.Code != http.StatusOK || app.calls != 1 {
		t.Errorf("no session: got %d, want the app's sign-out view", rec.Code)
	}
	b.signIn("/private")
	if rec := b.get("/sign-out"); rec.Code != http.StatusOK || app.calls != 2 {
		t.Errorf("no end_session_endpoint: got %d, want the app's sign-out view", rec.Code)
	}
	if n := b.sessionCookies(); n != 0 {
		t.Errorf("session cookies left: %d", n)
	}
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("after sign-out: got %d, want a login", rec.Code)
	}
}

func TestFeatureFlag(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)

	rec := b.get("/toggle-feature/ags_client_active")
	if rec.Code != 200 || rec.Body.String() != "ags_client_active feature flag set to: False" || b.jar["ags_client_active"] != "0" {
		t.Fatalf("toggle off: got %d %q, cookie %q", rec.Code, rec.Body.String(), b.jar["ags_client_active"])
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type: got %q, want text/plain", ct)
	}
	if app.calls != 0 {
		t.Error("the toggle reached the app")
	}
	off := b.do(http.MethodGet, "/private", http.Header{"X-Auth-Request-User": {"forged"}})
	if off.Code != 200 || app.calls != 1 || app.last.Header.Get("X-Auth-Request-User") != "" {
		t.Errorf("flag off: got %d, user %q, want the page with no identity", off.Code, app.last.Header.Get("X-Auth-Request-User"))
	}
	rec = b.get("/toggle-feature/ags_client_active")
	if rec.Body.String() != "ags_client_active feature flag set to: True" || b.jar["ags_client_active"] != "1" {
		t.Fatalf("toggle on: got %q, cookie %q", rec.Body.String(), b.jar["ags_client_active"])
	}
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("flag on: got %d, want a login", rec.Code)
	}
}

func TestIdentityHeadersAreStripped(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.IdentityHeaders = map[string]string{"name": "X-User-Name"}
	m, app := newFlow(t, c)
	forged := http.Header{}
	for _, h := range []string{headerUser, headerEmail, headerPreferredUsername, headerGroups, headerAccessToken, headerIDToken, "X-User-Name",
		"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri"} {
		for _, v := range spellings(h) {
			forged[v] = []string{"forged"}
		}
	}
	forged["Authorization"] = []string{"Bearer app-own"}
	check := func(name string, wantUser string) {
		t.Helper()
		for k, v := range app.last.Header {
			if len(v) != 1 || v[0] == "forged" {
				t.Errorf("%s: header %q reached the app with %q", name, k, v)
			}
		}
		if got := app.last.Header.Get(headerUser); got != wantUser {
			t.Errorf("%s: user got %q, want %q", name, got, wantUser)
		}
		if app.last.Header.Get("Authorization") != "Bearer app-own" {
			t.Errorf("%s: the app's own Authorization header was touched", name)
		}
	}
	b := newFlowBrowser(t, m)
	b.do(http.MethodGet, "/public", forged)
	check("signed out", "")
	b.signIn("/private")
	b.do(http.MethodGet, "/private", forged)
	check("signed in", "user-42")
	b.get("/toggle-feature/ags_client_active")
	b.do(http.MethodGet, "/private", forged)
	check("flag off", "")
}

// spellings returns keys under which a header named h can reach a backend that
// reads "_" as "-" in any letter case: every "-"/"_" choice in Go's canonical form
// (as Go's server stores a received name), and in lower and upper case (as an
// earlier middleware may store it).
func spellings(h string) []string {
	parts := strings.Split(h, "-")
	var out []string
	for mask := 0; mask < 1<<(len(parts)-1); mask++ {
		var b strings.Builder
		b.WriteString(parts[0])
		for i := 1; i < len(parts); i++ {
			if mask&(1<<(i-1)) != 0 {
				b.WriteString("_")
			} else {
				b.WriteString("-")
			}
			b.WriteString(parts[i])
		}
		k := b.String()
		out = append(out, http.CanonicalHeaderKey(k), strings.ToLower(k), strings.ToUpper(k))
	}
	return out
}

// TestProviderErrorThroughEveryWrap: the provider's error reaches the page whether
// a step wrapped it once or as "%w: %w" (the class, then the cause).
func TestProviderErrorThroughEveryWrap(t *testing.T) {
	pe := &providerError{Code: "invalid_grant", Description: "expired"}
	// As the steps hold it: in a variable of type error. (Under Yaegi, a pointer
	// to an interpreted type passed to fmt.Errorf as itself is not an error to %w.)
	var perr error = pe
	for _, err := range []error{
		perr,
		fmt.Errorf("code exchange: %w", perr),
		fmt.Errorf("%w: %w", errRefresh, perr),
		fmt.Errorf("outer: %w", fmt.Errorf("%w: %w", errUserinfo, fmt.Errorf("inner: %w", perr))),
	} {
		if got := asProviderError(err); got != pe {
			t.Errorf("asProviderError(%q): got %v, want the provider's error", err, got)
		}
	}
	if got := asProviderError(fmt.Errorf("%w: %w", errRefresh, errors.New("other"))); got != nil {
		t.Errorf("got %v from an error without one", got)
	}
}
