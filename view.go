package ags

import (
	"hash/maphash"
	"net/http"
	"strings"
	"time"
)

// What one Cookie header means to ags: the flag, the opened session and the headers it
// gives the app, and the Cookie header the app gets. Worked out once per header, on
// the slow path, and kept in the view cache that the request path reads (hotpath.go).

// cookieView is what one Cookie header means to ags.
type cookieView struct {
	key, check    uint64    // the Cookie header's digests (viewCache)
	signedIn      bool      // flag on and a session: the common signed-in request
	flagOn        bool      // ags is on for this browser
	id            *identity // the valid session's identity; nil without one
	until         time.Time // the request path's copy of id.until; zero when the rules refuse the user
	hasAgsCookies bool      // the header carries ags cookies, which the app must not see (flag on)
	appCookie     []string  // the Cookie header for the app without them; nil: none left
	// The view cache's accounting, under its lock (cache.go): the bytes it counts for
	// the view, and whether they no longer count (evicted, or replaced by newer views
	// of its session).
	bytes     int
	uncounted bool
}

// newView works out what a Cookie header means (tests and benchmarks: the request
// path works it out for the request it has, missedView).
func (m *middleware) newView(line string) *cookieView {
	key, check := m.views.digests(line)
	return newViewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}}, line, key, check)
}

// The slow path of a Cookie header, once per header: on every cache miss (the
// first request of a browser on this Traefik, after a reload, after eviction).
// Under Yaegi it is shaped as the request path is (hotpath.go's cost model): it
// calls functions, not methods, whose every call costs as a closure's; and what
// the common case does not need is in functions of its own, since each expression
// of a called function is allocated at every call, taken or not.

// newViewOf works out what r's Cookie header (line, its lines joined; key and
// check, its digests) means.
func newViewOf(m *middleware, r *http.Request, line string, key, check uint64) *cookieView {
	if len(line) > maxCookieHeader {
		return hugeView(m, key, check)
	}
	st := m.store
	v := &cookieView{key: key, check: check, flagOn: flagFor(m.cfg, r)}
	sealed, app, ok := loneSession(line, st.name, st.nameEq, st.sepNameEq)
	if ok { // the common case: one session cookie among others
		v.id = sealedIdentity(m, sealed)
		v.appCookie, v.hasAgsCookies = app, true
	} else {
		sessionTheLongWay(m, v, r, line)
	}
	derive(v)
	return v
}

// hugeView is the view of a Cookie header over maxCookieHeader: no session, no
// flag, and nothing of it for the app.
func hugeView(m *middleware, key, check uint64) *cookieView {
	v := &cookieView{key: key, check: check, flagOn: m.cfg.flagDefault, hasAgsCookies: true}
	derive(v)
	return v
}

// sessionTheLongWay fills in v's session and app cookies when the header is not
// the common case (chunks, several session cookies, none).
func sessionTheLongWay(m *middleware, v *cookieView, r *http.Request, line string) {
	if sealed, err := m.store.sealedValue(r); err == nil {
		v.id = sealedIdentity(m, sealed)
	}
	v.appCookie, v.hasAgsCookies = m.appCookies(line)
}

// sealedIdentity is the identity of a sealed session value: the one kept when this
// configuration opened the value before (in another Cookie header), else the
// value opened, and kept when it opens.
func sealedIdentity(m *middleware, sealed string) *identity {
	c := m.views
	key, check := maphash.String(c.keySeed, sealed), maphash.String(c.checkSeed, sealed)
	if id := openedIdentity(c, key, check); id != nil {
		return id
	}
	id := openIdentity(m, sealed)
	if id != nil && len(sealed) <= maxCachedCookies {
		id.key, id.check = key, check
		putOpened(c, id)
	}
	return id
}

// openIdentity opens a sealed session and makes its identity: from its view block
// when this instance's options made it, else from its claims; nil when it does not
// open.
func openIdentity(m *middleware, sealed string) *identity {
	// m.now, not the store's clock: that one is a closure.
	st := m.store
	plain, issuedAt, expiry, err := openWith(st.sealer, st.sessionAD, sealed, m.now().Unix())
	if err != nil {
		return nil
	}
	id := identityFromBlock(m.viewDigest, plain, expiry)
	if id == nil {
		return identityFromClaims(m, plain, issuedAt, expiry)
	}
	id.issuedAt = issuedAt
	if m.revs != nil && m.revs.revoked(id.sid, id.sub, issuedAt) { // the check first: no call when off
		return nil
	}
	if m.cfg.idleTimeout > 0 {
		return idleIdentity(m, id, lastUseInBlock(plain, issuedAt))
	}
	return id
}

// identityFromClaims is openIdentity without a view block: the session decoded.
func identityFromClaims(m *middleware, plain []byte, issuedAt, expiry int64) *identity {
	sess, err := sessionFrom(plain, issuedAt, expiry)
	if err != nil {
		return nil
	}
	id := m.newIdentity(sess)
	if m.cfg.idleTimeout > 0 && idleOver(m, id, m.now()) { // the check first: no call when off
		return nil
	}
	if m.revs != nil && m.revs.revoked(id.sid, id.sub, issuedAt) {
		return nil
	}
	return id
}

// derive sets the fields the request path reads from the others.
func derive(v *cookieView) {
	v.signedIn = v.flagOn && v.id != nil
	if !v.flagOn { // the app gets the request untouched, ags's cookies too
		v.hasAgsCookies = false
		v.appCookie = nil // not in one assignment with the line above: Yaegi panics
	}
	if v.id != nil {
		v.until = v.id.until
		if v.id.refusal != "" {
			// The request path serves a session until v.until; a user the access
			// rules refuse goes to serveOther at once, where the path decides.
			v.until = time.Time{}
		}
	}
}

// viewOf returns the view of a request's Cookie header (its lines joined), from the
// cache when it can, else working it out and keeping it.
func viewOf(m *middleware, r *http.Request) *cookieView {
	line := strings.Join(r.Header["Cookie"], "; ")
	key, check := m.views.digests(line)
	if v := m.views.get(key, check); v != nil {
		return v
	}
	return missedView(m, r, line, key, check)
}

// missedView works out the view of a request's Cookie header (line, its lines
// joined; key and check, its digests), which the cache does not hold, and keeps
// it: the request path's cache miss.
func missedView(m *middleware, r *http.Request, line string, key, check uint64) *cookieView {
	v := newViewOf(m, r, line, key, check)
	if len(line) <= maxCachedCookies {
		putView(m.views, v)
	}
	return v
}

// forgetView drops a view, so its session is not served from the cache again.
func (m *middleware) forgetView(v *cookieView) {
	m.views.forget(v)
}

// appCookies is the Cookie header without ags's cookies, and whether it had any.
func (m *middleware) appCookies(line string) ([]string, bool) {
	if !strings.Contains(line, m.cfg.sessionCookie) {
		return nil, false
	}
	var kept []string
	own := false
	for _, c := range strings.Split(line, ";") {
		c = strings.TrimSpace(c)
		name, _, _ := strings.Cut(c, "=")
		switch {
		case c == "":
		case m.store.isOwnCookie(name):
			own = true
		default:
			kept = append(kept, c)
		}
	}
	if !own {
		return nil, false
	}
	if len(kept) == 0 {
		return nil, true
	}
	// A copy: one cookie alone would be a part of line, and keep all of it.
	return []string{strings.Clone(strings.Join(kept, "; "))}, true
}

// protectedPath works out whether r's path needs a signed-in user, and remembers for
// the request path whether a request without a session may pass there untouched: by
// its decoded path, so only for a path spelt the usual way (no RawPath), which the
// request path checks too.
func protectedPath(m *middleware, r *http.Request) bool {
	p, raw := r.URL.Path, r.URL.RawPath
	if raw == "" && m.paths.open(p) {
		return false
	}
	protected := m.isProtected(p, raw)
	if !protected && !m.ownPaths[p] && raw == "" && len(p) <= maxCachedPath {
		m.paths.put(p)
	}
	return protected
}
