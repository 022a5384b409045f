package ags

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// flowClock lets a test move the middleware's and the provider's time together;
// background fetches read it while the test moves it.
type flowClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFlowClock(t time.Time) *flowClock { return &flowClock{t: t} }

func (c *flowClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *flowClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func TestSessionLifetime(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.SessionLifetime = "1h"
	m, _ := newFlow(t, c)
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	clock.set(clock.now().Add(59 * time.Minute))
	if rec := b.get("/private"); rec.Code != 200 {
		t.Fatalf("within the lifetime: got %d, want 200", rec.Code)
	}
	clock.set(clock.now().Add(2 * time.Minute))
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
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	tp.now = clock.now
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.get("/private")
	first := app.last.Header.Get(headerAccessToken)

	clock.set(clock.now().Add(2 * time.Minute))
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

	clock.set(clock.now().Add(2 * time.Minute))
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

// renewalFlow signs a browser in with refresh on, against a provider that rotates
// refresh tokens with reuse detection, and moves the clock past the access token.
func renewalFlow(t *testing.T, tp *testProvider, browsers int) (*middleware, *flowBackend, []*flowBrowser, *flowClock) {
	t.Helper()
	tp.refreshToken = "refresh-1"
	tp.rotate = true
	tp.expiresIn = 60
	c := flowConfig(tp)
	c.Refresh = "true"
	c.PassAccessToken = "true"
	m, app := newFlow(t, c)
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	tp.now = clock.now
	var bs []*flowBrowser
	for i := 0; i < browsers; i++ {
		b := newFlowBrowser(t, m)
		b.signIn("/private")
		bs = append(bs, b)
	}
	clock.set(clock.now().Add(2 * time.Minute))
	return m, app, bs, clock
}

// concurrently sends one GET /private per jar at once and returns the answers.
func concurrently(m *middleware, jars []map[string]string) []*httptest.ResponseRecorder {
	recs := make([]*httptest.ResponseRecorder, len(jars))
	var wg sync.WaitGroup
	for i, jar := range jars {
		wg.Add(1)
		go func(i int, jar map[string]string) {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodGet, "http://app.example/private", nil)
			for name, value := range jar {
				r.AddCookie(&http.Cookie{Name: name, Value: value})
			}
			recs[i] = httptest.NewRecorder()
			m.ServeHTTP(recs[i], r)
		}(i, jar)
	}
	wg.Wait()
	return recs
}

// TestRenewalOncePerSession: requests that carry one session at once renew it once;
// a request still carrying the old cookie afterwards gets the renewed session and
// never sends the spent refresh token (which would revoke the grant), and no answer
// clears the cookies that the renewal set.
func TestRenewalOncePerSession(t *testing.T) {
	tp := newTestProvider(t)
	tp.atkDelay = map[string]time.Duration{"/token": 200 * time.Millisecond}
	m, _, bs, _ := renewalFlow(t, tp, 1)
	tp.set(func(tp *testProvider) { tp.atkDelay = map[string]time.Duration{} })
	old := map[string]string{}
	for k, v := range bs[0].jar {
		old[k] = v
	}
	tp.set(func(tp *testProvider) { tp.atkDelay = map[string]time.Duration{"/token": 200 * time.Millisecond} })
	jars := make([]map[string]string, 8)
	for i := range jars {
		jars[i] = old
	}
	for _, rec := range concurrently(m, jars) {
		if rec.Code != http.StatusOK {
			t.Errorf("a request during the renewal: got %d, want 200", rec.Code)
		}
		for _, c := range rec.Result().Cookies() {
			if atkSessionCookie(c.Name) && c.MaxAge < 0 {
				t.Errorf("a request during the renewal cleared cookie %s", c.Name)
			}
		}
	}
	// Later, the old cookie again, from the cache and from a fresh middleware state.
	m.views = newViewCache(defaultCacheSize)
	m.serve = m.handler()
	for round := 0; round < 2; round++ {
		rec := concurrently(m, []map[string]string{old})[0]
		if rec.Code != http.StatusOK {
			t.Errorf("the old cookie after the renewal (round %d): got %d, want 200", round, rec.Code)
		}
	}
	tp.mu.Lock()
	calls, reuses := tp.refreshCalls, tp.reuses
	tp.mu.Unlock()
	if calls != 1 || reuses != 0 {
		t.Errorf("got %d refresh calls and %d reuses of a spent refresh token, want 1 and 0", calls, reuses)
	}
}

// TestRenewalsOfSessionsRunTogether: two sessions renew at the same time, not one
// after the other behind one lock: the provider holds each refresh until both have
// arrived.
func TestRenewalsOfSessionsRunTogether(t *testing.T) {
	tp := newTestProvider(t)
	tp.refreshToken = "refresh-a"
	tp.expiresIn = 60
	c := flowConfig(tp)
	c.Refresh = "true"
	m, _ := newFlow(t, c)
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	tp.now = clock.now
	first := newFlowBrowser(t, m)
	first.signIn("/private")
	tp.set(func(tp *testProvider) {
		tp.refreshToken = "refresh-b"
		tp.moreGrants = map[string]bool{"refresh-a": true}
	})
	second := newFlowBrowser(t, m)
	second.signIn("/private")
	clock.set(clock.now().Add(2 * time.Minute))

	barrier := newTPBarrier(2)
	tp.set(func(tp *testProvider) { tp.refreshWait = barrier })
	recs := concurrently(m, []map[string]string{first.jar, second.jar})
	barrier.mu.Lock()
	reached := barrier.reached
	barrier.mu.Unlock()
	if !reached {
		t.Error("the second renewal did not reach the provider while the first was in flight")
	}
	for i, rec := range recs {
		if rec.Code != http.StatusOK {
			t.Errorf("session %d: got %d, want 200", i, rec.Code)
		}
	}
	if tp.refreshCalls != 2 {
		t.Errorf("got %d refresh calls, want one per session", tp.refreshCalls)
	}
}
