package ags

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBodySize bounds every response read from the provider.
const maxBodySize = 1 << 20

// Discovery back-off: the first retry after a failure waits minBackoff, each further
// failure doubles the wait, up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 10 * time.Second
)

var (
	errProviderUnavailable = errors.New("identity provider unavailable")
	errDiscovery           = errors.New("discovery document rejected")
	errUserinfo            = errors.New("userinfo failed")
	errUserinfoSubject     = errors.New("userinfo sub differs from the id token's sub")
	errRefresh             = errors.New("token refresh failed")
)

// providerError is an OAuth 2.0 error response (RFC 6749 section 5.2) from the token
// endpoint, or an error sent back to the callback (section 4.1.2.1).
type providerError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *providerError) Error() string {
	if e.Description == "" {
		return "provider answered " + e.Code
	}
	return "provider answered " + e.Code + ": " + e.Description
}

// asProviderError finds a *providerError among the errors err wraps, through
// fmt.Errorf's "%w: %w" too (the class, then the cause). Under Yaegi v0.16.1,
// errors.As cannot take a pointer to an interpreted type, and a compiled error does
// not satisfy an interpreted interface{ Unwrap() []error }: reflection finds the
// method instead (on the error path only).
func asProviderError(err error) *providerError {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*providerError); ok {
		return pe
	}
	if errs, ok := unwrapAll(err); ok {
		for _, e := range errs {
			if pe := asProviderError(e); pe != nil {
				return pe
			}
		}
		return nil
	}
	return asProviderError(errors.Unwrap(err))
}

// unwrapAll returns the errors a "%w: %w" error wraps.
func unwrapAll(err error) ([]error, bool) {
	method := reflect.ValueOf(err).MethodByName("Unwrap")
	if !method.IsValid() || method.Type().NumIn() != 0 || method.Type().NumOut() != 1 {
		return nil, false
	}
	errs, ok := method.Call(nil)[0].Interface().([]error)
	return errs, ok
}

// provider is what discovery learnt about the identity provider.
type provider struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"` // RFC 7662: bearerIntrospection
	AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgorithms     []string `json:"id_token_signing_alg_values_supported"`
	AuthSigningAlgorithms []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	// IssParameter: the callback carries iss (RFC 9207), which must then be there.
	IssParameter bool `json:"authorization_response_iss_parameter_supported"`
	// RequestParameter: request objects are accepted (RFC 9101); needed by requestObject.
	RequestParameter bool `json:"request_parameter_supported"`

	authMethod string          // the client authentication in effect: see clientAuth.choose
	authAlg    string          // the client assertion's alg, with client_secret_jwt or private_key_jwt
	template   *issuerTemplate // the issuer announced with {tenantid}; nil: none
	keys       *keySet         // jwks_uri's keys
	didKeys    *keySet         // the core identity's keys; nil when not asked for

	// The verifiers of the kinds of JWT ags reads (jwt.go).
	idTokens       *jwtVerifier
	accessTokens   *jwtVerifier // accessTokenClaims (accesstoken.go)
	logoutTokens   *jwtVerifier // back-channel logout (logout.go)
	bearer         *jwtVerifier // API clients (bearer.go); nil: bearerTokens off
	coreIdentities *jwtVerifier // One Login's identity (coreidentity.go); nil when not asked for
}

// discovery loads the provider's metadata on first use, one fetch at a time, and
// after a failure retries no sooner than the back-off allows. A document older than
// its maximum age (Cache-Control max-age, within minDocumentAge and maxDocumentAge)
// is fetched again in the background of the request that finds it so, never on a
// request's critical path; until then, and when that fetch fails, the one known is
// used.
type discovery struct {
	mu         sync.Mutex
	p          *provider
	staleAt    time.Time // when p is due to be fetched again
	refreshing bool      // a background fetch is running
	inflight   chan struct{}
	failures   int
	retryAt    time.Time
	lastErr    error
}

// provider returns the discovered provider, fetching it when due.
func (m *middleware) provider(ctx context.Context) (*provider, error) {
	d := m.discovery
	for {
		d.mu.Lock()
		if d.p != nil {
			p := d.p
			now := m.now()
			if !d.refreshing && !now.Before(d.staleAt) && !now.Before(d.retryAt) {
				d.refreshing = true
				go m.refreshDiscovery(p)
			}
			d.mu.Unlock()
			return p, nil
		}
		if d.inflight != nil {
			wait := d.inflight
			d.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %v", errProviderUnavailable, ctx.Err())
			}
			// Not in the case: Yaegi v0.16.1 runs a continue inside a select's case
			// without going back to the loop's head, so the Unlock above ran again on
			// an unlocked mutex, a fatal error that killed Traefik when requests
			// waited for the first discovery (TestDiscoveryWaiters).
			continue
		}
		if m.now().Before(d.retryAt) {
			err := d.lastErr
			d.mu.Unlock()
			return nil, err
		}
		done := make(chan struct{})
		d.inflight = done
		d.mu.Unlock()

		// Shared with every request that waits for it: the first requester going
		// away must not fail it, nor start a back-off for everybody. The client's
		// timeout still bounds it.
		began := time.Now()
		p, maxAge, err := m.discover(context.WithoutCancel(ctx), nil)
		took := time.Since(began)

		d.mu.Lock()
		d.inflight = nil
		if err != nil {
			backoff := d.backOff(m.now())
			d.lastErr = fmt.Errorf("%w: %w", errProviderUnavailable, err)
			m.log.write("WARN", logEvent{event: "discovery", reason: err.Error(), duration: took}, "discovery failed, next try in %s: %v", backoff, err)
		} else {
			d.p = p
			d.staleAt = m.now().Add(maxAge)
			d.failures = 0
			m.log.write("INFO", logEvent{event: "discovery", duration: took}, "discovered provider %s", p.Issuer)
		}
		result := d.lastErr
		d.mu.Unlock()
		close(done)
		if err != nil {
			return nil, result
		}
		return p, nil
	}
}

// backOff counts a failed fetch and sets when the next may start: minBackoff after
// the first failure, doubling up to maxBackoff. Called with d.mu held.
func (d *discovery) backOff(now time.Time) time.Duration {
	backoff := minBackoff << uint(d.failures)
	if backoff > maxBackoff || backoff <= 0 {
		backoff = maxBackoff
	}
	d.failures++
	d.retryAt = now.Add(backoff)
	return backoff
}

// refreshDiscovery fetches the discovery document again, in the background, and
// replaces the one in use when the new one passes every check; otherwise the old
// one stays, and the next try waits for the back-off.
func (m *middleware) refreshDiscovery(old *provider) {
	p, maxAge, err := m.discover(context.Background(), old)
	d := m.discovery
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshing = false
	if err != nil {
		d.backOff(m.now())
		m.log.write("WARN", logEvent{event: "discovery", reason: err.Error()}, "discovery document could not be renewed, the one known stays in use: %v", err)
		return
	}
	d.p = p
	d.staleAt = m.now().Add(maxAge)
	d.failures = 0
}

// discover fetches and checks the discovery document, and says how long it may be
// used. A document renewed from old keeps old's key set when jwks_uri is the same.
func (m *middleware) discover(ctx context.Context, old *provider) (*provider, time.Duration, error) {
	docURL := strings.TrimSuffix(m.cfg.issuer, "/") + "/.well-known/openid-configuration"
	body, maxAge, err := m.getDocument(ctx, docURL)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch discovery document: %w", err)
	}
	p, err := parseDiscovery(body, m.cfg.issuer, m.cfg.tenants)
	if err != nil {
		return nil, 0, err
	}
	if m.cfg.jwksURL != "" {
		p.JWKSURI = m.cfg.jwksURL
	}
	if p.authMethod, p.authAlg, err = m.cfg.clientAuth.choose(p.AuthMethods, p.AuthSigningAlgorithms); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errDiscovery, err)
	}
	if m.cfg.requestObject && !p.RequestParameter {
		return nil, 0, fmt.Errorf("%w: %w: requestObject is on and the discovery document does not announce request_parameter_supported", errDiscovery, errRequestObject)
	}
	algs, err := allowedAlgorithms(p.SigningAlgorithms, m.cfg.allowedAlgorithms, m.cfg.clientSecret != "")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errDiscovery, err)
	}
	p.keys = newKeySet(p.JWKSURI, m.client, m.clock)
	if old != nil && old.JWKSURI == p.JWKSURI {
		p.keys = old.keys
	}
	if ci := m.cfg.coreIdentity; ci != nil {
		p.didKeys = newDIDKeySet(ci.didURL, m.client, m.clock)
		if old != nil && old.didKeys != nil {
			p.didKeys = old.didKeys
		}
		p.coreIdentities = coreIdentityVerifier(m, p.didKeys)
	}
	p.idTokens = idTokenVerifier(m, p, algs, p.keys)
	p.accessTokens = accessTokenVerifier(p.idTokens)
	p.logoutTokens = logoutTokenVerifier(p.idTokens)
	if p.bearer, err = bearerVerifier(m, p); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errDiscovery, err)
	}
	return p, maxAge, nil
}

// Bounds on how long a provider's document (discovery, key set) is used before it
// is fetched again: its Cache-Control max-age within these, defaultDocumentAge
// without one. A key the provider withdraws is trusted at most that long.
const (
	minDocumentAge     = 5 * time.Minute
	maxDocumentAge     = 24 * time.Hour
	defaultDocumentAge = time.Hour
)

// documentAge reads how long a document may be used from its Cache-Control.
func documentAge(h http.Header) time.Duration {
	age := defaultDocumentAge
	for _, directive := range strings.Split(strings.ToLower(h.Get("Cache-Control")), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch name {
		case "no-store", "no-cache":
			return minDocumentAge
		case "max-age":
			secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err == nil && secs >= 0 {
				age = time.Duration(secs) * time.Second
				if secs > int64(maxDocumentAge/time.Second) {
					age = maxDocumentAge
				}
			}
		}
	}
	if age < minDocumentAge {
		return minDocumentAge
	}
	return age
}

// version is ags's version, in the User-Agent of every call to the provider.
const version = "0.4.0"

// userAgent names ags to the provider, as GOV.UK One Login asks of its relying
// parties ("Setting a User-Agent header").
const userAgent = "ags/" + version + " (+https://github.com/ags-client/ags)"

// providerRequest is a request to the provider: every call ags makes goes through it,
// with ags's User-Agent and Accept: application/json.
func providerRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// getDocument fetches a provider's JSON document and how long it may be used.
func (m *middleware) getDocument(ctx context.Context, target string) ([]byte, time.Duration, error) {
	req, err := providerRequest(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, err
	}
	body, header, err := m.doWithHeader(req)
	if err != nil {
		return nil, 0, err
	}
	return body, documentAge(header), nil
}

// parseDiscovery decodes a discovery document and checks what ags relies on. Its
// issuer must equal the configured one, or be a template that fits it when tenants
// (allowedTenants, allowAnyTenant) are set.
func parseDiscovery(body []byte, issuer string, tenants *tenantRules) (*provider, error) {
	var p provider
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", errDiscovery, err)
	}
	if p.Issuer != issuer {
		t, err := newIssuerTemplate(p.Issuer, issuer, tenants)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("%w: issuer is %q, configured issuer is %q", errDiscovery, p.Issuer, issuer)
		}
		p.template = t
	}
	endpoints := [][2]string{
		{"authorization_endpoint", p.AuthorizationEndpoint},
		{"token_endpoint", p.TokenEndpoint},
		{"jwks_uri", p.JWKSURI},
		{"userinfo_endpoint", p.UserinfoEndpoint},
		{"end_session_endpoint", p.EndSessionEndpoint},
		{"introspection_endpoint", p.IntrospectionEndpoint},
	}
	for i, e := range endpoints {
		if e[1] == "" && i >= 3 {
			continue // optional
		}
		u, err := url.Parse(e[1])
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("%w: %s must be an absolute URL, got %q", errDiscovery, e[0], e[1])
		}
		// RFC 6749 section 3.1: an endpoint has no fragment, which would swallow
		// the parameters ags adds.
		if u.Fragment != "" || strings.Contains(e[1], "#") {
			return nil, fmt.Errorf("%w: %s must not have a fragment, got %q", errDiscovery, e[0], e[1])
		}
	}
	return &p, nil
}

// get fetches url with an optional bearer token and returns the body of a 200 answer.
func (m *middleware) get(ctx context.Context, target, bearer string) ([]byte, error) {
	req, err := providerRequest(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return m.do(req)
}

// do sends a request to the provider and reads a 200 answer's body, with a limit.
// A non-200 answer carrying an OAuth error becomes a *providerError.
func (m *middleware) do(req *http.Request) ([]byte, error) {
	body, _, err := m.doWithHeader(req)
	return body, err
}

// doWithHeader is do, also returning the answer's header.
func (m *middleware) doWithHeader(req *http.Request) ([]byte, http.Header, error) {
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxBodySize {
		return nil, nil, fmt.Errorf("response larger than %d bytes", maxBodySize)
	}
	if resp.StatusCode != http.StatusOK {
		var pe providerError
		if json.Unmarshal(body, &pe) == nil && pe.Code != "" {
			return nil, nil, &pe
		}
		return nil, nil, fmt.Errorf("status %d from %s", resp.StatusCode, req.URL.Host)
	}
	return body, resp.Header, nil
}

// tokenResponse is a successful answer of the token endpoint.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	IDToken      string      `json:"id_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    json.Number `json:"expires_in"`
}

// tokenRequest posts a grant to the token endpoint with the client's credentials.
func (m *middleware) tokenRequest(ctx context.Context, p *provider, form url.Values) (*tokenResponse, error) {
	req, err := m.newTokenRequest(ctx, p, form)
	if err != nil {
		return nil, err
	}
	body, err := m.do(req)
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("token response is not JSON: %v", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("token response has no access_token")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("token_type is %q, not Bearer", tr.TokenType)
	}
	return &tr, nil
}

// accessExpiry turns expires_in into a time; zero when the provider gave none.
func (m *middleware) accessExpiry(tr *tokenResponse) time.Time {
	secs, err := tr.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return m.now().Add(time.Duration(secs) * time.Second)
}

// userinfo calls the userinfo endpoint; its sub must be the ID token's.
func (m *middleware) userinfo(ctx context.Context, p *provider, accessToken, sub string) (map[string]interface{}, error) {
	if p.UserinfoEndpoint == "" {
		return nil, nil
	}
	body, err := m.get(ctx, p.UserinfoEndpoint, accessToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUserinfo, err)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object (signed userinfo is not supported)", errUserinfo)
	}
	if got, _ := claims["sub"].(string); got != sub {
		return nil, fmt.Errorf("%w: got %q, want %q", errUserinfoSubject, got, sub)
	}
	return claims, nil
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// pkceChallenge is the S256 code challenge of a verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// withQuery adds params to an endpoint URL, keeping the query it already has.
// Discovery accepted the endpoint as an absolute URL without a fragment.
func withQuery(endpoint string, params url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// requestURL is the absolute URL of path on the host the request came to.
func requestURL(r *http.Request, path string) string {
	return requestScheme(r) + "://" + r.Host + path
}

// requestScheme is the one answer to "did this request come over https?": what
// X-Forwarded-Proto says when it is there (Traefik sets it from the entry point;
// behind several proxies it is a list, and the first is the client's), else whether
// it came over TLS. Cookies' Secure attribute and the absolute URLs ags sends to
// the provider both follow it.
func requestScheme(r *http.Request) string {
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		first, _, _ := strings.Cut(proto, ",")
		if strings.EqualFold(strings.TrimSpace(first), "https") {
			return "https"
		}
		return "http"
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
