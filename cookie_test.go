package ags

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSealerRoundTrip(t *testing.T) {
	s := ckSealer(t, ckSecretA)
	tests := []struct {
		name      string
		plaintext string
	}{
		{"empty", ""},
		{"small", "hello, session"},
		{"binary", "\x00\xff\x01\n;,\""},
		{"large", strings.Repeat("0123456789", 2000)},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			issuedAt, expiry := ckNow.Add(-time.Minute), ckNow.Add(time.Hour)
			value, err := s.seal("c", []byte(tc.plaintext), issuedAt, expiry)
			if err != nil {
				t.Fatalf("seal: %v", err)
			}
			if strings.Trim(value, base64URLAlphabet) != "" {
				t.Errorf("got %q, want base64url only", value)
			}
			got, gotIssued, gotExpiry, err := openWith(s, s.additionalData("c"), value, ckNow.Unix())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if string(got) != tc.plaintext {
				t.Errorf("got %q, want %q", got, tc.plaintext)
			}
			if gotIssued != issuedAt.Unix() || gotExpiry != expiry.Unix() {
				t.Errorf("got times %d, %d, want %d, %d", gotIssued, gotExpiry, issuedAt.Unix(), expiry.Unix())
			}
		})
	}
}

func TestSealerFreshNonce(t *testing.T) {
	s := ckSealer(t, ckSecretA)
	a, _ := s.seal("c", []byte("same"), ckNow, ckNow.Add(time.Hour))
	b, _ := s.seal("c", []byte("same"), ckNow, ckNow.Add(time.Hour))
	if a == b || a[:17] == b[:17] {
		t.Errorf("got %q twice, want a fresh nonce per value", a)
	}
}

// ckFlipEach returns value with each byte of its decoded form changed in
// turn, and with each of its characters changed in turn.
func ckFlipEach(value string) []string {
	raw, _ := sealEncoding.DecodeString(value)
	var out []string
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		out = append(out, sealEncoding.EncodeToString(b))
	}
	for i := 0; i < len(value); i++ {
		c := byte('A')
		if value[i] == 'A' {
			c = 'B'
		}
		out = append(out, value[:i]+string(c)+value[i+1:])
	}
	return out
}

func TestSealerRejects(t *testing.T) {
	s := ckSealer(t, ckSecretA)
	good, err := s.seal("c", []byte("a small session"), ckNow, ckNow.Add(time.Hour))
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	raw, _ := sealEncoding.DecodeString(good)
	reseal := func(t *testing.T, secrets []string, issuer, clientID, name string, issuedAt, expiry time.Time) string {
		t.Helper()
		other, err := newSealer(secrets, issuer, clientID)
		if err != nil {
			t.Fatalf("newSealer: %v", err)
		}
		v, err := other.seal(name, []byte("a small session"), issuedAt, expiry)
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		return v
	}
	exp := ckNow.Add(time.Hour)
	tests := []struct {
		name   string
		values func(t *testing.T) []string
		now    time.Time
	}{
		{"every byte flipped", func(t *testing.T) []string { return ckFlipEach(good) }, ckNow},
		{"truncated", func(t *testing.T) []string {
			return []string{good[:len(good)-1], good[:len(good)-4], good[:20], good[:1]}
		}, ckNow},
		{"extended", func(t *testing.T) []string { return []string{good + "A", good + "AAAA"} }, ckNow},
		{"empty", func(t *testing.T) []string { return []string{""} }, ckNow},
		{"not base64url", func(t *testing.T) []string {
			return []string{"!" + good[1:], strings.Replace(good, good[5:6], "+", 1), good + "=="}
		}, ckNow},
		{"line break inside", func(t *testing.T) []string {
			return []string{good[:10] + "\n" + good[10:], good[:10] + "\r" + good[10:]}
		}, ckNow},
		{"wrong version", func(t *testing.T) []string {
			var out []string
			for _, v := range []byte{0, 2, 0xff} {
				b := append([]byte(nil), raw...)
				b[0] = v
				out = append(out, sealEncoding.EncodeToString(b))
			}
			return out
		}, ckNow},
		{"oversized", func(t *testing.T) []string { return []string{strings.Repeat("A", maxSealedLen+4)} }, ckNow},
		{"under another cookie name", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretA}, ckIssuer, ckClientID, "c_1", ckNow, exp),
				reseal(t, []string{ckSecretA}, ckIssuer, ckClientID, "C", ckNow, exp)}
		}, ckNow},
		{"from another issuer", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretA}, ckIssuer+"/", ckClientID, "c", ckNow, exp)}
		}, ckNow},
		{"from another client ID", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretA}, ckIssuer, ckClientID+"x", "c", ckNow, exp)}
		}, ckNow},
		{"issuer and client ID shifted", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretA}, ckIssuer+ckClientID[:3], ckClientID[3:], "c", ckNow, exp)}
		}, ckNow},
		{"expired", func(t *testing.T) []string { return []string{good} }, exp},
		{"long expired", func(t *testing.T) []string { return []string{good} }, exp.Add(24 * time.Hour)},
		{"issued in the future", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretA}, ckIssuer, ckClientID, "c", ckNow.Add(2*time.Minute), exp)}
		}, ckNow},
		{"sealed with a removed secret", func(t *testing.T) []string {
			return []string{reseal(t, []string{ckSecretB}, ckIssuer, ckClientID, "c", ckNow, exp)}
		}, ckNow},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			for i, v := range tc.values(t) {
				got, err := s.open("c", v, tc.now)
				if !errors.Is(err, errNoSession) {
					t.Fatalf("value %d: got %q, %v, want errNoSession", i, got, err)
				}
			}
		})
	}
	// Within the minute of allowed clock difference, a value opens.
	v := reseal(t, []string{ckSecretA}, ckIssuer, ckClientID, "c", ckNow.Add(30*time.Second), exp)
	if _, err := s.open("c", v, ckNow); err != nil {
		t.Errorf("issued 30 s ahead: got %v, want it to open", err)
	}
}

// TestSealerRotation: the first secret seals, every listed one opens.
func TestSealerRotation(t *testing.T) {
	old := ckSealer(t, ckSecretA)
	rotated := ckSealer(t, ckSecretB, ckSecretA)
	newOnly := ckSealer(t, ckSecretB)
	exp := ckNow.Add(time.Hour)

	sealedOld, _ := old.seal("c", []byte("old"), ckNow, exp)
	if got, err := rotated.open("c", sealedOld, ckNow); err != nil || string(got) != "old" {
		t.Errorf("old value, old secret listed second: got %q, %v, want %q", got, err, "old")
	}
	if _, err := newOnly.open("c", sealedOld, ckNow); !errors.Is(err, errNoSession) {
		t.Errorf("old value, old secret removed: got %v, want errNoSession", err)
	}
	sealedNow, _ := rotated.seal("c", []byte("new"), ckNow, exp)
	if got, err := newOnly.open("c", sealedNow, ckNow); err != nil || string(got) != "new" {
		t.Errorf("new value, first secret only: got %q, %v, want %q", got, err, "new")
	}
	if _, err := old.open("c", sealedNow, ckNow); !errors.Is(err, errNoSession) {
		t.Errorf("new value, old secret only: got %v, want errNoSession (not sealed with the first)", err)
	}
}

func TestNewSealerErrors(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"31 bytes", []string{strings.Repeat("s", 31)}},
		{"empty", []string{""}},
		{"second too short", []string{ckSecretA, "short"}},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if s, err := newSealer(tc.secrets, ckIssuer, ckClientID); err == nil {
				t.Errorf("got %v, want an error", s)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name         string
		settings     cookieSettings
		tls          bool
		proto        string
		wantSecure   bool
		wantSameSite http.SameSite
	}{
		{name: "plain http", wantSameSite: http.SameSiteLaxMode},
		{name: "tls", tls: true, wantSecure: true, wantSameSite: http.SameSiteLaxMode},
		{name: "forwarded https", proto: "https", wantSecure: true, wantSameSite: http.SameSiteLaxMode},
		{name: "forwarded HTTPS list", proto: "HTTPS, http", wantSecure: true, wantSameSite: http.SameSiteLaxMode},
		{name: "forwarded http first", proto: "http, https", wantSameSite: http.SameSiteLaxMode},
		{name: "forced on", settings: cookieSettings{secure: "true"}, wantSecure: true, wantSameSite: http.SameSiteLaxMode},
		{name: "forced off", settings: cookieSettings{secure: "false"}, tls: true, proto: "https", wantSameSite: http.SameSiteLaxMode},
		{name: "strict", settings: cookieSettings{sameSite: http.SameSiteStrictMode}, wantSameSite: http.SameSiteStrictMode},
		{name: "none forces secure", settings: cookieSettings{secure: "false", sameSite: http.SameSiteNoneMode}, wantSecure: true, wantSameSite: http.SameSiteNoneMode},
		{name: "domain", settings: cookieSettings{domain: "example.gov", sameSite: http.SameSiteLaxMode}, wantSameSite: http.SameSiteLaxMode},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			r := ckRequest()
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			c := tc.settings.cookie(r, "n", "v", 60, tc.settings.sameSite)
			if c.Secure != tc.wantSecure {
				t.Errorf("Secure: got %v, want %v", c.Secure, tc.wantSecure)
			}
			if c.SameSite != tc.wantSameSite {
				t.Errorf("SameSite: got %v, want %v", c.SameSite, tc.wantSameSite)
			}
			if !c.HttpOnly || c.Path != "/" || c.Domain != tc.settings.domain {
				t.Errorf("got HttpOnly %v, Path %q, Domain %q, want true, %q, %q", c.HttpOnly, c.Path, c.Domain, "/", tc.settings.domain)
			}
		})
	}
}

func TestIsOwnCookie(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	tests := []struct {
		name string
		want bool
	}{
		{ckCookie, true},
		{ckCookie + "_1", true},
		{ckCookie + "_9", true},
		{ckCookie + "_10", true},
		{ckCookie + "_login_abcdefghijklmnopqrstuv", true},
		{ckCookie + "_signout", true},
		{ckCookie + "_theme", false},
		{ckCookie + "_", false},
		{ckCookie + "x", false},
		{"ags_client_active", false},
		{"x" + ckCookie, false},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if got := st.isOwnCookie(tc.name); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// normalCookies is a Cookie header's cookies, trimmed, empty ones dropped: what a
// server reads of it.
func normalCookies(lines []string) string {
	var out []string
	for _, line := range lines {
		for _, c := range strings.Split(line, ";") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return strings.Join(out, "; ")
}

// checkLoneSession: whenever loneSession takes a Cookie header, it finds what
// sealedValue and appCookies find the long way: the same session value, and the
// same cookies for the app.
func checkLoneSession(t *testing.T, m *middleware, line string) {
	t.Helper()
	st := m.store
	value, app, ok := loneSession(line, st.name, st.nameEq, st.sepNameEq)
	if !ok {
		return
	}
	long, err := st.sealedValue(&http.Request{Header: http.Header{"Cookie": {line}}})
	if err != nil || long != value {
		t.Errorf("%q: loneSession found %q, sealedValue %q (%v)", line, value, long, err)
	}
	wantApp, own := m.appCookies(line)
	if !own || normalCookies(app) != normalCookies(wantApp) {
		t.Errorf("%q: the app gets %q, the long way %q (own cookies: %v)", line, app, wantApp, own)
	}
}

func TestLoneSessionAgreesWithTheLongWay(t *testing.T) {
	m := cacheMiddleware(t, "")
	for _, line := range []string{
		"ags_client_session=abc", "ags_client_session=abc; theme=dark", "_ga=1; ags_client_session=abc",
		"_ga=1; ags_client_session=abc; theme=dark", "_ga=1;ags_client_session=abc;theme=dark",
		"_ga=1; ags_client_session=abc; ", " ags_client_session=abc", "a=1;  ags_client_session=abc;  b=2",
		"ags_client_session=", "ags_client_session=abc ; b=2", "x=ags_client_session=abc", "my_ags_client_session=abc",
		"ags_client_session=abc; ags_client_session=def", "ags_client_session_1=abc; ags_client_session=def",
		"ags_client_session=abc; ags_client_session_login_x=1", "a=1;;ags_client_session=abc;;b=2",
		"ags_client_active=1; ags_client_session=abc", "ags_client_session=abc; ags_client_active=0",
		"a=; ags_client_session=abc; =b", "",
	} {
		checkLoneSession(t, m, line)
	}
}
