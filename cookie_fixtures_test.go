package ags

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Fixtures of the cookie and session tests: a fixed clock, secrets, and
// sessions shaped like real ones.

var ckNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	ckSecretA  = "first-session-secret-0123456789abcdef"
	ckSecretB  = "second-session-secret-0123456789abcdef"
	ckIssuer   = "https://login.example.gov"
	ckClientID = "ags-client-test"
	ckCookie   = "ags_client_session"
)

func ckSealer(t testing.TB, secrets ...string) *sealer {
	t.Helper()
	s, err := newSealer(secrets, ckIssuer, ckClientID)
	if err != nil {
		t.Fatalf("newSealer: %v", err)
	}
	return s
}

// ckStore returns a store whose clock reads *clock.
func ckStore(t testing.TB, clock *time.Time, c cookieSettings, secrets ...string) *sessionStore {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{ckSecretA}
	}
	return newSessionStore(ckCookie, ckSealer(t, secrets...), 8*time.Hour, c, func() time.Time { return *clock })
}

// ckRandomB64 returns n random bytes in base64url: the incompressible part
// of a token (its signature).
func ckRandomB64(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func ckRandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand: %v", err)
	}
	return hex.EncodeToString(b)
}

// ckJWT builds a compact JWS shape (not signed: sessions hold tokens already
// verified) around claims, with an RS256-sized signature.
func ckJWT(t testing.TB, claims map[string]interface{}) string {
	t.Helper()
	header := `{"alg":"RS256","kid":"2b1f8a6d3c7e4f9a","typ":"JWT"}`
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(payload) + "." + ckRandomB64(t, 256)
}

// ckClaims returns ID-token claims: about ten fields, plus `groups` of
// random GUIDs (as some providers send) until the token is about tokenSize
// bytes long.
func ckClaims(t testing.TB, tokenSize int) map[string]interface{} {
	c := map[string]interface{}{
		"iss":                ckIssuer,
		"sub":                "f3b2c1d0-8e7f-4a6b-9c5d-2e1f0a9b8c7d",
		"aud":                ckClientID,
		"exp":                float64(ckNow.Add(time.Hour).Unix()),
		"iat":                float64(ckNow.Unix()),
		"auth_time":          float64(ckNow.Unix()),
		"nonce":              "n-0S6_WzA2Mj8aXtTq4cvw",
		"email":              "jane.doe@department.example.gov",
		"email_verified":     true,
		"preferred_username": "jane.doe",
		"sid":                "08a5019c-17e1-4977-8f42-65a12843ea02",
	}
	var groups []interface{}
	for len(groups)*39*4/3 < tokenSize-900 {
		g := ckRandomHex(t, 16)
		groups = append(groups, g[:8]+"-"+g[8:12]+"-"+g[12:16]+"-"+g[16:20]+"-"+g[20:])
	}
	if groups != nil {
		c["groups"] = groups
	}
	return ckDecoded(t, c)
}

// ckDecoded is claims as ags holds them: decoded from JSON (decodeClaims), with
// numbers as json.Number.
func ckDecoded(t testing.TB, claims map[string]interface{}) map[string]interface{} {
	t.Helper()
	data, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := decodeClaims(data)
	if err != nil {
		t.Fatal(err)
	}
	return decoded
}

// ckSession returns a session with an ID token of about idTokenSize bytes,
// an access token of about 900, and six userinfo claims.
func ckSession(t testing.TB, idTokenSize int) *session {
	t.Helper()
	claims := ckClaims(t, idTokenSize)
	access := map[string]interface{}{
		"iss": ckIssuer, "sub": claims["sub"], "aud": "https://api.example.gov",
		"exp": float64(ckNow.Add(time.Hour).Unix()), "iat": float64(ckNow.Unix()),
		"scope": "openid profile email", "client_id": ckClientID, "jti": "c0ffee00-1234-5678-9abc-def012345678",
	}
	return &session{
		IssuedAt:     ckNow,
		Expiry:       ckNow.Add(8 * time.Hour),
		Claims:       claims,
		IDToken:      ckJWT(t, claims),
		AccessToken:  ckJWT(t, access),
		AccessExpiry: ckNow.Add(time.Hour),
		UserInfo: ckDecoded(t, map[string]interface{}{
			"sub": claims["sub"], "email": claims["email"], "email_verified": true,
			"name": "Jane Doe", "given_name": "Jane", "family_name": "Doe",
		}),
	}
}

// ckRequest returns a GET request carrying cookies.
func ckRequest(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.example.gov/admin", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// ckSetCookies returns the cookies a response sets, by name.
func ckSetCookies(rec *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := make(map[string]*http.Cookie)
	for _, c := range rec.Result().Cookies() {
		out[c.Name] = c
	}
	return out
}

// ckLive returns the cookies a response sets that the browser keeps, in the
// order they were set.
func ckLive(rec *httptest.ResponseRecorder) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return out
}

// ckExpired returns the names of the cookies a response expires, joined.
func ckExpired(rec *httptest.ResponseRecorder) string {
	var names []string
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}
