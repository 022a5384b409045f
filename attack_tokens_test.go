package ags

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The OpenID Foundation's relying-party cases, each a whole sign-in through
// ServeHTTP with the token the provider returns made to fail one check.

// atkKeys are the keys the provider signs with in these cases (testdata/jwt).
type atkKeys struct {
	rs  *jwtSigner // RS256, kid rsa-a
	rsB *jwtSigner // RS256, kid rsa-b: the attacker's key, or the next one at a rotation
	es  *jwtSigner // ES256, kid ec-256
	hs  *jwtSigner // HS256 with the client secret
}

func atkNewKeys(t *testing.T) *atkKeys {
	t.Helper()
	return &atkKeys{
		rs:  jwtNewSigner(t, "rsa2048_a.pem", "RS256", "rsa-a"),
		rsB: jwtNewSigner(t, "rsa2048_b.pem", "RS256", "rsa-b"),
		es:  jwtNewSigner(t, "ec_p256.pem", "ES256", "ec-256"),
		hs:  &jwtSigner{alg: "HS256", secret: []byte(tpClientSecret)},
	}
}

// atkClaims are the valid claims of the test user's ID token.
func atkClaims(tp *testProvider, nonce, accessToken string) map[string]interface{} {
	now := tp.now()
	return map[string]interface{}{
		"iss": tp.issuer, "aud": tpClientID, "sub": "user-42",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": nonce, "at_hash": jwtAtHash("RS256", accessToken),
	}
}

// atkKeySet is the key set document of signers.
func atkKeySet(t *testing.T, signers ...*jwtSigner) []byte {
	t.Helper()
	var jwks []map[string]interface{}
	for _, s := range signers {
		jwks = append(jwks, s.jwk(t, false))
	}
	return jwtKeySetDoc(t, jwks...)
}

// atkB64JSON is the base64url of v's JSON.
func atkB64JSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return jwsEncoding.EncodeToString(b)
}

func TestAttackIDTokens(t *testing.T) {
	k := atkNewKeys(t)
	pub, err := x509.MarshalPKIXPublicKey(k.rs.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	// sign signs the claims, edited, with s under its usual header.
	sign := func(s *jwtSigner, changes map[string]interface{}) func(t *testing.T, c map[string]interface{}) string {
		return func(t *testing.T, c map[string]interface{}) string { return s.sign(t, nil, jwtWith(c, changes)) }
	}
	// withHeader signs the claims with s under its header with changes (nil deletes).
	withHeader := func(s *jwtSigner, changes map[string]interface{}) func(t *testing.T, c map[string]interface{}) string {
		return func(t *testing.T, c map[string]interface{}) string { return s.sign(t, jwtWith(s.header(), changes), c) }
	}
	rs := func(t *testing.T, c map[string]interface{}) string { return k.rs.sign(t, nil, c) }
	cases := []struct {
		name   string
		algs   []string     // the provider's id_token_signing_alg_values_supported; nil: RS256
		keys   []*jwtSigner // its key set; nil: k.rs alone
		token  func(t *testing.T, c map[string]interface{}) string
		accept bool
		reason string // in the log line of the refusal: the check that failed
	}{
		{name: "valid RS256", token: rs, accept: true},
		{name: "valid ES256", algs: []string{"ES256"}, keys: []*jwtSigner{k.es}, token: sign(k.es, nil), accept: true},
		{name: "valid HS256 with the client secret", algs: []string{"HS256"}, token: sign(k.hs, nil), accept: true},

		{name: "bad signature RS256", reason: "invalid signature", token: func(t *testing.T, c map[string]interface{}) string { return jwtTamper(rs(t, c)) }},
		{name: "bad signature ES256", reason: "invalid signature", algs: []string{"ES256"}, keys: []*jwtSigner{k.es}, token: func(t *testing.T, c map[string]interface{}) string {
			return jwtTamper(k.es.sign(t, nil, c))
		}},
		{name: "bad signature HS256", reason: "invalid signature", algs: []string{"HS256"}, token: func(t *testing.T, c map[string]interface{}) string {
			return jwtTamper(k.hs.sign(t, nil, c))
		}},
		{name: "RS256 payload changed after signing", reason: "invalid signature", token: func(t *testing.T, c map[string]interface{}) string {
			parts := strings.Split(rs(t, c), ".")
			return parts[0] + "." + atkB64JSON(jwtWith(c, map[string]interface{}{"sub": "admin"})) + "." + parts[2]
		}},
		{name: "signed by a key not in the set, under its kid", reason: "invalid signature", token: func(t *testing.T, c map[string]interface{}) string {
			return k.rsB.sign(t, k.rs.header(), c)
		}},
		{name: "alg none", reason: "algorithm not allowed", token: func(t *testing.T, c map[string]interface{}) string {
			return atkB64JSON(map[string]string{"alg": "none", "typ": "JWT"}) + "." + atkB64JSON(c) + "."
		}},
		{name: "alg none announced by the provider", reason: "algorithm not allowed", algs: []string{"none", "RS256"}, token: func(t *testing.T, c map[string]interface{}) string {
			return atkB64JSON(map[string]string{"alg": "none"}) + "." + atkB64JSON(c) + "."
		}},
		{name: "alg None with the RS256 signature", reason: "algorithm not allowed", token: func(t *testing.T, c map[string]interface{}) string {
			parts := strings.Split(rs(t, c), ".")
			return atkB64JSON(map[string]string{"alg": "None", "kid": "rsa-a"}) + "." + parts[1] + "." + parts[2]
		}},
		{name: "HS256 keyed with the provider's public key", reason: "invalid signature", algs: []string{"RS256", "HS256"}, token: func(t *testing.T, c map[string]interface{}) string {
			return jwtHMACWith(t, pubPEM, "rsa-a", c)
		}},
		{name: "HS256 when the provider announces RS256 only", reason: "algorithm not allowed", token: sign(k.hs, nil)},
		{name: "RS256 when the provider announces ES256 only", reason: "algorithm not allowed", algs: []string{"ES256"}, keys: []*jwtSigner{k.rs, k.es}, token: rs},
		{name: "the attacker's key in a jwk header", reason: "unknown signing key", token: withHeader(k.rsB, map[string]interface{}{"jwk": k.rsB.jwk(t, false)})},
		{name: "the attacker's key in a jwk header, under the known kid", reason: "invalid signature", token: withHeader(k.rsB, map[string]interface{}{"kid": "rsa-a", "jwk": k.rsB.jwk(t, false)})},
		{name: "the attacker's key set in a jku header", reason: "unknown signing key", token: withHeader(k.rsB, map[string]interface{}{"jku": "https://evil.example/jwks"})},
		{name: "a kid that is a path", reason: "unknown signing key", token: withHeader(k.rs, map[string]interface{}{"kid": "../../../dev/null"})},

		{name: "issuer mismatch", reason: "wrong issuer", token: sign(k.rs, map[string]interface{}{"iss": "https://evil.example"})},
		{name: "issuer with a trailing slash", reason: "wrong issuer", token: func(t *testing.T, c map[string]interface{}) string {
			return k.rs.sign(t, nil, jwtWith(c, map[string]interface{}{"iss": c["iss"].(string) + "/"}))
		}},
		{name: "audience mismatch", reason: "wrong audience", token: sign(k.rs, map[string]interface{}{"aud": "another-client"})},
		{name: "audience list without the client", reason: "wrong audience", token: sign(k.rs, map[string]interface{}{"aud": []string{"another-client", "api"}})},
		{name: "audience list with the client, azp another", reason: "wrong authorized party", token: sign(k.rs, map[string]interface{}{"aud": []string{tpClientID, "another-client"}, "azp": "another-client"})},
		{name: "azp mismatch", reason: "wrong authorized party", token: sign(k.rs, map[string]interface{}{"azp": "another-client"})},
		{name: "audience list with the client, azp the client", token: sign(k.rs, map[string]interface{}{"aud": []string{tpClientID, "api"}, "azp": tpClientID}), accept: true},
		{name: "sub missing", reason: "subject rejected: sub missing", token: sign(k.rs, map[string]interface{}{"sub": nil})},
		{name: "iat missing", reason: "bad issued-at time", token: sign(k.rs, map[string]interface{}{"iat": nil})},
		{name: "iat an hour ahead", reason: "bad issued-at time", token: func(t *testing.T, c map[string]interface{}) string {
			return k.rs.sign(t, nil, jwtWith(c, map[string]interface{}{"iat": time.Now().Add(time.Hour).Unix()}))
		}},
		{name: "nonce invalid", reason: "nonce mismatch", token: sign(k.rs, map[string]interface{}{"nonce": "nonce-of-another-login-0123456789"})},
		{name: "nonce missing", reason: "nonce mismatch", token: sign(k.rs, map[string]interface{}{"nonce": nil})},
		{name: "at_hash of another access token", reason: "access token hash mismatch", token: sign(k.rs, map[string]interface{}{"at_hash": jwtAtHash("RS256", "another")})},

		{name: "kid absent, one key", token: withHeader(k.rs, map[string]interface{}{"kid": nil}), accept: true},
		{name: "kid absent, several keys", reason: "ambiguous signing key", keys: []*jwtSigner{k.rs, k.rsB}, token: withHeader(k.rs, map[string]interface{}{"kid": nil})},
		{name: "kid absent, several keys of which one fits the alg", algs: []string{"RS256", "ES256"}, keys: []*jwtSigner{k.rs, k.es},
			token: withHeader(k.es, map[string]interface{}{"kid": nil}), accept: true},
		{name: "kid unknown", reason: "unknown signing key", token: withHeader(k.rs, map[string]interface{}{"kid": "rsa-unknown"})},

		{name: "JWE (five parts)", reason: "malformed token", token: func(t *testing.T, c map[string]interface{}) string {
			return atkB64JSON(map[string]string{"alg": "RSA-OAEP", "enc": "A256GCM"}) + ".a.b.c.d"
		}},
		{name: "JSON serialization with two signatures", reason: "malformed token", token: func(t *testing.T, c map[string]interface{}) string {
			parts := strings.Split(rs(t, c), ".")
			b, _ := json.Marshal(map[string]interface{}{"payload": parts[1], "signatures": []interface{}{
				map[string]string{"protected": parts[0], "signature": parts[2]},
				map[string]string{"protected": atkB64JSON(map[string]string{"alg": "none"}), "signature": ""},
			}})
			return string(b)
		}},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			keys := tc.keys
			if keys == nil {
				keys = []*jwtSigner{k.rs}
			}
			tp.atkKeys = atkKeySet(t, keys...)
			tp.atkAlgs = tc.algs
			tp.atkToken = func(nonce, accessToken string) string { return tc.token(t, atkClaims(tp, nonce, accessToken)) }
			m, app := newFlow(t, flowConfig(tp))
			log := atkCaptureLog(m)
			b := newFlowBrowser(t, m)
			rec := b.signIn("/private")
			if tc.accept {
				atkWantSignedIn(t, b, app, rec, "/private")
				return
			}
			atkWantRejected(t, b, app, tp, rec, http.StatusUnauthorized, "did not pass the security checks")
			if !strings.Contains(log.String(), "id token rejected on GET /oidc_callback: "+tc.reason) {
				t.Errorf("log: got %q, want the refusal for %q", log.String(), tc.reason)
			}
		})
	}
}

// TestAttackKeyRotation: the provider adds a key and signs with it, then drops the
// old one; sign-ins go on. Tokens naming unknown keys do not make ags fetch the key
// set more than once every few seconds.
func TestAttackKeyRotation(t *testing.T) {
	k := atkNewKeys(t)
	clock := &jwtClock{t: time.Now()}
	tp := newTestProvider(t)
	tp.now = clock.now
	signer, kid := k.rs, ""
	tp.atkKeys = atkKeySet(t, k.rs)
	tp.atkToken = func(nonce, accessToken string) string {
		h := signer.header()
		if kid != "" {
			h["kid"] = kid
		}
		return signer.sign(t, h, atkClaims(tp, nonce, accessToken))
	}
	m, app := newFlow(t, flowConfig(tp))
	setClock(m, clock.now)
	fetches := func() int {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return tp.atkJWKSCalls
	}
	signIn := func(name string, accept bool) {
		t.Helper()
		b := newFlowBrowser(t, m)
		rec := b.signIn("/private")
		if accept && (rec.Code != http.StatusFound || rec.Header().Get("Location") != "/private") {
			t.Errorf("%s: got %d %q, want the sign-in", name, rec.Code, rec.Body.String())
		}
		if !accept {
			atkWantRejected(t, b, app, tp, rec, http.StatusUnauthorized, "did not pass the security checks")
		}
	}

	signIn("before the rotation", true)
	tp.set(func(tp *testProvider) {
		tp.atkKeys = atkKeySet(t, k.rs, k.rsB)
		signer = k.rsB
	})
	clock.advance(jwksRefetchInterval + time.Second)
	signIn("signed with the new key", true)
	if got := fetches(); got != 2 {
		t.Errorf("got %d key set fetches, want 2: the new kid fetches the set again", got)
	}
	tp.set(func(tp *testProvider) { tp.atkKeys = atkKeySet(t, k.rsB) })
	signIn("old key dropped", true)

	clock.advance(jwksRefetchInterval + time.Second)
	tp.set(func(tp *testProvider) { kid = "rsa-unknown" })
	for i := 0; i < 4; i++ {
		signIn("unknown kid", false)
	}
	if got := fetches(); got != 3 {
		t.Errorf("got %d key set fetches, want 3: four unknown kids within seconds fetch once", got)
	}
}
