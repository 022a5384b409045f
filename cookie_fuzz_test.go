package ags

import (
	"errors"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FuzzOpenCookieHeader feeds arbitrary Cookie headers through the signed-in
// path (read the chunks, open them) and the callback's pending-login lookup.
// Nothing may panic, every refusal must mean "no session", and the quick
// read of a lone cookie must never let in what the long way refuses.
// The seeds in testdata hold sessions that open at ckNow with ckSecretA.
func FuzzOpenCookieHeader(f *testing.F) {
	clock := ckNow
	st := ckStore(f, &clock, cookieSettings{})
	f.Add(ckCookie + "=" + ckLive(ckSave(f, st, ckRequest(), ckSession(f, 900)))[0].Value)
	f.Add("a=b; " + ckCookie + "=AQ; " + ckCookie + "_1=x; " + ckCookie + "_login_abcdefghijklmnopqrstuv=x")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "http://app.example.gov/", nil)
		r.Header.Set("Cookie", header)
		value, err := st.sealedValue(r)
		if err == nil {
			var sess *session
			sess, err = st.open(value)
			if err == nil && (sess == nil || sess.Claims == nil) {
				t.Fatalf("open: got %v with no error", sess)
			}
			if err == nil {
				if long, lerr := st.joinChunks(r.Cookies()); lerr != nil || long != value {
					t.Fatalf("quick read opened %q, the long way gives %q, %v", value, long, lerr)
				}
			}
		}
		if err != nil && !errors.Is(err, errNoSession) {
			t.Fatalf("got %v, want errNoSession", err)
		}
		for _, c := range r.Cookies() {
			st.isOwnCookie(c.Name)
			if strings.HasPrefix(c.Name, st.pendingPrefix) {
				p, err := st.takePending(httptest.NewRecorder(), r, c.Name[len(st.pendingPrefix):])
				if err == nil && p == nil || err != nil && !errors.Is(err, errNoPendingLogin) {
					t.Fatalf("takePending: got %v, %v", p, err)
				}
			}
		}
	})
}

// TestFuzzSeedsOpen keeps the seeds meaningful: the sessions and the
// pending login in them must open, or the fuzzer never reaches past the
// authentication check.
func TestFuzzSeedsOpen(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	for _, name := range []string{"session", "chunked", "chunked-reverse", "pending"} {
		name := name
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/fuzz/FuzzOpenCookieHeader/" + name)
			if err != nil {
				t.Fatalf("read seed: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			header, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "string("), ")"))
			if err != nil {
				t.Fatalf("unquote seed: %v", err)
			}
			r := httptest.NewRequest("GET", "http://app.example.gov/", nil)
			r.Header.Set("Cookie", header)
			if name == "pending" {
				c := r.Cookies()[0]
				if _, err := st.takePending(httptest.NewRecorder(), r, c.Name[len(st.pendingPrefix):]); err != nil {
					t.Errorf("got %v, want the pending login", err)
				}
				return
			}
			if _, err := ckOpen(st, r); err != nil {
				t.Errorf("got %v, want the session", err)
			}
		})
	}
}
