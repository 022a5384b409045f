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

// verifyAccessToken checks a JWT access token with the ID token's key set,
// algorithms and issuer rule (a template's tid too), exp, iat and nbf when present;
// any aud, since Keycloak's is account rather than the client; its sub, when
// present, must be the ID token's, so that no other principal's claims are read. An
// opaque token is errOpaqueAccessToken: only the sign-in shows what a provider
// issues.
func (v *idTokenVerifier) verifyAccessToken(ctx context.Context, raw, sub string) (map[string]interface{}, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, errOpaqueAccessToken
	}
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOpaqueAccessToken, err)
	}
	if err := v.verifySignature(ctx, t); err != nil {
		return nil, fmt.Errorf("%w: %w", errAccessToken, err)
	}
	claims, err := decodeClaims(t.payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: payload is not a JSON object", errAccessToken, errMalformedToken)
	}
	if err := v.checkIssuer(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", errAccessToken, err)
	}
	if err := checkTokenTimes(claims, v.now(), v.clockSkew, false); err != nil {
		return nil, fmt.Errorf("%w: %w", errAccessToken, err)
	}
	if got, present := claims["sub"]; present && !sameString(got, sub) {
		return nil, fmt.Errorf("%w: %w: its sub is not the id token's", errAccessToken, errSubject)
	}
	return claims, nil
}

// accessClaimsAtSignIn is the claims a new session keeps of its access token: nil
// with accessTokenClaims off; the verified claims that kept names otherwise.
func (m *middleware) accessClaimsAtSignIn(ctx context.Context, p *provider, accessToken, sub string, kept map[string]bool) (map[string]interface{}, error) {
	if !m.cfg.accessTokenClaims {
		return nil, nil
	}
	claims, err := p.verifier.verifyAccessToken(ctx, accessToken, sub)
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

// sameString reports whether v is the string s.
func sameString(v interface{}, s string) bool {
	got, ok := v.(string)
	return ok && got == s
}
