package ags

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The view block: the identity a session gives the app on one configuration of
// ags, sealed into the session cookie by the instance that saves it (at sign-in and
// renewal), so that a request whose view is not cached (the first on this Traefik,
// after eviction, on a new instance) reads its identity with a few calls into the
// standard library instead of decoding the claims and working the headers out
// again, which under Yaegi costs several times more (bench/README.md). It is a
// query string, the first value of the session's JSON:
//
//	{"v":"d=<digest>&h=X-Auth-Request-User%3A<sub>&h=...&n=<name>&s=<sub>[&a=<unix>][&r=<rule>]", ...}
//
//	d  viewDigest of the options it was made with: an instance whose options differ
//	   (other headers, other rules) works the identity out from the claims instead
//	h  a header for the app, "Name:value", one per header
//	s  the sub, n the name shown on pages, r the access rule refused ("": none)
//	a  when the access token must be renewed (refresh on, with a refresh token)
//
// It is sealed with the session, so it says only what ags said. A session sealed
// without it (by an earlier version, or deflated: large) is decoded in full. The
// tokens are never in it: with passAccessToken or passIDToken on, there is no block.

// viewBlockVersion changes when newIdentity's output for the same options does.
const viewBlockVersion = "1"

// viewDigest is a digest of the options that make an identity; "" when the
// identity carries a token (no block is written).
func viewDigest(c *Config, s *settings) string {
	if s.passAccessToken || s.passIDToken {
		return ""
	}
	b, err := json.Marshal(map[string]interface{}{
		"version":              viewBlockVersion,
		"identityHeaders":      s.identityHeaders,
		"requiredClaims":       c.RequiredClaims,
		"allowedEmailDomains":  c.AllowedEmailDomains,
		"allowedUsers":         c.AllowedUsers,
		"allowUnverifiedEmail": s.allowUnverifiedEmail,
		"refresh":              s.refresh,
	})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// viewBlock encodes id for the session cookie; "" when this instance writes none.
func (m *middleware) viewBlock(id *identity) string {
	if m.viewDigest == "" {
		return ""
	}
	q := url.Values{"d": {m.viewDigest}, "s": {id.sub}, "n": {id.name}}
	if id.refusal != "" {
		q["r"] = []string{id.refusal}
	}
	if !id.refreshAt.IsZero() {
		q["a"] = []string{strconv.FormatInt(id.refreshAt.Unix(), 10)}
	}
	for _, hv := range id.headers {
		q["h"] = append(q["h"], hv.name+":"+hv.value[0])
	}
	return q.Encode()
}

// viewPrefix opens the JSON of a session with a view block: the block is the
// string up to the next quote (a query string holds none, and the session is
// encoded without HTML escaping).
var viewPrefix = []byte(`{"v":"`)

// viewBlockOf returns the view block of an opened session's encoding; "" when it
// has none.
func viewBlockOf(plain []byte) string {
	if len(plain) < 1 || plain[0]&flagDeflate != 0 || !bytes.HasPrefix(plain[1:], viewPrefix) {
		return ""
	}
	rest := plain[1+len(viewPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}

// identityFromBlock is the identity a view block holds, if this instance's
// options made it; nil otherwise, or when it does not parse.
func (m *middleware) identityFromBlock(block string, expiry time.Time) *identity {
	q, err := url.ParseQuery(block)
	if err != nil || m.viewDigest == "" {
		return nil
	}
	if d := q["d"]; len(d) != 1 || d[0] != m.viewDigest {
		return nil
	}
	id := &identity{sub: firstValue(q["s"]), name: firstValue(q["n"]), refusal: firstValue(q["r"]), expiry: expiry, until: expiry}
	if a := q["a"]; len(a) == 1 {
		unix, err := strconv.ParseInt(a[0], 10, 64)
		if err != nil {
			return nil
		}
		id.refreshAt = time.Unix(unix, 0)
		if id.refreshAt.Before(id.until) {
			id.until = id.refreshAt
		}
	}
	hs := q["h"]
	id.headers = make([]headerValue, 0, len(hs))
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil
		}
		id.headers = append(id.headers, headerValue{name: name, value: []string{value}})
	}
	return id
}

func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
