package ags

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Discovery (OpenID Connect Discovery 1.0): what ags learns of the provider, fetched
// on first use, renewed in the background, and the verifiers of the tokens it issues.

// Discovery back-off: the first retry after a failure waits minBackoff, each further
// failure doubles the wait, up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 10 * time.Second
)

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
	if b := m.cfg.bearer; b != nil && b.introspectionURL != "" {
		p.IntrospectionEndpoint = b.introspectionURL
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
	p.idTokens = idTokenVerifier(m, p, algs, p.keys)
	p.accessTokens = accessTokenVerifier(p.idTokens)
	p.logoutTokens = logoutTokenVerifier(p.idTokens)
	if ci := m.cfg.coreIdentity; ci != nil {
		p.didKeys = newDIDKeySet(ci.didURL, m.client, m.clock)
		if old != nil && old.didKeys != nil {
			p.didKeys = old.didKeys
		}
		p.coreIdentities = coreIdentityVerifier(p.idTokens, ci, p.didKeys)
	}
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
