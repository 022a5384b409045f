package ags

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The request path of a signed-in user runs interpreted on every request, and under
// Yaegi v0.16.1 every step costs: each expression of a called function is a value
// allocated at every call, a call into the standard library goes through
// reflection, a lock is two such calls. So what a Cookie header means (the flag, the
// session, the Cookie header for the app) and whether a path needs ags are worked out
// once and kept in two bounded caches, which the request path reads without a lock:
// it loads the current map from an atomic.Value, and a map once stored there is never
// written again. New entries wait in a small map under a mutex and are published in a
// fresh copy, in batches, so that copying costs a bounded amount per new entry. The
// session's expiry is still checked on every request.

// Cache bounds. A cookieView holds a Cookie header (a few KB with a session) and
// its opened session; a path entry, a path.
// A Cookie header longer than maxCachedCookies is worked out on every request and
// never kept. The view cache is bounded in bytes (cacheSize, 64 MiB by default): a
// view of a session sealed in one chunk takes about 7 KB (viewBytes), so the default
// holds the sessions of some 9,000 browsers.
// A Cookie header over maxCookieHeader is no browser's (ten session chunks are
// under 40 KB): it means no session and no flag, and the app does not get it, so
// that a flood of cookies costs ags nothing to pick apart.
const (
	defaultCacheSize = 64 << 20
	pathCacheSize    = 1024
	maxCachedCookies = 16 << 10
	maxCookieHeader  = 64 << 10
	maxCachedPath    = 2048
)

// publishBatch and publishAfter say when new entries are published: once they are a
// 1/publishBatch share of the published ones, so that each new entry costs at most
// publishBatch copies, or once publishAfter has passed since the last publication,
// so that on a quiet site an entry does not wait long for company.
const (
	publishBatch = 32
	publishAfter = time.Second
)

// cookieView is what one Cookie header means to ags.
type cookieView struct {
	key           string    // the Cookie header it was made from
	signedIn      bool      // flag on and a session: the common signed-in request
	flagOn        bool      // ags is on for this browser
	id            *identity // the valid session's identity; nil without one
	until         time.Time // the request path's copy of id.until; zero when the rules refuse the user
	hasAgsCookies bool      // the header carries ags cookies, which the app must not see (flag on)
	appCookie     []string  // the Cookie header for the app without them; nil: none left
}

// viewCache maps a Cookie header to its view. The sealed value inside is
// authenticated, so an entry can only describe a session ags made.
type viewCache struct {
	hot       atomic.Value           // map[string]*cookieView, never written once stored
	mu        sync.Mutex             // guards the fields below and every store to hot
	recent    map[string]*cookieView // not yet published; nil: key removed
	published time.Time
	hotBytes  int // viewBytes of the published views
	budget    int // the bound on hotBytes after a publication, in bytes
}

func newViewCache(budget int) *viewCache {
	c := &viewCache{recent: map[string]*cookieView{}, budget: budget}
	c.hot.Store(map[string]*cookieView{})
	return c
}

// viewBytes estimates the memory a cached view holds: its key (the Cookie header)
// twice over, in the map and in the view, plus the opened session and the headers
// for the app (bench/README.md, "Figures behind the code").
func viewBytes(v *cookieView) int {
	return 2*len(v.key) + 1536
}

// get returns the view of key, or nil. Called with c.mu held.
func (c *viewCache) get(key string, now time.Time) *cookieView {
	if v, waiting := c.recent[key]; waiting {
		if v != nil && now.Sub(c.published) >= publishAfter {
			c.publish(now)
		}
		return v
	}
	return c.hot.Load().(map[string]*cookieView)[key]
}

// put adds, replaces (v) or removes (nil) the view of key. A replaced or removed
// view is published at once, so that the request path stops serving it. Called
// with c.mu held.
func (c *viewCache) put(key string, v *cookieView, now time.Time) {
	hot := c.hot.Load().(map[string]*cookieView)
	c.recent[key] = v
	if hot[key] != nil || publishDue(len(hot), len(c.recent), now.Sub(c.published)) {
		c.publish(now)
	}
}

// publish stores a copy of the published views with the recent ones. When the
// copy would hold more than the budget, it keeps a random half of it from the
// published ones (Go's map order is random): they are only worked out again.
func (c *viewCache) publish(now time.Time) {
	hot := c.hot.Load().(map[string]*cookieView)
	recentBytes := 0
	for _, v := range c.recent {
		if v != nil {
			recentBytes += viewBytes(v)
		}
	}
	keep := c.hotBytes
	if c.hotBytes+recentBytes > c.budget {
		keep = c.budget / 2
	}
	next := make(map[string]*cookieView, len(hot)+len(c.recent))
	kept := 0
	for k, v := range hot {
		if kept >= keep {
			break
		}
		if _, replaced := c.recent[k]; !replaced {
			next[k] = v
			kept += viewBytes(v)
		}
	}
	for k, v := range c.recent {
		if v != nil {
			next[k] = v
			kept += viewBytes(v)
		}
	}
	c.hotBytes = kept
	c.hot.Store(next)
	c.recent = map[string]*cookieView{}
	c.published = now
}

// pathCache maps a request path to whether a request without a session may pass
// there untouched: true for an open path, false for a protected one. The toggle,
// callback and sign-out paths are never entered: a path the cache does not hold is
// worked out by the slow path.
type pathCache struct {
	hot       atomic.Value // map[string]bool, never written once stored
	mu        sync.Mutex   // guards the fields below and every store to hot
	recent    map[string]bool
	published time.Time
}

func newPathCache() *pathCache {
	c := &pathCache{recent: map[string]bool{}}
	c.hot.Store(map[string]bool{})
	return c
}

// get returns what the cache holds for p; known is false when it holds nothing.
func (c *pathCache) get(p string, now time.Time) (open, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if open, known = c.recent[p]; known && now.Sub(c.published) >= publishAfter {
		c.publish(now)
	}
	if !known {
		open, known = c.hot.Load().(map[string]bool)[p]
	}
	return open, known
}

// put records whether a request without a session may pass on path p.
func (c *pathCache) put(p string, open bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent[p] = open
	if publishDue(len(c.hot.Load().(map[string]bool)), len(c.recent), now.Sub(c.published)) {
		c.publish(now)
	}
}

// publish is viewCache.publish for paths.
func (c *pathCache) publish(now time.Time) {
	hot := c.hot.Load().(map[string]bool)
	next := make(map[string]bool, len(hot)+len(c.recent))
	keep := keptOnPublish(len(hot), len(c.recent), pathCacheSize)
	for p, open := range hot {
		if len(next) == keep {
			break
		}
		next[p] = open
	}
	for p, open := range c.recent {
		next[p] = open
	}
	c.hot.Store(next)
	c.recent = map[string]bool{}
	c.published = now
}

// publishDue reports whether the waiting entries should be published now.
func publishDue(published, waiting int, age time.Duration) bool {
	return waiting*publishBatch >= published || age >= publishAfter
}

// keptOnPublish is how many published entries the next publication keeps.
func keptOnPublish(published, waiting, size int) int {
	if published+waiting <= size {
		return published
	}
	return size / 2
}

// newView works out what a Cookie header means: the slow path, once per header.
func (m *middleware) newView(line string) *cookieView {
	if len(line) > maxCookieHeader {
		v := &cookieView{key: line, flagOn: m.cfg.flagDefault, hasAgsCookies: true}
		v.derive()
		return v
	}
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	v := &cookieView{key: line, flagOn: m.flagOn(r)}
	if sealed, err := m.store.sealedValue(r); err == nil {
		if sess, oerr := m.store.open(sealed); oerr == nil {
			v.id = m.newIdentity(sess)
		}
	}
	v.appCookie, v.hasAgsCookies = m.appCookies(line)
	v.derive()
	return v
}

// derive sets the fields the request path reads from the others.
func (v *cookieView) derive() {
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
	c := m.views
	c.mu.Lock()
	v := c.get(line, m.now())
	c.mu.Unlock()
	if v != nil {
		return v
	}
	v = m.newView(line)
	if len(line) <= maxCachedCookies {
		c.mu.Lock()
		c.put(line, v, m.now())
		c.mu.Unlock()
	}
	return v
}

// forgetView drops a view, so its session is not served from the cache again.
func (m *middleware) forgetView(v *cookieView) {
	c := m.views
	c.mu.Lock()
	defer c.mu.Unlock()
	now := m.now()
	if c.get(v.key, now) == v {
		c.put(v.key, nil, now)
	}
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

// protectedPath works out whether p needs a signed-in user, and remembers for the
// request path whether a request without a session may pass there untouched.
func protectedPath(m *middleware, p string) bool {
	if open, _ := m.paths.get(p, m.now()); open {
		return false
	}
	protected := m.isProtected(p)
	if len(p) <= maxCachedPath {
		m.paths.put(p, !protected && !m.ownPaths[p], m.now())
	}
	return protected
}
