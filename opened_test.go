package ags

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The cache of opened sessions (viewCache.opened): a Cookie header that is new but
// carries a session this configuration opened before gets that identity without
// the session being opened again; everything else is as if it were opened.

// withAppCookie is line with one more cookie of the app's, as an app whose cookies
// change on every response sends it.
func withAppCookie(line string, n int) string {
	return line + "; XSRF-TOKEN=t" + strings.Repeat("x", n)
}

func TestOpenedSessionServesNewHeaders(t *testing.T) {
	m := cacheMiddleware(t, "")
	line := newSessionLine(t, m, ckSession(t, 900))
	first := viewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}})
	if first.id == nil || first.id.check == 0 {
		t.Fatal("the session did not open, or was not kept as opened")
	}
	for n := 1; n <= 3; n++ {
		next := withAppCookie(line, n)
		if got := serveLine(m, "/admin/x", next); got != first.id.sub {
			t.Fatalf("header %d: the app saw user %q, want %q", n, got, first.id.sub)
		}
		v := viewOfLine(m.views, next)
		if v == nil || v.id != first.id {
			t.Fatalf("header %d: its view does not hold the identity opened for the first header", n)
		}
		if want := []string{"_ga=GA1.2.1234567890.1234567890; theme=dark; XSRF-TOKEN=t" + strings.Repeat("x", n)}; !equalStrings(v.appCookie, want) {
			t.Errorf("header %d: the app gets Cookie %q, want %q", n, v.appCookie, want)
		}
	}
	if _, entries := m.views.opened.held(0); entries != 1 {
		t.Errorf("one session in four headers is kept %d times", entries)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOpenedSessionChecksTheSecondDigest: an identity kept under a sealed value's
// key whose check is another value's is never used for it.
func TestOpenedSessionChecksTheSecondDigest(t *testing.T) {
	m := cacheMiddleware(t, "")
	victimLine := newSessionLine(t, m, ckSession(t, 900))
	victim := viewOf(m, &http.Request{Header: http.Header{"Cookie": {victimLine}}})
	other := ckSession(t, 900)
	other.Claims = map[string]interface{}{"sub": "someone-else"}
	otherLine := newSessionLine(t, m, other)
	sealed, err := m.store.sealedValue(&http.Request{Header: http.Header{"Cookie": {otherLine}}})
	if err != nil {
		t.Fatal(err)
	}
	forged := *victim.id
	forged.key, _ = m.views.digests(sealed) // the other value's key, the victim's check
	putOpened(m.views, &forged)
	if got := serveLine(m, "/admin/x", otherLine); got != "someone-else" {
		t.Errorf("a value whose key matched another's identity but whose check did not gave user %q", got)
	}
}

// TestOpenedSessionExpires: an identity kept for a session that has ended is not
// served for a new header, and ending it forgets it.
func TestOpenedSessionExpires(t *testing.T) {
	m := cacheMiddleware(t, "")
	sess := ckSession(t, 900)
	sess.Expiry = ckNow.Add(time.Minute)
	line := newSessionLine(t, m, sess)
	if got := serveLine(m, "/admin/x", line); got == "" {
		t.Fatal("the session is not signed in")
	}
	later := ckNow.Add(2 * time.Minute)
	m.setClock(func() time.Time { return later })
	if got := serveLine(m, "/admin/x", withAppCookie(line, 1)); got != "" {
		t.Errorf("a new header with an ended session gave user %q", got)
	}
	if _, entries := m.views.opened.held(0); entries != 1 {
		t.Fatalf("the opened cache counts %d entries, want the one stored", entries)
	}
	if n := cachedOpened(m.views); n != 0 {
		t.Errorf("the ended session is still kept as opened (%d entries)", n)
	}
}

// TestOpenedSessionForgottenOnSignOut: signing out forgets the opened session.
func TestOpenedSessionForgottenOnSignOut(t *testing.T) {
	m := cacheMiddleware(t, "")
	line := newSessionLine(t, m, ckSession(t, 900))
	if got := serveLine(m, "/admin/x", line); got == "" {
		t.Fatal("the session is not signed in")
	}
	if cachedOpened(m.views) != 1 {
		t.Fatal("the session is not kept as opened")
	}
	serveLine(m, "/sign-out", line)
	if n := cachedOpened(m.views); n != 0 {
		t.Errorf("after sign-out the session is still kept as opened (%d entries)", n)
	}
}

// TestOpenedSessionsOnlyOpened: values that do not open (forged, random, expired)
// are never kept, so no client can fill the cache of opened sessions.
func TestOpenedSessionsOnlyOpened(t *testing.T) {
	m := cacheMiddleware(t, "")
	valid := newSessionLine(t, m, ckSession(t, 900))
	sealed, _ := m.store.sealedValue(&http.Request{Header: http.Header{"Cookie": {valid}}})
	for i := 0; i < 500; i++ {
		forged := []byte(sealed)
		forged[10+i%(len(forged)-20)] ^= 1
		for _, line := range []string{"ags_client_session=" + string(forged), "ags_client_session=" + randomish(i)} {
			if v := viewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}}); v.id != nil {
				t.Fatalf("the value %q opened", line)
			}
		}
	}
	if n := cachedOpened(m.views); n != 0 {
		t.Errorf("values that do not open were kept as opened: %d", n)
	}
}

func randomish(i int) string {
	return strings.Repeat("A", 40+i%7) + "x" + strings.Repeat("b", i%13)
}

// cachedOpened counts what the cache of opened sessions holds.
func cachedOpened(c *viewCache) int {
	n := 0
	c.opened.m.Range(func(_, _ interface{}) bool { n++; return true })
	return n
}
