package ags

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Errors of the claim checks, one per check (OpenID Connect Core section 3.1.3.7).
var (
	errIssuer          = errors.New("wrong issuer")
	errAudience        = errors.New("wrong audience")
	errAuthorizedParty = errors.New("wrong authorized party")
	errExpired         = errors.New("token expired")
	errIssuedAt        = errors.New("bad issued-at time")
	errNotYetValid     = errors.New("token not yet valid")
	errSubject         = errors.New("subject rejected")
	errNonce           = errors.New("nonce mismatch")
	errAccessTokenHash = errors.New("access token hash mismatch")
)

// allowedAlgorithms returns the algorithms an ID token may be signed with: the provider's
// id_token_signing_alg_values_supported (RS256 when it lists none, as OpenID Connect
// Discovery says), cut down to those ags verifies (HS256/384/512 only when hmacAllowed,
// that is with a client secret), then narrowed to configured when that is not empty. An
// unknown name in configured, or an empty result, is an error.
func allowedAlgorithms(provider, configured []string, hmacAllowed bool) ([]string, error) {
	for _, name := range configured {
		if !supportedAlgorithm(name) {
			return nil, fmt.Errorf("unknown signing algorithm %q", name)
		}
	}
	if len(provider) == 0 {
		provider = []string{"RS256"}
	}
	var allowed []string
	for _, name := range provider {
		if !supportedAlgorithm(name) || listContains(allowed, name) {
			continue
		}
		if isHMACAlgorithm(name) && !hmacAllowed {
			continue
		}
		if len(configured) > 0 && !listContains(configured, name) {
			continue
		}
		allowed = append(allowed, name)
	}
	if len(allowed) == 0 {
		return nil, fmt.Errorf("%w: none of %q is usable (allowed: %q)", errAlgorithmNotAllowed, provider, configured)
	}
	return allowed, nil
}

// idTokenVerifier is the verifier of the provider's ID tokens (OpenID Connect Core
// section 3.1.3.7): its key set, the algorithms allowedAlgorithms gives (HMAC with
// the client secret), the issuer or its template, the client ID as audience, exp and
// iat required.
func idTokenVerifier(m *middleware, p *provider, algs []string, keys keySource) *jwtVerifier {
	return &jwtVerifier{
		algorithms: algs,
		keys:       keys,
		hmacSecret: m.cfg.clientSecret,
		issuer:     m.cfg.issuer,
		template:   p.template,
		audiences:  []string{m.cfg.clientID},
		clockSkew:  m.cfg.clockSkew,
		now:        m.clock,
	}
}

// idToken is a verified ID token.
type idToken struct {
	Raw     string
	Subject string
	Claims  map[string]interface{} // every claim of the payload, decoded with encoding/json
}

// verifyIDToken checks an ID token with v, then azp, sub, the nonce and at_hash.
// nonce is the one sent with the authentication request; the token's must equal it.
// Pass "" only for an ID token that comes from a refresh, where none was sent: then a
// token without a nonce passes and one with a nonce fails with errNonce (a refresh
// may repeat the original nonce: check it again with that one). accessToken is ""
// when there is none; at_hash is checked when the token has one, and then an access
// token is needed.
func verifyIDToken(ctx context.Context, v *jwtVerifier, raw, nonce, accessToken string) (*idToken, error) {
	t, err := v.verify(ctx, raw, authorizedParty, hasSubject, nonceIs(nonce), accessTokenHashOf(accessToken))
	if err != nil {
		return nil, err
	}
	return &idToken{Raw: raw, Subject: stringClaim(t.claims, "sub"), Claims: t.claims}, nil
}

// authorizedParty: every member of aud is a string, and azp, when present, is the
// audience (the client ID): OpenID Connect Core 3.1.3.7, items 3 to 5.
func authorizedParty(v *jwtVerifier, t *verifiedJWT) error {
	if aud, ok := t.claims["aud"].([]interface{}); ok {
		for _, a := range aud {
			if _, ok := a.(string); !ok {
				return fmt.Errorf("%w: aud holds a non-string", errAudience)
			}
		}
	}
	if raw, present := t.claims["azp"]; present {
		azp, _ := raw.(string)
		if !listContains(v.audiences, azp) {
			return fmt.Errorf("%w: azp %q, want one of %q", errAuthorizedParty, jwsTruncate(azp), v.audiences)
		}
	}
	return nil
}

// nonceIs: the token's nonce is nonce; with nonce "" (a refresh, where none was
// sent), the token has none.
func nonceIs(nonce string) jwtCheck {
	return func(v *jwtVerifier, t *verifiedJWT) error {
		got, present := t.claims["nonce"]
		if nonce == "" {
			// Nothing was sent (a refresh): a nonce in the token cannot be checked here.
			if present {
				return fmt.Errorf("%w: the token has a nonce and none was sent", errNonce)
			}
			return nil
		}
		s, _ := got.(string)
		if subtle.ConstantTimeCompare([]byte(s), []byte(nonce)) != 1 {
			return errNonce
		}
		return nil
	}
}

// accessTokenHashOf: at_hash, when present, is the hash of accessToken.
func accessTokenHashOf(accessToken string) jwtCheck {
	return func(v *jwtVerifier, t *verifiedJWT) error {
		if raw, present := t.claims["at_hash"]; present {
			return checkAccessTokenHash(raw, t.alg, accessToken)
		}
		return nil
	}
}

// checkAccessTokenHash checks at_hash (OpenID Connect Core section 3.2.2.9): the left half
// of the hash of the access token's ASCII, by the hash of the token's alg, base64url.
func checkAccessTokenHash(raw interface{}, alg, accessToken string) error {
	want, ok := raw.(string)
	if !ok {
		return fmt.Errorf("%w: at_hash not a string", errAccessTokenHash)
	}
	if accessToken == "" {
		return fmt.Errorf("%w: at_hash without an access token", errAccessTokenHash)
	}
	hash, ok := jwsAlgorithmHash(alg)
	if !ok {
		return fmt.Errorf("%w: no hash for %s", errAccessTokenHash, alg)
	}
	h := hash.New()
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	got := jwsEncoding.EncodeToString(sum[:len(sum)/2])
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errAccessTokenHash
	}
	return nil
}

// decodeClaims decodes a JSON object of claims (a token's payload, userinfo, a
// session's claims) with its numbers as json.Number, the text the provider wrote:
// decoded as float64, two integers that differ past 2^53 would be one value to a
// rule and to a header, and an app keyed on it would merge two people.
func decodeClaims(data []byte) (map[string]interface{}, error) {
	var claims map[string]interface{}
	if err := decodeJSON(data, &claims); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, errors.New("not a JSON object")
	}
	return claims, nil
}

// decodeJSON is json.Unmarshal with numbers in interface{} values as json.Number,
// and nothing after the value.
func decodeJSON(data []byte, v interface{}) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// numericDate reads a NumericDate claim: a JSON number (json.Number as decodeClaims
// gives it, or float64).
func numericDate(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

// numericDateBefore reports whether t is strictly before the NumericDate d. Comparing in
// seconds as float64 keeps fractional dates exact enough and never overflows.
func numericDateBefore(t time.Time, d float64) bool {
	return float64(t.Unix())+float64(t.Nanosecond())/1e9 < d
}

// maxNumericDate is the end of year 9999: later dates are held there so that the
// conversion to time.Time cannot overflow.
const maxNumericDate = 253402300799

// numericDateTime converts a NumericDate to a time.
func numericDateTime(d float64) time.Time {
	if d > maxNumericDate {
		d = maxNumericDate
	}
	if d < -maxNumericDate {
		d = -maxNumericDate
	}
	sec, frac := math.Modf(d)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func formatNumericDate(d float64) string {
	return numericDateTime(d).Format(time.RFC3339)
}
