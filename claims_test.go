package ags

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"testing"
	"time"
)

// jwtWith returns claims with the changes applied; a nil value deletes the claim.
func jwtWith(claims map[string]interface{}, changes map[string]interface{}) map[string]interface{} {
	for k, v := range changes {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	return claims
}

// jwtAtHash computes an at_hash the way a provider does.
func jwtAtHash(alg, accessToken string) string {
	var sum []byte
	switch alg {
	case "ES384":
		s := sha512.Sum384([]byte(accessToken))
		sum = s[:]
	case "EdDSA", "Ed25519":
		s := sha512.Sum512([]byte(accessToken))
		sum = s[:]
	default:
		s := sha256.Sum256([]byte(accessToken))
		sum = s[:]
	}
	return jwsEncoding.EncodeToString(sum[:len(sum)/2])
}

// jwtTamper changes the first character of the signature part.
func jwtTamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	c := "A"
	if token[i] == 'A' {
		c = "B"
	}
	return token[:i] + c + token[i+1:]
}

// jwtHMACWith signs an HS256 token with an arbitrary key (the algorithm-confusion attack).
func jwtHMACWith(t testing.TB, key []byte, kid string, claims map[string]interface{}) string {
	t.Helper()
	s := &jwtSigner{alg: "HS256", kid: kid, secret: key}
	return s.sign(t, nil, claims)
}

// TestVerifyIDToken is the ID token's claims (OpenID Connect Core 3.1.3.7); the
// JWS, algorithm, key and signature cases are TestJWTVerifier's.
func TestVerifyIDToken(t *testing.T) {
	const accessToken = "SlAV32hkKG.access-token.qLUd8P2"
	type testCase struct {
		name        string
		token       func(t *testing.T, f *jwtFixture) string
		noNonce     bool // pass "" as the expected nonce
		accessToken string
		wantErr     error // nil: accepted
	}
	signed, rsaA := jwtSignedBy, jwtRSA
	tests := []testCase{
		// Claims.
		{name: "issuer differs", token: signed(rsaA, map[string]interface{}{"iss": "https://evil.example.test/realms/ags"}), wantErr: errIssuer},
		{name: "issuer with a trailing slash", token: signed(rsaA, map[string]interface{}{"iss": jwtTestIssuer + "/"}), wantErr: errIssuer},
		{name: "issuer missing", token: signed(rsaA, map[string]interface{}{"iss": nil}), wantErr: errIssuer},
		{name: "audience differs", token: signed(rsaA, map[string]interface{}{"aud": "another-client"}), wantErr: errAudience},
		{name: "audience array containing the client", token: signed(rsaA, map[string]interface{}{"aud": []string{"api", jwtTestClientID}})},
		{name: "audience array without the client", token: signed(rsaA, map[string]interface{}{"aud": []string{"api", "web"}}), wantErr: errAudience},
		{name: "audience missing", token: signed(rsaA, map[string]interface{}{"aud": nil}), wantErr: errAudience},
		{name: "audience not a string", token: signed(rsaA, map[string]interface{}{"aud": 7}), wantErr: errAudience},
		{name: "audience array holding a number", token: signed(rsaA, map[string]interface{}{"aud": []interface{}{jwtTestClientID, 7}}), wantErr: errAudience},
		{name: "azp equal to the client", token: signed(rsaA, map[string]interface{}{"aud": []string{"api", jwtTestClientID}, "azp": jwtTestClientID})},
		{name: "azp differs", token: signed(rsaA, map[string]interface{}{"azp": "another-client"}), wantErr: errAuthorizedParty},
		{name: "azp not a string", token: signed(rsaA, map[string]interface{}{"azp": true}), wantErr: errAuthorizedParty},
		{name: "expired beyond the skew", token: func(t *testing.T, f *jwtFixture) string {
			now := f.clock.now()
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-61 * time.Second).Unix()}))
		}, wantErr: errExpired},
		{name: "expired within the skew", token: func(t *testing.T, f *jwtFixture) string {
			now := f.clock.now()
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-59 * time.Second).Unix()}))
		}},
		{name: "expiring exactly at now minus the skew", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"exp": f.clock.now().Add(-time.Minute).Unix()}))
		}, wantErr: errExpired},
		{name: "fractional exp", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"exp": float64(f.clock.now().Unix()) + 30.5}))
		}},
		{name: "exp missing", token: signed(rsaA, map[string]interface{}{"exp": nil}), wantErr: errExpired},
		{name: "exp a string", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"exp": "4102444800"}))
		}, wantErr: errExpired},
		{name: "exp far in the future", token: signed(rsaA, map[string]interface{}{"exp": 1e300})},
		{name: "iat in the future beyond the skew", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(61 * time.Second).Unix()}))
		}, wantErr: errIssuedAt},
		{name: "iat in the future within the skew", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"iat": f.clock.now().Add(60 * time.Second).Unix()}))
		}},
		{name: "iat missing", token: signed(rsaA, map[string]interface{}{"iat": nil}), wantErr: errIssuedAt},
		{name: "iat not a number", token: signed(rsaA, map[string]interface{}{"iat": "yesterday"}), wantErr: errIssuedAt},
		{name: "nbf in the future beyond the skew", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"nbf": f.clock.now().Add(2 * time.Minute).Unix()}))
		}, wantErr: errNotYetValid},
		{name: "nbf in the future within the skew", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"nbf": f.clock.now().Add(30 * time.Second).Unix()}))
		}},
		{name: "nbf in the past", token: func(t *testing.T, f *jwtFixture) string {
			return f.rsa.sign(t, nil, jwtWith(f.claims(), map[string]interface{}{"nbf": f.clock.now().Add(-time.Minute).Unix()}))
		}},
		{name: "nbf not a number", token: signed(rsaA, map[string]interface{}{"nbf": []int{1}}), wantErr: errNotYetValid},
		{name: "sub missing", token: signed(rsaA, map[string]interface{}{"sub": nil}), wantErr: errSubject},
		{name: "sub empty", token: signed(rsaA, map[string]interface{}{"sub": ""}), wantErr: errSubject},
		{name: "sub a number", token: signed(rsaA, map[string]interface{}{"sub": 42}), wantErr: errSubject},
		{name: "nonce differs", token: signed(rsaA, map[string]interface{}{"nonce": "another-nonce"}), wantErr: errNonce},
		{name: "nonce missing", token: signed(rsaA, map[string]interface{}{"nonce": nil}), wantErr: errNonce},
		{name: "nonce expected but empty", token: signed(rsaA, map[string]interface{}{"nonce": ""}), wantErr: errNonce},
		{name: "no nonce sent, token with a nonce", token: signed(rsaA, nil), noNonce: true, wantErr: errNonce},
		{name: "no nonce sent, token with an empty nonce", token: signed(rsaA, map[string]interface{}{"nonce": ""}), noNonce: true, wantErr: errNonce},
		{name: "no nonce sent, token without one (refresh)", token: signed(rsaA, map[string]interface{}{"nonce": nil}), noNonce: true},
		{name: "nonce not a string", token: signed(rsaA, map[string]interface{}{"nonce": 12}), wantErr: errNonce},
		{name: "at_hash matches RS256", token: signed(rsaA, map[string]interface{}{"at_hash": jwtAtHash("RS256", accessToken)}), accessToken: accessToken},
		{name: "at_hash matches ES384", token: signed(func(f *jwtFixture) *jwtSigner { return f.es384 }, map[string]interface{}{"at_hash": jwtAtHash("ES384", accessToken)}), accessToken: accessToken},
		{name: "at_hash matches EdDSA", token: signed(func(f *jwtFixture) *jwtSigner { return f.ed }, map[string]interface{}{"at_hash": jwtAtHash("EdDSA", accessToken)}), accessToken: accessToken},
		{name: "at_hash of another access token", token: signed(rsaA, map[string]interface{}{"at_hash": jwtAtHash("RS256", "another")}), accessToken: accessToken, wantErr: errAccessTokenHash},
		{name: "at_hash with the wrong hash", token: signed(func(f *jwtFixture) *jwtSigner { return f.es384 }, map[string]interface{}{"at_hash": jwtAtHash("RS256", accessToken)}), accessToken: accessToken, wantErr: errAccessTokenHash},
		{name: "at_hash without an access token", token: signed(rsaA, map[string]interface{}{"at_hash": jwtAtHash("RS256", accessToken)}), wantErr: errAccessTokenHash},
		{name: "at_hash not a string", token: signed(rsaA, map[string]interface{}{"at_hash": 5}), accessToken: accessToken, wantErr: errAccessTokenHash},
		{name: "no at_hash with an access token", token: signed(rsaA, nil), accessToken: accessToken},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := jwtNewFixture(t)
			token := tc.token(t, f)
			nonce := jwtTestNonce
			if tc.noNonce {
				nonce = ""
			}
			got, err := verifyIDToken(context.Background(), f.verifier, token, nonce, tc.accessToken)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %q, want none", err)
				}
				if got.Raw != token || got.Subject == "" || got.Claims["iss"] != jwtTestIssuer {
					t.Errorf("got token %+v, want the token's claims", got)
				}
			} else {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				jwtCheckErrorText(t, err, token, tc.accessToken)
			}
		})
	}
}

// jwtCheckErrorText fails when an error reveals the token, its signature, the nonce, the
// access token or the client secret.
func jwtCheckErrorText(t *testing.T, err error, token, accessToken string) {
	t.Helper()
	text := err.Error()
	secrets := []string{token, token[strings.LastIndexByte(token, '.')+1:], jwtTestNonce, jwtTestSecret}
	if accessToken != "" {
		secrets = append(secrets, accessToken)
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(text, s) {
			t.Errorf("error %q reveals %q", text, s)
		}
	}
}

func TestVerifyIDTokenClaimsOut(t *testing.T) {
	f := jwtNewFixture(t)
	now := f.clock.now()
	claims := jwtWith(f.claims(), map[string]interface{}{"exp": 1741965266.25, "email": "a@example.test", "groups": []string{"x", "y"}})
	tok, err := f.verify(f.rsa.sign(t, nil, claims))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got, want := tok.Subject, "user-248289761001"; got != want {
		t.Errorf("got subject %q, want %q", got, want)
	}
	iat, _ := numericDate(tok.Claims["iat"])
	if got, want := numericDateTime(iat), now; !got.Equal(want) {
		t.Errorf("got iat %q, want %q", got, want)
	}
	exp, _ := numericDate(tok.Claims["exp"])
	if got, want := numericDateTime(exp), time.Unix(1741965266, 250000000).UTC(); !got.Equal(want) {
		t.Errorf("got exp %q, want %q", got, want)
	}
	if got, want := tok.Claims["email"], "a@example.test"; got != want {
		t.Errorf("got email %q, want %q", got, want)
	}
	if groups, ok := tok.Claims["groups"].([]interface{}); !ok || len(groups) != 2 {
		t.Errorf("got groups %v, want [x y]", tok.Claims["groups"])
	}
}

func TestAllowedAlgorithms(t *testing.T) {
	tests := []struct {
		name        string
		provider    []string
		configured  []string
		hmacAllowed bool
		want        string // joined with commas
		wantErr     bool
	}{
		{name: "provider lists none: RS256", want: "RS256"},
		{name: "provider list cut to the supported", provider: []string{"none", "RS256", "ES256K", "PS384", "EdDSA", "Ed448", "HS256"}, want: "RS256,PS384,EdDSA"},
		{name: "HMAC with a client secret", provider: []string{"HS256", "RS256", "HS512"}, hmacAllowed: true, want: "HS256,RS256,HS512"},
		{name: "duplicates kept once", provider: []string{"RS256", "RS256"}, want: "RS256"},
		{name: "narrowed by the option", provider: []string{"RS256", "ES256", "PS256"}, configured: []string{"ES256", "PS256"}, want: "ES256,PS256"},
		{name: "option names an algorithm the provider lacks", provider: []string{"RS256"}, configured: []string{"ES256"}, wantErr: true},
		{name: "option names HMAC without a client secret", provider: []string{"HS256"}, configured: []string{"HS256"}, wantErr: true},
		{name: "option names none", provider: []string{"RS256"}, configured: []string{"none"}, wantErr: true},
		{name: "option names an unknown algorithm", provider: []string{"RS256"}, configured: []string{"RS256", "RS1"}, wantErr: true},
		{name: "only none offered", provider: []string{"none"}, wantErr: true},
		{name: "only HMAC offered, no client secret", provider: []string{"HS256"}, wantErr: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := allowedAlgorithms(tc.provider, tc.configured, tc.hmacAllowed)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want %q", err, tc.want)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(got, ","), tc.want)
			}
		})
	}
}

func TestSupportedAlgorithm(t *testing.T) {
	for _, name := range jwtAllAlgorithms {
		if !supportedAlgorithm(name) {
			t.Errorf("got unsupported for %q, want supported", name)
		}
	}
	for _, name := range []string{"", "none", "None", "NONE", "rs256", "ES256K", "ed25519", "Ed448", "RSA-OAEP", "A256GCM", "HS1"} {
		if supportedAlgorithm(name) {
			t.Errorf("got supported for %q, want unsupported", name)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	jwtBenchmarkVerify(b, func(f *jwtFixture) *jwtSigner { return f.rsa })
}

func BenchmarkVerifyES256(b *testing.B) {
	jwtBenchmarkVerify(b, func(f *jwtFixture) *jwtSigner { return f.es256 })
}

// jwtBenchmarkVerify measures a whole verify: parse, key lookup in the cached set,
// signature and claims.
func jwtBenchmarkVerify(b *testing.B, pick func(f *jwtFixture) *jwtSigner) {
	f := jwtNewFixture(b)
	token := pick(f).sign(b, nil, f.claims())
	if _, err := f.verify(token); err != nil {
		b.Fatalf("verify: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.verify(token); err != nil {
			b.Fatalf("verify: %v", err)
		}
	}
}
