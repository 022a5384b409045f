package docs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// site is one place in a deployment file that configures an ags middleware.
type site struct {
	file      string         // relative to the repository root
	where     string         // e.g. http.middlewares.sign-in.plugin.ags
	name      string         // the middleware's name
	plugin    string         // the key under experimental.plugins / localPlugins
	namespace string         // the Kubernetes namespace, for urn:k8s:secret references
	options   map[string]any // as Traefik hands them to the plugin
}

// deployment is what the YAML files of one examples/ folder say together.
type deployment struct {
	dir      string
	sites    []site
	plugins  map[string]string            // plugin key -> module, from the static configuration
	versions map[string]string            // plugin key -> catalog version
	env      map[string]string            // Traefik's environment (AGS_CLIENT_* only)
	secrets  map[string]map[string]string // "namespace/name" -> key -> value
}

// TestExamplesUseRealOptions reads every YAML file under examples/ and checks each
// ags middleware in it the way Traefik would load it: the options decoded into
// ags.Config as Traefik's plugin loader does (case-insensitive names, weak types,
// comma-separated strings to lists), unknown options rejected, secrets and files
// filled in, then ags.New, the real validation, must accept it. The plugin must be
// declared in the folder's static configuration under this repository's module name.
func TestExamplesUseRealOptions(t *testing.T) {
	opts := readOptionTable(t)
	envNames := map[string]bool{}
	for _, o := range opts {
		envNames[o.env] = true
	}
	module := pluginModule(t)
	deployments := readExamples(t)
	for _, want := range []string{"file", "docker", "kubernetes"} {
		if _, ok := deployments[want]; !ok {
			t.Errorf("examples/%s: missing", want)
		}
	}
	for _, d := range deployments {
		t.Run(d.dir, func(t *testing.T) {
			if len(d.sites) == 0 {
				t.Fatalf("examples/%s: no ags middleware found in its YAML files", d.dir)
			}
			if len(d.plugins) == 0 {
				t.Fatalf("examples/%s: no experimental.plugins or experimental.localPlugins declaration", d.dir)
			}
			for key, mod := range d.plugins {
				if mod != module {
					t.Errorf("examples/%s: plugin %q has moduleName %q, want %q", d.dir, key, mod, module)
				}
			}
			for key, v := range d.versions {
				if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(v) {
					t.Errorf("examples/%s: plugin %q has version %q, want vMAJOR.MINOR.PATCH", d.dir, key, v)
				}
			}
			for name := range d.env {
				if !envNames[name] {
					t.Errorf("examples/%s: Traefik's environment sets %s, which is not an ags variable (README option table)", d.dir, name)
				}
			}
			for _, s := range d.sites {
				t.Run(s.name, func(t *testing.T) {
					if _, ok := d.plugins[s.plugin]; !ok {
						t.Fatalf("%s: %s: plugin %q is not declared in the static configuration of examples/%s", s.file, s.where, s.plugin, d.dir)
					}
					checkSite(t, d, s, opts)
				})
			}
		})
	}
}

// checkSite decodes one middleware's options as Traefik does and runs ags.New on them.
func checkSite(t *testing.T, d *deployment, s site, opts []option) {
	t.Helper()
	known := map[string]option{}
	for _, o := range opts {
		known[o.name] = o
	}
	options := map[string]any{}
	for key, v := range s.options {
		if _, ok := known[key]; !ok {
			t.Errorf("%s: %s: %q is not an ags option (spelled as in the README's table)", s.file, s.where, key)
		}
		v, err := resolveSecrets(v, d, s.namespace)
		if err != nil {
			t.Errorf("%s: %s.%s: %v", s.file, s.where, key, err)
		}
		options[key] = v
	}
	fillFiles(t, options)
	clearAGSEnv(t, opts)
	for name, v := range d.env {
		t.Setenv(name, v)
	}
	if _, err := newFromTraefikConfig(options, s.name); err != nil {
		t.Errorf("%s: %s: ags rejects it: %v", s.file, s.where, err)
	}
}

// readExamples parses every *.yml and *.yaml file under examples/, by folder.
func readExamples(t *testing.T) map[string]*deployment {
	t.Helper()
	root := repoRoot(t)
	out := map[string]*deployment{}
	n := 0
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := strings.SplitN(filepath.ToSlash(rel), "/", 3)[1]
		d := out[dir]
		if d == nil {
			d = &deployment{dir: dir, plugins: map[string]string{}, versions: map[string]string{},
				env: map[string]string{}, secrets: map[string]map[string]string{}}
			out[dir] = d
		}
		docs, err := readYAML(path)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for _, doc := range docs {
			d.read(filepath.ToSlash(rel), doc)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML file under examples/")
	}
	return out
}

// readYAML decodes every document of a YAML file (decodeYAML). yaml.v3 rejects
// duplicate keys.
func readYAML(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeYAML(string(data))
}

// read finds in one YAML document what Traefik would read: static plugin
// declarations (a static file, Helm values, compose command arguments), middlewares
// (file provider, Kubernetes Middleware, Docker labels), Traefik's environment and
// Kubernetes Secrets.
func (d *deployment) read(file string, doc map[string]any) {
	// Static configuration: traefik.yml or the chart's values.
	for key, p := range mapAt(doc, "experimental", "plugins") {
		d.plugins[key] = str(asMap(p)["moduleName"])
		d.versions[key] = str(asMap(p)["version"])
	}
	for key, p := range mapAt(doc, "experimental", "localPlugins") {
		d.plugins[key] = str(asMap(p)["moduleName"])
	}
	// The chart's env for Traefik's container.
	for _, e := range asList(doc["env"]) {
		if name := str(asMap(e)["name"]); strings.HasPrefix(name, "AGS_CLIENT_") {
			d.env[name] = placeholder(name, str(asMap(e)["value"]))
		}
	}
	// File provider.
	for name, mw := range mapAt(doc, "http", "middlewares") {
		for plugin, opts := range mapAt(mw, "plugin") {
			d.sites = append(d.sites, site{file: file, where: "http.middlewares." + name + ".plugin." + plugin,
				name: name, plugin: plugin, options: asMap(opts)})
		}
	}
	switch doc["kind"] {
	case "Middleware":
		meta := asMap(doc["metadata"])
		for plugin, opts := range mapAt(doc, "spec", "plugin") {
			d.sites = append(d.sites, site{file: file, where: "Middleware " + str(meta["name"]) + " spec.plugin." + plugin,
				name: str(meta["name"]), plugin: plugin, namespace: str(meta["namespace"]), options: asMap(opts)})
		}
	case "Secret":
		meta := asMap(doc["metadata"])
		values := map[string]string{}
		for k, v := range asMap(doc["data"]) {
			b, _ := base64.StdEncoding.DecodeString(str(v))
			values[k] = string(b)
		}
		for k, v := range asMap(doc["stringData"]) {
			values[k] = str(v)
		}
		d.secrets[str(meta["namespace"])+"/"+str(meta["name"])] = values
	}
	// Docker compose: labels, Traefik's command line and environment.
	for _, svc := range asMap(doc["services"]) {
		svc := asMap(svc)
		d.readLabels(file, svc["labels"])
		for _, arg := range asList(svc["command"]) {
			d.readStaticArg(str(arg))
		}
		for name, v := range keyValues(svc["environment"]) {
			if strings.HasPrefix(name, "AGS_CLIENT_") {
				d.env[name] = placeholder(name, v)
			}
		}
	}
}

var staticArg = regexp.MustCompile(`(?i)^--experimental\.(plugins|localPlugins)\.([^.=]+)\.(moduleName|version)=(.*)$`)

// readStaticArg reads a plugin declaration from a Traefik command-line argument.
func (d *deployment) readStaticArg(arg string) {
	m := staticArg.FindStringSubmatch(arg)
	if m == nil {
		return
	}
	if strings.EqualFold(m[3], "version") {
		d.versions[m[2]] = m[4]
	} else {
		d.plugins[m[2]] = m[4]
	}
}

var pluginLabel = regexp.MustCompile(`^traefik\.http\.middlewares\.([^.]+)\.plugin\.([^.]+)\.(.+)$`)

// readLabels turns traefik.http.middlewares.NAME.plugin.PLUGIN.a.b=v labels into the
// map Traefik's label parser gives the plugin: strings, nested maps for dotted keys.
func (d *deployment) readLabels(file string, labels any) {
	byMiddleware := map[[2]string]map[string]any{}
	var order [][2]string
	for key, v := range keyValues(labels) {
		m := pluginLabel.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		id := [2]string{m[1], m[2]}
		if byMiddleware[id] == nil {
			byMiddleware[id] = map[string]any{}
			order = append(order, id)
		}
		node := byMiddleware[id]
		parts := strings.Split(m[3], ".")
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		node[parts[len(parts)-1]] = v
	}
	sort.Slice(order, func(i, j int) bool { return order[i][0] < order[j][0] })
	for _, id := range order {
		d.sites = append(d.sites, site{file: file, where: "labels traefik.http.middlewares." + id[0] + ".plugin." + id[1],
			name: id[0], plugin: id[1], options: byMiddleware[id]})
	}
}

// keyValues reads a compose list ("KEY=value" strings) or map.
func keyValues(v any) map[string]string {
	out := map[string]string{}
	for _, item := range asList(v) {
		k, val, _ := strings.Cut(str(item), "=")
		out[k] = val
	}
	for k, val := range asMap(v) {
		out[k] = str(val)
	}
	return out
}

var interpolation = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|:?\?[^}]*)?\}$`)

// placeholder stands in for a value that the deployment supplies at run time
// (compose's ${VAR:?...}): long enough to pass as any secret.
func placeholder(name, v string) string {
	m := interpolation.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	if m[2] != "" {
		return m[3]
	}
	return "placeholder-for-" + strings.ToLower(name) + "-0123456789abcdef"
}

// resolveSecrets replaces urn:k8s:secret:NAME:KEY strings, as Traefik's Kubernetes
// provider does, with KEY of the Secret NAME in the middleware's namespace, found
// among the folder's YAML files.
func resolveSecrets(v any, d *deployment, namespace string) (any, error) {
	switch v := v.(type) {
	case string:
		if !strings.HasPrefix(v, "urn:k8s:secret:") {
			return v, nil
		}
		parts := strings.Split(v, ":")
		if len(parts) != 5 {
			return nil, fmt.Errorf("malformed secret URN %q", v)
		}
		secret, ok := d.secrets[namespace+"/"+parts[3]]
		if !ok {
			return nil, fmt.Errorf("%s: no Secret %s/%s in examples/%s", v, namespace, parts[3], d.dir)
		}
		value, ok := secret[parts[4]]
		if !ok {
			return nil, fmt.Errorf("%s: the Secret %s/%s has no key %s", v, namespace, parts[3], parts[4])
		}
		return value, nil
	case []any:
		out := make([]any, len(v))
		for i := range v {
			var err error
			if out[i], err = resolveSecrets(v[i], d, namespace); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k := range v {
			var err error
			if out[k], err = resolveSecrets(v[k], d, namespace); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// fillFiles points the options that name a file of the deployment (which does not
// exist here) at a temporary file of the right kind.
func fillFiles(t *testing.T, options map[string]any) {
	t.Helper()
	dir := t.TempDir()
	// One key for the site, so that a certificate (clientCertificateFile) is of it.
	keyPEM, certPEM := testKeyAndCertificate(t)
	for key, v := range options {
		path, ok := v.(string)
		if !ok || path == "" {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			continue
		}
		switch key {
		case "clientSecretFile":
			options[key] = writeFile(t, dir, "client-secret", "placeholder-client-secret\n")
		case "caFile":
			options[key] = writeFile(t, dir, "ca.pem", testCertificate(t))
		case "clientPrivateKeyFile":
			options[key] = writeFile(t, dir, "client-key.pem", keyPEM)
		case "clientCertificateFile":
			options[key] = writeFile(t, dir, "client-cert.pem", certPEM)
		case "logPath":
			options[key] = filepath.Join(dir, "ags.log")
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testKeyAndCertificate returns a P-256 private key in PEM (PKCS #8), as Apple's .p8
// is, and a self-signed certificate of it.
func testKeyAndCertificate(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "example client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
}

// testCertificate returns a self-signed CA certificate in PEM.
func testCertificate(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// mapAt follows keys through nested maps and returns the map found there.
func mapAt(v any, keys ...string) map[string]any {
	for _, k := range keys {
		v = asMap(v)[k]
	}
	return asMap(v)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// str renders a scalar as Traefik's label and file parsers would hand it on.
func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
