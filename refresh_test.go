package ags

import (
	"net/http"
	"testing"
	"time"
)

// flowClock lets a test move the middleware's and the provider's time together.
type flowClock struct{ t time.Time }

func (c *flowClock) now() time.Time { return c.t }

func TestSessionLifetime(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.SessionLifetime = "1h"
	m, _ := newFlow(t, c)
	clock := &flowClock{t: time.Now()}
	setClock(m, clock.now)
	m.store = newSessionStore(m.cfg.sessionCookie, m.store.sealer, m.cfg.sessionLifetime, m.cfg.cookies, clock.now)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	clock.t = clock.t.Add(59 * time.Minute)
	if rec := b.get("/private"); rec.Code != 200 {
		t.Fatalf("within the lifetime: got %d, want 200", rec.Code)
	}
	clock.t = clock.t.Add(2 * time.Minute)
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("past the lifetime (cached session): got %d, want a new login", rec.Code)
	}
}

func TestRefresh(t *testing.T) {
	tp := newTestProvider(t)
	tp.refreshToken = "refresh-1"
	tp.expiresIn = 60
	c := flowConfig(tp)
	c.Refresh = "true"
	c.PassAccessToken = "true"
	m, app := newFlow(t, c)
	clock := &flowClock{t: time.Now()}
	setClock(m, clock.now)
	tp.now = clock.now
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.get("/private")
	first := app.last.Header.Get(headerAccessToken)

	clock.t = clock.t.Add(2 * time.Minute)
	if rec := b.get("/private"); rec.Code != 200 {
		t.Fatalf("after the access token expired: got %d, want 200 with a renewed token", rec.Code)
	}
	if tp.refreshCalls != 1 || app.last.Header.Get(headerAccessToken) == first {
		t.Fatalf("got %d refresh calls and token %q, want one renewal", tp.refreshCalls, app.last.Header.Get(headerAccessToken))
	}
	b.get("/private")
	if tp.refreshCalls != 1 {
		t.Errorf("the renewed session refreshed again: %d calls", tp.refreshCalls)
	}

	clock.t = clock.t.Add(2 * time.Minute)
	tp.set(func(tp *testProvider) { tp.refreshToken = "revoked" })
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("failed renewal: got %d, want the session ended and a new login", rec.Code)
	}
	if n := b.sessionCookies(); n != 0 {
		t.Errorf("failed renewal left %d session cookies", n)
	}
}

func TestNoRefreshTokenKeptWhenRefreshOff(t *testing.T) {
	tp := newTestProvider(t)
	tp.refreshToken = "refresh-1"
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	sealed, err := m.store.sealedValue(httptestRequestWithJar(b))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.store.open(sealed)
	if err != nil || sess.RefreshToken != "" {
		t.Errorf("got refresh token %q (%v), want none kept", sess.RefreshToken, err)
	}
}

// httptestRequestWithJar is a request carrying the browser's cookies.
func httptestRequestWithJar(b *flowBrowser) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://app.example/", nil)
	for name, value := range b.jar {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return r
}
