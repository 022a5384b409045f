package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// oneLoginGrant is one sign-in: made at /authorize, its code redeemed once at /token,
// its access token read at /userinfo.
type oneLoginGrant struct {
	client      OneLoginClient
	redirectURI string
	nonce       string
	scopes      []string
	claims      []string // the userinfo claims asked for
	credential  string   // the credential level asked for: the lowest vector's
	level       string   // the identity level asked for: the lowest vector's, "" for none
	challenge   string   // PKCE S256 code_challenge, "" without
	user        OneLoginUser
	sub, sid    string
	authTime    time.Time
	expires     time.Time // of the code, then of the access token
}

// codeLifetime is how long an authorization code can be redeemed.
const codeLifetime = 5 * time.Minute

// clockLeeway is the leeway on the time claims of what clients send.
const clockLeeway = 30 * time.Second

// authorizeParams are an authorization request's parameters, from the query or from a
// request object.
type authorizeParams struct {
	responseType, scope, redirectURI, state, nonce, responseMode string
	codeChallenge, codeChallengeMethod, uiLocales, maxAge        string
	hasChallenge, hasMaxAge                                      bool
	vtr                                                          []string // the vectors; nil when absent
	vtrBad                                                       bool     // not a JSON array of strings
	claims                                                       any      // the claims parameter: a JSON string or an object
}

// authorizeError is a refused authorization request: an error page (400) when the
// client or its redirect URI cannot be trusted, else a redirect to the redirect URI
// with error and error_description (RFC 6749 section 4.1.2.1), as One Login answers.
type authorizeError struct {
	page              bool
	code, description string
	noState           bool // a missing state is not sent back
}

func pageError(description string) *authorizeError {
	return &authorizeError{page: true, description: description}
}

func redirectError(code, description string) *authorizeError {
	return &authorizeError{code: code, description: description}
}

// authorize answers an authorization request at once (no login page): a code for the
// user SetUser chose, or One Login's refusal.
func (o *OneLogin) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "Invalid request", http.StatusBadRequest)
			return
		}
		q = r.PostForm
	}
	o.recordAuthorize(q)
	p, grant, aerr := o.checkAuthorize(q)
	switch {
	case aerr != nil && aerr.page:
		http.Error(w, aerr.description, http.StatusBadRequest)
	case aerr != nil:
		v := url.Values{"error": {aerr.code}, "error_description": {aerr.description}}
		if p.state != "" && !aerr.noState {
			v.Set("state", p.state)
		}
		redirectTo(w, r, p.redirectURI, p.responseMode, v)
	default:
		code := randomToken()
		o.mu.Lock()
		o.codes[code] = grant
		o.mu.Unlock()
		redirectTo(w, r, p.redirectURI, p.responseMode, url.Values{"code": {code}, "state": {p.state}})
	}
}

// recordAuthorize keeps what LastAuthorize returns.
func (o *OneLogin) recordAuthorize(q url.Values) {
	rec := &OneLoginAuthorizeRequest{Query: q}
	if raw := q.Get("request"); raw != "" {
		rec.RequestObjectHeader, rec.RequestObject, _ = decodeJWT(raw)
		prompt, _ := rec.RequestObject["prompt"].(string)
		hint, _ := rec.RequestObject["id_token_hint"].(string)
		rec.PromptLogin = slices.Contains(strings.Fields(prompt), "login")
		rec.Reauthenticate = rec.PromptLogin && hint != ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastAuth = rec
	o.authCount++
}

// redirectTo sends the browser to target with v in its query, or in its fragment for
// response_mode=fragment.
func redirectTo(w http.ResponseWriter, r *http.Request, target, mode string, v url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "Invalid request", http.StatusBadRequest)
		return
	}
	if mode == "fragment" {
		u.Fragment = v.Encode()
	} else {
		q := u.Query()
		for k, vs := range v {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// checkAuthorize checks an authorization request in One Login's order (its
// QueryParamsAuthorizeValidator and RequestObjectAuthorizeValidator) and makes the
// grant of a good one.
func (o *OneLogin) checkAuthorize(q url.Values) (authorizeParams, *oneLoginGrant, *authorizeError) {
	var p authorizeParams
	for name, vs := range q {
		if len(vs) > 1 {
			return p, nil, pageError("Invalid request: " + name + " more than once")
		}
	}
	c, ok := o.client(q.Get("client_id"))
	if !ok {
		return p, nil, pageError("No Client found for ClientID: " + q.Get("client_id"))
	}
	if q.Get("response_type") == "" {
		return p, nil, pageError("Request is missing parameters")
	}
	var aerr *authorizeError
	if q.Has("request") {
		p, aerr = o.checkRequestObject(c, q)
	} else {
		p, aerr = o.checkQuery(c, q)
	}
	if aerr != nil {
		return p, nil, aerr
	}
	g, aerr := o.checkCommon(c, p)
	if aerr == nil && q.Has("request") {
		aerr = queryMatchesObject(q, p)
	}
	return p, g, aerr
}

// checkQuery checks what only a request without a request object must have.
func (o *OneLogin) checkQuery(c OneLoginClient, q url.Values) (authorizeParams, *authorizeError) {
	p := authorizeParams{responseType: q.Get("response_type"), scope: q.Get("scope"),
		redirectURI: q.Get("redirect_uri"), state: q.Get("state"), nonce: q.Get("nonce"),
		responseMode: q.Get("response_mode"), codeChallenge: q.Get("code_challenge"),
		codeChallengeMethod: q.Get("code_challenge_method"), uiLocales: q.Get("ui_locales"),
		maxAge: q.Get("max_age"), hasChallenge: q.Has("code_challenge"), hasMaxAge: q.Has("max_age")}
	if q.Has("claims") {
		p.claims = q.Get("claims")
	}
	if q.Has("vtr") {
		p.vtr, p.vtrBad = vectorsOfJSON(q.Get("vtr"))
	}
	if aerr := checkRedirect(c, p); aerr != nil {
		return p, aerr
	}
	if aerr := checkScope(c, p.scope, true); aerr != nil && aerr.page {
		return p, aerr
	}
	if q.Has("request_uri") {
		return p, redirectError("request_uri_not_supported", "Request URI parameter not supported")
	}
	return p, nil
}

// checkRedirect: the redirect URI and response mode decide whether an error can be
// sent back at all, then state must be there to send.
func checkRedirect(c OneLoginClient, p authorizeParams) *authorizeError {
	if !slices.Contains(c.RedirectURIs, p.redirectURI) {
		return pageError("Invalid request: redirect URI is not registered for this client")
	}
	if p.responseMode != "" && p.responseMode != "query" && p.responseMode != "fragment" {
		return pageError("Invalid request: invalid response mode")
	}
	if p.state == "" {
		return &authorizeError{code: "invalid_request", description: "Request is missing state parameter", noState: true}
	}
	return nil
}

// checkRequestObject checks the request parameter: a JWT signed by the client's key
// (RFC 9101), with One Login's rules on its claims.
func (o *OneLogin) checkRequestObject(c OneLoginClient, q url.Values) (authorizeParams, *authorizeError) {
	var p authorizeParams
	if c.PublicKey == nil {
		return p, pageError("Invalid request: the client has no public key")
	}
	claims, err := verifyClientJWT(q.Get("request"), c)
	if err != nil {
		return p, pageError("Failed to validate request object: " + err.Error())
	}
	str := func(name string) string { s, _ := claims[name].(string); return s }
	p = authorizeParams{responseType: str("response_type"), scope: str("scope"),
		redirectURI: str("redirect_uri"), state: str("state"), nonce: str("nonce"),
		responseMode: str("response_mode"), codeChallenge: str("code_challenge"),
		codeChallengeMethod: str("code_challenge_method"), uiLocales: str("ui_locales"),
		claims: claims["claims"]}
	_, p.hasChallenge = claims["code_challenge"]
	if v, ok := claims["max_age"]; ok {
		p.hasMaxAge, p.maxAge = true, fmt.Sprint(v)
	}
	switch v := claims["vtr"].(type) {
	case nil:
	case string: // One Login takes the query's form too
		p.vtr, p.vtrBad = vectorsOfJSON(v)
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			p.vtrBad = p.vtrBad || !ok
			p.vtr = append(p.vtr, s)
		}
		p.vtrBad = p.vtrBad || len(v) == 0
	default:
		p.vtrBad = true
	}
	if aerr := checkRedirect(c, p); aerr != nil {
		return p, aerr
	}
	if q.Get("response_type") != "code" {
		return p, redirectError("unsupported_response_type", "Unsupported response type")
	}
	if aerr := checkScope(c, q.Get("scope"), true); aerr != nil {
		return p, aerr
	}
	if id, ok := claims["client_id"].(string); !ok || id != c.ID {
		return p, redirectError("unauthorized_client", "Unauthorized client")
	}
	if _, ok := claims["request"]; ok {
		return p, redirectError("invalid_request", "Invalid request: request inside the request object")
	}
	if _, ok := claims["request_uri"]; ok {
		return p, redirectError("invalid_request", "Invalid request: request_uri inside the request object")
	}
	if !audienceHas(claims["aud"], o.URL("authorize")) {
		return p, redirectError("access_denied", "Access denied by resource owner or authorization server")
	}
	if iss, _ := claims["iss"].(string); iss != c.ID {
		return p, redirectError("unauthorized_client", "Unauthorized client")
	}
	return p, o.checkObjectTimes(claims)
}

// checkObjectTimes: past its exp One Login no longer accepts a request object (its
// documentation); one from the future (nbf, iat) is refused as well.
func (o *OneLogin) checkObjectTimes(claims map[string]any) *authorizeError {
	now := o.now()
	times := map[string]time.Time{}
	for _, name := range []string{"exp", "nbf", "iat"} {
		if _, there := claims[name]; there {
			t, ok := numberClaim(claims, name)
			if !ok {
				return redirectError("invalid_request", "Request object's "+name+" is not a number")
			}
			times[name] = time.Unix(t, 0)
		}
	}
	if exp, ok := times["exp"]; ok && !now.Before(exp.Add(clockLeeway)) {
		return redirectError("invalid_request", "Request object has expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := times[name]; ok && t.After(now.Add(clockLeeway)) {
			return redirectError("invalid_request", "Request object is not valid yet ("+name+")")
		}
	}
	return nil
}

// queryMatchesObject applies One Login's documentation: response_type, scope and
// client_id identical in the query and the request object, no other OIDC parameter in
// the query. (Its code takes the request object's values and ignores the rest.)
func queryMatchesObject(q url.Values, p authorizeParams) *authorizeError {
	if q.Get("response_type") != p.responseType || q.Get("scope") != p.scope {
		return redirectError("invalid_request", "response_type and scope differ between the query and the request object")
	}
	for name := range q {
		switch name {
		case "response_type", "scope", "client_id", "request":
		default:
			return redirectError("invalid_request", "Invalid request: "+name+" in the query beside a request object")
		}
	}
	return nil
}

// checkScope: openid and only scopes One Login knows and the client may ask for.
// Without openid the request is not an OpenID one: an error page for the query's
// scope, invalid_scope for the request object's.
func checkScope(c OneLoginClient, scope string, query bool) *authorizeError {
	scopes := strings.Fields(scope)
	if !slices.Contains(scopes, "openid") {
		if query {
			return pageError("Request is missing parameters: scope must contain openid")
		}
		return redirectError("invalid_scope", "Invalid, unknown or malformed scope")
	}
	for _, s := range scopes {
		if !slices.Contains([]string{"openid", "email", "phone", "offline_access"}, s) || !slices.Contains(c.Scopes, s) {
			return redirectError("invalid_scope", "Invalid, unknown or malformed scope")
		}
	}
	return nil
}

// checkCommon checks what both forms must have, and makes the grant.
func (o *OneLogin) checkCommon(c OneLoginClient, p authorizeParams) (*oneLoginGrant, *authorizeError) {
	if p.responseType != "code" {
		return nil, redirectError("unsupported_response_type", "Unsupported response type")
	}
	if aerr := checkScope(c, p.scope, false); aerr != nil {
		return nil, aerr
	}
	claims, ok := userinfoClaims(p.claims)
	for _, name := range claims {
		ok = ok && slices.Contains(c.Claims, name)
	}
	if !ok {
		return nil, redirectError("invalid_request", "Request contains invalid claims")
	}
	if p.nonce == "" {
		return nil, redirectError("invalid_request", "Request is missing nonce parameter")
	}
	vectors, err := parseVectors(p.vtr)
	if err != nil || p.vtrBad {
		return nil, redirectError("invalid_request", "Request vtr not valid")
	}
	lowest := vectors[0]
	if lowest.identity() && c.Secret != "" {
		return nil, redirectError("invalid_request", "Request vtr is not permitted")
	}
	if p.hasMaxAge {
		if n, err := strconv.Atoi(p.maxAge); err != nil || n < 0 {
			return nil, redirectError("invalid_request", "Max age is negative or not an integer")
		}
	}
	if aerr := checkChallenge(c, p); aerr != nil {
		return nil, aerr
	}
	o.mu.Lock()
	u := o.user.clone()
	o.mu.Unlock()
	now := o.now()
	g := &oneLoginGrant{client: c, redirectURI: p.redirectURI, nonce: p.nonce, scopes: strings.Fields(p.scope),
		claims: claims, credential: lowest.credential, level: lowest.level, challenge: p.codeChallenge,
		user: u, sub: u.Subject, sid: randomToken(), authTime: u.AuthTime, expires: now.Add(codeLifetime)}
	if g.sub == "" {
		g.sub = pairwiseSubject(c.ID, "ags-e2e-user")
	}
	if g.authTime.IsZero() {
		g.authTime = now
	}
	return g, nil
}

// checkChallenge: PKCE with S256 only, required when the client enforces it.
func checkChallenge(c OneLoginClient, p authorizeParams) *authorizeError {
	switch {
	case !p.hasChallenge && c.PKCEEnforced:
		return redirectError("invalid_request", "Request is missing code_challenge parameter, but PKCE is enforced.")
	case !p.hasChallenge:
		return nil
	case strings.TrimSpace(p.codeChallenge) == "":
		return redirectError("invalid_request", "Invalid value for code_challenge parameter.")
	case p.codeChallengeMethod == "":
		return redirectError("invalid_request", "Request is missing code_challenge_method parameter.")
	case p.codeChallengeMethod != "S256":
		return redirectError("invalid_request", "Invalid value for code_challenge_method parameter.")
	}
	return nil
}

// userinfoClaims reads the claims parameter (OpenID Connect Core 5.5), a JSON string
// or, in a request object, an object too: the names under userinfo, which must be
// claims One Login knows. Its id_token member is ignored, as One Login does.
func userinfoClaims(v any) ([]string, bool) {
	if s, ok := v.(string); ok {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return nil, false
		}
		v = m
	}
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	userinfo, _ := m["userinfo"].(map[string]any)
	var names []string
	for name := range userinfo {
		if !slices.Contains(oneLoginUserinfoClaims, name) {
			return nil, false
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, true
}

// vector is one vector of trust (RFC 8485) as One Login reads it: its credential level
// (Cl or Cl.Cm) and its identity level (P0 to P3, "" when absent).
type vector struct{ credential, level string }

// identity: the vector asks for identity proving.
func (v vector) identity() bool { return v.level != "" && v.level != "P0" }

// vectorsOfJSON reads vtr as the query has it, a JSON array of strings.
func vectorsOfJSON(s string) ([]string, bool) {
	var vs []string
	if err := json.Unmarshal([]byte(s), &vs); err != nil || len(vs) == 0 {
		return nil, true
	}
	return vs, false
}

// parseVectors reads the vectors as One Login's VectorOfTrust does, lowest first: no
// vtr is Cl.Cm; the C components sorted make Cl or Cl.Cm; at most one P component,
// P0 to P3; identity (P1 and above) needs Cl.Cm; identity and non-identity vectors
// do not mix. Components of other letters are ignored, as One Login ignores them.
func parseVectors(vtr []string) ([]vector, error) {
	if vtr == nil {
		return []vector{{credential: "Cl.Cm"}}, nil
	}
	var out []vector
	identities := 0
	for _, s := range vtr {
		var v vector
		var cs []string
		for _, part := range strings.Split(s, ".") {
			switch {
			case strings.HasPrefix(part, "P") && v.level != "":
				return nil, errors.New("more than one P component")
			case strings.HasPrefix(part, "P"):
				if !slices.Contains([]string{"P0", "P1", "P2", "P3"}, part) {
					return nil, fmt.Errorf("unknown level %q", part)
				}
				v.level = part
			case strings.HasPrefix(part, "C"):
				cs = append(cs, part)
			}
		}
		sort.Strings(cs)
		v.credential = strings.Join(cs, ".")
		if v.credential != "Cl" && v.credential != "Cl.Cm" {
			return nil, fmt.Errorf("unknown credential level %q", v.credential)
		}
		if v.identity() && v.credential == "Cl" {
			return nil, errors.New("identity needs Cl.Cm")
		}
		if v.identity() {
			identities++
		}
		out = append(out, v)
	}
	if identities != 0 && identities != len(out) {
		return nil, errors.New("identity and non-identity vectors mixed")
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].level != out[j].level {
			return out[i].level < out[j].level // "" (none) first, as One Login's nullsFirst
		}
		return out[i].credential < out[j].credential
	})
	return out, nil
}
