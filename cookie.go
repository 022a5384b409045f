package ags

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errNoSession is what every "treat the browser as signed out" outcome wraps:
// no cookie, a cookie that does not open, an expired one, too many chunks.
var errNoSession = errors.New("no session")

// Reasons a sealed value does not open. The cookie's value is never in the
// text: it would land in the logs.
var (
	errSealedEncoding = fmt.Errorf("open cookie: bad encoding: %w", errNoSession)
	errSealedVersion  = fmt.Errorf("open cookie: unknown version: %w", errNoSession)
	errSealedAuth     = fmt.Errorf("open cookie: does not authenticate: %w", errNoSession)
	errSealedExpired  = fmt.Errorf("open cookie: expired: %w", errNoSession)
	errSealedFuture   = fmt.Errorf("open cookie: issued in the future: %w", errNoSession)
)

const (
	// minSecretLen is the shortest sessionSecret accepted, in bytes.
	minSecretLen = 32
	// sealVersion is the first byte of every sealed value. It is also bound
	// into the additional data, so a later format cannot be downgraded.
	sealVersion   = 1
	sealNonceSize = 12
	sealTimesSize = 16
	sealTagSize   = 16
	// maxFutureIssue is how far ahead of our clock a cookie's issued-at may
	// be: replicas' clocks differ a little, never by more.
	maxFutureIssue = time.Minute
	// kdfSalt and kdfInfo name ags and the purpose, so the key is useless for
	// anything else the same secret might be used for.
	kdfSalt = "ags sealed cookie salt"
	kdfInfo = "ags session cookie v1"
)

// sealer seals and opens cookie values with AES-256-GCM. Keys are derived
// once, from each configured secret: the first seals, all open, so a secret
// can be rotated by putting the new one first and dropping the old one later.
type sealer struct {
	aeads []cipher.AEAD
	// binding is the issuer and client ID, length-prefixed, as they go into
	// the additional data after the cookie's name.
	binding []byte
}

// newSealer derives one AES-256-GCM key per secret with HKDF-SHA256. Each
// secret must be at least minSecretLen bytes.
func newSealer(secrets []string, issuer, clientID string) (*sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("new sealer: no session secret")
	}
	s := &sealer{}
	for i, secret := range secrets {
		if len(secret) < minSecretLen {
			return nil, fmt.Errorf("new sealer: secret %d is under %d bytes", i+1, minSecretLen)
		}
		key, err := hkdfSHA256([]byte(secret), []byte(kdfSalt), []byte(kdfInfo), 32)
		if err != nil {
			return nil, fmt.Errorf("new sealer: derive key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("new sealer: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("new sealer: %w", err)
		}
		s.aeads = append(s.aeads, aead)
	}
	s.binding = appendField(appendField(nil, []byte(issuer)), []byte(clientID))
	return s, nil
}

// appendField appends b with its length in front, so that fields put one
// after another can be told apart whatever they hold.
func appendField(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// additionalData binds a sealed value to its version, the cookie's name, the
// issuer and the client ID: a value moved to another cookie, or made by
// another deployment with the same secret, does not open.
func (s *sealer) additionalData(name string) []byte {
	ad := make([]byte, 0, 1+binary.MaxVarintLen64+len(name)+len(s.binding))
	ad = append(ad, sealVersion)
	ad = appendField(ad, []byte(name))
	return append(ad, s.binding...)
}

// sealEncoding is strict so that a value has one spelling only: a changed
// last character never opens.
var sealEncoding = base64.RawURLEncoding.Strict()

// maxSealedLen bounds the base64 text open looks at: the most a full set of
// session chunks can hold.
const maxSealedLen = maxChunks * chunkSize

// seal returns version | nonce | AES-GCM(issuedAt | expiry | plaintext) in
// unpadded base64url, which is made of valid cookie octets only.
func (s *sealer) seal(name string, plaintext []byte, issuedAt, expiry time.Time) (string, error) {
	// 1. The header: version, and a fresh random nonce for every value.
	out := make([]byte, 1+sealNonceSize, 1+sealNonceSize+sealTimesSize+len(plaintext)+sealTagSize)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return "", fmt.Errorf("seal cookie: nonce: %w", err)
	}
	// 2. The times go inside, so they cannot be changed or stripped.
	inner := make([]byte, sealTimesSize, sealTimesSize+len(plaintext))
	binary.BigEndian.PutUint64(inner, uint64(issuedAt.Unix()))
	binary.BigEndian.PutUint64(inner[8:], uint64(expiry.Unix()))
	inner = append(inner, plaintext...)
	// 3. Encrypt and authenticate with the first key.
	out = s.aeads[0].Seal(out, out[1:1+sealNonceSize], inner, s.additionalData(name))
	return sealEncoding.EncodeToString(out), nil
}

// open reverses seal and checks the times against now.
func (s *sealer) open(name, value string, now time.Time) ([]byte, error) {
	plaintext, _, _, err := openWith(s, s.additionalData(name), value, now.Unix())
	return plaintext, err
}

// openWith is open with the additional data already built, and times in
// Unix seconds (issuedAt and expiry are the sealed ones). It is on every cache
// miss, so it is a function (hotpath.go's cost model: under Yaegi a method call
// costs a closure's), and the checks are arithmetic where they can be.
func openWith(s *sealer, ad []byte, value string, now int64) (plaintext []byte, issuedAt, expiry int64, err error) {
	// Bound the work before decoding: a value longer than any we make is not ours.
	if len(value) > maxSealedLen {
		return nil, 0, 0, errSealedEncoding
	}
	raw, err := sealEncoding.DecodeString(value)
	// The decoder skips line breaks; then value is longer than raw's
	// encoding (RawURLEncoding.EncodedLen, written out: it is a hot path).
	if err != nil || (len(raw)*8+5)/6 != len(value) || len(raw) < 1+sealNonceSize+sealTimesSize+sealTagSize {
		return nil, 0, 0, errSealedEncoding
	}
	if raw[0] != sealVersion {
		return nil, 0, 0, errSealedVersion
	}
	// The sealing key first: it opens every value but those made before a
	// rotation. A fresh destination per try, since a failed Open wipes it.
	nonce, ciphertext := raw[1:1+sealNonceSize], raw[1+sealNonceSize:]
	inner, err := s.aeads[0].Open(nil, nonce, ciphertext, ad)
	if err != nil {
		if inner, err = openWithOlderKeys(s, nonce, ciphertext, ad); err != nil {
			return nil, 0, 0, errSealedAuth
		}
	}
	issuedAt = int64(binary.BigEndian.Uint64(inner))
	expiry = int64(binary.BigEndian.Uint64(inner[8:]))
	if now >= expiry {
		return nil, 0, 0, errSealedExpired
	}
	if issuedAt > now+int64(maxFutureIssue/time.Second) {
		return nil, 0, 0, errSealedFuture
	}
	return inner[sealTimesSize:], issuedAt, expiry, nil
}

// openWithOlderKeys opens what the sealing key does not: a value sealed before a
// rotation.
func openWithOlderKeys(s *sealer, nonce, ciphertext, ad []byte) (inner []byte, err error) {
	for _, aead := range s.aeads[1:] {
		if inner, err = aead.Open(nil, nonce, ciphertext, ad); err == nil {
			return inner, nil
		}
	}
	return nil, errSealedAuth
}

// cookieSettings are the attributes of every cookie ags sets.
type cookieSettings struct {
	secure   string        // "" (auto: TLS or X-Forwarded-Proto https), "true", "false"
	domain   string        // "" means host-only
	sameSite http.SameSite // zero means http.SameSiteLaxMode
	formPost bool          // responseMode form_post: the pending login comes back on a cross-site POST
}

// isSecure reports whether cookies set in answer to r get the Secure flag.
func (c cookieSettings) isSecure(r *http.Request) bool {
	// Browsers drop SameSite=None cookies that are not Secure.
	if c.sameSite == http.SameSiteNoneMode {
		return true
	}
	if c.secure != "" {
		return c.secure == "true"
	}
	return requestScheme(r) == "https"
}

// cookie returns an ags cookie; maxAge < 0 expires it.
func (c cookieSettings) cookie(r *http.Request, name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	if sameSite == 0 || sameSite == http.SameSiteDefaultMode {
		sameSite = http.SameSiteLaxMode
	}
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   c.domain,
		MaxAge:   maxAge,
		Secure:   c.isSecure(r) || sameSite == http.SameSiteNoneMode, // browsers drop None without Secure
		HttpOnly: true,
		SameSite: sameSite,
	}
}

// pendingSameSite is the SameSite of the pending-login cookies: as flowSameSite,
// but None with responseMode form_post, whose cross-site POST carries no Lax cookie.
func (c cookieSettings) pendingSameSite() http.SameSite {
	if c.formPost {
		return http.SameSiteNoneMode
	}
	return c.flowSameSite()
}

// flowSameSite is the SameSite of the cookies that must come back on the
// provider's redirect to us (pending login, sign-out state): that redirect is
// a cross-site navigation, on which browsers do not send Strict cookies.
func (c cookieSettings) flowSameSite() http.SameSite {
	if c.sameSite == http.SameSiteStrictMode {
		return http.SameSiteLaxMode
	}
	return c.sameSite
}

const (
	// maxChunks is how many cookies a session may use: name, name_1 .. name_9.
	maxChunks = 10
	// chunkSize keeps each Set-Cookie line, attributes included, well under
	// the 4096 bytes browsers keep for one cookie.
	chunkSize = 3800
)

// Reasons a request's session cookies are not taken.
var (
	errNoSessionCookie = fmt.Errorf("read session cookie: none: %w", errNoSession)
	errTooManyChunks   = fmt.Errorf("read session cookie: more than %d chunks: %w", maxChunks, errNoSession)
	errChunkGap        = fmt.Errorf("read session cookie: chunk missing: %w", errNoSession)
	errChunkDuplicate  = fmt.Errorf("read session cookie: same chunk twice: %w", errNoSession)
)

// sessionStore reads and writes the session cookies (chunked), the
// pending-login cookies and the sign-out state cookie.
type sessionStore struct {
	name     string
	sealer   *sealer
	lifetime time.Duration // used when a session has no expiry of its own
	cookies  cookieSettings
	now      func() time.Time

	sessionAD     []byte         // the additional data of the session chunks
	nameEq        string         // name + "="
	sepNameEq     string         // "; " + name + "="
	chunkNames    []string       // name, name_1 .. name_9
	chunkIndex    map[string]int // chunk name to its place
	chunkPrefix   string         // name + "_"
	pendingPrefix string         // name + "_login_"
	signOutName   string         // name + "_signout"
	stepUpName    string         // name + "_stepup": a step-up just ended (pending.go)
}

func newSessionStore(name string, s *sealer, lifetime time.Duration, c cookieSettings, now func() time.Time) *sessionStore {
	st := &sessionStore{
		name:          name,
		sealer:        s,
		lifetime:      lifetime,
		cookies:       c,
		now:           now,
		sessionAD:     s.additionalData(name),
		nameEq:        name + "=",
		sepNameEq:     "; " + name + "=",
		chunkIndex:    make(map[string]int, maxChunks),
		chunkPrefix:   name + "_",
		pendingPrefix: name + "_login_",
		signOutName:   name + "_signout",
		stepUpName:    name + "_stepup",
	}
	for i := 0; i < maxChunks; i++ {
		n := name
		if i > 0 {
			n = name + "_" + strconv.Itoa(i)
		}
		st.chunkNames = append(st.chunkNames, n)
		st.chunkIndex[n] = i
	}
	return st
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isExtraChunk reports whether name looks like a session chunk past the last
// one allowed (name_10, name_11, ..., or a spelling such as name_01).
func (s *sessionStore) isExtraChunk(name string) bool {
	if _, ok := s.chunkIndex[name]; ok {
		return false
	}
	return strings.HasPrefix(name, s.chunkPrefix) && isDigits(name[len(s.chunkPrefix):])
}

// isOwnCookie reports whether a cookie of this name belongs to ags, so the
// plugin can take it out of the Cookie header the app receives.
func (s *sessionStore) isOwnCookie(name string) bool {
	if _, ok := s.chunkIndex[name]; ok {
		return true
	}
	if !strings.HasPrefix(name, s.chunkPrefix) {
		return false
	}
	return name == s.signOutName || name == s.stepUpName || strings.HasPrefix(name, s.pendingPrefix) || isDigits(name[len(s.chunkPrefix):])
}

// sealedValue returns the joined sealed value of the session chunks in r.
// No crypto: the plugin keys its cache of opened sessions on this value.
//
// The same chunk name twice is refused, not resolved by taking the first: a
// sibling subdomain can add a cookie of our name (cookie tossing), and taking
// it would sign the user in as someone else.
func (s *sessionStore) sealedValue(r *http.Request) (string, error) {
	if v, ok := loneChunk(r.Header["Cookie"], s.name, s.nameEq, s.sepNameEq); ok {
		return v, nil
	}
	return s.joinChunks(r.Cookies())
}

// loneChunk finds the common case without parsing every cookie (which
// checks each byte of each value, ours included): one Cookie line in which
// name occurs once, as the name of a cookie, after "; " or first, as
// browsers write it. Anything else, ok false, goes the long way. The value
// is checked when it is opened. This runs interpreted on every request, and
// under Yaegi each call into the standard library costs about a
// microsecond: hence the few calls, and a function rather than a method.
func loneChunk(lines []string, name, nameEq, sepNameEq string) (value string, ok bool) {
	if len(lines) != 1 || strings.Count(lines[0], name) != 1 {
		return "", false
	}
	if _, value, ok = strings.Cut(lines[0], sepNameEq); !ok {
		value, ok = strings.CutPrefix(lines[0], nameEq)
	}
	value, _, _ = strings.Cut(value, ";")
	return value, ok && value != "" && value[len(value)-1] != ' '
}

// loneSession is loneChunk for a Cookie header on the slow path, with the header
// the app gets: the line without the session cookie (the one cookie of ags it can
// hold, since name occurs once), the others as they came. ok false: the long way
// (sealedValue and appCookies).
func loneSession(line, name, nameEq, sepNameEq string) (value string, app []string, ok bool) {
	if strings.Count(line, name) != 1 {
		return "", nil, false
	}
	before, rest, found := strings.Cut(line, sepNameEq)
	if !found {
		if rest, found = strings.CutPrefix(line, nameEq); !found {
			return "", nil, false
		}
		before = ""
	}
	value, after, _ := strings.Cut(rest, ";")
	if value == "" || value[len(value)-1] == ' ' {
		return "", nil, false
	}
	// Copies, or a part of line would keep all of it in the cache.
	before, after = strings.TrimSpace(before), strings.TrimSpace(after)
	switch {
	case before == "" && after == "":
		return value, nil, true
	case before == "":
		return value, []string{strings.Clone(after)}, true
	case after == "":
		return value, []string{strings.Clone(before)}, true
	}
	return value, []string{before + "; " + after}, true
}

// joinChunks returns the joined value of the session chunks among cookies.
func (s *sessionStore) joinChunks(cookies []*http.Cookie) (string, error) {
	var parts [maxChunks]string
	n, last := 0, 0
	for _, c := range cookies {
		i, ok := s.chunkIndex[c.Name]
		if !ok {
			if s.isExtraChunk(c.Name) {
				return "", errTooManyChunks
			}
			continue
		}
		if parts[i] != "" {
			return "", errChunkDuplicate
		}
		if c.Value == "" {
			return "", errSealedEncoding
		}
		parts[i] = c.Value
		n++
		if i > last {
			last = i
		}
	}
	if n == 0 {
		return "", errNoSessionCookie
	}
	// n different places are 0..n-1 exactly when the highest is n-1.
	if last != n-1 {
		return "", errChunkGap
	}
	if n == 1 {
		return parts[0], nil
	}
	return strings.Join(parts[:n], ""), nil
}

// setChunks writes value as session chunks that live maxAge seconds, and
// expires whatever chunks r carried beyond the new count.
func (s *sessionStore) setChunks(w http.ResponseWriter, r *http.Request, value string, maxAge int) error {
	if len(value) > maxChunks*chunkSize {
		return fmt.Errorf("save session: %d bytes sealed, more than %d cookies can hold", len(value), maxChunks)
	}
	n := 0
	for start := 0; start < len(value); start += chunkSize {
		end := start + chunkSize
		if end > len(value) {
			end = len(value)
		}
		http.SetCookie(w, s.cookies.cookie(r, s.chunkNames[n], value[start:end], maxAge, s.cookies.sameSite))
		n++
	}
	s.expireChunks(w, r, n)
	return nil
}

// expireChunks expires every session chunk r carries from place `from` on,
// extra ones past the limit included, each once.
func (s *sessionStore) expireChunks(w http.ResponseWriter, r *http.Request, from int) {
	done := make(map[string]bool)
	for _, c := range r.Cookies() {
		i, ok := s.chunkIndex[c.Name]
		if (ok && i >= from) || (!ok && s.isExtraChunk(c.Name)) {
			if !done[c.Name] {
				done[c.Name] = true
				s.expire(w, r, c.Name, s.cookies.sameSite)
			}
		}
	}
}

// expire tells the browser to drop the cookie called name.
func (s *sessionStore) expire(w http.ResponseWriter, r *http.Request, name string, sameSite http.SameSite) {
	http.SetCookie(w, s.cookies.cookie(r, name, "", -1, sameSite))
}

// clear expires every session chunk that r carries, and `name` always.
func (s *sessionStore) clear(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(s.name); err != nil {
		s.expire(w, r, s.name, s.cookies.sameSite)
	}
	s.expireChunks(w, r, 0)
}
