package ags

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientKey reads a key of testdata/client (made with openssl, see its README) and
// returns its PEM and its public half.
func clientKey(t *testing.T, name string) (string, interface{}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "client", name))
	if err != nil {
		t.Fatal(err)
	}
	key, err := parsePrivateKeyPEM(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return string(data), &k.PublicKey
	case *ecdsa.PrivateKey:
		return string(data), &k.PublicKey
	case ed25519.PrivateKey:
		return string(data), k.Public()
	}
	t.Fatalf("%s: key of type %T", name, key)
	return "", nil
}

func TestParsePrivateKeyPEM(t *testing.T) {
	cases := []struct {
		file, alg, wantErr string
	}{
		{"rsa-2048-pkcs1.pem", "RS256", ""},
		{"rsa-2048-pkcs8.pem", "RS256", ""},
		{"ec-p256-sec1.pem", "ES256", ""}, // after an EC PARAMETERS block
		{"ec-p256-pkcs8.pem", "ES256", ""},
		{"ec-p384-pkcs8.pem", "ES384", ""},
		{"ec-p521-sec1.pem", "ES512", ""},
		{"ed25519.pem", "EdDSA", ""},
		{"rsa-1024-pkcs1.pem", "", "at least 2048 bits"},
		{"ec-p256-encrypted.pem", "", "encrypted"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "client", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			key, err := parsePrivateKeyPEM(data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			alg, err := signingAlgorithm(key, "")
			if err != nil || alg != tc.alg {
				t.Errorf("got alg %q (%v), want %q", alg, err, tc.alg)
			}
		})
	}
	if _, err := parsePrivateKeyPEM([]byte("not a key")); err == nil {
		t.Error("got no error for a document without PEM")
	}
}

// TestJWKThumbprint: the RFC 7638 section 3.1 example, and the members of the
// thumbprint input for each key type in their lexicographic order.
func TestJWKThumbprint(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	rfc := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}}
	if _, got := publicJWK(rfc); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("RFC 7638 example: got %q, want %q", got, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
	}
	cases := []struct {
		file    string
		members []string
		coord   int // bytes of x (and y)
	}{
		{"ec-p256-sec1.pem", []string{"crv", "kty", "x", "y"}, 32},
		{"ec-p521-sec1.pem", []string{"crv", "kty", "x", "y"}, 66},
		{"ed25519.pem", []string{"crv", "kty", "x"}, 32},
		{"rsa-2048-pkcs8.pem", []string{"e", "kty", "n"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			pemText, _ := clientKey(t, tc.file)
			key, _ := parsePrivateKeyPEM([]byte(pemText))
			jwk, _ := publicJWK(key)
			var m map[string]string
			if err := json.Unmarshal([]byte(jwk), &m); err != nil {
				t.Fatalf("public JWK %s: %v", jwk, err)
			}
			var names []string
			at := 0
			for _, name := range tc.members {
				i := strings.Index(jwk[at:], `"`+name+`":`)
				if i < 0 {
					t.Fatalf("got %s, want the members %v in this order", jwk, tc.members)
				}
				at += i
				names = append(names, name)
			}
			if len(m) != len(names) {
				t.Errorf("got %s, want only %v", jwk, tc.members)
			}
			if x, _ := base64.RawURLEncoding.DecodeString(m["x"]); tc.coord > 0 && len(x) != tc.coord {
				t.Errorf("got x of %d bytes, want %d (fixed width)", len(x), tc.coord)
			}
		})
	}
}

func TestClientAuthConfigErrors(t *testing.T) {
	ecPEM, _ := clientKey(t, "ec-p256-pkcs8.pem")
	rsaPEM, _ := clientKey(t, "rsa-2048-pkcs8.pem")
	cases := []struct {
		name    string
		edit    func(c *Config)
		wantErr string // "" = accepted
	}{
		{"key only, no secret", func(c *Config) { c.ClientSecret = ""; c.ClientPrivateKey = ecPEM }, ""},
		{"key on one line", func(c *Config) { c.ClientSecret = ""; c.ClientPrivateKey = strings.ReplaceAll(ecPEM, "\n", `\n`) }, ""},
		{"client_secret_jwt with a key", func(c *Config) {
			c.ClientAuthMethod = "client_secret_jwt"
			c.ClientSecret = tpClientSecret
			c.ClientPrivateKey = ecPEM
		}, "leave clientPrivateKeyFile and clientPrivateKey empty"},
		{"key file", func(c *Config) { c.ClientSecret = ""; c.ClientPrivateKeyFile = "testdata/client/ed25519.pem" }, ""},
		{"private_key_jwt", func(c *Config) { c.ClientAuthMethod = "private_key_jwt"; c.ClientPrivateKey = ecPEM }, ""},
		{"PS256 with RSA", func(c *Config) { c.ClientPrivateKey = rsaPEM; c.ClientSigningAlgorithm = "PS256" }, ""},
		{"client_secret_jwt", func(c *Config) {
			c.ClientAuthMethod = "client_secret_jwt"
			c.ClientSecret = tpClientSecret
		}, ""},
		{"vtr and ui_locales", func(c *Config) { c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`, "ui_locales": "cy"} }, ""},
		{"unknown method", func(c *Config) { c.ClientAuthMethod = "tls_client_auth" }, "clientAuthMethod must be auto, client_secret_basic"},
		{"no secret, no key", func(c *Config) { c.ClientSecret = "" }, "clientSecret (or clientSecretFile) is required, unless clientPrivateKeyFile"},
		{"private_key_jwt without key", func(c *Config) { c.ClientAuthMethod = "private_key_jwt" }, "clientPrivateKeyFile (or clientPrivateKey) is required"},
		{"basic with key only", func(c *Config) {
			c.ClientSecret = ""
			c.ClientAuthMethod = "client_secret_basic"
			c.ClientPrivateKey = ecPEM
		}, "clientSecret (or clientSecretFile) is required"},
		{"key and key file", func(c *Config) { c.ClientPrivateKey = ecPEM; c.ClientPrivateKeyFile = "testdata/client/ed25519.pem" }, "cannot both be set"},
		{"key file missing", func(c *Config) { c.ClientPrivateKeyFile = "testdata/client/none.pem" }, "clientPrivateKeyFile cannot be read"},
		{"not PEM", func(c *Config) { c.ClientPrivateKey = "secret" }, "clientPrivateKey: no PEM private key found"},
		{"weak RSA", func(c *Config) { c.ClientPrivateKeyFile = "testdata/client/rsa-1024-pkcs1.pem" }, "clientPrivateKeyFile: an RSA key needs at least 2048 bits"},
		{"encrypted", func(c *Config) { c.ClientPrivateKeyFile = "testdata/client/ec-p256-encrypted.pem" }, "encrypted"},
		{"alg not the key's", func(c *Config) { c.ClientPrivateKey = ecPEM; c.ClientSigningAlgorithm = "ES384" }, `clientSigningAlgorithm "ES384" does not fit the client's key (it signs ES256)`},
		{"PS256 with EC", func(c *Config) { c.ClientPrivateKey = ecPEM; c.ClientSigningAlgorithm = "PS256" }, "does not fit"},
		{"alg without key", func(c *Config) { c.ClientSigningAlgorithm = "RS256" }, "clientSigningAlgorithm needs clientPrivateKeyFile"},
		{"client_secret_jwt short secret", func(c *Config) { c.ClientAuthMethod = "client_secret_jwt" }, "clientSecret must be at least 32 bytes"},
		{"client_secret_jwt RS256", func(c *Config) {
			c.ClientAuthMethod = "client_secret_jwt"
			c.ClientSecret = tpClientSecret
			c.ClientSigningAlgorithm = "RS256"
		}, "clientSigningAlgorithm must be HS256, HS384 or HS512"},
		{"kid without key", func(c *Config) { c.ClientKeyID = "k1" }, "clientKeyID needs clientPrivateKeyFile"},
		{"kid with a space", func(c *Config) { c.ClientPrivateKey = ecPEM; c.ClientKeyID = "key 1" }, "clientKeyID must be printable ASCII"},
		{"authParams bad name", func(c *Config) { c.AuthParams = map[string]string{"a b": "x"} }, `authParams: "a b" is not a parameter name`},
		{"authParams state", func(c *Config) { c.AuthParams = map[string]string{"state": "x"} }, `authParams cannot set "state"`},
		{"authParams Redirect_URI", func(c *Config) { c.AuthParams = map[string]string{"Redirect_URI": "x"} }, `authParams cannot set "Redirect_URI"`},
		{"bad audience option", func(c *Config) { c.ClientAssertionAudience = "aud" }, "clientAssertionAudience must be token_endpoint or issuer"},
		{"authParams response_mode", func(c *Config) { c.AuthParams = map[string]string{"response_mode": "form_post"} }, `authParams cannot set "response_mode"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfgValid()
			tc.edit(c)
			_, err := c.resolved(func(string) string { return "" }).validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

func TestClientAuthFromEnvironment(t *testing.T) {
	env := map[string]string{
		"AGS_CLIENT_AUTH_METHOD":       "private_key_jwt",
		"AGS_CLIENT_PRIVATE_KEY_FILE":  "testdata/client/rsa-2048-pkcs1.pem",
		"AGS_CLIENT_KEY_ID":            "env-kid",
		"AGS_CLIENT_SIGNING_ALGORITHM": "PS256",
		"AGS_CLIENT_AUTH_PARAMS":       `vtr=["Cl.Cm"]&ui_locales=cy`,
	}
	c := cfgValid()
	c.ClientSecret = ""
	s, err := c.resolved(func(k string) string { return env[k] }).validate()
	if err != nil {
		t.Fatal(err)
	}
	a := s.clientAuth
	checks := []struct{ name, got, want string }{
		{"method", a.method, "private_key_jwt"},
		{"kid", a.kid, "env-kid"},
		{"alg", a.keyAlg, "PS256"},
		{"vtr", s.authParams.Get("vtr"), `["Cl.Cm"]`},
		{"ui_locales", s.authParams.Get("ui_locales"), "cy"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	// An option set in Traefik's configuration wins over the environment.
	c.AuthParams = map[string]string{"prompt": "login"}
	s, err = c.resolved(func(k string) string { return env[k] }).validate()
	if err != nil || s.authParams.Encode() != "prompt=login" {
		t.Errorf("got authParams %q (%v), want prompt=login alone", s.authParams.Encode(), err)
	}
}

func TestChooseAuthMethod(t *testing.T) {
	all := []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"}
	cases := []struct {
		name       string
		method     string
		secret     bool
		keyAlg     string // "" = no key
		methods    []string
		algs       []string
		wantMethod string
		wantAlg    string
		wantErr    string
	}{
		{"auto, secret, nothing announced", "auto", true, "", nil, nil, "client_secret_basic", "", ""},
		{"auto, secret, all", "auto", true, "", all, nil, "client_secret_basic", "", ""},
		{"auto, secret, post and jwt", "auto", true, "", []string{"private_key_jwt", "client_secret_post"}, nil, "client_secret_post", "", ""},
		{"auto, secret and key, all", "auto", true, "ES256", all, nil, "client_secret_basic", "", ""},
		{"auto, key, all", "auto", false, "ES256", all, nil, "private_key_jwt", "ES256", ""},
		{"auto, key, One Login", "auto", false, "RS256", []string{"private_key_jwt", "client_secret_post"}, []string{"ES256", "RS256"}, "private_key_jwt", "RS256", ""},
		{"auto, secret, jwt only", "auto", true, "", []string{"private_key_jwt"}, nil, "", "", "the token endpoint supports private_key_jwt, ags has a client secret"},
		{"auto, key, basic only", "auto", false, "ES256", nil, nil, "", "", "the token endpoint supports client_secret_basic, ags has a private key"},
		{"explicit, announced", "private_key_jwt", true, "EdDSA", all, nil, "private_key_jwt", "EdDSA", ""},
		{"explicit, not announced", "private_key_jwt", false, "ES256", []string{"client_secret_basic"}, nil, "", "", "clientAuthMethod is private_key_jwt, the token endpoint supports client_secret_basic"},
		{"post, not announced", "client_secret_post", true, "", nil, nil, "", "", "clientAuthMethod is client_secret_post"},
		{"alg not announced", "auto", false, "ES384", all, []string{"RS256", "ES256"}, "", "", "signed with ES384, the token endpoint accepts RS256, ES256"},
		{"PS256 announced", "auto", false, "PS256", all, []string{"PS256"}, "private_key_jwt", "PS256", ""},
		{"PS256 not announced", "auto", false, "PS256", all, nil, "", "", "signed with PS256"},
		{"client_secret_jwt", "client_secret_jwt", true, "HS256", all, nil, "client_secret_jwt", "HS256", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &clientAuth{method: tc.method, clientID: "c", keyAlg: tc.keyAlg}
			if tc.secret {
				a.secret = "s"
			}
			if tc.keyAlg != "" && tc.method != "client_secret_jwt" {
				a.key = struct{}{}
			}
			method, alg, err := a.choose(tc.methods, tc.algs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, error %v, want an error with %q", method, err, tc.wantErr)
				}
				return
			}
			if err != nil || method != tc.wantMethod || alg != tc.wantAlg {
				t.Errorf("got %q %q (%v), want %q %q", method, alg, err, tc.wantMethod, tc.wantAlg)
			}
		})
	}
}

// TestAssertionClaims pins the client assertion's header and claims.
func TestAssertionClaims(t *testing.T) {
	pemText, _ := clientKey(t, "ec-p256-sec1.pem")
	c := cfgValid()
	c.ClientPrivateKey = pemText
	c.ClientAuthMethod = "private_key_jwt"
	s, err := c.resolved(func(string) string { return "" }).validate()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	const aud = "https://id.example.org/oauth2/token"
	first, err := s.clientAuth.assertion(aud, now)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := s.clientAuth.assertion(aud, now)
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		t.Fatalf("got %q, want a compact JWS", first)
	}
	var header, claims map[string]interface{}
	for i, dst := range []*map[string]interface{}{&header, &claims} {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[i])
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	_, thumbprint := publicJWK(s.clientAuth.key)
	wantHeader := map[string]interface{}{"alg": "ES256", "typ": "JWT", "kid": thumbprint}
	if len(header) != len(wantHeader) {
		t.Errorf("got header %v, want %v", header, wantHeader)
	}
	for k, v := range wantHeader {
		if header[k] != v {
			t.Errorf("header %s: got %v, want %v", k, header[k], v)
		}
	}
	wantClaims := map[string]interface{}{
		"iss": "client", "sub": "client", "aud": aud,
		"iat": float64(now.Unix()), "exp": float64(now.Unix() + 300),
	}
	for k, v := range wantClaims {
		if claims[k] != v {
			t.Errorf("claim %s: got %v, want %v", k, claims[k], v)
		}
	}
	jti, _ := claims["jti"].(string)
	if len(jti) < 22 || strings.Contains(second, jti) {
		t.Errorf("jti %q: want at least 128 random bits, fresh in every assertion", jti)
	}
	if len(claims) != 6 {
		t.Errorf("got claims %v, want only iss, sub, aud, jti, iat, exp", claims)
	}
	pub := &s.clientAuth.key.(*ecdsa.PrivateKey).PublicKey
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := verifyJWSSignature("ES256", pub, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		t.Errorf("the assertion's signature: %v", err)
	}
}

// tpAssertionConfig is flowConfig for a client that signs assertions with a key of
// testdata/client, registered at tp as the only way it may authenticate.
func tpAssertionConfig(t *testing.T, tp *testProvider, file string) *Config {
	t.Helper()
	pemText, pub := clientKey(t, file)
	tp.clientKey = pub
	tp.authMethods = []string{"client_secret_basic", "private_key_jwt"}
	c := flowConfig(tp)
	c.ClientSecret = ""
	c.ClientPrivateKey = pemText
	return c
}

func TestPrivateKeyJWTSignIn(t *testing.T) {
	cases := []struct {
		file, alg, asked string
	}{
		{"rsa-2048-pkcs1.pem", "RS256", ""},
		{"rsa-2048-pkcs8.pem", "PS256", "PS256"},
		{"ec-p256-sec1.pem", "ES256", ""},
		{"ec-p384-pkcs8.pem", "ES384", ""},
		{"ec-p521-sec1.pem", "ES512", ""},
		{"ed25519.pem", "EdDSA", ""},
	}
	for _, tc := range cases {
		t.Run(tc.alg, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.refreshToken = "refresh-1"
			c := tpAssertionConfig(t, tp, tc.file)
			c.ClientSigningAlgorithm = tc.asked
			c.Refresh = "true"
			if tc.asked == "PS256" {
				tp.authSigningAlgs = []string{"RS256", "PS256"}
			}
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			if rec := b.signIn("/private"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/private" {
				t.Fatalf("sign-in: got %d to %q, want 302 to /private; %s", rec.Code, rec.Header().Get("Location"), rec.Body.String())
			}
			if len(tp.assertions) != 1 {
				t.Fatalf("got %d assertions accepted, want 1", len(tp.assertions))
			}
			if got := tp.assertions[0].header["alg"]; got != tc.alg {
				t.Errorf("alg: got %v, want %q", got, tc.alg)
			}
			_, thumbprint := publicJWK(m.cfg.clientAuth.key)
			if got := tp.assertions[0].header["kid"]; got != thumbprint {
				t.Errorf("kid: got %v, want the thumbprint %q", got, thumbprint)
			}
			if tp.tokenAuth[0] != "" || tp.tokenForms[0].Get("client_secret") != "" || tp.tokenForms[0].Get("client_id") != tpClientID {
				t.Errorf("got Authorization %q, client_secret %q, client_id %q: want the assertion alone", tp.tokenAuth[0], tp.tokenForms[0].Get("client_secret"), tp.tokenForms[0].Get("client_id"))
			}
			// Refresh authenticates with a new assertion (the provider refuses a replay).
			if _, err := m.refreshGrant(context.Background(), &session{RefreshToken: "refresh-1", Claims: map[string]interface{}{"sub": "user-42"}}); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if len(tp.assertions) != 2 {
				t.Errorf("got %d assertions accepted after a refresh, want 2", len(tp.assertions))
			}
		})
	}
}

// TestAssertionAudienceIssuer: clientAssertionAudience issuer makes aud the issuer,
// which a provider expecting the token endpoint refuses.
func TestAssertionAudienceIssuer(t *testing.T) {
	for _, issuerAud := range []bool{true, false} {
		t.Run(fmt.Sprintf("provider wants the issuer: %v", issuerAud), func(t *testing.T) {
			tp := newTestProvider(t)
			tp.audIsIssuer = issuerAud
			c := tpAssertionConfig(t, tp, "rsa-2048-pkcs8.pem")
			c.ClientAssertionAudience = "issuer"
			m, _ := newFlow(t, c)
			rec := newFlowBrowser(t, m).signIn("/private")
			if got, want := rec.Code, map[bool]int{true: http.StatusFound, false: http.StatusBadGateway}[issuerAud]; got != want {
				t.Fatalf("got %d, want %d; %s", got, want, rec.Body.String())
			}
			if issuerAud && tp.assertions[0].claims["aud"] != tp.issuer {
				t.Errorf("got aud %v, want %q", tp.assertions[0].claims["aud"], tp.issuer)
			}
		})
	}
}

func TestClientSecretJWTSignIn(t *testing.T) {
	tp := newTestProvider(t)
	tp.clientSecretJWT = true
	tp.authMethods = []string{"client_secret_jwt"}
	c := flowConfig(tp)
	c.ClientAuthMethod = "client_secret_jwt"
	m, _ := newFlow(t, c)
	b := newFlowBrowser(t, m)
	if rec := b.signIn("/private"); rec.Code != http.StatusFound {
		t.Fatalf("sign-in: got %d, want 302; %s", rec.Code, rec.Body.String())
	}
	if len(tp.assertions) != 1 || tp.assertions[0].header["alg"] != "HS256" || tp.assertions[0].header["kid"] != nil {
		t.Errorf("got assertions %v, want one HS256 without kid", tp.assertions)
	}
}

// TestTestProviderRefusesAssertions: the test provider that the sign-in tests rely on
// refuses what a provider must refuse, so that their passing means something.
func TestTestProviderRefusesAssertions(t *testing.T) {
	tp := newTestProvider(t)
	tp.refreshToken = "refresh-1"
	c := tpAssertionConfig(t, tp, "ec-p256-pkcs8.pem")
	s, err := c.resolved(func(string) string { return "" }).validate()
	if err != nil {
		t.Fatal(err)
	}
	other := cfgValid()
	other.ClientPrivateKeyFile = "testdata/client/ec-p256-sec1.pem"
	so, err := other.resolved(func(string) string { return "" }).validate()
	if err != nil {
		t.Fatal(err)
	}
	so.clientAuth.clientID = tpClientID
	token := tp.issuer + "/token"
	now := time.Now()
	replayed, _ := s.clientAuth.assertion(token, now)
	cases := []struct {
		name      string
		assertion func() string
		wantErr   string // "" = accepted
	}{
		{"valid", func() string { a, _ := s.clientAuth.assertion(token, now); return a }, ""},
		{"first use", func() string { return replayed }, ""},
		{"replayed", func() string { return replayed }, "replayed"},
		{"expired", func() string { a, _ := s.clientAuth.assertion(token, now.Add(-6*time.Minute)); return a }, "expired"},
		{"wrong audience", func() string { a, _ := s.clientAuth.assertion(tp.issuer+"/authorize", now); return a }, "want the token endpoint"},
		{"another key", func() string { a, _ := so.clientAuth.assertion(token, now); return a }, "bad ES256 signature"},
		{"tampered", func() string {
			a, _ := s.clientAuth.assertion(token, now)
			parts := strings.Split(a, ".")
			claims, _ := json.Marshal(map[string]interface{}{"iss": tpClientID, "sub": tpClientID, "aud": token, "jti": "x", "iat": now.Unix(), "exp": now.Unix() + 60})
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + parts[2]
		}, "bad ES256 signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {"refresh-1"}, "client_id": {tpClientID},
				"client_assertion_type": {assertionType}, "client_assertion": {tc.assertion()},
			}
			resp, err := http.PostForm(token, form)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]string
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if tc.wantErr == "" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("got %d %v, want 200", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(body["error_description"], tc.wantErr) {
				t.Errorf("got %d %v, want 401 invalid_client saying %q", resp.StatusCode, body, tc.wantErr)
			}
		})
	}
	// A secret is refused from a client registered with a key.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"refresh-1"}}
	req, _ := http.NewRequest(http.MethodPost, token, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tpClientID, tpClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("client_secret_basic for a key-only client: got %d, want 401", resp.StatusCode)
	}
}

// TestAssertionRefusedSignsNoOneIn: a provider refusing the assertion (here: ags's
// clock ten minutes slow, so the assertion has expired) gives the exchange error
// page with the provider's reason, and no session.
func TestAssertionRefusedSignsNoOneIn(t *testing.T) {
	tp := newTestProvider(t)
	c := tpAssertionConfig(t, tp, "ed25519.pem")
	c.Debug = "true"
	m, _ := newFlow(t, c)
	slow := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	m.now = slow // the request path keeps its clock: only the assertion is slow
	b := newFlowBrowser(t, m)
	rec := b.signIn("/private")
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "invalid_client") {
		t.Fatalf("got %d %s, want 502 naming invalid_client", rec.Code, rec.Body.String())
	}
	if b.sessionCookies() != 0 {
		t.Error("a session was made")
	}
}

// TestMethodNotAnnounced: a method the provider does not announce is a clear
// error at discovery, on the 503 page (with debug) and in the log.
func TestMethodNotAnnounced(t *testing.T) {
	tp := newTestProvider(t)
	c := tpAssertionConfig(t, tp, "ec-p256-pkcs8.pem")
	tp.authMethods = []string{"client_secret_basic", "client_secret_post"}
	c.Debug = "true"
	m, _ := newFlow(t, c)
	log := &flowLog{}
	m.log.out = log
	rec := newFlowBrowser(t, m).get("/private")
	want := "the token endpoint supports client_secret_basic, client_secret_post, ags has a private key"
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("got %d %s, want 503 saying %q", rec.Code, rec.Body.String(), want)
	}
	if !strings.Contains(log.String(), want) {
		t.Errorf("got log %q, want a line saying %q", log.String(), want)
	}
}

func TestAuthParamsReachTheProvider(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`, "ui_locales": "cy", "prompt": "login"}
	m, _ := newFlow(t, c)
	rec := newFlowBrowser(t, m).get("/private")
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || rec.Code != http.StatusFound {
		t.Fatalf("got %d %q, want a redirect", rec.Code, rec.Header().Get("Location"))
	}
	for k, v := range c.AuthParams {
		if got := loc.Query().Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if loc.Query().Get("client_id") != tpClientID || len(loc.Query().Get("state")) < 22 {
		t.Errorf("the protocol's parameters changed: %s", loc.RawQuery)
	}
}

// TestEffectiveConfigurationLogged: with debug, the configuration ags received is
// logged once at start, secrets redacted, with the public key to register.
func TestEffectiveConfigurationLogged(t *testing.T) {
	pemText, _ := clientKey(t, "ec-p256-pkcs8.pem")
	for _, debug := range []string{"true", "false"} {
		t.Run("debug "+debug, func(t *testing.T) {
			c := cfgValid()
			c.Debug = debug
			c.ClientPrivateKey = pemText
			c.AuthParams = map[string]string{"ui_locales": "cy"}
			log := &flowLog{}
			s, err := c.resolved(func(string) string { return "" }).validate()
			if err != nil {
				t.Fatal(err)
			}
			logEffectiveConfig(&logger{out: log, prefix: "ags[test]:", debug: s.debug}, c.resolved(func(string) string { return "" }), s)
			text := log.String()
			body := strings.Split(pemText, "\n")[1]
			for _, secret := range []string{"secret\"", tpSessionKey, body} {
				if strings.Contains(text, secret) {
					t.Errorf("the log shows a secret (%q):\n%s", secret, text)
				}
			}
			if debug == "false" {
				if text != "" {
					t.Errorf("got log %q without debug, want none", text)
				}
				return
			}
			jwk, thumbprint := publicJWK(s.clientAuth.key)
			for _, want := range []string{
				`effective configuration: {"issuer":"https://id.example.org","clientID":"client","clientSecret":"[redacted]"`,
				`"sessionSecret":"[redacted]"`, `"clientPrivateKey":"[redacted]"`, `"clientAuthMethod":"auto"`,
				`"authParams":{"ui_locales":"cy"}`, "kid " + thumbprint, strings.TrimSuffix(jwk, "}"),
			} {
				if !strings.Contains(text, want) {
					t.Errorf("got log\n%s\nwant it to contain %q", text, want)
				}
			}
			if strings.Count(text, "effective configuration") != 1 {
				t.Errorf("got %d effective configuration lines, want 1", strings.Count(text, "effective configuration"))
			}
		})
	}
}
