package ags

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Fixed values of the ID-token tests.
const (
	jwtTestIssuer   = "https://idp.example.test/realms/ags"
	jwtTestClientID = "ags-test-client"
	jwtTestNonce    = "nonce-3q2-7xWz_kR1"
	// jwtTestSecret is 64 bytes: long enough for HS512.
	jwtTestSecret = "client-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKL"
)

// jwtAllAlgorithms is every algorithm ags verifies.
var jwtAllAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"}

// jwtClock is a settable clock for the injected now.
type jwtClock struct {
	mu sync.Mutex
	t  time.Time
}

func jwtNewClock() *jwtClock {
	return &jwtClock{t: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
}

func (c *jwtClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *jwtClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwtSigner signs test tokens with a fixed key of testdata/jwt (or an HMAC secret).
type jwtSigner struct {
	alg    string
	kid    string
	key    crypto.Signer // nil for HMAC
	secret []byte
}

func jwtLoadKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "jwt", name))
	if err != nil {
		t.Fatalf("read key: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM block in %s", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return key.(crypto.Signer)
}

func jwtNewSigner(t testing.TB, file, alg, kid string) *jwtSigner {
	t.Helper()
	return &jwtSigner{alg: alg, kid: kid, key: jwtLoadKey(t, file)}
}

// jwk returns the public JWK of the signer, with its kid and, when withAlg, its alg.
func (s *jwtSigner) jwk(t testing.TB, withAlg bool) map[string]interface{} {
	t.Helper()
	m := map[string]interface{}{}
	switch k := s.key.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = jwsEncoding.EncodeToString(k.N.Bytes())
		m["e"] = jwsEncoding.EncodeToString([]byte{1, 0, 1})
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		m["kty"] = "EC"
		m["crv"] = k.Curve.Params().Name
		m["x"] = jwsEncoding.EncodeToString(k.X.FillBytes(make([]byte, size)))
		m["y"] = jwsEncoding.EncodeToString(k.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = jwsEncoding.EncodeToString(k)
	default:
		t.Fatalf("no JWK for %T", k)
	}
	if s.kid != "" {
		m["kid"] = s.kid
	}
	if withAlg {
		m["alg"] = s.alg
	}
	m["use"] = "sig"
	return m
}

// jwtKeySetDoc returns a JWK Set document of the given JWKs.
func jwtKeySetDoc(t testing.TB, jwks ...map[string]interface{}) []byte {
	t.Helper()
	doc, err := json.Marshal(map[string]interface{}{"keys": jwks})
	if err != nil {
		t.Fatalf("marshal key set: %v", err)
	}
	return doc
}

// jwtSignature signs signed as alg calls for; ES signatures are r‖s of the curve's size.
func (s *jwtSigner) signature(t testing.TB, signed []byte) []byte {
	t.Helper()
	hash, ok := jwsAlgorithmHash(s.alg)
	if !ok {
		t.Fatalf("no hash for %s", s.alg)
	}
	if s.key == nil {
		mac := hmac.New(hash.New, s.secret)
		mac.Write(signed)
		return mac.Sum(nil)
	}
	if isEd25519Algorithm(s.alg) {
		return ed25519.Sign(s.key.(ed25519.PrivateKey), signed)
	}
	h := hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if s.alg[:2] == "PS" {
			sig, err = rsa.SignPSS(rand.Reader, k, hash, digest, &rsa.PSSOptions{SaltLength: hash.Size()})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, digest)
		}
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, sv, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		sv.FillBytes(out[size:])
		return out
	}
	t.Fatalf("cannot sign with %T", s.key)
	return nil
}

// signRaw builds a compact JWS of the given header and payload JSON.
func (s *jwtSigner) signRaw(t testing.TB, header, payload []byte) string {
	t.Helper()
	signed := jwsEncoding.EncodeToString(header) + "." + jwsEncoding.EncodeToString(payload)
	return signed + "." + jwsEncoding.EncodeToString(s.signature(t, []byte(signed)))
}

// header returns the usual header of the signer: alg, kid when set, typ JWT.
func (s *jwtSigner) header() map[string]interface{} {
	h := map[string]interface{}{"alg": s.alg, "typ": "JWT"}
	if s.kid != "" {
		h["kid"] = s.kid
	}
	return h
}

// sign signs claims under header (the signer's usual header when nil).
func (s *jwtSigner) sign(t testing.TB, header, claims map[string]interface{}) string {
	t.Helper()
	if header == nil {
		header = s.header()
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatalf("marshal header: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	return s.signRaw(t, h, c)
}

// jwtClaims returns valid claims for a token issued now.
func jwtClaims(now time.Time) map[string]interface{} {
	return map[string]interface{}{
		"iss":   jwtTestIssuer,
		"aud":   jwtTestClientID,
		"sub":   "user-248289761001",
		"exp":   now.Add(5 * time.Minute).Unix(),
		"iat":   now.Unix(),
		"nonce": jwtTestNonce,
	}
}

// jwtKeyServer serves a JWK Set and counts the fetches.
type jwtKeyServer struct {
	mu      sync.Mutex
	doc     []byte
	status  int
	fetches int
	entered chan struct{} // when set, receives a value as each request arrives
	release chan struct{} // when set, each request waits for it to be closed
	server  *httptest.Server
}

func jwtNewKeyServer(t testing.TB, doc []byte) *jwtKeyServer {
	t.Helper()
	s := &jwtKeyServer{doc: doc, status: http.StatusOK}
	s.server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.server.Close() })
	return s
}

func (s *jwtKeyServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.fetches++
	doc, status, entered, release := s.doc, s.status, s.entered, s.release
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if release != nil {
		<-release
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(doc)
}

func (s *jwtKeyServer) url() string { return s.server.URL + "/jwks" }

func (s *jwtKeyServer) set(doc []byte, status int) {
	s.mu.Lock()
	s.doc, s.status = doc, status
	s.mu.Unlock()
}

func (s *jwtKeyServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// jwtFixture is a verifier wired to a key server, with signers for every key type.
type jwtFixture struct {
	clock    *jwtClock
	server   *jwtKeyServer
	verifier *jwtVerifier // the ID tokens' verifier
	rsa      *jwtSigner   // RS256, kid rsa-a; in the set
	rsaB     *jwtSigner   // RS256, kid rsa-b; not in the set at first (rotation)
	ps       *jwtSigner   // PS256 with the key of rsa
	es256    *jwtSigner
	es384    *jwtSigner
	es512    *jwtSigner
	ed       *jwtSigner
	hs       *jwtSigner // HS256 with the client secret
}

func jwtNewFixture(t testing.TB) *jwtFixture {
	t.Helper()
	f := &jwtFixture{
		clock: jwtNewClock(),
		rsa:   jwtNewSigner(t, "rsa2048_a.pem", "RS256", "rsa-a"),
		rsaB:  jwtNewSigner(t, "rsa2048_b.pem", "RS256", "rsa-b"),
		es256: jwtNewSigner(t, "ec_p256.pem", "ES256", "ec-256"),
		es384: jwtNewSigner(t, "ec_p384.pem", "ES384", "ec-384"),
		es512: jwtNewSigner(t, "ec_p521.pem", "ES512", "ec-521"),
		ed:    jwtNewSigner(t, "ed25519.pem", "EdDSA", "ed-1"),
		hs:    &jwtSigner{alg: "HS256", kid: "ignored", secret: []byte(jwtTestSecret)},
	}
	f.ps = &jwtSigner{alg: "PS256", kid: "rsa-a", key: f.rsa.key}
	f.server = jwtNewKeyServer(t, jwtKeySetDoc(t, f.rsa.jwk(t, false), f.es256.jwk(t, true),
		f.es384.jwk(t, true), f.es512.jwk(t, true), f.ed.jwk(t, true)))
	f.verifier = &jwtVerifier{
		issuer:     jwtTestIssuer,
		audiences:  []string{jwtTestClientID},
		hmacSecret: jwtTestSecret,
		algorithms: jwtAllAlgorithms,
		keys:       newKeySet(f.server.url(), &http.Client{Timeout: 5 * time.Second}, f.clock.now),
		clockSkew:  time.Minute,
		now:        f.clock.now,
	}
	return f
}

// claims returns valid claims at the fixture's time.
func (f *jwtFixture) claims() map[string]interface{} {
	return jwtClaims(f.clock.now())
}

// verify runs the verifier with the test nonce and no access token.
func (f *jwtFixture) verify(token string) (*idToken, error) {
	return verifyIDToken(context.Background(), f.verifier, token, jwtTestNonce, "")
}
