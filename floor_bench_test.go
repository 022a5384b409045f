package ags

import (
	"encoding/binary"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// How cheap can a cache miss be under Yaegi? The floor benchmarks do the least a
// miss must: find the session cookie and the app's Cookie header (two Cuts), find
// the opened session (two digests and a load) or open the session (base64,
// AES-GCM, the expiry, the view block's query string), make the view and store it
// under a lock; no flag, no check that the session cookie is alone, no bound on
// memory, no other case. They are no code path of ags: a yardstick for the miss it
// has (BenchmarkMissKnownSession, BenchmarkMissNewSession, the same scope: from the
// joined Cookie line and its digests to the stored view). Count them with
// bench/callgrind/steps.sh NAME...; the new-session ones seal a session per
// iteration, which BenchmarkMissSealOnly counts alone (bench/README.md).

// floorKnown is the least a miss with a session opened before does.
func floorKnown(c *viewCache, line, sepNameEq string, key, check uint64) *cookieView {
	before, rest, _ := strings.Cut(line, sepNameEq)
	value, after, _ := strings.Cut(rest, "; ")
	x, _ := c.opened.m.Load(maphash.String(c.keySeed, value))
	id, _ := x.(*identity)
	if id == nil || id.check != maphash.String(c.checkSeed, value) {
		return nil
	}
	v := &cookieView{key: key, check: check, id: id, signedIn: true, until: id.until, appCookie: []string{before + "; " + after}}
	e := c.entries
	e.mu.Lock()
	e.m.Store(key, v)
	e.mu.Unlock()
	return v
}

// floorNew is the least a miss with a new session does.
func floorNew(c *viewCache, s *sealer, ad []byte, line, sepNameEq string, key, check, now uint64) *cookieView {
	before, rest, _ := strings.Cut(line, sepNameEq)
	value, after, _ := strings.Cut(rest, "; ")
	raw, _ := sealEncoding.DecodeString(value)
	inner, err := s.aeads[0].Open(nil, raw[1:1+sealNonceSize], raw[1+sealNonceSize:], ad)
	if err != nil || binary.BigEndian.Uint64(inner[8:]) <= now {
		return nil
	}
	block := string(inner[sealTimesSize+1+len(viewPrefix):])
	q, _ := url.ParseQuery(block[:strings.IndexByte(block, '"')])
	i, hs := q["i"], q["h"]
	id := &identity{sub: i[1], name: i[2], headers: []headerValue{{name: hs[0], value: hs[1:2]}}}
	v := &cookieView{key: key, check: check, id: id, signedIn: true, appCookie: []string{before + "; " + after}}
	e := c.entries
	e.mu.Lock()
	e.m.Store(key, v)
	e.mu.Unlock()
	return v
}

// missLines is bnMiss with n Cookie lines and their requests, each with an app
// cookie of its own, and with the session opened once (for the known-session
// benchmarks; made before the timer, but counted by callgrind in both alike).
func missLines(b *testing.B, n int) (*middleware, []string, []*http.Request) {
	m, line := bnMiss(b)
	viewOf(m, &http.Request{Header: http.Header{"Cookie": {line}}})
	lines := make([]string, n)
	requests := make([]*http.Request, n)
	for i := range lines {
		lines[i] = line + "; n=" + strconv.Itoa(i)
		requests[i] = &http.Request{Header: http.Header{"Cookie": {lines[i]}}}
	}
	return m, lines, requests
}

func BenchmarkMissFloorKnownSession(b *testing.B) {
	m, lines, _ := missLines(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if floorKnown(m.views, lines[i], m.store.sepNameEq, uint64(i), 1) == nil {
			b.Fatal("the session is not kept")
		}
	}
}

func BenchmarkMissKnownSession(b *testing.B) {
	m, lines, requests := missLines(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if missedView(m, requests[i], lines[i], uint64(i), 1).id == nil {
			b.Fatal("the session did not open")
		}
	}
}

// newSession seals the session of bnMiss's header anew, as a new sign-in would:
// another value, which no cache holds.
func newSession(b *testing.B, m *middleware, plain []byte, app string, issuedAt, expiry int64) string {
	st := m.store
	value, err := st.sealer.seal(st.name, plain, time.Unix(issuedAt, 0), time.Unix(expiry, 0))
	if err != nil {
		b.Fatal(err)
	}
	return app + "; " + st.name + "=" + value + "; theme=dark"
}

func benchmarkMissNew(b *testing.B, miss func(m *middleware, line string, i int) bool) {
	m, plain, app, issuedAt, expiry := bnSession(b)
	first, _, _ := strings.Cut(app[0], ";")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !miss(m, newSession(b, m, plain, first, issuedAt, expiry), i) {
			b.Fatal("the session did not open")
		}
	}
}

func BenchmarkMissSealOnly(b *testing.B) {
	benchmarkMissNew(b, func(*middleware, string, int) bool { return true })
}

func BenchmarkMissFloorNewSession(b *testing.B) {
	benchmarkMissNew(b, func(m *middleware, line string, i int) bool {
		st := m.store
		return floorNew(m.views, st.sealer, st.sessionAD, line, st.sepNameEq, uint64(i), 1, uint64(ckNow.Unix())) != nil
	})
}

func BenchmarkMissNewSession(b *testing.B) {
	benchmarkMissNew(b, func(m *middleware, line string, i int) bool {
		r := &http.Request{Header: http.Header{"Cookie": {line}}}
		return missedView(m, r, line, uint64(i), 1).id != nil
	})
}
