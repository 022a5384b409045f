package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ags-client/ags/e2e/harness"
)

// dockerSubnet is the test network's; nothing else on the machine uses it, and
// dockerd is run without iptables, so it reaches no further than this machine.
const dockerSubnet = "10.211.53.0/24"

// TestDockerLabels runs examples/docker/compose.yaml as Docker users run it: Traefik's
// Docker provider reads the app container's labels from a real Docker daemon (the
// test's own dockerd), and Traefik's environment holds the secrets. Only the issuer
// changes; the app is the test's own backend in an image FROM scratch. A browser signs
// in at app.example.org (resolved to 127.0.0.1); a container started later with other
// labels (a second router with its own ags options) is picked up without a restart.
func TestDockerLabels(t *testing.T) {
	t.Parallel()
	requireCommand(t, "dockerd", "docker.io")
	if os.Geteuid() != 0 {
		msg := "dockerd needs root: run the test as root (README, \"Without root\")"
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and " + msg)
		}
		t.Skip("skipped: " + msg)
	}
	// A provider of its own: the test gives the user other claims midway, which the
	// tests beside it on the shared provider must not see.
	p := startProvider(t)
	start := time.Now()

	d, err := harness.StartDocker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- dockerd (tail):\n%s", d.Log(40))
		}
	})
	t.Logf("dockerd ready in %s", time.Since(start).Round(time.Millisecond))

	image := buildAppImage(t, d)
	const network = "ags-e2e"
	if err := d.CreateNetwork(network, dockerSubnet); err != nil {
		t.Fatal(err)
	}
	labels := composeLabels(t, map[string]string{
		"traefik.http.middlewares.sign-in.plugin.ags.issuer": p.Issuer,
		// The test user's address is at the example provider's domain.
		"traefik.http.middlewares.sign-in.plugin.ags.allowedEmailDomains": "zitadel.ch",
	})
	if _, err := d.Run("app", image, network, labels); err != nil {
		t.Fatal(err)
	}

	// compose.yaml's Traefik, with the test's ports and no certificate resolver: the
	// Docker provider on the test's daemon, the secrets in the environment.
	tr := startTraefik(t, harness.TraefikConfig{
		Env: []string{"AGS_CLIENT_SECRET=" + harness.ClientSecret, "AGS_CLIENT_SESSION_SECRET=" + sessionSecret},
		Static: func(doc map[string]any) {
			doc["providers"].(map[string]any)["docker"] = map[string]any{
				"endpoint": d.Endpoint, "exposedByDefault": false, "network": network,
			}
			// Routers without entryPoints (as in the labels) go to the default ones.
			doc["entryPoints"].(map[string]any)["web"].(map[string]any)["asDefault"] = true
		},
	}, nil)
	if err := tr.WaitRouter("app@docker", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd, image, container and Traefik with the labels ready in %s", time.Since(start).Round(time.Millisecond))

	appURL := func(path string) string { return fmt.Sprintf("http://app.example.org:%d%s", tr.Port, path) }
	c := harness.NewClient()
	c.ResolveTo127(nil, "app.example.org", "other.example.org")
	checkPaths(t, c, appURL, p, harness.ExampleClientID, "/oidc_callback", []pathCase{
		{path: "/", open: true},
		{path: "/open/", open: true},
		{path: "/account", open: false},
		{path: "/admin/users", open: false},
		// featureFlagToggle=false: no toggle path, the app gets the request.
		{path: "/toggle-feature/ags_client_active", open: true},
	})

	b := requireBrowserWith(t, harness.BrowserOptions{Hosts: []string{"app.example.org", "other.example.org"}})
	ctx, _ := tab(t, b.Tab(), "main")
	took := signInAt(t, ctx, appURL("/account"), p)
	t.Logf("sign-in through the labels' middleware in Chromium: %s", took)
	v := expectSignedInAt(t, ctx, appURL("/account"), p)
	if got := v.All["X-User-Name"]; got != "Test User" {
		t.Errorf("X-User-Name = %q, want %q (identityHeaders.name from the labels)", got, "Test User")
	}

	// A second app with labels of its own: everything protected, another callback path.
	other := map[string]string{
		"traefik.enable":                                                       "true",
		"traefik.http.routers.other.rule":                                      "Host(`other.example.org`)",
		"traefik.http.routers.other.middlewares":                               "other-sign-in",
		"traefik.http.middlewares.other-sign-in.plugin.ags.issuer":             p.Issuer,
		"traefik.http.middlewares.other-sign-in.plugin.ags.clientID":           harness.ExampleClientID,
		"traefik.http.middlewares.other-sign-in.plugin.ags.authenticatedPaths": "/.*",
		"traefik.http.middlewares.other-sign-in.plugin.ags.callbackPath":       "auth-callback",
		// Access rules by label: a list, and a nested claim (the key's dots nest).
		"traefik.http.middlewares.other-sign-in.plugin.ags.requiredClaims.groups":             "staff,ops",
		"traefik.http.middlewares.other-sign-in.plugin.ags.requiredClaims.realm_access.roles": "wiki-editor",
	}
	started := time.Now()
	if _, err := d.Run("other", image, network, other); err != nil {
		t.Fatal(err)
	}
	if err := tr.WaitRouter("other@docker", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("Traefik picked up the second container's labels in %s", time.Since(started).Round(time.Millisecond))
	otherURL := func(path string) string { return fmt.Sprintf("http://other.example.org:%d%s", tr.Port, path) }
	checkPaths(t, c, otherURL, p, harness.ExampleClientID, "/auth-callback", []pathCase{
		{path: "/open/", open: false},
		{path: "/", open: false},
	})
	// The first app's router and session are as they were.
	openPage(t, ctx, appURL("/open/"))
	expectSignedInAt(t, ctx, appURL("/open/"), p)
	// The second app's rules took effect: a user in ops without the wiki-editor role is
	// refused, every time; with the role (a new sign-in) they pass.
	p.SetClaims(p.Subject, map[string]any{
		"groups": []string{"ops"}, "realm_access": map[string]any{"roles": []string{"reader"}}})
	if status := openPage(t, ctx, otherURL("/open/")); status != 200 {
		t.Fatalf("open the second app: the login page answered %d", status)
	}
	expectLoginPage(t, ctx, p)
	if status := submitLogin(t, ctx, p, harness.TestPassword); status != 403 {
		t.Fatalf("without the role: got %d at %s, want 403 (%q)", status, location(t, ctx), lastLines(pageText(t, ctx), 5))
	}
	if status := openPage(t, ctx, otherURL("/open/")); status != 403 {
		t.Fatalf("without the role, again: got %d, want 403", status)
	}
	if text, err := harness.Text(ctx); err == nil && !strings.Contains(text, "Access denied") {
		t.Errorf("the 403 page says %q, want Access denied", lastLines(text, 5))
	}
	p.SetClaims(p.Subject, map[string]any{
		"groups": []string{"ops"}, "realm_access": map[string]any{"roles": []string{"wiki-editor"}}})
	openPage(t, ctx, otherURL("/sign-out"))
	took = signInAt(t, ctx, otherURL("/open/"), p)
	t.Logf("sign-in through the second container's middleware: %s", took)
}

// buildAppImage builds the app (cmd/app) as a static binary and an image FROM scratch
// that holds only it, as the app's own image would be in a deployment.
func buildAppImage(t *testing.T, d *harness.Docker) string {
	t.Helper()
	start := time.Now()
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/app: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	const image = "ags-e2e-app"
	err = d.BuildImage(image, "FROM scratch\nCOPY app /app\nEXPOSE 80\nENTRYPOINT [\"/app\", \"-listen\", \":80\"]\n",
		map[string]harness.File{"app": {Data: data, Mode: 0o755}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s (the app, static, FROM scratch) built in %s", image, time.Since(start).Round(time.Millisecond))
	return image
}

// composeLabels returns the labels of the app service of examples/docker/compose.yaml,
// with the values of change in place of the file's.
func composeLabels(t *testing.T, change map[string]string) map[string]string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "docker", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Labels []string `yaml:"labels"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for _, l := range compose.Services["app"].Labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("compose.yaml: label %q has no =", l)
		}
		labels[k] = v
	}
	for k, v := range change {
		if _, ok := labels[k]; !ok {
			t.Fatalf("compose.yaml: no label %s to change", k)
		}
		labels[k] = v
	}
	return labels
}

// pathCase is a path and whether ags lets a signed-out request through to the app.
type pathCase struct {
	path string
	open bool
}

// checkPaths requests each path signed out with a plain client: an open path shows the
// app's page, a protected one redirects to p's authorization endpoint for clientID,
// with the callback at callback on the same origin.
func checkPaths(t *testing.T, c *harness.Client, at func(string) string, p *harness.Provider, clientID, callback string, cases []pathCase) {
	t.Helper()
	for _, tc := range cases {
		resp, err := c.HTTP.Get(at(tc.path))
		if err != nil {
			t.Fatalf("GET %s: %v", at(tc.path), err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if tc.open {
			if resp.StatusCode != 200 {
				t.Errorf("GET %s signed out: got %d (Location %q), want 200 from the app", at(tc.path), resp.StatusCode, loc)
			}
			continue
		}
		if resp.StatusCode != 302 || !strings.HasPrefix(loc, p.URL("/")) {
			t.Errorf("GET %s signed out: got %d to %q, want 302 to the provider", at(tc.path), resp.StatusCode, loc)
			continue
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if got := q.Get("client_id"); got != clientID {
			t.Errorf("GET %s: client_id %q, want %q", at(tc.path), got, clientID)
		}
		if got, want := q.Get("redirect_uri"), at(callback); got != want {
			t.Errorf("GET %s: redirect_uri %q, want %q", at(tc.path), got, want)
		}
	}
}
