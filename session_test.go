package ags

import (
	"bytes"
	"compress/flate"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ckSave saves sess with st and returns the recorder.
func ckSave(t testing.TB, st *sessionStore, r *http.Request, sess *session) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := st.save(rec, r, sess); err != nil {
		t.Fatalf("save: %v", err)
	}
	return rec
}

// ckOpen reads and opens the session of r, as the plugin does.
func ckOpen(st *sessionStore, r *http.Request) (*session, error) {
	value, err := st.sealedValue(r)
	if err != nil {
		return nil, err
	}
	return st.open(value)
}

func ckSameSession(t *testing.T, got, want *session) {
	t.Helper()
	if !got.IssuedAt.Equal(want.IssuedAt) || !got.Expiry.Equal(want.Expiry) || !got.AccessExpiry.Equal(want.AccessExpiry) {
		t.Errorf("times: got %v %v %v, want %v %v %v", got.IssuedAt, got.Expiry, got.AccessExpiry, want.IssuedAt, want.Expiry, want.AccessExpiry)
	}
	if got.IDToken != want.IDToken || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken {
		t.Errorf("tokens differ: got %q %q %q", got.IDToken, got.AccessToken, got.RefreshToken)
	}
	if !reflect.DeepEqual(got.Claims, want.Claims) {
		t.Errorf("claims: got %v, want %v", got.Claims, want.Claims)
	}
	if !reflect.DeepEqual(got.UserInfo, want.UserInfo) {
		t.Errorf("userinfo: got %v, want %v", got.UserInfo, want.UserInfo)
	}
}

func TestSessionRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		idToken    int
		wantChunks int // 0: more than one
	}{
		{"typical", 900, 1},
		{"8 KB ID token", 8000, 0},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			clock := ckNow
			st := ckStore(t, &clock, cookieSettings{})
			sess := ckSession(t, tc.idToken)
			sess.RefreshToken = "rt-" + ckRandomB64(t, 32)
			rec := ckSave(t, st, ckRequest(), sess)
			for _, line := range rec.Result().Header["Set-Cookie"] {
				if len(line) >= 4096 {
					t.Errorf("got a Set-Cookie line of %d bytes, want under 4096", len(line))
				}
			}
			live := ckLive(rec)
			if tc.wantChunks != 0 && len(live) != tc.wantChunks {
				t.Errorf("got %d chunks, want %d", len(live), tc.wantChunks)
			}
			if tc.wantChunks == 0 && len(live) < 2 {
				t.Errorf("got %d chunk, want it chunked", len(live))
			}
			// The browser sends the chunks in any order, among others.
			var cookies []*http.Cookie
			cookies = append(cookies, &http.Cookie{Name: "theme", Value: "dark"})
			for i := len(live) - 1; i >= 0; i-- {
				cookies = append(cookies, live[i])
			}
			cookies = append(cookies, &http.Cookie{Name: ckCookie + "_theme", Value: "x"})
			clock = ckNow.Add(time.Hour)
			got, err := ckOpen(st, ckRequest(cookies...))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			ckSameSession(t, got, sess)
		})
	}
}

func TestSessionVariants(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *session)
	}{
		{"claims not the ID token's", func(s *session) { s.Claims = map[string]interface{}{"sub": "someone else"} }},
		{"no ID token", func(s *session) { s.IDToken = "" }},
		{"ID token not a JWS", func(s *session) { s.IDToken = "opaque" }},
		{"no userinfo", func(s *session) { s.UserInfo = nil }},
		{"empty userinfo", func(s *session) { s.UserInfo = map[string]interface{}{} }},
		{"access expiry unknown", func(s *session) { s.AccessExpiry = time.Time{} }},
		{"no tokens but the ID token", func(s *session) { s.AccessToken, s.RefreshToken = "", "" }},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			clock := ckNow
			st := ckStore(t, &clock, cookieSettings{})
			sess := ckSession(t, 900)
			tc.change(sess)
			rec := ckSave(t, st, ckRequest(), sess)
			got, err := ckOpen(st, ckRequest(ckLive(rec)...))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			ckSameSession(t, got, sess)
		})
	}
}

// TestSessionDefaults: a session without times gets now and the lifetime.
func TestSessionDefaults(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	sess := ckSession(t, 900)
	sess.IssuedAt, sess.Expiry = time.Time{}, time.Time{}
	rec := ckSave(t, st, ckRequest(), sess)
	if c := ckSetCookies(rec)[ckCookie]; c == nil || c.MaxAge != int(8*time.Hour/time.Second) {
		t.Errorf("got %v, want Max-Age %d", c, int(8*time.Hour/time.Second))
	}
	got, err := ckOpen(st, ckRequest(ckLive(rec)...))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if !got.IssuedAt.Equal(ckNow) || !got.Expiry.Equal(ckNow.Add(8*time.Hour)) {
		t.Errorf("got %v to %v, want %v to %v", got.IssuedAt, got.Expiry, ckNow, ckNow.Add(8*time.Hour))
	}
}

func TestSessionRejects(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	small := ckLive(ckSave(t, st, ckRequest(), ckSession(t, 900)))
	big := ckLive(ckSave(t, st, ckRequest(), ckSession(t, 8000)))
	other := ckLive(ckSave(t, st, ckRequest(), ckSession(t, 8000)))
	if len(big) < 2 || len(other) < 2 {
		t.Fatalf("got %d and %d chunks, want chunked sessions", len(big), len(other))
	}
	named := func(name, value string) *http.Cookie { return &http.Cookie{Name: name, Value: value} }
	eleven := append([]*http.Cookie(nil), big...)
	for i := len(big); i < maxChunks; i++ {
		eleven = append(eleven, named(st.chunkNames[i], "AAAA"))
	}
	eleven = append(eleven, named(ckCookie+"_10", "AAAA"))
	removed := ckStore(t, &clock, cookieSettings{}, ckSecretB)
	otherSealer, err := newSealer([]string{ckSecretA}, "https://other.example", ckClientID)
	if err != nil {
		t.Fatalf("newSealer: %v", err)
	}
	otherIssuer := newSessionStore(ckCookie, otherSealer, time.Hour, cookieSettings{}, func() time.Time { return clock })

	tests := []struct {
		name    string
		store   *sessionStore
		cookies []*http.Cookie
		now     time.Time
	}{
		{name: "no cookie", cookies: []*http.Cookie{named("theme", "dark")}},
		{name: "11 chunks", cookies: eleven},
		{name: "chunk 10 alone", cookies: append(append([]*http.Cookie(nil), small...), named(ckCookie+"_10", "AAAA"))},
		{name: "chunk spelled _01", cookies: append(append([]*http.Cookie(nil), big[0]), named(ckCookie+"_01", big[1].Value))},
		{name: "a chunk missing", cookies: append([]*http.Cookie{big[0]}, big[2:]...)},
		{name: "first chunk missing", cookies: big[1:]},
		{name: "chunks of two sessions", cookies: append([]*http.Cookie{big[0]}, other[1:]...)},
		{name: "extra chunk", cookies: append(append([]*http.Cookie(nil), small...), big[1])},
		{name: "same chunk twice", cookies: []*http.Cookie{small[0], named(ckCookie, small[0].Value)}},
		{name: "empty chunk", cookies: []*http.Cookie{named(ckCookie, "")}},
		{name: "garbage", cookies: []*http.Cookie{named(ckCookie, "not-a-session")}},
		{name: "expired", cookies: small, now: ckNow.Add(8 * time.Hour)},
		{name: "sealed with a removed secret", store: removed, cookies: small},
		{name: "from another issuer", store: otherIssuer, cookies: small},
		{name: "a pending login's value", cookies: []*http.Cookie{named(ckCookie, ckPendingValue(t, st))}},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			s := st
			if tc.store != nil {
				s = tc.store
			}
			clock = ckNow
			if !tc.now.IsZero() {
				clock = tc.now
			}
			got, err := ckOpen(s, ckRequest(tc.cookies...))
			if !errors.Is(err, errNoSession) {
				t.Errorf("got %v, %v, want errNoSession", got, err)
			}
		})
	}
}

// ckPendingValue returns the value of a pending-login cookie.
func ckPendingValue(t *testing.T, st *sessionStore) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p := &pendingLogin{State: ckRandomB64(t, 16), Nonce: "n", Verifier: "v", ReturnTo: "/"}
	if err := st.savePending(rec, ckRequest(), p); err != nil {
		t.Fatalf("savePending: %v", err)
	}
	return ckLive(rec)[0].Value
}

// TestSaveExpiresStaleChunks: a session that shrinks, or ends, leaves no
// chunk behind.
func TestSaveExpiresStaleChunks(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	big := ckLive(ckSave(t, st, ckRequest(), ckSession(t, 8000)))
	carried := append(append([]*http.Cookie(nil), big...), &http.Cookie{Name: ckCookie + "_12", Value: "A"}, &http.Cookie{Name: "theme", Value: "dark"})

	var wantStale []string
	for _, c := range big[1:] {
		wantStale = append(wantStale, c.Name)
	}
	wantStale = append(wantStale, ckCookie+"_12")

	rec := ckSave(t, st, ckRequest(carried...), ckSession(t, 900))
	if got, want := ckExpired(rec), strings.Join(wantStale, ","); got != want {
		t.Errorf("save: got %q expired, want %q", got, want)
	}
	if got, err := ckOpen(st, ckRequest(ckLive(rec)...)); err != nil || got == nil {
		t.Errorf("open the shrunk session: %v", err)
	}

	rec = httptest.NewRecorder()
	st.clear(rec, ckRequest(carried...))
	if got, want := ckExpired(rec), ckCookie+","+strings.Join(wantStale, ","); got != want {
		t.Errorf("clear: got %q expired, want %q", got, want)
	}
	rec = httptest.NewRecorder()
	st.clear(rec, ckRequest())
	if got, want := ckExpired(rec), ckCookie; got != want {
		t.Errorf("clear with no cookie: got %q expired, want %q", got, want)
	}
}

func TestSaveErrors(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	tooBig := ckSession(t, 900)
	tooBig.AccessToken = ckRandomB64(t, 40000)
	ended := ckSession(t, 900)
	ended.Expiry = ckNow
	for _, sess := range []*session{tooBig, ended} {
		rec := httptest.NewRecorder()
		if err := st.save(rec, ckRequest(), sess); err == nil {
			t.Errorf("got no error, want one")
		}
		if n := len(rec.Result().Cookies()); n != 0 {
			t.Errorf("got %d cookies set, want none", n)
		}
	}
}

// TestSessionSetCookieLine checks the whole attribute line once.
func TestSessionSetCookieLine(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{domain: "example.gov", sameSite: http.SameSiteLaxMode})
	r := ckRequest()
	r.Header.Set("X-Forwarded-Proto", "https")
	line := ckSave(t, st, r, ckSession(t, 900)).Result().Header.Get("Set-Cookie")
	for _, want := range []string{"Path=/", "Domain=example.gov", "Max-Age=28800", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(line, "; "+want) {
			t.Errorf("got %q, want it to hold %q", line, want)
		}
	}
}

func ckDeflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestDecodeSessionStrict(t *testing.T) {
	good, err := encodeSession(&session{Claims: map[string]interface{}{"sub": "x"}, AccessToken: "at"})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	plain := func(flags byte, body string) []byte { return append([]byte{flags}, body...) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"flags only", []byte{0}},
		{"unknown flag", append([]byte{0x80}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing data", append(append([]byte(nil), good...), 'x')},
		{"not an object", plain(0, `[]`)},
		{"null", plain(0, `null`)},
		{"no claims", plain(0, `{"a":"at","u":null}`)},
		{"claims null", plain(0, `{"c":null,"u":null}`)},
		{"claims an array", plain(0, `{"c":[],"u":null}`)},
		{"token not a string", plain(0, `{"c":{},"i":1,"u":null}`)},
		{"access expiry not a number", plain(0, `{"c":{},"ae":"soon","u":null}`)},
		{"userinfo an array", plain(0, `{"c":{},"u":[1]}`)},
		{"claims in ID token but stored too", plain(flagClaimsInIDToken, `{"c":{"a":1},"i":"a.e30.c","u":null}`)},
		{"claims in no ID token", plain(flagClaimsInIDToken, `{"u":null}`)},
		{"claims in a malformed ID token", plain(flagClaimsInIDToken, `{"i":"a.!.c","u":null}`)},
		{"claims in an ID token of two parts", plain(flagClaimsInIDToken, `{"i":"a.e30","u":null}`)},
		{"claims in an ID token that is not an object", plain(flagClaimsInIDToken, `{"i":"a.W10.c","u":null}`)},
		{"deflate garbage", []byte{flagDeflate, 0xff, 0xfe, 0xfd}},
		{"deflate truncated", append([]byte{flagDeflate}, ckDeflate(t, good[1:])[:5]...)},
		{"deflate bomb", append([]byte{flagDeflate}, ckDeflate(t, []byte(`{"c":{},"a":"`+strings.Repeat("A", maxInflated)+`"}`))...)},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSession(tc.b)
			if !errors.Is(err, errNoSession) {
				t.Errorf("got %v, %v, want errNoSession", got, err)
			}
		})
	}
}

// TestSessionEncodingSize pins the encoding decision: a typical session is
// stored plain in one cookie, a large one deflated.
func TestSessionEncodingSize(t *testing.T) {
	tests := []struct {
		name        string
		idToken     int
		wantDeflate bool
	}{
		{"typical", 900, false},
		{"8 KB ID token", 8000, true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			sess := ckSession(t, tc.idToken)
			b, err := encodeSession(sess)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if got := b[0]&flagDeflate != 0; got != tc.wantDeflate {
				t.Errorf("deflated: got %v, want %v", got, tc.wantDeflate)
			}
			if b[0]&flagClaimsInIDToken == 0 {
				t.Errorf("got the claims stored apart from the ID token, want them taken from it")
			}
			t.Logf("ID token %d + access token %d bytes: encoded in %d", len(sess.IDToken), len(sess.AccessToken), len(b))
		})
	}
}

// TestSealedValueShortcut: the quick read of a lone session cookie agrees
// with reading every cookie.
func TestSealedValueShortcut(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	n := ckCookie
	tests := []struct {
		name      string
		lines     []string
		want      string
		wantErr   bool
		wantQuick bool
	}{
		{name: "alone", lines: []string{n + "=v1"}, want: "v1", wantQuick: true},
		{name: "among others", lines: []string{"a=b; " + n + "=v1; c=d"}, want: "v1", wantQuick: true},
		{name: "no space", lines: []string{"a=b;" + n + "=v1;c=d"}, want: "v1"},
		{name: "tab", lines: []string{"a=b;\t" + n + "=v1"}, want: "v1"},
		{name: "space after", lines: []string{"a=b; " + n + "=v1 ; c=d"}, want: "v1"},
		{name: "first", lines: []string{n + "=v1; c=d"}, want: "v1", wantQuick: true},
		{name: "two spaces before", lines: []string{"a=b;  " + n + "=v1"}, want: "v1"},
		{name: "longer name", lines: []string{"x" + n + "=v1"}, wantErr: true},
		{name: "longer name and ours", lines: []string{"x" + n + "=v0; " + n + "=v1"}, want: "v1"},
		{name: "twice", lines: []string{n + "=v1; " + n + "=v2"}, wantErr: true},
		{name: "twice, one spaced", lines: []string{n + " =v1; " + n + "=v2"}, wantErr: true},
		{name: "chunked", lines: []string{n + "=v1; " + n + "_1=v2"}, want: "v1v2"},
		{name: "with a pending login", lines: []string{n + "=v1; " + n + "_login_abcdefghijklmnopqrstuv=p"}, want: "v1"},
		{name: "empty value", lines: []string{n + "="}, wantErr: true},
		{name: "name in a value", lines: []string{"a=" + n + "; " + n + "=v1"}, want: "v1"},
		{name: "two header lines", lines: []string{"a=b", n + "=v1"}, want: "v1"},
		{name: "none", lines: []string{"a=b"}, wantErr: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			r := ckRequest()
			r.Header["Cookie"] = tc.lines
			_, quick := loneChunk(r.Header["Cookie"], st.name, st.nameEq, st.sepNameEq)
			if quick != tc.wantQuick {
				t.Errorf("quick: got %v, want %v", quick, tc.wantQuick)
			}
			got, err := st.sealedValue(r)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %q, %v, want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
			long, longErr := st.joinChunks(r.Cookies())
			if long != got || (longErr == nil) != (err == nil) {
				t.Errorf("the long way: got %q, %v, want %q, %v", long, longErr, got, err)
			}
		})
	}
}

// TestSessionConcurrentOpen: one store serves every request at once (run
// with -race).
func TestSessionConcurrentOpen(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	sess := ckSession(t, 900)
	r := ckRequest(ckLive(ckSave(t, st, ckRequest(), sess))...)
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				_, err = ckOpen(st, r)
			}
			errs <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Errorf("open: %v", err)
		}
	}
}
