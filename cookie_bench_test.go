package ags

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
