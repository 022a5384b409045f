package ags

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// session is what the session cookie holds (SPEC section 6).
type session struct {
	IssuedAt     time.Time
	Expiry       time.Time              // session end (sessionLifetime)
	Claims       map[string]interface{} // verified ID-token claims
	IDToken      string                 // raw, for id_token_hint at sign-out
	AccessToken  string
	AccessExpiry time.Time              // zero: unknown
	RefreshToken string                 // only kept when refresh is on (caller decides)
	UserInfo     map[string]interface{} // userinfo claims, and distributed claims fetched at sign-in; nil when none
	AccessClaims map[string]interface{} // the verified access token's claims (accessTokenClaims), minimised; nil when none
	View         string                 // the identity as the saving instance made it (viewBlock); "": none
	// One Login's verified core identity (coreidentity.go): its level (P2) and its
	// credential subject as compact JSON; "" when none. The JWT itself is not kept.
	IdentityLevel string
	Identity      string
	LastUse       time.Time // sessionIdleTimeout: when last used, as last sealed; zero: at IssuedAt
}

// The session's encoding, inside the sealed value (which adds issued-at and
// expiry): one flags byte, then sessionWire in JSON, deflated when
// flagDeflate is set.
//
// JSON rather than fields with length prefixes: the sizes are about the same
// (the tokens are base64url, which JSON does not escape, and the claims are
// JSON either way), and under Yaegi one call to json.Unmarshal beats the
// dozens of small calls a binary decoder makes (compiled it is the other way;
// bench/README.md, "Figures behind the code").
//
// The claims are usually exactly the ID token's payload; then, with
// flagClaimsInIDToken, they are not stored twice but decoded from the token,
// which halves a session whose token carries many claims.
const (
	flagDeflate         = 1 << 0
	flagClaimsInIDToken = 1 << 1
	knownFlags          = flagDeflate | flagClaimsInIDToken

	// deflateFrom is the encoded size from which deflate is tried, a little
	// under what one cookie holds: below it a session fits one cookie anyway,
	// and opening it skips the inflater, which allocates tens of KB per open
	// (bench/README.md). Above it, deflate saves a cookie or two.
	deflateFrom = 2600
	// maxInflated bounds what a deflated session may grow to (a
	// decompression bomb otherwise): more than ten chunks ever hold.
	maxInflated = 64 << 10
)

// sessionWire is the session as encoded, with short keys. A key it does not
// know is ignored: only ags seals these, and a later version may add one.
type sessionWire struct {
	View          string                 `json:"v,omitempty"`  // first: see viewBlockOf
	LastUse       int64                  `json:"lu,omitempty"` // Unix seconds, 0: at issued-at; second: see lastUseInBlock
	Claims        map[string]interface{} `json:"c,omitempty"`
	IDToken       string                 `json:"i,omitempty"`
	AccessToken   string                 `json:"a,omitempty"`
	AccessExpiry  int64                  `json:"ae,omitempty"` // Unix seconds, 0: unknown
	RefreshToken  string                 `json:"r,omitempty"`
	UserInfo      map[string]interface{} `json:"u"` // null: none
	AccessClaims  map[string]interface{} `json:"ac,omitempty"`
	IdentityLevel string                 `json:"il,omitempty"`
	Identity      string                 `json:"ij,omitempty"`
}

var (
	errSessionEncoding = fmt.Errorf("open session: bad encoding: %w", errNoSession)
	errSessionClaims   = fmt.Errorf("open session: bad claims: %w", errNoSession)
)

// encodeSession returns the compact encoding of sess (its times aside).
func encodeSession(sess *session) ([]byte, error) {
	if sess == nil {
		return nil, errors.New("encode session: no session")
	}
	w := sessionWire{
		View:          sess.View,
		Claims:        sess.Claims,
		IDToken:       sess.IDToken,
		AccessToken:   sess.AccessToken,
		RefreshToken:  sess.RefreshToken,
		UserInfo:      sess.UserInfo,
		AccessClaims:  sess.AccessClaims,
		IdentityLevel: sess.IdentityLevel,
		Identity:      sess.Identity,
	}
	if !sess.AccessExpiry.IsZero() && sess.AccessExpiry.Unix() > 0 {
		w.AccessExpiry = sess.AccessExpiry.Unix()
	}
	if !sess.LastUse.IsZero() && sess.LastUse.Unix() > 0 {
		w.LastUse = sess.LastUse.Unix()
	}
	flags := byte(0)
	if claimsInIDToken(sess.Claims, sess.IDToken) {
		flags |= flagClaimsInIDToken
		w.Claims = nil
	} else if sess.Claims == nil {
		return nil, errors.New("encode session: no claims")
	}
	// Without HTML escaping, so that the view block (a query string) is its JSON
	// string byte for byte (viewBlockOf reads it so).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(body) >= deflateFrom {
		if d, err := deflateBytes(body); err == nil && len(d) < len(body)-len(body)/8 {
			flags |= flagDeflate
			body = d
		}
	}
	return append([]byte{flags}, body...), nil
}

// claimsInIDToken reports whether claims are exactly the payload of the
// compact JWS idToken, so that they can be rebuilt from it.
func claimsInIDToken(claims map[string]interface{}, idToken string) bool {
	if claims == nil || idToken == "" {
		return false
	}
	payload, err := idTokenPayload(idToken)
	return err == nil && reflect.DeepEqual(payload, claims)
}

// idTokenPayload decodes the claims of a compact JWS (already verified when
// the session was made: no check here but the shape).
func idTokenPayload(idToken string) (map[string]interface{}, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return nil, errSessionClaims
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errSessionClaims
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return nil, errSessionClaims
	}
	return claims, nil
}

func deflateBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func inflateBytes(b []byte) ([]byte, error) {
	zr := flate.NewReader(bytes.NewReader(b))
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil || len(out) > maxInflated {
		return nil, errSessionEncoding
	}
	return out, nil
}

// decodeSession reverses encodeSession: unknown flags, bad JSON, claims
// that are not a JSON object (stored or in the ID token) are errors.
func decodeSession(b []byte) (*session, error) {
	if len(b) == 0 || b[0]&^knownFlags != 0 {
		return nil, errSessionEncoding
	}
	flags, body := b[0], b[1:]
	if flags&flagDeflate != 0 {
		var err error
		if body, err = inflateBytes(body); err != nil {
			return nil, err
		}
	}
	var w sessionWire
	if err := decodeJSON(body, &w); err != nil { // numbers exact, as decodeClaims
		return nil, errSessionEncoding
	}
	sess := &session{
		View:          w.View,
		Claims:        w.Claims,
		IDToken:       w.IDToken,
		AccessToken:   w.AccessToken,
		RefreshToken:  w.RefreshToken,
		UserInfo:      w.UserInfo,
		AccessClaims:  w.AccessClaims,
		IdentityLevel: w.IdentityLevel,
		Identity:      w.Identity,
	}
	if w.AccessExpiry > 0 {
		sess.AccessExpiry = time.Unix(w.AccessExpiry, 0)
	}
	if w.LastUse > 0 {
		sess.LastUse = time.Unix(w.LastUse, 0)
	}
	if flags&flagClaimsInIDToken != 0 {
		if w.Claims != nil {
			return nil, errSessionEncoding
		}
		var err error
		if sess.Claims, err = idTokenPayload(w.IDToken); err != nil {
			return nil, err
		}
	} else if w.Claims == nil {
		return nil, errSessionClaims
	}
	return sess, nil
}

// open opens a value from sealedValue: errNoSession (wrapped) on any failure,
// expiry included.
func (s *sessionStore) open(value string) (*session, error) {
	plain, issuedAt, expiry, err := openWith(s.sealer, s.sessionAD, value, s.now().Unix())
	if err != nil {
		return nil, err
	}
	return sessionFrom(plain, issuedAt, expiry)
}

// sessionFrom is open's second step: the session decoded.
func sessionFrom(plain []byte, issuedAt, expiry int64) (*session, error) {
	sess, err := decodeSession(plain)
	if err != nil {
		return nil, err
	}
	sess.IssuedAt, sess.Expiry = time.Unix(issuedAt, 0), time.Unix(expiry, 0)
	return sess, nil
}

// save seals sess and sets it as the session cookies, chunked when large,
// expiring the chunks r carried beyond the new count. The sealed times are
// sess.IssuedAt (now when zero) and sess.Expiry (now + lifetime when zero).
func (s *sessionStore) save(w http.ResponseWriter, r *http.Request, sess *session) error {
	now := s.now()
	issuedAt, expiry := sess.IssuedAt, sess.Expiry
	if issuedAt.IsZero() {
		issuedAt = now
	}
	if expiry.IsZero() {
		expiry = issuedAt.Add(s.lifetime)
	}
	maxAge := int(expiry.Sub(now) / time.Second)
	if maxAge <= 0 {
		return fmt.Errorf("save session: expired at %s", expiry.UTC().Format(time.RFC3339))
	}
	plain, err := encodeSession(sess)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	value, err := s.sealer.seal(s.name, plain, issuedAt, expiry)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return s.setChunks(w, r, value, maxAge)
}
