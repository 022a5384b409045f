package ags

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Opaque access tokens (bearerIntrospection): the provider says whether one is
// active (RFC 7662), asked with the client's own authentication.

// How long an introspection answer is kept: an active one until the token's exp or
// activeTokenTTL, whichever is first (a revoked token stops working within it); an
// inactive one inactiveTokenTTL, so that a client retrying does not make ags ask
// again at every request.
const (
	activeTokenTTL   = time.Minute
	inactiveTokenTTL = 5 * time.Second
)

// introspectToken asks the provider about an opaque token and makes its identity.
// The provider down, slow or refusing ags's own credentials is errProviderUnavailable
// (a 503: not the token's fault); an inactive token is errInactiveToken; an active
// one must pass checkIntrospection.
func introspectToken(m *middleware, ctx context.Context, p *provider, raw string) (*identity, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := m.newClientRequest(ctx, p, p.IntrospectionEndpoint, form)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %w", errProviderUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	body, err := m.do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %w", errProviderUnavailable, err)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection answer is not a JSON object", errProviderUnavailable)
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, errInactiveToken
	}
	now := m.now()
	until, err := checkIntrospection(claims, m.cfg, now)
	if err != nil {
		return nil, err
	}
	return tokenIdentity(m, claims, until), nil
}

// checkIntrospection checks an active answer as a JWT's claims are checked, where
// RFC 7662 makes them optional: iss, when given, the issuer; aud holding one of
// bearerAudiences (required, as for a JWT: a token for another API is refused);
// exp and nbf, when given, with clockSkew. It returns how long the answer is kept.
func checkIntrospection(c map[string]interface{}, s *settings, now time.Time) (time.Time, error) {
	if iss, present := c["iss"]; present && iss != s.issuer {
		return time.Time{}, fmt.Errorf("%w: introspected iss is not the issuer", errIssuer)
	}
	if !audienceHoldsOne(c["aud"], s.bearer.audiences) {
		return time.Time{}, fmt.Errorf("%w: introspected aud holds none of bearerAudiences", errAudience)
	}
	until := now.Add(activeTokenTTL)
	if _, present := c["exp"]; present {
		if err := checkTokenTimes(c, now, s.clockSkew, timeRules{iat: claimWhenPresent}); err != nil {
			return time.Time{}, err
		}
		exp, _ := numericDate(c["exp"])
		if t := numericDateTime(exp); t.Before(until) {
			until = t
		}
	}
	return until, nil
}
