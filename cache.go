package ags

import (
	"net/http"
	"strings"
	"sync"
)

// The request path of a signed-in user runs interpreted on every request. Under
// Yaegi v0.16.1 a function call costs about 0.6 µs, a method call about 2 µs, a call
// into the standard library 0.3 to 1 µs (measured on the benchmark machine), so the
// budget of SPEC.md section 10 allows a handful of steps. What a Cookie header means
// (the flag, the session, the Cookie header for the app) and whether a path is
// protected are therefore worked out once and kept in two bounded caches; the
// session's expiry is still checked on every request.

// Cache bounds. A cookieView holds a Cookie header (a few KB with a session) and
// its opened session; a path entry, a path.
// A Cookie header longer than maxCachedCookies is worked out on every request and
// never kept, so that the view cache holds at most viewCacheSize × 16 KB; a session
// sealed in one or two chunks fits with room to spare.
// A Cookie header over maxCookieHeader is no browser's (ten session chunks are
// under 40 KB): it means no session and no flag, and the app does not get it, so
// that a flood of cookies costs ags nothing to pick apart.
const (
	viewCacheSize    = 1024
	pathCacheSize    = 4096
	maxCachedCookies = 16 << 10
	maxCookieHeader  = 64 << 10
	maxCachedPath    = 2048
)

// cookieView is what one Cookie header means to ags.
type cookieView struct {
	key       string    // the Cookie header it was made from
	fast      bool      // flag on and a session: the common signed-in request
	flagOn    bool      // ags is on for this browser
	id        *identity // the valid session's identity; nil without one
	hasOwn    bool      // the header carries ags cookies, which the app must not see
	appCookie []string  // the Cookie header for the app without them; nil: none left
}

// viewCache maps a Cookie header to its view. The sealed value inside is
// authenticated, so an entry can only describe a session ags made.
type viewCache struct {
	mu      sync.Mutex
	entries map[string]*cookieView
}

// pathCache maps a request path to whether a request without a session needs ags
// there: true for a protected path and for the toggle, callback and sign-out paths.
type pathCache struct {
	mu      sync.Mutex
	entries map[string]bool
}

// newView works out what a Cookie header means: the slow path, once per header.
func (m *middleware) newView(line string) *cookieView {
	if len(line) > maxCookieHeader {
		return &cookieView{key: line, flagOn: m.cfg.flagDefault, hasOwn: true}
	}
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	v := &cookieView{key: line, flagOn: m.flagOn(r)}
	if sealed, err := m.store.sealedValue(r); err == nil {
		if sess, oerr := m.store.open(sealed); oerr == nil {
			v.id = m.newIdentity(sess)
		}
	}
	v.appCookie, v.hasOwn = m.appCookies(line)
	v.fast = v.flagOn && v.id != nil
	if len(line) > maxCachedCookies {
		return v
	}
	m.views.mu.Lock()
	if len(m.views.entries) >= viewCacheSize {
		for k := range m.views.entries { // drop one: it is only worked out again
			delete(m.views.entries, k)
			break
		}
	}
	m.views.entries[line] = v
	m.views.mu.Unlock()
	return v
}

// forgetView drops a view, so its session is not served from the cache again.
func (m *middleware) forgetView(v *cookieView) {
	m.views.mu.Lock()
	if m.views.entries[v.key] == v {
		delete(m.views.entries, v.key)
	}
	m.views.mu.Unlock()
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
	return []string{strings.Join(kept, "; ")}, true
}

// viewOf returns the view of a request's Cookie header lines, from the cache when
// it can.
func viewOf(m *middleware, lines []string) *cookieView {
	line := lines[0]
	if len(lines) != 1 {
		line = strings.Join(lines, "; ")
	}
	m.views.mu.Lock()
	v := m.views.entries[line]
	m.views.mu.Unlock()
	if v == nil {
		v = m.newView(line)
	}
	return v
}

// protectedPath works out whether p needs a signed-in user, and remembers for
// servePlain whether a request without a session there needs ags at all.
func protectedPath(m *middleware, p string) bool {
	protected := m.isProtected(p)
	if len(p) > maxCachedPath {
		return protected
	}
	m.paths.mu.Lock()
	if len(m.paths.entries) >= pathCacheSize {
		m.paths.entries = map[string]bool{}
		for s := range m.special {
			m.paths.entries[s] = true
		}
	}
	m.paths.entries[p] = protected || m.special[p]
	m.paths.mu.Unlock()
	return protected
}

// renew handles a cached session that has ended or whose access token must be
// renewed: an ended session is forgotten; with refresh on, the access token is
// renewed once per process however many requests carry the session at once, and
// a failed renewal ends the session and clears its cookies on w.
func (m *middleware) renew(w http.ResponseWriter, r *http.Request, v *cookieView, now int64) *identity {
	if now >= v.id.expiry {
		m.forgetView(v)
		return nil
	}
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	m.views.mu.Lock()
	current := m.views.entries[v.key]
	m.views.mu.Unlock()
	if current != nil && current.id != nil && current.id != v.id && (current.id.refreshAt == 0 || now < current.id.refreshAt) {
		return current.id // another request renewed it meanwhile
	}
	sess, err := m.refreshSession(r, v.id.sess)
	if err == nil {
		err = m.store.save(w, r, sess)
	}
	if err != nil {
		m.log.warn("session ended: %v", err)
		m.forgetView(v)
		m.store.clear(w, r)
		return nil
	}
	renewed := *v
	renewed.id = m.newIdentity(sess)
	renewed.fast = renewed.flagOn
	m.views.mu.Lock()
	m.views.entries[v.key] = &renewed
	m.views.mu.Unlock()
	return renewed.id
}
