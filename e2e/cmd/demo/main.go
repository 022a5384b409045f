// Command demo runs ags the way a user first meets it: an OpenID provider with a demo
// user, a small app that shows what it receives, and Traefik v3.6.12 loading the ags
// plugin from this working tree in front of the app, all on 127.0.0.1. It prints
// where to go and how to sign in, shows ags's log lines as they come, and stops
// everything on Ctrl-C.
//
//	make demo                      # from the repository root
//	cd e2e && go run ./cmd/demo -port 8080 -provider-port 8081
//
// The first run builds Traefik into Go's build cache (tools/traefik/build.sh);
// later runs start in seconds.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ags-client/ags/e2e/harness"
)

// sessionSecret is the demo's: sessions survive a restart of the demo.
const sessionSecret = "ags-demo-session-secret-not-for-production-0123456789"

func main() {
	port := flag.Int("port", envInt("DEMO_PORT", 8080), "Traefik's port (DEMO_PORT)")
	providerPort := flag.Int("provider-port", envInt("DEMO_PROVIDER_PORT", 8081), "the OpenID provider's port (DEMO_PROVIDER_PORT)")
	appPort := flag.Int("app-port", envInt("DEMO_APP_PORT", 0), "the app's port, 0 for a free one (DEMO_APP_PORT)")
	flag.Parse()
	if err := run(*port, *providerPort, *appPort); err != nil {
		fmt.Fprintf(os.Stderr, "\nags demo: %v\n", err)
		os.Exit(1)
	}
}

func run(port, providerPort, appPort int) error {
	if err := checkPorts(map[string]int{"DEMO_PORT": port, "DEMO_PROVIDER_PORT": providerPort, "DEMO_APP_PORT": appPort}); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ags-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "ags.log")
	began := time.Now()
	fmt.Println("ags demo: starting")

	version, err := harness.TraefikVersion()
	if err != nil {
		return err
	}
	if err := step("Traefik "+version, "", func() (string, error) {
		bin, err := harness.TraefikBinary()
		return bin, err
	}); err != nil {
		return err
	}

	p, err := harness.NewProvider(providerPort)
	if err != nil {
		return err
	}
	// The issuer's root answers 404; its discovery document shows that it is up.
	discovery := p.URL("/.well-known/openid-configuration")
	if err := step("OpenID provider", discovery, func() (string, error) { return "", p.Start() }); err != nil {
		return err
	}
	defer p.Close()

	cfg := map[string]any{
		"issuer":             p.Issuer,
		"clientID":           harness.ClientID,
		"clientSecret":       harness.ClientSecret,
		"sessionSecret":      sessionSecret,
		"authenticatedPaths": []string{"/protected(/.*)?"},
		"identityHeaders":    map[string]string{"name": "X-Auth-Request-Name"},
		"logPath":            logPath,
	}
	var app *harness.App
	if err := step("app", "", func() (string, error) {
		app, err = harness.StartAppWith(harness.AppOptions{Port: appPort, Config: showConfig(cfg)})
		if err != nil {
			return "", err
		}
		return app.URL, nil
	}); err != nil {
		return err
	}
	defer app.Close()

	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	var tr *harness.Traefik
	if err := step("Traefik with ags from this working tree", "", func() (string, error) {
		tr, err = harness.StartTraefik(harness.TraefikConfig{Port: port, PluginDir: root}, &harness.Dynamic{
			Routes: map[string]harness.Route{
				"app": {Rule: "PathPrefix(`/`)", Middlewares: []string{"ags"}, Backend: app.URL},
			},
			Middlewares: map[string]harness.Middleware{"ags": {Plugin: "ags", Config: cfg}},
		})
		if err != nil {
			return "", err
		}
		return tr.URL("/"), nil
	}); err != nil {
		return err
	}
	defer tr.Close()

	fmt.Printf(`
ags demo is running (started in %s). Open:

    %s

    sign in as   %s
    password     %s

  protected page   %s   (sign-in required)
  open page        %s
  sign out         %s
  toggle ags       %s
  provider         %s
  ags's source     %s
  Traefik's log    %s

ags's log follows. Ctrl-C stops everything.

`, time.Since(began).Round(100*time.Millisecond), tr.URL("/"), p.Username, harness.TestPassword,
		tr.URL("/protected/"), tr.URL("/open/"), tr.URL("/sign-out"),
		tr.URL("/toggle-feature/"+harness.FlagCookie), discovery, root, tr.LogPath)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	follow(logPath, stop)
	fmt.Println("\nags demo: stopping")
	tr.Close()
	app.Close()
	p.Close()
	fmt.Println("ags demo: stopped")
	return nil
}

// step runs one start-up step and prints its outcome and how long it took.
func step(what, where string, do func() (string, error)) error {
	fmt.Printf("  %-40s ", what)
	start := time.Now()
	got, err := do()
	if err != nil {
		fmt.Println("failed")
		return fmt.Errorf("%s: %w", what, err)
	}
	if where == "" {
		where = got
	}
	fmt.Printf("%6.1fs  %s\n", time.Since(start).Seconds(), where)
	return nil
}

// checkPorts fails early, and says which variable to change, when a port is taken.
func checkPorts(ports map[string]int) error {
	for name, port := range ports {
		if port == 0 {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return fmt.Errorf("port %d on 127.0.0.1 is taken; choose another: make demo %s=<port>", port, name)
		}
		ln.Close()
	}
	return nil
}

// follow prints the lines appended to path until stop receives.
func follow(path string, stop <-chan os.Signal) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var off int64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			off = printFrom(path, off)
		}
	}
}

// printFrom prints the whole lines of path from offset off on and returns the offset
// after the last one.
func printFrom(path string, off int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return off
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil { // io.EOF with a partial line: read it whole next time
			return off
		}
		off += int64(len(line))
		fmt.Print("  " + line)
	}
}

// showConfig renders the middleware's part of Traefik's dynamic configuration for the
// app's page.
func showConfig(cfg map[string]any) string {
	doc := map[string]any{"http": map[string]any{"middlewares": map[string]any{
		"ags": map[string]any{"plugin": map[string]any{"ags": cfg}},
	}}}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err.Error()
	}
	return strings.TrimSpace(b.String())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
