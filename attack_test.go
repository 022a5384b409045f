package ags

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// The attack suite (issue 7): the classes of attack that mod_auth_openidc,
// oauth2-proxy and Pomerium each shipped fixes for, every one tried through the real
// ServeHTTP. This is the index; a case tested elsewhere is named here with its test.
//
// ID tokens, the OpenID Foundation's relying-party cases (attack_tokens_test.go):
//   - bad signatures RS256, ES256, HS256; alg none; HS256 keyed with the provider's
//     public key; a key sent in the token (jwk, jku); an alg the provider does not
//     announce; issuer, audience and azp mismatch; sub and iat missing; nonce wrong or
//     missing; at_hash of another access token; kid absent with one key and with
//     several; unknown kid; JWE and JSON serialization: TestAttackIDTokens
//   - key rotation at the provider, and a flood of unknown kids: TestAttackKeyRotation
//   - expired token, wrong aud, nonce and iss through the handler: TestCallbackFailures
//   - every claim and algorithm against the verifier alone: TestVerifyIDToken
//   - userinfo with another sub: TestCallbackFailures ("userinfo sub mismatch")
//   - discovery issuer differs: TestDiscoveryIssuerMismatch, and with a trailing "/"
//     in TestAttackProviderMisbehaviour
//
// Open redirects (attack_requests_test.go):
//   - every line of testdata/open-redirect-payloads.txt as the path of a protected
//     route, followed through the sign-in: TestOpenRedirectCorpus
//   - the same lines against the sign-out (its query, its return, the path under
//     it): TestAttackSignOutRedirects
//   - returnPath alone: TestReturnPath, FuzzReturnPath
//
// Path tricks against authenticatedPaths (attack_requests_test.go):
//   - //admin, /./admin, /x/../admin, /%61dmin, /admin%2F, /%2e/admin,
//     /public/..%2Fadmin, trailing slashes, matrix parameters, a query or an encoded
//     "?" that looks like an open path (CVE-2025-54576), the callback and sign-out
//     paths with "/.." after them: TestAttackPathTricks, and over TCP in
//     TestAttackHeaderSmugglingOverTCP; the matcher alone: TestAuthenticatedPathMatching,
//     TestQueryStringNeverMatches, FuzzMatchPaths
//   - an invalid escape next to valid ones: TestAttackPathInvalidEscape
//   - paths of 300 KB made of escapes, dot segments, slashes: TestAttackPathFlood
//
// Header smuggling (CVE-2025-64484; attack_requests_test.go):
//   - every canonical key of every "-"/"_" spelling of every identity header, signed
//     in or not, flag on or off: TestIdentityHeadersAreStripped
//   - raw header names in any case and with "_" over a real TCP connection, the
//     access and ID token headers and Authorization included:
//     TestAttackHeaderSmugglingOverTCP
//
// Login CSRF, replay and session fixation (attack_requests_test.go):
//   - no state, unknown state, state cookie missing: TestCallbackFailures
//   - replay after success: TestCallbackReplayCreatesNoSession, and with no second
//     code exchange in TestAttackLoginCSRF
//   - another login's state or code, an error callback ending the login:
//     TestAttackLoginCSRF
//   - planted garbage cookies: TestSignInReplacesOldSession; a planted valid session
//     of another user: TestAttackSessionFixation
//
// Cookies (attack_requests_test.go):
//   - oversized, ten forged chunks, too many chunks (CVE-2024-24814), a huge chunk
//     number, wrong encodings, tampered, truncated, the same name twice, sealed for
//     another issuer or client, another ags cookie's value: TestAttackCookies
//   - a 1 MB header of 100,000 cookies: TestAttackCookieHeaderFlood; distinct large
//     headers do not pile up in memory: TestAttackCookieCacheMemory
//   - sealed with another secret: TestSessionsSharedAcrossInstances
//   - the same against the store alone: TestSessionRejects, FuzzOpenCookieHeader
//
// Provider misbehaviour (attack_provider_test.go):
//   - slow or stalling discovery, keys, token and userinfo (timeouts hold); bodies
//     over 1 MiB (limits hold); malformed JSON and wrong types in each; endpoints
//     that are not http(s): TestAttackProviderMisbehaviour
//   - provider down at start: TestProviderDownThenUp
//   - HTML in error and error_description, on the page and in debug detail:
//     TestAttackErrorPagesEscape, TestCallbackFailures
//   - line breaks in what an attacker sends, kept out of the log: TestAttackLogInjection
//
// Fuzzing: FuzzOpenCookieHeader, FuzzParseJWS, FuzzParseJWKSet, FuzzParseDiscovery,
// FuzzMatchPaths, FuzzReturnPath (`make fuzz`).

// atkSessionCookie reports whether name is one of the session's chunks.
func atkSessionCookie(name string) bool {
	const base = "ags_client_session"
	if name == base {
		return true
	}
	rest := strings.TrimPrefix(name, base+"_")
	return rest != name && isDigits(rest)
}

// atkWantSignedIn checks a sign-in that must succeed: back to want, and the app then
// sees the test user.
func atkWantSignedIn(t *testing.T, b *flowBrowser, app *flowBackend, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
		t.Fatalf("sign-in: got %d to %q, want 302 to %q; body %s", rec.Code, rec.Header().Get("Location"), want, rec.Body.String())
	}
	if page := b.get(want); page.Code != http.StatusOK || app.last == nil || app.last.Header.Get(headerUser) != "user-42" {
		t.Fatalf("after sign-in: got %d, want the app with the user", page.Code)
	}
}

// atkWantRejected checks a refused sign-in: its status and page, no session cookie
// set, and the next visit to a protected page starts a new login without the app.
func atkWantRejected(t *testing.T, b *flowBrowser, app *flowBackend, tp *testProvider, rec *httptest.ResponseRecorder, status int, page string) {
	t.Helper()
	if rec.Code != status || !strings.Contains(rec.Body.String(), page) {
		t.Errorf("got %d %q, want %d with %q", rec.Code, rec.Body.String(), status, page)
	}
	atkNoSession(t, b, rec)
	calls := app.calls
	next := b.get("/private")
	if next.Code != http.StatusFound || !strings.HasPrefix(next.Header().Get("Location"), tp.issuer+"/authorize?") || app.calls != calls {
		t.Errorf("after the refusal: got %d to %q and %d app calls, want a new login", next.Code, next.Header().Get("Location"), app.calls-calls)
	}
}

// atkNoSession checks that an answer set no session cookie and that the browser
// holds none.
func atkNoSession(t *testing.T, b *flowBrowser, rec *httptest.ResponseRecorder) {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if atkSessionCookie(c.Name) && c.MaxAge >= 0 && c.Value != "" {
			t.Errorf("the refusal set session cookie %s", c.Name)
		}
	}
	if n := b.sessionCookies(); n != 0 {
		t.Errorf("got %d session cookies, want none", n)
	}
}

// atkPayloads reads the open-redirect corpus.
func atkPayloads(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/open-redirect-payloads.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if line := scanner.Text(); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) < 800 {
		t.Fatalf("read %d payloads, want the whole corpus", len(lines))
	}
	return lines
}

// atkRequest builds a request for any target, even one httptest.NewRequest cannot
// parse, as a server that let it through would hand it on.
func atkRequest(method, target, cookie string) *http.Request {
	r := &http.Request{Method: method, Host: "app.example", Header: http.Header{}, URL: &url.URL{}, RequestURI: target}
	if u, err := url.ParseRequestURI(target); err == nil {
		r.URL = u
	} else {
		r.URL.Path = target
	}
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// atkCookieHeader is the Cookie header of a browser's jar.
func atkCookieHeader(jar map[string]string) string {
	var parts []string
	for name, value := range jar {
		parts = append(parts, name+"="+value)
	}
	return strings.Join(parts, "; ")
}

// atkLog captures a middleware's log lines, passing them on to the writer newFlow
// set, which checks that none shows a secret.
type atkLog struct {
	mu   sync.Mutex
	text strings.Builder
	next io.Writer
}

func (l *atkLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(p)
	l.mu.Unlock()
	return l.next.Write(p)
}

func (l *atkLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

func atkCaptureLog(m *middleware) *atkLog {
	l := &atkLog{next: m.log.out}
	m.log.out = l
	return l
}
