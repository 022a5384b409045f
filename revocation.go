package ags

import (
	"sync"
	"time"
)

// Revocation: sessions ended before their time, by the provider (back-channel
// logout, logout.go) or by ags's own sign-out. A session is a sealed cookie that
// any replica opens, so ending one means remembering, for as long as it could still
// live, which sessions are over. The set is process-wide per client at an issuer
// (process.go): every instance of that client checks it, on every route.
//
// The request path never reads it. A view is checked when it is built (openIdentity),
// and a revocation removes the views already built that it touches, found through
// an index from sid and sub to identities (revocationIndex, in each view cache), so a
// signed-in request costs what it cost before, whether revocation is on or not.

// Kinds of revocation. A session carries its sid (from the ID token's claims) and
// its sign-in time; each kind ends the sessions signed in at or before a time:
//   - revokeSid: the sessions of that provider session (sid);
//   - revokeSub: every session of that user (sub);
//   - revokeSidless: the sessions of that user that carry no sid (older sessions,
//     or a provider that sends none), when a logout names both sid and sub.
const (
	revokeSid     = "sid"
	revokeSub     = "sub"
	revokeSidless = "nosid"
)

// revocation is one entry of the set.
type revocation struct {
	kind, value string
	before      int64 // Unix seconds: sessions signed in at or before it end
	until       int64 // Unix seconds: when the entry can go (no session it ends lives on)
}

func (r revocation) key() string { return r.kind + " " + r.value }

// Bounds of the set. Only a token with a valid signature (or a signed-in user's own
// sign-out) adds entries, but a provider, or a user signing in and out in a loop,
// could still send them without end: past the bound the oldest go first. An entry
// dropped early can let a session it ended be opened again, so the bound is far
// above what a provider sends in a session's lifetime; it is some 10 MB.
const (
	maxRevocations = 50000
	maxLogoutJTIs  = 20000
	// maxRevocationCaches bounds the view caches a revocation reaches: those of the
	// latest configurations of the client (a cache per configuration, process.go).
	maxRevocationCaches = 32
)

// revocations is the revocation set of one client at one issuer.
type revocations struct {
	mu      sync.Mutex
	entries map[string]revocation
	order   []string // keys, oldest first; a key replaced keeps its place
	ttl     time.Duration
	jtis    map[string]int64 // logout tokens seen: jti to when it can go
	jtiList []string
	caches  []*viewCache // the view caches whose views a revocation removes
	now     func() time.Time
	// store shares the set with other replicas (store.go), under scope; nil: this
	// process only.
	store *revocationStore
	scope string
}

func newRevocations() *revocations {
	return &revocations{entries: map[string]revocation{}, jtis: map[string]int64{}, now: time.Now}
}

// useLifetime makes the set keep entries at least as long as a session of lifetime
// can live: the longest of the instances that use it.
func (s *revocations) useLifetime(lifetime time.Duration) {
	s.mu.Lock()
	if lifetime > s.ttl {
		s.ttl = lifetime
	}
	s.mu.Unlock()
}

// addCache makes the revocations reach the views of c.
func (s *revocations) addCache(c *viewCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, known := range s.caches {
		if known == c {
			return
		}
	}
	s.caches = append(s.caches, c)
	if len(s.caches) > maxRevocationCaches {
		s.caches = s.caches[1:]
	}
}

// entryFor is a revocation of kind for value, of the sessions signed in at or before
// before, kept for the set's time to live.
func (s *revocations) entryFor(kind, value string, before time.Time) revocation {
	s.mu.Lock()
	ttl := s.ttl
	s.mu.Unlock()
	return revocation{kind: kind, value: value, before: before.Unix(), until: s.now().Add(ttl).Unix()}
}

// revoke adds the entries to the set, removes the cached views they end, and with a
// store, writes them there for the other replicas (what the set now holds for each
// key: an entry merged with an older one keeps the later times).
func (s *revocations) revoke(rs []revocation) {
	s.apply(rs)
	st, scope := s.storeOf()
	if st == nil {
		return
	}
	st.start()
	s.mu.Lock()
	merged := make([]revocation, 0, len(rs))
	for _, r := range rs {
		if e, ok := s.entries[r.key()]; ok {
			merged = append(merged, e)
		}
	}
	s.mu.Unlock()
	st.publish(scope, merged)
}

// useStore makes the set shared through st, under scope; nil: this process only.
func (s *revocations) useStore(st *revocationStore, scope string) {
	s.mu.Lock()
	old := s.store
	s.store = st
	s.scope = scope
	s.mu.Unlock()
	if old != nil && old != st {
		old.detach(scope)
	}
}

func (s *revocations) storeOf() (*revocationStore, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store, s.scope
}

// snapshot is every live entry of the set (what a store that lost them is given
// back).
func (s *revocations) snapshot() []revocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	rs := make([]revocation, 0, len(s.entries))
	for _, k := range s.order {
		if r, ok := s.entries[k]; ok && r.until > now {
			rs = append(rs, r)
		}
	}
	return rs
}

// apply adds the entries to the set and removes the cached views they end: first
// the set, then the views, so that a view built meanwhile is either refused when it
// is indexed (indexIdentity) or found here.
func (s *revocations) apply(rs []revocation) {
	s.mu.Lock()
	now := s.now().Unix()
	for _, r := range rs {
		if r.until <= now {
			continue
		}
		k := r.key()
		old, known := s.entries[k]
		if known && old.before >= r.before && old.until >= r.until {
			continue
		}
		if known {
			if old.before > r.before {
				r.before = old.before
			}
			if old.until > r.until {
				r.until = old.until
			}
		} else {
			s.order = append(s.order, k)
		}
		s.entries[k] = r
	}
	s.trim(now)
	caches := append([]*viewCache(nil), s.caches...)
	s.mu.Unlock()
	for _, c := range caches {
		for _, r := range rs {
			revokeCached(c, r)
		}
	}
}

// trim drops the entries past their time, and the oldest past the bound, with s.mu
// held. Entries all live for the same time to live, so the oldest are the first to
// expire: the walk stops at the first live one.
func (s *revocations) trim(now int64) {
	drop := 0
	for drop < len(s.order) {
		k := s.order[drop]
		r, ok := s.entries[k]
		if ok && r.until > now && len(s.order)-drop <= maxRevocations {
			break
		}
		delete(s.entries, k)
		drop++
	}
	if drop > 0 {
		s.order = append([]string(nil), s.order[drop:]...)
	}
}

// revoked reports whether the set ends a session of sid and sub signed in at
// issuedAt (Unix seconds). With a store, the first call starts it (store.start):
// only a view being built asks, never the request path.
func (s *revocations) revoked(sid, sub string, issuedAt int64) bool {
	if st, _ := s.storeOf(); st != nil {
		st.start()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 {
		return false
	}
	now := s.now().Unix()
	if sid != "" && ends(s.entries[revokeSid+" "+sid], issuedAt, now) {
		return true
	}
	if sid == "" && ends(s.entries[revokeSidless+" "+sub], issuedAt, now) {
		return true
	}
	return ends(s.entries[revokeSub+" "+sub], issuedAt, now)
}

// ends reports whether entry r (zero: none) ends a session signed in at issuedAt.
func ends(r revocation, issuedAt, now int64) bool {
	return r.until > now && issuedAt <= r.before
}

// endsIdentity reports whether r ends the session of id.
func endsIdentity(r revocation, id *identity) bool {
	if id.issuedAt > r.before {
		return false
	}
	switch r.kind {
	case revokeSid:
		return id.sid == r.value
	case revokeSidless:
		return id.sid == "" && id.sub == r.value
	}
	return id.sub == r.value
}

// firstUse records a logout token's jti, kept until until (Unix seconds); false
// when it was seen already, here or, with a store, by another replica. Past the
// bound the oldest go: a token that old is refused by its iat anyway
// (maxLogoutTokenAge), and a replay ends nothing more, since what it ends is set by
// its own iat.
func (s *revocations) firstUse(jti string, until int64) bool {
	if !s.firstUseHere(jti, until) {
		return false
	}
	if st, scope := s.storeOf(); st != nil {
		return st.firstUse(scope, jti, until)
	}
	return true
}

func (s *revocations) firstUseHere(jti string, until int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	if seen, ok := s.jtis[jti]; ok && seen > now {
		return false
	}
	s.jtis[jti] = until
	s.jtiList = append(s.jtiList, jti)
	drop := 0
	for drop < len(s.jtiList) {
		old := s.jtiList[drop]
		if s.jtis[old] > now && len(s.jtiList)-drop <= maxLogoutJTIs {
			break
		}
		if old != jti {
			delete(s.jtis, old)
		}
		drop++
	}
	if drop > 0 {
		s.jtiList = append([]string(nil), s.jtiList[drop:]...)
	}
	return true
}

// count is the number of entries in the set (tests, log lines).
func (s *revocations) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// revocationIndex finds the identities a revocation ends among those a view cache
// holds: by sid and by sub. An identity enters when it is kept (putView,
// putOpened) and leaves when a revocation takes it, or when a sweep finds it no
// longer held by the cache; sweeps run when the index has doubled since the last,
// so it stays within twice what the cache holds, plus the sweep's floor.
type revocationIndex struct {
	mu      sync.Mutex
	bySid   map[string][]*identity
	bySub   map[string][]*identity
	n       int
	sweepAt int
}

const minIndexSweep = 1024

func newRevocationIndex() *revocationIndex {
	return &revocationIndex{bySid: map[string][]*identity{}, bySub: map[string][]*identity{}, sweepAt: minIndexSweep}
}

// useRevocations makes c check its identities against revs and index them. A cache
// is per configuration (process.go), and revocation is one of its options.
func (c *viewCache) useRevocations(revs *revocations) {
	c.entries.mu.Lock()
	if c.index == nil {
		c.revoked = func(sid, sub string, issuedAt int64) bool { return revs.revoked(sid, sub, issuedAt) }
		c.index = newRevocationIndex()
	}
	c.entries.mu.Unlock()
}

// indexIdentity enters id in c's index, then drops it at once if the set ends it
// (a revocation that came while it was being built).
func indexIdentity(c *viewCache, id *identity) {
	x := c.index
	x.mu.Lock()
	if !id.indexed {
		id.indexed = true
		if id.sid != "" {
			x.bySid[id.sid] = append(x.bySid[id.sid], id)
		}
		x.bySub[id.sub] = append(x.bySub[id.sub], id)
		x.n++
		if x.n > x.sweepAt {
			sweepIndex(c, x)
		}
	}
	x.mu.Unlock()
	if c.revoked(id.sid, id.sub, id.issuedAt) {
		forgetIdentity(c, id)
	}
}

// sweepIndex drops the identities c no longer holds, with x.mu held.
func sweepIndex(c *viewCache, x *revocationIndex) {
	e := c.entries
	e.mu.Lock()
	x.n = 0
	for k, ids := range x.bySub {
		kept := ids[:0]
		for _, id := range ids {
			if heldIdentity(c, id) {
				kept = append(kept, id)
				x.n++
			} else {
				id.indexed = false
			}
		}
		if len(kept) == 0 {
			delete(x.bySub, k)
		} else {
			x.bySub[k] = kept
		}
	}
	for k, ids := range x.bySid {
		kept := ids[:0]
		for _, id := range ids {
			if id.indexed {
				kept = append(kept, id)
			}
		}
		if len(kept) == 0 {
			delete(x.bySid, k)
		} else {
			x.bySid[k] = kept
		}
	}
	e.mu.Unlock()
	x.sweepAt = 2 * x.n
	if x.sweepAt < minIndexSweep {
		x.sweepAt = minIndexSweep
	}
}

// heldIdentity reports whether c still holds id: a view of it that counts, or the
// opened session; with c.entries.mu held.
func heldIdentity(c *viewCache, id *identity) bool {
	for _, v := range id.views {
		if !v.uncounted {
			return true
		}
	}
	return id.check != 0 && openedIdentity(c, id.key, id.check) == id
}

// revokeCached removes from c the identities r ends, and their views.
func revokeCached(c *viewCache, r revocation) {
	x := c.index
	if x == nil {
		return
	}
	var ended []*identity
	x.mu.Lock()
	list := x.bySub
	if r.kind == revokeSid {
		list = x.bySid
	}
	kept := list[r.value][:0]
	for _, id := range list[r.value] {
		if endsIdentity(r, id) {
			ended = append(ended, id)
		} else {
			kept = append(kept, id)
		}
	}
	if len(kept) == 0 {
		delete(list, r.value)
	} else {
		list[r.value] = kept
	}
	x.mu.Unlock()
	for _, id := range ended {
		forgetIdentity(c, id)
	}
}

// forgetIdentity removes id's views and its opened session from c: the next
// request with its cookie builds its view again, and the set refuses it.
func forgetIdentity(c *viewCache, id *identity) {
	e := c.entries
	e.mu.Lock()
	for _, v := range id.views {
		uncount(e, e.classes[sessionViews], v)
	}
	id.views = nil
	e.mu.Unlock()
	if id.check != 0 {
		c.opened.remove(id.key, id)
	}
}
