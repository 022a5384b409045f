package ags

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256 for crypto.Hash.New
	_ "crypto/sha512" // registers crypto.SHA384 and crypto.SHA512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Errors of the signature checks. Each is its own value so that the callback can say which
// check failed; they are wrapped with the detail, so compare with errors.Is.
var (
	errMalformedToken      = errors.New("malformed token")
	errAlgorithmNotAllowed = errors.New("algorithm not allowed")
	errUnsupportedCrit     = errors.New("unsupported critical header")
	errUnknownKey          = errors.New("unknown signing key")
	errAmbiguousKey        = errors.New("ambiguous signing key")
	errSignature           = errors.New("invalid signature")
	errKeySet              = errors.New("unusable key set")
	// errKeySetUnavailable: the key set could not be had (the provider down, slow,
	// answering an error, too large, not JSON). Not the token's fault: the provider
	// is unavailable (SPEC 8), where errKeySet and errUnknownKey mean the set was had
	// and holds no key for the token, which then fails the checks.
	errKeySetUnavailable = errors.New("key set unavailable")
)

// maxJWSSize bounds the work spent on a token: the token response it comes in is itself
// read through a 1 MiB limit.
const maxJWSSize = 1 << 20

// jwsHeader holds the header parameters ags acts on. Others (jwk, jku, x5c, ...) are
// ignored on purpose: a key named by the token itself is never trusted.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"` // never read: decoded so that a typ that is not a string is malformed
	Crit json.RawMessage `json:"crit"`
}

// jws is a parsed compact JWS whose signature is not yet checked.
type jws struct {
	header    jwsHeader
	signed    []byte // the signing input: the header and payload exactly as sent
	payload   []byte
	signature []byte
}

// jwsEncoding rejects padding and non-zero trailing bits, so each value has one encoding
// and a signature cannot be varied without breaking it.
var jwsEncoding = base64.RawURLEncoding.Strict()

// parseJWS parses a compact JWS strictly: exactly three base64url parts without padding or
// whitespace, a JSON object header with a string alg, and no crit entry (ags understands
// no extension). The JSON serialization is rejected.
func parseJWS(token string) (*jws, error) {
	if len(token) > maxJWSSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", errMalformedToken, maxJWSSize)
	}
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("%w: not three dot-separated parts", errMalformedToken)
	}
	// The base64 decoder skips CR and LF; a strict parser may not.
	if strings.ContainsAny(token, "\r\n") {
		return nil, fmt.Errorf("%w: line break in token", errMalformedToken)
	}
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	rawHeader, rawPayload, rawSignature := token[:first], token[first+1:last], token[last+1:]
	// An empty signature parses (alg none has one) and then fails every check.
	if rawHeader == "" {
		return nil, fmt.Errorf("%w: empty header", errMalformedToken)
	}
	headerJSON, err := jwsEncoding.DecodeString(rawHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", errMalformedToken, err)
	}
	payload, err := jwsEncoding.DecodeString(rawPayload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", errMalformedToken, err)
	}
	signature, err := jwsEncoding.DecodeString(rawSignature)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", errMalformedToken, err)
	}
	t := &jws{signed: []byte(token[:last]), payload: payload, signature: signature}
	// A JSON null would leave the header empty without an error; the missing alg catches it.
	if err := json.Unmarshal(headerJSON, &t.header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errMalformedToken, err)
	}
	if t.header.Alg == "" {
		return nil, fmt.Errorf("%w: header has no alg", errMalformedToken)
	}
	if len(t.header.Crit) != 0 {
		return nil, fmt.Errorf("%w: crit %q", errUnsupportedCrit, jwsTruncate(string(t.header.Crit)))
	}
	return t, nil
}

// jwsTruncate keeps error text short when it echoes attacker-chosen input.
func jwsTruncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// supportedAlgorithm reports whether name is one ags can verify (for validating the
// allowedAlgorithms option). "none" is never one of them.
func supportedAlgorithm(name string) bool {
	_, ok := jwsAlgorithmHash(name)
	return ok
}

// jwsAlgorithmHash returns the hash of a supported algorithm. EdDSA and Ed25519 (its
// fully-specified name, RFC 9864) sign the message itself; SHA-512 is what their
// at_hash uses.
func jwsAlgorithmHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case "RS256", "PS256", "ES256", "HS256":
		return crypto.SHA256, true
	case "RS384", "PS384", "ES384", "HS384":
		return crypto.SHA384, true
	case "RS512", "PS512", "ES512", "HS512":
		return crypto.SHA512, true
	case "EdDSA", "Ed25519":
		return crypto.SHA512, true
	}
	return 0, false
}

// isEd25519Algorithm reports whether alg signs with an Ed25519 key: EdDSA, or its
// fully-specified name Ed25519 (RFC 9864), which a key set may use for the same key.
func isEd25519Algorithm(alg string) bool {
	return alg == "EdDSA" || alg == "Ed25519"
}

// isHMACAlgorithm reports whether alg is keyed by the client secret.
func isHMACAlgorithm(alg string) bool {
	return alg == "HS256" || alg == "HS384" || alg == "HS512"
}

// jwsCurve returns the curve an ES algorithm signs with.
func jwsCurve(alg string) (elliptic.Curve, bool) {
	switch alg {
	case "ES256":
		return elliptic.P256(), true
	case "ES384":
		return elliptic.P384(), true
	case "ES512":
		return elliptic.P521(), true
	}
	return nil, false
}

// keyFitsAlgorithm reports whether a key from the key set may check a signature of alg:
// the key type must fit, and so must the curve. HMAC never fits: a key set only holds
// public keys, and using one as an HMAC secret is the algorithm-confusion attack.
func keyFitsAlgorithm(key interface{}, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
		return false
	case *ecdsa.PublicKey:
		curve, ok := jwsCurve(alg)
		return ok && k.Curve == curve
	case ed25519.PublicKey:
		return isEd25519Algorithm(alg)
	}
	return false
}

// verifyJWSSignature checks sig over signed with a public key from the key set. It never
// computes an HMAC: those are checked by verifyJWSMAC with the client secret only.
func verifyJWSSignature(alg string, key interface{}, signed, sig []byte) error {
	hash, ok := jwsAlgorithmHash(alg)
	if !ok || isHMACAlgorithm(alg) || !keyFitsAlgorithm(key, alg) {
		return fmt.Errorf("%w: %s with a %T key", errAlgorithmNotAllowed, alg, key)
	}
	var valid bool
	switch k := key.(type) {
	case *rsa.PublicKey:
		// The length check is also in crypto/rsa; keeping it here makes the rule plain.
		if k.N.BitLen() < minRSAKeyBits || len(sig) != k.Size() {
			return fmt.Errorf("%w: %s signature of %d bytes", errSignature, alg, len(sig))
		}
		h := hash.New()
		h.Write(signed)
		digest := h.Sum(nil)
		if strings.HasPrefix(alg, "RS") {
			valid = rsa.VerifyPKCS1v15(k, hash, digest, sig) == nil
		} else {
			opts := &rsa.PSSOptions{SaltLength: hash.Size(), Hash: hash}
			valid = rsa.VerifyPSS(k, hash, digest, sig, opts) == nil
		}
	case *ecdsa.PublicKey:
		// JWS signs with r and s as fixed-size big-endian integers (RFC 7518 section
		// 3.4); a DER signature, or one of any other length, is not a JWS signature.
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("%w: %s signature of %d bytes, want %d", errSignature, alg, len(sig), 2*size)
		}
		h := hash.New()
		h.Write(signed)
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		valid = ecdsa.Verify(k, h.Sum(nil), r, s)
	case ed25519.PublicKey:
		valid = len(k) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(k, signed, sig)
	}
	if !valid {
		return fmt.Errorf("%w: %s", errSignature, alg)
	}
	return nil
}

// verifyJWSMAC checks an HS256/384/512 MAC keyed with the client secret. RFC 7518 section
// 3.2 asks for a key at least as long as the hash; a shorter secret cannot sign.
func verifyJWSMAC(alg, secret string, signed, sig []byte) error {
	hash, ok := jwsAlgorithmHash(alg)
	if !ok || !isHMACAlgorithm(alg) {
		return fmt.Errorf("%w: %s is not an HMAC", errAlgorithmNotAllowed, alg)
	}
	if len(secret) < hash.Size() {
		return fmt.Errorf("%w: %s needs a client secret of at least %d bytes", errAlgorithmNotAllowed, alg, hash.Size())
	}
	mac := hmac.New(hash.New, []byte(secret))
	mac.Write(signed)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return fmt.Errorf("%w: %s", errSignature, alg)
	}
	return nil
}
