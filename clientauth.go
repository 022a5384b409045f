package ags

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Client authentication methods at the token endpoint (OpenID Connect Core section 9).
const (
	authAuto        = "auto"
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
	authSecretJWT   = "client_secret_jwt"
	authPrivateKey  = "private_key_jwt"
)

// assertionLifetime is how long a client assertion is valid: RFC 7523 asks for a short
// life, and GOV.UK One Login refuses one of more than five minutes.
const assertionLifetime = 5 * time.Minute

// assertionType is client_assertion_type for both JWT methods (RFC 7523 section 2.2).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

var errClientAuth = errors.New("client authentication not possible")

// authParamName is what an authorization request parameter's name looks like.
var authParamName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// keyIDPattern keeps clientKeyID to printable ASCII without spaces, as kid values are.
var keyIDPattern = regexp.MustCompile(`^[!-~]{1,256}$`)

// reservedAuthParams are the authorization request's own parameters, which ags sets
// and authParams must not. response_mode is among them because it decides how the
// callback is read: responseMode sets it.
var reservedAuthParams = []string{"client_id", "code_challenge", "code_challenge_method",
	"nonce", "redirect_uri", "response_mode", "response_type", "scope", "state"}

// clientAuth is the configured client authentication: the method asked for and the
// credentials it may use. The method in effect is settled at discovery (choose).
type clientAuth struct {
	method    string       // auto or one of the methods above
	clientID  string       // iss and sub of an assertion
	secret    string       // "" when none is configured
	key       interface{}  // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey; nil: none
	keyAlg    string       // the assertion's alg with key, e.g. ES256
	kid       string       // the assertion's kid header
	audIssuer bool         // aud is the issuer, not the token endpoint
	publicJWK string       // the key's public JWK, for the debug log
	x5t       string       // clientCertificateFile's SHA-1 thumbprint; "": none
	x5tS256   string       // its SHA-256 thumbprint
	apple     *appleSecret // appleTeamID: the secret is a JWT ags signs; nil: off
	signer    *jwsSigner   // assertions, request objects, Apple's secret: keyAlg with key (or the secret); nil: neither
}

// resolveAuthParams reads AGS_CLIENT_AUTH_PARAMS when authParams is empty: pairs
// name=value separated by "&", taken as written (vtr=["Cl.Cm"]&ui_locales=en).
func resolveAuthParams(params map[string]string, getenv func(string) string) map[string]string {
	if len(params) > 0 {
		return params
	}
	out := map[string]string{}
	for _, pair := range strings.Split(getenv(optionNamed("authParams").env), "&") {
		if name, value, _ := strings.Cut(strings.TrimSpace(pair), "="); name != "" {
			out[name] = value
		}
	}
	return out
}

// parseAuthParams checks authParams: names that are the protocol's own are refused.
func parseAuthParams(params map[string]string) (url.Values, error) {
	out := url.Values{}
	for name, value := range params {
		if !authParamName.MatchString(name) {
			return nil, fmt.Errorf("authParams: %q is not a parameter name (letters, digits, _ . -)", name)
		}
		for _, r := range reservedAuthParams {
			if strings.EqualFold(name, r) {
				return nil, fmt.Errorf("authParams cannot set %q: ags sets %s itself", name, strings.Join(reservedAuthParams, ", "))
			}
		}
		out.Set(name, value)
	}
	return out, nil
}

// parseClientAuth reads clientAuthMethod, the client's key and its options. secret is
// the client secret already read ("" when none).
func parseClientAuth(c *Config, secret string) (*clientAuth, error) {
	a := &clientAuth{method: c.ClientAuthMethod, clientID: c.ClientID, secret: secret}
	switch a.method {
	case authAuto, authSecretBasic, authSecretPost, authSecretJWT, authPrivateKey:
	default:
		return nil, fmt.Errorf("clientAuthMethod must be auto, client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt, got %q", a.method)
	}
	switch c.ClientAssertionAudience {
	case "token_endpoint":
	case "issuer":
		a.audIssuer = true
	default:
		return nil, fmt.Errorf("clientAssertionAudience must be token_endpoint or issuer, got %q", c.ClientAssertionAudience)
	}
	keyPEM := c.ClientPrivateKey
	if c.ClientPrivateKeyFile != "" {
		if keyPEM != "" {
			return nil, fmt.Errorf("clientPrivateKey and clientPrivateKeyFile cannot both be set")
		}
		data, err := os.ReadFile(c.ClientPrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("clientPrivateKeyFile cannot be read: %w", err)
		}
		keyPEM = string(data)
	}
	if keyPEM != "" && a.method == authSecretJWT {
		return nil, fmt.Errorf("clientAuthMethod client_secret_jwt signs with the client secret: leave clientPrivateKeyFile and clientPrivateKey empty")
	}
	if !strings.Contains(keyPEM, "\n") {
		// A label or an environment variable may carry the PEM on one line, with \n.
		keyPEM = strings.ReplaceAll(keyPEM, `\n`, "\n")
	}
	if keyPEM != "" {
		key, err := parsePrivateKeyPEM([]byte(keyPEM))
		if err != nil {
			option := "clientPrivateKey"
			if c.ClientPrivateKeyFile != "" {
				option = "clientPrivateKeyFile"
			}
			return nil, fmt.Errorf("%s: %w", option, err)
		}
		a.key = key
		if a.keyAlg, err = signingAlgorithm(key, c.ClientSigningAlgorithm); err != nil {
			return nil, err
		}
		jwk, thumbprint := publicJWK(key)
		a.kid = c.ClientKeyID
		if a.kid == "" {
			a.kid = thumbprint
		}
		a.publicJWK = strings.TrimSuffix(jwk, "}") + `,"use":"sig","alg":"` + a.keyAlg + `","kid":` + jsonString(a.kid) + "}"
	}
	if err := parseClientCertificate(c, a); err != nil {
		return nil, err
	}
	if err := parseAppleTeamID(c, a, secret); err != nil {
		return nil, err
	}
	needKey := a.method == authPrivateKey
	needSecret := a.method == authSecretBasic || a.method == authSecretPost || a.method == authSecretJWT
	switch {
	case needKey && a.key == nil:
		return nil, fmt.Errorf("clientPrivateKeyFile (or clientPrivateKey) is required with clientAuthMethod private_key_jwt")
	case (needSecret || a.key == nil) && secret == "" && a.apple == nil:
		return nil, fmt.Errorf("clientSecret (or clientSecretFile) is required, unless clientPrivateKeyFile or clientPrivateKey is set")
	case a.method == authSecretJWT:
		alg := c.ClientSigningAlgorithm
		if alg == "" {
			alg = "HS256"
		}
		if !isHMACAlgorithm(alg) {
			return nil, fmt.Errorf("clientSigningAlgorithm must be HS256, HS384 or HS512 with client_secret_jwt, got %q", alg)
		}
		if hash, _ := jwsAlgorithmHash(alg); len(secret) < hash.Size() {
			return nil, fmt.Errorf("clientSecret must be at least %d bytes for client_secret_jwt with %s", hash.Size(), alg)
		}
		a.keyAlg = alg
	case a.key == nil && c.ClientKeyID != "":
		return nil, fmt.Errorf("clientKeyID needs clientPrivateKeyFile or clientPrivateKey")
	case c.ClientKeyID != "" && !keyIDPattern.MatchString(c.ClientKeyID):
		return nil, fmt.Errorf("clientKeyID must be printable ASCII without spaces, got %q", c.ClientKeyID)
	case a.key == nil && c.ClientSigningAlgorithm != "":
		return nil, fmt.Errorf("clientSigningAlgorithm needs clientPrivateKeyFile or clientPrivateKey (or clientAuthMethod client_secret_jwt)")
	}
	if a.keyAlg != "" {
		a.signer = &jwsSigner{alg: a.keyAlg, kid: a.kid, key: a.key}
		if isHMACAlgorithm(a.keyAlg) {
			a.signer.kid, a.signer.key = "", []byte(secret)
		}
		if a.x5tS256 != "" {
			a.signer.headers = map[string]string{"x5t#S256": a.x5tS256, "x5t": a.x5t}
		}
	}
	return a, nil
}

// parsePrivateKeyPEM reads the first private key of a PEM document: PKCS #8, PKCS #1
// (RSA) or SEC 1 (EC). Other blocks, such as openssl's "EC PARAMETERS", are skipped.
func parsePrivateKeyPEM(data []byte) (interface{}, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
		}
		var key interface{}
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: store it without a passphrase (openssl pkey -in key.pem -out plain.pem)")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.ToLower(block.Type), err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() < minRSAKeyBits {
				return nil, fmt.Errorf("an RSA key needs at least %d bits, this one has %d", minRSAKeyBits, k.N.BitLen())
			}
			return k, nil
		case *ecdsa.PrivateKey:
			if ecAlgorithm(k.Curve) == "" {
				return nil, errors.New("an EC key must be on P-256, P-384 or P-521")
			}
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("a %T key cannot sign: use RSA, EC (P-256, P-384, P-521) or Ed25519", key)
	}
}

// signingAlgorithm is the assertion's alg for key: RS256 (PS256 when asked), ES256,
// ES384 or ES512 by curve, or EdDSA.
func signingAlgorithm(key interface{}, asked string) (string, error) {
	alg := ""
	switch k := key.(type) {
	case *rsa.PrivateKey:
		alg = "RS256"
		if asked == "PS256" {
			alg = asked
		}
	case *ecdsa.PrivateKey:
		alg = ecAlgorithm(k.Curve)
	case ed25519.PrivateKey:
		alg = "EdDSA"
	}
	if asked != "" && asked != alg {
		return "", fmt.Errorf("clientSigningAlgorithm %q does not fit the client's key (it signs %s)", asked, alg)
	}
	return alg, nil
}

// publicJWK returns the public half of key as a JWK holding the RFC 7638 members only,
// which is also the input of its thumbprint, and that thumbprint.
func publicJWK(key interface{}) (string, string) {
	b64 := base64.RawURLEncoding.EncodeToString
	var jwk string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		e := big.NewInt(int64(k.PublicKey.E)).Bytes()
		jwk = `{"e":"` + b64(e) + `","kty":"RSA","n":"` + b64(k.PublicKey.N.Bytes()) + `"}`
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x := k.PublicKey.X.FillBytes(make([]byte, size))
		y := k.PublicKey.Y.FillBytes(make([]byte, size))
		jwk = `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`
	case ed25519.PrivateKey:
		jwk = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(k.Public().(ed25519.PublicKey)) + `"}`
	}
	sum := sha256.Sum256([]byte(jwk))
	return jwk, b64(sum[:])
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// choose settles the method in effect for provider p, and the assertion's alg. With
// auto: the first of client_secret_basic, client_secret_post (with a secret) and
// private_key_jwt (with a key) that the provider announces. A provider that announces
// no list supports client_secret_basic only (OpenID Connect Discovery section 3).
func (a *clientAuth) choose(methods, signingAlgs []string) (string, string, error) {
	if len(methods) == 0 {
		methods = []string{authSecretBasic}
	}
	method := a.method
	if method == authAuto {
		method = ""
		for _, m := range []string{authSecretBasic, authSecretPost, authPrivateKey} {
			usable := a.secret != "" || a.apple != nil
			if m == authPrivateKey {
				usable = a.key != nil
			}
			if usable && listContains(methods, m) {
				method = m
				break
			}
		}
		if method == "" {
			have := "a client secret"
			if a.key != nil {
				have = "a private key"
			}
			return "", "", fmt.Errorf("%w: the token endpoint supports %s, ags has %s (see clientAuthMethod)", errClientAuth, strings.Join(methods, ", "), have)
		}
	} else if !listContains(methods, method) {
		return "", "", fmt.Errorf("%w: clientAuthMethod is %s, the token endpoint supports %s", errClientAuth, method, strings.Join(methods, ", "))
	}
	alg := ""
	if method == authPrivateKey || method == authSecretJWT {
		alg = a.keyAlg
		// PS256 only where announced: it is the one alg the key allows that a
		// provider may well not verify.
		announced := listContains(signingAlgs, alg)
		if (len(signingAlgs) > 0 || alg == "PS256") && !announced {
			return "", "", fmt.Errorf("%w: the client assertion would be signed with %s, the token endpoint accepts %s", errClientAuth, alg, strings.Join(signingAlgs, ", "))
		}
	}
	return method, alg, nil
}

// newTokenRequest builds a POST of form to the token endpoint, authenticated as the
// method chosen at discovery says.
func (m *middleware) newTokenRequest(ctx context.Context, p *provider, form url.Values) (*http.Request, error) {
	return m.newClientRequest(ctx, p, p.TokenEndpoint, form)
}

// newClientRequest builds a POST of form to one of the provider's endpoints (token,
// introspection), with the client authentication chosen at discovery. An assertion's
// aud stays the token endpoint (or the issuer): RFC 7523 names the authorization
// server, whichever of its endpoints receives it.
func (m *middleware) newClientRequest(ctx context.Context, p *provider, target string, form url.Values) (*http.Request, error) {
	a := m.cfg.clientAuth
	switch p.authMethod {
	case authSecretPost:
		secret, err := a.clientSecret(m.now())
		if err != nil {
			return nil, err
		}
		form.Set("client_id", a.clientID)
		form.Set("client_secret", secret)
	case authSecretJWT, authPrivateKey:
		aud := p.TokenEndpoint
		if a.audIssuer {
			aud = p.Issuer
		}
		assertion, err := a.assertion(aud, m.now())
		if err != nil {
			return nil, fmt.Errorf("client assertion: %w", err)
		}
		form.Set("client_id", a.clientID)
		form.Set("client_assertion_type", assertionType)
		form.Set("client_assertion", assertion)
	}
	req, err := providerRequest(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.authMethod == authSecretBasic {
		// RFC 6749 section 2.3.1: both parts are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(a.clientID), url.QueryEscape(a.secret))
	}
	return req, nil
}

// assertion signs a client assertion for aud (RFC 7523 section 3):
// the client is issuer and subject, with a fresh jti and a short life.
func (a *clientAuth) assertion(aud string, now time.Time) (string, error) {
	jti, err := randomToken(32)
	if err != nil {
		return "", err
	}
	return a.signer.sign("JWT", map[string]interface{}{
		"iss": a.clientID, "sub": a.clientID, "aud": aud, "jti": jti,
		"iat": now.Unix(), "exp": now.Add(assertionLifetime).Unix(),
	})
}

// summary describes the client authentication for the debug log: no secret or
// private key, but the public JWK to register at the provider.
func (a *clientAuth) summary() string {
	parts := []string{"method " + a.method}
	if a.key != nil {
		parts = append(parts, "key alg "+a.keyAlg, "kid "+a.kid, "public JWK "+a.publicJWK)
	}
	return strings.Join(parts, ", ")
}
