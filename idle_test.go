package ags

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// renewedSession reports whether an answer set the session cookie again.
func renewedSession(rec interface{ Result() *http.Response }) bool {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "ags_client_session" && c.Value != "" && c.MaxAge > 0 {
			return true
		}
	}
	return false
}

// TestSessionIdleTimeout, with the test clock: a session used within the idle
// timeout stays signed in across many renewals of its last use, each at least a
// tenth of the timeout after the one before; idle past the timeout it is over (a
// browser signs in again, an API call gets 401), also on an instance that has not
// seen it (its last use read from the cookie, with and without a view block); and
// sessionLifetime stays the cap.
func TestSessionIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		passToken string // "true": no view block, the claims decoded on a cache miss
	}{{"view block", "false"}, {"claims", "true"}} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			c := flowConfig(tp)
			c.SessionIdleTimeout = "20m" // renewed at most every 2m
			c.SessionLifetime = "3h"
			c.PassAccessToken = tc.passToken
			m, app := newFlow(t, c)
			clock := newFlowClock(time.Now())
			setClock(m, clock.now)
			tp.now = clock.now
			// An instance with caches of its own (another configuration's), so that it
			// reads every cookie from scratch.
			cold := *c
			cold.CacheSize = "65MiB"
			fresh := func() *middleware {
				other, _ := newFlow(t, &cold)
				setClock(other, clock.now)
				return other
			}
			b := newFlowBrowser(t, m)
			b.signIn("/private")
			signedIn := clock.now()

			// Used every 30s for an hour: always signed in, renewed every 2 minutes.
			lastRenewal, renewals := signedIn, 0
			for i := 0; i < 120; i++ {
				clock.set(clock.now().Add(30 * time.Second))
				rec := b.get("/private")
				if rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "user-42" {
					t.Fatalf("in use after %v: got %d, want the app with the identity", clock.now().Sub(signedIn), rec.Code)
				}
				if renewedSession(rec) {
					if gap := clock.now().Sub(lastRenewal); gap < 2*time.Minute {
						t.Errorf("renewed %v after the last renewal, want at least 2m", gap)
					}
					lastRenewal = clock.now()
					renewals++
				}
			}
			if renewals < 25 || renewals > 30 {
				t.Errorf("got %d renewals in an hour of use, want one every 2m or so", renewals)
			}

			// Idle 19 minutes since the last renewal: still signed in, here and on an
			// instance that reads the cookie's last use (not its sign-in, an hour ago).
			clock.set(lastRenewal.Add(19 * time.Minute))
			if rec := copyBrowser(b, fresh()).get("/private"); rec.Code != http.StatusOK {
				t.Fatalf("idle 19m, another instance: got %d, want 200", rec.Code)
			}
			if rec := b.get("/private"); rec.Code != http.StatusOK || !renewedSession(rec) {
				t.Fatalf("idle 19m: got %d (renewed %v), want 200 and a renewal", rec.Code, renewedSession(rec))
			}
			lastRenewal = clock.now()

			// Idle 20 minutes: over, for the browser and an API call, on both instances.
			clock.set(lastRenewal.Add(20 * time.Minute))
			if rec := copyBrowser(b, fresh()).get("/private"); rec.Code != http.StatusFound {
				t.Errorf("idle 20m, another instance: got %d, want a sign-in", rec.Code)
			}
			if rec := b.do(http.MethodGet, "/private", http.Header{"Accept": {"application/json"}}); rec.Code != http.StatusUnauthorized {
				t.Errorf("idle 20m, an API call: got %d, want 401", rec.Code)
			}
			if rec := b.get("/private"); rec.Code != http.StatusFound {
				t.Errorf("idle 20m, a browser: got %d, want a sign-in", rec.Code)
			}
			if rec := b.get("/elsewhere"); rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "" {
				t.Errorf("idle 20m, an open path: got %d, user %q, want the app without identity", rec.Code, app.last.Header.Get(headerUser))
			}

			// The lifetime stays the cap, however often the session is used.
			b = newFlowBrowser(t, m)
			b.signIn("/private")
			signedIn = clock.now()
			for clock.now().Before(signedIn.Add(3*time.Hour - time.Minute)) {
				clock.set(clock.now().Add(5 * time.Minute))
				want := http.StatusOK
				if !clock.now().Before(signedIn.Add(3 * time.Hour)) {
					want = http.StatusFound
				}
				if rec := b.get("/private"); rec.Code != want {
					t.Fatalf("%v after sign-in, in use: got %d, want %d", clock.now().Sub(signedIn), rec.Code, want)
				}
			}
		})
	}
}

// TestSessionIdleTimeoutOption: the option's errors name it, and it comes from
// AGS_CLIENT_SESSION_IDLE_TIMEOUT too (a session idle past it then ends).
func TestSessionIdleTimeoutOption(t *testing.T) {
	tp := newTestProvider(t)
	for _, bad := range []string{"soon", "-5m", "0", "90s"} {
		c := flowConfig(tp)
		c.SessionIdleTimeout = bad
		if _, err := newMiddleware(&flowBackend{}, c, "test"); err == nil || !strings.Contains(err.Error(), "sessionIdleTimeout") {
			t.Errorf("sessionIdleTimeout %q: got %v, want an error naming it", bad, err)
		}
	}
	env := map[string]string{"AGS_CLIENT_SESSION_IDLE_TIMEOUT": "10m"}
	m, _ := newFlow(t, flowConfig(tp).resolved(func(k string) string { return env[k] }))
	clock := newFlowClock(time.Now())
	setClock(m, clock.now)
	tp.now = clock.now
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	clock.set(clock.now().Add(9 * time.Minute))
	if rec := b.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("idle 9m: got %d, want 200", rec.Code)
	}
	clock.set(clock.now().Add(10 * time.Minute))
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("idle 10m, timeout from the environment: got %d, want a sign-in", rec.Code)
	}
}

// TestSessionLastUseEncoding: the last use survives sealing; a session without one
// (sealed by an earlier version) opens, last used at sign-in.
func TestSessionLastUseEncoding(t *testing.T) {
	claims := map[string]interface{}{"sub": "user-42"}
	for _, lastUse := range []time.Time{{}, time.Unix(1700000000, 0)} {
		b, err := encodeSession(&session{Claims: claims, View: "i=x", LastUse: lastUse})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := sessionFrom(b, 1600000000, 1800000000)
		if err != nil {
			t.Fatal(err)
		}
		want := lastUse
		if lastUse.IsZero() {
			want = time.Unix(1600000000, 0)
		}
		if !lastUseOf(sess).Equal(want) || !lastUseInBlock(b, 1600000000).Equal(want) {
			t.Errorf("last use %v: decoded %v, from the block %v, want %v", lastUse, lastUseOf(sess), lastUseInBlock(b, 1600000000), want)
		}
	}
}

// copyBrowser is a browser on m with a copy of b's cookies.
func copyBrowser(b *flowBrowser, m *middleware) *flowBrowser {
	c := newFlowBrowser(b.t, m)
	for name, value := range b.jar {
		c.jar[name] = value
	}
	return c
}
