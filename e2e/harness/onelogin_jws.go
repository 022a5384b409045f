package harness

// The JOSE pieces of the One Login-shaped provider: its own compact signer (faults
// make what go-jose refuses to), go-jose for what clients send.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// newECKey makes a P-256 key and its kid.
func newECKey() (*ecdsa.PrivateKey, string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	kid, err := keyID(&k.PublicKey)
	return k, kid, err
}

// keyID is the hex SHA-256 JWK thumbprint of a public key: One Login's kids are 64 hex
// digits.
func keyID(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	return hex.EncodeToString(tp), err
}

// verifyClientJWT checks a request object or client assertion against the client's
// RSA key with the RSA algorithms One Login allows, and returns its claims.
func verifyClientJWT(raw string, c OneLoginClient) (map[string]any, error) {
	algs := make([]jose.SignatureAlgorithm, len(rsaAlgs))
	for i, a := range rsaAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(c.PublicKey)
	if err != nil {
		return nil, err
	}
	return decodeClaims(payload)
}

// decodeJWT decodes a compact JWT's header and claims without checking anything.
func decodeJWT(raw string) (header, claims map[string]any, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not three parts")
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, nil, err
	}
	if header, err = decodeClaims(h); err != nil {
		return nil, nil, err
	}
	c, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return header, nil, err
	}
	claims, err = decodeClaims(c)
	return header, claims, err
}

// decodeClaims decodes a JSON object, numbers as json.Number.
func decodeClaims(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// numberClaim reads an integer claim (a NumericDate).
func numberClaim(claims map[string]any, name string) (int64, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	return int64(f), err == nil
}

// audienceHas: aud, a string or an array of strings, holds want.
func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, e := range a {
			if s, _ := e.(string); s == want {
				return true
			}
		}
	}
	return false
}

// randomToken is 32 random bytes, base64url: codes, access tokens, sids.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// publicPEM is a public key as a PEM "PUBLIC KEY" block: the secret of the HS256
// key-confusion fault, as an attacker would take it.
func publicPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// signCompact makes a compact JWS of claims: alg none (no signature), ES256 with an
// *ecdsa.PrivateKey, RS256 with an *rsa.PrivateKey, HS256 with a []byte. header adds
// to alg. Written here rather than with go-jose so that faults can make what go-jose
// refuses to.
func signCompact(alg string, header map[string]any, claims any, key any) (string, error) {
	h := map[string]any{"alg": alg}
	for k, v := range header {
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case nil:
		if alg != "none" {
			return "", fmt.Errorf("no key for %s", alg)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	case []byte:
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	default:
		return "", fmt.Errorf("cannot sign with a %T", key)
	}
	return input + "." + b64(sig), nil
}

// verifyCompact checks a compact JWS of alg with pub.
func verifyCompact(raw, alg string, pub crypto.PublicKey) error {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return err
	}
	_, err = jws.Verify(pub)
	return err
}

// flipSignature flips one bit of a compact JWS's signature.
func flipSignature(raw string) string {
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil || len(sig) == 0 {
		return raw + "x"
	}
	sig[len(sig)/2] ^= 0x01
	return raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
