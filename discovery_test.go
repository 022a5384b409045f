package ags

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDocumentAge(t *testing.T) {
	for _, tc := range []struct {
		cacheControl string
		want         time.Duration
	}{
		{"", defaultDocumentAge},
		{"public, max-age=3600", time.Hour},
		{"max-age=600", 10 * time.Minute},
		{"max-age=0", minDocumentAge},
		{"max-age=10", minDocumentAge},
		{"max-age=999999999", maxDocumentAge},
		{"max-age=99999999999999999999", defaultDocumentAge},
		{"no-cache", minDocumentAge},
		{"no-store, max-age=3600", minDocumentAge},
		{"max-age=junk", defaultDocumentAge},
		{`max-age="7200"`, 2 * time.Hour},
	} {
		h := http.Header{}
		if tc.cacheControl != "" {
			h.Set("Cache-Control", tc.cacheControl)
		}
		if got := documentAge(h); got != tc.want {
			t.Errorf("documentAge(%q): got %v, want %v", tc.cacheControl, got, tc.want)
		}
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestProviderDocumentsAge: the discovery document and the key set are fetched again
// once older than their max-age, in the background of the request that finds them
// stale (it is answered before the provider is); a renewed document takes effect,
// a withdrawn key stops being trusted, and a failed renewal keeps the old document.
func TestProviderDocumentsAge(t *testing.T) {
	tp := newTestProvider(t)
	tp.cacheControl = "max-age=600"
	m, app := newFlow(t, flowConfig(tp))
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	tp.now = clock.now
	signedIn := newFlowBrowser(t, m)
	signedIn.signIn("/private")
	calls := func() (discovery, keys int) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return tp.discoveryCalls, tp.atkJWKSCalls
	}
	if d, k := calls(); d != 1 || k != 1 {
		t.Fatalf("after sign-in: %d discovery and %d key-set fetches, want 1 and 1", d, k)
	}

	// Within max-age: nothing is fetched.
	clock.set(clock.now().Add(9 * time.Minute))
	newFlowBrowser(t, m).signIn("/private")
	if d, k := calls(); d != 1 || k != 1 {
		t.Fatalf("within max-age: %d discovery and %d key-set fetches, want 1 and 1", d, k)
	}

	// Past max-age, the provider changed: no end-session endpoint, every key withdrawn.
	clock.set(clock.now().Add(2 * time.Minute))
	tp.set(func(tp *testProvider) {
		tp.noEndSession = true
		// The provider's key is withdrawn; another one takes its place.
		tp.atkKeys = jwtKeySetDoc(t, jwtNewSigner(t, "rsa2048_b.pem", "RS256", "key-2").jwk(t, true))
		tp.atkDelay = map[string]time.Duration{"/.well-known/openid-configuration": time.Second}
	})
	rec := newFlowBrowser(t, m).get("/private")
	if d, _ := calls(); rec.Code != http.StatusFound || d != 1 {
		t.Fatalf("stale discovery: got %d with %d discovery fetches done, want a login answered before the provider", rec.Code, d)
	}
	waitFor(t, "the discovery document to be renewed", func() bool {
		m.discovery.mu.Lock()
		defer m.discovery.mu.Unlock()
		return m.discovery.p.EndSessionEndpoint == ""
	})
	if rec := signedIn.get("/sign-out"); rec.Code != http.StatusOK || app.last.URL.Path != "/sign-out" {
		t.Errorf("sign-out after the renewed document: got %d, want the app's sign-out view (no end_session_endpoint)", rec.Code)
	}

	// The keys are stale too: the sign-in that finds them so still uses them, and
	// starts their renewal; after it, the withdrawn key is not trusted.
	tp.set(func(tp *testProvider) { tp.atkDelay = nil })
	b := newFlowBrowser(t, m)
	if done := b.signIn("/private"); done.Code != http.StatusFound {
		t.Fatalf("sign-in with stale keys: got %d, want it to pass while the keys endOrRenew", done.Code)
	}
	waitFor(t, "the key set to be renewed", func() bool { _, k := calls(); return k >= 2 })
	waitFor(t, "the renewal to finish", func() bool {
		ks := m.discovery.p.keys
		ks.mu.Lock()
		defer ks.mu.Unlock()
		return ks.inflight == nil && len(ks.keys) == 1 && ks.keys[0].kid == "key-2"
	})
	clock.set(clock.now().Add(time.Minute)) // past the refetch interval for the unknown kid
	b = newFlowBrowser(t, m)
	if done := b.signIn("/private"); done.Code != http.StatusUnauthorized {
		t.Errorf("sign-in with a withdrawn key: got %d, want 401", done.Code)
	}

	// A renewal that fails keeps the document in use.
	clock.set(clock.now().Add(time.Hour))
	tp.set(func(tp *testProvider) { tp.atkDiscovery = []byte("not json"); tp.atkKeys = nil })
	before, _ := calls()
	newFlowBrowser(t, m).get("/private")
	waitFor(t, "a renewal to be tried", func() bool { d, _ := calls(); return d > before })
	waitFor(t, "the renewal to end", func() bool {
		m.discovery.mu.Lock()
		defer m.discovery.mu.Unlock()
		return !m.discovery.refreshing
	})
	if rec := newFlowBrowser(t, m).get("/private"); rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize?") {
		t.Errorf("after a failed renewal: got %d, want a login with the document known", rec.Code)
	}
}

// TestDiscoveryDetachedFromFirstRequest: the first requester going away during
// discovery neither fails it nor starts a back-off for the next request.
func TestDiscoveryDetachedFromFirstRequest(t *testing.T) {
	tp := newTestProvider(t)
	tp.atkDelay = map[string]time.Duration{"/.well-known/openid-configuration": 300 * time.Millisecond}
	m, _ := newFlow(t, flowConfig(tp))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	r := httptest.NewRequest(http.MethodGet, "http://app.example/private", nil).WithContext(ctx)
	m.ServeHTTP(httptest.NewRecorder(), r)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://app.example/private", nil))
	if rec.Code != http.StatusFound {
		t.Errorf("the next request: got %d, want a login (no back-off from a client that went away)", rec.Code)
	}
}

// TestDiscoveryWaiters: requests that arrive together, before the provider is
// discovered, wait for one fetch and all go on to the login. Under Yaegi this once
// killed the process (a continue inside a select's case; see provider).
func TestDiscoveryWaiters(t *testing.T) {
	tp := newTestProvider(t)
	tp.atkDelay = map[string]time.Duration{"/.well-known/openid-configuration": 100 * time.Millisecond}
	m, _ := newFlow(t, flowConfig(tp))
	const n = 8
	type answer struct {
		code     int
		location string
	}
	answers := make(chan answer, n)
	for i := 0; i < n; i++ {
		go func() {
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://app.example/private", nil))
			answers <- answer{rec.Code, rec.Header().Get("Location")}
		}()
	}
	for i := 0; i < n; i++ {
		a := <-answers
		if a.code != http.StatusFound || !strings.HasPrefix(a.location, tp.issuer+"/authorize?") {
			t.Errorf("request %d: got %d to %q, want %d to the provider's /authorize", i, a.code, a.location, http.StatusFound)
		}
	}
}
