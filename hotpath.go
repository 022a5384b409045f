package ags

import (
	"hash/maphash"
	"io"
	"net/http"
	"strings"
)

// The request path: what Traefik runs for every request. It is the one place where the code is shaped by the interpreter; the rest
// of the plugin is ordinary Go.
//
// The cost model, under Yaegi v0.16.1 (the interpreter in Traefik v3.6), counted in
// instructions by valgrind (make bench-callgrind, bench/README.md) on this request
// path and on variants of it:
//   - every expression of a called function (a field read, an index, a comparison, a
//     variable) is a frame slot allocated at every call, whether its branch runs or
//     not: about 1,000 instructions, half of them the collector's later;
//   - a call into the standard library goes through reflect.Value.Call: about 4,000,
//     and about 10,000 for a method with an interface argument (WriteSubset);
//   - a call of an interpreted function costs about 4,000 on top of its slots, and of
//     an interpreted closure or method about 10,000 more: Yaegi v0.16.1 calls every
//     method through reflect.MakeFunc, as it calls a closure (13,900 instructions
//     against 4,300 for the same body as a function, measured), so the request path
//     and the cache miss (view.go) call functions;
//   - a range over a map about 1,000 per key; a lock is two standard-library calls.
// For scale, the empty plugin (method entry, Header.Set, next.ServeHTTP) costs about
// 25,000. So the request path is one closure over locals (handler), serves the two
// common requests with as few expressions as it can (a live session: serveSignedIn,
// one more call, a function and not a closure; an open path without one: inline),
// tells with one standard-library call whether a request may carry a forged identity
// header (headerCheck), and reads its two caches without a lock, with one call each
// (cache.go: a sync.Map; a view found by one digest of the Cookie header is served
// only if a second digest matches too). The session's expiry is still checked on
// every request. A Cookie header not in the cache goes to serveMiss, which works its
// view out with functions shaped the same way (view.go, viewblock.go) and keeps it;
// everything else goes to serveOther (ags.go), which dispatches in SPEC order as
// ordinary Go.

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
	if m.cfg.bearer != nil {
		return bearerHandler(m) // the same, with API clients' tokens first (bearer.go)
	}
	// Method values and functions held in variables: under Yaegi a selector such as
	// m.next or strings.Join is one more value allocated at every call.
	removedHeaders := m.removedHeaders
	check := newHeaderCheck(removedHeaders)
	common, sink := check.common, check.sink
	views, paths := m.views.entries.m.Load, m.paths.entries.m.Load
	digest, keySeed, checkSeed := maphash.String, m.views.keySeed, m.views.checkSeed
	join, next := strings.Join, m.next
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if h.WriteSubset(sink, common) != nil {
			stripIdentityHeaders(h, removedHeaders)
		}
		line, cookies := "", h["Cookie"]
		if len(cookies) == 1 {
			line = cookies[0]
		} else {
			line = join(cookies, "; ")
		}
		x, _ := views(digest(keySeed, line))
		v, _ := x.(*cookieView)
		if v == nil {
			serveMiss(m, w, r, line)
			return
		}
		if v.check != digest(checkSeed, line) { // a collision of the key's 64 bits
			serveMiss(m, w, r, line)
			return
		}
		if v.signedIn {
			serveSignedIn(m, w, r, v)
			return
		}
		// No session, or the flag off, on a path known open (and spelt the usual
		// way: the cache knows a path by its decoded form).
		if _, open := paths(r.URL.Path); open && r.URL.RawPath == "" {
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
// session must be renewed or the path is one of ags's own, or may read as the
// sign-out path (/sign-out;jsessionid=1, //sign-out: serveOther decides). It is a
// function, not a closure: Yaegi calls an interpreted closure through reflection, a
// function directly.
func serveSignedIn(m *middleware, w http.ResponseWriter, r *http.Request, v *cookieView) {
	// mayReadAsSignOut's one call, inline: a call of it would cost more than it does.
	if m.since(v.until) >= 0 || m.ownPaths[r.URL.Path] || strings.Contains(r.URL.Path, m.signOutLast) {
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

// serveMiss serves a request whose Cookie header (line, its lines joined, as the
// request path has them) has no view in the cache: it works the view out and keeps
// it (view.go), then serves it as the request path would have, a live session
// without serveOther's steps.
func serveMiss(m *middleware, w http.ResponseWriter, r *http.Request, line string) {
	c := m.views
	v := missedView(m, r, line, maphash.String(c.keySeed, line), maphash.String(c.checkSeed, line))
	if v.signedIn {
		serveSignedIn(m, w, r, v)
		return
	}
	serveOther(m, w, r, v)
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

// Cache bounds. A Cookie header longer than maxCachedCookies is worked out on every
// request and never kept. The caches are bounded in bytes by cacheSize (64 MiB by
// default; viewBytes): six eighths for the views of sessions, an eighth for the
// other views, an eighth for the opened sessions (cache.go).
// A Cookie header over maxCookieHeader is no browser's (ten session chunks are
// under 40 KB): it means no session and no flag, and the app does not get it, so
// that a flood of cookies costs ags nothing to pick apart.
const (
	defaultCacheSize = 64 << 20
	maxCachedCookies = 16 << 10
	maxCookieHeader  = 64 << 10
	maxCachedPath    = 2048
)
