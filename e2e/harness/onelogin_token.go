package harness

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// accessTokenLifetime is One Login's expires_in; idTokenLifetime its ID tokens' exp
// minus iat (the documentation's example, the simulator's value).
const (
	accessTokenLifetime = 180 * time.Second
	idTokenLifetime     = 120 * time.Second
	// assertionMaxAhead: an assertion whose exp is further ahead is refused (the
	// documentation recommends five minutes).
	assertionMaxAhead = 5 * time.Minute
	jwtBearer         = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// tokenError is an error answer of the token endpoint: One Login answers 400 for
// each, invalid_client included (its documentation's table).
type tokenError struct{ code, description string }

func (e *tokenError) write(w http.ResponseWriter) {
	serveJSON(w, http.StatusBadRequest, "no-store", map[string]string{"error": e.code, "error_description": e.description})
}

// token redeems an authorization code for an access token and an ID token.
func (o *OneLogin) token(w http.ResponseWriter, r *http.Request) {
	if r.UserAgent() == "" { // One Login's firewall: "403 Forbidden" without User-Agent
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		(&tokenError{"invalid_request", "Invalid request"}).write(w)
		return
	}
	form := r.PostForm
	o.recordToken(form)
	g, access, terr := o.redeem(r, form)
	if terr != nil {
		terr.write(w)
		return
	}
	idToken, err := o.idToken(g, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	serveJSON(w, http.StatusOK, "no-store", map[string]any{"access_token": access, "token_type": "Bearer",
		"expires_in": int(accessTokenLifetime / time.Second), "id_token": idToken})
}

// recordToken keeps what LastToken returns.
func (o *OneLogin) recordToken(form url.Values) {
	rec := &OneLoginTokenRequest{Form: form}
	if raw := form.Get("client_assertion"); raw != "" {
		rec.AssertionHeader, rec.Assertion, _ = decodeJWT(raw)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastToken = rec
}

// redeem checks a token request and spends its code: the grant and a new access token.
func (o *OneLogin) redeem(r *http.Request, form url.Values) (*oneLoginGrant, string, *tokenError) {
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, "", &tokenError{"invalid_request", name + " more than once"}
		}
	}
	switch form.Get("grant_type") {
	case "authorization_code":
	case "":
		return nil, "", &tokenError{"invalid_request", "Request is missing grant_type parameter"}
	default:
		return nil, "", &tokenError{"unsupported_grant_type", "Unsupported grant type"}
	}
	c, terr := o.authenticateClient(r, form)
	if terr != nil {
		return nil, "", terr
	}
	invalidGrant := &tokenError{"invalid_grant", "Invalid grant"}
	now := o.now()
	o.mu.Lock()
	g, ok := o.codes[form.Get("code")]
	delete(o.codes, form.Get("code")) // a code is spent by any attempt
	o.mu.Unlock()
	if !ok || !now.Before(g.expires) || g.client.ID != c.ID {
		return nil, "", invalidGrant
	}
	if form.Get("redirect_uri") != g.redirectURI {
		return nil, "", invalidGrant
	}
	verifier := form.Get("code_verifier")
	if g.challenge != "" || verifier != "" {
		sum := sha256.Sum256([]byte(verifier))
		if g.challenge == "" || verifier == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			return nil, "", &tokenError{"invalid_grant", "PKCE code verification failed"}
		}
	}
	access := randomToken()
	held := *g
	held.expires = now.Add(accessTokenLifetime)
	o.mu.Lock()
	o.tokens[access] = &held
	o.mu.Unlock()
	return g, access, nil
}

// authenticateClient: private_key_jwt for a client with a public key, client_secret_post
// for a client with a secret, each only for its own kind of client (One Login's
// PrivateKeyJwtClientAuthValidator and ClientSecretPostClientAuthValidator).
func (o *OneLogin) authenticateClient(r *http.Request, form url.Values) (OneLoginClient, *tokenError) {
	failed := &tokenError{"invalid_client", "Client authentication failed"}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return o.checkAssertion(form)
	}
	if form.Has("client_secret") {
		c, ok := o.client(form.Get("client_id"))
		switch {
		case !ok:
			return c, failed
		case c.Secret == "":
			return c, &tokenError{"invalid_client", "Client is not registered to use client_secret_post"}
		case subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(c.Secret)) != 1:
			return c, &tokenError{"invalid_client", "Invalid client secret"}
		}
		return c, nil
	}
	if _, _, basic := r.BasicAuth(); basic {
		return OneLoginClient{}, &tokenError{"invalid_client", "client_secret_basic is not supported"}
	}
	return OneLoginClient{}, failed
}

// checkAssertion checks a private_key_jwt client assertion (RFC 7523, One Login's
// "Create a JWT assertion"): iss and sub the client ID, aud the token URL or the
// issuer, exp at most five minutes ahead, a jti not seen before, signed by the
// client's RSA key.
func (o *OneLogin) checkAssertion(form url.Values) (OneLoginClient, *tokenError) {
	malformed := &tokenError{"invalid_request", "Invalid private_key_jwt"}
	badSignature := &tokenError{"invalid_client", "Invalid signature in private_key_jwt"}
	if form.Get("client_assertion_type") != jwtBearer {
		return OneLoginClient{}, malformed
	}
	raw := form.Get("client_assertion")
	_, claims, err := decodeJWT(raw)
	if err != nil {
		return OneLoginClient{}, malformed
	}
	sub, _ := claims["sub"].(string)
	iss, _ := claims["iss"].(string)
	exp, hasExp := numberClaim(claims, "exp")
	jti, _ := claims["jti"].(string)
	if sub == "" || iss == "" || claims["aud"] == nil || !hasExp || jti == "" {
		return OneLoginClient{}, malformed
	}
	if form.Has("client_id") && form.Get("client_id") != sub {
		return OneLoginClient{}, malformed
	}
	c, ok := o.client(sub)
	if !ok {
		return c, &tokenError{"invalid_client", "Client authentication failed"}
	}
	if c.PublicKey == nil || c.Secret != "" {
		return c, &tokenError{"invalid_client", "Client is not registered to use private_key_jwt"}
	}
	now := o.now()
	expires := time.Unix(exp, 0)
	if !now.Before(expires.Add(clockLeeway)) {
		return c, &tokenError{"invalid_grant", "private_key_jwt has expired"}
	}
	if expires.After(now.Add(assertionMaxAhead + clockLeeway)) {
		return c, &tokenError{"invalid_client", "private_key_jwt expires more than 5 minutes ahead"}
	}
	if nbf, ok := numberClaim(claims, "nbf"); ok && time.Unix(nbf, 0).After(now.Add(clockLeeway)) {
		return c, &tokenError{"invalid_client", "private_key_jwt is not valid yet"}
	}
	if _, err := verifyClientJWT(raw, c); err != nil {
		return c, badSignature
	}
	if !assertionAudienceOK(claims["aud"], o.URL("token"), o.Issuer) || iss != sub {
		return c, badSignature // One Login says so for a wrong aud or iss too
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, until := range o.jtis {
		if now.After(until.Add(clockLeeway)) {
			delete(o.jtis, id)
		}
	}
	key := c.ID + " " + jti
	if _, seen := o.jtis[key]; seen {
		return c, &tokenError{"invalid_client", "private_key_jwt has been used before (jti)"}
	}
	o.jtis[key] = expires
	return c, nil
}

// assertionAudienceOK: aud is the token URL or the issuer (One Login's documentation
// takes either), or an array of which every member is one of them.
func assertionAudienceOK(aud any, allowed ...string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(allowed, a)
	case []any:
		for _, e := range a {
			if s, _ := e.(string); !slices.Contains(allowed, s) {
				return false
			}
		}
		return len(a) > 0
	}
	return false
}

// idToken makes the grant's ID token, with the fault set if any.
func (o *OneLogin) idToken(g *oneLoginGrant, accessToken string) (string, error) {
	o.mu.Lock()
	fault := o.idFault
	o.mu.Unlock()
	iat := o.now()
	switch fault {
	case IDTokenExpired:
		iat = iat.Add(-time.Hour)
	case IDTokenNotYetValid:
		iat = iat.Add(time.Hour)
	}
	vot := g.user.Credential
	if vot == "" {
		vot = g.credential
	}
	sum := sha256.Sum256([]byte(accessToken))
	claims := map[string]any{
		"iss": o.Issuer, "sub": g.sub, "aud": g.client.ID, "iat": iat.Unix(),
		"exp": iat.Add(idTokenLifetime).Unix(), "nonce": g.nonce, "vot": vot,
		"vtm": o.URL("trustmark"), "sid": g.sid, "auth_time": g.authTime.Unix(),
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
	switch fault {
	case IDTokenWrongIssuer:
		claims["iss"] = oneLoginOtherIssuer
	case IDTokenWrongAudience:
		claims["aud"] = g.client.ID + "-other"
	case IDTokenWrongNonce:
		claims["nonce"] = randomToken()
	case IDTokenWrongVot:
		claims["vot"] = map[bool]string{true: "Cl", false: "Cl.Cm"}[vot == "Cl.Cm"]
	case IDTokenNoVot:
		delete(claims, "vot")
	case IDTokenAlgNone:
		return signCompact("none", nil, claims, nil)
	}
	alg := g.client.IDTokenAlg
	if fault == IDTokenOtherAlg {
		alg = map[bool]string{true: "RS256", false: "ES256"}[alg == "ES256"]
	}
	var tok string
	var err error
	if alg == "RS256" {
		tok, err = signCompact("RS256", map[string]any{"kid": o.idKidRSA}, claims, o.idKeyRSA)
	} else {
		tok, err = signCompact("ES256", map[string]any{"kid": o.idKidEC}, claims, o.idKeyEC)
	}
	if err == nil && fault == IDTokenBadSignature {
		tok = flipSignature(tok)
	}
	return tok, err
}

// userinfo answers with the grant's user: sub; email and phone as the scopes ask;
// the identity claims the claims parameter asked for, for an identity request the
// user achieved a level for; returnCode when asked and the user has codes.
func (o *OneLogin) userinfo(w http.ResponseWriter, r *http.Request) {
	if r.UserAgent() == "" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	o.mu.Lock()
	g, ok := o.tokens[tok]
	o.mu.Unlock()
	if !ok || !o.now().Before(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="Invalid access token"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	u := g.user
	info := map[string]any{"sub": g.sub}
	if slices.Contains(g.scopes, "email") {
		info["email"], info["email_verified"] = u.Email, true
	}
	if slices.Contains(g.scopes, "phone") {
		info["phone_number_verified"] = u.PhoneNumber != ""
		if u.PhoneNumber != "" {
			info["phone_number"] = u.PhoneNumber
		}
	}
	level := g.achievedLevel()
	identity := vector{level: g.level}.identity() && vector{level: level}.identity()
	for _, name := range g.claims {
		switch {
		case name == claimCoreIdentity && identity:
			jwt, err := o.coreIdentityJWT(g, level)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			info[name] = jwt
		case name == claimAddress && identity && len(u.Addresses) > 0:
			info[name] = u.Addresses
		case name == claimPassport && identity && len(u.Passport) > 0:
			info[name] = u.Passport
		case name == claimDrivingPermit && identity && len(u.DrivingPermit) > 0:
			info[name] = u.DrivingPermit
		case name == claimReturnCode && len(u.ReturnCodes) > 0:
			codes := make([]map[string]string, len(u.ReturnCodes))
			for i, code := range u.ReturnCodes {
				codes[i] = map[string]string{"code": code}
			}
			info[name] = codes
		}
	}
	serveJSON(w, http.StatusOK, "no-store", info)
}

// achievedLevel is the identity level the user reached: SetUser's, else the one asked.
func (g *oneLoginGrant) achievedLevel() string {
	if g.user.Level != "" {
		return g.user.Level
	}
	return g.level
}

// logout ends the session (One Login's /logout, as its simulator mirrors it): back to
// post_logout_redirect_uri with state when id_token_hint is one of the provider's ID
// tokens (signature checked, expiry not) and the URI is registered for its client;
// else to the provider's own signed-out page, with error_code and error_description
// when something was wrong.
func (o *OneLogin) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o.mu.Lock()
	o.lastLogout = q
	o.mu.Unlock()
	home := o.URL("signed-out")
	back := func(target, code, description string) {
		v := url.Values{}
		if code != "" {
			v.Set("error_code", code)
			v.Set("error_description", description)
		}
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		redirectTo(w, r, target, "query", v)
	}
	hint := q.Get("id_token_hint")
	if hint == "" {
		back(home, "", "")
		return
	}
	claims, err := o.verifyOwnIDToken(hint)
	if err != nil {
		back(home, "invalid_request", "unable to validate id_token_hint")
		return
	}
	aud, _ := claims["aud"].(string)
	if a, ok := claims["aud"].([]any); ok && len(a) > 0 {
		aud, _ = a[0].(string)
	}
	sub, _ := claims["sub"].(string)
	if aud == "" || sub == "" {
		back(home, "", "")
		return
	}
	c, ok := o.client(aud)
	if !ok {
		back(home, "unauthorized_client", "client not found")
		return
	}
	target := q.Get("post_logout_redirect_uri")
	switch {
	case target == "":
		back(home, "", "")
	case !slices.Contains(c.PostLogoutRedirectURIs, target):
		back(home, "invalid_request", "client registry does not contain post_logout_redirect_uri")
	default:
		back(target, "", "")
	}
}

// verifyOwnIDToken checks that raw was signed by one of the provider's ID-token keys.
func (o *OneLogin) verifyOwnIDToken(raw string) (map[string]any, error) {
	header, claims, err := decodeJWT(raw)
	if err != nil {
		return nil, err
	}
	switch header["alg"] {
	case "ES256":
		err = verifyCompact(raw, "ES256", &o.idKeyEC.PublicKey)
	case "RS256":
		err = verifyCompact(raw, "RS256", &o.idKeyRSA.PublicKey)
	default:
		err = fmt.Errorf("alg %v", header["alg"])
	}
	return claims, err
}
