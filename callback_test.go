package ags

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCallbackFailures covers each way a callback fails: a clear page, the right
// status, and no session.
func TestCallbackFailures(t *testing.T) {
	cases := []struct {
		name     string
		provider func(tp *testProvider)
		callback func(b *flowBrowser, good string) string // returns the callback target
		status   int
		page     string
	}{
		{name: "no state", callback: func(b *flowBrowser, good string) string { return "/oidc_callback?code=x" }, status: 400, page: "Sign-in expired or invalid"},
		{name: "unknown state", callback: func(b *flowBrowser, good string) string {
			return "/oidc_callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		}, status: 400, page: "Sign-in expired or invalid"},
		{name: "state cookie missing", callback: func(b *flowBrowser, good string) string {
			for name := range b.jar {
				delete(b.jar, name)
			}
			return good
		}, status: 400, page: "Sign-in expired or invalid"},
		{name: "provider error", callback: func(b *flowBrowser, good string) string {
			u, _ := url.Parse(good)
			return "/oidc_callback?error=access_denied&error_description=" + url.QueryEscape("<b>no</b> thanks") + "&state=" + u.Query().Get("state")
		}, status: 401, page: "access_denied</code>: &lt;b&gt;no&lt;/b&gt; thanks"},
		{name: "token error", provider: func(tp *testProvider) {
			tp.tokenStatus = 400
			tp.tokenBody = `{"error":"invalid_grant","error_description":"code <expired>"}`
		}, status: 502, page: "invalid_grant</code>: code &lt;expired&gt;"},
		{name: "token endpoint not json", provider: func(tp *testProvider) {
			tp.tokenStatus = 500
			tp.tokenBody = `<html>oops</html>`
		}, status: 502, page: "Sign-in failed"},
		{name: "userinfo sub mismatch", provider: func(tp *testProvider) { tp.userinfoSub = "someone-else" }, status: 401, page: "user information did not match"},
		{name: "id token expired", provider: func(tp *testProvider) {
			tp.claims = func(c map[string]interface{}) { c["exp"] = time.Now().Add(-time.Hour).Unix() }
		}, status: 401, page: "did not pass the security checks"},
		{name: "id token for another client", provider: func(tp *testProvider) {
			tp.claims = func(c map[string]interface{}) { c["aud"] = "another-client" }
		}, status: 401, page: "did not pass the security checks"},
		{name: "id token wrong nonce", provider: func(tp *testProvider) {
			tp.claims = func(c map[string]interface{}) { c["nonce"] = "replayed" }
		}, status: 401, page: "did not pass the security checks"},
		{name: "id token from another issuer", provider: func(tp *testProvider) {
			tp.claims = func(c map[string]interface{}) { c["iss"] = "https://evil.example" }
		}, status: 401, page: "did not pass the security checks"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			if tc.provider != nil {
				tp.set(tc.provider)
			}
			m, app := newFlow(t, flowConfig(tp))
			b := newFlowBrowser(t, m)
			good := b.authorize(b.get("/private"))
			target := good
			if tc.callback != nil {
				target = tc.callback(b, good)
			}
			rec := b.get(target)
			if rec.Code != tc.status {
				t.Errorf("got status %d, want %d; body %s", rec.Code, tc.status, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tc.page) {
				t.Errorf("page: got %q, want it to contain %q", rec.Body.String(), tc.page)
			}
			if strings.Contains(rec.Body.String(), "<b>") || strings.Contains(rec.Body.String(), tpClientSecret) {
				t.Errorf("page shows unescaped or secret content: %s", rec.Body.String())
			}
			if n := b.sessionCookies(); n != 0 {
				t.Errorf("got %d session cookies, want none", n)
			}
			if rec := b.get("/private"); rec.Code != http.StatusFound || app.calls != 0 {
				t.Errorf("after the failure: got %d and %d app calls, want a new login", rec.Code, app.calls)
			}
		})
	}
}

func TestCallbackReplayCreatesNoSession(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	callback := b.authorize(b.get("/private"))
	if rec := b.get(callback); rec.Code != http.StatusFound {
		t.Fatalf("first callback: got %d", rec.Code)
	}
	other := newFlowBrowser(t, m)
	if rec := other.get(callback); rec.Code != http.StatusBadRequest {
		t.Errorf("replay in another browser: got %d, want 400", rec.Code)
	}
	// The same browser, signed in: its login is over; it is sent to the start page,
	// with nothing exchanged and its session as it was.
	exchanges, before := len(tp.tokenForms), b.jar["ags_client_session"]
	if rec := b.get(callback); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/" {
		t.Errorf("replay in the same browser: got %d to %q, want 302 to /", rec.Code, rec.Header().Get("Location"))
	}
	if len(tp.tokenForms) != exchanges || b.jar["ags_client_session"] != before {
		t.Errorf("the replay exchanged the code again or changed the session")
	}
}

func TestDebugPageShowsDetail(t *testing.T) {
	tp := newTestProvider(t)
	tp.claims = func(c map[string]interface{}) { c["aud"] = "another-client" }
	c := flowConfig(tp)
	c.Debug = "True"
	m, _ := newFlow(t, c)
	b := newFlowBrowser(t, m)
	rec := b.signIn("/private")
	if !strings.Contains(rec.Body.String(), "Detail") || !strings.Contains(rec.Body.String(), "aud") {
		t.Errorf("debug page: got %q, want the failed check named", rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "eyJ") {
		t.Errorf("debug page shows a token: %s", rec.Body.String())
	}
}

func TestProviderDownThenUp(t *testing.T) {
	tp := newTestProvider(t)
	tp.down = true
	m, app := newFlow(t, flowConfig(tp))
	now := time.Now()
	setClock(m, func() time.Time { return now })
	b := newFlowBrowser(t, m)
	if rec := b.get("/private"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "cannot be reached") {
		t.Fatalf("provider down: got %d %q, want 503 with a clear page", rec.Code, rec.Body.String())
	}
	if rec := b.get("/public"); rec.Code != http.StatusOK || app.calls != 1 {
		t.Errorf("open path while the provider is down: got %d", rec.Code)
	}
	tp.set(func(tp *testProvider) { tp.down = false })
	if _, err := m.provider(context.Background()); !errors.Is(err, errProviderUnavailable) {
		t.Errorf("during the back-off: got %v, want errProviderUnavailable without a new fetch", err)
	}
	now = now.Add(maxBackoff + time.Second)
	if rec := b.get("/private"); rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer) {
		t.Errorf("provider back: got %d to %q, want a login", rec.Code, rec.Header().Get("Location"))
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	tp := newTestProvider(t)
	tp.discoveryIssuer = "https://other.example"
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	if rec := b.get("/private"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("got %d, want 503", rec.Code)
	}
	_, err := m.provider(context.Background())
	if !errors.Is(err, errProviderUnavailable) {
		t.Errorf("got %v, want errProviderUnavailable", err)
	}
}
