package ags

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"time"
)

// API clients (SPEC 15): with bearerTokens, a request with Authorization: Bearer is
// judged by its token instead of a cookie. A JWT access token is checked by the ID
// token's verifier pieces (parseJWS, the issuer's key set, the algorithms it
// announces, never HMAC) and access-token claim rules; an opaque one is asked about
// at the introspection endpoint (introspect.go). A token seen before is served from
// the view cache, by two digests of the Authorization header, until it expires.

// The headers a service caller's token gives the app, besides the identity headers
// of a session.
const (
	headerScope    = "X-Auth-Request-Scope"
	headerClientID = "X-Auth-Request-Client-Id"
)

// maxBearerToken bounds an Authorization header ags reads as a token: the largest
// provider tokens (Azure AD with many groups) are a few KB.
const maxBearerToken = 16 << 10

// Errors of a bearer request. errBearerRequest: the request is malformed (two
// tokens, a token in the query, too long); errNotAccessToken: a valid JWT of another
// kind (an ID token, a logout token).
var (
	errNotBearer      = errors.New("no bearer token")
	errBearerRequest  = errors.New("bad bearer request")
	errNotAccessToken = errors.New("not an access token")
	errInactiveToken  = errors.New("token not active")
)

// bearerSettings are the options of API clients; nil in settings when off.
type bearerSettings struct {
	audiences     []string // a token's aud must hold one
	introspection bool     // opaque tokens go to the introspection endpoint
	// introspectionURL replaces the announced introspection_endpoint; "": that one.
	introspectionURL string
}

// parseBearerSettings reads bearerTokens, bearerAudiences and bearerIntrospection.
func parseBearerSettings(c *Config, identityHeaders map[string]string) (*bearerSettings, error) {
	on, err := parseBool("bearerTokens", c.BearerTokens)
	if err != nil {
		return nil, err
	}
	introspection, err := parseBool("bearerIntrospection", c.BearerIntrospection)
	if err != nil {
		return nil, err
	}
	if !on {
		if len(c.BearerAudiences) > 0 || introspection || c.IntrospectionURL != "" {
			return nil, fmt.Errorf("bearerAudiences, bearerIntrospection and introspectionURL need bearerTokens: true")
		}
		return nil, nil
	}
	if c.IntrospectionURL != "" && !introspection {
		return nil, fmt.Errorf("introspectionURL needs bearerIntrospection: true")
	}
	if err = checkEndpointOption("introspectionURL", c.IntrospectionURL); err != nil {
		return nil, err
	}
	if len(c.BearerAudiences) == 0 {
		return nil, fmt.Errorf("bearerAudiences is required when bearerTokens is true: the resource identifiers (aud) this API answers to")
	}
	for _, a := range c.BearerAudiences {
		if strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("bearerAudiences must not hold an empty audience")
		}
	}
	for claim, header := range identityHeaders {
		if k := headerKey(header); k == headerScope || k == headerClientID {
			return nil, fmt.Errorf("identityHeaders: claim %q maps to %s, which bearerTokens sets", claim, k)
		}
	}
	return &bearerSettings{audiences: c.BearerAudiences, introspection: introspection, introspectionURL: c.IntrospectionURL}, nil
}

// bearerVerifier is the verifier of API clients' access tokens (RFC 9068): the ID
// tokens' key set and algorithms, without HMAC (a client secret is not the issuer's
// key); typ at+jwt, or the plain JWT or none that most providers still write; iss the
// issuer exactly; aud holding one of bearerAudiences; exp, and iat and nbf when
// present. nil when bearerTokens is off.
func bearerVerifier(m *middleware, p *provider) (*jwtVerifier, error) {
	b := m.cfg.bearer
	if b == nil {
		return nil, nil
	}
	if b.introspection && p.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("bearerIntrospection is on and the discovery document announces no introspection_endpoint: set introspectionURL")
	}
	algs, err := allowedAlgorithms(p.SigningAlgorithms, m.cfg.allowedAlgorithms, false)
	if err != nil {
		return nil, fmt.Errorf("bearerTokens: %w", err)
	}
	return bearerTokenVerifier(p.idTokens, algs, b.audiences), nil
}

// bearerTokenVerifier is bearerVerifier's verifier: the key set, issuer and clock of
// the ID tokens', with algs and audiences.
func bearerTokenVerifier(idTokens *jwtVerifier, algs, audiences []string) *jwtVerifier {
	return &jwtVerifier{
		algorithms: algs,
		keys:       idTokens.keys,
		types:      accessTokenTypes,
		issuer:     idTokens.issuer,
		audiences:  audiences,
		times:      timeRules{iat: claimWhenPresent},
		clockSkew:  idTokens.clockSkew,
		now:        idTokens.now,
	}
}

// bearerHandler is the request path with bearerTokens on: handler's, with one step
// more after the identity headers are stripped. A request with an Authorization
// header whose token is known (its view in the cache, by the token seeds), alone,
// without a Cookie header, is served by serveKnownToken; any other Authorization
// goes to serveToken, and back to the cookie path when it is not a bearer token.
// The rest is handler's closure line for line, kept apart so that a configuration
// without bearerTokens pays nothing for it: keep the two in step.
func bearerHandler(m *middleware) http.HandlerFunc {
	removedHeaders := m.removedHeaders
	check := newHeaderCheck(removedHeaders)
	common, sink := check.common, check.sink
	views, paths := m.views.entries.m.Load, m.paths.entries.m.Load
	digest, keySeed, checkSeed := maphash.String, m.views.keySeed, m.views.checkSeed
	tokenKeySeed, tokenCheckSeed := m.views.tokenKeySeed, m.views.tokenCheckSeed
	join, next := strings.Join, m.next
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		auth := h["Authorization"] // before the strip: passAccessToken strips it
		if h.WriteSubset(sink, common) != nil {
			stripIdentityHeaders(h, removedHeaders)
		}
		if auth != nil {
			x, _ := views(digest(tokenKeySeed, auth[0]))
			t, _ := x.(*cookieView)
			if t != nil && t.check == digest(tokenCheckSeed, auth[0]) && len(auth) == 1 && h["Cookie"] == nil {
				serveKnownToken(m, w, r, t)
				return
			}
			if serveToken(m, w, r, auth) {
				return
			}
		}
		line, cookies := "", h["Cookie"]
		if len(cookies) == 1 {
			line = cookies[0]
		} else {
			line = join(cookies, "; ")
		}
		x, _ := views(digest(keySeed, line))
		v, _ := x.(*cookieView)
		if v == nil {
			serveMiss(m, w, r, line)
			return
		}
		if v.check != digest(checkSeed, line) {
			serveMiss(m, w, r, line)
			return
		}
		if v.signedIn {
			serveSignedIn(m, w, r, v)
			return
		}
		if _, open := paths(r.URL.Path); open && r.URL.RawPath == "" {
			if v.hasAgsCookies {
				setAppCookie(h, v)
			}
			next.ServeHTTP(w, r)
			return
		}
		serveOther(m, w, r, v)
	}
}

// serveKnownToken serves a request whose token has a view in the cache: its
// identity until the token expires (v.until; zero for a token the rules refuse),
// unless the query may carry a token too (serveToken decides).
func serveKnownToken(m *middleware, w http.ResponseWriter, r *http.Request, v *cookieView) {
	q := r.URL.RawQuery
	if m.since(v.until) >= 0 || (q != "" && (strings.Contains(q, "access_token") || strings.Contains(q, "%"))) {
		serveToken(m, w, r, r.Header["Authorization"])
		return
	}
	h := r.Header
	for _, hv := range v.id.headers {
		h[hv.name] = hv.value
	}
	m.next.ServeHTTP(w, r)
}

// serveToken judges a request by its Authorization header (auth), unless none of
// its values is a bearer token: then it returns false and the cookie path serves
// it. A token that fails answers 401 (503 when the provider cannot say) on a path
// that needs a user, and passes without identity on an open one; one the rules
// refuse answers 403.
func serveToken(m *middleware, w http.ResponseWriter, r *http.Request, auth []string) bool {
	raw, err := bearerOf(auth)
	if errors.Is(err, errNotBearer) {
		return false
	}
	if err == nil && queryHasToken(r) {
		err = fmt.Errorf("%w: a token in the query", errBearerRequest)
	}
	var v *cookieView
	if err == nil {
		v, err = tokenView(m, r.Context(), auth[0], raw)
	}
	if err != nil {
		if !protectedPath(m, r) {
			passToken(m, w, r, nil)
			return true
		}
		if errors.Is(err, errProviderUnavailable) || errors.Is(err, errKeySetUnavailable) {
			refuseToken(m, w, r, http.StatusServiceUnavailable, "temporarily_unavailable", err)
			return true
		}
		refuseToken(m, w, r, http.StatusUnauthorized, "invalid_token", err)
		return true
	}
	if v.id.refusal != "" && protectedPath(m, r) {
		refuseToken(m, w, r, http.StatusForbidden, "insufficient_scope", fmt.Errorf("sub=%q client=%q fails %s", v.id.sub, tokenClient(v.id), v.id.refusal))
		return true
	}
	passToken(m, w, r, v.id)
	return true
}

// bearerOf returns the token of a request's Authorization header lines: errNotBearer
// when none is a bearer token, errBearerRequest when there are several lines or
// tokens, or the token is too long or not of RFC 6750's characters.
func bearerOf(auth []string) (string, error) {
	bearer := false
	for _, a := range auth {
		scheme, _, _ := strings.Cut(strings.TrimSpace(a), " ")
		if strings.EqualFold(scheme, "Bearer") {
			bearer = true
		}
	}
	if !bearer {
		return "", errNotBearer
	}
	if len(auth) != 1 {
		return "", fmt.Errorf("%w: %d Authorization headers", errBearerRequest, len(auth))
	}
	if len(auth[0]) > maxBearerToken {
		return "", fmt.Errorf("%w: Authorization longer than %d bytes", errBearerRequest, maxBearerToken)
	}
	_, raw, _ := strings.Cut(strings.TrimSpace(auth[0]), " ")
	raw = strings.TrimLeft(raw, " ")
	// RFC 6750 section 2.1: b64token, so a space or a comma means two tokens.
	if raw == "" || strings.Trim(strings.TrimRight(raw, "="), b64tokenChars) != "" {
		return "", fmt.Errorf("%w: not one token of RFC 6750's characters", errBearerRequest)
	}
	return raw, nil
}

const b64tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// queryHasToken reports whether the query carries an access token (RFC 6750 section
// 2.3), which RFC 9700 says a resource server must refuse: it ends up in logs.
func queryHasToken(r *http.Request) bool {
	return r.URL.RawQuery != "" && r.URL.Query().Has("access_token")
}

// tokenView returns the view of a token (line, the Authorization header; raw, the
// token): the cache's while it holds, else the token verified and kept.
func tokenView(m *middleware, ctx context.Context, line, raw string) (*cookieView, error) {
	c := m.views
	key, check := maphash.String(c.tokenKeySeed, line), maphash.String(c.tokenCheckSeed, line)
	x, _ := c.entries.load(key)
	if v, _ := x.(*cookieView); v != nil && v.check == check {
		if m.now().Before(v.id.until) {
			if !v.signedIn {
				return nil, errInactiveToken
			}
			return v, nil
		}
		c.entries.remove(key, v)
	}
	p, err := m.provider(ctx)
	if err != nil {
		return nil, err
	}
	var id *identity
	class := bearerViews
	if strings.Count(raw, ".") == 2 || !m.cfg.bearer.introspection {
		id, err = verifyBearerToken(m, ctx, p, raw)
	} else {
		id, err = introspectToken(m, ctx, p, raw)
		if errors.Is(err, errInactiveToken) {
			// Kept a few seconds, among what any client can send: a flood of
			// invented tokens asks the provider once each and pushes out no one's.
			v := &cookieView{key: key, check: check, id: &identity{until: m.now().Add(inactiveTokenTTL)}}
			keepTokenView(c, otherViews, v)
		}
	}
	if err != nil {
		return nil, err
	}
	v := &cookieView{key: key, check: check, signedIn: true, flagOn: true, id: id, until: id.until}
	if id.refusal != "" {
		v.until = time.Time{} // the request path sends it to serveToken, where the path decides
	}
	keepTokenView(c, class, v)
	return v, nil
}

// keepTokenView stores a token's view in class.
func keepTokenView(c *viewCache, class int, v *cookieView) {
	v.bytes = viewBytes(v)
	storeEntry(c.entries, class, v.key, v, v.bytes)
}

// accessTokenTypes are the typ values of an access token: at+jwt (RFC 9068), or the
// plain JWT or none that most providers still write.
var accessTokenTypes = []string{"", "JWT", "at+jwt", "application/at+jwt"}

// verifyBearerToken checks a JWT access token (bearerTokenClaims) and makes its
// identity.
func verifyBearerToken(m *middleware, ctx context.Context, p *provider, raw string) (*identity, error) {
	claims, err := bearerTokenClaims(ctx, p.bearer, raw)
	if err != nil {
		return nil, err
	}
	exp, _ := numericDate(claims["exp"])
	return tokenIdentity(m, claims, numericDateTime(exp)), nil
}

// bearerTokenClaims checks a JWT access token with v, then that it has a sub and
// none of an ID token's marks.
func bearerTokenClaims(ctx context.Context, v *jwtVerifier, raw string) (map[string]interface{}, error) {
	t, err := v.verify(ctx, raw, hasSubject, notIDToken)
	if errors.Is(err, errTokenType) {
		return nil, fmt.Errorf("%w: %w", errNotAccessToken, err)
	}
	if err != nil {
		return nil, err
	}
	return t.claims, nil
}

// notIDToken: none of an ID token's marks (nonce, at_hash, c_hash): an ID token is
// not an access token, even where its aud (the client ID) is one of bearerAudiences.
func notIDToken(v *jwtVerifier, t *verifiedJWT) error {
	for _, mark := range []string{"nonce", "at_hash", "c_hash"} {
		if _, present := t.claims[mark]; present {
			return fmt.Errorf("%w: it has %s, as an ID token has", errNotAccessToken, mark)
		}
	}
	return nil
}

// tokenIdentity is the identity of a token's claims (until, when it expires): a
// session's headers and access rules (newIdentity reads a session), then the scope
// and the client, for a caller that is a service rather than a person.
func tokenIdentity(m *middleware, claims map[string]interface{}, until time.Time) *identity {
	now := m.now()
	sess := &session{IssuedAt: now, LastUse: now, Expiry: until, Claims: claims}
	id := m.newIdentity(sess)
	if scope := tokenScope(sess); scope != "" {
		id.headers = append(id.headers, headerValue{name: headerScope, value: []string{scope}})
	}
	client := claimString(sess, "client_id")
	if client == "" {
		client = claimString(sess, "azp")
	}
	if client != "" {
		id.headers = append(id.headers, headerValue{name: headerClientID, value: []string{client}})
	}
	id.bytes = identityBytes(id)
	return id
}

// tokenScope is a token's scope, space separated: scope (RFC 9068), else scp as a
// list (Okta, Azure AD).
func tokenScope(sess *session) string {
	if scope := claimString(sess, "scope"); scope != "" {
		return scope
	}
	list, _ := sess.Claims["scp"].([]interface{})
	parts := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok && s != "" && !strings.ContainsAny(s, " "+lineBreaks) {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return claimString(sess, "scp")
	}
	return strings.Join(parts, " ")
}

// tokenClient is the client a token identity names, for log lines.
func tokenClient(id *identity) string {
	for _, h := range id.headers {
		if h.name == headerClientID {
			return h.value[0]
		}
	}
	return ""
}

// passToken sends a token's request to the app with id's headers (nil: none), and
// without ags's cookies: the token wins over any session the request carries.
func passToken(m *middleware, w http.ResponseWriter, r *http.Request, id *identity) {
	h := r.Header
	if id != nil {
		for _, hv := range id.headers {
			h[hv.name] = hv.value
		}
	}
	if cookies := h["Cookie"]; cookies != nil {
		if app, own := m.appCookies(strings.Join(cookies, "; ")); own {
			if app == nil {
				delete(h, "Cookie")
			} else {
				h["Cookie"] = app
			}
		}
	}
	m.next.ServeHTTP(w, r)
}

// refuseToken answers a bearer request that fails (RFC 6750 section 3): the error
// code in WWW-Authenticate and in the body, never the token or its claims, and
// one log line with the reason.
func refuseToken(m *middleware, w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	m.log.write("WARN", logEvent{event: "bearer-refused", reason: err.Error()},
		"bearer token refused (%s) on %s %s: %v", code, r.Method, r.URL.Path, err)
	description := "the access token is missing, malformed, expired, revoked or not for this resource"
	switch status {
	case http.StatusForbidden:
		description = "the token's caller may not use this resource"
	case http.StatusServiceUnavailable:
		description = "the identity provider cannot be reached; try again in a moment"
		w.Header().Set("Retry-After", "5")
	}
	if status != http.StatusServiceUnavailable {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ags", error="`+code+`"`)
	}
	apiAnswer(w, r, status, code, description)
}
