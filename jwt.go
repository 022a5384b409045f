package ags

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Every kind of JWT ags reads (ID tokens, JWT access tokens at sign-in and from API
// clients, logout tokens, One Login's core identity) is checked by a jwtVerifier
// holding the key source, algorithms and claim rules of its kind (SPEC 17, STYLE 14):
// the common steps in one order, then the kind's own checks, small functions beside
// the kind (nonceIs, accessTokenHashOf, logoutTokenRules, coreIdentityOf, ...).

// errTokenType: the token's typ is not one its kind accepts.
var errTokenType = errors.New("wrong token type")

// keySource gives the public key to check a token with: a *keySet (a provider's JWK
// Set, One Login's DID document).
type keySource interface {
	keyFor(ctx context.Context, kid, alg string) (interface{}, error)
}

// timeRule says whether a time claim must be in a kind's tokens. The zero value is
// the strict one.
type timeRule int

const (
	claimRequired    timeRule = iota // missing fails
	claimWhenPresent                 // checked when present
	claimIgnored                     // never read
)

// timeRules are a kind's rules for exp and iat; nbf is checked when present. The
// zero value requires both.
type timeRules struct {
	exp, iat timeRule
	maxAge   time.Duration // iat at most this old (with the skew); 0: no bound
}

// jwtVerifier checks one kind of JWT.
type jwtVerifier struct {
	algorithms []string  // the algorithms allowed; empty: every token fails
	keys       keySource // the public keys; nil: none (only HMAC can pass)
	hmacSecret string    // the key of HS256/384/512: the client secret, never a key from keys
	types      []string  // the typ values accepted, compared case-insensitively ("" for none); nil: any
	issuer     string
	template   *issuerTemplate // discovery announced {tenantid}: iss is checked by it; nil: iss is issuer
	audiences  []string        // aud must hold one; nil: aud is not checked
	times      timeRules
	clockSkew  time.Duration // tolerance for exp, iat and nbf
	now        func() time.Time
}

// verifiedJWT is a token that passed its verifier's common steps.
type verifiedJWT struct {
	alg    string
	claims map[string]interface{} // every claim of the payload, decoded by decodeClaims
}

// jwtCheck is one claim rule of a kind, run after the common steps.
type jwtCheck func(v *jwtVerifier, t *verifiedJWT) error

// verify checks a compact JWS in one order: parse (parseJWS), typ, the algorithm
// (allowed, and with a key of its kind, before any key is fetched), the key and the
// signature, then iss, aud, exp, iat and nbf, then checks in their order. Errors name
// the failed step and may give claim values, but never the token, a signature or a
// secret; a key set that cannot be had is errKeySetUnavailable.
func (v *jwtVerifier) verify(ctx context.Context, raw string, checks ...jwtCheck) (*verifiedJWT, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, err
	}
	return v.verifyParsed(ctx, t, checks...)
}

// verifyParsed is verify after parseJWS, for a kind whose malformed tokens are a case
// of their own.
func (v *jwtVerifier) verifyParsed(ctx context.Context, t *jws, checks ...jwtCheck) (*verifiedJWT, error) {
	if v.types != nil && !typeAccepted(v.types, t.header.Typ) {
		return nil, fmt.Errorf("%w: typ %q", errTokenType, jwsTruncate(t.header.Typ))
	}
	if err := v.verifySignature(ctx, t); err != nil {
		return nil, err
	}
	claims, err := decodeClaims(t.payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", errMalformedToken)
	}
	tok := &verifiedJWT{alg: t.header.Alg, claims: claims}
	if err := v.checkIssuer(claims); err != nil {
		return nil, err
	}
	if v.audiences != nil && !audienceHoldsOne(claims["aud"], v.audiences) {
		return nil, fmt.Errorf("%w: aud holds none of %q", errAudience, v.audiences)
	}
	if err := checkTokenTimes(claims, v.now(), v.clockSkew, v.times); err != nil {
		return nil, err
	}
	for _, check := range checks {
		if err := check(v, tok); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// typeAccepted reports whether typ is one of types, ignoring case (RFC 7515 section
// 4.1.9 leaves typ's case to the application; RFC 8725 section 3.11 reads it so).
func typeAccepted(types []string, typ string) bool {
	for _, t := range types {
		if strings.EqualFold(t, typ) {
			return true
		}
	}
	return false
}

// verifySignature checks the token's alg against the allowed list and its signature
// with the key it calls for: the HMAC secret for HS*, else a key from keys.
func (v *jwtVerifier) verifySignature(ctx context.Context, t *jws) error {
	alg := t.header.Alg
	if len(v.algorithms) == 0 {
		return fmt.Errorf("%w: no algorithm is allowed", errAlgorithmNotAllowed)
	}
	if !listContains(v.algorithms, alg) || !supportedAlgorithm(alg) {
		return fmt.Errorf("%w: %q, want %s", errAlgorithmNotAllowed, jwsTruncate(alg), strings.Join(v.algorithms, " or "))
	}
	if isHMACAlgorithm(alg) {
		if v.hmacSecret == "" {
			return fmt.Errorf("%w: %s without a client secret", errAlgorithmNotAllowed, alg)
		}
		return verifyJWSMAC(alg, v.hmacSecret, t.signed, t.signature)
	}
	if v.keys == nil {
		return fmt.Errorf("%w: no key set", errKeySet)
	}
	key, err := v.keys.keyFor(ctx, t.header.Kid, alg)
	if err != nil {
		return err
	}
	return verifyJWSSignature(alg, key, t.signed, t.signature)
}

// checkIssuer: iss must equal the issuer, or with an issuer template
// (allowedTenants), the template with the token's own allowed tid.
func (v *jwtVerifier) checkIssuer(c map[string]interface{}) error {
	if v.template != nil {
		return v.template.check(c)
	}
	iss, _ := c["iss"].(string)
	if iss != v.issuer {
		return fmt.Errorf("%w: iss %q, want %q", errIssuer, jwsTruncate(iss), v.issuer)
	}
	return nil
}

// checkTokenTimes checks a token's exp, iat and nbf as its kind's rules say, each
// with skew of leeway: exp not past, iat not in the future (nor older than maxAge),
// nbf, when present, not in the future.
func checkTokenTimes(c map[string]interface{}, now time.Time, skew time.Duration, rules timeRules) error {
	if skew < 0 {
		skew = 0
	}
	if raw, present := c["exp"]; rules.exp == claimRequired || (present && rules.exp == claimWhenPresent) {
		exp, ok := numericDate(raw)
		if !ok {
			return fmt.Errorf("%w: exp missing or not a number", errExpired)
		}
		if !numericDateBefore(now.Add(-skew), exp) {
			return fmt.Errorf("%w: exp %s, now %s", errExpired, formatNumericDate(exp), now.UTC().Format(time.RFC3339))
		}
	}
	if raw, present := c["iat"]; rules.iat == claimRequired || (present && rules.iat == claimWhenPresent) {
		iat, ok := numericDate(raw)
		if !ok {
			return fmt.Errorf("%w: iat missing or not a number", errIssuedAt)
		}
		if numericDateBefore(now.Add(skew), iat) {
			return fmt.Errorf("%w: iat %s is in the future, now %s", errIssuedAt, formatNumericDate(iat), now.UTC().Format(time.RFC3339))
		}
		if rules.maxAge > 0 && !numericDateBefore(now.Add(-skew-rules.maxAge), iat) {
			return fmt.Errorf("%w: iat %s is older than %s, now %s", errIssuedAt, formatNumericDate(iat), rules.maxAge, now.UTC().Format(time.RFC3339))
		}
	}
	if raw, present := c["nbf"]; present {
		nbf, ok := numericDate(raw)
		if !ok {
			return fmt.Errorf("%w: nbf not a number", errNotYetValid)
		}
		if numericDateBefore(now.Add(skew), nbf) {
			return fmt.Errorf("%w: nbf %s, now %s", errNotYetValid, formatNumericDate(nbf), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// audienceHolds reports whether aud (a string or an array of strings) holds want.
func audienceHolds(aud interface{}, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []interface{}:
		for _, e := range a {
			if e == want {
				return true
			}
		}
	}
	return false
}

// audienceHoldsOne reports whether aud (a string or an array of strings) holds one
// of wanted.
func audienceHoldsOne(aud interface{}, wanted []string) bool {
	for _, w := range wanted {
		if audienceHolds(aud, w) {
			return true
		}
	}
	return false
}

// hasSubject: sub is a string, not empty.
func hasSubject(v *jwtVerifier, t *verifiedJWT) error {
	if stringClaim(t.claims, "sub") == "" {
		return fmt.Errorf("%w: sub missing or not a string", errSubject)
	}
	return nil
}

// subjectIs: sub is the ID token's sub.
func subjectIs(sub string) jwtCheck {
	return func(v *jwtVerifier, t *verifiedJWT) error {
		if !sameString(t.claims["sub"], sub) {
			return fmt.Errorf("%w: sub is not the ID token's", errSubject)
		}
		return nil
	}
}

// stringClaim is claim name of c when it is a string; "" otherwise. (A function:
// under Yaegi, a comma-ok assertion in a loop can keep an earlier value.)
func stringClaim(c map[string]interface{}, name string) string {
	s, _ := c[name].(string)
	return s
}

// sameString reports whether v is the string s.
func sameString(v interface{}, s string) bool {
	got, ok := v.(string)
	return ok && got == s
}
