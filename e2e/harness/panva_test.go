package harness

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// These tests drive each profile of Panva with a plain Go client through the code
// flow (authorize, login form, code, token with client_secret_basic, userinfo) and
// check what makes the profile the provider it imitates.

func startPanva(t *testing.T, opts PanvaOptions) *Panva {
	t.Helper()
	if _, err := FindNode(); err != nil {
		skipOrFail(t, err)
	}
	if _, err := OIDCProviderDir(); err != nil {
		skipOrFail(t, err)
	}
	p, err := StartPanva(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oidc-provider log:\n%s", tail(p.Log(), 60))
		}
		p.Close()
	})
	return p
}

// skipOrFail skips the test for a missing program, or fails it when CI is set.
func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %v", err)
	}
	t.Skipf("skipped: %v", err)
}

// rp is a relying party of a Panva: a Go client with a cookie jar, and a callback
// server that records what the provider sent (query or form).
type rp struct {
	t         *testing.T
	p         *Panva
	disc      map[string]any
	c         *Client
	clientID  string
	redirect  string
	mu        sync.Mutex
	callbacks []*http.Request // each with its form parsed
	keys      jose.JSONWebKeySet
}

func newRP(t *testing.T, p *Panva) *rp {
	t.Helper()
	r := &rp{t: t, p: p, c: NewClient(), clientID: p.ClientID}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		r.mu.Lock()
		r.callbacks = append(r.callbacks, req)
		r.mu.Unlock()
		fmt.Fprintf(w, "callback %s %s", req.Method, req.URL.Path)
	}))
	t.Cleanup(srv.Close)
	r.redirect = srv.URL + "/callback"
	status, disc, _ := r.getJSON(p.Issuer+"/.well-known/openid-configuration", "")
	if status != 200 {
		t.Fatalf("discovery: %d %v", status, disc)
	}
	r.disc = disc
	resp, err := http.Get(r.endpoint("jwks_uri"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r.keys); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return r
}

func (r *rp) endpoint(name string) string {
	r.t.Helper()
	s, _ := r.disc[name].(string)
	if s == "" {
		r.t.Fatalf("discovery has no %s: %v", name, r.disc)
	}
	return s
}

// authorize starts a code flow (state, nonce, PKCE S256) with scope and more
// parameters, and returns the provider's first page (the login form).
func (r *rp) authorize(scope string, more url.Values) (*Page, string) {
	r.t.Helper()
	verifier := randomHex(32)
	challenge := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirect},
		"scope": {scope}, "state": {"state-" + randomHex(4)}, "nonce": {"nonce-" + randomHex(4)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"}}
	for k, v := range more {
		q[k] = v
	}
	page, err := r.c.Get(r.endpoint("authorization_endpoint") + "?" + q.Encode())
	if err != nil {
		r.t.Fatal(err)
	}
	return page, verifier
}

// signIn signs the user in on the login page and returns what reached the callback
// (after submitting a form_post answer when the provider sent one).
func (r *rp) signIn(login *Page) *http.Request {
	r.t.Helper()
	page, err := r.c.SignIn(login, PanvaUsername, TestPassword)
	if err != nil {
		r.t.Fatalf("%v; hops:\n%v", err, page)
	}
	if strings.Contains(page.Body, "<form") && !strings.HasPrefix(page.Body, "callback") {
		if page, err = r.c.SubmitForm(page); err != nil {
			r.t.Fatal(err)
		}
	}
	if !strings.HasPrefix(page.Body, "callback") {
		r.t.Fatalf("did not reach the callback: %d %s\nhops: %v", page.Status, tail(page.Body, 20), page.Hops)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.callbacks[len(r.callbacks)-1]
}

// token redeems code with client_secret_basic.
func (r *rp) token(code, verifier string) map[string]any {
	r.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect},
		"code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, r.endpoint("token_endpoint"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(r.clientID), url.QueryEscape(ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok["id_token"] == nil {
		r.t.Fatalf("token endpoint: %s %v %v", resp.Status, err, tok)
	}
	return tok
}

// signInAll is authorize, signIn and token, checking state; it returns the token
// response and the callback's request.
func (r *rp) signInAll(scope string, more url.Values) (map[string]any, *http.Request) {
	r.t.Helper()
	login, verifier := r.authorize(scope, more)
	cb := r.signIn(login)
	if cb.Form.Get("code") == "" || !strings.HasPrefix(cb.Form.Get("state"), "state-") {
		r.t.Fatalf("callback without code or state: %s %v", cb.Method, cb.Form)
	}
	return r.token(cb.Form.Get("code"), verifier), cb
}

// verify checks a JWT's signature with the provider's keys and returns its header
// typ and claims.
func (r *rp) verify(raw any) (string, map[string]any) {
	r.t.Helper()
	s, _ := raw.(string)
	jws, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		r.t.Fatalf("parse %q: %v", s, err)
	}
	sig := jws.Signatures[0].Header
	keys := r.keys.Key(sig.KeyID)
	if len(keys) == 0 {
		r.t.Fatalf("no key %q in the provider's key set", sig.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		r.t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		r.t.Fatal(err)
	}
	typ, _ := sig.ExtraHeaders["typ"].(string)
	return typ, claims
}

// getJSON GETs u (with a Bearer token when set) and decodes the answer.
func (r *rp) getJSON(u, bearer string) (int, map[string]any, http.Header) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out map[string]any
	json.Unmarshal(body, &out)
	return resp.StatusCode, out, resp.Header
}

func (r *rp) userinfo(accessToken any) (int, map[string]any, http.Header) {
	r.t.Helper()
	s, _ := accessToken.(string)
	return r.getJSON(r.endpoint("userinfo_endpoint"), s)
}

func isJWT(v any) bool {
	s, _ := v.(string)
	return strings.Count(s, ".") == 2
}

func TestPanvaTextbook(t *testing.T) {
	p := startPanva(t, PanvaOptions{})
	r := newRP(t, p)
	if r.disc["issuer"] != p.Issuer || r.disc["end_session_endpoint"] == nil || r.disc["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("discovery: %v", r.disc)
	}
	tok, cb := r.signInAll("openid profile email", nil)
	if cb.Method != http.MethodGet || cb.Form.Get("iss") != p.Issuer {
		t.Errorf("callback: %s iss %q, want GET with iss %q (RFC 9207)", cb.Method, cb.Form.Get("iss"), p.Issuer)
	}
	_, id := r.verify(tok["id_token"])
	if id["iss"] != p.Issuer || id["aud"] != ClientID || id["sub"] != PanvaSubject || id["email"] != PanvaEmail || id["nonce"] == nil {
		t.Errorf("ID token: %v", id)
	}
	if isJWT(tok["access_token"]) {
		t.Errorf("access token %v is a JWT, want opaque", tok["access_token"])
	}
	status, info, _ := r.userinfo(tok["access_token"])
	if status != 200 || info["sub"] != PanvaSubject || info["email"] != PanvaEmail || !reflect.DeepEqual(info["groups"], []any{"engineering", "ags-admins"}) {
		t.Errorf("userinfo: %d %v", status, info)
	}

	// The test changes the user; the next sign-in (the session stays) says so.
	claims := PanvaClaims(PanvaTextbook, "")
	claims["email"], claims["groups"] = "grace@example.net", []string{"ops"}
	if err := p.SetClaims(claims); err != nil {
		t.Fatal(err)
	}
	login, verifier := r.authorize("openid email", nil)
	if !strings.HasPrefix(login.Body, "callback") {
		t.Fatalf("a second sign-in in the same session asked again: %s", tail(login.Body, 10))
	}
	r.mu.Lock()
	code := r.callbacks[len(r.callbacks)-1].Form.Get("code")
	r.mu.Unlock()
	_, id = r.verify(r.token(code, verifier)["id_token"])
	if id["email"] != "grace@example.net" || !reflect.DeepEqual(id["groups"], []any{"ops"}) {
		t.Errorf("ID token after SetClaims: %v", id)
	}
}

// TestPanvaLoginForm: a wrong password keeps the form with an error; Cancel returns
// access_denied to the client; login_hint and ui_locales show on the page.
func TestPanvaLoginForm(t *testing.T) {
	p := startPanva(t, PanvaOptions{})
	r := newRP(t, p)
	login, _ := r.authorize("openid", url.Values{"login_hint": {"grace@example.org"}, "ui_locales": {"de"}})
	if !strings.Contains(login.Body, "login_hint: grace@example.org") || !strings.Contains(login.Body, "ui_locales: de") {
		t.Errorf("the login page does not show login_hint and ui_locales:\n%s", login.Body)
	}
	page, err := r.c.SignIn(login, PanvaUsername, "wrong")
	if err != nil || page.Status != 401 || !strings.Contains(page.Body, `id="error"`) || !strings.Contains(page.Body, `type="password"`) {
		t.Fatalf("a wrong password: %v %v", page, err)
	}
	login, _ = r.authorize("openid", nil)
	action, _, err := ParseLoginForm(login.Body, login.URL)
	if err != nil {
		t.Fatal(err)
	}
	cancel := strings.TrimSuffix(action, "/login") + "/abort"
	if page, err = r.c.Get(cancel); err != nil || !strings.HasPrefix(page.Body, "callback") {
		t.Fatalf("cancel: %v %v", page, err)
	}
	r.mu.Lock()
	cb := r.callbacks[len(r.callbacks)-1]
	r.mu.Unlock()
	if cb.Form.Get("error") != "access_denied" || cb.Form.Get("code") != "" {
		t.Errorf("cancel: the callback got %v", cb.Form)
	}
}

func TestPanvaMinimalIDToken(t *testing.T) {
	p := startPanva(t, PanvaOptions{MinimalIDToken: true})
	r := newRP(t, p)
	claimsParam := `{"id_token":{"preferred_username":null}}`
	tok, _ := r.signInAll("openid profile email", url.Values{"claims": {claimsParam}})
	_, id := r.verify(tok["id_token"])
	if id["email"] != nil || id["preferred_username"] != PanvaUsername {
		t.Errorf("ID token: %v, want no email and the preferred_username the claims parameter asked for", id)
	}
	if status, info, _ := r.userinfo(tok["access_token"]); status != 200 || info["email"] != PanvaEmail {
		t.Errorf("userinfo: %d %v", status, info)
	}
}

// TestPanvaSignOut: RP-initiated logout through the confirmation form, the back-channel
// logout token to the client's URI, and the post-logout redirect.
func TestPanvaSignOut(t *testing.T) {
	logouts := make(chan url.Values, 1)
	bc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		logouts <- req.PostForm
	}))
	defer bc.Close()
	client := PanvaDefaultClient(ClientID)
	client["backchannel_logout_uri"] = bc.URL + "/backchannel"
	client["backchannel_logout_session_required"] = true
	p := startPanva(t, PanvaOptions{Clients: []map[string]any{client}})
	r := newRP(t, p)
	tok, _ := r.signInAll("openid", nil)
	_, id := r.verify(tok["id_token"])
	q := url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {strings.TrimSuffix(r.redirect, "/callback") + "/signed-out"}, "state": {"bye"}}
	confirm, err := r.c.Get(r.endpoint("end_session_endpoint") + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.c.SubmitForm(confirm)
	if err != nil {
		t.Fatal(err)
	}
	if last := page.Hops[len(page.Hops)-1]; !strings.HasSuffix(page.URL.Path, "/signed-out") || page.URL.Query().Get("state") != "bye" {
		t.Fatalf("after logout at %v (%v)", page.URL, last)
	}
	select {
	case form := <-logouts:
		_, lt := r.verify(form.Get("logout_token"))
		events, _ := lt["events"].(map[string]any)
		if lt["sid"] != id["sid"] || lt["sub"] != PanvaSubject || events["http://schemas.openid.net/event/backchannel-logout"] == nil {
			t.Errorf("logout token: %v (ID token sid %v)", lt, id["sid"])
		}
	default:
		t.Errorf("no back-channel logout token")
	}
	// The session ended: a new authorization shows the login form.
	if login, _ := r.authorize("openid", nil); !strings.Contains(login.Body, `type="password"`) {
		t.Errorf("after logout: %s", tail(login.Body, 10))
	}
}

func TestPanvaEntraMultitenant(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaEntraMultitenant})
	r := newRP(t, p)
	if want := p.Origin + "/{tenantid}/v2.0"; r.disc["issuer"] != want || r.disc["authorization_response_iss_parameter_supported"] != nil {
		t.Fatalf("discovery at %s: issuer %v, want the template %s and no RFC 9207", p.Issuer, r.disc["issuer"], want)
	}
	if !strings.HasPrefix(r.endpoint("authorization_endpoint"), p.Origin+"/organizations/oauth2/v2.0/authorize") {
		t.Errorf("authorization_endpoint %v", r.disc["authorization_endpoint"])
	}
	// The tenant's own discovery names the tenant.
	if _, d, _ := r.getJSON(p.Origin+"/"+PanvaTenantID+"/v2.0/.well-known/openid-configuration", ""); d["issuer"] != p.TokenIssuer() {
		t.Errorf("tenant discovery issuer %v, want %s", d["issuer"], p.TokenIssuer())
	}
	tok, cb := r.signInAll("openid profile email offline_access", nil)
	if cb.Form.Has("iss") {
		t.Errorf("the authorization response has iss=%s; Entra sends none", cb.Form.Get("iss"))
	}
	_, id := r.verify(tok["id_token"])
	if id["iss"] != p.Origin+"/"+PanvaTenantID+"/v2.0" || id["tid"] != PanvaTenantID || id["ver"] != "2.0" || id["oid"] == nil {
		t.Errorf("ID token: %v", id)
	}
	if tok["refresh_token"] == nil {
		t.Errorf("no refresh token for offline_access")
	}
	typ, at := r.verify(tok["access_token"])
	if typ != "JWT" || at["aud"] != ClientID || at["tid"] != PanvaTenantID || at["scp"] == nil || at["iss"] != id["iss"] {
		t.Errorf("access token: typ %q %v", typ, at)
	}
	status, info, h := r.userinfo(tok["access_token"])
	if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("userinfo with the app's token: %d %v %v, want 401 invalid_token", status, info, h)
	}

	// A user of another tenant: the tokens name that tenant.
	other := "0c5e7a9b-1d3f-4b6a-8e2c-7f9d1b3a5c7e"
	claims := PanvaClaims(PanvaEntraMultitenant, other)
	if err := p.SetClaims(claims); err != nil {
		t.Fatal(err)
	}
	r2 := newRP(t, p)
	tok, _ = r2.signInAll("openid", nil)
	if _, id := r2.verify(tok["id_token"]); id["iss"] != p.Origin+"/"+other+"/v2.0" || id["tid"] != other {
		t.Errorf("ID token of the other tenant: %v", id)
	}
}

func TestPanvaKeycloak(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaKeycloak})
	r := newRP(t, p)
	if r.disc["issuer"] != p.Origin+"/realms/ags" || r.endpoint("token_endpoint") != p.Origin+"/realms/ags/protocol/openid-connect/token" {
		t.Fatalf("discovery: %v", r.disc)
	}
	tok, _ := r.signInAll("openid profile email", nil)
	_, id := r.verify(tok["id_token"])
	if id["iss"] != p.Issuer || id["aud"] != PanvaKeycloakClientID || id["realm_access"] != nil || id["resource_access"] != nil {
		t.Errorf("ID token: %v, want no roles", id)
	}
	typ, at := r.verify(tok["access_token"])
	realm, _ := at["realm_access"].(map[string]any)
	resource, _ := at["resource_access"].(map[string]any)
	app, _ := resource["my.app"].(map[string]any)
	if typ != "at+jwt" || at["aud"] != "account" || at["azp"] != PanvaKeycloakClientID || at["iss"] != p.Issuer ||
		!reflect.DeepEqual(realm["roles"], []any{"default-roles-ags", "offline_access", "uma_authorization", "ags-admin"}) ||
		!reflect.DeepEqual(app["roles"], []any{"admin", "viewer"}) {
		t.Errorf("access token: typ %q %v", typ, at)
	}
	if tok["refresh_token"] == nil {
		t.Errorf("no refresh token; Keycloak gives one")
	}
	status, info, _ := r.userinfo(tok["access_token"])
	if status != 200 || info["sub"] != PanvaSubject || info["email"] != PanvaEmail || info["realm_access"] != nil {
		t.Errorf("userinfo: %d %v", status, info)
	}
}

func TestPanvaZitadel(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaZitadel})
	r := newRP(t, p)
	tok, _ := r.signInAll("openid profile email", nil)
	const claim = "urn:zitadel:iam:org:project:roles"
	_, id := r.verify(tok["id_token"])
	roles, _ := id[claim].(map[string]any)
	if _, ok := roles["admin"].(map[string]any); !ok || len(roles) != 1 {
		t.Errorf("ID token %s: %v", claim, id[claim])
	}
	status, info, _ := r.userinfo(tok["access_token"])
	if status != 200 || !reflect.DeepEqual(info[claim], id[claim]) {
		t.Errorf("userinfo: %d %v", status, info)
	}
}

func TestPanvaEntraOverage(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaEntraOverage})
	r := newRP(t, p)
	if r.disc["issuer"] != p.Issuer || p.Issuer != p.Origin+"/"+PanvaTenantID+"/v2.0" {
		t.Fatalf("discovery issuer %v, Issuer %s", r.disc["issuer"], p.Issuer)
	}
	tok, _ := r.signInAll("openid profile", nil)
	_, id := r.verify(tok["id_token"])
	names, _ := id["_claim_names"].(map[string]any)
	sources, _ := id["_claim_sources"].(map[string]any)
	src, _ := sources["src1"].(map[string]any)
	endpoint := p.URL("/groups/" + PanvaSubject)
	if id["groups"] != nil || names["groups"] != "src1" || src["endpoint"] != endpoint {
		t.Fatalf("ID token: %v", id)
	}
	status, got, _ := r.getJSON(endpoint, tok["access_token"].(string))
	if status != 200 || !reflect.DeepEqual(got["groups"], []any{"c3a1b2d4-0e5f-4a6b-8c7d-9e0f1a2b3c4d", "7f8e9d0c-1b2a-4c3d-9e4f-5a6b7c8d9e0f"}) {
		t.Errorf("groups endpoint: %d %v", status, got)
	}
	if status, _, h := r.getJSON(endpoint, ""); status != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("groups endpoint without a token: %d", status)
	}
	if status, _, _ := r.getJSON(endpoint, tok["access_token"].(string)+"x"); status != 401 {
		t.Errorf("groups endpoint with a forged token: %d", status)
	}
}

func TestPanvaApple(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaApple})
	r := newRP(t, p)
	if r.disc["userinfo_endpoint"] != nil || r.disc["end_session_endpoint"] != nil {
		t.Errorf("discovery: %v; Apple has no userinfo or end-session endpoint", r.disc)
	}
	page, _ := r.authorize("openid email name", nil)
	if page.Status != 400 || !strings.Contains(page.Body, "form_post") || len(page.Hops) != 1 {
		t.Fatalf("query mode with email and name: %d %s, want a 400 page without redirect", page.Status, tail(page.Body, 5))
	}
	login, verifier := r.authorize("openid email name", url.Values{"response_mode": {"form_post"}})
	cb := r.signIn(login)
	if cb.Method != http.MethodPost || cb.PostForm.Get("code") == "" {
		t.Fatalf("callback: %s %v, want a POST with the code", cb.Method, cb.Form)
	}
	var u struct {
		Name  struct{ FirstName, LastName string }
		Email string
	}
	if err := json.Unmarshal([]byte(cb.PostForm.Get("user")), &u); err != nil || u.Name.FirstName != "Grace" {
		t.Errorf("user field %q: %v", cb.PostForm.Get("user"), err)
	}
	_, id := r.verify(r.token(cb.PostForm.Get("code"), verifier)["id_token"])
	if id["email_verified"] != "true" || id["is_private_email"] != "true" || id["name"] != nil || id["given_name"] != nil {
		t.Errorf("ID token: %v", id)
	}
	// Only the first answer has the user.
	login, _ = r.authorize("openid email", url.Values{"response_mode": {"form_post"}, "prompt": {"login"}})
	if cb := r.signIn(login); cb.PostForm.Has("user") {
		t.Errorf("the second answer has user %q", cb.PostForm.Get("user"))
	}
}

func TestPanvaCognito(t *testing.T) {
	p := startPanva(t, PanvaOptions{Profile: PanvaCognito})
	r := newRP(t, p)
	if r.disc["end_session_endpoint"] != nil {
		t.Errorf("discovery announces end_session_endpoint %v; Cognito's /logout is not in it", r.disc["end_session_endpoint"])
	}
	tok, _ := r.signInAll("openid email profile", nil)
	_, id := r.verify(tok["id_token"])
	if id["token_use"] != "id" || id["cognito:username"] != PanvaUsername || !reflect.DeepEqual(id["cognito:groups"], []any{"ags-admins"}) {
		t.Errorf("ID token: %v", id)
	}
	if status, info, _ := r.userinfo(tok["access_token"]); status != 200 || info["email"] != PanvaEmail {
		t.Errorf("userinfo: %d %v", status, info)
	}
	signedOut := strings.TrimSuffix(r.redirect, "/callback") + "/signed-out"
	bad, err := r.c.Get(p.URL("/logout?" + url.Values{"client_id": {ClientID}, "logout_uri": {"https://elsewhere.test/"}}.Encode()))
	if err != nil || bad.Status != 400 {
		t.Errorf("logout to an unregistered address: %v %v", bad, err)
	}
	page, err := r.c.Get(p.URL("/logout?" + url.Values{"client_id": {ClientID}, "logout_uri": {signedOut}}.Encode()))
	if err != nil || page.URL.String() != signedOut || page.Hops[0].Status != http.StatusFound {
		t.Fatalf("logout: %v %v", page, err)
	}
	if login, _ := r.authorize("openid", nil); !strings.Contains(login.Body, `type="password"`) {
		t.Errorf("after /logout: %s", tail(login.Body, 10))
	}
}

// TestPanvaChromium: a browser gets through the login form, the consent without a
// page, the logout confirmation and a form_post answer, both of which submit
// themselves.
func TestPanvaChromium(t *testing.T) {
	p := startPanva(t, PanvaOptions{})
	apple := startPanva(t, PanvaOptions{Profile: PanvaApple})
	b := browser(t)
	ctx, cancel := context.WithTimeout(b.Tab(), 60*time.Second)
	defer cancel()
	waitFor := func(what string, ok func(loc string) bool) {
		t.Helper()
		err := waitUntil(10*time.Second, 50*time.Millisecond, func() error {
			if loc, _ := Location(ctx); !ok(loc) {
				return fmt.Errorf("%s: the browser is at %s", what, loc)
			}
			return nil
		})
		if err != nil {
			text, _ := Text(ctx)
			t.Fatalf("%v, showing %q", err, text)
		}
	}

	r := newRP(t, p)
	q := url.Values{"response_type": {"code"}, "client_id": {ClientID}, "redirect_uri": {r.redirect},
		"scope": {"openid email"}, "state": {"state-b"}, "nonce": {"n"}}
	if _, err := Open(ctx, r.endpoint("authorization_endpoint")+"?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := SubmitLogin(ctx, PanvaUsername, TestPassword); err != nil {
		t.Fatal(err)
	}
	waitFor("sign-in", func(loc string) bool { return strings.HasPrefix(loc, r.redirect+"?code=") })
	// The browser shows the callback's address as the navigation starts: wait for the
	// callback itself to arrive (a loaded machine lags), then take its code.
	code := ""
	for deadline := time.Now().Add(10 * time.Second); code == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r.mu.Lock()
		for _, cb := range r.callbacks {
			if cb.Form.Get("state") == "state-b" {
				code = cb.Form.Get("code")
			}
		}
		r.mu.Unlock()
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect}}
	req, _ := http.NewRequest(http.MethodPost, r.endpoint("token_endpoint"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ClientID, ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok["id_token"] == nil {
		t.Fatalf("code exchange of the sign-in (code %q): %d %v", code, resp.StatusCode, tok)
	}
	signedOut := strings.TrimSuffix(r.redirect, "/callback") + "/signed-out"
	q = url.Values{"id_token_hint": {fmt.Sprint(tok["id_token"])}, "post_logout_redirect_uri": {signedOut}}
	if _, err := Open(ctx, r.endpoint("end_session_endpoint")+"?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	waitFor("sign-out", func(loc string) bool { return loc == signedOut })

	ra := newRP(t, apple)
	q = url.Values{"response_type": {"code"}, "client_id": {ClientID}, "redirect_uri": {ra.redirect},
		"scope": {"openid email name"}, "response_mode": {"form_post"}, "state": {"state-a"}, "nonce": {"n"}}
	if _, err := Open(ctx, ra.endpoint("authorization_endpoint")+"?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := SubmitLogin(ctx, PanvaUsername, TestPassword); err != nil {
		t.Fatal(err)
	}
	waitFor("form_post", func(loc string) bool { return loc == ra.redirect })
	// The callback itself, not a favicon the browser asks the same server for after it.
	var post *http.Request
	for deadline := time.Now().Add(10 * time.Second); post == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ra.mu.Lock()
		for _, cb := range ra.callbacks {
			if cb.URL.Path == "/callback" {
				post = cb
			}
		}
		ra.mu.Unlock()
	}
	if post == nil || post.Method != http.MethodPost || post.PostForm.Get("code") == "" || post.PostForm.Get("user") == "" {
		t.Errorf("form_post callback: %v", post)
	}
}

// TestPanvaClientCredentials: an API client's tokens, for bearer-token tests: a JWT for
// a resource (RFC 8707, RFC 9068), an opaque one that introspection (RFC 7662) reads.
func TestPanvaClientCredentials(t *testing.T) {
	p := startPanva(t, PanvaOptions{})
	r := newRP(t, p)
	post := func(endpoint string, form url.Values) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.endpoint(endpoint), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(ClientID, ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %s %v %v", endpoint, resp.Status, err, out)
		}
		return out
	}
	const api = "https://api.example.org/"
	tok := post("token_endpoint", url.Values{"grant_type": {"client_credentials"}, "resource": {api}, "scope": {"api:read"}})
	typ, at := r.verify(tok["access_token"])
	if typ != "at+jwt" || at["aud"] != api || at["scope"] != "api:read" || at["client_id"] != ClientID || at["sub"] != ClientID {
		t.Errorf("JWT access token: typ %q %v", typ, at)
	}
	tok = post("token_endpoint", url.Values{"grant_type": {"client_credentials"}})
	if isJWT(tok["access_token"]) {
		t.Fatalf("without a resource: %v, want an opaque token", tok["access_token"])
	}
	info := post("introspection_endpoint", url.Values{"token": {tok["access_token"].(string)}})
	if info["active"] != true || info["client_id"] != ClientID {
		t.Errorf("introspection: %v", info)
	}
}
