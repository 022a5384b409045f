package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// TestJSONLogLines (issue 29): Traefik runs with --log.format=json on its command line,
// as a Helm chart runs it, and ags with logFormat left to auto. One sign-in, one
// refusal and one sign-out later, every line of Traefik's output is a JSON object
// that jq parses, Traefik's and ags's alike, and ags's lines carry Traefik's level,
// time, message and middleware name, and ags's event, sub, rule and reason. The
// lines, as jq prints them, go to the test's log and to a file, to be quoted.
func TestJSONLogLines(t *testing.T) {
	t.Parallel()
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Fatalf("no jq on PATH: install Debian's jq (apt-get install -y jq), or run make e2e-deps as root")
	}
	p := startProvider(t)
	p.SetClaims(p.Subject, map[string]any{"groups": []string{"admins"}})
	app, err := harness.StartApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	cfg := agsConfig(p, map[string]any{
		"requiredClaims": map[string]any{"groups": []string{"admins"}},
		"debug":          nil, // INFO and WARN lines only, as a site runs it
	})
	tr := startTraefik(t, harness.TraefikConfig{CommandLine: true, Static: func(static map[string]any) {
		static["log"].(map[string]any)["format"] = "json"
	}}, agsDynamic(app, cfg))

	admin := harness.NewClient()
	signInAs(t, admin, tr, p.Username)
	other := harness.NewClient()
	login, err := other.Get(tr.URL("/protected/page"))
	if err != nil {
		t.Fatal(err)
	}
	refused, err := other.SignIn(login, p.Username2, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != http.StatusForbidden {
		t.Fatalf("%s without the group: %d, want 403:\n%s", p.Username2, refused.Status, hops(refused.Hops))
	}
	if _, err := admin.Get(tr.URL("/sign-out")); err != nil {
		t.Fatal(err)
	}

	// Every line of Traefik's output is JSON (jq fails on the first that is not); the
	// harness's own marker lines are not Traefik's.
	var traefikLines []string
	for _, line := range strings.Split(strings.TrimSpace(tr.Log()), "\n") {
		if !strings.HasPrefix(line, "=== harness:") {
			traefikLines = append(traefikLines, line)
		}
	}
	all := runJQ(t, jq, strings.Join(traefikLines, "\n"), "-c", ".")
	if n := strings.Count(all, "\n"); n != len(traefikLines) {
		t.Errorf("jq printed %d objects for %d lines of Traefik's output", n, len(traefikLines))
	}
	shown := runJQ(t, jq, all, `select(.middlewareType == "Plugin" and (.event == "sign-in" or .event == "refusal" or .event == "sign-out"))`)
	compact := runJQ(t, jq, shown, "-c", ".")

	type line struct {
		Level, Time, Message, MiddlewareName, MiddlewareType, Event, Sub, Rule, Reason, Instance string
	}
	seen := map[string]line{}
	for _, raw := range strings.Split(strings.TrimSpace(compact), "\n") {
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if l.Level == "" || l.Time == "" || l.Message == "" || l.MiddlewareName == "" || l.Instance == "" {
			t.Errorf("a line without level, time, message, middlewareName or instance: %s", raw)
		}
		if _, dup := seen[l.Event]; !dup {
			seen[l.Event] = l
		}
	}
	want := map[string]line{
		"sign-in":  {Level: "info", Sub: p.Subject},
		"refusal":  {Level: "warn", Sub: p.Subject2},
		"sign-out": {Level: "info", Sub: p.Subject},
	}
	for event, w := range want {
		got, ok := seen[event]
		switch {
		case !ok:
			t.Errorf("no %s line in Traefik's output", event)
		case got.Level != w.Level || got.Sub != w.Sub || !strings.HasPrefix(got.MiddlewareName, "ags"):
			t.Errorf("%s: level %q, sub %q, middlewareName %q; want %q, %q, ags", event, got.Level, got.Sub, got.MiddlewareName, w.Level, w.Sub)
		case event == "refusal" && (got.Rule == "" || got.Reason == ""):
			t.Errorf("the refusal names no rule or reason: %+v", got)
		}
	}

	traefikOwn := runJQ(t, jq, all, `select(.middlewareType != "Plugin")`)
	if i := strings.Index(traefikOwn, "\n}\n"); i >= 0 {
		shown = "Traefik's own first line, for comparison:\n" + traefikOwn[:i+3] + "ags's lines:\n" + shown
	}
	out := filepath.Join(os.TempDir(), "ags-e2e-json-log-lines.txt")
	if err := os.WriteFile(out, []byte(shown), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("ags's lines of a sign-in, a refusal and a sign-out in Traefik's JSON output, as jq prints them (also in %s):\n%s", out, shown)
}

// signInAs signs user in through tr with c and expects the protected page.
func signInAs(t *testing.T, c *harness.Client, tr *harness.Traefik, user string) {
	t.Helper()
	login, err := c.Get(tr.URL("/protected/page"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SignIn(login, user, harness.TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	if v := harness.ParseAppView(page.Body); page.Status != http.StatusOK || v.View != "protected" {
		t.Fatalf("%s: after sign-in got %d, view %q; want the protected page:\n%s", user, page.Status, v.View, hops(page.Hops))
	}
}

// runJQ runs jq with args over input and returns what it prints; the test fails when
// jq does (a line that is not JSON).
func runJQ(t *testing.T, jq, input string, args ...string) string {
	t.Helper()
	cmd := exec.Command(jq, args...)
	cmd.Stdin = strings.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jq %s: %v: %s\ninput:\n%s", strings.Join(args, " "), err, stderr.String(), input)
	}
	return string(out)
}
