package harness

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretScan plants secrets in a log, whole and cut, and checks which lines the
// scan names, with which kind and length, and that no finding prints the secret.
func TestSecretScan(t *testing.T) {
	session := "ags-session-value-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ" // 66 characters
	token := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMDEyMzQ1Njc4OQ"
	client := "ags-e2e-client-secret" // 21 characters: scanned whole only
	s := NewSecretSet()
	s.Add("cookie ags_client_session", session)
	s.Add("ID token", token)
	s.Add("clientSecret", client)
	s.Add("sessionSecret", "short") // too short to scan: counted
	s.Add("ID token", token)        // twice: once

	lines := []string{
		`2026-01-01T00:00:00Z INFO ags[ags]: sign-in sub="user-1"`,                            // 1: clean
		`{"level":"warn","message":"bad cookie ` + session + `"}`,                             // 2: whole cookie
		`WARN ags[ags]: token ` + token[:64] + `...`,                                          // 3: jwsTruncate's 64
		`WARN ags[ags]: piece ` + session[10:34] + `|`,                                        // 4: exactly 24
		`WARN ags[ags]: piece ` + session[10:33] + `|` + session[40:63],                       // 5: 23 and 23: none
		`WARN ags[ags]: client_secret=` + client + ` and ` + token[30:60],                     // 6: two kinds
		`WARN ags[ags]: ` + strings.Repeat("x", 100) + session[len(session)-30:] + "no break", // 7: the tail, no newline
	}
	got, err := s.Scan("traefik.log", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"traefik.log:2: cookie ags_client_session (the whole value)",
		"traefik.log:3: ID token (64 consecutive characters)",
		"traefik.log:4: cookie ags_client_session (24 consecutive characters)",
		"traefik.log:6: ID token (30 consecutive characters)",
		"traefik.log:6: clientSecret (the whole value)",
		"traefik.log:7: cookie ags_client_session (30 consecutive characters)",
	}
	var gotS []string
	for _, l := range got {
		gotS = append(gotS, l.String())
		for _, secret := range []string{session, token, client} {
			if strings.Contains(l.String(), secret[:LeakWindow/2+1]) {
				t.Errorf("the finding %q prints the secret", l)
			}
		}
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(gotS, "\n"), strings.Join(want, "\n"))
	}
	if s.Len() != 3 || s.Unscanned() != "1 sessionSecret" {
		t.Errorf("got %d values, unscanned %q; want 3 and %q", s.Len(), s.Unscanned(), "1 sessionSecret")
	}
}

// TestSecretScanOfRun goes the way of a run: a secret in a Traefik option, a cookie in
// a client's jar, a code in a redirect, a log kept at Close, and ScanCollectedLogs
// names the file, the line and the kind.
func TestSecretScanOfRun(t *testing.T) {
	collected.mu.Lock()
	was := collected.dir
	collected.mu.Unlock()
	if err := CollectLogs(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // the planted leak keeps the folder: remove it, unless a run had it before
		collected.mu.Lock()
		defer collected.mu.Unlock()
		if was == "" {
			os.RemoveAll(collected.dir)
			collected.dir, collected.files = "", nil
		}
	})
	secret := "planted-session-secret-" + randomHex(16)
	cookie := "sealed." + randomHex(24)
	code := "code-" + randomHex(12)
	(&Dynamic{Routes: map[string]Route{"r": {Rule: "PathPrefix(`/`)", Backend: "http://127.0.0.1:1"}},
		Middlewares: map[string]Middleware{"ags": {Plugin: "ags", Config: map[string]any{"sessionSecret": secret}}}}).render(1)
	jar := NewClient().HTTP.Jar
	jar.SetCookies(&url.URL{Scheme: "http", Host: "127.0.0.1"}, []*http.Cookie{{Name: "ags_client_session", Value: cookie}})
	learnURL("http://127.0.0.1/oidc_callback?state=s&code=" + code)

	dir := t.TempDir()
	log := filepath.Join(dir, "traefik.log")
	content := "line 1 is fine\nWARN ags[ags]: secret " + secret + "\nWARN cookie=" + cookie[3:30] +
		"\nINFO callback code=" + code + "\n"
	if err := os.WriteFile(log, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := keepLog(log, "traefik-planted.log")
	t.Cleanup(func() { // not a log of the run's: out of its scan
		os.Remove(kept)
		collected.mu.Lock()
		defer collected.mu.Unlock()
		collected.files = collected.files[:len(collected.files)-1]
	})
	leaks, summary, err := ScanCollectedLogs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		kept + ":2: sessionSecret (the whole value)",
		kept + ":3: cookie ags_client_session (27 consecutive characters)",
		kept + ":4: authorization code (the whole value)",
	}
	var got []string
	for _, l := range leaks {
		if l.File == kept {
			got = append(got, l.String())
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(summary, "leaks") {
		t.Errorf("summary %q", summary)
	}
}
