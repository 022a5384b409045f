package ags

import (
	"fmt"
	"testing"
	"time"
)

// TestRevocationSetBounded: a flood of revocations (each from a valid token) keeps
// at most maxRevocations entries, the newest; entries past their time go; the jtis
// seen are bounded too, and a jti is refused while it is kept.
func TestRevocationSetBounded(t *testing.T) {
	s := newRevocations()
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	s.useLifetime(time.Hour)
	for i := 0; i < maxRevocations+500; i++ {
		s.revoke([]revocation{s.entryFor(revokeSub, fmt.Sprintf("user-%d", i), now)})
	}
	if n := s.count(); n != maxRevocations {
		t.Errorf("after a flood: got %d entries, want %d", n, maxRevocations)
	}
	if s.revoked("", "user-0", now.Unix()) {
		t.Error("the oldest entry was kept past the bound")
	}
	if !s.revoked("", fmt.Sprintf("user-%d", maxRevocations+499), now.Unix()) {
		t.Error("the newest entry was dropped")
	}
	if s.revoked("", fmt.Sprintf("user-%d", maxRevocations+499), now.Unix()+1) {
		t.Error("a session signed in after the revocation was ended")
	}
	now = now.Add(time.Hour + time.Second)
	s.revoke([]revocation{s.entryFor(revokeSid, "late", now)})
	if n := s.count(); n != 1 {
		t.Errorf("after the time to live: got %d entries, want 1", n)
	}

	for i := 0; i < maxLogoutJTIs+100; i++ {
		if !s.firstUse(fmt.Sprintf("jti-%d", i), now.Unix()+60) {
			t.Fatalf("jti-%d refused on first use", i)
		}
	}
	if len(s.jtis) > maxLogoutJTIs || len(s.jtiList) > maxLogoutJTIs {
		t.Errorf("jtis kept: %d and %d, want at most %d", len(s.jtis), len(s.jtiList), maxLogoutJTIs)
	}
	if s.firstUse(fmt.Sprintf("jti-%d", maxLogoutJTIs+99), now.Unix()+60) {
		t.Error("a jti seen before was accepted again")
	}
}

// TestRevocationRemovesCachedViews: a revocation removes the views and the opened
// session of the identities it ends, through the index, and leaves the others; the
// index forgets identities the cache no longer holds.
func TestRevocationRemovesCachedViews(t *testing.T) {
	c := newViewCache(1 << 20)
	s := newRevocations()
	s.useLifetime(time.Hour)
	s.addCache(c)
	c.useRevocations(s)
	put := func(sid, sub string, key uint64) (*identity, *cookieView) {
		id := &identity{sid: sid, sub: sub, issuedAt: time.Now().Unix() - 10, key: key + 1000, check: 7}
		putOpened(c, id)
		v := &cookieView{key: key, check: 1, id: id, signedIn: true}
		putView(c, v)
		return id, v
	}
	_, a := put("sid-a", "alice", 1)
	_, b := put("sid-b", "bob", 2)
	_, old := put("", "alice", 3)
	s.revoke([]revocation{s.entryFor(revokeSid, "sid-a", time.Now()), s.entryFor(revokeSidless, "alice", time.Now())})
	if c.get(a.key, a.check) != nil || c.get(old.key, old.check) != nil {
		t.Error("a revoked session's view is still cached")
	}
	if openedIdentity(c, 1001, 7) != nil {
		t.Error("a revoked session is still in the opened cache")
	}
	if c.get(b.key, b.check) == nil || openedIdentity(c, 1002, 7) == nil {
		t.Error("another user's view was removed")
	}
	// A view built after the revocation, of a session it ends, is not kept.
	_, again := put("sid-a", "alice", 4)
	if c.get(again.key, again.check) != nil {
		t.Error("a view of a revoked session, built after the revocation, was kept")
	}
	// The index is swept of identities the cache dropped.
	for i := 0; i < 3*minIndexSweep; i++ {
		id, _ := put(fmt.Sprintf("sid-%d", i), fmt.Sprintf("user-%d", i), uint64(10+i))
		forgetIdentity(c, id)
	}
	c.index.mu.Lock()
	n := c.index.n
	c.index.mu.Unlock()
	if n > 2*minIndexSweep {
		t.Errorf("index holds %d identities the cache dropped, want at most %d", n, 2*minIndexSweep)
	}
}
