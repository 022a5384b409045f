package ags

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// The view block: the identity a session gives the app on one configuration of
// ags, sealed into the session cookie by the instance that saves it (at sign-in and
// renewal), so that a request whose view is not cached (the first on this Traefik,
// after eviction, on a new instance) reads its identity with one call into the
// standard library instead of decoding the claims and working the headers out
// again, which under Yaegi costs several times more (bench/README.md). It is a
// query string, the first value of the session's JSON:
//
//	{"v":"h=X-Auth-Request-User&h=<sub>&h=...&i=<digest>&i=<sub>&i=<name>&i=<rule>&i=<unix>&i=<sid>", ...}
//
//	i  six values, in this order: viewDigest of the options it was made with (an
//	   instance whose options differ, other headers or other rules, works the
//	   identity out from the claims instead); the sub; the name shown on pages; the
//	   access rule refused ("": none); when the access token must be renewed, in
//	   Unix seconds ("": never); the ID token's sid ("": none), which revocation
//	   reads (revocation.go)
//	h  the headers for the app, a name then its value, header after header
//
// Values in a fixed order rather than a key each: under Yaegi every map lookup and
// every call is paid on each cache miss. It is sealed with the session, so it says
// only what ags said. A session sealed without it (by an earlier version, or
// deflated: large) is decoded in full. The tokens are never in it: with
// passAccessToken or passIDToken on, there is no block.

// viewBlockVersion changes when newIdentity's output for the same options does.
const viewBlockVersion = "4"

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
		"authParams":           c.AuthParams, // vtr is a rule
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
	refreshAt := ""
	if !id.refreshAt.IsZero() {
		refreshAt = strconv.FormatInt(id.refreshAt.Unix(), 10)
	}
	q := url.Values{"i": {m.viewDigest, id.sub, id.name, id.refusal, refreshAt, id.sid}}
	for _, hv := range id.headers {
		q["h"] = append(q["h"], hv.name, hv.value[0])
	}
	return q.Encode()
}

// viewPrefix opens the JSON of a session with a view block: the block is the
// string up to the next quote (a query string holds none, and the session is
// encoded without HTML escaping).
var viewPrefix = []byte(`{"v":"`)

// identityFromBlock is the identity in the view block of an opened session's
// encoding (plain), for a session that ends at expiry (Unix seconds), if options
// of the digest made it; nil when there is none, other options made it, or it does
// not parse. It is on every cache miss: one function, with what it needs of the
// standard library in few calls (hotpath.go's cost model).
func identityFromBlock(digest string, plain []byte, expiry int64) *identity {
	if len(plain) < 1 || plain[0]&flagDeflate != 0 || digest == "" {
		return nil
	}
	// The block is the string up to the next quote: a query string holds none,
	// and the session is encoded without HTML escaping.
	rest, found := bytes.CutPrefix(plain[1:], viewPrefix)
	end := bytes.IndexByte(rest, '"')
	if !found || end < 0 {
		return nil
	}
	q, err := url.ParseQuery(string(rest[:end]))
	i, hs := q["i"], q["h"]
	if err != nil || len(i) != 6 || i[0] != digest || len(hs)%2 != 0 {
		return nil
	}
	until := time.Unix(expiry, 0)
	id := &identity{sub: i[1], name: i[2], refusal: i[3], sid: i[5], expiry: until, until: until}
	if i[4] != "" && !refreshFromBlock(id, i[4]) {
		return nil
	}
	// Each value a slice of hs of its own, capped, so that a header the app
	// appends to gets an array of its own.
	id.headers = make([]headerValue, len(hs)/2)
	for j := range id.headers {
		id.headers[j] = headerValue{name: hs[2*j], value: hs[2*j+1 : 2*j+2 : 2*j+2]}
	}
	// Its strings are the block's values: parts of the block, or copies no longer
	// than it, unescaped.
	id.bytes = identityOverhead + headerOverhead*len(id.headers) + 2*end
	return id
}

// refreshFromBlock sets when id's access token must be renewed, from a block's
// Unix seconds; false when they do not parse.
func refreshFromBlock(id *identity, unix string) bool {
	n, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return false
	}
	id.refreshAt = time.Unix(n, 0)
	if id.refreshAt.Before(id.until) {
		id.until = id.refreshAt
	}
	return true
}
