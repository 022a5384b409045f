package ags

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"strings"
)

// tpAssertion is a client assertion the test provider accepted, decoded.
type tpAssertion struct {
	header map[string]interface{}
	claims map[string]interface{}
}

// checkAssertion verifies a client assertion as a provider must (RFC 7523 section 3,
// OpenID Connect Core section 9): the assertion type, a signature by the registered
// key (or the client secret, for client_secret_jwt), iss and sub the client, aud the
// token endpoint, exp in the future and at most five minutes after iat, and a jti
// never seen before. The signature is checked here with crypto/* directly, not with
// ags's own verifier. Callers hold tp.mu.
func (tp *testProvider) checkAssertion(r *http.Request) error {
	form := r.PostForm
	if _, _, basic := r.BasicAuth(); basic || form.Get("client_secret") != "" {
		return errors.New("this client authenticates with an assertion only")
	}
	if got := form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return fmt.Errorf("client_assertion_type %q", got)
	}
	if id := form.Get("client_id"); id != "" && id != tpClientID {
		return fmt.Errorf("client_id %q", id)
	}
	a, err := tp.checkSignedJWT(form.Get("client_assertion"), tp.clientKey)
	if err != nil {
		return err
	}
	c := a.claims
	iss, _ := c["iss"].(string)
	sub, _ := c["sub"].(string)
	if iss != tpClientID || sub != tpClientID {
		return fmt.Errorf("iss %q and sub %q, want the client %q", iss, sub, tpClientID)
	}
	wantAud := tp.issuer + "/token"
	if tp.audIsIssuer {
		wantAud = tp.issuer
	}
	if aud, _ := c["aud"].(string); aud != wantAud {
		return fmt.Errorf("aud %v, want the token endpoint %q", c["aud"], wantAud)
	}
	exp, okExp := c["exp"].(float64)
	iat, okIat := c["iat"].(float64)
	now := float64(tp.now().Unix())
	switch {
	case !okExp || !okIat:
		return errors.New("exp or iat missing")
	case exp <= now:
		return errors.New("the assertion has expired")
	case exp-iat > 300 || iat > now+60:
		return fmt.Errorf("iat %v and exp %v: more than five minutes, or issued in the future", iat, exp)
	}
	jti, _ := c["jti"].(string)
	if jti == "" || tp.seenJTI[jti] {
		return fmt.Errorf("jti %q missing or replayed", jti)
	}
	if tp.seenJTI == nil {
		tp.seenJTI = map[string]bool{}
	}
	tp.seenJTI[jti] = true
	tp.assertions = append(tp.assertions, a)
	return nil
}

// checkSignedJWT decodes a compact JWS that the client signed and checks its
// signature with key (or the client secret, for client_secret_jwt).
func (tp *testProvider) checkSignedJWT(jws string, key interface{}) (tpAssertion, error) {
	var a tpAssertion
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return a, errors.New("not a compact JWS")
	}
	for i, dst := range []*map[string]interface{}{&a.header, &a.claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return a, fmt.Errorf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return a, fmt.Errorf("part %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return a, fmt.Errorf("signature: %v", err)
	}
	alg, _ := a.header["alg"].(string)
	return a, tp.checkAssertionSignature(key, alg, []byte(parts[0]+"."+parts[1]), sig)
}

// checkAssertionSignature checks sig with key, or the client secret.
func (tp *testProvider) checkAssertionSignature(key interface{}, alg string, input, sig []byte) error {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	newHash := map[crypto.Hash]func() hash.Hash{crypto.SHA256: sha256.New, crypto.SHA384: sha512.New384, crypto.SHA512: sha512.New}
	h := hashes[strings.TrimLeft(alg, "RSPEH")]
	if tp.clientSecretJWT {
		if h == 0 || !strings.HasPrefix(alg, "HS") {
			return fmt.Errorf("alg %q for client_secret_jwt", alg)
		}
		mac := hmac.New(newHash[h], []byte(tpClientSecret))
		mac.Write(input)
		if !hmac.Equal(mac.Sum(nil), sig) {
			return errors.New("bad HMAC")
		}
		return nil
	}
	var digest []byte
	if h != 0 {
		d := newHash[h]()
		d.Write(input)
		digest = d.Sum(nil)
	}
	ok := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256":
			ok = rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "PS256":
			ok = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if strings.HasPrefix(alg, "ES") && len(sig) == 2*size {
			r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
			ok = ecdsa.Verify(k, digest, r, s)
		}
	case ed25519.PublicKey:
		ok = alg == "EdDSA" && ed25519.Verify(k, input, sig)
	default:
		return errors.New("no client key registered")
	}
	if !ok {
		return fmt.Errorf("bad %s signature", alg)
	}
	return nil
}
