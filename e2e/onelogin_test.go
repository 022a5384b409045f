package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// These tests run ags in a real Traefik against the GOV.UK One Login-shaped provider
// (harness.OneLogin), configured as the README's "GOV.UK One Login" block:
// private_key_jwt with an RSA key, vtr and ui_locales, a signed request object whose
// aud is the authorization endpoint, the issuer with its trailing slash. The provider
// has no login page, so a plain client's GET of a protected path runs the whole
// sign-in.

// oneLoginSubject is the user's sub, as One Login shapes its pairwise identifiers.
const oneLoginSubject = "urn:fdc:gov.uk:2022:e2e-ags-one-login-user"

type oneLoginStack struct {
	ol       *harness.OneLogin
	echo     *echoBackend
	tr       *harness.Traefik
	clientID string
}

// startOneLoginStack starts the provider, an echo app and a Traefik with ags set up as
// the README's One Login block, extra on top (nil values remove an option), and
// registers the client with the public half of ags's key.
func startOneLoginStack(t *testing.T, extra map[string]any) *oneLoginStack {
	t.Helper()
	return startOneLoginRoutes(t, func(*harness.OneLogin) map[string]oneLoginRoute {
		return map[string]oneLoginRoute{"ags": {rule: "PathPrefix(`/`)", extra: extra}}
	})
}

// oneLoginRoute is a Traefik router and the ags instance of the same name on it: the
// README's One Login block with extra on top, and callbacks, the paths of the
// instance's callback (its callbackPath), registered as redirect URIs; nil:
// /oidc_callback.
type oneLoginRoute struct {
	rule      string
	extra     map[string]any
	callbacks []string
}

// startOneLoginRoutes is startOneLoginStack with the routers and instances that
// routes returns for the provider, every instance with the same client and key (one
// sign-in). The client is registered with the callback URLs on Traefik's port at
// 127.0.0.1 and at hosts.
func startOneLoginRoutes(t *testing.T, routes func(*harness.OneLogin) map[string]oneLoginRoute, hosts ...string) *oneLoginStack {
	t.Helper()
	ol, err := harness.StartOneLogin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ol.Close)
	user := harness.DefaultOneLoginUser()
	user.Subject = oneLoginSubject
	ol.SetUser(user)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &oneLoginStack{ol: ol, echo: startEcho(t), clientID: "ags-e2e-one-login"}
	dyn := &harness.Dynamic{Routes: map[string]harness.Route{}, Middlewares: map[string]harness.Middleware{}}
	callbacks := map[string]bool{}
	for name, route := range routes(ol) {
		options := map[string]any{
			"clientID":              s.clientID,
			"clientSecret":          nil,
			"clientAuthMethod":      "private_key_jwt",
			"clientPrivateKey":      privatePEM(t, key),
			"scopes":                "openid email phone",
			"authParams":            map[string]any{"vtr": `["Cl.Cm"]`, "ui_locales": "en"},
			"requestObject":         "true",
			"requestObjectAudience": "authorization_endpoint",
		}
		for k, v := range route.extra {
			options[k] = v
		}
		dyn.Routes[name] = harness.Route{Rule: route.rule, Middlewares: []string{name}, Backend: s.echo.srv.URL}
		dyn.Middlewares[name] = harness.Middleware{Plugin: "ags", Config: agsConfig(&harness.Provider{Issuer: ol.Issuer}, options)}
		for _, c := range route.callbacks {
			callbacks[c] = true
		}
		if route.callbacks == nil {
			callbacks["/oidc_callback"] = true
		}
	}
	s.tr = startTraefik(t, harness.TraefikConfig{}, dyn)
	// Registered once Traefik's port, hence the redirect URIs, are known; ags calls
	// the provider only at the first sign-in.
	var redirects []string
	for _, c := range slices.Sorted(maps.Keys(callbacks)) {
		redirects = append(redirects, s.tr.URL(c))
		for _, h := range hosts {
			redirects = append(redirects, fmt.Sprintf("http://%s:%d%s", h, s.tr.Port, c))
		}
	}
	if err := ol.RegisterClient(harness.OneLoginClient{ID: s.clientID, RedirectURIs: redirects, PublicKey: &key.PublicKey}); err != nil {
		t.Fatal(err)
	}
	return s
}

// get follows redirects from path; the app's answer is decoded into the echoed request.
func (s *oneLoginStack) get(t *testing.T, c *harness.Client, path string) (*harness.Page, echoed) {
	t.Helper()
	page, err := c.Get(s.tr.URL(path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var e echoed
	if strings.HasPrefix(page.Header.Get("Content-Type"), "application/json") {
		json.Unmarshal([]byte(page.Body), &e)
	}
	return page, e
}

// signIn signs a new client in at path and checks that the app got the One Login
// user, then that the session serves the next request without a redirect.
func (s *oneLoginStack) signIn(t *testing.T, path string) *harness.Client {
	t.Helper()
	c := harness.NewClient()
	page, e := s.get(t, c, path)
	if page.Status != http.StatusOK || e.URI != path || e.Header.Get("X-Auth-Request-User") != oneLoginSubject {
		t.Fatalf("sign-in at %s: %d, app saw %q as %q; want the app with user %q; hops:\n%s%.600s",
			path, page.Status, e.URI, e.Header.Get("X-Auth-Request-User"), oneLoginSubject, hops(page.Hops), page.Body)
	}
	if len(page.Hops) != 4 || !strings.HasPrefix(page.Hops[1].URL, s.ol.URL("/authorize?")) {
		t.Errorf("sign-in at %s: want protected page, /authorize, callback, protected page; hops:\n%s", path, hops(page.Hops))
	}
	again, e := s.get(t, c, path)
	if len(again.Hops) != 1 || again.Status != http.StatusOK || e.Header.Get("X-Auth-Request-User") != oneLoginSubject {
		t.Errorf("signed in, GET %s: %d after %d requests as %q, want the app at once", path, again.Status, len(again.Hops), e.Header.Get("X-Auth-Request-User"))
	}
	return c
}

// checkClientAssertion checks that the code exchange authenticated with
// private_key_jwt, the assertion's aud the token URL (One Login's default).
func (s *oneLoginStack) checkClientAssertion(t *testing.T) {
	t.Helper()
	tok, ok := s.ol.LastToken()
	if !ok {
		t.Fatal("the provider received no token request")
	}
	if got := tok.Form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("token request: client_assertion_type %q, want private_key_jwt's jwt-bearer", got)
	}
	if tok.Form.Has("client_secret") {
		t.Errorf("token request sent a client_secret")
	}
	a := tok.Assertion
	if a == nil {
		t.Fatalf("token request without a client assertion: %v", tok.Form)
	}
	if !audIs(a["aud"], s.ol.URL("/token")) {
		t.Errorf("client assertion aud %v, want the token URL %s", a["aud"], s.ol.URL("/token"))
	}
	if a["iss"] != s.clientID || a["sub"] != s.clientID {
		t.Errorf("client assertion iss %v, sub %v, want the client %s", a["iss"], a["sub"], s.clientID)
	}
	if alg, _ := tok.AssertionHeader["alg"].(string); !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
		t.Errorf("client assertion alg %q, want an RSA one", alg)
	}
}

// audIs: aud is want, alone or as the one member of an array.
func audIs(aud any, want string) bool {
	if a, ok := aud.([]any); ok && len(a) == 1 {
		aud = a[0]
	}
	return aud == want
}

// TestOneLoginSignIn: the README's One Login configuration signs in through Traefik.
// The authorization request's query holds only what One Login wants beside a request
// object (response_type, scope, client_id, request); the object, signed with ags's RSA
// key for the authorization endpoint, holds vtr as a JSON array and ags's state, nonce
// and PKCE challenge; the code exchange authenticates with private_key_jwt for the
// token URL; the app gets the One Login sub.
func TestOneLoginSignIn(t *testing.T) {
	t.Parallel()
	s := startOneLoginStack(t, nil)
	s.signIn(t, "/protected/account?x=1")

	auth, ok := s.ol.LastAuthorize()
	if !ok {
		t.Fatal("the provider received no authorization request")
	}
	if got, want := slices.Sorted(maps.Keys(auth.Query)), []string{"client_id", "request", "response_type", "scope"}; !reflect.DeepEqual(got, want) {
		t.Errorf("authorization query parameters %v, want only %v", got, want)
	}
	for k, want := range map[string]string{"response_type": "code", "client_id": s.clientID, "scope": "openid email phone"} {
		if got := auth.Query.Get(k); got != want {
			t.Errorf("authorization query %s = %q, want %q", k, got, want)
		}
	}
	ro := auth.RequestObject
	if ro == nil {
		t.Fatal("no request object")
	}
	if vtr, ok := ro["vtr"].([]any); !ok || !reflect.DeepEqual(vtr, []any{"Cl.Cm"}) {
		t.Errorf("request object vtr %#v, want the JSON array [\"Cl.Cm\"]", ro["vtr"])
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if v, _ := ro[k].(string); len(v) < 22 { // 128 bits in base64url
			t.Errorf("request object %s = %#v, want at least 128 random bits", k, ro[k])
		}
	}
	for k, want := range map[string]any{
		"aud": s.ol.URL("/authorize"), "iss": s.clientID, "client_id": s.clientID,
		"response_type": "code", "scope": "openid email phone", "ui_locales": "en",
		"redirect_uri": s.tr.URL("/oidc_callback"), "code_challenge_method": "S256",
	} {
		if got := ro[k]; got != want && !(k == "aud" && audIs(got, want.(string))) {
			t.Errorf("request object %s = %#v, want %q", k, got, want)
		}
	}
	if typ := auth.RequestObjectHeader["typ"]; typ != "oauth-authz-req+jwt" {
		t.Errorf("request object typ %v, want oauth-authz-req+jwt (RFC 9101)", typ)
	}
	s.checkClientAssertion(t)
}

// TestOneLoginSignInWithoutRequestObject: without requestObject, vtr travels in the
// query as its JSON string and the sign-in works the same.
func TestOneLoginSignInWithoutRequestObject(t *testing.T) {
	t.Parallel()
	s := startOneLoginStack(t, map[string]any{"requestObject": nil, "requestObjectAudience": nil})
	s.signIn(t, "/protected/")

	auth, ok := s.ol.LastAuthorize()
	if !ok {
		t.Fatal("the provider received no authorization request")
	}
	if auth.RequestObject != nil || auth.Query.Has("request") {
		t.Errorf("a request object was sent without requestObject")
	}
	for k, want := range map[string]string{"vtr": `["Cl.Cm"]`, "ui_locales": "en", "code_challenge_method": "S256"} {
		if got := auth.Query.Get(k); got != want {
			t.Errorf("authorization query %s = %q, want %q", k, got, want)
		}
	}
	s.checkClientAssertion(t)
}

// TestOneLoginBadIDTokens: every ID token fault the provider offers, and a user who
// achieved only Cl when ags asked for Cl.Cm, makes the sign-in fail in ags's callback:
// a 401 "Sign-in failed" page from ags (the app is not reached), a warning in
// Traefik's log, and no session (the next protected request starts a sign-in again).
// A clean sign-in on the same Traefik afterwards shows that the faults failed it.
//
// allowedAlgorithms is ES256, the ID token algorithm the client is registered for:
// without it ags takes any algorithm the discovery lists (ES256 and RS256), and the
// "other alg" token, RS256 with the provider's own published RSA key, signs in.
func TestOneLoginBadIDTokens(t *testing.T) {
	t.Parallel()
	s := startOneLoginStack(t, map[string]any{"allowedAlgorithms": []string{"ES256"}})
	const path = "/protected/account"
	cases := []struct {
		name  string
		fault harness.IDTokenFault
		cred  string // the credential level the user achieves; "": the one asked for
		log   string // the reason in ags's log line
	}{
		{name: "wrong issuer", fault: harness.IDTokenWrongIssuer, log: `wrong issuer: iss "https://oidc.integration.account.gov.uk/"`},
		{name: "wrong audience", fault: harness.IDTokenWrongAudience, log: "wrong audience"},
		{name: "alg none", fault: harness.IDTokenAlgNone, log: `algorithm not allowed: "none"`},
		{name: "other alg", fault: harness.IDTokenOtherAlg, log: `algorithm not allowed: "RS256"`},
		{name: "bad signature", fault: harness.IDTokenBadSignature, log: "invalid signature"},
		{name: "expired", fault: harness.IDTokenExpired, log: "token expired"},
		{name: "not yet valid", fault: harness.IDTokenNotYetValid, log: "is in the future"},
		{name: "wrong nonce", fault: harness.IDTokenWrongNonce, log: "nonce mismatch"},
		{name: "wrong vot", fault: harness.IDTokenWrongVot, log: `vot "Cl" is not one of the vectors asked for`},
		{name: "no vot", fault: harness.IDTokenNoVot, log: "the ID token has no vot"},
		{name: "user achieved Cl only", cred: "Cl", log: `vot "Cl" is not one of the vectors asked for (vtr ["Cl.Cm"])`},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			user := harness.DefaultOneLoginUser()
			user.Subject = oneLoginSubject
			user.Credential = tc.cred
			s.ol.SetUser(user)
			s.ol.SetIDTokenFault(tc.fault)
			t.Cleanup(func() {
				s.ol.SetIDTokenFault(harness.IDTokenNoFault)
				user.Credential = ""
				s.ol.SetUser(user)
			})
			off, before := s.tr.LogSize(), s.echo.requests()
			c := harness.NewClient()
			page, _ := s.get(t, c, path)
			if page.Status != http.StatusUnauthorized || page.URL.Path != "/oidc_callback" ||
				!strings.Contains(page.Body, "<title>Sign-in failed</title>") {
				t.Errorf("want ags's 401 Sign-in failed page at the callback, got %d at %s; hops:\n%s%.600s",
					page.Status, page.URL, hops(page.Hops), page.Body)
			}
			if s.echo.requests() != before {
				t.Errorf("the app was reached")
			}
			const prefix = "id token rejected on GET /oidc_callback: "
			var line string
			for _, l := range strings.Split(s.tr.LogSince(off), "\n") {
				if strings.Contains(l, prefix) {
					line = l[strings.Index(l, prefix)+len(prefix):]
				}
			}
			if !strings.Contains(line, tc.log) {
				t.Errorf("want ags's line %q with %q in Traefik's log, got:\n%s", prefix, tc.log, s.tr.LogSince(off))
			}
			if _, ok := s.ol.LastToken(); !ok {
				t.Errorf("no code exchange: the sign-in failed before the ID token")
			}
			// No session: the protected path sends the browser to sign in again.
			resp, err := c.HTTP.Get(s.tr.URL(path))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.ol.URL("/authorize?")) {
				t.Errorf("after the failed sign-in, GET %s: %d to %q, want 302 to the provider", path, resp.StatusCode, loc)
			}
		})
	}
	s.signIn(t, path)
}
