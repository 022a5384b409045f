package ags

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hotViews is what the request path sees of the view cache.
func hotViews(c *viewCache) map[string]*cookieView {
	return c.hot.Load().(map[string]*cookieView)
}

func TestViewCachePublishes(t *testing.T) {
	c := newViewCache(defaultCacheSize)
	start := time.Unix(1700000000, 0)
	a := &cookieView{key: "a"}
	c.put("a", a, start)
	if hotViews(c)["a"] != a {
		t.Fatal("the first view waits: into an empty cache it must be published at once")
	}
	// Fill the published map, so that one new view is not worth a copy of it.
	for i := 0; i < 200; i++ {
		k := "fill" + strconv.Itoa(i)
		c.put(k, &cookieView{key: k}, start)
	}
	c.publish(start)
	waiting := &cookieView{key: "late"}
	c.put("late", waiting, start)
	if hotViews(c)["late"] != nil {
		t.Fatalf("one view among %d was published at once: each new view would copy the whole map", len(hotViews(c)))
	}
	if got := c.get("late", start); got != waiting {
		t.Fatalf("a waiting view is not found: got %v", got)
	}
	if got := c.get("late", start.Add(publishAfter)); got != waiting || hotViews(c)["late"] != waiting {
		t.Fatal("a view waited longer than publishAfter without being published")
	}
	// Batches: publishing waits for 1/publishBatch of the published count.
	published := len(hotViews(c))
	now := start.Add(publishAfter)
	for i := 0; len(hotViews(c)) == published; i++ {
		k := "batch" + strconv.Itoa(i)
		c.put(k, &cookieView{key: k}, now)
		if i > published/publishBatch+1 {
			t.Fatalf("%d new views were not published into %d", i+1, published)
		}
	}
}

func TestViewCacheReplacesAndRemovesAtOnce(t *testing.T) {
	c := newViewCache(defaultCacheSize)
	now := time.Unix(1700000000, 0)
	for i := 0; i < 300; i++ {
		k := "v" + strconv.Itoa(i)
		c.put(k, &cookieView{key: k}, now)
	}
	renewed := &cookieView{key: "v7"}
	c.put("v7", renewed, now)
	if hotViews(c)["v7"] != renewed {
		t.Error("a replaced view stays on the request path until the next batch")
	}
	c.put("v8", nil, now)
	if v, ok := hotViews(c)["v8"]; ok || v != nil || c.get("v8", now) != nil {
		t.Error("a removed view stays on the request path")
	}
	if hotViews(c)["v9"] == nil {
		t.Error("removing one view dropped another")
	}
}

func TestViewCacheBoundedInBytes(t *testing.T) {
	const entries = 300
	sample := &cookieView{key: "ags_client_session=" + strings.Repeat("x", 1600) + "0000"}
	budget := entries * viewBytes(sample)
	c := newViewCache(budget)
	now := time.Unix(1700000000, 0)
	bytesOf := func(m map[string]*cookieView) int {
		n := 0
		for _, v := range m {
			if v != nil {
				n += viewBytes(v)
			}
		}
		return n
	}
	for i := 0; i < 10*entries; i++ {
		k := sample.key[:len(sample.key)-4] + fmt.Sprintf("%04d", i)
		v := &cookieView{key: k}
		c.put(k, v, now)
		if c.get(k, now) != v {
			t.Fatalf("view %d is not found right after it was put", i)
		}
		if got := bytesOf(hotViews(c)); got != c.hotBytes {
			t.Fatalf("after %d views the published views take %d bytes, the cache counts %d", i+1, got, c.hotBytes)
		}
		if n := c.hotBytes + bytesOf(c.recent); n > budget+budget/publishBatch+viewBytes(v) {
			t.Fatalf("after %d views the cache holds %d bytes, want at most about %d", i+1, n, budget)
		}
	}
	if n := c.hotBytes; n < budget/2-viewBytes(sample) {
		t.Errorf("the published views fell to %d bytes, want at least half of %d", n, budget)
	}
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
		if m.views.budget != tc.want {
			t.Errorf("cacheSize %q: the view cache's budget is %d, want %d", tc.value, m.views.budget, tc.want)
		}
	}
}

func TestPathCache(t *testing.T) {
	c := newPathCache()
	now := time.Unix(1700000000, 0)
	if _, known := c.get("/x", now); known {
		t.Fatal("an empty cache knows /x")
	}
	c.put("/open", true, now)
	c.put("/private", false, now)
	for p, want := range map[string]bool{"/open": true, "/private": false} {
		if open, known := c.get(p, now); !known || open != want {
			t.Errorf("%s: got open=%v known=%v, want open=%v", p, open, known, want)
		}
	}
	for i := 0; i < 10*pathCacheSize; i++ {
		p := "/p" + strconv.Itoa(i)
		c.put(p, true, now)
		if open, known := c.get(p, now); !known || !open {
			t.Fatalf("%s is not found right after it was put", p)
		}
	}
	hot := c.hot.Load().(map[string]bool)
	if n := len(hot) + len(c.recent); n > pathCacheSize+pathCacheSize/publishBatch+1 {
		t.Errorf("the path cache holds %d, want at most about %d", n, pathCacheSize)
	}
	c.put("/late", true, now)
	if _, known := c.get("/late", now.Add(publishAfter)); !known || !c.hot.Load().(map[string]bool)["/late"] {
		t.Error("a path waited longer than publishAfter without being published")
	}
}

// TestCachesConcurrent reads the published maps as the request path does while
// other goroutines add and remove entries; run it with -race.
func TestCachesConcurrent(t *testing.T) {
	views, paths := newViewCache(defaultCacheSize), newPathCache()
	now := time.Unix(1700000000, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := fmt.Sprintf("g%d-%d", g, i%300)
				if i%7 == 0 {
					views.put(k, nil, now)
				} else {
					views.put(k, &cookieView{key: k}, now)
				}
				paths.put("/"+k, i%2 == 0, now)
			}
		}(g)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4000; i++ {
				k := fmt.Sprintf("g%d-%d", g, i%300)
				if v := views.hot.Load().(map[string]*cookieView)[k]; v != nil && v.key != k {
					t.Errorf("view of %s holds %s", k, v.key)
				}
				if v := views.get(k, now.Add(time.Duration(i)*time.Millisecond)); v != nil && v.key != k {
					t.Errorf("view of %s holds %s", k, v.key)
				}
				if i%5 == 0 {
					views.forget(k, &cookieView{key: k}, now)
				}
				_ = paths.hot.Load().(map[string]bool)["/"+k]
			}
		}(g)
	}
	wg.Wait()
}

// TestRequestPathUsesPublishedViews: a signed-in request is served from the
// published map, and a request that is not, still is served right.
func TestRequestPathUsesPublishedViews(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) == "" {
		t.Fatalf("signed in: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	if len(hotViews(m.views)) == 0 {
		t.Fatal("no view was published")
	}
	for _, v := range hotViews(m.views) {
		if v.signedIn && v.until.IsZero() {
			t.Error("a published signed-in view has no end")
		}
	}
	if rec := b.get("/public"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) == "" {
		t.Errorf("signed in on an open path: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	signedOut := newFlowBrowser(t, m)
	if rec := signedOut.get("/public"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "" {
		t.Errorf("signed out on an open path: got %d, user %q", rec.Code, app.last.Header.Get(headerUser))
	}
	if open, known := m.paths.get("/public", m.now()); !known || !open {
		t.Errorf("/public: open=%v known=%v, want an open path in the cache", open, known)
	}
	if open, _ := m.paths.get("/private", m.now()); open {
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
