package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests check the harness itself, without the ags plugin: Traefik with a trivial
// plugin, the provider's login in a plain client and in Chromium.

func startApp(t *testing.T) *App {
	t.Helper()
	app, err := StartApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return app
}

func startProvider(t *testing.T) *Provider {
	t.Helper()
	p, err := StartProvider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func setHeaderDynamic(app *App, value string) *Dynamic {
	return &Dynamic{
		Routes: map[string]Route{"app": {Rule: "PathPrefix(`/`)", Middlewares: []string{"check"}, Backend: app.URL}},
		Middlewares: map[string]Middleware{"check": {Plugin: "setheader",
			Config: map[string]any{"header": "X-Auth-Request-User", "value": value}}},
	}
}

func TestTraefikRunsALocalPlugin(t *testing.T) {
	app := startApp(t)
	start := time.Now()
	tr, err := StartTraefik(TraefikConfig{PluginDir: filepath.Join("testdata", "setheader"), PluginName: "setheader"},
		setHeaderDynamic(app, "one"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	t.Logf("traefik ready in %s", time.Since(start).Round(time.Millisecond))
	expect := func(want string) {
		t.Helper()
		page, err := NewClient().Get(tr.URL("/open/x?y=1"))
		if err != nil {
			t.Fatal(err)
		}
		v := ParseAppView(page.Body)
		if page.Status != 200 || v.View != "open" || v.User != want || v.Path != "/open/x?y=1" {
			t.Fatalf("got %d %+v, want the open page with user %q\n%s", page.Status, v, want, tail(tr.Log(), 40))
		}
	}
	expect("one")

	start = time.Now()
	if err := tr.SetDynamic(setHeaderDynamic(app, "two")); err != nil {
		t.Fatal(err)
	}
	t.Logf("reloaded in %s", time.Since(start).Round(time.Millisecond))
	expect("two")

	start = time.Now()
	if err := tr.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	expect("two")
}

// authorizeURL is an authorization request of the ags client that returns to the app.
func authorizeURL(p *Provider, redirect, state string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {ClientID}, "redirect_uri": {redirect},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {"n-" + state}}
	return p.URL("/auth?" + q.Encode())
}

// exchange redeems code at the token endpoint with client_secret_basic.
func exchange(t *testing.T, p *Provider, code, redirect string) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	req, _ := http.NewRequest(http.MethodPost, p.URL("/oauth/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ClientID, ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok["id_token"] == nil {
		t.Fatalf("token endpoint: %s %v %v", resp.Status, err, tok)
	}
	return tok
}

func TestProviderLoginWithClient(t *testing.T) {
	p := startProvider(t)
	app := startApp(t)
	redirect := app.URL + "/oidc_callback"
	c := NewClient()
	login, err := c.Get(authorizeURL(p, redirect, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(login, p.Username, TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(app.URL + ParseAppView(page.Body).Path)
	if u.Path != "/oidc_callback" || u.Query().Get("state") != "s1" || u.Query().Get("code") == "" {
		t.Fatalf("landed on %s; hops:\n%v", u, page.Hops)
	}
	exchange(t, p, u.Query().Get("code"), redirect)

	// The discovery document names the endpoints that ags uses.
	disc, err := p.Discovery()
	if err != nil {
		t.Fatal(err)
	}
	if disc["issuer"] != p.Issuer || disc["end_session_endpoint"] == nil || disc["userinfo_endpoint"] == nil {
		t.Fatalf("discovery: %v", disc)
	}
	t.Logf("endpoints: %v %v %v", disc["authorization_endpoint"], disc["token_endpoint"], disc["end_session_endpoint"])
}

func browser(t *testing.T) *Browser {
	t.Helper()
	if _, err := FindChromium(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b, err := StartBrowser()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestProviderLoginInChromium(t *testing.T) {
	p := startProvider(t)
	app := startApp(t)
	start := time.Now()
	b := browser(t)
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(b.Tab(), 60*time.Second)
	defer cancel()
	redirect := app.URL + "/oidc_callback"

	// A wrong password: the login page again, with the example's error.
	if _, err := Open(ctx, authorizeURL(p, redirect, "s1")); err != nil {
		t.Fatal(err)
	}
	if _, err := SubmitLogin(ctx, p.Username, "wrong"); err != nil {
		t.Fatal(err)
	}
	if text, _ := Text(ctx); !strings.Contains(text, "username or password wrong") {
		t.Fatalf("after a wrong password: %q", text)
	}

	// The right password: back at the redirect URI with a code.
	if _, err := Open(ctx, authorizeURL(p, redirect, "s2")); err != nil {
		t.Fatal(err)
	}
	resp, err := SubmitLogin(ctx, p.Username, TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ReadApp(ctx)
	u, _ := url.Parse(app.URL + v.Path)
	if resp.Status != 200 || u.Path != "/oidc_callback" || u.Query().Get("state") != "s2" {
		t.Fatalf("landed on %s (%d)", u, resp.Status)
	}
	tok := exchange(t, p, u.Query().Get("code"), redirect)

	// Cancel: back at the redirect URI with error=access_denied.
	if _, err := Open(ctx, authorizeURL(p, redirect, "s3")); err != nil {
		t.Fatal(err)
	}
	if _, err := ClickNav(ctx, "#cancel"); err != nil {
		t.Fatal(err)
	}
	v, _ = ReadApp(ctx)
	u, _ = url.Parse(app.URL + v.Path)
	if u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "s3" {
		t.Fatalf("cancel landed on %s", u)
	}

	// End session with a post-logout redirect URI on the app.
	q := url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {app.URL + "/sign-out"},
		"state": {"s4"}}
	if _, err := Open(ctx, p.URL("/end_session?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	v, _ = ReadApp(ctx)
	if v.View != "signed-out" || v.Path != "/sign-out?state=s4" {
		t.Fatalf("end session landed on %+v", v)
	}
}
