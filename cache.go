package ags

import (
	"hash/maphash"
	"sync"
)

// The two caches the request path reads: a Cookie header's view (by its digest) and
// whether a visitor without a session may pass on a path. Both are a boundedCache:
// a sync.Map, which the request path reads with one call and no lock, and first-in
// first-out queues that bound the memory it holds in bytes. In Go 1.24 and later a
// sync.Map is a concurrent hash trie: an insert or a delete copies a few nodes, never
// the map, so its cost does not grow with the number of entries, and an entry is on
// the request path as soon as it is stored.

// boundedCache is a sync.Map whose entries are held by classes, each a queue with a
// budget in bytes: storing an entry past its class's budget drops the oldest entries
// of that class. A class cannot drop another's entries, so entries that anyone can
// make (the view of any Cookie header) cannot push out those that only a sign-in
// makes (the view of a session).
type boundedCache struct {
	m       sync.Map // read without a lock; written only under mu
	mu      sync.Mutex
	classes []*cacheQueue
}

// cacheQueue is one class of a boundedCache: its entries in the order stored.
type cacheQueue struct {
	stored    []cacheEntry // stored[head:] are counted in bytes, but for uncounted ones
	head      int
	bytes     int
	budget    int
	uncounted int // views in stored[head:] whose bytes no longer count (uncount)
}

type cacheEntry struct {
	key, value interface{}
	bytes      int
}

func newBoundedCache(budgets ...int) *boundedCache {
	c := &boundedCache{}
	for _, b := range budgets {
		c.classes = append(c.classes, &cacheQueue{budget: b})
	}
	return c
}

// load returns the value stored under key.
func (c *boundedCache) load(key interface{}) (interface{}, bool) {
	return c.m.Load(key)
}

// storeEntry puts value under key (replacing any other at once) and counts bytes for it
// in class; the class's oldest entries go while it holds more than its budget. An
// entry replaced or removed since it was stored still counts until its turn comes:
// the count bounds the bytes held from above.
func storeEntry(c *boundedCache, class int, key, value interface{}, bytes int) {
	c.mu.Lock() // no defer: under Yaegi it costs more than the rest (nothing here panics)
	storeLocked(c, class, key, value, bytes)
	c.mu.Unlock()
}

// storeLocked is storeEntry with c.mu held.
func storeLocked(c *boundedCache, class int, key, value interface{}, bytes int) {
	c.m.Store(key, value)
	q := c.classes[class]
	q.stored = append(q.stored, cacheEntry{key: key, value: value, bytes: bytes})
	q.bytes += bytes
	if q.bytes > q.budget {
		evict(c, q)
	}
}

// evict drops q's oldest entries while it holds more than its budget, with c.mu
// held. (Apart from storeEntry, whose every expression is paid on each store under
// Yaegi, hotpath.go.) A view uncounted before its turn was dropped then.
func evict(c *boundedCache, q *cacheQueue) {
	for q.bytes > q.budget && q.head < len(q.stored)-1 {
		old := q.stored[q.head]
		q.stored[q.head] = cacheEntry{}
		q.head++
		if v, ok := old.value.(*cookieView); ok {
			if v.uncounted {
				q.uncounted--
				continue
			}
			v.uncounted = true
		}
		q.bytes -= old.bytes
		c.drop(old.key, old.value) // not a newer value under the same key
	}
	if q.head > 64 && q.head*2 > len(q.stored) {
		q.stored = append([]cacheEntry(nil), q.stored[q.head:]...)
		q.head = 0
	}
}

// uncount drops view v from c and from q's count before its turn, with c.mu held,
// and compacts q once most of what it holds no longer counts, so that a queue that
// never reaches its budget does not grow without end either.
func uncount(c *boundedCache, q *cacheQueue, v *cookieView) {
	if v.uncounted {
		return // evicted already
	}
	v.uncounted = true
	q.bytes -= v.bytes
	q.uncounted++
	c.drop(v.key, v)
	if q.uncounted > 64 && q.uncounted*2 > len(q.stored)-q.head {
		kept := make([]cacheEntry, 0, len(q.stored)-q.head-q.uncounted)
		for _, e := range q.stored[q.head:] {
			if view, ok := e.value.(*cookieView); !ok || !view.uncounted {
				kept = append(kept, e)
			}
		}
		q.stored, q.head, q.uncounted = kept, 0, 0
	}
}

// remove deletes key if value is still stored under it (and not a newer one).
func (c *boundedCache) remove(key, value interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(key, value)
}

// drop is remove with c.mu held.
func (c *boundedCache) drop(key, value interface{}) {
	if loaded, ok := c.m.Load(key); ok && sameValue(loaded, value) {
		c.m.Delete(key)
	}
}

// sameValue reports whether a value loaded from a cache is v. Not sync.Map's
// CompareAndDelete: under Yaegi an interpreted value in an interface{} is wrapped
// anew each time it is converted, and two wrappings of one pointer compare unequal;
// the values are compared as what they are. A path's value is always true, and a
// path is stored again only once it is gone.
func sameValue(loaded, v interface{}) bool {
	if view, ok := v.(*cookieView); ok {
		other, _ := loaded.(*cookieView)
		return other == view
	}
	return true
}

// held is the bytes that class counts, and its number of entries.
func (c *boundedCache) held(class int) (bytes, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.classes[class]
	return q.bytes, len(q.stored) - q.head
}

// viewCache maps a Cookie header to its view, by two digests of the header with
// secret random seeds: one is the key, the other is kept in the view and compared
// on every hit, so that a header is served another's view only if both 64-bit
// digests collide (a chance of about 2^-128 per pair, which no client can steer
// without the seeds). The header itself is not kept: a view holds what the request
// path hands the app, a few hundred bytes, not the few KB of a sealed session.
// A view's class is its kind: a valid session (sessionViews), or anything else a
// client can send (otherViews); the second gets an eighth of cacheSize.
//
// Beside the views, opened maps a sealed session value to its identity by the same
// two digests (of the value): a Cookie header that is new but carries a session
// this configuration has opened (the app's own cookies change, as Laravel's do on
// every response) is worked out without opening the session again. It holds only
// sessions that opened, so no client can fill it, and it gets an eighth of
// cacheSize. An identity is a function of the sealed value and the configuration,
// whose options the caches are per (process.go); its expiry and renewal time are
// checked on every request as a view's are.
type viewCache struct {
	entries            *boundedCache
	opened             *boundedCache
	keySeed, checkSeed maphash.Seed
	// With revocation on (revocation.go): the set's check, and the index that finds
	// the identities a revocation ends; nil when off. A function, not the set: under
	// Yaegi v0.16.1 a cycle of struct types through pointers (the set holds the
	// caches) breaks assignments between them.
	revoked func(sid, sub string, issuedAt int64) bool
	index   *revocationIndex
	// The digests of an Authorization header (bearer.go) have seeds of their own, so
	// that no Cookie header can be read as a token, nor a token as a Cookie header.
	tokenKeySeed, tokenCheckSeed maphash.Seed
}

const (
	sessionViews = 0
	otherViews   = 1
	bearerViews  = 2 // with bearerTokens only (addTokenClass)
)

// cacheShare is the part of cacheSize given to views without a session (visitors,
// flag cookies, expired or forged sessions) and to the opened sessions, each.
const cacheShare = 8

func newViewCache(budget int) *viewCache {
	share := budget / cacheShare
	return &viewCache{
		entries:   newBoundedCache(budget-2*share, share),
		opened:    newBoundedCache(share),
		keySeed:   maphash.MakeSeed(),
		checkSeed: maphash.MakeSeed(),
	}
}

// addTokenClass gives the views of bearer tokens (bearerViews) a class of their own,
// an eighth of the budget, taken from the sessions': API callers cannot push out
// browsers' sessions, nor browsers API callers'.
func addTokenClass(c *viewCache) {
	sessions := c.entries.classes[sessionViews]
	share := sessions.budget / 6 // the sessions hold six eighths
	sessions.budget -= share
	c.entries.classes = append(c.entries.classes, &cacheQueue{budget: share})
	c.tokenKeySeed, c.tokenCheckSeed = maphash.MakeSeed(), maphash.MakeSeed()
}

// digests returns the key and the check of a Cookie header.
func (c *viewCache) digests(line string) (key, check uint64) {
	return maphash.String(c.keySeed, line), maphash.String(c.checkSeed, line)
}

// get returns the view of a Cookie header by its digests, or nil.
func (c *viewCache) get(key, check uint64) *cookieView {
	x, _ := c.entries.load(key)
	if v, _ := x.(*cookieView); v != nil && v.check == check {
		return v
	}
	return nil
}

// maxViewsPerSession bounds the views one session holds: a Cookie header is a
// browser's, and a browser has one at a time, or a few while its cookies change. A
// client that sends its session with a new invented cookie on every request makes a
// view each time; past this number each replaces the session's own oldest, so that
// it cannot push other users' views out of their shared budget.
const maxViewsPerSession = 4

// putView keeps v as the view of its Cookie header (v.key, v.check), replacing any
// other at once: the request path stops serving the one it replaces. A session's
// views past maxViewsPerSession replace its oldest (identity.views, which the
// identities of one sealed value share: sealedIdentity).
func putView(c *viewCache, v *cookieView) {
	// Two statements: under Yaegi v0.16.1, a, b = f(), false never sets b.
	v.bytes = viewBytes(v)
	v.uncounted = false
	id := v.id
	if id == nil {
		storeEntry(c.entries, otherViews, v.key, v, v.bytes)
		return
	}
	e := c.entries
	e.mu.Lock()
	if len(id.views) >= maxViewsPerSession {
		oldest := id.views[0]
		copy(id.views, id.views[1:])
		id.views = id.views[:len(id.views)-1]
		uncount(e, e.classes[sessionViews], oldest)
	}
	id.views = append(id.views, v)
	storeLocked(e, sessionViews, v.key, v, v.bytes)
	e.mu.Unlock()
	if c.index != nil {
		indexIdentity(c, id)
	}
}

// forget removes v, unless its header has a newer view (a renewed session), and
// the opened session it came from.
func (c *viewCache) forget(v *cookieView) {
	c.entries.remove(v.key, v)
	if id := v.id; id != nil && id.check != 0 {
		c.opened.remove(id.key, id)
	}
}

// openedIdentity returns the identity of a sealed session value by its digests, or
// nil when it is not kept.
func openedIdentity(c *viewCache, key, check uint64) *identity {
	x, _ := c.opened.m.Load(key)
	if id, _ := x.(*identity); id != nil && id.check == check {
		return id
	}
	return nil
}

// putOpened keeps id as the identity of the sealed value whose digests it holds.
func putOpened(c *viewCache, id *identity) {
	storeEntry(c.opened, 0, id.key, id, openedOverhead+id.bytes)
	if c.index != nil {
		indexIdentity(c, id)
	}
}

// viewBytes estimates the memory a cached view holds: the structures, measured
// (bench/README.md, "Figures behind the code"), and the strings it hands the app.
// It counts the identity too, which opened may hold as well: counted twice, never
// less than held.
func viewBytes(v *cookieView) int {
	n := viewOverhead
	for _, c := range v.appCookie {
		n += len(c)
	}
	if v.id != nil {
		n += v.id.bytes
	}
	return n
}

// identityBytes estimates the memory an identity holds, for its bytes field.
func identityBytes(id *identity) int {
	n := identityOverhead + len(id.sub) + len(id.name)
	for _, h := range id.headers {
		n += headerOverhead + len(h.name) + len(h.value[0])
	}
	if s := id.sess; s != nil {
		n += sessionOverhead + len(s.IDToken) + len(s.AccessToken) + len(s.RefreshToken)
	}
	return n
}

// What a view holds besides its strings, in bytes (bench/README.md): the view, its
// sync.Map node and queue entry; an identity; one header for the app; a session
// kept in a renewed identity, its claims decoded; an opened session's sync.Map
// node and queue entry.
const (
	viewOverhead     = 480
	identityOverhead = 192
	headerOverhead   = 64
	sessionOverhead  = 4096
	openedOverhead   = 160
)

// pathCache holds the request paths known to be open: a request without a session
// passes there untouched. The toggle, callback and sign-out paths are never entered:
// a path the cache does not hold is worked out by the slow path.
type pathCache struct {
	entries *boundedCache
}

// pathCacheBytes bounds the path cache: some 2,000 paths of 64 bytes.
const pathCacheBytes = 256 << 10

// pathOverhead is what a cached path holds besides its bytes.
const pathOverhead = 96

func newPathCache() *pathCache {
	return &pathCache{newBoundedCache(pathCacheBytes)}
}

// open reports whether p is known to be open.
func (c *pathCache) open(p string) bool {
	_, open := c.entries.load(p)
	return open
}

// put records that p is open.
func (c *pathCache) put(p string) {
	storeEntry(c.entries, 0, p, true, len(p)+pathOverhead)
}
