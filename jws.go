package ags

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
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

// jwsAlgorithm is what an algorithm name means: the hash it signs with, and its key.
type jwsAlgorithm struct {
	hash  crypto.Hash    // EdDSA signs the message itself: SHA-512 is what its at_hash uses
	kty   string         // the key's type, as a JWK names it: RSA, EC, OKP (Ed25519) or oct (HMAC)
	pss   bool           // RSASSA-PSS rather than PKCS #1 v1.5
	curve elliptic.Curve // EC: the one curve of the algorithm
}

// jwsAlgorithms is every algorithm ags verifies or signs, the one table of their names.
// Ed25519 is EdDSA's fully-specified name (RFC 9864), which a key set may use for the
// same key. "none" is never one of them.
var jwsAlgorithms = map[string]jwsAlgorithm{
	"RS256":   {hash: crypto.SHA256, kty: "RSA"},
	"RS384":   {hash: crypto.SHA384, kty: "RSA"},
	"RS512":   {hash: crypto.SHA512, kty: "RSA"},
	"PS256":   {hash: crypto.SHA256, kty: "RSA", pss: true},
	"PS384":   {hash: crypto.SHA384, kty: "RSA", pss: true},
	"PS512":   {hash: crypto.SHA512, kty: "RSA", pss: true},
	"ES256":   {hash: crypto.SHA256, kty: "EC", curve: elliptic.P256()},
	"ES384":   {hash: crypto.SHA384, kty: "EC", curve: elliptic.P384()},
	"ES512":   {hash: crypto.SHA512, kty: "EC", curve: elliptic.P521()},
	"EdDSA":   {hash: crypto.SHA512, kty: "OKP"},
	"Ed25519": {hash: crypto.SHA512, kty: "OKP"},
	"HS256":   {hash: crypto.SHA256, kty: "oct"},
	"HS384":   {hash: crypto.SHA384, kty: "oct"},
	"HS512":   {hash: crypto.SHA512, kty: "oct"},
}

// supportedAlgorithm reports whether name is one ags can verify (for validating the
// allowedAlgorithms option). "none" is never one of them.
func supportedAlgorithm(name string) bool {
	_, ok := jwsAlgorithms[name]
	return ok
}

// jwsAlgorithmHash returns the hash of a supported algorithm.
func jwsAlgorithmHash(alg string) (crypto.Hash, bool) {
	a, ok := jwsAlgorithms[alg]
	return a.hash, ok
}

// isEd25519Algorithm reports whether alg signs with an Ed25519 key: EdDSA, or its
// fully-specified name Ed25519 (RFC 9864), which a key set may use for the same key.
func isEd25519Algorithm(alg string) bool {
	return jwsAlgorithms[alg].kty == "OKP"
}

// isHMACAlgorithm reports whether alg is keyed by the client secret.
func isHMACAlgorithm(alg string) bool {
	return jwsAlgorithms[alg].kty == "oct"
}

// ecAlgorithm is the ES algorithm of curve; "" for none.
func ecAlgorithm(curve elliptic.Curve) string {
	for name, a := range jwsAlgorithms {
		if a.curve != nil && a.curve == curve {
			return name
		}
	}
	return ""
}

// keyFitsAlgorithm reports whether a key from the key set may check a signature of alg:
// the key type must fit, and so must the curve. HMAC never fits: a key set only holds
// public keys, and using one as an HMAC secret is the algorithm-confusion attack.
func keyFitsAlgorithm(key interface{}, alg string) bool {
	a, ok := jwsAlgorithms[alg]
	if !ok {
		return false
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return a.kty == "RSA"
	case *ecdsa.PublicKey:
		return a.kty == "EC" && k.Curve == a.curve
	case ed25519.PublicKey:
		return a.kty == "OKP"
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
		if !jwsAlgorithms[alg].pss {
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

// jwsSigner signs what ags signs (client assertions, request objects, Apple's client
// secret): a compact JWS with the client's key, or for HS* its secret.
type jwsSigner struct {
	alg     string
	kid     string            // the kid header; "": none (HMAC)
	key     interface{}       // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, or []byte: an HMAC secret
	headers map[string]string // further header parameters (a certificate's x5t and x5t#S256); nil: none
}

// sign returns the compact JWS of claims, with alg, typ and kid in its header.
func (s *jwsSigner) sign(typ string, claims map[string]interface{}) (string, error) {
	header := map[string]string{"alg": s.alg, "typ": typ}
	if s.kid != "" {
		header["kid"] = s.kid
	}
	for name, value := range s.headers {
		header[name] = value
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := jwsEncoding.EncodeToString(h) + "." + jwsEncoding.EncodeToString(c)
	sig, err := s.signature([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + jwsEncoding.EncodeToString(sig), nil
}

// signature makes a JWS signature over input: ES signatures are r and s as
// fixed-size big-endian integers (RFC 7518 section 3.4), not the ASN.1 that
// ecdsa.SignASN1 makes.
func (s *jwsSigner) signature(input []byte) ([]byte, error) {
	a, ok := jwsAlgorithms[s.alg]
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %q", s.alg)
	}
	h := a.hash.New()
	switch k := s.key.(type) {
	case []byte:
		if a.kty == "oct" {
			mac := hmac.New(a.hash.New, k)
			mac.Write(input)
			return mac.Sum(nil), nil
		}
	case ed25519.PrivateKey:
		if a.kty == "OKP" {
			return ed25519.Sign(k, input), nil
		}
	case *rsa.PrivateKey:
		h.Write(input)
		if a.pss {
			return rsa.SignPSS(rand.Reader, k, a.hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
		}
		if a.kty == "RSA" {
			return rsa.SignPKCS1v15(rand.Reader, k, a.hash, h.Sum(nil))
		}
	case *ecdsa.PrivateKey:
		if a.curve != nil && a.curve == k.Curve {
			h.Write(input)
			r, sv, err := ecdsa.Sign(rand.Reader, k, h.Sum(nil))
			if err != nil {
				return nil, err
			}
			size := (k.Curve.Params().BitSize + 7) / 8
			sig := make([]byte, 2*size)
			r.FillBytes(sig[:size])
			sv.FillBytes(sig[size:])
			return sig, nil
		}
	}
	return nil, fmt.Errorf("no key for %s", s.alg)
}
