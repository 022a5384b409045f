package ags

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// atkSealFor returns a session cookie value sealed with the test secret for another
// deployment's issuer and client (or this one's, for the control case).
func atkSealFor(t *testing.T, issuer, clientID string) string {
	t.Helper()
	s, err := newSealer([]string{tpSessionKey}, issuer, clientID)
	if err != nil {
		t.Fatal(err)
	}
	st := newSessionStore("ags_client_session", s, time.Hour, cookieSettings{}, time.Now)
	rec := httptest.NewRecorder()
	sess := &session{Claims: map[string]interface{}{"sub": "mallory"}, Expiry: time.Now().Add(time.Hour)}
	if err := st.save(rec, httptest.NewRequest(http.MethodGet, "http://app.example/", nil), sess); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0].Value
}

// TestAttackCookies: session cookies that are oversized, too many, wrongly encoded,
// tampered with or sealed elsewhere mean "signed out", and quickly: a protected page
// starts a login, an open page carries no identity.
func TestAttackCookies(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	valid := b.jar["ags_client_session"]
	if valid == "" || len(valid) < 40 {
		t.Fatalf("no session after sign-in: %v", b.jar)
	}
	pending := newFlowBrowser(t, m)
	pending.get("/private")
	var pendingValue string
	for name, value := range pending.jar {
		if strings.Contains(name, "_login_") {
			pendingValue = value
		}
	}
	out := newFlowBrowser(t, m)
	out.signIn("/private")
	out.get("/sign-out")
	signOutValue := out.jar["ags_client_session_signout"]
	if pendingValue == "" || signOutValue == "" {
		t.Fatalf("no pending login or sign-out state cookie: %v, %v", pending.jar, out.jar)
	}
	// Ten chunks of the largest size, right version byte, random otherwise: the
	// most work a forged header can ask for.
	raw := make([]byte, maxChunks*chunkSize*3/4)
	rand.Read(raw)
	raw[0] = sealVersion
	forged := sealEncoding.EncodeToString(raw)
	var ten []string
	for i := 0; i < maxChunks; i++ {
		ten = append(ten, atkChunk(i)+"="+forged[i*chunkSize:(i+1)*chunkSize])
	}
	var thousand []string
	for i := 1; i <= 1000; i++ {
		thousand = append(thousand, atkChunk(i)+"=AAAA")
	}
	changed := []byte(valid)
	if changed[len(changed)/2] == 'A' {
		changed[len(changed)/2] = 'B'
	} else {
		changed[len(changed)/2] = 'A'
	}
	cases := []struct {
		name, cookie string
		user         string // "": signed out
	}{
		{name: "control: the session", cookie: "ags_client_session=" + valid, user: "user-42"},
		{name: "control: sealed for this deployment by another hand", cookie: "ags_client_session=" + atkSealFor(t, tp.issuer, tpClientID), user: "mallory"},
		{name: "oversized", cookie: "ags_client_session=" + strings.Repeat("A", 100000)},
		{name: "ten forged chunks", cookie: strings.Join(ten, "; ")},
		{name: "eleven chunks", cookie: strings.Join(ten, "; ") + "; " + atkChunk(10) + "=AAAA"},
		{name: "a huge chunk number", cookie: "ags_client_session=" + valid + "; " + atkChunk(99999999) + "=AAAA"},
		{name: "a thousand chunks", cookie: "ags_client_session=" + valid + "; " + strings.Join(thousand, "; ")},
		{name: "standard base64 with padding", cookie: "ags_client_session=" + strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "=="},
		{name: "not base64", cookie: "ags_client_session=%%%%!!!!~~~~"},
		{name: "non-ASCII", cookie: "ags_client_session=" + valid[:20] + "é" + valid[20:]},
		{name: "one character changed", cookie: "ags_client_session=" + string(changed)},
		{name: "truncated", cookie: "ags_client_session=" + valid[:len(valid)/2]},
		{name: "empty", cookie: "ags_client_session="},
		{name: "the same name twice", cookie: "ags_client_session=" + valid + "; ags_client_session=" + atkSealFor(t, tp.issuer, tpClientID)},
		{name: "sealed for another issuer", cookie: "ags_client_session=" + atkSealFor(t, "https://other.example", tpClientID)},
		{name: "sealed for another client", cookie: "ags_client_session=" + atkSealFor(t, tp.issuer, "another-client")},
		{name: "a pending login's value", cookie: "ags_client_session=" + pendingValue},
		{name: "the sign-out state's value", cookie: "ags_client_session=" + signOutValue},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			// Each try differs, so that no cache answers for the header.
			fastest := time.Hour
			for i := 0; i < 3; i++ {
				rec := httptest.NewRecorder()
				r := atkRequest(http.MethodGet, "/public", tc.cookie+"; try="+strconv.Itoa(i)+tc.name)
				start := time.Now()
				m.ServeHTTP(rec, r)
				if d := time.Since(start); d < fastest {
					fastest = d
				}
				if rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != tc.user {
					t.Fatalf("open page: got %d with user %q, want %q", rec.Code, app.last.Header.Get(headerUser), tc.user)
				}
			}
			if fastest > 50*time.Millisecond {
				t.Errorf("took %s, want under 50ms", fastest)
			}
			calls := app.calls
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, atkRequest(http.MethodGet, "/private", tc.cookie))
			if tc.user == "" && (rec.Code != http.StatusFound || app.calls != calls) {
				t.Errorf("protected page: got %d, want a login", rec.Code)
			}
		})
	}
}

// atkChunk names session chunk i.
func atkChunk(i int) string {
	if i == 0 {
		return "ags_client_session"
	}
	return "ags_client_session_" + strconv.Itoa(i)
}

// TestAttackCookieHeaderFlood: a Cookie header of 1 MB (Traefik's default limit for
// the headers) made of 100,000 small cookies, one of them ags's, costs about what
// parsing it once costs. Work per cookie in interpreted code would make each such
// request cost most of a second of CPU under Yaegi.
func TestAttackCookieHeaderFlood(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	var b strings.Builder
	for i := 0; i < 100000; i++ {
		b.WriteString("c" + strconv.Itoa(i) + "=1; ")
	}
	flood := b.String()
	parse, serve := time.Hour, time.Hour
	for i := 0; i < 3; i++ {
		r := atkRequest(http.MethodGet, "/public", flood+"ags_client_session=AAAA; try="+strconv.Itoa(i))
		start := time.Now()
		r.Cookies()
		if d := time.Since(start); d < parse {
			parse = d
		}
		rec := httptest.NewRecorder()
		start = time.Now()
		m.ServeHTTP(rec, r)
		if d := time.Since(start); d < serve {
			serve = d
		}
		if rec.Code != http.StatusOK || app.last.Header.Get(headerUser) != "" {
			t.Fatalf("got %d with user %q, want the open page signed out", rec.Code, app.last.Header.Get(headerUser))
		}
	}
	if serve > 4*parse+50*time.Millisecond {
		t.Errorf("a 1 MB Cookie header of 100,000 cookies took %s, parsing it once %s: want at most 4 times that and 50ms", serve, parse)
	}
}

// TestAttackCookieCacheMemory: distinct large Cookie headers, one after the other,
// do not pile up in memory. (A cache of what a Cookie header means, keyed by the
// whole header, once held every one: 1,024 headers of 1 MB each would hold a GB.)
func TestAttackCookieCacheMemory(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	pad := strings.Repeat("p", 256<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 300; i++ {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, atkRequest(http.MethodGet, "/public", "ags_client_session=AAAA; pad="+pad+strconv.Itoa(i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Errorf("300 Cookie headers of 256 KB left the heap %d MB larger, want under 16 MB", grown>>20)
	}
}
