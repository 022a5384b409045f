package ags

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEscapedSlashInSegment (issue 23, 4): a path whose "%2F" sits inside a segment is
// matched as the app that routes on the escaped path reads it (one segment), as well
// as decoded; so with reports/[^/]+ protected, /reports/q3%2Fsalaries is too, also
// after its decoded form was seen open (the cache of open paths), for a visitor and
// for a signed-in user whom the rules refuse.
func TestEscapedSlashInSegment(t *testing.T) {
	tp := newTestProvider(t)
	cases := []struct {
		path string
		want bool // protected
	}{
		{"/reports/q3", true},
		{"/reports/q3/salaries", false}, // two segments: open, and cached so
		{"/reports/q3%2Fsalaries", true},
		{"/reports/q3%2fsalaries", true},
		{"/reports/q3%252Fsalaries", true},
		{"/reports/q3%2F..%2F..%2Fpublic", true},
		{"/reports%2Fq3", true}, // one segment to some apps, /reports/q3 decoded: any reading protects
		{"/files/a/b.pdf", false},
		{"/files/a%2Fb.pdf", true},
		{"/files/%61%2Fb.pdf", true},
		{"/open/a%2Fb", false},
	}
	c := flowConfig(tp)
	c.AuthenticatedPaths = []string{`reports/[^/]+`, `files/[^/]*\.pdf`}
	visitor, _ := newFlow(t, c)
	refusing := *c
	refusing.RequiredClaims = map[string]interface{}{"groups": []interface{}{"nobody"}}
	refused, _ := newFlow(t, &refusing)
	b := newFlowBrowser(t, refused)
	b.signIn("/reports/q3")
	for round := 0; round < 2; round++ { // the second round with what the first cached
		for _, tc := range cases {
			rec := newFlowBrowser(t, visitor).get(tc.path)
			if got := rec.Code == http.StatusFound; got != tc.want {
				t.Errorf("round %d, visitor, %s: got %d, want protected %v", round, tc.path, rec.Code, tc.want)
			}
			rec = b.get(tc.path)
			if got := rec.Code == http.StatusForbidden; got != tc.want {
				t.Errorf("round %d, refused user, %s: got %d, want protected %v", round, tc.path, rec.Code, tc.want)
			}
		}
	}
	for _, tc := range cases {
		u := httptest.NewRequest(http.MethodGet, "http://app.example"+tc.path, nil).URL
		if got := visitor.isProtected(u.Path, u.RawPath); got != tc.want {
			t.Errorf("isProtected(%q, %q): got %v, want %v", u.Path, u.RawPath, got, tc.want)
		}
	}
}

// TestSignOutReadings (issue 23, 5): any reading of the path that is the sign-out
// path signs out (the session's cookies cleared, the browser sent to the provider's
// end-session endpoint, the app never given the identity), whether the signed-in
// request comes from the cache or not; a path that only resembles it does not.
func TestSignOutReadings(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		path    string
		signOut bool
	}{
		{"/sign-out", true},
		{"/sign-out;jsessionid=0", true},
		{"/sign-out;jsessionid=0/", true},
		{"/sign-out%3Bjsessionid=0", true},
		{"/sign-out/", true},
		{"//sign-out", true},
		{"/x/../sign-out", true},
		{"/./sign-out", true},
		{"/sign-out/.", true},
		{"/sign%2Dout", true},
		{"/sign%252Dout", false}, // encoded twice: not a sign-out link (signOutLast)
		{"/sign-out%2F", true},
		{"/sign-out.", true},
		{"/sign-out%20", true},
		{"/sign-out\\", true},
		{"/sign-out%3Fnext=/", true},
		{"/sign-out?next=/", true},
		{"/sign-outs", false},
		{"/sign-out-now", false},
		{"/x/sign-out", false},
		{"/sign-out/x", false},
		{"/signout", false},
	} {
		for _, cached := range []bool{false, true} {
			tc, cached := tc, cached
			name := tc.path
			if cached {
				name += "/cached"
			}
			t.Run(name, func(t *testing.T) {
				m, app := newFlow(t, flowConfig(tp))
				b := newFlowBrowser(t, m)
				b.signIn("/private")
				if cached {
					b.get("/elsewhere") // the view is cached: the request path serves the next one
				}
				app.last = nil
				rec := b.get(tc.path)
				signedOut := rec.Code == http.StatusFound && strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/end_session?") && b.sessionCookies() == 0
				if signedOut != tc.signOut {
					t.Fatalf("got %d to %q, %d session cookies left: want signed out %v", rec.Code, rec.Header().Get("Location"), b.sessionCookies(), tc.signOut)
				}
				if tc.signOut && app.last != nil {
					t.Errorf("the app was reached during sign-out")
				}
				if !tc.signOut && (app.last == nil || app.last.Header.Get(headerUser) != "user-42") {
					t.Errorf("a path that is not the sign-out path: want the app with the identity")
				}
			})
		}
	}
}
