package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Issue 28's revocation store through Traefik: two replicas of one client share a
// redis-server (harness.StartRedis: a password, TLS once); a session ended through
// one (Hydra's logout token, ags's sign-out) ends through the other, also when the
// store was away meanwhile.

// storeReplicas starts Redis as opts says and two Traefik replicas, A and B, of one
// Hydra client with the same ags options and a revocation store (store's options for
// r); Hydra's back channel goes through relay to A.
func storeReplicas(t *testing.T, h *harness.Hydra, relay *logoutRelay, opts harness.RedisOptions, store func(r *harness.Redis) map[string]any) (r *harness.Redis, a, b *harness.Traefik) {
	t.Helper()
	requireCommand(t, "redis-server", "redis-server")
	r, err := harness.StartRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- redis-server logged:\n%s", lastLines(r.Log(), 30))
		}
	})
	trs := hydraReplicas(t, h, 2, hydraBackChannelClient(relay), backChannelOptions(store(r)))
	relay.sendTo(trs[0].URL("/" + bclPath))
	return r, trs[0], trs[1]
}

// passwordInURL: the store's password in revocationStore's URL.
func passwordInURL(r *harness.Redis) map[string]any {
	return map[string]any{"revocationStore": r.URL()}
}

// expectSessionEnded checks that one request with a copy of s's cookies through tr
// starts a sign-in.
func expectSessionEnded(t *testing.T, tr *harness.Traefik, h *harness.Hydra, s *hydraSession, when string) {
	t.Helper()
	if a := withCookie(tr, "/protected/", s.cookie); !a.signInStarted(h) {
		t.Errorf("%s, the ended session through Traefik %d: %s, want a sign-in at Hydra", when, tr.Port, a)
	}
}

// revokedAcrossReplicas: a session signed in through A and ended at Hydra (its
// end-session endpoint; the token reaches A) ends through B, and so does one signed
// out with ags's own sign-out through A; each delay is measured from A's answer.
func revokedAcrossReplicas(t *testing.T, h *harness.Hydra, relay *logoutRelay, a, b *harness.Traefik) {
	t.Helper()
	s := signInHydra(t, a)
	expectSessionWorks(t, b, s, "signed in through A")
	hydraLogout(t, h, s)
	p := relay.next(t, 10*time.Second)
	expectLogoutAccepted(t, p, s)
	delay := waitSessionEnded(t, b, h, s, p.at, 5*time.Second)
	t.Logf("revocation delay across replicas: %d ms (Hydra's logout token to A, the session refused by B)", delay.Milliseconds())
	expectSessionEnded(t, a, h, s, "Hydra's logout")
	// The store keeps the token's jti: sent again to B, it is refused there too.
	off := b.LogSize()
	replay, err := postLogoutToken(b.URL("/"+bclPath), "", p.token)
	if err != nil {
		t.Fatal(err)
	}
	expectLogoutRefused(t, "Hydra's logout token sent again to B", replay)
	expectLogged(t, b, off, "jti seen before")

	s = signInHydra(t, a)
	expectSessionWorks(t, b, s, "signed in through A again")
	out := withCookie(a, "/sign-out", s.cookie)
	if out.status != http.StatusFound || !strings.HasPrefix(out.location, h.URL("/oauth2/sessions/logout?")) {
		t.Fatalf("ags's sign-out through A: %s, want a redirect to Hydra's end-session endpoint", out)
	}
	// The browser is not sent on to Hydra: its logout token would end the session
	// too, and this is ags's own revocation.
	delay = waitSessionEnded(t, b, h, s, time.Now(), 5*time.Second)
	t.Logf("revocation delay across replicas: %d ms (ags's sign-out through A, the copied cookie refused by B)", delay.Milliseconds())
	expectSessionEnded(t, a, h, s, "ags's sign-out")
}

// TestHydraRevocationStore: two Traefik replicas share a revocation store
// (redis-server with a password): a session ended at Hydra, whose logout token
// reaches replica A, ends through replica B, and so does one signed out through A.
// The password in the URL, from revocationStorePasswordFile, and over TLS.
func TestHydraRevocationStore(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")

	t.Run("PasswordInURL", func(t *testing.T) {
		relay := startLogoutRelay(t)
		_, a, b := storeReplicas(t, h, relay, harness.RedisOptions{}, passwordInURL)
		revokedAcrossReplicas(t, h, relay, a, b)
		// A replica started afterwards loads the revocations from the store: the
		// first request of a revoked session through it starts a sign-in.
		s := signInHydra(t, a)
		adminRevoke(t, h, "/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(s.sid))
		p := relay.next(t, 10*time.Second)
		expectLogoutAccepted(t, p, s)
		waitSessionEnded(t, b, h, s, p.at, 5*time.Second)
		if err := b.Restart(); err != nil {
			t.Fatal(err)
		}
		expectSessionEnded(t, b, h, s, "B restarted")
	})

	t.Run("PasswordFile", func(t *testing.T) {
		relay := startLogoutRelay(t)
		file := filepath.Join(t.TempDir(), "redis-password")
		_, a, b := storeReplicas(t, h, relay, harness.RedisOptions{}, func(r *harness.Redis) map[string]any {
			if err := os.WriteFile(file, []byte(r.Password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return map[string]any{"revocationStore": "redis://" + r.Addr + "/0", "revocationStorePasswordFile": file}
		})
		revokedAcrossReplicas(t, h, relay, a, b)
	})

	t.Run("TLS", func(t *testing.T) {
		relay := startLogoutRelay(t)
		_, a, b := storeReplicas(t, h, relay, harness.RedisOptions{TLS: true}, func(r *harness.Redis) map[string]any {
			return map[string]any{"revocationStore": r.URL(), "revocationStoreCAFile": r.CAFile}
		})
		revokedAcrossReplicas(t, h, relay, a, b)
	})
}

// loadResult is what a loop of signed-in requests saw.
type loadResult struct {
	requests int
	failures []string // the first few
	failed   int
	slowest  time.Duration
}

// signedInLoad sends requests with a copy of s's cookies through each of trs in turn
// until stop is closed; every one must be the app's signed-in page.
func signedInLoad(trs []*harness.Traefik, s *hydraSession, stop chan struct{}) chan loadResult {
	done := make(chan loadResult, 1)
	go func() {
		var res loadResult
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- res
				return
			default:
			}
			tr := trs[i%len(trs)]
			start := time.Now()
			a := withCookie(tr, "/protected/", s.cookie)
			if d := time.Since(start); d > res.slowest {
				res.slowest = d
			}
			res.requests++
			if !a.signedIn() {
				res.failed++
				if len(res.failures) < 5 {
					res.failures = append(res.failures, fmt.Sprintf("%s through Traefik %d: %s", time.Now().Format("15:04:05.000"), tr.Port, a))
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return done
}

// TestHydraRevocationStoreOutage: the store is killed and started again (empty)
// while signed-in requests go through both replicas: none fails while it is away;
// revocations made through A meanwhile (Hydra's logout token, ags's sign-out) apply
// on A at once, and B learns them once the store is back.
func TestHydraRevocationStoreOutage(t *testing.T) {
	t.Parallel()
	h := startedHydra(t, "")
	relay := startLogoutRelay(t)
	r, a, b := storeReplicas(t, h, relay, harness.RedisOptions{}, passwordInURL)
	both := []*harness.Traefik{a, b}
	kept, endedAtHydra, signedOut := signInHydra(t, a), signInHydra(t, a), signInHydra(t, a)
	for _, s := range []*hydraSession{kept, endedAtHydra, signedOut} {
		expectSessionWorks(t, b, s, "signed in through A")
	}

	stop := make(chan struct{})
	load := signedInLoad(both, kept, stop)
	time.Sleep(300 * time.Millisecond)
	r.Stop()
	down := time.Now()
	time.Sleep(500 * time.Millisecond) // the replicas notice

	adminRevoke(t, h, "/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(endedAtHydra.sid))
	p := relay.next(t, 10*time.Second)
	expectLogoutAccepted(t, p, endedAtHydra)
	t.Logf("with the store down, A answered Hydra's logout token in %d ms", p.took.Milliseconds())
	waitSessionEnded(t, a, h, endedAtHydra, p.at, 2*time.Second)
	if out := withCookie(a, "/sign-out", signedOut.cookie); out.status != http.StatusFound {
		t.Fatalf("ags's sign-out through A with the store down: %s", out)
	}
	expectSessionEnded(t, a, h, signedOut, "ags's sign-out through A with the store down")
	t.Logf("with the store down, B still sees the ended sessions as %s and %s (it cannot know yet)",
		withCookie(b, "/protected/", endedAtHydra.cookie), withCookie(b, "/protected/", signedOut.cookie))
	time.Sleep(time.Second)

	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("the store was away for %s", back.Sub(down).Round(time.Millisecond))
	learned := waitSessionEnded(t, b, h, endedAtHydra, back, 20*time.Second)
	t.Logf("B learned the revocations made through A during the outage %d ms after the store came back", learned.Milliseconds())
	waitSessionEnded(t, b, h, signedOut, back, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-load
	t.Logf("%d signed-in requests through A and B around the outage, %d failed, the slowest %s",
		res.requests, res.failed, res.slowest.Round(time.Millisecond))
	if res.failed > 0 {
		t.Errorf("%d of %d signed-in requests failed around the outage, want none; the first:\n%s",
			res.failed, res.requests, strings.Join(res.failures, "\n"))
	}
	if keys, err := r.Do("DBSIZE"); err != nil || keys == int64(0) {
		t.Errorf("the store after the outage holds %v keys (%v), want the revocations A made while it was away", keys, err)
	}
	expectSessionWorks(t, a, kept, "after the outage")
	expectSessionWorks(t, b, kept, "after the outage")
}
