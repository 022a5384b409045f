package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// authHost through a real Traefik: three app hosts and the callback host, all on
// 127.0.0.1 (Go clients resolve them there; Chromium with --host-resolver-rules),
// one ags middleware on every host, and a provider that knows exactly one redirect
// URI and one post-logout address, both on the callback host. The root module's
// authhost_test.go tests the same through ServeHTTP.

const ahAuthHost = "auth.example.org"

var ahAppHosts = []string{"wiki.example.org", "ci.example.org", "grafana.example.org"}

// authHostStack is Traefik with ags on every host, cookieDomain example.org and
// authHost auth.example.org:{Traefik's port}.
type authHostStack struct {
	p    *harness.Provider
	echo *echoBackend
	tr   *harness.Traefik
	auth string // auth.example.org:{port}
}

func startAuthHostStack(t *testing.T, extra map[string]any) *authHostStack {
	t.Helper()
	p, echo, dyn := startEchoStack(t, nil)
	tr := startTraefik(t, harness.TraefikConfig{}, dyn)
	s := &authHostStack{p: p, echo: echo, tr: tr, auth: fmt.Sprintf("%s:%d", ahAuthHost, tr.Port)}
	cfg := map[string]any{"cookieDomain": "example.org", "authHost": s.auth}
	for k, v := range extra {
		cfg[k] = v
	}
	dyn.Middlewares["ags"] = harness.Middleware{Plugin: "ags", Config: agsConfig(p, cfg)}
	if err := tr.SetDynamic(dyn); err != nil {
		t.Fatal(err)
	}
	p.Register("http://"+s.auth+"/oidc_callback", "http://"+s.auth+"/sign-out")
	return s
}

// url is the address of path on host, on Traefik's port.
func (s *authHostStack) url(host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, s.tr.Port, path)
}

func (s *authHostStack) client() *harness.Client {
	c := harness.NewClient()
	c.ResolveTo127(nil, append([]string{ahAuthHost}, ahAppHosts...)...)
	return c
}

// callbackHop is the answer of authHost's callback in a chain of hops.
func (s *authHostStack) callbackHop(hs []harness.Hop) (harness.Hop, bool) {
	for _, h := range hs {
		if strings.HasPrefix(h.URL, "http://"+s.auth+"/oidc_callback?") {
			return h, true
		}
	}
	return harness.Hop{}, false
}

// TestAuthHostAcrossHosts: signed in on wiki (the provider sends the browser to the
// one registered callback, on auth), back on wiki's page, then signed in on ci and
// grafana without the provider; signed out from grafana, back on grafana's sign-out
// view through the one registered post-logout address, and signed out on wiki too.
func TestAuthHostAcrossHosts(t *testing.T) {
	t.Parallel()
	s := startAuthHostStack(t, nil)
	c := s.client()
	want := s.url("wiki.example.org", "/protected/x?q=1&r=a%2Fb")
	start, err := c.Get(want)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(start, s.p.Username, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	if page.Status != http.StatusOK || page.URL.String() != want {
		t.Fatalf("sign-in on wiki ended %d at %s, want 200 at %s; hops:\n%s", page.Status, page.URL, want, hops(page.Hops))
	}
	if h, ok := s.callbackHop(page.Hops); !ok || h.Location != want {
		t.Errorf("the callback on %s: %v, want a redirect to %s; hops:\n%s", s.auth, h, want, hops(page.Hops))
	}
	for _, host := range ahAppHosts {
		resp := rawSend(t, c.HTTP, http.MethodGet, s.url(host, ""), "/protected/y", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d to %q, want the app signed in", host, resp.StatusCode, resp.Header.Get("Location"))
		}
		if e := readEcho(t, resp); e.Header.Get("X-Auth-Request-User") != s.p.Subject || e.Header.Get("X-Forwarded-Host") != fmt.Sprintf("%s:%d", host, s.tr.Port) {
			t.Errorf("%s: the app got user %q on %q, want %q", host, e.Header.Get("X-Auth-Request-User"), e.Header.Get("X-Forwarded-Host"), s.p.Subject)
		}
	}

	out, err := c.Get(s.url("grafana.example.org", "/sign-out"))
	if err != nil {
		t.Fatal(err)
	}
	var sawProvider, sawAuth bool
	for _, h := range out.Hops {
		if u, _ := url.Parse(h.Location); u != nil && strings.HasPrefix(h.Location, s.p.URL("/end_session?")) {
			sawProvider = u.Query().Get("post_logout_redirect_uri") == "http://"+s.auth+"/sign-out"
		}
		sawAuth = sawAuth || strings.HasPrefix(h.URL, "http://"+s.auth+"/sign-out?")
	}
	if out.Status != http.StatusOK || out.URL.String() != s.url("grafana.example.org", "/sign-out") || !sawProvider || !sawAuth {
		t.Fatalf("sign-out from grafana ended %d at %s, want grafana's sign-out view by way of the provider and %s/sign-out; hops:\n%s", out.Status, out.URL, s.auth, hops(out.Hops))
	}
	var e echoed
	if err := json.Unmarshal([]byte(out.Body), &e); err != nil || e.URI != "/sign-out" || e.Header.Get("X-Auth-Request-User") != "" {
		t.Errorf("grafana's sign-out view got %q as %q, want /sign-out without identity", e.URI, e.Header.Get("X-Auth-Request-User"))
	}
	for _, host := range ahAppHosts {
		resp := rawSend(t, c.HTTP, http.MethodGet, s.url(host, ""), "/protected/y", nil)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), s.p.URL("/auth?")) {
			t.Errorf("%s after sign-out: %d to %q, want a sign-in", host, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestAuthHostCorpus: every line of the open-redirect corpus as the path, and as the
// Host, of the request that starts a sign-in on wiki, sent over TCP as written: the
// callback on authHost never sends the browser off example.org (a Host that is not a
// plain host under it ends on authHost's "/"); Traefik may refuse the request first.
func TestAuthHostCorpus(t *testing.T) {
	t.Parallel()
	s := startAuthHostStack(t, map[string]any{"authenticatedPaths": []string{".*"}})
	lines := corpusLines(t)
	started := time.Now()
	signIns, refused := map[string]int{}, map[string]int{}
	for _, line := range lines {
		path := line
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		for _, tc := range []struct{ what, host, path string }{
			{"path", fmt.Sprintf("wiki.example.org:%d", s.tr.Port), path},
			{"Host", line, "/protected/x"},
		} {
			loc, ok := s.corpusSignIn(t, tc.host, tc.path)
			if !ok {
				refused[tc.what]++
				continue
			}
			signIns[tc.what]++
			if !ahStaysOnDomain(loc, s.auth) || (tc.what == "Host" && loc != "/" && !strings.HasPrefix(loc, "http://wiki.example.org:")) {
				t.Errorf("payload %q as the %s: the callback sent the browser to %q", line, tc.what, loc)
			}
		}
	}
	t.Logf("%d payloads in %s: as the path, %d sign-ins through authHost and %d refused before one; as the Host, %d and %d",
		len(lines), time.Since(started).Round(time.Second), signIns["path"], refused["path"], signIns["Host"], refused["Host"])
}

// corpusSignIn sends GET path with Host host over a plain TCP connection to Traefik,
// as written; when the answer is a sign-in, it signs in and returns the Location of
// authHost's callback. ok is false when the request did not start a sign-in.
func (s *authHostStack) corpusSignIn(t *testing.T, host, path string) (loc string, ok bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.tr.Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/html\r\nConnection: close\r\n\r\n", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q Host %q: %v", path, host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), s.p.URL("/auth?")) {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			t.Errorf("GET %q Host %q: %d to %q, want a sign-in or a refusal", path, host, resp.StatusCode, resp.Header.Get("Location"))
		}
		return "", false
	}
	c := s.client()
	// The pending-login cookie, as a browser on wiki keeps it (Domain example.org).
	c.HTTP.Jar.SetCookies(&url.URL{Scheme: "http", Host: "wiki.example.org"}, resp.Cookies())
	login, err := c.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(login, s.p.Username, harness.TestPassword)
	if err != nil {
		t.Fatalf("GET %q Host %q: sign-in: %v", path, host, err)
	}
	h, found := s.callbackHop(page.Hops)
	if !found || h.Status != http.StatusFound {
		t.Fatalf("GET %q Host %q: no redirect from the callback; hops:\n%s", path, host, hops(page.Hops))
	}
	return h.Location, true
}

// ahStaysOnDomain reports whether a Location sent by the callback on auth, read as a
// browser reads it there, is on a host under example.org.
func ahStaysOnDomain(loc, auth string) bool {
	base, _ := url.Parse("http://" + auth + "/oidc_callback")
	cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimSpace(loc))
	u, err := base.Parse(cleaned)
	if err != nil || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == "example.org" || strings.HasSuffix(host, ".example.org")
}

// corpusLines reads the open-redirect corpus of the plugin's tests.
func corpusLines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../testdata/open-redirect-payloads.txt")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 800 {
		t.Fatalf("read %d payloads, want the whole corpus", len(lines))
	}
	return lines
}

// TestAuthHostInChromium: the same in a browser whose host resolver sends the four
// hosts to 127.0.0.1 (--host-resolver-rules): the browser itself keeps the cookies
// by their Domain, so a pending login or session that was host-only would show here.
// Signed in on wiki, ci is signed in, sign-out from grafana ends on grafana's sign-out
// view, and wiki asks for a sign-in again.
func TestAuthHostInChromium(t *testing.T) {
	t.Parallel()
	s := startAuthHostStack(t, nil)
	b := requireBrowserWith(t, harness.BrowserOptions{Hosts: append([]string{ahAuthHost}, ahAppHosts...)})
	ctx, nav := tab(t, b.Tab(), "main")

	want := s.url("wiki.example.org", "/protected/x?q=1")
	openPage(t, ctx, want)
	expectLoginPage(t, ctx, s.p)
	if status := submitLogin(t, ctx, s.p, harness.TestPassword); status != 200 || location(t, ctx) != want {
		t.Fatalf("sign-in on wiki: %d at %s, want 200 at %s", status, location(t, ctx), want)
	}
	if !nav.Visited("http://" + s.auth + "/oidc_callback") {
		t.Errorf("the sign-in did not come back through %s/oidc_callback", s.auth)
	}
	if e := readEchoTab(t, ctx); e.Header.Get("X-Auth-Request-User") != s.p.Subject {
		t.Errorf("wiki after sign-in: the app got user %q, want %q", e.Header.Get("X-Auth-Request-User"), s.p.Subject)
	}
	openPage(t, ctx, s.url("ci.example.org", "/protected/y"))
	if e := readEchoTab(t, ctx); e.URI != "/protected/y" || e.Header.Get("X-Auth-Request-User") != s.p.Subject {
		t.Errorf("ci: the app got %q as %q, want /protected/y signed in", e.URI, e.Header.Get("X-Auth-Request-User"))
	}
	nav.Reset()
	openPage(t, ctx, s.url("grafana.example.org", "/sign-out"))
	if !nav.Visited(s.p.URL("/end_session")) || !nav.Visited("http://"+s.auth+"/sign-out") {
		t.Errorf("sign-out from grafana did not go through the provider and %s/sign-out", s.auth)
	}
	if loc := location(t, ctx); loc != s.url("grafana.example.org", "/sign-out") {
		t.Fatalf("sign-out from grafana ended at %s, want grafana's sign-out view", loc)
	}
	if e := readEchoTab(t, ctx); e.URI != "/sign-out" || e.Header.Get("X-Auth-Request-User") != "" {
		t.Errorf("grafana's sign-out view got %q as %q, want /sign-out without identity", e.URI, e.Header.Get("X-Auth-Request-User"))
	}
	openPage(t, ctx, s.url("wiki.example.org", "/protected/x"))
	expectLoginPage(t, ctx, s.p)
}
