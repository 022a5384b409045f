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
	errSubject         = errors.New("missing subject")
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

// idTokenVerifier checks ID tokens (OpenID Connect Core section 3.1.3.7).
type idTokenVerifier struct {
	issuer       string
	template     *issuerTemplate // discovery announced {tenantid}: iss is checked by it; nil: iss is issuer
	clientID     string
	clientSecret string   // the HMAC key for HS256/384/512; never a key from the key set
	algorithms   []string // allowed algorithms, from allowedAlgorithms
	keys         *keySet
	clockSkew    time.Duration // tolerance for exp, iat and nbf
	now          func() time.Time
}

// idToken is a verified ID token.
type idToken struct {
	Raw     string
	Subject string
	Claims  map[string]interface{} // every claim of the payload, decoded with encoding/json
}

// verify checks the signature and every claim of the token. nonce is the one sent with the
// authentication request; the token's must equal it. Pass "" only for an ID token that
// comes from a refresh, where none was sent: then a token without a nonce passes and one
// with a nonce fails with errNonce (a refresh may repeat the original nonce: check it
// again with that one). accessToken is "" when there is none;
// at_hash is checked when the token has one, and then an access token is needed. Errors
// name the failed check and may give claim values, but never the token, a signature, a
// nonce or a secret.
func (v *idTokenVerifier) verify(ctx context.Context, raw, nonce, accessToken string) (*idToken, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, err
	}
	if err := v.verifySignature(ctx, t); err != nil {
		return nil, err
	}
	claims, err := decodeClaims(t.payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", errMalformedToken)
	}
	tok := &idToken{Raw: raw, Claims: claims}
	if err := v.checkClaims(tok, t.header.Alg, nonce, accessToken); err != nil {
		return nil, err
	}
	return tok, nil
}

// verifySignature checks the token's alg against the allowed list and its signature with
// the key it calls for: the client secret for HS*, else a key from the key set.
func (v *idTokenVerifier) verifySignature(ctx context.Context, t *jws) error {
	alg := t.header.Alg
	if !listContains(v.algorithms, alg) || !supportedAlgorithm(alg) {
		return fmt.Errorf("%w: %q", errAlgorithmNotAllowed, jwsTruncate(alg))
	}
	if isHMACAlgorithm(alg) {
		if v.clientSecret == "" {
			return fmt.Errorf("%w: %s without a client secret", errAlgorithmNotAllowed, alg)
		}
		return verifyJWSMAC(alg, v.clientSecret, t.signed, t.signature)
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

// checkClaims runs the claim checks in the order of OpenID Connect Core 3.1.3.7 and fills
// tok's Subject.
func (v *idTokenVerifier) checkClaims(tok *idToken, alg, nonce, accessToken string) error {
	c := tok.Claims
	if err := v.checkIssuer(c); err != nil {
		return err
	}
	if err := v.checkAudience(c); err != nil {
		return err
	}
	if err := checkTokenTimes(c, v.now(), v.clockSkew, true); err != nil {
		return err
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return fmt.Errorf("%w: sub missing or not a string", errSubject)
	}
	tok.Subject = sub
	got, present := c["nonce"]
	if nonce == "" {
		// Nothing was sent (a refresh): a nonce in the token cannot be checked here.
		if present {
			return fmt.Errorf("%w: the token has a nonce and none was sent", errNonce)
		}
	} else {
		s, _ := got.(string)
		if subtle.ConstantTimeCompare([]byte(s), []byte(nonce)) != 1 {
			return errNonce
		}
	}
	if raw, present := c["at_hash"]; present {
		if err := checkAccessTokenHash(raw, alg, accessToken); err != nil {
			return err
		}
	}
	return nil
}

// checkTokenTimes checks a token's exp (required), iat (required when iatRequired;
// never in the future) and nbf (when present), each with skew of leeway: the time
// rules of every kind of JWT ags reads.
func checkTokenTimes(c map[string]interface{}, now time.Time, skew time.Duration, iatRequired bool) error {
	if skew < 0 {
		skew = 0
	}
	exp, ok := numericDate(c["exp"])
	if !ok {
		return fmt.Errorf("%w: exp missing or not a number", errExpired)
	}
	if !numericDateBefore(now.Add(-skew), exp) {
		return fmt.Errorf("%w: exp %s, now %s", errExpired, formatNumericDate(exp), now.UTC().Format(time.RFC3339))
	}
	if raw, present := c["iat"]; present || iatRequired {
		iat, ok := numericDate(raw)
		if !ok {
			return fmt.Errorf("%w: iat missing or not a number", errIssuedAt)
		}
		if numericDateBefore(now.Add(skew), iat) {
			return fmt.Errorf("%w: iat %s is in the future, now %s", errIssuedAt, formatNumericDate(iat), now.UTC().Format(time.RFC3339))
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

// checkIssuer: iss must equal the issuer, or with an issuer template
// (allowedTenants), the template with the token's own allowed tid.
func (v *idTokenVerifier) checkIssuer(c map[string]interface{}) error {
	if v.template != nil {
		return v.template.check(c)
	}
	iss, _ := c["iss"].(string)
	if iss != v.issuer {
		return fmt.Errorf("%w: iss %q, want %q", errIssuer, jwsTruncate(iss), v.issuer)
	}
	return nil
}

// checkAudience: aud (a string or an array of strings) must contain the client ID, and
// azp, when present, must be the client ID.
func (v *idTokenVerifier) checkAudience(c map[string]interface{}) error {
	found := false
	switch aud := c["aud"].(type) {
	case string:
		found = aud == v.clientID
	case []interface{}:
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return fmt.Errorf("%w: aud holds a non-string", errAudience)
			}
			if s == v.clientID {
				found = true
			}
		}
	default:
		return fmt.Errorf("%w: aud missing or not a string or array", errAudience)
	}
	if !found {
		return fmt.Errorf("%w: aud does not contain %q", errAudience, v.clientID)
	}
	if raw, present := c["azp"]; present {
		azp, _ := raw.(string)
		if azp != v.clientID {
			return fmt.Errorf("%w: azp %q, want %q", errAuthorizedParty, jwsTruncate(azp), v.clientID)
		}
	}
	return nil
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
