package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// The review's findings (issue 23) through a real Traefik: each shows that the fix
// holds for a request as Traefik passes it on, beside a control that passes. The
// root module's review_test.go and review_paths_test.go test each class through
// ServeHTTP.

// bigID is an integer past 2^53 (float64 reads it as bigID-1); bigNeighbour is that.
const bigID, bigNeighbour = "9007199254740993", "9007199254740992"

// reviewStack is a provider whose first user has the groups ["staff,admins"] and
// employee_id bigID (the second: groups a and b), the echo app, and the same routes
// in a Traefik with path cleaning on (its default) and one with it off.
type reviewStack struct {
	provider *harness.Provider
	echo     *echoBackend
	traefiks map[string]*harness.Traefik // "sanitizePath on", "sanitizePath off"
}

// reviewRules are the review stack's rule instances: each its own ags instance on
// the router of /{name}/, protecting /{name}/.*.
func reviewRules(p *harness.Provider) map[string]map[string]any {
	return map[string]map[string]any{
		"claims":     {"requiredClaims": map[string]any{"email": []string{p.Email}}},
		"users":      {"allowedUsers": []string{p.Email}},
		"domains":    {"allowedEmailDomains": []string{"zitadel.ch"}},
		"users-case": {"allowedUsers": []string{strings.ToUpper(p.Email)}},
		"users-sub":  {"allowedUsers": []string{p.Subject}},
		"employee":   {"requiredClaims": map[string]any{"employee_id": []string{bigID}}},
		"neighbour":  {"requiredClaims": map[string]any{"employee_id": []string{bigNeighbour}}},
	}
}

// startEchoStack starts a provider and the echo app of the test's own, and returns
// the dynamic configuration that routes every path through ags (agsConfig with extra)
// to the app.
func startEchoStack(t *testing.T, extra map[string]any) (*harness.Provider, *echoBackend, *harness.Dynamic) {
	t.Helper()
	p := startProvider(t)
	echo := startEcho(t)
	return p, echo, agsDynamic(&harness.App{URL: echo.srv.URL}, agsConfig(p, extra))
}

// startReview starts the review stack. Every other path goes to the ags instance
// that protects /protected, /reports/{one segment} (4) and maps employee_id to
// X-Employee (2).
func startReview(t *testing.T) *reviewStack {
	t.Helper()
	p, echo, dyn := startEchoStack(t, map[string]any{
		"authenticatedPaths": []string{"protected(/.*)?", "reports/[^/]+"},
		"identityHeaders":    map[string]string{"employee_id": "X-Employee"},
	})
	p.SetClaims(p.Subject, map[string]any{"groups": []string{"staff,admins"}, "employee_id": json.Number(bigID)})
	p.SetClaims(p.Subject2, map[string]any{"groups": []string{"a", "b"}})
	s := &reviewStack{provider: p, echo: echo, traefiks: map[string]*harness.Traefik{}}
	for name, extra := range reviewRules(p) {
		extra["authenticatedPaths"] = []string{name + "/.*"}
		dyn.Routes[name] = harness.Route{Rule: "PathPrefix(`/" + name + "/`)", Middlewares: []string{name}, Backend: echo.srv.URL}
		dyn.Middlewares[name] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, extra)}
	}
	for name, static := range map[string]func(map[string]any){"sanitizePath on": nil, "sanitizePath off": sanitizePathOff} {
		s.traefiks[name] = startTraefik(t, harness.TraefikConfig{Static: static}, dyn)
	}
	return s
}

// signInClient signs user in with a new plain client at path through tr, and fails
// the test unless the sign-in ends on the app's answer for path.
func signInClient(t *testing.T, tr *harness.Traefik, user, path string) *harness.Client {
	t.Helper()
	c := harness.NewClient()
	start, err := c.Get(tr.URL(path))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(start, user, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	if page.Status != http.StatusOK || page.URL.String() != tr.URL(path) {
		t.Fatalf("%s: after sign-in got %d at %s, want 200 at %s; hops:\n%s", user, page.Status, page.URL, path, hops(page.Hops))
	}
	return c
}

// getEchoed sends target as written with c's cookies, follows no redirect, and
// returns the answer and what the app received (empty when the app did not answer).
func getEchoed(t *testing.T, c *harness.Client, tr *harness.Traefik, target string) (*http.Response, echoed) {
	t.Helper()
	resp := rawGetWith(t, c.HTTP, tr, target, nil)
	var e echoed
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		e = readEcho(t, resp)
	}
	return resp, e
}

// TestReviewThroughTraefik runs findings 1 to 6 and RFC 9207's check on one review
// stack; 7 and 8 need a Traefik of their own.
func TestReviewThroughTraefik(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := startReview(t)
	t.Logf("review stack (provider, app, two Traefiks) ready in %s", time.Since(start).Round(time.Millisecond))
	for _, sub := range []struct {
		name string
		run  func(*testing.T, *reviewStack)
	}{
		{"rules", reviewRulesThroughTraefik},
		{"headers", reviewHeadersThroughTraefik},
		{"Traefik's path spellings", reviewTraefikPaths},
		{"escaped slash", reviewEscapedSlash},
		{"sign-out readings", reviewSignOutReadings},
		{"RFC 9207 iss", reviewCallbackIssuer},
	} {
		t.Run(sub.name, func(t *testing.T) {
			start := time.Now()
			sub.run(t, s)
			t.Logf("%s: %s", sub.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// reviewRulesThroughTraefik (1, 2, 3): an address the provider says is not verified
// satisfies no rule that names it (requiredClaims, allowedUsers, allowedEmailDomains),
// and the same rules admit it verified; an allowedUsers address entry admits the
// verified address in other letters, a sub entry the sub, and neither another user;
// requiredClaims tells bigID from its neighbour. A refusal is 403 without a redirect,
// and the app is not reached.
func reviewRulesThroughTraefik(t *testing.T, s *reviewStack) {
	p, tr := s.provider, s.traefiks["sanitizePath on"]
	p.SetEmailVerified(false)
	unverified := signInClient(t, tr, p.Username, "/protected/rules")
	p.SetEmailVerified(true)
	users := []struct {
		name string
		c    *harness.Client
	}{
		{"user 1, address unverified", unverified},
		{"user 1, address verified", signInClient(t, tr, p.Username, "/protected/rules")},
		{"user 2", signInClient(t, tr, p.Username2, "/protected/rules")},
	}
	for _, tc := range []struct {
		path string
		want [3]int // for each of users
	}{
		{"/protected/rules", [3]int{200, 200, 200}}, // the control: every user is signed in
		{"/claims/x", [3]int{403, 200, 403}},        // requiredClaims email: [user 1's address]
		{"/users/x", [3]int{403, 200, 403}},         // allowedUsers: [user 1's address]
		{"/domains/x", [3]int{403, 200, 200}},       // allowedEmailDomains: [both users' domain]
		{"/users-case/x", [3]int{403, 200, 403}},    // allowedUsers: [user 1's address in capitals]
		{"/users-sub/x", [3]int{200, 200, 403}},     // allowedUsers: [user 1's sub]
		{"/employee/x", [3]int{200, 200, 403}},      // requiredClaims employee_id: [bigID]
		{"/neighbour/x", [3]int{403, 403, 403}},     // requiredClaims employee_id: [bigID-1]
	} {
		for i, u := range users {
			before := s.echo.requests()
			resp, e := getEchoed(t, u.c, tr, tc.path)
			reached := s.echo.requests() - before
			switch {
			case resp.StatusCode != tc.want[i]:
				t.Errorf("%s on %s: got %d (Location %q), want %d", u.name, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.want[i])
			case tc.want[i] == http.StatusForbidden && reached != 0:
				t.Errorf("%s on %s: refused, yet the app was reached", u.name, tc.path)
			case tc.want[i] == http.StatusOK && (e.URI != tc.path || e.Header.Get("X-Auth-Request-User") == ""):
				t.Errorf("%s on %s: the app got %q as %q, want the path with the identity", u.name, tc.path, e.URI, e.Header.Get("X-Auth-Request-User"))
			}
		}
	}
}

// reviewHeadersThroughTraefik (2, 6): the app gets bigID with every digit, the one
// group "staff,admins" as a JSON array, and plain groups as a comma list.
func reviewHeadersThroughTraefik(t *testing.T, s *reviewStack) {
	p := s.provider
	for name, tr := range s.traefiks {
		for _, tc := range []struct {
			user           string
			employee, grps string
		}{
			{p.Username, bigID, `["staff,admins"]`},
			{p.Username2, "", "a,b"},
		} {
			c := signInClient(t, tr, tc.user, "/protected/headers")
			_, e := getEchoed(t, c, tr, "/protected/headers")
			if got := e.Header.Values("X-Employee"); strings.Join(got, "|") != tc.employee {
				t.Errorf("%s, %s: X-Employee %q, want %q", name, tc.user, got, tc.employee)
			}
			if got := e.Header.Values("X-Auth-Request-Groups"); len(got) != 1 || got[0] != tc.grps {
				t.Errorf("%s, %s: X-Auth-Request-Groups %q, want %q", name, tc.user, got, tc.grps)
			}
		}
	}
}

// TestReviewHeaderCollision (7): identityHeaders mapping name and preferred_username
// to one header (as the app reads its name) is refused by New: Traefik logs the
// error, which names both claims, disables the router that uses the middleware, and
// that router's paths answer 404; the other routers work. (A disabled router's paths
// go to any other router that matches them: here none does.)
func TestReviewHeaderCollision(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, nil)
	dyn.Routes["app"] = harness.Route{Rule: "PathPrefix(`/protected`) || Path(`/oidc_callback`)", Middlewares: []string{"ags"}, Backend: echo.srv.URL}
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	dyn.Routes["bad"] = harness.Route{Rule: "PathPrefix(`/bad/`)", Middlewares: []string{"bad"}, Backend: echo.srv.URL}
	dyn.Middlewares["bad"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, map[string]any{
		"identityHeaders": map[string]string{"name": "X-User", "preferred_username": "x-user"}})}
	off := tr.LogSize()
	err := tr.SetDynamic(dyn)
	if err == nil || !strings.Contains(err.Error(), "router bad@file is") {
		t.Fatalf("a middleware New refuses: SetDynamic said %v, want the router bad@file not enabled", err)
	}
	api := func(path string) string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/http/%s", tr.AdminPort, path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	t.Logf("Traefik's API: router bad: %s\nmiddleware bad: %s", api("routers/bad@file"), api("middlewares/bad@file"))
	var line string
	for _, l := range strings.Split(tr.LogSince(off), "\n") {
		if strings.Contains(l, "identityHeaders") {
			line = l
			break
		}
	}
	t.Logf("Traefik's log: %s", line)
	for _, want := range []string{`claim \"name\"`, `claim \"preferred_username\"`, "X-User"} {
		if !strings.Contains(line, want) {
			t.Errorf("Traefik's log line on the refused middleware does not name %s", want)
		}
	}
	before := echo.requests()
	resp := rawGet(t, tr, "/bad/x", nil)
	body, _ := io.ReadAll(resp.Body)
	t.Logf("GET /bad/x: %d %q", resp.StatusCode, body)
	if resp.StatusCode != http.StatusNotFound || echo.requests() != before {
		t.Errorf("GET /bad/x: %d, the app reached %d times; want 404 and no request to the app", resp.StatusCode, echo.requests()-before)
	}
	if resp := rawGet(t, tr, "/protected/x", nil); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL("/auth?")) {
		t.Errorf("the good router beside it: GET /protected/x: %d, want a sign-in", resp.StatusCode)
	}
}

// TestReviewKeySetOutage (8): a key set the provider cannot give (its jwks_uri
// answers 503) makes the callback answer 503, the provider unavailable, not 401, the
// page of a forged token; an instance whose key set can be had signs in.
func TestReviewKeySetOutage(t *testing.T) {
	t.Parallel()
	p, echo, dyn := startEchoStack(t, nil)
	// The control: a second instance, with a key set of its own, on /b/.
	dyn.Routes["b"] = harness.Route{Rule: "PathPrefix(`/b/`) || Path(`/oidc_callback_b`)", Middlewares: []string{"b"}, Backend: echo.srv.URL}
	dyn.Middlewares["b"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, map[string]any{
		"authenticatedPaths": []string{"b/.*"}, "callbackPath": "oidc_callback_b", "signOutPath": "sign-out-b"})}
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)

	doc, err := p.Discovery()
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := doc["jwks_uri"].(string)
	keys, err := url.Parse(uri)
	if err != nil || keys.Path == "" {
		t.Fatalf("discovery's jwks_uri %q: %v", uri, err)
	}
	p.Override(keys.Path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "key set down", http.StatusServiceUnavailable)
	}))
	c := harness.NewClient()
	start, err := c.Get(tr.URL("/protected/x"))
	if err != nil {
		t.Fatal(err)
	}
	before := echo.requests()
	page, err := c.SignIn(start, p.Username, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	last := page.Hops[len(page.Hops)-1]
	if !strings.HasPrefix(last.URL, tr.URL("/oidc_callback?")) || page.Status != http.StatusServiceUnavailable {
		t.Errorf("with the key set down: %d at %s, want 503 at the callback; hops:\n%s", page.Status, last.URL, hops(page.Hops))
	}
	if strings.Contains(page.Body, "security checks") || !strings.Contains(page.Body, "cannot be reached") {
		t.Errorf("with the key set down the page says %q, want the provider unavailable", page.Body)
	}
	if echo.requests() != before || len(sessionCookies(c, tr)) != 0 {
		t.Errorf("with the key set down the app was reached (%d times) or a session made (%q)", echo.requests()-before, sessionCookies(c, tr))
	}
	if log := tr.LogSince(0); !strings.Contains(log, "key set unavailable: status 503") {
		t.Errorf("Traefik's log does not keep the cause (key set unavailable: status 503)")
	}

	p.Override(keys.Path, nil)
	signInClient(t, tr, p.Username, "/b/x")
}
