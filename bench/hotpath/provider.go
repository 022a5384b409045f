package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// provider is a minimal OpenID provider for the benchmark's sign-in: it approves
// every authorization at once for one user.
type provider struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	mu     sync.Mutex
	nonces map[string]string // code -> nonce
}

// newProvider starts the provider. It signs with the key in the PEM file keyFile
// (PKCS #8), else with a new one; a fixed key keeps the run's work the same from one
// run to the next, for a tool that counts instructions.
func newProvider(keyFile string) *provider {
	key, err := loadKey(keyFile)
	if err != nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	p := &provider{key: key, nonces: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]interface{}{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/authorize",
			"token_endpoint":                        p.srv.URL + "/token",
			"userinfo_endpoint":                     p.srv.URL + "/userinfo",
			"jwks_uri":                              p.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]interface{}{"keys": []interface{}{map[string]string{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := q.Get("state")[:16]
		p.mu.Lock()
		p.nonces[code] = q.Get("nonce")
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		p.mu.Lock()
		nonce := p.nonces[r.PostForm.Get("code")]
		p.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]interface{}{
			"access_token": "bench-access-token", "token_type": "Bearer", "expires_in": 3600,
			"id_token": p.sign(map[string]interface{}{
				"iss": p.srv.URL, "aud": "bench", "sub": "user-1", "nonce": nonce,
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
				"email": "user@example.org", "preferred_username": "user", "groups": []string{"a", "b"},
			}),
		})
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"sub": "user-1", "name": "Bench User", "email": "user@example.org"})
	})
	p.srv = httptest.NewServer(mux)
	return p
}

func (p *provider) sign(claims map[string]interface{}) string {
	return p.signTyp("JWT", claims)
}

// signTyp signs claims with typ in the header: "JWT" for an ID token, "at+jwt" for an
// RFC 9068 access token.
func (p *provider) signTyp(typ string, claims map[string]interface{}) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": typ})
	payload, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// benchAudience is the bench API's resource identifier: the bearer rows'
// bearerAudiences, and the aud of the access tokens the provider makes for them.
const benchAudience = "https://api.bench.example"

// accessToken is a client-credentials access token (RFC 9068) for benchAudience,
// valid for an hour, numbered by jti so that each is a token of its own.
func (p *provider) accessToken(jti int) string {
	now := time.Now()
	return p.signTyp("at+jwt", map[string]interface{}{
		"iss": p.srv.URL, "aud": []string{benchAudience}, "sub": "service-7", "client_id": "bench-cli",
		"scope": "reports:read reports:write", "jti": "bench-" + strconv.Itoa(jti),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
}

func loadKey(file string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}
