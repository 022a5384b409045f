package ags

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

// jwtSignedBy returns a token maker: claims valid at the fixture's time with the
// changes applied (jwtWith), signed by pick's signer.
func jwtSignedBy(pick func(f *jwtFixture) *jwtSigner, changes map[string]interface{}) func(t *testing.T, f *jwtFixture) string {
	return func(t *testing.T, f *jwtFixture) string {
		return pick(f).sign(t, nil, jwtWith(f.claims(), changes))
	}
}

// jwtRSA picks the fixture's RS256 signer.
func jwtRSA(f *jwtFixture) *jwtSigner { return f.rsa }

// jwtTyped signs the fixture's claims with the RS256 signer under typ.
func jwtTyped(typ interface{}) func(t *testing.T, f *jwtFixture) string {
	return func(t *testing.T, f *jwtFixture) string {
		h := f.rsa.header()
		h["typ"] = typ
		if typ == nil {
			delete(h, "typ")
		}
		return f.rsa.sign(t, h, f.claims())
	}
}

// TestJWTVerifier is the steps every kind of JWT shares (jwtVerifier.verify): the
// JWS, typ, the algorithm, the key and the signature, then iss, aud and the times as
// the verifier's config says. The claims of each kind have their own table.
func TestJWTVerifier(t *testing.T) {
	signed, rsaA := jwtSignedBy, jwtRSA
	tests := []struct {
		name        string
		config      func(v *jwtVerifier) // changes to the fixture's verifier (the ID tokens')
		setup       func(t *testing.T, f *jwtFixture)
		token       func(t *testing.T, f *jwtFixture) string
		checks      []jwtCheck
		wantErr     error // nil: accepted
		wantFetches int   // when not 0, the key-set fetches expected
		noFetch     bool  // the key set is never fetched
	}{
		// Every algorithm, accepted.
		{name: "RS256", token: signed(rsaA, nil)},
		{name: "RS384", token: signed(func(f *jwtFixture) *jwtSigner { return &jwtSigner{alg: "RS384", kid: "rsa-a", key: f.rsa.key} }, nil)},
		{name: "RS512", token: signed(func(f *jwtFixture) *jwtSigner { return &jwtSigner{alg: "RS512", kid: "rsa-a", key: f.rsa.key} }, nil)},
		{name: "PS256", token: signed(func(f *jwtFixture) *jwtSigner { return f.ps }, nil)},
		{name: "PS384", token: signed(func(f *jwtFixture) *jwtSigner { return &jwtSigner{alg: "PS384", kid: "rsa-a", key: f.rsa.key} }, nil)},
		{name: "PS512", token: signed(func(f *jwtFixture) *jwtSigner { return &jwtSigner{alg: "PS512", kid: "rsa-a", key: f.rsa.key} }, nil)},
		{name: "ES256", token: signed(func(f *jwtFixture) *jwtSigner { return f.es256 }, nil)},
		{name: "ES384", token: signed(func(f *jwtFixture) *jwtSigner { return f.es384 }, nil)},
		{name: "ES512", token: signed(func(f *jwtFixture) *jwtSigner { return f.es512 }, nil)},
		{name: "EdDSA", token: signed(func(f *jwtFixture) *jwtSigner { return f.ed }, nil)},
		{name: "Ed25519 (RFC 9864) with a key announced as EdDSA", token: signed(func(f *jwtFixture) *jwtSigner {
			return &jwtSigner{alg: "Ed25519", kid: "ed-1", key: f.ed.key}
		}, nil)},
		{name: "HS256 with the client secret", token: signed(func(f *jwtFixture) *jwtSigner { return f.hs }, nil)},
		{name: "HS384 with the client secret", token: signed(func(f *jwtFixture) *jwtSigner {
			return &jwtSigner{alg: "HS384", secret: []byte(jwtTestSecret)}
		}, nil)},
		{name: "HS512 with the client secret", token: signed(func(f *jwtFixture) *jwtSigner {
			return &jwtSigner{alg: "HS512", secret: []byte(jwtTestSecret)}
		}, nil)},

		// Signatures.
		{name: "bad signature RS256", token: func(t *testing.T, f *jwtFixture) string {
			return jwtTamper(f.rsa.sign(t, nil, f.claims()))
		}, wantErr: errSignature},
		{name: "bad signature ES256", token: func(t *testing.T, f *jwtFixture) string {
			return jwtTamper(f.es256.sign(t, nil, f.claims()))
		}, wantErr: errSignature},
		{name: "bad signature PS256", token: func(t *testing.T, f *jwtFixture) string {
			return jwtTamper(f.ps.sign(t, nil, f.claims()))
		}, wantErr: errSignature},
		{name: "bad signature HS256", token: func(t *testing.T, f *jwtFixture) string {
			return jwtTamper(f.hs.sign(t, nil, f.claims()))
		}, wantErr: errSignature},
		{name: "signed by a key not in the set", token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "RS256", kid: "rsa-a", key: f.rsaB.key}).sign(t, nil, f.claims())
		}, wantErr: errSignature},
		{name: "empty signature", token: func(t *testing.T, f *jwtFixture) string {
			tok := f.rsa.sign(t, nil, f.claims())
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, wantErr: errSignature},
		{name: "alg none", token: func(t *testing.T, f *jwtFixture) string {
			h, _ := json.Marshal(map[string]string{"alg": "none"})
			c, _ := json.Marshal(f.claims())
			return jwsEncoding.EncodeToString(h) + "." + jwsEncoding.EncodeToString(c) + "."
		}, wantErr: errAlgorithmNotAllowed},
		{name: "alg None with a signature", token: func(t *testing.T, f *jwtFixture) string {
			h := f.rsa.header()
			h["alg"] = "None"
			return f.rsa.sign(t, h, f.claims())
		}, wantErr: errAlgorithmNotAllowed},
		{name: "alg not in the allowed list", config: func(v *jwtVerifier) { v.algorithms = []string{"RS256"} }, token: signed(func(f *jwtFixture) *jwtSigner { return f.es256 }, nil), wantErr: errAlgorithmNotAllowed},
		{name: "HS256 keyed with the RSA public key as PEM", token: func(t *testing.T, f *jwtFixture) string {
			der, _ := x509.MarshalPKIXPublicKey(f.rsa.key.Public())
			return jwtHMACWith(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "rsa-a", f.claims())
		}, wantErr: errSignature},
		{name: "HS256 keyed with the RSA public key as DER", token: func(t *testing.T, f *jwtFixture) string {
			der, _ := x509.MarshalPKIXPublicKey(f.rsa.key.Public())
			return jwtHMACWith(t, der, "rsa-a", f.claims())
		}, wantErr: errSignature},
		{name: "HS256 keyed with the RSA public key as JWK", token: func(t *testing.T, f *jwtFixture) string {
			jwk, _ := json.Marshal(f.rsa.jwk(t, false))
			return jwtHMACWith(t, jwk, "rsa-a", f.claims())
		}, wantErr: errSignature},
		{name: "HS256 keyed with the RSA public key, no client secret", config: func(v *jwtVerifier) { v.hmacSecret = "" }, token: func(t *testing.T, f *jwtFixture) string {
			der, _ := x509.MarshalPKIXPublicKey(f.rsa.key.Public())
			return jwtHMACWith(t, der, "rsa-a", f.claims())
		}, wantErr: errAlgorithmNotAllowed},
		{name: "HS256 with a client secret shorter than the hash", config: func(v *jwtVerifier) { v.hmacSecret = "short-secret" }, token: func(t *testing.T, f *jwtFixture) string {
			return jwtHMACWith(t, []byte("short-secret"), "", f.claims())
		}, wantErr: errAlgorithmNotAllowed},
		{name: "DER-encoded ES256 signature", token: func(t *testing.T, f *jwtFixture) string {
			h, _ := json.Marshal(f.es256.header())
			c, _ := json.Marshal(f.claims())
			input := jwsEncoding.EncodeToString(h) + "." + jwsEncoding.EncodeToString(c)
			digest := sha256.Sum256([]byte(input))
			der, err := f.es256.key.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			return input + "." + jwsEncoding.EncodeToString(der)
		}, wantErr: errSignature},
		{name: "ES384 token naming the P-256 key", token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "ES384", kid: "ec-256", key: f.es384.key}).sign(t, nil, f.claims())
		}, wantErr: errUnknownKey},
		{name: "PS256 token naming a key restricted to ES256", token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "PS256", kid: "ec-256", key: f.rsa.key}).sign(t, nil, f.claims())
		}, wantErr: errUnknownKey},
		{name: "unknown crit", token: func(t *testing.T, f *jwtFixture) string {
			h := f.rsa.header()
			h["crit"] = []string{"exp"}
			h["exp"] = 1
			return f.rsa.sign(t, h, f.claims())
		}, wantErr: errUnsupportedCrit},
		{name: "JSON serialization", token: func(t *testing.T, f *jwtFixture) string {
			parts := strings.Split(f.rsa.sign(t, nil, f.claims()), ".")
			doc, _ := json.Marshal(map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]})
			return string(doc)
		}, wantErr: errMalformedToken},
		{name: "payload not a JSON object", token: func(t *testing.T, f *jwtFixture) string {
			h, _ := json.Marshal(f.rsa.header())
			return f.rsa.signRaw(t, h, []byte(`["iss"]`))
		}, wantErr: errMalformedToken},

		// Key choice.
		{name: "kid absent, one key fits", token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "RS256", key: f.rsa.key}).sign(t, nil, f.claims())
		}},
		{name: "kid absent, two keys fit", setup: func(t *testing.T, f *jwtFixture) {
			f.server.set(jwtKeySetDoc(t, f.rsa.jwk(t, false), f.rsaB.jwk(t, false)), 200)
		}, token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "RS256", key: f.rsa.key}).sign(t, nil, f.claims())
		}, wantErr: errAmbiguousKey, wantFetches: 1},
		{name: "unknown kid: refetch, then reject", setup: func(t *testing.T, f *jwtFixture) {
			if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
				t.Fatalf("first token: %v", err)
			}
			f.clock.advance(jwksRefetchInterval)
		}, token: func(t *testing.T, f *jwtFixture) string {
			return (&jwtSigner{alg: "RS256", kid: "rsa-zzz", key: f.rsa.key}).sign(t, nil, f.claims())
		}, wantErr: errUnknownKey, wantFetches: 2},
		{name: "key rotation: refetch, then accept", setup: func(t *testing.T, f *jwtFixture) {
			if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
				t.Fatalf("first token: %v", err)
			}
			f.server.set(jwtKeySetDoc(t, f.rsaB.jwk(t, true)), 200)
			f.clock.advance(jwksRefetchInterval)
		}, token: signed(func(f *jwtFixture) *jwtSigner { return f.rsaB }, nil), wantFetches: 2},

		// typ.
		{name: "typ not checked when the kind names none", token: jwtTyped("logout+jwt")},
		{name: "typ accepted", config: func(v *jwtVerifier) { v.types = accessTokenTypes }, token: jwtTyped("at+jwt")},
		{name: "typ accepted whatever its case", config: func(v *jwtVerifier) { v.types = accessTokenTypes }, token: jwtTyped("AT+JWT")},
		{name: "typ absent, accepted as empty", config: func(v *jwtVerifier) { v.types = accessTokenTypes }, token: jwtTyped(nil)},
		{name: "typ of another kind", config: func(v *jwtVerifier) { v.types = accessTokenTypes }, token: jwtTyped("logout+jwt"), wantErr: errTokenType, noFetch: true},
		{name: "typ not a string", token: jwtTyped(7), wantErr: errMalformedToken, noFetch: true},

		// The algorithm before any key, and the key source.
		{name: "no algorithm allowed", config: func(v *jwtVerifier) { v.algorithms = nil }, token: signed(rsaA, nil), wantErr: errAlgorithmNotAllowed, noFetch: true},
		{name: "alg refused before the key set is fetched", config: func(v *jwtVerifier) { v.algorithms = []string{"ES256"} }, token: signed(rsaA, nil), wantErr: errAlgorithmNotAllowed, noFetch: true},
		{name: "no key source", config: func(v *jwtVerifier) { v.keys = nil }, token: signed(rsaA, nil), wantErr: errKeySet},
		{name: "no key source, HMAC still keyed by the secret", config: func(v *jwtVerifier) { v.keys = nil }, token: signed(func(f *jwtFixture) *jwtSigner { return f.hs }, nil), noFetch: true},
		{name: "key set unavailable", setup: func(t *testing.T, f *jwtFixture) {
			f.server.set([]byte("down"), 503)
		}, token: signed(rsaA, nil), wantErr: errKeySetUnavailable},

		// iss, aud and the times, as the config says.
		{name: "issuer differs", token: signed(rsaA, map[string]interface{}{"iss": "https://evil.example.test/"}), wantErr: errIssuer},
		{name: "no audience configured: aud not read", config: func(v *jwtVerifier) { v.audiences = nil }, token: signed(rsaA, map[string]interface{}{"aud": "account"})},
		{name: "aud holds one of several audiences", config: func(v *jwtVerifier) { v.audiences = []string{"api-1", "api-2"} }, token: signed(rsaA, map[string]interface{}{"aud": []string{"x", "api-2"}})},
		{name: "aud holds none of the audiences", config: func(v *jwtVerifier) { v.audiences = []string{"api-1"} }, token: signed(rsaA, nil), wantErr: errAudience},
		{name: "exp required, missing", token: signed(rsaA, map[string]interface{}{"exp": nil}), wantErr: errExpired},
		{name: "exp when present, missing", config: func(v *jwtVerifier) { v.times.exp = claimWhenPresent }, token: signed(rsaA, map[string]interface{}{"exp": nil})},
		{name: "exp when present, past", config: func(v *jwtVerifier) { v.times.exp = claimWhenPresent }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"exp": f.clock.now().Add(-2 * time.Minute).Unix()}))
		}, wantErr: errExpired},
		{name: "iat when present, missing", config: func(v *jwtVerifier) { v.times.iat = claimWhenPresent }, token: signed(rsaA, map[string]interface{}{"iat": nil})},
		{name: "iat when present, in the future", config: func(v *jwtVerifier) { v.times.iat = claimWhenPresent }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(2 * time.Minute).Unix()}))
		}, wantErr: errIssuedAt},
		{name: "iat ignored, in the future", config: func(v *jwtVerifier) { v.times.iat = claimIgnored }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(2 * time.Minute).Unix()}))
		}},
		{name: "iat older than the max age and the skew", config: func(v *jwtVerifier) { v.times.maxAge = 5 * time.Minute }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(-6*time.Minute - time.Second).Unix()}))
		}, wantErr: errIssuedAt},
		{name: "iat older than the max age, within the skew", config: func(v *jwtVerifier) { v.times.maxAge = 5 * time.Minute }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(-5*time.Minute - 30*time.Second).Unix()}))
		}},
		{name: "nbf in the future, whatever the kind", config: func(v *jwtVerifier) { v.times = timeRules{exp: claimIgnored, iat: claimIgnored} }, token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"nbf": f.clock.now().Add(2 * time.Minute).Unix()}))
		}, wantErr: errNotYetValid},

		// The kind's checks, after the common steps, in order.
		{name: "a kind's check refuses", token: signed(rsaA, nil), checks: []jwtCheck{hasSubject, nonceIs("another")}, wantErr: errNonce},
		{name: "checks not run on a token the common steps refuse", token: signed(rsaA, map[string]interface{}{"iss": "https://evil.example.test/"}), checks: []jwtCheck{nonceIs("another")}, wantErr: errIssuer},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := jwtNewFixture(t)
			if tc.config != nil {
				tc.config(f.verifier)
			}
			if tc.setup != nil {
				tc.setup(t, f)
			}
			token := tc.token(t, f)
			got, err := f.verifier.verify(context.Background(), token, tc.checks...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %q, want none", err)
				}
				if got.claims["iss"] != jwtTestIssuer {
					t.Errorf("got claims %v, want the token's", got.claims)
				}
			} else {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				jwtCheckErrorText(t, err, token, "")
			}
			if tc.wantFetches != 0 && f.server.count() != tc.wantFetches {
				t.Errorf("got %d key-set fetches, want %d", f.server.count(), tc.wantFetches)
			}
			if tc.noFetch && f.server.count() != 0 {
				t.Errorf("got %d key-set fetches, want none", f.server.count())
			}
		})
	}
}
