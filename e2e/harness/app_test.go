package harness

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The app says who is signed in only when ags passed an identity on; with ags off for
// the browser, a protected page says so instead of claiming a sign-in.
func TestAppSaysWhetherSignedIn(t *testing.T) {
	tests := []struct {
		name, path, user, flagCookie string
		want, notWant                []string
	}{
		{name: "signed in", path: "/protected/", user: "id1",
			want: []string{"Signed in as", "because this browser is signed in"}, notWant: []string{"ags is off"}},
		{name: "ags off", path: "/protected/", flagCookie: "0",
			want:    []string{"Signed in</dt>", "no: ags is off for this browser", "ags is off for this browser (its feature-flag cookie)"},
			notWant: []string{"Signed in as", "because this browser is signed in"}},
		{name: "open page signed out", path: "/open/",
			want: []string{"Signed in</dt>", ">no <"}, notWant: []string{"Signed in as", "ags is off"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.user != "" {
				r.Header.Set("X-Auth-Request-User", tc.user)
			}
			if tc.flagCookie != "" {
				r.AddCookie(&http.Cookie{Name: FlagCookie, Value: tc.flagCookie})
			}
			w := httptest.NewRecorder()
			AppHandler(AppOptions{}).ServeHTTP(w, r)
			body := w.Body.String()
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("got a page without %q, want it", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(body, s) {
					t.Errorf("got a page with %q, want none", s)
				}
			}
			wantUser := tc.user
			if wantUser == "" {
				wantUser = "(none)"
			}
			if got := ParseAppView(body).User; got != wantUser {
				t.Errorf("got user %q, want %q", got, wantUser)
			}
		})
	}
}
