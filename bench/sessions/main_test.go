package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// TestMakeSessions signs in against the harness's provider and proves that the
// sessions are distinct and open in another ags with the same settings (the
// identity reaches the app) and in none with another sessionSecret.
func TestMakeSessions(t *testing.T) {
	p, err := harness.StartProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o := options{
		issuer: p.Issuer, clientID: harness.ClientID, clientSecret: harness.ClientSecret,
		sessionSecret: "sessions-test-secret-0123456789abcdef-0123", paths: "/protected(/.*)?",
		protected: "/protected/", app: "http://127.0.0.1:8080", username: p.Username,
		password: harness.TestPassword, n: 3, parallel: 2,
	}
	got, err := makeSessions(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != o.n {
		t.Fatalf("got %d sessions, want %d", len(got), o.n)
	}
	seen := map[string]bool{}
	for _, c := range got {
		if !strings.HasPrefix(c, "ags_client_session") || seen[c] {
			t.Errorf("got session %.40q..., want a distinct ags_client_session cookie", c)
		}
		seen[c] = true
	}

	other := o
	other.sessionSecret = "another-secret-0123456789abcdef-0123456789"
	for _, tc := range []struct {
		name     string
		o        options
		wantUser string
	}{
		{name: "same settings", o: o, wantUser: p.Subject},
		{name: "another sessionSecret", o: other, wantUser: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var user string
			h, err := newAgsWith(tc.o, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				user = r.Header.Get("X-Auth-Request-User")
			}))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range got {
				user = ""
				r, _ := http.NewRequest(http.MethodGet, o.app+"/open", nil)
				r.Header.Set("Cookie", c)
				h.ServeHTTP(httptest.NewRecorder(), r)
				if user != tc.wantUser {
					t.Errorf("got user %q, want %q", user, tc.wantUser)
				}
			}
		})
	}
}
