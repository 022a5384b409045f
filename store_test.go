package ags

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The revocation store through ServeHTTP: two replicas are two instances that share
// nothing but the store (replica sets its process-wide state aside, as another
// Traefik process would have its own), against the test's fake Redis
// (store_fake_test.go).

// replica builds an instance of c as the only one of its own process: the
// process-wide revocation set, caches and store client that instances built before
// it share are set aside first, and its store's timings are shortened.
func replica(t *testing.T, c *Config) (*middleware, *flowBackend) {
	t.Helper()
	tp := c.Issuer + " " + c.ClientID
	sharedRevocations.mu.Lock()
	delete(sharedRevocations.byClient, tp)
	sharedRevocations.mu.Unlock()
	sharedCaches.mu.Lock()
	sharedCaches.byConfig = map[string]*caches{}
	sharedCaches.order = nil
	sharedCaches.mu.Unlock()
	sharedStores.mu.Lock()
	sharedStores.byKey = map[string]*revocationStore{}
	sharedStores.order = nil
	sharedStores.mu.Unlock()
	m, app := newFlow(t, c)
	if st, scope := m.revs.storeOf(); st != nil {
		st.timeout, st.pingEvery, st.minBackoff, st.maxBackoff = time.Second, 100*time.Millisecond, 10*time.Millisecond, 50*time.Millisecond
		// The store's subscription ends once no client uses it: not retrying a
		// stopped fake for the rest of the run.
		t.Cleanup(func() { st.detach(scope) })
	}
	return m, app
}

// storeConfig is flowConfig with a revocation store and back-channel logout.
func storeConfig(tp *testProvider, f *fakeStore) *Config {
	c := logoutConfig(tp)
	c.RevocationStore = f.url()
	return c
}

// copyJar gives b2 b's cookies: the same browser on another replica, or a copy.
func copyJar(b, b2 *flowBrowser) {
	for k, v := range b.jar {
		b2.jar[k] = v
	}
}

// signedInOnBoth builds replicas A and B of c, signs a browser in through A, and
// gives its cookies to a browser on B, which must be signed in too.
func signedInOnBoth(t *testing.T, c *Config) (*middleware, *middleware, *flowBrowser, *flowBrowser, *flowBackend) {
	t.Helper()
	a, _ := replica(t, c)
	b, appB := replica(t, c)
	onA := newFlowBrowser(t, a)
	onA.signIn("/private")
	onB := newFlowBrowser(t, b)
	copyJar(onA, onB)
	if rec := onB.get("/private"); rec.Code != http.StatusOK {
		t.Fatalf("B before: got %d, want 200", rec.Code)
	}
	return a, b, onA, onB, appB
}

// refusedWithin polls b's request to target until it is sent to sign in, and
// fails the test if that takes over d.
func refusedWithin(t *testing.T, b *flowBrowser, target string, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rec := b.get(target)
		if rec.Code == http.StatusFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d after %v, want a new sign-in", what, rec.Code, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStoreSharesRevocations: a session signed in on A and used on B ends on B
// when A signs it out (ags's own sign-out) or receives a logout token, and the
// store holds the revocation with a time to live. Without a store, B goes on.
func TestStoreSharesRevocations(t *testing.T) {
	for _, how := range []string{"sign-out", "back-channel logout"} {
		for _, store := range []bool{true, false} {
			how, store := how, store
			t.Run(how+map[bool]string{true: ", store", false: ", no store"}[store], func(t *testing.T) {
				tp := newTestProvider(t)
				tp.sid = "sid-shared"
				f := newFakeStore(t, "s3cret-pass")
				c := storeConfig(tp, f)
				if !store {
					c.RevocationStore = ""
				}
				a, _, onA, onB, appB := signedInOnBoth(t, c)
				if how == "sign-out" {
					onA.get("/sign-out")
				} else if rec := postLogout(a, tpSign(tp.key, tp.kid, logoutClaims(tp, "sid-shared", "user-42"))); rec.Code != http.StatusOK {
					t.Fatalf("logout token at A: got %d; %s", rec.Code, rec.Body.String())
				}
				if !store {
					time.Sleep(300 * time.Millisecond)
					if rec := onB.get("/private"); rec.Code != http.StatusOK {
						t.Errorf("B without a store: got %d, want 200 (the README says so)", rec.Code)
					}
					return
				}
				refusedWithin(t, onB, "/private", 3*time.Second, "B after A's "+how)
				calls := appB.calls
				onB.get("/private")
				if appB.calls != calls {
					t.Errorf("B's app saw the revoked identity")
				}
				if keys := f.keys(storeKeyPrefix); len(keys) == 0 {
					t.Errorf("the store holds no revocation")
				}
				if f.seen("PUBLISH", storeChannel) == 0 {
					t.Errorf("nothing published")
				}
			})
		}
	}
}

// TestStoreTLS: rediss:// with revocationStoreCAFile shares revocations; without
// the CA the certificate is refused (one log line naming it), and sessions work.
func TestStoreTLS(t *testing.T) {
	for _, withCA := range []bool{true, false} {
		tp := newTestProvider(t)
		tp.sid = "sid-tls"
		f, caFile := newFakeTLSStore(t, "tls-pass")
		c := storeConfig(tp, f)
		if withCA {
			c.RevocationStoreCAFile = caFile
		}
		_, b, onA, onB, _ := signedInOnBoth(t, c)
		onA.get("/sign-out")
		if withCA {
			refusedWithin(t, onB, "/private", 3*time.Second, "B over TLS")
			continue
		}
		if rec := onB.get("/private"); rec.Code != http.StatusOK {
			t.Errorf("without the CA: B got %d, want 200 (the store cannot be reached)", rec.Code)
		}
		log := b.log.out.(*flowLog)
		waitFor(t, "a log line about the certificate", func() bool { return strings.Contains(log.String(), "certificate") })
	}
}

// TestStoreLoadsAtStart: a replica started after a revocation learns it from the
// store before it opens its first session.
func TestStoreLoadsAtStart(t *testing.T) {
	tp := newTestProvider(t)
	tp.sid = "sid-early"
	f := newFakeStore(t, "")
	c := storeConfig(tp, f)
	a, _ := replica(t, c)
	onA := newFlowBrowser(t, a)
	onA.signIn("/private")
	cookies := map[string]string{}
	for k, v := range onA.jar {
		cookies[k] = v
	}
	onA.get("/sign-out")
	b, appB := replica(t, c)
	onB := newFlowBrowser(t, b)
	onB.jar = cookies
	if rec := onB.get("/private"); rec.Code != http.StatusFound || appB.calls != 0 {
		t.Errorf("B's first request with a cookie revoked before it started: got %d, want a new sign-in", rec.Code)
	}
}

// TestStoreOutage: while the store is away, sessions work on every replica and a
// sign-out on A applies on A; when the store comes back empty, A writes back what
// it holds, and B learns it: nothing lost.
func TestStoreOutage(t *testing.T) {
	tp := newTestProvider(t)
	tp.sid = "sid-outage"
	f := newFakeStore(t, "pw")
	c := storeConfig(tp, f)
	a, _ := replica(t, c)
	log := a.log.out.(*flowLog)
	b, _ := replica(t, c)
	onA := newFlowBrowser(t, a)
	onA.signIn("/private")
	onB := newFlowBrowser(t, b)
	copyJar(onA, onB)
	if rec := onB.get("/private"); rec.Code != http.StatusOK { // starts B's subscription
		t.Fatalf("B before: %d", rec.Code)
	}
	thief := newFlowBrowser(t, a)
	copyJar(onA, thief)
	f.stop()
	for i := 0; i < 20; i++ {
		if rec := onB.get("/private"); rec.Code != http.StatusOK {
			t.Fatalf("B while the store is away: got %d, want 200", rec.Code)
		}
	}
	onA.get("/sign-out")
	if rec := thief.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("A while the store is away: a copy of the signed-out cookie got %d, want a new sign-in", rec.Code)
	}
	if rec := onB.get("/private"); rec.Code != http.StatusOK {
		t.Errorf("B while the store is away: got %d, want 200 (it cannot know yet)", rec.Code)
	}
	waitFor(t, "a log line saying the store is unreachable", func() bool { return strings.Contains(log.String(), "unreachable") })
	f.start(f.addr)
	refusedWithin(t, onB, "/private", 5*time.Second, "B once the store is back")
	waitFor(t, "a log line saying the store is back", func() bool { return strings.Contains(log.String(), "reachable again") })
}

// TestStoreLogoutTokenReplay: a logout token accepted by A is refused by B.
func TestStoreLogoutTokenReplay(t *testing.T) {
	tp := newTestProvider(t)
	f := newFakeStore(t, "")
	c := storeConfig(tp, f)
	a, _ := replica(t, c)
	b, _ := replica(t, c)
	token := tpSign(tp.key, tp.kid, logoutClaims(tp, "sid-replay", "user-42"))
	if rec := postLogout(a, token); rec.Code != http.StatusOK {
		t.Fatalf("A: got %d", rec.Code)
	}
	if rec := postLogout(b, token); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_request") {
		t.Errorf("the same token at B: got %d %s, want 400", rec.Code, rec.Body.String())
	}
	if rec := postLogout(b, tpSign(tp.key, tp.kid, logoutClaims(tp, "sid-replay", "user-42"))); rec.Code != http.StatusOK {
		t.Errorf("a new token at B: got %d, want 200", rec.Code)
	}
}

// TestStoreWrongPassword: a store that refuses the password is unreachable: one log
// line, naming the refusal and never the password, and sessions work.
func TestStoreWrongPassword(t *testing.T) {
	tp := newTestProvider(t)
	f := newFakeStore(t, "right-password")
	c := storeConfig(tp, f)
	c.RevocationStore = "redis://:wrong-password@" + f.addr
	m, app := replica(t, c)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.calls == 0 {
		t.Fatalf("signed in with the store refusing: got %d", rec.Code)
	}
	log := m.log.out.(*flowLog)
	waitFor(t, "a log line about the store", func() bool { return strings.Contains(log.String(), "WRONGPASS") })
	if strings.Contains(log.String(), "wrong-password") {
		t.Errorf("a log line shows the store's password:\n%s", log.String())
	}
}

// TestRevocationStoreOption: the options take effect (revocation on without
// backChannelLogoutPath, the password file's password sent), and bad values are
// refused naming the option.
func TestRevocationStoreOption(t *testing.T) {
	tp := newTestProvider(t)
	f := newFakeStore(t, "from-a-file")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("from-a-file\n"), 0o600)
	c := flowConfig(tp)
	c.RevocationStore = "redis://" + f.addr + "/3"
	c.RevocationStorePasswordFile = pwFile
	m, _ := replica(t, c)
	if m.revs == nil {
		t.Fatalf("revocationStore did not turn revocation on")
	}
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	b.get("/sign-out")
	if f.seen("SELECT", "3") == 0 || len(f.keys(storeKeyPrefix)) != 1 {
		t.Errorf("the sign-out reached the store's database 3 with the file's password: SELECT %d, keys %v", f.seen("SELECT", "3"), f.keys(storeKeyPrefix))
	}
	if s := c.redacted(); strings.Contains(s, "from-a-file") {
		t.Errorf("the effective configuration shows the password: %s", s)
	}
	withPassword := flowConfig(tp)
	withPassword.RevocationStore = "rediss://user:hunter2@redis.example:6380/0"
	if s := withPassword.redacted(); strings.Contains(s, "hunter2") || !strings.Contains(s, "redis.example:6380") {
		t.Errorf("the effective configuration: %s", s)
	}

	for _, tc := range []struct{ store, pwFile, caFile, want string }{
		{"http://redis.example", "", "", "revocationStore"},
		{"redis://", "", "", "revocationStore"},
		{"redis:redis.example", "", "", "revocationStore"},
		{"redis://redis.example:0", "", "", "revocationStore"},
		{"redis://redis.example:99999", "", "", "revocationStore"},
		{"redis://redis.example/db", "", "", "revocationStore"},
		{"redis://redis.example?password=x", "", "", "revocationStore"},
		{"redis://:pw@redis.example", pwFile, "", "revocationStorePasswordFile"},
		{"redis://redis.example", filepath.Join(dir, "missing"), "", "revocationStorePasswordFile"},
		{"redis://redis.example", "", pwFile, "revocationStoreCAFile"},
		{"rediss://redis.example", "", pwFile, "revocationStoreCAFile"},
		{"", pwFile, "", "revocationStore"},
	} {
		c := flowConfig(tp)
		c.RevocationStore, c.RevocationStorePasswordFile, c.RevocationStoreCAFile = tc.store, tc.pwFile, tc.caFile
		if _, err := newMiddleware(&flowBackend{}, c, "test"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q %q: got %v, want an error naming %s", tc.store, tc.pwFile, tc.caFile, err, tc.want)
		}
	}
	env := map[string]string{"AGS_CLIENT_REVOCATION_STORE": "rediss://redis.example", "AGS_CLIENT_REVOCATION_STORE_PASSWORD_FILE": pwFile}
	s, err := flowConfig(tp).resolved(func(k string) string { return env[k] }).validate()
	if err != nil || s.store == nil || !s.store.tls || s.store.addr != "redis.example:6379" || s.store.password != "from-a-file" || !s.revocation {
		t.Errorf("from the environment: got %+v, %v", s.store, err)
	}
}

// TestRESPReplies: the reader's bounds and error classes, over replies a server
// could send.
func TestRESPReplies(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
		want        interface{}
		err         error
	}{
		{"status", "+OK\r\n", "OK", nil},
		{"integer", ":42\r\n", int64(42), nil},
		{"bulk", "$3\r\nabc\r\n", "abc", nil},
		{"null bulk", "$-1\r\n", nil, nil},
		{"array", "*2\r\n$1\r\na\r\n:1\r\n", nil, nil},
		{"server error", "-ERR nope\r\n", nil, errStoreRefused},
		{"no CR", "+OK\n", nil, errStoreProtocol},
		{"bad integer", ":4x\r\n", nil, errStoreProtocol},
		{"bulk too long", "$2000000\r\n", nil, errStoreProtocol},
		{"bulk without CRLF", "$3\r\nabcde\r\n", nil, errStoreProtocol},
		{"negative length", "$-2\r\n", nil, errStoreProtocol},
		{"array too long", "*100000\r\n", nil, errStoreProtocol},
		{"arrays too deep", "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", nil, errStoreProtocol},
		{"unknown type", "!3\r\n", nil, errStoreProtocol},
		{"line too long", "+" + strings.Repeat("x", respMaxLine+10) + "\r\n", nil, errStoreProtocol},
	} {
		client, server := net.Pipe()
		go func() {
			server.Write([]byte(tc.reply))
			server.Close()
		}()
		c := &respConn{conn: client, r: bufio.NewReaderSize(client, respMaxLine), w: bufio.NewWriter(client), timeout: time.Second}
		got, err := c.read(0)
		client.Close()
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.err)
		case tc.err == nil && err != nil:
			t.Errorf("%s: got %v", tc.name, err)
		case tc.err == nil && tc.name != "array" && got != tc.want:
			t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
		case tc.name == "array" && len(respArray(got)) != 2:
			t.Errorf("%s: got %#v", tc.name, got)
		}
	}
}

// TestStoreBrokenReplies: a store answering nonsense is unreachable, never a panic or
// a failed request.
func TestStoreBrokenReplies(t *testing.T) {
	for _, reply := range []string{"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$9999999\r\n", "-ERR no\r\n", "!\r\n", "*2\r\n$1\r\n5\r\n:3\r\n"} {
		tp := newTestProvider(t)
		tp.sid = "sid-broken"
		f := newFakeStore(t, "")
		f.mu.Lock()
		f.reply = reply
		f.mu.Unlock()
		m, app := replica(t, storeConfig(tp, f))
		b := newFlowBrowser(t, m)
		b.signIn("/private")
		thief := newFlowBrowser(t, m)
		copyJar(b, thief)
		if rec := b.get("/private"); rec.Code != http.StatusOK || app.calls == 0 {
			t.Errorf("%q: signed in: got %d", reply, rec.Code)
		}
		b.get("/sign-out")
		if rec := thief.get("/private"); rec.Code != http.StatusFound {
			t.Errorf("%q: the revocation did not apply here: %d", reply, rec.Code)
		}
	}
}

// FuzzRESPReply: any bytes from a store are a reply or an error, never a panic,
// and never more than the bounds allow.
func FuzzRESPReply(f *testing.F) {
	for _, seed := range []string{"+OK\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n*1\r\n:2\r\n",
		"-ERR x\r\n", "*3\r\n$7\r\nmessage\r\n$15\r\nags:revocations\r\n$4\r\nx y \r\n", "*-1\r\n", "$99999999999\r\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		go func() {
			server.Write(data)
			server.Close()
		}()
		c := &respConn{conn: client, r: bufio.NewReaderSize(client, respMaxLine), w: bufio.NewWriter(client), timeout: time.Second}
		defer client.Close()
		for i := 0; i < 4; i++ {
			v, err := c.read(0)
			if err != nil {
				return
			}
			if a := respArray(v); len(a) > respMaxArray {
				t.Fatalf("an array of %d elements", len(a))
			}
		}
	})
}
