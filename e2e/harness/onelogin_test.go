package harness

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// These tests drive the One Login-shaped provider as a relying party would, with a
// plain HTTP client, and read what it issues with go-jose.

const allIdentityClaims = `{"userinfo":{` +
	`"https://vocab.account.gov.uk/v1/coreIdentityJWT":null,` +
	`"https://vocab.account.gov.uk/v1/address":null,` +
	`"https://vocab.account.gov.uk/v1/passport":null,` +
	`"https://vocab.account.gov.uk/v1/drivingPermit":null,` +
	`"https://vocab.account.gov.uk/v1/returnCode":null}}`

// relyingParty is a client registered at the provider: its RSA key, its redirect URI,
// an HTTP client that does not follow redirects.
type relyingParty struct {
	t        *testing.T
	ol       *OneLogin
	id       string
	key      *rsa.PrivateKey
	redirect string
	client   *http.Client
}

func startOneLogin(t *testing.T) *OneLogin {
	t.Helper()
	ol, err := StartOneLogin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ol.Close)
	return ol
}

// newRelyingParty registers a private_key_jwt client; change edits its registration.
func newRelyingParty(t *testing.T, ol *OneLogin, change func(*OneLoginClient)) *relyingParty {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rp := &relyingParty{t: t, ol: ol, id: "rp-" + randomToken()[:8], key: key,
		redirect: "http://127.0.0.1:9/oidc_callback",
		client: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c := OneLoginClient{ID: rp.id, RedirectURIs: []string{rp.redirect},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:9/signed-out"},
		PublicKeyPEM:           string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
	if change != nil {
		change(&c)
	}
	if err := ol.RegisterClient(c); err != nil {
		t.Fatal(err)
	}
	return rp
}

// query is a good authorization request with query parameters, for identity P2.
func (rp *relyingParty) query() url.Values {
	return url.Values{"response_type": {"code"}, "scope": {"openid email phone"}, "client_id": {rp.id},
		"state": {"state-1"}, "nonce": {"nonce-1"}, "redirect_uri": {rp.redirect},
		"vtr": {`["Cl.Cm.P2"]`}, "claims": {allIdentityClaims}, "ui_locales": {"en"}}
}

// objectClaims are the claims of a good request object, for identity P2.
func (rp *relyingParty) objectClaims() map[string]any {
	var claims any
	json.Unmarshal([]byte(allIdentityClaims), &claims)
	now := time.Now()
	return map[string]any{"aud": rp.ol.URL("authorize"), "iss": rp.id, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "response_type": "code", "client_id": rp.id,
		"redirect_uri": rp.redirect, "scope": "openid email phone", "state": "state-1", "nonce": "nonce-1",
		"vtr": []string{"Cl.Cm.P2"}, "ui_locales": "en", "claims": claims}
}

// sign signs claims with the client's key (or key) with alg.
func (rp *relyingParty) sign(alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	rp.t.Helper()
	if key == nil {
		key = rp.key
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "rp-key-1"))
	if err != nil {
		rp.t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		rp.t.Fatal(err)
	}
	return raw
}

// objectQuery is the query that carries a request object: only what One Login asks.
func (rp *relyingParty) objectQuery(request string) url.Values {
	return url.Values{"response_type": {"code"}, "scope": {"openid email phone"}, "client_id": {rp.id},
		"request": {request}}
}

// authorize sends the browser's request and returns the status and where it was sent.
func (rp *relyingParty) authorize(q url.Values) (int, *url.URL) {
	rp.t.Helper()
	resp, err := rp.client.Get(rp.ol.URL("authorize") + "?" + q.Encode())
	if err != nil {
		rp.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	return resp.StatusCode, loc
}

// code authorizes q and returns the code, failing unless the provider gave one.
func (rp *relyingParty) code(q url.Values) string {
	rp.t.Helper()
	status, loc := rp.authorize(q)
	if status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		rp.t.Fatalf("authorize: got %d to %v, want a code", status, loc)
	}
	if got := loc.Query().Get("state"); got != "state-1" {
		rp.t.Fatalf("state: got %q, want %q", got, "state-1")
	}
	return loc.Query().Get("code")
}

// assertion is a private_key_jwt assertion for the token endpoint; change edits its claims.
func (rp *relyingParty) assertion(alg jose.SignatureAlgorithm, change func(map[string]any)) string {
	now := time.Now()
	claims := map[string]any{"iss": rp.id, "sub": rp.id, "aud": rp.ol.URL("token"),
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": randomToken()}
	if change != nil {
		change(claims)
	}
	return rp.sign(alg, nil, claims)
}

// tokenForm is a token request for code with a fresh RS256 assertion.
func (rp *relyingParty) tokenForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.redirect},
		"client_assertion_type": {jwtBearer}, "client_assertion": {rp.assertion(jose.RS256, nil)}}
}

// post sends a token request and decodes the JSON answer.
func (rp *relyingParty) post(form url.Values) (int, map[string]any) {
	rp.t.Helper()
	resp, err := rp.client.PostForm(rp.ol.URL("token"), form)
	if err != nil {
		rp.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		rp.t.Fatalf("token answer %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// tokens redeems code, failing unless the provider answered with tokens.
func (rp *relyingParty) tokens(form url.Values) (idToken, accessToken string) {
	rp.t.Helper()
	status, body := rp.post(form)
	if status != http.StatusOK {
		rp.t.Fatalf("token: got %d %v, want 200", status, body)
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(180) {
		rp.t.Errorf("token_type, expires_in: got %v, %v, want Bearer, 180", body["token_type"], body["expires_in"])
	}
	idToken, _ = body["id_token"].(string)
	accessToken, _ = body["access_token"].(string)
	return idToken, accessToken
}

// userinfo reads userinfo with accessToken.
func (rp *relyingParty) userinfo(accessToken string) map[string]any {
	rp.t.Helper()
	var info map[string]any
	if status := rp.getJSON(rp.ol.URL("userinfo"), "Bearer "+accessToken, &info); status != http.StatusOK {
		rp.t.Fatalf("userinfo: got %d, want 200", status)
	}
	return info
}

func (rp *relyingParty) getJSON(target, authorization string, v any) int {
	rp.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := rp.client.Do(req)
	if err != nil {
		rp.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
			rp.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// signIn runs the whole code flow with query parameters: ID token, access token.
func (rp *relyingParty) signIn() (string, string) {
	rp.t.Helper()
	return rp.tokens(rp.tokenForm(rp.code(rp.query())))
}

// didDocument fetches the DID document.
func (rp *relyingParty) didDocument() map[string]any {
	rp.t.Helper()
	var doc map[string]any
	if status := rp.getJSON(rp.ol.DIDDocumentURL, "", &doc); status != http.StatusOK {
		rp.t.Fatalf("did.json: got %d", status)
	}
	return doc
}

func (rp *relyingParty) jwks() jose.JSONWebKeySet {
	rp.t.Helper()
	var set jose.JSONWebKeySet
	if status := rp.getJSON(rp.ol.URL(".well-known/jwks.json"), "", &set); status != http.StatusOK {
		rp.t.Fatalf("jwks: got %d", status)
	}
	return set
}

func TestOneLoginDocuments(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	resp, err := http.Get(ol.URL(".well-known/openid-configuration"))
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if got := resp.Header.Get("Cache-Control"); got != "max-age=86400" {
		t.Errorf("discovery Cache-Control: got %q, want %q", got, "max-age=86400")
	}
	if !strings.HasSuffix(ol.Issuer, "/") {
		t.Errorf("issuer %q has no trailing slash", ol.Issuer)
	}
	for name, want := range map[string]any{
		"issuer":                                ol.Issuer,
		"authorization_endpoint":                ol.Issuer + "authorize",
		"token_endpoint":                        ol.Issuer + "token",
		"userinfo_endpoint":                     ol.Issuer + "userinfo",
		"end_session_endpoint":                  ol.Issuer + "logout",
		"jwks_uri":                              ol.Issuer + ".well-known/jwks.json",
		"trustmarks":                            ol.Issuer + "trustmark",
		"token_endpoint_auth_methods_supported": []any{"private_key_jwt", "client_secret_post"},
		"token_endpoint_auth_signing_alg_values_supported": []any{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
		"id_token_signing_alg_values_supported":            []any{"ES256", "RS256"},
		"request_parameter_supported":                      true,
		"request_uri_parameter_supported":                  false,
		"backchannel_logout_supported":                     true,
		"code_challenge_methods_supported":                 []any{"S256"},
		"ui_locales_supported":                             []any{"en", "cy"},
		"scopes_supported":                                 []any{"openid", "email", "phone", "offline_access"},
	} {
		if !reflect.DeepEqual(disc[name], want) {
			t.Errorf("discovery %s: got %v, want %v", name, disc[name], want)
		}
	}
	claims, _ := disc["claims_supported"].([]any)
	for _, c := range []string{"sub", "email", "phone_number", claimCoreIdentity, claimAddress, claimPassport, claimDrivingPermit, claimReturnCode} {
		if !slices.Contains(claims, any(c)) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}

	var mark map[string]any
	if rp.getJSON(ol.URL("trustmark"), "", &mark) != http.StatusOK ||
		!reflect.DeepEqual(mark["C"], []any{"Cl", "Cl.Cm"}) || !reflect.DeepEqual(mark["P"], []any{"P0", "P1", "P2", "P3"}) {
		t.Errorf("trustmark: got %v", mark)
	}

	set := rp.jwks()
	algs := map[string]bool{}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Use != "sig" || !k.IsPublic() {
			t.Errorf("JWKS key %+v: want a public signing key with a kid", k)
		}
		algs[k.Algorithm] = true
	}
	if !algs["ES256"] || !algs["RS256"] || len(set.Keys) != 2 {
		t.Errorf("JWKS algs: got %v, want ES256 and RS256", algs)
	}

	resp, err = http.Get(ol.DIDDocumentURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Cache-Control"); got != "max-age=3600, private" {
		t.Errorf("DID Cache-Control: got %q, want %q", got, "max-age=3600, private")
	}
	doc := rp.didDocument()
	wantID := "did:web:127.0.0.1%3A" + strings.TrimSuffix(strings.TrimPrefix(ol.Issuer, "http://127.0.0.1:"), "/")
	if doc["id"] != wantID || ol.DID != wantID {
		t.Errorf("DID: got %v (field %q), want %q", doc["id"], ol.DID, wantID)
	}
	if !reflect.DeepEqual(doc["@context"], []any{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"}) {
		t.Errorf("@context: got %v", doc["@context"])
	}
	methods, _ := doc["assertionMethod"].([]any)
	if len(methods) != 1 {
		t.Fatalf("assertionMethod: got %v, want one", doc["assertionMethod"])
	}
	m := methods[0].(map[string]any)
	jwk, _ := m["publicKeyJwk"].(map[string]any)
	if m["type"] != "JsonWebKey" || m["controller"] != wantID || !strings.HasPrefix(m["id"].(string), wantID+"#") ||
		jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk["d"] != nil {
		t.Errorf("assertionMethod: got %v", m)
	}
}

// Each form of sign-in gives the documented tokens and claims, and the provider keeps
// what the relying party sent.
func TestOneLoginSignIn(t *testing.T) {
	ol := startOneLogin(t)
	tests := []struct {
		name   string
		client func(*OneLoginClient)
		// authorize returns the authorization request's query and its PKCE verifier.
		authorize func(rp *relyingParty) (url.Values, string)
		token     func(rp *relyingParty, code, verifier string) url.Values
		wantAlg   string
		check     func(t *testing.T, rp *relyingParty)
	}{
		{name: "query parameters, PKCE, RS256 assertion to the token URL", wantAlg: "ES256",
			authorize: func(rp *relyingParty) (url.Values, string) {
				q := rp.query()
				q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
				q.Set("code_challenge_method", "S256")
				return q, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
			},
			token: func(rp *relyingParty, code, verifier string) url.Values {
				f := rp.tokenForm(code)
				f.Set("code_verifier", verifier)
				return f
			},
			check: func(t *testing.T, rp *relyingParty) {
				last, _ := rp.ol.LastAuthorize()
				if last.Query.Get("vtr") != `["Cl.Cm.P2"]` || last.RequestObject != nil {
					t.Errorf("LastAuthorize: got %+v", last)
				}
				tok, _ := rp.ol.LastToken()
				if tok.Assertion["aud"] != rp.ol.URL("token") || tok.AssertionHeader["alg"] != "RS256" || tok.Form.Get("code_verifier") == "" {
					t.Errorf("LastToken: got %+v", tok)
				}
			}},
		{name: "request object PS256, prompt=login, PS256 assertion to the issuer", wantAlg: "ES256",
			authorize: func(rp *relyingParty) (url.Values, string) {
				claims := rp.objectClaims()
				claims["prompt"] = "login"
				claims["id_token_hint"] = "an.earlier.token"
				return rp.objectQuery(rp.sign(jose.PS256, nil, claims)), ""
			},
			token: func(rp *relyingParty, code, _ string) url.Values {
				f := rp.tokenForm(code)
				f.Set("client_assertion", rp.assertion(jose.PS256, func(c map[string]any) { c["aud"] = rp.ol.Issuer }))
				return f
			},
			check: func(t *testing.T, rp *relyingParty) {
				last, _ := rp.ol.LastAuthorize()
				if !last.PromptLogin || !last.Reauthenticate || last.RequestObjectHeader["alg"] != "PS256" ||
					!reflect.DeepEqual(last.RequestObject["vtr"], []any{"Cl.Cm.P2"}) || last.Query.Has("redirect_uri") {
					t.Errorf("LastAuthorize: got %+v", last)
				}
			}},
		{name: "request object with claims as a string, RS256 ID token", wantAlg: "RS256",
			client: func(c *OneLoginClient) { c.IDTokenAlg = "RS256" },
			authorize: func(rp *relyingParty) (url.Values, string) {
				claims := rp.objectClaims()
				claims["claims"] = allIdentityClaims // as Nimbus-based clients send it
				return rp.objectQuery(rp.sign(jose.RS256, nil, claims)), ""
			},
			token: func(rp *relyingParty, code, _ string) url.Values { return rp.tokenForm(code) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, ol, tc.client)
			q, verifier := tc.authorize(rp)
			idToken, access := rp.tokens(tc.token(rp, rp.code(q), verifier))
			if p := idTokenProblems(idToken, idTokenWant{alg: tc.wantAlg, issuer: ol.Issuer, clientID: rp.id,
				nonce: "nonce-1", vot: "Cl.Cm", accessToken: access, keys: rp.jwks()}); len(p) > 0 {
				t.Errorf("ID token: wrong %v", p)
			}
			_, idClaims, _ := decodeJWT(idToken)
			info := rp.userinfo(access)
			if info["sub"] != idClaims["sub"] || info["email"] != "test@example.com" || info["email_verified"] != true ||
				info["phone_number"] != "+441406946277" || info["phone_number_verified"] != true {
				t.Errorf("userinfo: got %v", info)
			}
			addresses, _ := info[claimAddress].([]any)
			passports, _ := info[claimPassport].([]any)
			permits, _ := info[claimDrivingPermit].([]any)
			if len(addresses) != 1 || len(passports) != 1 || len(permits) != 1 {
				t.Errorf("identity claims: got %v", info)
			}
			if _, ok := info[claimReturnCode]; ok {
				t.Errorf("returnCode without codes: got %v", info[claimReturnCode])
			}
			core, _ := info[claimCoreIdentity].(string)
			if p := coreIdentityProblems(core, coreIdentityWant{issuer: ol.Issuer, clientID: rp.id,
				sub: idClaims["sub"].(string), level: "P2", doc: rp.didDocument()}); len(p) > 0 {
				t.Errorf("core identity JWT: wrong %v", p)
			}
			header, coreClaims, _ := decodeJWT(core)
			vc, _ := coreClaims["vc"].(map[string]any)
			subject, _ := json.Marshal(vc["credentialSubject"])
			wantSubject := `{"birthDate":[{"value":"1970-01-01"}],"name":[{"nameParts":[` +
				`{"type":"GivenName","value":"Alice"},{"type":"GivenName","value":"Jane"},` +
				`{"type":"GivenName","value":"Laura"},{"type":"FamilyName","value":"Doe"}]}]}`
			if header["kid"] != ol.DID+"#"+ol.didKid || coreClaims["vot"] != "P2" || string(subject) != wantSubject {
				t.Errorf("core identity JWT: got %v %v, credentialSubject %s", header, coreClaims, subject)
			}
			if tc.check != nil {
				tc.check(t, rp)
			}
		})
	}
}

// The user SetUser chose decides what the tokens and userinfo say.
func TestOneLoginUserChoices(t *testing.T) {
	ol := startOneLogin(t)
	tests := []struct {
		name   string
		user   func(*OneLoginUser)
		vtr    string
		client func(*OneLoginClient)
		check  func(t *testing.T, idClaims, info map[string]any)
	}{
		{name: "P0 gives no identity even when asked", user: func(u *OneLoginUser) { u.Level = "P0" },
			check: func(t *testing.T, _, info map[string]any) {
				for _, c := range []string{claimCoreIdentity, claimAddress, claimPassport, claimDrivingPermit, claimReturnCode} {
					if _, ok := info[c]; ok {
						t.Errorf("%s: got %v, want none", c, info[c])
					}
				}
			}},
		{name: "return codes when asked", user: func(u *OneLoginUser) { u.Level = "P0"; u.ReturnCodes = []string{"B", "C"} },
			check: func(t *testing.T, _, info map[string]any) {
				want := []any{map[string]any{"code": "B"}, map[string]any{"code": "C"}}
				if !reflect.DeepEqual(info[claimReturnCode], want) {
					t.Errorf("returnCode: got %v, want %v", info[claimReturnCode], want)
				}
			}},
		{name: "authentication only: no identity, vot Cl", vtr: `["Cl"]`,
			user: func(u *OneLoginUser) { u.Subject = "urn:fdc:gov.uk:2022:chosen"; u.PhoneNumber = "" },
			check: func(t *testing.T, idClaims, info map[string]any) {
				if idClaims["vot"] != "Cl" || info["sub"] != "urn:fdc:gov.uk:2022:chosen" || info[claimCoreIdentity] != nil {
					t.Errorf("got %v and %v", idClaims, info)
				}
				if _, ok := info["phone_number"]; ok || info["phone_number_verified"] != false {
					t.Errorf("phone: got %v", info)
				}
			}},
		{name: "credential and level achieved", vtr: `["Cl.Cm.P1"]`,
			user: func(u *OneLoginUser) { u.Credential = "Cl"; u.Level = "P3"; u.AuthTime = time.Unix(1700000000, 0) },
			check: func(t *testing.T, idClaims, info map[string]any) {
				_, core, _ := decodeJWT(info[claimCoreIdentity].(string))
				if idClaims["vot"] != "Cl" || core["vot"] != "P3" || idClaims["auth_time"] != float64(1700000000) {
					t.Errorf("got %v and %v", idClaims, core)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, ol, tc.client)
			u := DefaultOneLoginUser()
			if tc.user != nil {
				tc.user(&u)
			}
			ol.SetUser(u)
			t.Cleanup(func() { ol.SetUser(DefaultOneLoginUser()) })
			q := rp.query()
			if tc.vtr != "" {
				q.Set("vtr", tc.vtr)
			}
			idToken, access := rp.tokens(rp.tokenForm(rp.code(q)))
			var idClaims map[string]any
			payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(idToken, ".")[1])
			json.Unmarshal(payload, &idClaims)
			tc.check(t, idClaims, rp.userinfo(access))
		})
	}
}

// /logout sends the user back with state only for a registered URI and a valid hint.
func TestOneLoginLogout(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	idToken, _ := rp.signIn()
	ol.SetIDTokenFault(IDTokenBadSignature)
	forged, _ := rp.signIn()
	ol.SetIDTokenFault(IDTokenNoFault)
	tests := []struct {
		name       string
		query      url.Values
		wantTarget string
		wantError  string
	}{
		{name: "registered", wantTarget: "http://127.0.0.1:9/signed-out",
			query: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:9/signed-out"}, "state": {"s1"}}},
		{name: "unregistered URI", wantTarget: ol.URL("signed-out"), wantError: "invalid_request",
			query: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:9/x"}, "state": {"s1"}}},
		{name: "forged hint", wantTarget: ol.URL("signed-out"), wantError: "invalid_request",
			query: url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {"http://127.0.0.1:9/signed-out"}, "state": {"s1"}}},
		{name: "no hint", wantTarget: ol.URL("signed-out"),
			query: url.Values{"post_logout_redirect_uri": {"http://127.0.0.1:9/signed-out"}, "state": {"s1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := rp.client.Get(ol.URL("logout") + "?" + tc.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := resp.Location()
			if resp.StatusCode != http.StatusFound || loc == nil {
				t.Fatalf("got %d, want a redirect", resp.StatusCode)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != tc.wantTarget ||
				loc.Query().Get("state") != "s1" || loc.Query().Get("error_code") != tc.wantError {
				t.Errorf("got %v, want %s with state s1 and error_code %q", loc, tc.wantTarget, tc.wantError)
			}
			if got := ol.LastLogout().Get("state"); got != "s1" {
				t.Errorf("LastLogout state: got %q", got)
			}
		})
	}
}
