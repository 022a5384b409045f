// Command stack runs the e2e stack by hand: the OpenID provider, the app and Traefik
// with the ags plugin from this working tree in front of the app, all on 127.0.0.1,
// until interrupted. It prints where to go and how to sign in.
//
//	cd e2e && go run ./cmd/stack -port 8080
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/ags-client/ags/e2e/harness"
)

func main() {
	port := flag.Int("port", 8080, "Traefik's port (0: a free one)")
	providerPort := flag.Int("provider-port", 0, "the provider's port (0: a free one)")
	secret := flag.String("session-secret", "demo-session-secret-0123456789abcdef-0123", "the plugin's sessionSecret")
	flag.Parse()

	p, err := harness.NewProvider(*providerPort)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Start(); err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	app, err := harness.StartApp()
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	cfg := map[string]any{
		"issuer":             p.Issuer,
		"clientID":           harness.ClientID,
		"clientSecret":       harness.ClientSecret,
		"authenticatedPaths": []string{"/protected(/.*)?"},
		"sessionSecret":      *secret,
	}
	tr, err := harness.StartTraefik(harness.TraefikConfig{Port: *port}, &harness.Dynamic{
		Routes: map[string]harness.Route{
			"app": {Rule: "PathPrefix(`/`)", Middlewares: []string{"ags"}, Backend: app.URL},
		},
		Middlewares: map[string]harness.Middleware{"ags": {Plugin: "ags", Config: cfg}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()

	fmt.Printf(`ags demo stack
  protected page  %s
  open page       %s
  provider        %s  (user %s, password %s)
  Traefik log     %s
Ctrl-C stops it.
`, tr.URL("/protected/"), tr.URL("/open/"), p.Issuer, p.Username, harness.TestPassword, tr.LogPath)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
