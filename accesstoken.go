package ags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// accessTokenClaims: Keycloak 19 and later put realm_access.roles in the access token
// only, and Entra ID its app roles in tokens for the app's own API. With the option
// on, a JWT access token is verified as the ID token is and its claims are read after
// the ID token's and userinfo's (claimValue).

var errAccessToken = errors.New("access token rejected")

// accessTokenVerifier is the verifier of access tokens at sign-in: the ID token's
// key set, algorithms and issuer rule (a template's tid too); exp, and iat and nbf
// when present; any aud, since Keycloak's is account rather than the client.
func accessTokenVerifier(idTokens *jwtVerifier) *jwtVerifier {
	v := *idTokens
	v.audiences = nil
	v.times = timeRules{iat: claimWhenPresent}
	return &v
}

// verifyAccessToken checks a JWT access token with v; its sub, when present, must be
// the ID token's, so that no other principal's claims are read. An opaque token is
// errOpaqueAccessToken: only the sign-in shows what a provider issues.
func verifyAccessToken(ctx context.Context, v *jwtVerifier, raw, sub string) (map[string]interface{}, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, errOpaqueAccessToken
	}
	parsed, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOpaqueAccessToken, err)
	}
	t, err := v.verifyParsed(ctx, parsed, subjectWhenPresent(sub))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errAccessToken, err)
	}
	return t.claims, nil
}

// subjectWhenPresent: sub, when present, is the ID token's sub.
func subjectWhenPresent(sub string) jwtCheck {
	is := subjectIs(sub)
	return func(v *jwtVerifier, t *verifiedJWT) error {
		if _, present := t.claims["sub"]; !present {
			return nil
		}
		return is(v, t)
	}
}

// accessClaimsAtSignIn is the claims a new session keeps of its access token: nil
// with accessTokenClaims off; the verified claims that kept names otherwise.
func (m *middleware) accessClaimsAtSignIn(ctx context.Context, p *provider, accessToken, sub string, kept map[string]bool) (map[string]interface{}, error) {
	if !m.cfg.accessTokenClaims {
		return nil, nil
	}
	claims, err := verifyAccessToken(ctx, p.accessTokens, accessToken, sub)
	if err != nil {
		return nil, err
	}
	minimiseUserInfo(claims, kept)
	return claims, nil
}

// accessTokenPage answers a sign-in whose access token failed: 503 when the key set
// cannot be fetched (the provider is down), a page naming accessTokenClaims for an
// opaque token, else 401.
func (m *middleware) accessTokenPage(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errKeySetUnavailable):
		m.page(w, r, http.StatusServiceUnavailable, pageUnavailable, err)
	case errors.Is(err, errOpaqueAccessToken):
		m.page(w, r, http.StatusUnauthorized, pageOpaqueToken, fmt.Errorf("%w: turn accessTokenClaims off, or have the provider issue JWT access tokens", err))
	default:
		m.page(w, r, http.StatusUnauthorized, pageAccessToken, err)
	}
}
