package ags

import (
	"context"
	"errors"
	"testing"
	"time"
)

// One small claims table per kind of JWT, each verifier built from the fixture's ID
// token verifier as discovery builds it; the common steps are TestJWTVerifier's.

// jwtKindCase is a case of a kind's table: claims changes on the fixture's valid
// claims (or the kind's own), the signer, and the error wanted.
type jwtKindCase struct {
	name    string
	config  func(v *jwtVerifier) // changes to the kind's verifier
	changes map[string]interface{}
	signer  func(f *jwtFixture) *jwtSigner // nil: RS256
	header  map[string]interface{}         // nil: the signer's
	raw     string                         // when set, the token itself
	wantErr error                          // nil: accepted
}

// jwtKindRun runs a kind's table: verifier makes the kind's verifier from the
// fixture's, base the kind's valid claims, verify the kind's verification.
func jwtKindRun(t *testing.T, tests []jwtKindCase, verifier func(f *jwtFixture) *jwtVerifier,
	base func(f *jwtFixture) map[string]interface{}, verify func(v *jwtVerifier, token string) error, kindErr error) {
	t.Helper()
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := jwtNewFixture(t)
			v := verifier(f)
			if tc.config != nil {
				tc.config(v)
			}
			token := tc.raw
			if token == "" {
				signer := f.rsa
				if tc.signer != nil {
					signer = tc.signer(f)
				}
				token = signer.sign(t, tc.header, jwtWith(base(f), tc.changes))
			}
			err := verify(v, token)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %q, want none", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
			if kindErr != nil && !errors.Is(err, kindErr) {
				t.Errorf("got error %v, want it to be a %q", err, kindErr)
			}
			jwtCheckErrorText(t, err, token, "")
		})
	}
}

func TestAccessTokenVerifierClaims(t *testing.T) {
	now := jwtNewClock().now()
	tests := []jwtKindCase{
		{name: "valid"},
		{name: "any aud (Keycloak's is account)", changes: map[string]interface{}{"aud": "account"}},
		{name: "no aud", changes: map[string]interface{}{"aud": nil}},
		{name: "no sub", changes: map[string]interface{}{"sub": nil}},
		{name: "another sub", changes: map[string]interface{}{"sub": "someone-else"}, wantErr: errSubject},
		{name: "no iat", changes: map[string]interface{}{"iat": nil}},
		{name: "iat in the future", changes: map[string]interface{}{"iat": now.Add(time.Hour).Unix()}, wantErr: errIssuedAt},
		{name: "no exp", changes: map[string]interface{}{"exp": nil}, wantErr: errExpired},
		{name: "another issuer", changes: map[string]interface{}{"iss": "https://evil.example.test/"}, wantErr: errIssuer},
		{name: "HMAC with the client secret, as the ID token may be", signer: func(f *jwtFixture) *jwtSigner { return f.hs }},
		{name: "opaque", raw: "2YotnFZFEjr1zCsicMWpAA", wantErr: errOpaqueAccessToken},
		{name: "three parts, not a JWS", raw: "a.b.c", wantErr: errOpaqueAccessToken},
		{name: "HMAC without a client secret", config: func(v *jwtVerifier) { v.hmacSecret = "" }, signer: func(f *jwtFixture) *jwtSigner { return f.hs }, wantErr: errAccessToken},
	}
	jwtKindRun(t, tests, func(f *jwtFixture) *jwtVerifier { return accessTokenVerifier(f.verifier) },
		func(f *jwtFixture) map[string]interface{} { return f.claims() },
		func(v *jwtVerifier, token string) error {
			_, err := verifyAccessToken(context.Background(), v, token, "user-248289761001")
			return err
		}, nil)
}

func TestBearerVerifierClaims(t *testing.T) {
	tests := []jwtKindCase{
		{name: "valid"},
		{name: "typ at+jwt", header: map[string]interface{}{"alg": "RS256", "kid": "rsa-a", "typ": "at+jwt"}},
		{name: "typ application/at+jwt", header: map[string]interface{}{"alg": "RS256", "kid": "rsa-a", "typ": "application/at+jwt"}},
		{name: "no typ", header: map[string]interface{}{"alg": "RS256", "kid": "rsa-a"}},
		{name: "typ of a logout token", header: map[string]interface{}{"alg": "RS256", "kid": "rsa-a", "typ": "logout+jwt"}, wantErr: errNotAccessToken},
		{name: "aud one of bearerAudiences in an array", changes: map[string]interface{}{"aud": []string{"other", "https://api.example.test"}}},
		{name: "aud the client ID (an ID token's)", changes: map[string]interface{}{"aud": jwtTestClientID}, wantErr: errAudience},
		{name: "no sub", changes: map[string]interface{}{"sub": nil}, wantErr: errSubject},
		{name: "a nonce, as an ID token has", changes: map[string]interface{}{"nonce": "n"}, wantErr: errNotAccessToken},
		{name: "an at_hash", changes: map[string]interface{}{"at_hash": "h"}, wantErr: errNotAccessToken},
		{name: "a c_hash", changes: map[string]interface{}{"c_hash": "h"}, wantErr: errNotAccessToken},
		{name: "no iat", changes: map[string]interface{}{"iat": nil}},
		{name: "no exp", changes: map[string]interface{}{"exp": nil}, wantErr: errExpired},
		{name: "HMAC with the client secret: never", signer: func(f *jwtFixture) *jwtSigner { return f.hs }, wantErr: errAlgorithmNotAllowed},
		{name: "another issuer", changes: map[string]interface{}{"iss": jwtTestIssuer + "/"}, wantErr: errIssuer},
	}
	jwtKindRun(t, tests, func(f *jwtFixture) *jwtVerifier {
		algs, err := allowedAlgorithms(jwtAllAlgorithms, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return bearerTokenVerifier(f.verifier, algs, []string{"https://api.example.test"})
	}, func(f *jwtFixture) map[string]interface{} {
		return jwtWith(f.claims(), map[string]interface{}{"aud": "https://api.example.test", "nonce": nil, "scope": "read"})
	}, func(v *jwtVerifier, token string) error {
		_, err := bearerTokenClaims(context.Background(), v, token)
		return err
	}, nil)
}

func TestLogoutTokenVerifierClaims(t *testing.T) {
	now := jwtNewClock().now()
	event := map[string]interface{}{backChannelLogoutEvent: map[string]interface{}{}}
	tests := []jwtKindCase{
		{name: "sid and sub"},
		{name: "sid only", changes: map[string]interface{}{"sub": nil}},
		{name: "sub only", changes: map[string]interface{}{"sid": nil}},
		{name: "neither sid nor sub", changes: map[string]interface{}{"sid": nil, "sub": nil}, wantErr: errLogoutToken},
		{name: "no event", changes: map[string]interface{}{"events": map[string]interface{}{}}, wantErr: errLogoutToken},
		{name: "a nonce (an ID token)", changes: map[string]interface{}{"nonce": jwtTestNonce}, wantErr: errNonce},
		{name: "no jti", changes: map[string]interface{}{"jti": nil}, wantErr: errLogoutToken},
		{name: "no iat", changes: map[string]interface{}{"iat": nil}, wantErr: errIssuedAt},
		{name: "iat older than maxLogoutTokenAge and the skew", changes: map[string]interface{}{"iat": now.Add(-maxLogoutTokenAge - 61*time.Second).Unix()}, wantErr: errIssuedAt},
		{name: "iat older than maxLogoutTokenAge, within the skew", changes: map[string]interface{}{"iat": now.Add(-maxLogoutTokenAge - 59*time.Second).Unix()}},
		{name: "iat in the future", changes: map[string]interface{}{"iat": now.Add(2 * time.Minute).Unix()}, wantErr: errIssuedAt},
		{name: "no exp", changes: map[string]interface{}{"exp": nil}},
		{name: "exp past", changes: map[string]interface{}{"exp": now.Add(-2 * time.Minute).Unix()}, wantErr: errExpired},
		{name: "aud another client", changes: map[string]interface{}{"aud": "another-client"}, wantErr: errAudience},
		{name: "aud holding a number", changes: map[string]interface{}{"aud": []interface{}{jwtTestClientID, 7}}, wantErr: errAudience},
		{name: "azp another client", changes: map[string]interface{}{"azp": "another-client"}, wantErr: errAuthorizedParty},
		{name: "another issuer", changes: map[string]interface{}{"iss": jwtTestIssuer + "/"}, wantErr: errIssuer},
		{name: "HMAC with the client secret, as the ID token may be", signer: func(f *jwtFixture) *jwtSigner { return f.hs }},
	}
	jwtKindRun(t, tests, func(f *jwtFixture) *jwtVerifier { return logoutTokenVerifier(f.verifier) },
		func(f *jwtFixture) map[string]interface{} {
			return jwtWith(f.claims(), map[string]interface{}{"nonce": nil, "sid": "sid-1", "jti": "jti-1", "events": event})
		}, func(v *jwtVerifier, token string) error {
			_, err := verifyLogoutToken(context.Background(), v, token)
			return err
		}, errLogoutToken)
}

func TestLogoutTokenUntil(t *testing.T) {
	f := jwtNewFixture(t)
	now := f.clock.now()
	v := logoutTokenVerifier(f.verifier)
	claims := jwtWith(f.claims(), map[string]interface{}{"nonce": nil, "jti": "j", "events": map[string]interface{}{backChannelLogoutEvent: map[string]interface{}{}}})
	for _, exp := range []time.Duration{0, time.Hour} {
		c := jwtWith(claims, map[string]interface{}{"exp": nil})
		want := now.Add(f.verifier.clockSkew + maxLogoutTokenAge)
		if exp != 0 {
			c["exp"] = now.Add(exp).Unix()
			want = now.Add(exp + f.verifier.clockSkew)
		}
		tok, err := verifyLogoutToken(context.Background(), v, f.rsa.sign(t, nil, c))
		if err != nil {
			t.Fatal(err)
		}
		if !tok.until.Equal(want) || tok.sub != "user-248289761001" || tok.jti != "j" {
			t.Errorf("exp in %s: got until %s, sub %q, jti %q; want %s", exp, tok.until, tok.sub, tok.jti, want)
		}
	}
}

func TestCoreIdentityVerifierClaims(t *testing.T) {
	const identityIssuer = "https://identity.example.test/"
	now := jwtNewClock().now()
	vc := map[string]interface{}{"credentialSubject": map[string]interface{}{"name": []interface{}{}}}
	es256 := func(f *jwtFixture) *jwtSigner { return f.es256 }
	tests := []jwtKindCase{
		{name: "valid"},
		{name: "vot above the level", changes: map[string]interface{}{"vot": "P3"}},
		{name: "vot below the level", changes: map[string]interface{}{"vot": "P1"}, wantErr: errCoreIdentity},
		{name: "no vot", changes: map[string]interface{}{"vot": nil}, wantErr: errCoreIdentity},
		{name: "no credential subject", changes: map[string]interface{}{"vc": map[string]interface{}{}}, wantErr: errCoreIdentity},
		{name: "another user", changes: map[string]interface{}{"sub": "someone-else"}, wantErr: errSubject},
		{name: "no sub", changes: map[string]interface{}{"sub": nil}, wantErr: errSubject},
		{name: "the sign-in's issuer", changes: map[string]interface{}{"iss": jwtTestIssuer}, wantErr: errIssuer},
		{name: "aud an array holding the client", changes: map[string]interface{}{"aud": []string{"x", jwtTestClientID}}},
		{name: "aud another client", changes: map[string]interface{}{"aud": "another-client"}, wantErr: errAudience},
		{name: "no exp", changes: map[string]interface{}{"exp": nil}, wantErr: errExpired},
		{name: "nbf in the future", changes: map[string]interface{}{"nbf": now.Add(2 * time.Minute).Unix()}, wantErr: errNotYetValid},
		{name: "iat not read", changes: map[string]interface{}{"iat": "not a date"}},
		{name: "RS256: ES256 only", signer: func(f *jwtFixture) *jwtSigner { return f.rsa }, wantErr: errAlgorithmNotAllowed},
		{name: "HS256: ES256 only", signer: func(f *jwtFixture) *jwtSigner { return f.hs }, wantErr: errAlgorithmNotAllowed},
	}
	for i := range tests {
		if tests[i].signer == nil {
			tests[i].signer = es256
		}
	}
	jwtKindRun(t, tests, func(f *jwtFixture) *jwtVerifier {
		return coreIdentityVerifier(f.verifier, &coreIdentityRules{issuer: identityIssuer, level: 2}, f.verifier.keys)
	}, func(f *jwtFixture) map[string]interface{} {
		return jwtWith(f.claims(), map[string]interface{}{"iss": identityIssuer, "nonce": nil, "vot": "P2", "vc": vc})
	}, func(v *jwtVerifier, token string) error {
		_, err := verifyCoreIdentity(context.Background(), v, token, "user-248289761001", 2)
		return err
	}, errCoreIdentity)
}
