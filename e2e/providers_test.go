package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
	"github.com/go-jose/go-jose/v4"
)

// Sign-in against a second provider implementation, Ory Hydra v2.3.0
// (tools/hydra/build.sh), and private_key_jwt against both Hydra and the zitadel/oidc
// op package: two implementations that verify the client assertions ags signs.

const hydraSecret = "ags-e2e-hydra-client-secret"

// startedHydra starts a Hydra for t alone, with ID tokens signed with idTokenAlg (""
// is Hydra's own RS256), stopped at the test's end. The tests run beside each other
// (t.Parallel), and one Hydra is not for that: its SQLite refuses concurrent writes
// ("Unable to serialize access due to a concurrent update"), and a test that revokes
// every login session of the test user would end the others' sign-ins. A Hydra
// starts in about half a second.
func startedHydra(t *testing.T, idTokenAlg string) *harness.Hydra {
	t.Helper()
	start := time.Now()
	h, err := harness.StartHydra(harness.HydraOptions{IDTokenAlg: idTokenAlg})
	if err != nil {
		t.Fatalf("start Hydra: %v", err)
	}
	t.Cleanup(h.Close)
	t.Logf("Hydra (ID tokens %q) ready in %s", idTokenAlg, time.Since(start).Round(time.Millisecond))
	return h
}

// hydraStack registers client at Hydra h for a Traefik on a port picked now, and
// starts that Traefik with ags configured by cfg (issuer and redirect URIs filled in).
func hydraStack(t *testing.T, h *harness.Hydra, client map[string]any, cfg map[string]any) *harness.Traefik {
	t.Helper()
	return hydraReplicas(t, h, 1, client, cfg)[0]
}

// hydraReplicas registers client at Hydra h for n Traefik processes on ports picked
// now (each one's callback and sign-out view a redirect URI), and starts them with
// the same ags configuration cfg (issuer and client ID filled in) in front of one app:
// replicas of one deployment.
func hydraReplicas(t *testing.T, h *harness.Hydra, n int, client map[string]any, cfg map[string]any) []*harness.Traefik {
	t.Helper()
	ports := make([]int, n)
	var redirects, signOuts []string
	for i := range ports {
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = port
		redirects = append(redirects, fmt.Sprintf("http://127.0.0.1:%d/oidc_callback", port))
		signOuts = append(signOuts, fmt.Sprintf("http://127.0.0.1:%d/sign-out", port))
	}
	client["redirect_uris"] = redirects
	client["post_logout_redirect_uris"] = signOuts
	client["grant_types"] = []string{"authorization_code", "refresh_token"}
	client["response_types"] = []string{"code"}
	client["scope"] = "openid profile email offline_access"
	id, err := h.CreateClient(client)
	if err != nil {
		t.Fatal(err)
	}
	if life, ok := client["lifespans"].(map[string]string); ok {
		if err := h.SetClientLifespans(id, life); err != nil {
			t.Fatal(err)
		}
	}
	app, err := harness.StartApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	full := map[string]any{
		"issuer":             h.Issuer,
		"clientID":           id,
		"authenticatedPaths": protectedPaths,
		"sessionSecret":      sessionSecret,
		"debug":              true,
	}
	for k, v := range cfg {
		full[k] = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- Hydra logged:\n%s", lastLines(h.Log(), 60))
		}
	})
	trs := make([]*harness.Traefik, n)
	for i, port := range ports {
		trs[i] = startTraefik(t, harness.TraefikConfig{Port: port}, agsDynamic(app, full))
	}
	return trs
}

// hydraSignIn opens path through tr, signs in at Hydra's login app and expects the
// app's page for path with the Hydra user's identity.
func hydraSignIn(t *testing.T, ctx context.Context, tr *harness.Traefik, h *harness.Hydra, path string) harness.AppView {
	t.Helper()
	if status := openPage(t, ctx, tr.URL(path)); status != 200 {
		t.Fatalf("open %s: the login page answered %d", path, status)
	}
	if loc := location(t, ctx); !strings.HasPrefix(loc, h.UI+"/login?login_challenge=") {
		t.Fatalf("expected Hydra's login page, the browser is at %s showing %q", loc, lastLines(pageText(t, ctx), 20))
	}
	if _, err := harness.SubmitLogin(ctx, harness.HydraUsername, harness.TestPassword); err != nil {
		t.Fatalf("submit the login form: %v", err)
	}
	if loc := location(t, ctx); loc != tr.URL(path) {
		t.Fatalf("expected to be at %s, the browser is at %s showing %q", tr.URL(path), loc, lastLines(pageText(t, ctx), 20))
	}
	v := readApp(t, ctx)
	for header, want := range map[string]string{
		"X-Auth-Request-User":               harness.HydraSubject,
		"X-Auth-Request-Email":              harness.HydraEmail,
		"X-Auth-Request-Preferred-Username": harness.HydraUsername,
	} {
		if got := v.Headers[header]; got != want {
			t.Errorf("the app received %s = %q, want %q", header, got, want)
		}
	}
	return v
}

// TestHydraClientSecretBasic signs in at Hydra with a client_secret_basic client
// (authParams reach Hydra's login request), then signs out through Hydra's end-session endpoint and its logout app.
func TestHydraClientSecretBasic(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")
	b := requireBrowser(t)
	tr := hydraStack(t, h, map[string]any{
		"client_secret":              hydraSecret,
		"token_endpoint_auth_method": "client_secret_basic",
	}, map[string]any{
		"clientSecret":     hydraSecret,
		"clientAuthMethod": "client_secret_basic",
		"authParams":       map[string]any{"ui_locales": "cy en", "login_hint": "ada"},
	})
	ctx, nav := tab(t, b.Tab(), "main")

	start := time.Now()
	openPage(t, ctx, tr.URL("/protected/"))
	if text := pageText(t, ctx); !strings.Contains(text, "ui_locales: cy en; login_hint: ada") {
		t.Errorf("Hydra's login page shows %q, want the authParams ui_locales and login_hint", text)
	}
	hydraSignIn(t, ctx, tr, h, "/protected/page?x=1")
	t.Logf("sign-in at Hydra in Chromium: %s", time.Since(start).Round(time.Millisecond))

	nav.Reset()
	if status := openPage(t, ctx, tr.URL("/sign-out")); status != 200 {
		t.Errorf("sign out: status %d at %s", status, location(t, ctx))
	}
	if !nav.Visited(h.URL("/oauth2/sessions/logout")) || !nav.Visited(h.UI+"/logout") {
		t.Errorf("sign out did not go through Hydra's end-session endpoint and logout app")
	}
	if loc := location(t, ctx); !strings.HasPrefix(loc, tr.URL("/sign-out")) {
		t.Fatalf("after sign out the browser is at %s showing %q", loc, pageText(t, ctx))
	}
	v := readApp(t, ctx)
	if v.View != "signed-out" {
		t.Fatalf("after sign out: view %q", v.View)
	}
	expectNoIdentity(t, v)
	openPage(t, ctx, tr.URL("/protected/"))
	if loc := location(t, ctx); !strings.HasPrefix(loc, h.UI+"/login?") {
		t.Errorf("signed out, the protected page went to %s, want Hydra's login page", loc)
	}
}

// TestHydraES256IDToken: Hydra signs ID tokens with an ES256 key set made through its
// admin API; ags verifies them.
func TestHydraES256IDToken(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "ES256")
	b := requireBrowser(t)
	tr := hydraStack(t, h, map[string]any{
		"client_secret":              hydraSecret,
		"token_endpoint_auth_method": "client_secret_post",
	}, map[string]any{"clientSecret": hydraSecret, "clientAuthMethod": "client_secret_post", "passIDToken": true})
	ctx, _ := tab(t, b.Tab(), "main")
	v := hydraSignIn(t, ctx, tr, h, "/protected/")
	idToken := v.Headers["X-Auth-Request-Id-Token"]
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(idToken, ".")[0])
	if err != nil {
		t.Fatalf("the app received the ID token %q: %v", idToken, err)
	}
	var hdr struct{ Alg, Kid string }
	json.Unmarshal(header, &hdr)
	if hdr.Alg != "ES256" || hdr.Kid != "ags-e2e-es256" {
		t.Errorf("the ID token's header is %s, want ES256 with kid ags-e2e-es256", header)
	}
}

// TestHydraPrivateKeyJWT: a client that Hydra lets authenticate with private_key_jwt
// only (ES256, its public JWK registered with kid the RFC 7638 thumbprint that
// go-jose computes: ags's default kid must match it). The code exchange and, once
// the access token has expired, a refresh are each authenticated by a new assertion.
func TestHydraPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")
	b := requireBrowser(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := publicJWK(t, &key.PublicKey, "ES256")
	tr := hydraStack(t, h, map[string]any{
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": "ES256",
		"jwks":                            map[string]any{"keys": []any{jwk}},
		"lifespans": map[string]string{
			"authorization_code_grant_access_token_lifespan": "4s",
			"refresh_token_grant_access_token_lifespan":      "1h",
		},
	}, map[string]any{
		"clientPrivateKey": privatePEM(t, key),
		"refresh":          true,
		"passAccessToken":  true,
		"scopes":           "openid profile email offline_access",
	})
	ctx, _ := tab(t, b.Tab(), "main")
	first := hydraSignIn(t, ctx, tr, h, "/protected/").Headers["X-Auth-Request-Access-Token"]

	time.Sleep(5 * time.Second) // the access token expires
	if status := openPage(t, ctx, tr.URL("/protected/")); status != 200 || location(t, ctx) != tr.URL("/protected/") {
		t.Fatalf("after the access token expired: status %d at %s", status, location(t, ctx))
	}
	v := readApp(t, ctx)
	if v.User != harness.HydraSubject || v.Headers["X-Auth-Request-Access-Token"] == first {
		t.Errorf("after the access token expired: user %q, access token renewed: %v", v.User, v.Headers["X-Auth-Request-Access-Token"] != first)
	}
	log := tr.Log()
	if !strings.Contains(log, `"clientPrivateKey":"[redacted]"`) || !strings.Contains(log, `public JWK {"crv":"P-256","kty":"EC"`) {
		t.Errorf("ags did not log its effective configuration with debug on")
	}
	if pemBody := strings.Split(privatePEM(t, key), "\n")[1]; strings.Contains(log, pemBody) {
		t.Errorf("the private key reached Traefik's log")
	}
}

// TestZitadelPrivateKeyJWT: the zitadel/oidc op package accepts ags's RS256 client
// assertion (aud the issuer, as ZITADEL wants) for a client whose storage says
// private_key_jwt, with kid set by clientKeyID.
func TestZitadelPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	p, err := harness.StartProvider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	app, err := harness.StartApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.SetClientKey("ags-e2e-rsa", &key.PublicKey)
	b := requireBrowser(t)
	tr := startTraefik(t, harness.TraefikConfig{}, agsDynamic(app, agsConfig(p, map[string]any{
		"clientID":                harness.ClientIDKey,
		"clientSecret":            nil,
		"clientPrivateKey":        privatePEM(t, key),
		"clientKeyID":             "ags-e2e-rsa",
		"clientAuthMethod":        "private_key_jwt",
		"clientAssertionAudience": "issuer",
	})))
	ctx, _ := tab(t, b.Tab(), "main")
	signIn(t, ctx, tr, p, "/protected/")
}

// publicJWK is key's public JWK with alg and use, and kid its RFC 7638 thumbprint
// as go-jose computes it.
func publicJWK(t *testing.T, key crypto.PublicKey, alg string) map[string]any {
	t.Helper()
	j := jose.JSONWebKey{Key: key, Algorithm: alg, Use: "sig"}
	sum, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	j.KeyID = base64.RawURLEncoding.EncodeToString(sum)
	data, err := j.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// privatePEM is key as a PKCS #8 PEM document.
func privatePEM(t *testing.T, key crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestHydraRenewalOncePerSession (issue 12): Hydra rotates refresh tokens and revokes
// the whole grant when it sees a spent one again. Requests that carry one expired
// session at once renew it once, a request still carrying the old cookie afterwards
// is served (not sent to Hydra with the spent token), and the grant lives on through
// later renewals.
func TestHydraRenewalOncePerSession(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")
	tr := hydraStack(t, h, map[string]any{
		"client_secret":              hydraSecret,
		"token_endpoint_auth_method": "client_secret_basic",
		"lifespans": map[string]string{
			"authorization_code_grant_access_token_lifespan": "3s",
			"refresh_token_grant_access_token_lifespan":      "3s",
		},
	}, map[string]any{
		"clientSecret": hydraSecret,
		"refresh":      true,
		"scopes":       "openid profile email offline_access",
	})
	c := harness.NewClient()
	start, err := c.Get(tr.URL("/protected/"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(start, harness.HydraUsername, harness.TestPassword)
	if err != nil || page.Status != 200 || harness.ParseAppView(page.Body).User != harness.HydraSubject {
		t.Fatalf("sign-in at Hydra: %v, %d, hops:\n%s", err, page.Status, hops(page.Hops))
	}
	u, _ := url.Parse(tr.URL("/"))
	var old []string
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		old = append(old, ck.Name+"="+ck.Value)
	}
	oldCookie := strings.Join(old, "; ")

	time.Sleep(4 * time.Second) // the access token expires
	var wg sync.WaitGroup
	users := make([]string, 8)
	for i := range users {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, tr.URL("/protected/"), nil)
			req.Header.Set("Cookie", oldCookie)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				users[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			users[i] = fmt.Sprintf("%d %s", resp.StatusCode, harness.ParseAppView(string(body)).User)
		}(i)
	}
	wg.Wait()
	for i, got := range users {
		if got != "200 "+harness.HydraSubject {
			t.Errorf("concurrent request %d with the expired session: got %q, want 200 as %s", i, got, harness.HydraSubject)
		}
	}
	// The old cookie again, after the renewal and after a configuration change, which
	// makes Traefik build a new middleware instance with an empty cache: the outcome of
	// the renewal outlives the instance, so the spent token is not sent again.
	dyn := tr.Dynamic()
	dyn.Middlewares["ags"].Config["identityHeaders"] = map[string]any{"email": "X-Mail"}
	if err := tr.SetDynamic(dyn); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, tr.URL("/protected/"), nil)
	req.Header.Set("Cookie", oldCookie)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the old cookie after the renewal: got %d, want 200", resp.StatusCode)
	}
	// Two more renewals on the browser's own cookies: the grant was never revoked.
	for round := 0; round < 2; round++ {
		time.Sleep(4 * time.Second)
		page, err := c.Get(tr.URL("/protected/"))
		if err != nil || len(page.Hops) != 1 || page.Status != 200 || harness.ParseAppView(page.Body).User != harness.HydraSubject {
			t.Fatalf("renewal %d: %v, hops:\n%s", round+2, err, hops(page.Hops))
		}
	}
	if n := strings.Count(tr.Log(), "session ended"); n != 0 {
		t.Errorf("ags ended %d sessions: a renewal failed", n)
	}
}
