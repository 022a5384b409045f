package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// OneLogin is an OpenID provider shaped like GOV.UK One Login, as its technical
// documentation (docs.sign-in.service.gov.uk) describes it, on http://127.0.0.1:{Port}/
// in this process: discovery with One Login's fields, /authorize with query parameters
// or a signed request object (JAR), /token with private_key_jwt or client_secret_post,
// /userinfo with the identity claims of vocab.account.gov.uk, the core identity JWT
// and the DID document whose key signs it, /logout, /trustmark and the JWKS.
//
// There is no login page: /authorize answers at once, for the user SetUser chose.
// Faults (SetIDTokenFault, SetCoreIdentityFault) make one thing wrong in what it
// issues; LastAuthorize and LastToken show what a relying party sent. Every method is
// safe for concurrent use.
type OneLogin struct {
	Issuer         string // http://127.0.0.1:{Port}/, with One Login's trailing slash
	Port           int
	DID            string // did:web:127.0.0.1%3A{Port}, the DID document's id
	DIDDocumentURL string // {Issuer}.well-known/did.json

	handler http.Handler
	now     func() time.Time

	idKeyEC  *ecdsa.PrivateKey // ID tokens, ES256
	idKidEC  string
	idKeyRSA *rsa.PrivateKey // ID tokens, RS256
	idKidRSA string
	didKey   *ecdsa.PrivateKey // core identity JWTs, published in the DID document
	didKid   string
	strayKey *ecdsa.PrivateKey // signs CoreIdentityUnknownKid's JWT; published nowhere
	strayKid string

	mu         sync.Mutex
	srv        *http.Server
	clients    map[string]OneLoginClient
	user       OneLoginUser
	coreIssuer string
	idFault    IDTokenFault
	coreFault  CoreIdentityFault
	codes      map[string]*oneLoginGrant // authorization codes
	tokens     map[string]*oneLoginGrant // access tokens
	jtis       map[string]time.Time      // client assertions' jti, until their exp
	lastAuth   *OneLoginAuthorizeRequest
	authCount  int // authorization requests received
	lastToken  *OneLoginTokenRequest
	lastLogout url.Values
}

// OneLoginClient is a relying party registered at the provider.
type OneLoginClient struct {
	ID                     string
	RedirectURIs           []string // matched exactly
	PostLogoutRedirectURIs []string // matched exactly
	// PublicKey checks the client's request objects and private_key_jwt assertions:
	// an *rsa.PublicKey, as One Login takes RSA keys only. PublicKeyPEM is the same as
	// a PEM "PUBLIC KEY" block, used when PublicKey is nil.
	PublicKey    crypto.PublicKey
	PublicKeyPEM string
	// Secret, when set, makes the client a client_secret_post client: it cannot use
	// private_key_jwt then, nor ask for identity (One Login's "Request vtr is not
	// permitted"). Empty: a private_key_jwt client.
	Secret string
	// IDTokenAlg signs its ID tokens: ES256 (the default) or RS256.
	IDTokenAlg string
	// Scopes it may ask for; nil: openid, email and phone.
	Scopes []string
	// Claims are the userinfo claims it may ask for; nil: all that One Login knows.
	Claims []string
	// PKCEEnforced refuses an authorization request without code_challenge.
	PKCEEnforced bool
}

// IDTokenFault makes exactly one thing wrong in the ID tokens issued from then on.
type IDTokenFault string

// The ID token faults. Each leaves every other claim and the signature right.
const (
	IDTokenWrongIssuer   IDTokenFault = "wrong issuer"   // One Login's integration issuer
	IDTokenWrongAudience IDTokenFault = "wrong audience" // another client's ID
	IDTokenAlgNone       IDTokenFault = "alg none"       // unsigned, alg "none", no kid
	IDTokenOtherAlg      IDTokenFault = "other alg"      // signed with the provider's other key: RS256 for an ES256 client and the reverse
	IDTokenBadSignature  IDTokenFault = "bad signature"  // one bit of the signature flipped
	IDTokenExpired       IDTokenFault = "expired"        // iat and exp an hour early
	IDTokenNotYetValid   IDTokenFault = "not yet valid"  // iat and exp an hour late
	IDTokenWrongNonce    IDTokenFault = "wrong nonce"    // another nonce
	IDTokenWrongVot      IDTokenFault = "wrong vot"      // the other credential level: Cl for Cl.Cm, Cl.Cm for Cl (the simulator's INCORRECT_VOT)
	IDTokenNoVot         IDTokenFault = "no vot"         // vot left out
	IDTokenNoFault       IDTokenFault = ""               // tokens as One Login issues them
)

// What IDTokenWrongIssuer puts in place of the issuer.
const oneLoginOtherIssuer = "https://oidc.integration.account.gov.uk/"

// CoreIdentityFault makes exactly one thing wrong in the core identity JWTs issued
// from then on, or in the DID document that holds their key.
type CoreIdentityFault string

// The core identity faults.
const (
	CoreIdentityAlgRS256           CoreIdentityFault = "alg RS256"           // signed RS256 by the provider's RSA key, kid unchanged
	CoreIdentityAlgHS256           CoreIdentityFault = "alg HS256"           // HMAC keyed with the DID key's public PEM, kid unchanged
	CoreIdentityBadSignature       CoreIdentityFault = "bad signature"       // one bit of the signature flipped
	CoreIdentityWrongIssuer        CoreIdentityFault = "wrong issuer"        // One Login's integration identity issuer (its production one if that was configured)
	CoreIdentityWrongAudience      CoreIdentityFault = "wrong audience"      // another client's ID
	CoreIdentityWrongSubject       CoreIdentityFault = "wrong subject"       // another user's sub
	CoreIdentityExpired            CoreIdentityFault = "expired"             // iat, nbf and exp two hours early
	CoreIdentityNotYetValid        CoreIdentityFault = "not yet valid"       // iat, nbf and exp an hour late
	CoreIdentityLevelTooLow        CoreIdentityFault = "level too low"       // vot one level below the one asked for
	CoreIdentityControllerMismatch CoreIdentityFault = "controller mismatch" // the DID document's key has another controller than the document's id
	CoreIdentityUnknownKid         CoreIdentityFault = "unknown kid"         // signed by a key the DID document does not hold, kid naming it
	CoreIdentityKidOtherDID        CoreIdentityFault = "kid of another DID"  // kid's DID is not the document's id (the key part is right)
	CoreIdentityNoFault            CoreIdentityFault = ""
)

// OneLoginAuthorizeRequest is an authorization request as the provider received it,
// before it was checked.
type OneLoginAuthorizeRequest struct {
	Query url.Values // the query (or form) parameters
	// RequestObject and RequestObjectHeader are the decoded claims and header of the
	// request parameter; nil without one. Decoded even when the signature is wrong.
	RequestObject       map[string]any
	RequestObjectHeader map[string]any
	// PromptLogin: the request object asks prompt=login (One Login ignores prompt in
	// the query); Reauthenticate: with an id_token_hint too, which One Login needs to
	// make the user sign in again.
	PromptLogin, Reauthenticate bool
}

// OneLoginTokenRequest is a token request as the provider received it.
type OneLoginTokenRequest struct {
	Form url.Values
	// Assertion and AssertionHeader are the decoded client_assertion; nil without one.
	Assertion       map[string]any
	AssertionHeader map[string]any
}

// StartOneLogin makes a One Login-shaped provider on a free port and starts it.
func StartOneLogin() (*OneLogin, error) {
	o, err := NewOneLogin(0)
	if err != nil {
		return nil, err
	}
	return o, o.Start()
}

// NewOneLogin makes the provider for port (0 picks a free port) without starting it,
// with DefaultOneLoginUser, no client and no fault. The core identity issuer is the
// provider's issuer until SetCoreIdentityIssuer changes it.
func NewOneLogin(port int) (*OneLogin, error) {
	var err error
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	o := &OneLogin{
		Issuer: fmt.Sprintf("http://127.0.0.1:%d/", port), Port: port,
		// did:web percent-encodes the port's colon (did:web method, section 3.2).
		DID: fmt.Sprintf("did:web:127.0.0.1%%3A%d", port),
		now: time.Now, clients: map[string]OneLoginClient{}, user: DefaultOneLoginUser(),
		codes: map[string]*oneLoginGrant{}, tokens: map[string]*oneLoginGrant{}, jtis: map[string]time.Time{},
	}
	o.DIDDocumentURL = o.Issuer + ".well-known/did.json"
	o.coreIssuer = o.Issuer
	if o.idKeyEC, o.idKidEC, err = newECKey(); err != nil {
		return nil, err
	}
	if o.didKey, o.didKid, err = newECKey(); err != nil {
		return nil, err
	}
	if o.strayKey, o.strayKid, err = newECKey(); err != nil {
		return nil, err
	}
	if o.idKeyRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if o.idKidRSA, err = keyID(&o.idKeyRSA.PublicKey); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", o.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", o.jwks)
	mux.HandleFunc("GET /.well-known/did.json", o.didDocument)
	mux.HandleFunc("GET /trustmark", o.trustmark)
	mux.HandleFunc("GET /authorize", o.authorize)
	mux.HandleFunc("POST /authorize", o.authorize)
	mux.HandleFunc("POST /token", o.token)
	mux.HandleFunc("GET /userinfo", o.userinfo)
	mux.HandleFunc("POST /userinfo", o.userinfo)
	mux.HandleFunc("GET /logout", o.logout)
	mux.HandleFunc("GET /signed-out", o.signedOut)
	o.handler = tokenTap(mux)
	return o, nil
}

// Start listens on the provider's port and serves.
func (o *OneLogin) Start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		return errors.New("provider already running")
	}
	var ln net.Listener
	err := waitUntil(5*time.Second, 50*time.Millisecond, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port))
		return err
	})
	if err != nil {
		return err
	}
	o.srv = &http.Server{Handler: o.handler, ReadHeaderTimeout: 10 * time.Second}
	go o.srv.Serve(ln)
	return nil
}

// Stop closes the listener and every connection; Start serves again with the same
// keys, clients and grants.
func (o *OneLogin) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		o.srv.Close()
		o.srv = nil
	}
}

// Close is Stop.
func (o *OneLogin) Close() { o.Stop() }

// URL returns the issuer followed by path (without its leading slash, the issuer has
// one): URL("/token") is http://127.0.0.1:{Port}/token.
func (o *OneLogin) URL(path string) string {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	return o.Issuer + path
}

// RegisterClient registers c, replacing a client with its ID.
func (o *OneLogin) RegisterClient(c OneLoginClient) error {
	if c.ID == "" || len(c.RedirectURIs) == 0 {
		return errors.New("a client needs an ID and a redirect URI")
	}
	if c.PublicKey == nil && c.PublicKeyPEM != "" {
		block, _ := pem.Decode([]byte(c.PublicKeyPEM))
		if block == nil {
			return errors.New("PublicKeyPEM holds no PEM block")
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			if pub, err = x509.ParsePKCS1PublicKey(block.Bytes); err != nil {
				return fmt.Errorf("PublicKeyPEM: %w", err)
			}
		}
		c.PublicKey = pub
	}
	if c.PublicKey == nil && c.Secret == "" {
		return errors.New("a client needs a public key (private_key_jwt) or a secret (client_secret_post)")
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); c.PublicKey != nil && !ok {
		return fmt.Errorf("the public key is a %T: One Login takes RSA keys only", c.PublicKey)
	}
	switch c.IDTokenAlg {
	case "":
		c.IDTokenAlg = "ES256"
	case "ES256", "RS256":
	default:
		return fmt.Errorf("IDTokenAlg must be ES256 or RS256, got %q", c.IDTokenAlg)
	}
	if c.Scopes == nil {
		c.Scopes = []string{"openid", "email", "phone"}
	}
	if c.Claims == nil {
		c.Claims = slices.Clone(oneLoginUserinfoClaims)
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clients[c.ID] = c
	return nil
}

func (o *OneLogin) client(id string) (OneLoginClient, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.clients[id]
	return c, ok
}

// SetUser sets who signs in from the next authorization request on, and what they
// achieve there.
func (o *OneLogin) SetUser(u OneLoginUser) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.user = u.clone()
}

// SetCoreIdentityIssuer sets the core identity JWT's iss (default: the provider's
// issuer; One Login's are https://identity.integration.account.gov.uk/ and
// https://identity.account.gov.uk/).
func (o *OneLogin) SetCoreIdentityIssuer(iss string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.coreIssuer = iss
}

// SetIDTokenFault makes the ID tokens issued from now on wrong in the way f names;
// IDTokenNoFault ends it.
func (o *OneLogin) SetIDTokenFault(f IDTokenFault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.idFault = f
}

// SetCoreIdentityFault makes the core identity JWTs issued from now on (or the DID
// document) wrong in the way f names; CoreIdentityNoFault ends it.
func (o *OneLogin) SetCoreIdentityFault(f CoreIdentityFault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.coreFault = f
}

// LastAuthorize returns the last authorization request received; false before one.
func (o *OneLogin) LastAuthorize() (OneLoginAuthorizeRequest, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lastAuth == nil {
		return OneLoginAuthorizeRequest{}, false
	}
	return *o.lastAuth, true
}

// AuthorizeCount returns how many authorization requests the provider received, so
// that a test can tell one trip to the provider from a loop.
func (o *OneLogin) AuthorizeCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.authCount
}

// LastToken returns the last token request received; false before one.
func (o *OneLogin) LastToken() (OneLoginTokenRequest, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lastToken == nil {
		return OneLoginTokenRequest{}, false
	}
	return *o.lastToken, true
}

// LastLogout returns the query of the last end-session request; nil before one.
func (o *OneLogin) LastLogout() url.Values {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastLogout
}

// oneLoginUserinfoClaims are the claims of the claims parameter One Login knows
// (ValidClaims in its authentication-api).
var oneLoginUserinfoClaims = []string{
	claimCoreIdentity, claimAddress, claimPassport, claimDrivingPermit, claimReturnCode,
	"https://vocab.account.gov.uk/v1/inheritedIdentityJWT",
}

const (
	claimCoreIdentity  = "https://vocab.account.gov.uk/v1/coreIdentityJWT"
	claimAddress       = "https://vocab.account.gov.uk/v1/address"
	claimPassport      = "https://vocab.account.gov.uk/v1/passport"
	claimDrivingPermit = "https://vocab.account.gov.uk/v1/drivingPermit"
	claimReturnCode    = "https://vocab.account.gov.uk/v1/returnCode"
)

// discovery serves One Login's discovery document (its WellknownHandler): the same
// fields, the same values, the issuer's endpoints.
func (o *OneLogin) discovery(w http.ResponseWriter, r *http.Request) {
	claims := append([]string{"sub", "email", "email_verified", "phone_number",
		"phone_number_verified", "wallet_subject_id"}, oneLoginUserinfoClaims...)
	doc := map[string]any{
		"issuer":                                o.Issuer,
		"authorization_endpoint":                o.URL("authorize"),
		"token_endpoint":                        o.URL("token"),
		"registration_endpoint":                 o.URL("connect/register"),
		"userinfo_endpoint":                     o.URL("userinfo"),
		"end_session_endpoint":                  o.URL("logout"),
		"jwks_uri":                              o.URL(".well-known/jwks.json"),
		"trustmarks":                            o.URL("trustmark"),
		"scopes_supported":                      []string{"openid", "email", "phone", "offline_access"},
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_post"},
		"token_endpoint_auth_signing_alg_values_supported": rsaAlgs,
		"id_token_signing_alg_values_supported":            []string{"ES256", "RS256"},
		"subject_types_supported":                          []string{"public", "pairwise"},
		"claim_types_supported":                            []string{"normal"},
		"claims_supported":                                 claims,
		"ui_locales_supported":                             []string{"en", "cy"},
		"request_parameter_supported":                      true,
		"request_uri_parameter_supported":                  false,
		"backchannel_logout_supported":                     true,
		"backchannel_logout_session_supported":             false,
		"service_documentation":                            "https://docs.sign-in.service.gov.uk/",
		"op_policy_uri":                                    "https://signin.account.gov.uk/privacy-notice",
		"op_tos_uri":                                       "https://signin.account.gov.uk/terms-and-conditions",
	}
	serveJSON(w, http.StatusOK, "max-age=86400", doc)
}

// rsaAlgs are the algorithms of client assertions and request objects: One Login
// checks them with an RSA key only.
var rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// jwks publishes both ID-token keys, as One Login's JWKS has EC and RSA keys.
func (o *OneLogin) jwks(w http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &o.idKeyEC.PublicKey, KeyID: o.idKidEC, Algorithm: "ES256", Use: "sig"},
		{Key: &o.idKeyRSA.PublicKey, KeyID: o.idKidRSA, Algorithm: "RS256", Use: "sig"},
	}}
	serveJSON(w, http.StatusOK, "max-age=86400", set)
}

// trustmark lists the vectors the provider gives (One Login's TrustMarkHandler).
func (o *OneLogin) trustmark(w http.ResponseWriter, r *http.Request) {
	serveJSON(w, http.StatusOK, "", map[string]any{
		"idp": o.Issuer, "trustmark_provider": o.Issuer,
		"C": []string{"Cl", "Cl.Cm"}, "P": []string{"P0", "P1", "P2", "P3"},
	})
}

// signedOut stands for One Login's own page, where /logout sends a user without a
// valid post_logout_redirect_uri.
func (o *OneLogin) signedOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>Signed out</title><h1>You have signed out</h1>")
}

func serveJSON(w http.ResponseWriter, status int, cacheControl string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if cacheControl != "" {
		w.Header().Set("Cache-Control", cacheControl)
	}
	w.WriteHeader(status)
	w.Write(body)
}
