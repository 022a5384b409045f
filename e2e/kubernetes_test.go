package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ags-client/ags/e2e/harness"
)

// TestKubernetes runs examples/kubernetes as Kubernetes users run it: Traefik's
// kubernetesCRD provider reads the Middleware, the Secret and the IngressRoute from a
// real Kubernetes API (etcd and kube-apiserver, no nodes), with Traefik's own CRDs and
// the RBAC its documentation gives, through a service-account token. Only the issuer
// and the backend change (an ExternalName Service for the app on 127.0.0.1; the
// API refuses endpoints on loopback). A browser signs in at https://app.example.org
// (resolved to 127.0.0.1, the certificate from the IngressRoute's TLS Secret) with the
// client secret from the Secret; a second Traefik reading the same objects accepts the
// session; a change of the Middleware and then of the Secret reach ags without a
// restart of Traefik.
func TestKubernetes(t *testing.T) {
	t.Parallel()
	requireCommand(t, "etcd", "etcd-server")
	s := sharedStack(t)
	start := time.Now()
	k, err := harness.StartKube()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(k.Logs(30))
		}
	})
	t.Logf("etcd and kube-apiserver %s ready in %s", harness.KubeVersion, time.Since(start).Round(time.Millisecond))

	// Traefik's CRDs and RBAC, from its own module, and its service account.
	docs := traefikDocs(t)
	apply(t, k, readFile(t, filepath.Join(docs, "kubernetes-crd-definition-v1.yml")))
	if err := k.WaitEstablished("traefik.io/v1alpha1", "Middleware", "IngressRoute"); err != nil {
		t.Fatal(err)
	}
	apply(t, k, readFile(t, filepath.Join(docs, "kubernetes-crd-rbac.yml")))
	apply(t, k, []byte(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: traefik-ingress-controller
  namespace: default
`))
	token, err := k.ServiceAccountToken("default", "traefik-ingress-controller")
	if err != nil {
		t.Fatal(err)
	}

	// The app's namespace, its Service and TLS certificate, then the example's files.
	cert, err := harness.NewCertificate("app.example.org")
	if err != nil {
		t.Fatal(err)
	}
	appPort := strings.TrimPrefix(s.app.URL, "http://127.0.0.1:")
	apply(t, k, []byte(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: my-app
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: my-app
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
    - name: http
      port: %s
---
apiVersion: v1
kind: Secret
metadata:
  name: app-example-org-tls
  namespace: my-app
type: kubernetes.io/tls
stringData:
  tls.crt: %q
  tls.key: %q
`, appPort, cert.CertPEM, cert.KeyPEM)))
	// The revocation store of the Secret: a real Redis, which both Traefik processes
	// subscribe to.
	redis, err := harness.StartRedis(harness.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Close)
	apply(t, k, example(t, "secret.yaml", map[string]string{
		"replace-with-the-client-secret-from-the-provider":                 harness.ClientSecret,
		"replace-with-48-random-bytes-from-openssl-rand-base64-48":         sessionSecret,
		"redis://:replace-with-the-redis-password@redis.my-app.svc:6379/0": redis.URL(),
	}))
	apply(t, k, example(t, "middleware.yaml", map[string]string{
		"issuer: https://id.example.org": "issuer: " + s.provider.Issuer,
		"- example.org":                  "- zitadel.ch", // allowedEmailDomains: the test user's
	}))
	apply(t, k, example(t, "ingressroute.yaml", map[string]string{
		"port: 80": "port: " + appPort,
	}))

	// Two Traefik processes with the chart's websecure entry point, reading the same
	// objects as the service account.
	startOne := func() (*harness.Traefik, func(string) string) {
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		tr := startTraefik(t, harness.TraefikConfig{Static: func(doc map[string]any) {
			doc["entryPoints"].(map[string]any)["websecure"] = map[string]any{
				"address": fmt.Sprintf("127.0.0.1:%d", port),
			}
			doc["providers"].(map[string]any)["kubernetesCRD"] = map[string]any{
				"endpoint": k.URL, "token": token, "certAuthFilePath": k.CAFile,
				"allowExternalNameServices": true, "throttleDuration": "100ms",
			}
		}}, nil)
		if err := tr.WaitRouter("my-app-app-", 60*time.Second); err != nil {
			t.Fatal(err)
		}
		return tr, func(path string) string { return fmt.Sprintf("https://app.example.org:%d%s", port, path) }
	}
	_, at := startOne()
	t.Logf("API, objects and Traefik ready in %s", time.Since(start).Round(time.Millisecond))

	c := harness.NewClient()
	c.ResolveTo127(cert.Pool, "app.example.org")
	checkPaths(t, c, at, s.provider, harness.ExampleClientID, "/oidc_callback", []pathCase{
		{path: "/", open: true},
		{path: "/open/", open: true},
		{path: "/account", open: false},
		{path: "/account/", open: false},
		{path: "/admin/users", open: false},
		// featureFlagToggle: false: no toggle path, the app gets the request.
		{path: "/toggle-feature/ags_client_active", open: true},
	})

	b := requireBrowserWith(t, harness.BrowserOptions{Hosts: []string{"app.example.org"}, TrustSPKI: []string{cert.SPKIHash}})
	ctx, _ := tab(t, b.Tab(), "main")
	took := signInAt(t, ctx, at("/account"), s.provider)
	t.Logf("sign-in with the client secret from the Secret, in Chromium: %s", took)
	v := expectSignedInAt(t, ctx, at("/account"), s.provider)
	if got := v.All["X-User-Name"]; got != "Test User" {
		t.Errorf("X-User-Name = %q, want %q (identityHeaders.name of the Middleware)", got, "Test User")
	}

	// Replicas: the second Traefik opens the session sealed by the first, with the
	// sessionSecret both read from the Secret.
	_, at2 := startOne()
	openPage(t, ctx, at2("/admin/users"))
	expectSignedInAt(t, ctx, at2("/admin/users"), s.provider)
	// Both read revocationStore from the Secret: each subscribed to the store when it
	// opened its first session.
	if n := storeSubscribers(t, redis); n != 2 {
		t.Errorf("the revocation store has %d subscribers, want 2 (one per Traefik process)", n)
	}

	// The Middleware changes: a new identity header reaches the app through both.
	if got := readApp(t, ctx).All["X-User-Email"]; got != "" {
		t.Fatalf("X-User-Email = %q before the Middleware names it", got)
	}
	err = k.Patch("traefik.io/v1alpha1", "Middleware", "my-app", "sign-in", map[string]any{
		"spec": map[string]any{"plugin": map[string]any{"ags": map[string]any{
			"identityHeaders": map[string]any{"email": "X-User-Email"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{at("/account"), at2("/account")} {
		waitFor(t, ctx, u, 30*time.Second, "the Middleware's new identity header", func() bool {
			v := readApp(t, ctx)
			return v.User == s.provider.Subject && v.All["X-User-Email"] == s.provider.Email
		})
	}
	t.Log("the Middleware's change reached ags in both Traefik processes, the browser still signed in")

	// The Secret changes: a new sessionSecret, so the session sealed with the old one
	// is no longer accepted, in either Traefik; signing in again works.
	newSecret := "rotated-session-secret-0123456789abcdef-0123456789"
	if err := k.Patch("v1", "Secret", "my-app", "ags", map[string]any{
		"stringData": map[string]string{"sessionSecret": newSecret},
	}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{at("/account"), at2("/account")} {
		waitFor(t, ctx, u, 30*time.Second, "the login page (the session sealed with the old sessionSecret)", func() bool {
			return strings.HasPrefix(location(t, ctx), s.provider.URL("/login/username"))
		})
	}
	t.Log("the Secret's change reached ags in both Traefik processes")
	signInAt(t, ctx, at2("/admin/users"), s.provider)
	openPage(t, ctx, at("/account"))
	expectSignedInAt(t, ctx, at("/account"), s.provider)
}

// storeSubscribers is the number of connections subscribed to ags's revocation
// channel.
func storeSubscribers(t *testing.T, r *harness.Redis) int64 {
	t.Helper()
	v, err := r.Do("PUBSUB", "NUMSUB", "ags:revocations")
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := v.([]any)
	if len(reply) != 2 {
		t.Fatalf("PUBSUB NUMSUB: %#v", v)
	}
	n, _ := reply[1].(int64)
	return n
}

// waitFor opens u in the tab until ok says the page is as expected, or fails after d.
func waitFor(t *testing.T, ctx context.Context, u string, d time.Duration, what string, ok func() bool) {
	t.Helper()
	start := time.Now()
	for {
		openPage(t, ctx, u)
		if ok() {
			t.Logf("%s: %s after %s", u, what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > d {
			t.Fatalf("%s: no %s after %s; the browser is at %s showing %q", u, what, d, location(t, ctx), lastLines(pageText(t, ctx), 20))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// traefikDocs is the folder of Traefik's reference configuration files in its module
// (the version of tools/traefik/go.mod), from Go's module cache.
func traefikDocs(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	version, err := harness.TraefikVersion()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", harness.TraefikModule+"@"+version)
	cmd.Dir = filepath.Join(root, "tools", "traefik")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download traefik: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download traefik: no Dir in %s", out)
	}
	return filepath.Join(mod.Dir, "docs", "content", "reference", "dynamic-configuration")
}

// example is a file of examples/kubernetes with each key of change replaced by its
// value; every key must be in the file.
func example(t *testing.T, name string, change map[string]string) []byte {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := string(readFile(t, filepath.Join(root, "examples", "kubernetes", name)))
	for from, to := range change {
		if strings.Count(s, from) != 1 {
			t.Fatalf("examples/kubernetes/%s: %q is not there once", name, from)
		}
		s = strings.Replace(s, from, to, 1)
	}
	return []byte(s)
}

// apply creates each object of a YAML stream (documents separated by ---), as
// kubectl create -f does.
func apply(t *testing.T, k *harness.Kube, stream []byte) {
	t.Helper()
	for _, doc := range strings.Split("\n"+string(stream)+"\n", "\n---\n") {
		var o struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
			} `yaml:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if o.Kind == "" {
			continue // a document of comments only
		}
		if err := k.Create(o.APIVersion, o.Kind, o.Metadata.Namespace, []byte(doc)); err != nil {
			t.Fatalf("create %s %s: %v", o.Kind, o.Metadata.Name, err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
