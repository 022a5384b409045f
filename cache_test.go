package ags

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheConfig is a configuration with a cacheSize, its own to the test (instances
// of one configuration share their caches), and cacheMiddleware an instance of it
// with its clock at ckNow. newSessionLine makes the Cookie header of one more
// browser signed in to it.
func cacheConfig(t testing.TB, cacheSize string) *Config {
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret = ckIssuer, ckClientID, "cache-client-secret"
	c.SessionSecret = "0123456789abcdef0123456789abcdef-cache-secret"
	c.AuthenticatedPaths = []string{"admin/.*"}
	c.FeatureFlagToggle = "false"
	c.CacheSize = cacheSize
	c.IdentityHeaders = map[string]string{"test " + t.Name(): "X-Test-Claim"} // a claim no session has
	return c
}

func cacheMiddleware(t testing.TB, cacheSize string) *middleware {
	t.Helper()
	return cacheInstance(t, cacheConfig(t, cacheSize), headerUser)
}

// cacheInstance is an instance of c whose app answers with the header it got in
// X-Seen-User.
func cacheInstance(t testing.TB, c *Config, header string) *middleware {
	t.Helper()
	m, err := newMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-User", r.Header.Get(header))
	}), c, "cache")
	if err != nil {
		t.Fatal(err)
	}
	m.setClock(func() time.Time { return ckNow })
	return m
}

func newSessionLine(t testing.TB, m *middleware, sess *session) string {
	t.Helper()
	cookies := []*http.Cookie{{Name: "_ga", Value: "GA1.2.1234567890.1234567890"}}
	cookies = append(cookies, ckLive(ckSave(t, m.store, ckRequest(), sess))...)
	cookies = append(cookies, &http.Cookie{Name: "theme", Value: "dark"})
	return ckRequest(cookies...).Header.Get("Cookie")
}

// serveLine sends GET path with a Cookie header through the middleware and returns
// the user the app saw.
func serveLine(m *middleware, path, line string) string {
	r := httptest.NewRequest(http.MethodGet, "http://app.example.gov"+path, nil)
	r.Header.Set("Cookie", line)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	return rec.Header().Get("X-Seen-User")
}

// cachedViews counts what the view cache's map holds.
func cachedViews(c *viewCache) int {
	n := 0
	c.entries.m.Range(func(_, _ interface{}) bool { n++; return true })
	return n
}

func TestViewCacheStoresAtOnce(t *testing.T) {
	m := cacheMiddleware(t, "")
	line := newSessionLine(t, m, ckSession(t, 900))
	if viewOfLine(m.views, line) != nil {
		t.Fatal("a view before any request")
	}
	v := viewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}})
	if v.id == nil || viewOfLine(m.views, line) != v {
		t.Fatal("the view of a session is not on the request path right after it was made")
	}
	renewed := *v
	putView(m.views, &renewed)
	if viewOfLine(m.views, line) != &renewed {
		t.Error("a replaced view stays on the request path")
	}
	m.views.forget(v) // the old one: the renewed view stays
	if viewOfLine(m.views, line) != &renewed {
		t.Error("forgetting a replaced view removed the view that replaced it")
	}
	m.views.forget(&renewed)
	if viewOfLine(m.views, line) != nil {
		t.Error("a forgotten view stays on the request path")
	}
}

// TestViewCacheChecksTheSecondDigest: a view stored under a header's key whose
// check is another header's is never served for it, on the request path or the
// slow one, so that a collision of one 64-bit digest gives nobody another's identity.
func TestViewCacheChecksTheSecondDigest(t *testing.T) {
	m := cacheMiddleware(t, "")
	victim := newSessionLine(t, m, ckSession(t, 900))
	if serveLine(m, "/admin/x", victim) == "" {
		t.Fatal("the victim is not signed in")
	}
	stolen := viewOfLine(m.views, victim)
	visitor := "_ga=GA1.2.1; theme=light"
	key, _ := m.views.digests(visitor)
	forged := *stolen
	forged.key = key // the visitor's key, the victim's check and identity
	putView(m.views, &forged)
	if x, _ := m.views.entries.load(key); !sameValue(x, &forged) {
		t.Fatal("the forged view is not under the visitor's key")
	}
	if got := serveLine(m, "/admin/x", visitor); got != "" {
		t.Errorf("a header whose key matched but whose check did not was served the identity %q", got)
	}
	if got := serveLine(m, "/public", visitor); got != "" {
		t.Errorf("on an open path too: identity %q", got)
	}
}

func TestViewCacheBoundedInBytes(t *testing.T) {
	m := cacheMiddleware(t, "1MiB")
	budget := 1<<20 - 2*((1<<20)/cacheShare)
	var lines []string
	for i := 0; len(lines) < 3000; i++ {
		line := newSessionLine(t, m, ckSession(t, 900))
		lines = append(lines, line)
		if serveLine(m, "/admin/x", line) == "" {
			t.Fatalf("session %d is not signed in", i)
		}
		if viewOfLine(m.views, line) == nil {
			t.Fatalf("session %d is not cached right after its request", i)
		}
		if held, _ := m.views.entries.held(sessionViews); held > budget {
			t.Fatalf("after %d sessions the cache counts %d bytes, over its %d", i+1, held, budget)
		}
	}
	held, entries := m.views.entries.held(sessionViews)
	if held < budget*3/4 {
		t.Errorf("the cache holds %d bytes of a %d budget: it drops more than it must", held, budget)
	}
	if n := cachedViews(m.views); n != entries {
		t.Errorf("the map holds %d views, the queue counts %d", n, entries)
	}
	// First in, first out: the newest are there, the first are gone.
	if viewOfLine(m.views, lines[len(lines)-1]) == nil || viewOfLine(m.views, lines[0]) != nil {
		t.Error("the newest view is gone or the oldest stays")
	}
}

// signedInLines makes the Cookie headers of n browsers signed in to m, each seen
// once, so that its view is cached.
func signedInLines(t *testing.T, m *middleware, n int) []string {
	t.Helper()
	var lines []string
	for i := 0; i < n; i++ {
		line := newSessionLine(t, m, ckSession(t, 900))
		if serveLine(m, "/admin/x", line) == "" {
			t.Fatalf("session %d is not signed in", i)
		}
		lines = append(lines, line)
	}
	return lines
}

// TestForgedCookiesDoNotEvictSessions: a flood of Cookie headers that anyone can
// make (forged sessions, no session, junk) many times the budget leaves every
// cached session in place and holds at most its share of the bound.
func TestForgedCookiesDoNotEvictSessions(t *testing.T) {
	m := cacheMiddleware(t, "1MiB")
	lines := signedInLines(t, m, 100)
	sealed := strings.TrimPrefix(strings.Split(lines[0], "; ")[1], "ags_client_session=")
	for i := 0; i < 20000; i++ {
		var line string
		switch i % 3 {
		case 0: // a forged session: a real one with a byte changed
			n := i % (len(sealed) - 1)
			b := []byte(sealed)
			if b[n] = 'A'; sealed[n] == 'A' {
				b[n] = 'B'
			}
			line = "ags_client_session=" + string(b) + "; n=" + strconv.Itoa(i)
		case 1:
			line = "_ga=GA1.2." + strconv.Itoa(i) + "; theme=dark"
		default:
			line = "ags_client_active=1; x=" + strings.Repeat("y", i%500)
		}
		if got := serveLine(m, "/admin/x", line); got != "" {
			t.Fatalf("forged header %d was served the identity %q", i, got)
		}
	}
	for i, line := range lines {
		if viewOfLine(m.views, line) == nil {
			t.Fatalf("session %d was evicted by the flood", i)
		}
	}
	if held, _ := m.views.entries.held(otherViews); held > (1<<20)/cacheShare {
		t.Errorf("the flood's views count %d bytes, over their share %d", held, (1<<20)/cacheShare)
	}
}

// TestViewBytesMeasured: viewBytes, which the bound counts, is not below what a
// cached view of a session really holds on the heap (the Cookie header is not kept).
func TestViewBytesMeasured(t *testing.T) {
	m := cacheMiddleware(t, "")
	const n = 400
	lines := make([]string, n)
	for i := range lines {
		lines[i] = newSessionLine(t, m, ckSession(t, 900))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, line := range lines {
		viewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	views, _ := m.views.entries.held(sessionViews)
	opened, _ := m.views.opened.held(0)
	estimated := views + opened
	measured := int(after.HeapAlloc) - int(before.HeapAlloc)
	t.Logf("%d views: measured %d bytes (%d each), estimated %d (%d each: %d the view, %d the opened session); Cookie header %d bytes",
		n, measured, measured/n, estimated, estimated/n, views/n, opened/n, len(lines[0]))
	if measured > estimated*5/4 {
		t.Errorf("the views hold %d bytes, %d%% of the %d that the bound counts", measured, 100*measured/estimated, estimated)
	}
	runtime.KeepAlive(lines)
}

func TestCacheSizeOption(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		value string
		want  int
	}{{"", 64 << 20}, {"64MiB", 64 << 20}, {"512KiB", 0}, {"2MB", 2 << 20}, {"1GiB", 1 << 30}, {"3145728", 3 << 20},
		{"16GiB", 16 << 30}, {"17GiB", 0}, {"0", 0}, {"-1MiB", 0}, {"lots", 0}, {"1.5MiB", 0}} {
		c := flowConfig(tp)
		c.CacheSize = tc.value
		m, err := newMiddleware(http.NotFoundHandler(), c, "size")
		if tc.want == 0 {
			if err == nil || !strings.Contains(err.Error(), "cacheSize") {
				t.Errorf("cacheSize %q: got %v, want an error naming cacheSize", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("cacheSize %q: %v", tc.value, err)
			continue
		}
		sessions, others := m.views.entries.classes[sessionViews].budget, m.views.entries.classes[otherViews].budget
		opened := m.views.opened.classes[0].budget
		if sessions+others+opened != tc.want || others != tc.want/cacheShare || opened != tc.want/cacheShare {
			t.Errorf("cacheSize %q: the budgets are %d (sessions), %d (others) and %d (opened), want %d in all, an eighth for views without a session and for opened sessions", tc.value, sessions, others, opened, tc.want)
		}
	}
}

func TestPathCache(t *testing.T) {
	c := newPathCache()
	if c.open("/x") {
		t.Fatal("an empty cache knows /x")
	}
	c.put("/open")
	if !c.open("/open") {
		t.Error("/open is not known right after it was put")
	}
	for i := 0; i < 20000; i++ {
		p := "/p" + strconv.Itoa(i)
		c.put(p)
		if !c.open(p) {
			t.Fatalf("%s is not found right after it was put", p)
		}
	}
	if held, entries := c.entries.held(0); held > pathCacheBytes || entries < 1000 {
		t.Errorf("the path cache counts %d bytes in %d paths, want at most %d and at least 1,000 paths", held, entries, pathCacheBytes)
	}
}

// TestCachesConcurrent reads the caches as the request path does while other
// goroutines add and remove entries; run it with -race.
func TestCachesConcurrent(t *testing.T) {
	views, paths := newViewCache(1<<20), newPathCache()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				line := fmt.Sprintf("g%d-%d", g, i%300)
				key, check := views.digests(line)
				v := &cookieView{key: key, check: check}
				putView(views, v)
				if i%7 == 0 {
					views.forget(v)
				}
				paths.put("/" + line)
			}
		}(g)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4000; i++ {
				line := fmt.Sprintf("g%d-%d", g, i%300)
				key, check := views.digests(line)
				if v := viewOfLine(views, line); v != nil && (v.key != key || v.check != check) {
					t.Errorf("view of %s holds another's digests", line)
				}
				_ = paths.open("/" + line)
			}
		}(g)
	}
	wg.Wait()
}

// TestRequestPathUsesCachedViews: a signed-in request is served from the cache,
// and a request that is not, still is served right.
func TestRequestPathUsesCachedViews(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) == "" {
		t.Fatalf("signed in: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	if cachedViews(m.views) == 0 {
		t.Fatal("no view was cached")
	}
	m.views.entries.m.Range(func(_, x interface{}) bool {
		if v := x.(*cookieView); v.signedIn && v.until.IsZero() {
			t.Error("a cached signed-in view has no end")
		}
		return true
	})
	if rec := b.get("/public"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) == "" {
		t.Errorf("signed in on an open path: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	signedOut := newFlowBrowser(t, m)
	if rec := signedOut.get("/public"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "" {
		t.Errorf("signed out on an open path: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	if !m.paths.open("/public") {
		t.Error("/public is not in the cache as open")
	}
	if m.paths.open("/private") {
		t.Error("/private is in the cache as open")
	}
}

// TestFlagOffPassesUntouched: with the flag off, a signed-in browser's request reaches
// the app as it came, ags's cookies included, on an open and on a protected path, the
// second time from the caches too.
func TestFlagOffPassesUntouched(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	newFlowBrowser(t, m).get("/public") // the path cache learns that /public is open
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.jar["ags_client_active"] = "0"
	for _, path := range []string{"/public", "/public", "/private", "/private"} {
		rec := b.get(path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: got %d, want the app", path, rec.Code)
		}
		cookie := app.last.Header.Get("Cookie")
		if app.last.Header.Get(headerUser) != "" || !strings.Contains(cookie, "ags_client_session=") || !strings.Contains(cookie, "ags_client_active=0") {
			t.Fatalf("%s: user %q, Cookie %q: want no identity and the Cookie header untouched", path, app.last.Header.Get(headerUser), cookie)
		}
	}
}

// viewOfLine is the cached view of a Cookie header, or nil.
func viewOfLine(c *viewCache, line string) *cookieView {
	key, check := c.digests(line)
	return c.get(key, check)
}

// TestDeriveRefusedUntil: a view derived for a user the rules refuse is never
// served by the request path (until zero), also when it is a copy of a live
// session's view, as a renewal makes it (refresh.go), and a live one serves until
// its identity's until.
func TestDeriveRefusedUntil(t *testing.T) {
	until := ckNow.Add(time.Hour)
	for _, tc := range []struct {
		name      string
		refusal   string
		flagOn    bool
		wantUntil time.Time
		wantIn    bool
	}{
		{"allowed", "", true, until, true},
		{"refused", "allowedUsers", true, time.Time{}, true},
		{"allowed, flag off", "", false, until, false},
		{"refused, flag off", "allowedUsers", false, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := &cookieView{flagOn: true, id: &identity{until: until}}
			derive(live)
			renewed := *live
			renewed.flagOn = tc.flagOn
			renewed.id = &identity{until: until, refusal: tc.refusal}
			derive(&renewed)
			if !renewed.until.Equal(tc.wantUntil) || renewed.signedIn != tc.wantIn {
				t.Errorf("got until %v, signed in %v; want %v, %v", renewed.until, renewed.signedIn, tc.wantUntil, tc.wantIn)
			}
		})
	}
}

// TestOneSessionCannotEvictOthers (issue 23, 6): a signed-in client that adds a new
// invented cookie to every request, many times the budget's worth, is served its
// identity each time but holds at most maxViewsPerSession views: every other user's
// view stays cached, and the queue behind the budget does not grow without end.
func TestOneSessionCannotEvictOthers(t *testing.T) {
	m := cacheMiddleware(t, "1MiB")
	lines := signedInLines(t, m, 100)
	attacker := newSessionLine(t, m, ckSession(t, 900))
	for i := 0; i < 5000; i++ {
		line := attacker + "; invented" + strconv.Itoa(i) + "=" + strconv.Itoa(i)
		if serveLine(m, "/admin/x", line) == "" {
			t.Fatalf("request %d of the attacker's session was not signed in", i)
		}
	}
	for i, line := range lines {
		if viewOfLine(m.views, line) == nil {
			t.Fatalf("session %d was evicted by one session's flood of new headers", i)
		}
	}
	held := 0
	for i := 0; i < 5000; i++ {
		if viewOfLine(m.views, attacker+"; invented"+strconv.Itoa(i)+"="+strconv.Itoa(i)) != nil {
			held++
		}
	}
	if held != maxViewsPerSession {
		t.Errorf("the attacker's session holds %d views, want %d", held, maxViewsPerSession)
	}
	e := m.views.entries
	e.mu.Lock()
	q := e.classes[sessionViews]
	queued := len(q.stored) - q.head
	e.mu.Unlock()
	if queued > 2*(100+maxViewsPerSession)+64 {
		t.Errorf("the session views' queue holds %d entries for %d live views", queued, 100+maxViewsPerSession)
	}
	if bytes, _ := e.held(sessionViews); bytes > 2*(100+maxViewsPerSession)*viewBytes(viewOfLine(m.views, lines[0])) {
		t.Errorf("the session views count %d bytes for %d live views", bytes, 100+maxViewsPerSession)
	}
}
