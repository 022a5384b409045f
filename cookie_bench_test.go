package ags

import (
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ckSignedInRequest returns a store and a request carrying a session with an
// ID token of about idTokenSize bytes, among other cookies.
func ckSignedInRequest(b *testing.B, idTokenSize int) (*sessionStore, *http.Request) {
	b.Helper()
	clock := ckNow
	st := ckStore(b, &clock, cookieSettings{})
	cookies := []*http.Cookie{{Name: "_ga", Value: "GA1.2.1234567890.1234567890"}, {Name: "ags_client_active", Value: "1"}}
	cookies = append(cookies, ckLive(ckSave(b, st, ckRequest(), ckSession(b, idTokenSize)))...)
	cookies = append(cookies, &http.Cookie{Name: "theme", Value: "dark"})
	return st, ckRequest(cookies...)
}

func BenchmarkSealedValue(b *testing.B) {
	st, r := ckSignedInRequest(b, 900)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.sealedValue(r); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkOpenSession is the cost of a cache miss on the signed-in path:
// read the chunks, open them, decode the session.
func benchmarkOpenSession(b *testing.B, idTokenSize int) {
	st, r := ckSignedInRequest(b, idTokenSize)
	value, _ := st.sealedValue(r)
	b.ReportMetric(float64(len(value)), "cookie-bytes")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := st.sealedValue(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.open(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenSession(b *testing.B)      { benchmarkOpenSession(b, 900) }
func BenchmarkOpenSessionLarge(b *testing.B) { benchmarkOpenSession(b, 8000) }
func BenchmarkSaveSession(b *testing.B)      { benchmarkSaveSession(b, 900) }
func BenchmarkSaveSessionLarge(b *testing.B) { benchmarkSaveSession(b, 8000) }

func benchmarkSaveSession(b *testing.B, idTokenSize int) {
	st, r := ckSignedInRequest(b, idTokenSize)
	sess := ckSession(b, idTokenSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.save(httptest.NewRecorder(), r, sess); err != nil {
			b.Fatal(err)
		}
	}
}

// bnMiss is a middleware and the Cookie header of a browser signed in to it (a
// session with an ID token of about 900 bytes among other cookies), for the cost of
// a request whose session is not cached: the first one on this Traefik, after a
// reload, after eviction.
func bnMiss(b *testing.B) (*middleware, string) {
	b.Helper()
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret = ckIssuer, ckClientID, "bench-client-secret"
	c.SessionSecret = "0123456789abcdef0123456789abcdef-bench-secret"
	c.AuthenticatedPaths = []string{"admin/.*"}
	c.FeatureFlagToggle = "false"
	m, err := newMiddleware(http.NotFoundHandler(), c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	m.setClock(func() time.Time { return ckNow })
	r := ckRequest()
	cookies := []*http.Cookie{{Name: "_ga", Value: "GA1.2.1234567890.1234567890"}}
	sess := ckSession(b, 900)
	sess.View = m.viewBlock(m.newIdentity(sess)) // as the callback saves it
	cookies = append(cookies, ckLive(ckSave(b, m.store, r, sess))...)
	cookies = append(cookies, &http.Cookie{Name: "theme", Value: "dark"})
	return m, ckRequest(cookies...).Header.Get("Cookie")
}

// bnSession is bnMiss's middleware with its header's session opened, which new
// sessions are sealed from, and the header's other cookies (app).
func bnSession(b *testing.B) (m *middleware, plain []byte, app []string, issuedAt, expiry int64) {
	b.Helper()
	m, line := bnMiss(b)
	st := m.store
	sealed, app, ok := loneSession(line, st.name, st.nameEq, st.sepNameEq)
	plain, issuedAt, expiry, err := openWith(st.sealer, st.sessionAD, sealed, ckNow.Unix())
	if !ok || err != nil {
		b.Fatal("no session to copy")
	}
	return m, plain, app, issuedAt, expiry
}

// bnSealed is bnMiss with the header's sealed session value, found the long way.
func bnSealed(b *testing.B) (*middleware, string, string) {
	b.Helper()
	m, line := bnMiss(b)
	sealed, err := m.store.sealedValue(&http.Request{Header: http.Header{"Cookie": {line}}})
	if err != nil {
		b.Fatal(err)
	}
	return m, line, sealed
}

// BenchmarkCacheMiss is what a request whose Cookie header is not cached costs in
// ags before the request path proper: the view of its header, not stored. Its
// session is known after the first iteration (the cache of opened sessions); the
// steps below are those of a session new to the configuration.
func BenchmarkCacheMiss(b *testing.B) {
	m, line := bnMiss(b)
	if v := m.newView(line); v.id == nil {
		b.Fatal("the session did not open")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.newView(line)
	}
}

// BenchmarkCacheMissDecode is the session decoding step of a cache miss alone.
func BenchmarkCacheMissDecode(b *testing.B) {
	m, _, sealed := bnSealed(b)
	plain, _, _, err := openWith(m.store.sealer, m.store.sessionAD, sealed, ckNow.Unix())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(plain)), "plain-bytes")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeSession(plain); err != nil {
			b.Fatal(err)
		}
	}
}

// The steps of a cache miss, one at a time (make bench-steps; bench/README.md): the
// flag, the session value and the app's Cookie header in one pass (or the long way:
// sealedValue, appCookies), opening the sealed value, the identity from the view
// block (or from the claims: newIdentity), storing the view.
func BenchmarkCacheMissStepFlag(b *testing.B) {
	m, line := bnMiss(b)
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		flagFor(m.cfg, r)
	}
}

func BenchmarkCacheMissStepSealedValue(b *testing.B) {
	m, line := bnMiss(b)
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.store.sealedValue(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheMissStepOpen(b *testing.B) {
	m, _, sealed := bnSealed(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := openWith(m.store.sealer, m.store.sessionAD, sealed, ckNow.Unix()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheMissStepIdentity(b *testing.B) {
	m, _, sealed := bnSealed(b)
	sess, err := m.store.open(sealed)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.newIdentity(sess)
	}
}

func BenchmarkCacheMissStepAppCookies(b *testing.B) {
	m, line := bnMiss(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.appCookies(line)
	}
}

func BenchmarkCacheMissStepViewBlock(b *testing.B) {
	m, _, sealed := bnSealed(b)
	plain, _, expiry, err := openWith(m.store.sealer, m.store.sessionAD, sealed, ckNow.Unix())
	if err != nil {
		b.Fatal(err)
	}
	if identityFromBlock(m.viewDigest, plain, expiry) == nil {
		b.Fatal("the session has no view block")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		identityFromBlock(m.viewDigest, plain, expiry)
	}
}

func BenchmarkCacheMissStepStore(b *testing.B) {
	m, line := bnMiss(b)
	v := m.newView(line)
	views := make([]*cookieView, b.N)
	for i := range views {
		w := *v
		w.key = uint64(i)
		views[i] = &w
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		putView(m.views, views[i])
	}
}

func BenchmarkCacheMissStepLoneSession(b *testing.B) {
	m, line := bnMiss(b)
	st := m.store
	if _, _, ok := loneSession(line, st.name, st.nameEq, st.sepNameEq); !ok {
		b.Fatal("the header is not the common case")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		loneSession(line, st.name, st.nameEq, st.sepNameEq)
	}
}

// BenchmarkCacheMissHeader is a request whose Cookie header is new but whose
// session is known (opened for another header): the view made and stored, with
// what serveMiss adds (the lines joined, their digests).
func BenchmarkCacheMissHeader(b *testing.B) {
	m, line := bnMiss(b)
	requests := make([]*http.Request, b.N+1)
	for i := range requests {
		requests[i] = &http.Request{Header: http.Header{"Cookie": {line + "; n=" + strconv.Itoa(i)}}}
	}
	if v := viewOf(m, requests[b.N]); v.id == nil {
		b.Fatal("the session did not open")
	}
	c := m.views
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := requests[i]
		l := strings.Join(r.Header["Cookie"], "; ")
		missedView(m, r, l, maphash.String(c.keySeed, l), maphash.String(c.checkSeed, l))
	}
}

// BenchmarkNewSession is a request whose session is new to this configuration:
// opened, its view made, both stored. The sessions are sealed before the timer
// starts, which bench/callgrind/steps.sh would count: it is not a BenchmarkCacheMiss
// (yaegi test -run XXX -bench NewSession -benchmem . measures it).
func BenchmarkNewSession(b *testing.B) {
	m, plain, app, issuedAt, expiry := bnSession(b)
	st := m.store
	requests := make([]*http.Request, b.N)
	for i := range requests {
		value, err := st.sealer.seal(st.name, plain, time.Unix(issuedAt, 0), time.Unix(expiry, 0))
		if err != nil {
			b.Fatal(err)
		}
		requests[i] = &http.Request{Header: http.Header{"Cookie": {app[0] + "; " + st.name + "=" + value}}}
	}
	c := m.views
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := requests[i]
		l := strings.Join(r.Header["Cookie"], "; ")
		if missedView(m, r, l, maphash.String(c.keySeed, l), maphash.String(c.checkSeed, l)).id == nil {
			b.Fatal("the session did not open")
		}
	}
}
