package ags

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tpClientID and tpClientSecret are the client registered at the test provider.
const (
	tpClientID     = "ags-test-client"
	tpClientSecret = "ags-test-client-secret-0123456789"
	tpSessionKey   = "0123456789abcdef0123456789abcdef-test-session-secret"
)

// tpGrant is what the provider remembers of an authorization request.
type tpGrant struct {
	nonce       string
	challenge   string
	redirectURI string
	state       string
}

// testProvider is an OpenID provider in an httptest server: discovery, keys,
// authorize (answering at once for the test user), token, userinfo, end-session.
// Its knobs make it misbehave in the ways a real provider does not.
type testProvider struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	kid    string
	issuer string
	now    func() time.Time

	mu              sync.Mutex
	grants          map[string]tpGrant
	claims          func(c map[string]interface{}) // edits the ID token's claims
	userinfoSub     string                         // "" = the token's sub
	tokenStatus     int                            // non-zero: the token endpoint fails so
	tokenBody       string
	authMethods     []string
	discoveryIssuer string // "" = the real one
	noEndSession    bool
	sid             string // the ID token's sid; "": none (logout_test.go)
	noUserinfo      bool
	down            bool // every endpoint answers 503
	refreshToken    string
	expiresIn       int
	tokenForms      []url.Values
	tokenAuth       []string
	userinfoCalls   int
	refreshCalls    int

	// Knobs of the attack suite (attack_*_test.go). Their zero values keep the
	// behaviour above.
	atkToken      func(nonce, accessToken string) string // signs the ID token in place of idToken; called with tp.mu held
	atkSkipPKCE   bool                                   // the token endpoint does not check code_verifier
	atkAlgs       []string                               // id_token_signing_alg_values_supported; nil: RS256
	atkDiscovery  []byte                                 // served as the discovery document
	atkKeys       []byte                                 // served at /jwks
	atkJWKSStatus int                                    // non-zero: /jwks answers this status
	// RFC 9207: issAnnounced says authorization_response_iss_parameter_supported;
	// issParam, when set, is sent back as the callback's iss ("-" sends none).
	issAnnounced bool
	issParam     string
	// requestParameter announces request_parameter_supported; authorize then reads
	// a request object's claims (unverified: the tests check its signature) and
	// keeps the last in requestObject. userAgents records each path's User-Agent.
	requestParameter bool
	requestObject    map[string]interface{}
	authorizeQuery   url.Values
	userAgents       map[string]string
	atkUserinfo      []byte                   // served at /userinfo
	atkDelay         map[string]time.Duration // by path: wait this long, or until the client gives up, before answering
	atkStall         map[string]bool          // by path: send the headers and one byte, then nothing until the client gives up
	atkJWKSCalls     int                      // fetches of /jwks

	// Refresh-token rotation with reuse detection, as Okta, Auth0 and Keycloak do:
	// each refresh issues a new token, and a spent one presented again revokes the
	// grant (refreshToken becomes "" and reuses counts it).
	rotate      bool
	spent       map[string]bool
	reuses      int
	refreshWait *tpBarrier      // refresh requests wait here before they are answered
	moreGrants  map[string]bool // refresh tokens of other grants, accepted and kept

	cacheControl   string // the Cache-Control of discovery and keys; "" sends none
	discoveryCalls int

	// Client assertions (provider_assertion_test.go). With clientKey (a public key)
	// or clientSecretJWT set, the client must authenticate with an assertion.
	clientKey       interface{}
	clientSecretJWT bool
	authSigningAlgs []string // token_endpoint_auth_signing_alg_values_supported
	audIsIssuer     bool     // the assertion's aud must be the issuer, not the token endpoint
	seenJTI         map[string]bool
	assertions      []tpAssertion // each accepted assertion

	// Providers as they are (providers_test.go). mount is a path prefix the provider
	// lives under (Entra's /organizations/v2.0), stripped from every request;
	// userinfoStatus, non-zero, is userinfo's answer; /app-keys serves the key set
	// only with ?appid= the client (Entra's jwks_uri for claims mapping).
	mount          string
	userinfoStatus int
	appKeysCalls   int
	// accessJWT, when set, makes the access token a JWT signed with the provider's
	// key (Keycloak's: aud account, realm_access.roles), its claims edited by it.
	accessJWT func(c map[string]interface{})
	// /groups is a distributed claim source (Entra's groups overage): it answers
	// {"groups": [...]} to a Bearer token, or groupsBody, or groupsStatus.
	groupsStatus int
	groupsBody   []byte
	groupsAuth   []string // each request's Authorization
	// Sign in with Apple (applesecret_test.go): with appleKey set, client_secret is
	// a JWT the client signs with its .p8 key (the public half here), for appleTeamID.
	appleKey     interface{}
	appleTeamID  string
	appleSecrets []tpAssertion // each accepted secret
	// Token introspection (RFC 7662, bearer_test.go): with introspect set, discovery
	// announces /introspect, which answers introspect's map for the posted form once
	// the client authenticates as at the token endpoint; introspections counts them.
	introspect     func(form url.Values) map[string]interface{}
	introspections int
	hideIntrospect bool // discovery announces no introspection_endpoint (Hydra), /introspect still answers
}

// tpBarrier holds requests until n have arrived (or a few seconds have passed).
type tpBarrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	reached bool // all n arrived before any gave up waiting
	expired bool
}

func newTPBarrier(n int) *tpBarrier { return &tpBarrier{n: n, all: make(chan struct{})} }

func (b *tpBarrier) wait() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n && !b.expired {
		b.reached = true
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
		b.mu.Lock()
		b.expired = true
		b.mu.Unlock()
	}
}

// tpKey loads the provider's fixed RSA key from testdata.
func tpKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile("testdata/provider_rsa.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func newTestProvider(t *testing.T) *testProvider {
	t.Helper()
	tp := &testProvider{t: t, key: tpKey(t), kid: "key-1", grants: map[string]tpGrant{}, now: time.Now, expiresIn: 3600}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", tp.discovery)
	mux.HandleFunc("/jwks", tp.jwks)
	mux.HandleFunc("/authorize", tp.authorize)
	mux.HandleFunc("/token", tp.token)
	mux.HandleFunc("/userinfo", tp.userinfo)
	mux.HandleFunc("/groups", func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		tp.groupsAuth = append(tp.groupsAuth, r.Header.Get("Authorization"))
		switch {
		case tp.groupsStatus != 0:
			w.WriteHeader(tp.groupsStatus)
		case tp.groupsBody != nil:
			w.Write(tp.groupsBody)
		default:
			w.Write([]byte(`{"groups":["ops-admins","staff"]}`))
		}
	})
	mux.HandleFunc("/app-keys", func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		tp.appKeysCalls++
		tp.mu.Unlock()
		if r.URL.Query().Get("appid") != tpClientID {
			http.NotFound(w, r)
			return
		}
		tp.publicKeys(w)
	})
	mux.HandleFunc("/introspect", tp.introspection)
	tp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		if tp.mount != "" {
			r.URL.Path = strings.TrimPrefix(r.URL.Path, tp.mount)
		}
		down, delay, stall := tp.down, tp.atkDelay[r.URL.Path], tp.atkStall[r.URL.Path]
		if tp.userAgents == nil {
			tp.userAgents = map[string]string{}
		}
		tp.userAgents[r.URL.Path] = r.Header.Get("User-Agent")
		tp.mu.Unlock()
		if delay > 0 || stall {
			// Read the form first: the server notices a client that gave up only
			// once the request's body has been read.
			r.ParseForm()
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if stall {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	tp.issuer = tp.srv.URL
	t.Cleanup(func() { tp.srv.Close() })
	return tp
}

// tpDocument is the test provider's discovery document at issuer.
func tpDocument(issuer string) map[string]interface{} {
	return map[string]interface{}{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/token",
		"userinfo_endpoint":                     issuer + "/userinfo",
		"jwks_uri":                              issuer + "/jwks",
		"end_session_endpoint":                  issuer + "/end_session",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	}
}

func (tp *testProvider) discovery(w http.ResponseWriter, r *http.Request) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.discoveryCalls++
	if tp.cacheControl != "" {
		w.Header().Set("Cache-Control", tp.cacheControl)
	}
	doc := tpDocument(tp.issuer)
	if tp.atkDiscovery != nil {
		w.Write(tp.atkDiscovery)
		return
	}
	if tp.atkAlgs != nil {
		doc["id_token_signing_alg_values_supported"] = tp.atkAlgs
	}
	if tp.discoveryIssuer != "" {
		doc["issuer"] = tp.discoveryIssuer
	}
	if tp.noEndSession {
		delete(doc, "end_session_endpoint")
	}
	if tp.noUserinfo {
		delete(doc, "userinfo_endpoint")
	}
	if tp.authMethods != nil {
		doc["token_endpoint_auth_methods_supported"] = tp.authMethods
	}
	if tp.issAnnounced {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if tp.requestParameter {
		doc["request_parameter_supported"] = true
	}
	if tp.authSigningAlgs != nil {
		doc["token_endpoint_auth_signing_alg_values_supported"] = tp.authSigningAlgs
	}
	if tp.introspect != nil && !tp.hideIntrospect {
		doc["introspection_endpoint"] = tp.issuer + "/introspect"
	}
	json.NewEncoder(w).Encode(doc)
}

func (tp *testProvider) jwks(w http.ResponseWriter, r *http.Request) {
	tp.mu.Lock()
	tp.atkJWKSCalls++
	keys, status := tp.atkKeys, tp.atkJWKSStatus
	if tp.cacheControl != "" {
		w.Header().Set("Cache-Control", tp.cacheControl)
	}
	tp.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if keys != nil {
		w.Write(keys)
		return
	}
	tp.publicKeys(w)
}

// publicKeys writes the provider's key set.
func (tp *testProvider) publicKeys(w http.ResponseWriter) {
	pub := tp.key.PublicKey
	json.NewEncoder(w).Encode(map[string]interface{}{"keys": []interface{}{map[string]interface{}{
		"kty": "RSA", "kid": tp.kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// authorize approves at once and sends the browser back with a code.
func (tp *testProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tp.mu.Lock()
	tp.authorizeQuery = q
	tp.mu.Unlock()
	if ro := q.Get("request"); ro != "" {
		parts := strings.Split(ro, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]interface{}
		json.Unmarshal(payload, &claims)
		tp.mu.Lock()
		tp.requestObject = claims
		tp.mu.Unlock()
		q = url.Values{}
		for _, name := range []string{"state", "nonce", "code_challenge", "redirect_uri", "response_mode"} {
			s, _ := claims[name].(string)
			q.Set(name, s)
		}
	}
	if len(q.Get("state")) < 8 {
		http.Error(w, "no state", http.StatusBadRequest)
		return
	}
	code := "code-" + q.Get("state")[:8]
	tp.mu.Lock()
	tp.grants[code] = tpGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), state: q.Get("state")}
	iss := tp.issParam
	if iss == "" && tp.issAnnounced {
		iss = tp.issuer
	}
	tp.mu.Unlock()
	answer := url.Values{"code": {code}, "state": {q.Get("state")}}
	if iss != "" && iss != "-" {
		answer.Set("iss", iss)
	}
	if q.Get("response_mode") == "form_post" {
		tpFormPost(w, q.Get("redirect_uri"), answer)
		return
	}
	back := q.Get("redirect_uri") + "?code=" + code + "&state=" + url.QueryEscape(q.Get("state"))
	if iss != "" && iss != "-" {
		back += "&iss=" + url.QueryEscape(iss)
	}
	http.Redirect(w, r, back, http.StatusFound)
}

func (tp *testProvider) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tp.mu.Lock()
	barrier := tp.refreshWait
	tp.mu.Unlock()
	if barrier != nil && r.PostForm.Get("grant_type") == "refresh_token" {
		barrier.wait()
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.tokenForms = append(tp.tokenForms, r.PostForm)
	tp.tokenAuth = append(tp.tokenAuth, r.Header.Get("Authorization"))
	if tp.tokenStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(tp.tokenStatus)
		w.Write([]byte(tp.tokenBody))
		return
	}
	if tp.clientKey != nil || tp.clientSecretJWT || r.PostForm.Get("client_assertion_type") != "" {
		if err := tp.checkAssertion(r); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
			return
		}
	} else {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if tp.appleKey != nil {
			if err := tp.checkAppleSecret(ok, id, secret); err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
				return
			}
		} else if id != tpClientID || secret != tpClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
	}
	nonce := ""
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, found := tp.grants[r.PostForm.Get("code")]
		delete(tp.grants, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		pkce := tp.atkSkipPKCE || base64.RawURLEncoding.EncodeToString(sum[:]) == g.challenge
		if !found || g.redirectURI != r.PostForm.Get("redirect_uri") || !pkce {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"code, redirect_uri or code_verifier wrong"}`))
			return
		}
		nonce = g.nonce
	case "refresh_token":
		tp.refreshCalls++
		presented := r.PostForm.Get("refresh_token")
		if tp.rotate && tp.spent[presented] {
			tp.reuses++
			tp.refreshToken = "" // reuse detected: the whole grant is revoked
		}
		if tp.moreGrants[presented] {
			break
		}
		if presented != tp.refreshToken || tp.refreshToken == "" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		if tp.rotate {
			if tp.spent == nil {
				tp.spent = map[string]bool{}
			}
			tp.spent[presented] = true
			tp.refreshToken = "refresh-" + strconv.Itoa(tp.refreshCalls+1)
		}
	}
	access := "access-" + nonce + "-" + tp.now().Format(time.RFC3339Nano)
	if tp.accessJWT != nil {
		now := tp.now()
		c := map[string]interface{}{"iss": tp.issuer, "sub": "user-42", "aud": "account", "typ": "Bearer", "azp": tpClientID,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": nonce,
			"realm_access": map[string]interface{}{"roles": []string{"default-roles-ags", "ags-admin"}}}
		tp.accessJWT(c)
		access = tpSign(tp.key, tp.kid, c)
		if c["alg-none"] == true { // unsigned
			delete(c, "alg-none")
			payload, _ := json.Marshal(c)
			access = "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + "."
		}
	}
	resp := map[string]interface{}{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   tp.expiresIn,
		"id_token":     tp.idToken(nonce, access),
	}
	if tp.atkToken != nil {
		resp["id_token"] = tp.atkToken(nonce, access)
	}
	if tp.refreshToken != "" {
		resp["refresh_token"] = tp.refreshToken
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// idToken signs the test user's ID token; callers hold tp.mu.
func (tp *testProvider) idToken(nonce, accessToken string) string {
	now := tp.now()
	sum := sha256.Sum256([]byte(accessToken))
	claims := map[string]interface{}{
		"iss": tp.issuer, "aud": tpClientID, "sub": "user-42",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "ada@example.org", "preferred_username": "ada",
		"groups":  []string{"admins", "staff"},
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if tp.sid != "" {
		claims["sid"] = tp.sid
	}
	if tp.claims != nil {
		tp.claims(claims)
	}
	return tpSign(tp.key, tp.kid, claims)
}

// tpSign makes an RS256 compact JWS.
func tpSign(key *rsa.PrivateKey, kid string, claims map[string]interface{}) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (tp *testProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.userinfoCalls++
	if tp.userinfoStatus != 0 {
		w.WriteHeader(tp.userinfoStatus)
		return
	}
	if tp.atkUserinfo != nil {
		w.Write(tp.atkUserinfo)
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "Bearer access-") && !strings.HasPrefix(auth, "Bearer eyJ") {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	sub := "user-42"
	if tp.userinfoSub != "" {
		sub = tp.userinfoSub
	}
	json.NewEncoder(w).Encode(map[string]interface{}{"sub": sub, "name": "Ada Lovelace", "email": "ada@example.org"})
}

// set changes the provider's behaviour under its lock.
func (tp *testProvider) set(f func(tp *testProvider)) {
	tp.mu.Lock()
	f(tp)
	tp.mu.Unlock()
}

// introspection answers RFC 7662 requests with tp.introspect, for the test client.
func (tp *testProvider) introspection(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.introspections++
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != tpClientID || secret != tpClientSecret || tp.introspect == nil {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(tp.introspect(r.PostForm))
}
