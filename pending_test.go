package ags

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// ckPending returns a pending login with a fresh state.
func ckPending(t testing.TB, returnTo string) *pendingLogin {
	t.Helper()
	return &pendingLogin{State: ckRandomB64(t, 16), Nonce: ckRandomB64(t, 16), Verifier: ckRandomB64(t, 32), ReturnTo: returnTo}
}

// ckSavePending saves p in answer to a request carrying cookies, and
// returns the cookies the browser then has.
func ckSavePending(t testing.TB, st *sessionStore, p *pendingLogin, cookies []*http.Cookie) (*httptest.ResponseRecorder, []*http.Cookie) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := st.savePending(rec, ckRequest(cookies...), p); err != nil {
		t.Fatalf("savePending: %v", err)
	}
	kept := make(map[string]*http.Cookie)
	var order []string
	for _, c := range cookies {
		kept[c.Name] = c
		order = append(order, c.Name)
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(kept, c.Name)
			continue
		}
		if kept[c.Name] == nil {
			order = append(order, c.Name)
		}
		kept[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
	var out []*http.Cookie
	for _, n := range order {
		if kept[n] != nil {
			out = append(out, kept[n])
		}
	}
	return rec, out
}

// TestPendingTabs: two tabs sign in at once; each finishes its own login.
func TestPendingTabs(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{sameSite: http.SameSiteStrictMode})
	a, b := ckPending(t, "/admin/a?x=1"), ckPending(t, "/admin/b")
	rec, jar := ckSavePending(t, st, a, nil)
	c := ckSetCookies(rec)[ckCookie+"_login_"+a.State]
	if c == nil || c.MaxAge != 600 || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("got %+v, want a Lax HttpOnly cookie for 600 s", c)
	}
	_, jar = ckSavePending(t, st, b, jar)
	if len(jar) != 2 {
		t.Fatalf("got %d cookies, want 2", len(jar))
	}
	clock = ckNow.Add(5 * time.Minute)
	for _, want := range []*pendingLogin{b, a} {
		rec := httptest.NewRecorder()
		got, err := st.takePending(rec, ckRequest(jar...), want.State)
		if err != nil {
			t.Fatalf("takePending: %v", err)
		}
		if *got != *want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		if got, wantName := ckExpired(rec), ckCookie+"_login_"+want.State; got != wantName {
			t.Errorf("got %q expired, want %q", got, wantName)
		}
	}
}

func TestPendingRejects(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	a, b := ckPending(t, "/a"), ckPending(t, "/b")
	_, jar := ckSavePending(t, st, a, nil)
	_, jar = ckSavePending(t, st, b, jar)
	aName, bName := ckCookie+"_login_"+a.State, ckCookie+"_login_"+b.State
	value := func(name string) string {
		for _, c := range jar {
			if c.Name == name {
				return c.Value
			}
		}
		t.Fatalf("no cookie %s", name)
		return ""
	}
	other := ckStore(t, &clock, cookieSettings{}, ckSecretB)
	tests := []struct {
		name    string
		store   *sessionStore
		cookies []*http.Cookie
		state   string
		now     time.Time
	}{
		{name: "unknown state", cookies: jar, state: ckRandomB64(t, 16)},
		{name: "no cookies", state: a.State},
		{name: "empty state", cookies: jar, state: ""},
		{name: "short state", cookies: []*http.Cookie{{Name: ckCookie + "_login_abc", Value: value(aName)}}, state: "abc"},
		{name: "state with a separator", cookies: jar, state: a.State + ";x"},
		{name: "state with a line break", cookies: jar, state: a.State + "\n"},
		{name: "state too long", cookies: jar, state: strings.Repeat("A", maxStateLen+1)},
		{name: "expired", cookies: jar, state: a.State, now: ckNow.Add(pendingLifetime)},
		{name: "value moved to another state", cookies: []*http.Cookie{{Name: bName, Value: value(aName)}}, state: b.State},
		{name: "tampered", cookies: []*http.Cookie{{Name: aName, Value: "B" + value(aName)[1:]}}, state: a.State},
		{name: "sealed with another secret", store: other, cookies: jar, state: a.State},
		{name: "a session value", cookies: []*http.Cookie{{Name: aName, Value: ckLive(ckSave(t, st, ckRequest(), ckSession(t, 900)))[0].Value}}, state: a.State},
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
			got, err := s.takePending(httptest.NewRecorder(), ckRequest(tc.cookies...), tc.state)
			if !errors.Is(err, errNoPendingLogin) {
				t.Errorf("got %+v, %v, want errNoPendingLogin", got, err)
			}
		})
	}
}

// TestPendingCap: at most maxPending logins in flight; the oldest, and
// any that do not open, make room.
func TestPendingCap(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	var jar []*http.Cookie
	var states []string
	for i := 0; i < maxPending; i++ {
		clock = ckNow.Add(time.Duration(i) * time.Minute)
		p := ckPending(t, "/")
		states = append(states, p.State)
		_, jar = ckSavePending(t, st, p, jar)
	}
	if len(jar) != maxPending {
		t.Fatalf("got %d cookies, want %d", len(jar), maxPending)
	}
	// The browser sends them newest first, with a broken one.
	var sent []*http.Cookie
	for i := len(jar) - 1; i >= 0; i-- {
		sent = append(sent, jar[i])
	}
	broken := ckCookie + "_login_" + strings.Repeat("B", 22)
	sent = append(sent, &http.Cookie{Name: broken, Value: "junk"})
	clock = ckNow.Add(maxPending * time.Minute)
	rec, jar := ckSavePending(t, st, ckPending(t, "/"), sent)
	if got, want := ckExpired(rec), ckCookie+"_login_"+states[0]+","+broken; !ckSameNames(got, want) {
		t.Errorf("got %q expired, want %q", got, want)
	}
	if len(jar) != maxPending {
		t.Errorf("got %d cookies, want %d", len(jar), maxPending)
	}
}

// ckSameNames compares comma-separated name lists, in any order.
func ckSameNames(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	if len(as) != len(bs) {
		return false
	}
	seen := make(map[string]int)
	for _, n := range as {
		seen[n]++
	}
	for _, n := range bs {
		seen[n]--
		if seen[n] < 0 {
			return false
		}
	}
	return true
}

func TestSavePendingRejectsBadState(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	for _, state := range []string{"", "short", "has space in it 0123456789", strings.Repeat("A", maxStateLen+1)} {
		rec := httptest.NewRecorder()
		if err := st.savePending(rec, ckRequest(), &pendingLogin{State: state}); err == nil {
			t.Errorf("state %q: got no error, want one", state)
		}
		if n := len(rec.Result().Cookies()); n != 0 {
			t.Errorf("state %q: got %d cookies, want none", state, n)
		}
	}
}

func TestSignOutState(t *testing.T) {
	clock := ckNow
	st := ckStore(t, &clock, cookieSettings{})
	state := ckRandomB64(t, 16)
	rec := httptest.NewRecorder()
	if err := st.saveSignOutState(rec, ckRequest(), state, ""); err != nil {
		t.Fatalf("saveSignOutState: %v", err)
	}
	jar := ckLive(rec)
	if len(jar) != 1 || jar[0].Name != ckCookie+"_signout" {
		t.Fatalf("got %v, want one %s cookie", jar, ckCookie+"_signout")
	}
	tests := []struct {
		name    string
		cookies []*http.Cookie
		state   string
		now     time.Time
		wantErr bool
	}{
		{name: "matches", cookies: jar, state: state},
		{name: "other state", cookies: jar, state: ckRandomB64(t, 16), wantErr: true},
		{name: "empty state", cookies: jar, state: "", wantErr: true},
		{name: "no cookie", state: state, wantErr: true},
		{name: "expired", cookies: jar, state: state, now: ckNow.Add(pendingLifetime), wantErr: true},
		{name: "tampered", cookies: []*http.Cookie{{Name: jar[0].Name, Value: "B" + jar[0].Value[1:]}}, state: state, wantErr: true},
		{name: "pending-login value", cookies: []*http.Cookie{{Name: jar[0].Name, Value: ckPendingValue(t, st)}}, state: state, wantErr: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			clock = ckNow
			if !tc.now.IsZero() {
				clock = tc.now
			}
			rec := httptest.NewRecorder()
			_, err := st.takeSignOutState(rec, ckRequest(tc.cookies...), tc.state)
			if tc.wantErr && !errors.Is(err, errStateMismatch) {
				t.Errorf("got %v, want errStateMismatch", err)
			}
			if !tc.wantErr && err != nil {
				t.Errorf("got %v, want no error", err)
			}
			if len(tc.cookies) > 0 && ckExpired(rec) != jar[0].Name {
				t.Errorf("got %q expired, want %q", ckExpired(rec), jar[0].Name)
			}
		})
	}
}

// TestDeepLinkFitsACookie: a protected URL whose query (or path) would make the
// pending-login cookie larger than a browser keeps still signs in: the query is
// dropped (then the path), and every cookie ags sets stays under 4,096 bytes.
func TestDeepLinkFitsACookie(t *testing.T) {
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	for _, tc := range []struct{ name, target, want string }{
		{"short query kept", "/private?q=" + strings.Repeat("a", 100), "/private?q=" + strings.Repeat("a", 100)},
		{"long query dropped", "/private?q=" + strings.Repeat("a", 6000), "/private"},
		{"long path", "/admin/" + strings.Repeat("p", 6000), "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFlowBrowser(t, m)
			start := b.get(tc.target)
			for _, line := range start.Header().Values("Set-Cookie") {
				if len(line) >= 4096 {
					t.Errorf("a Set-Cookie line of %d bytes: browsers drop it", len(line))
				}
			}
			done := b.get(b.authorize(start))
			if done.Code != http.StatusFound || done.Header().Get("Location") != tc.want {
				t.Fatalf("callback: got %d to %.80q, want 302 to %.80q", done.Code, done.Header().Get("Location"), tc.want)
			}
			for _, line := range done.Header().Values("Set-Cookie") {
				if len(line) >= 4096 {
					t.Errorf("a Set-Cookie line of %d bytes after sign-in", len(line))
				}
			}
			calls := app.calls
			if rec := b.get(tc.want); rec.Code != http.StatusOK || app.calls != calls+1 {
				t.Errorf("after sign-in: got %d, want the app", rec.Code)
			}
		})
	}
}
