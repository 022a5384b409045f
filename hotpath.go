package ags

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The request path: what Traefik runs for every request, and the copy-on-write maps
// it reads. It is the one place where the code is shaped by the interpreter; the rest
// of the plugin is ordinary Go.
//
// The cost model, under Yaegi v0.16.1 (the interpreter in Traefik v3.6), counted in
// instructions by valgrind (make bench-callgrind, bench/README.md) on this request
// path and on variants of it:
//   - every expression of a called function (a field read, an index, a comparison, a
//     variable) is a frame slot allocated at every call: about 1,000 instructions;
//   - a call into the standard library goes through reflect.Value.Call: about 4,000,
//     and about 10,000 for a method with an interface argument (WriteSubset);
//   - a call of an interpreted function costs about 5,000 on top of its slots, and of
//     an interpreted closure about 10,000 more (reflect.MakeFunc);
//   - a range over a map about 1,000 per key; a lock is two standard-library calls.
// For scale, the empty plugin (method entry, Header.Set, next.ServeHTTP) costs about
// 25,000. So the request path is one closure over locals (handler), serves the two
// common requests with as few expressions as it can (a live session: serveSignedIn,
// one more call, a function and not a closure; an open path without one: inline),
// tells with one standard-library call whether a request may carry a forged identity
// header (headerCheck), and reads its two caches without a lock: each is an
// atomic.Value holding a map that is never written once stored. New entries wait in
// a small map under a mutex and are published in a fresh copy, in batches, so that
// copying costs a bounded amount per new entry. The session's expiry is still
// checked on every request. Everything else goes to serveOther (ags.go), which
// dispatches in SPEC order as ordinary Go.

// handler returns the request path, in the order of SPEC.md section 3. It is the
// hot path, and Traefik runs it in Yaegi, where each expression of a called function
// is a value allocated at every call, a call into the standard library goes through
// reflection, and a call of an interpreted function costs about ten expressions
// (the cost model above). So it is one closure over what it reads rather than a
// method reading fields, and it serves the two common requests only: a live session
// with the flag on (serveSignedIn, one more call) and any other request on a path
// known to be open. Everything else goes to serveOther. Forged identity headers
// go first (step 1): headerCheck tells in one call whether there can be any.
func (m *middleware) handler() http.HandlerFunc {
	// Method values and functions held in variables: under Yaegi a selector such as
	// m.next or strings.Join is one more value allocated at every call.
	removedHeaders := m.removedHeaders
	check := newHeaderCheck(removedHeaders)
	common, sink := check.common, check.sink
	views, paths := m.views.hot.Load, m.paths.hot.Load
	join, next := strings.Join, m.next
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if h.WriteSubset(sink, common) != nil {
			stripIdentityHeaders(h, removedHeaders)
		}
		v := views().(map[string]*cookieView)[join(h["Cookie"], "; ")]
		if v == nil {
			serveOther(m, w, r, viewOf(m, r))
			return
		}
		if v.signedIn {
			serveSignedIn(m, w, r, v)
			return
		}
		if paths().(map[string]bool)[r.URL.Path] { // no session, or the flag off
			if v.hasAgsCookies {
				setAppCookie(h, v)
			}
			next.ServeHTTP(w, r)
			return
		}
		serveOther(m, w, r, v)
	}
}

// serveSignedIn gives a request with a live session its identity, unless the
// session must be renewed or the path is one of ags's own. It is a function, not a
// closure: Yaegi calls an interpreted closure through reflection, a function directly.
func serveSignedIn(m *middleware, w http.ResponseWriter, r *http.Request, v *cookieView) {
	if m.since(v.until) >= 0 || m.ownPaths[r.URL.Path] {
		serveOther(m, w, r, v)
		return
	}
	h := r.Header
	for _, hv := range v.id.headers {
		h[hv.name] = hv.value
	}
	// setAppCookie's steps, inline: one more call would cost more than they do.
	if v.appCookie == nil {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = v.appCookie
	}
	m.next.ServeHTTP(w, r)
}

// setAppCookie gives the app the Cookie header without ags's cookies.
func setAppCookie(h http.Header, v *cookieView) {
	if v.appCookie == nil {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = v.appCookie
	}
}

// commonHeaders are the request headers that browsers, HTTP clients, proxies and
// Traefik itself send. A request whose headers are all among them (less the identity
// headers) carries nothing to strip, and the request path can tell so with one call
// into the standard library (see headerCheck).
var commonHeaders = []string{
	"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
	"Access-Control-Request-Headers", "Access-Control-Request-Method", "Authorization",
	"Baggage", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
	"Content-Type", "Cookie", "Device-Memory", "Dnt", "Downlink", "Dpr", "Early-Data",
	"Ect", "Expect", "Forwarded", "From", "If-Match", "If-Modified-Since",
	"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin",
	"Pragma", "Priority", "Purpose", "Range", "Referer", "Rtt", "Save-Data",
	"Sec-Ch-Prefers-Color-Scheme", "Sec-Ch-Ua", "Sec-Ch-Ua-Arch", "Sec-Ch-Ua-Bitness",
	"Sec-Ch-Ua-Full-Version-List", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Model",
	"Sec-Ch-Ua-Platform", "Sec-Ch-Ua-Platform-Version", "Sec-Fetch-Dest",
	"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Sec-Gpc", "Sec-Purpose",
	"Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
	"Sec-Websocket-Version", "Te", "Traceparent", "Tracestate", "Upgrade",
	"Upgrade-Insecure-Requests", "User-Agent", "Via", "Viewport-Width", "Width",
	"X-Csrf-Token", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Proto", "X-Forwarded-Server", "X-Real-Ip",
	"X-Request-Id", "X-Requested-With", "X-Xsrf-Token",
}

// headerCheck tells whether a request may carry an identity header, with one call:
// http.Header.WriteSubset writes every header not in its exclude set, and a closed
// pipe fails the first write, so it returns an error exactly when the request has a
// header outside the common ones. Under Yaegi that one call costs less than walking
// the request's headers. (WriteSubset passes over a key with no value or an invalid
// name; neither can be an identity header that reaches the app.)
type headerCheck struct {
	common map[string]bool // commonHeaders less the identity headers; never written
	sink   io.Writer       // fails every write
}

func newHeaderCheck(removedHeaders map[string]bool) headerCheck {
	common := map[string]bool{}
	for _, k := range commonHeaders {
		if !removedHeaders[k] {
			common[k] = true
		}
	}
	_, sink := io.Pipe()
	sink.Close()
	return headerCheck{common: common, sink: sink}
}

// stripIdentityHeaders deletes every header of the removed set that the request
// carries, under any key a backend reads as its name.
func stripIdentityHeaders(h http.Header, removedHeaders map[string]bool) {
	for k := range h {
		if removedHeaders[k] || removedHeaders[headerKey(k)] {
			delete(h, k)
		}
	}
}

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
	return 2*len(v.key) + viewOverhead
}

// viewOverhead is what a cached view holds besides its key, in bytes.
const viewOverhead = 1536

// get returns the view of key, or nil.
func (c *viewCache) get(key string, now time.Time) *cookieView {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, waiting := c.recent[key]; waiting {
		if v != nil && now.Sub(c.published) >= publishAfter {
			c.publish(now)
		}
		return v
	}
	return c.hot.Load().(map[string]*cookieView)[key]
}

// put adds, replaces (v) or removes (nil) the view of key. A replaced or removed
// view is published at once, so that the request path stops serving it.
func (c *viewCache) put(key string, v *cookieView, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store(key, v, now)
}

// forget removes the view of key if it is still v (and not a renewed one).
func (c *viewCache) forget(key string, v *cookieView, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	current, waiting := c.recent[key]
	if !waiting {
		current = c.hot.Load().(map[string]*cookieView)[key]
	}
	if current == v {
		c.store(key, nil, now)
	}
}

// store is put with c.mu held.
func (c *viewCache) store(key string, v *cookieView, now time.Time) {
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
			recentBytes += 2*len(v.key) + viewOverhead // viewBytes inline: under Yaegi a call per entry costs more than the copy
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
			kept += 2*len(v.key) + viewOverhead
		}
	}
	for k, v := range c.recent {
		if v != nil {
			next[k] = v
			kept += 2*len(v.key) + viewOverhead
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
