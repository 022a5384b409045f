package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Route is one router of Traefik's dynamic configuration: requests matching Rule on
// the web entry point go through Middlewares (names of Dynamic.Middlewares, in order)
// to Backend.
type Route struct {
	Rule        string   // Traefik rule, e.g. "PathPrefix(`/`)"
	Priority    int      // 0: Traefik's default (the rule's length)
	Middlewares []string // names of middlewares of the same Dynamic
	Backend     string   // URL of the backend, e.g. App.URL
}

// Middleware is a plugin middleware: Plugin is the key under experimental.localPlugins
// (TraefikConfig.PluginName), Config the plugin's options as a user writes them.
type Middleware struct {
	Plugin string
	Config map[string]any
}

// Dynamic is the part of Traefik's dynamic configuration that the harness writes.
type Dynamic struct {
	Routes      map[string]Route
	Middlewares map[string]Middleware
}

// readyPath is the path of the readiness router of configuration generation gen.
func readyPath(gen int) string { return fmt.Sprintf("/__harness_ready/%d", gen) }

// render builds the file provider's document. A readiness router for generation gen
// goes to Traefik's ping service, which answers "OK" (the app answers HTML), so that
// the harness can tell when Traefik has loaded this generation.
func (d *Dynamic) render(gen int) ([]byte, error) {
	routers := map[string]any{}
	services := map[string]any{}
	middlewares := map[string]any{}
	names := make([]string, 0, len(d.Routes))
	for name := range d.Routes {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("dynamic configuration without routes")
	}
	for _, name := range names {
		r := d.Routes[name]
		router := map[string]any{
			"rule":        r.Rule,
			"entryPoints": []string{"web"},
			"service":     name,
		}
		if r.Priority != 0 {
			router["priority"] = r.Priority
		}
		if len(r.Middlewares) > 0 {
			router["middlewares"] = r.Middlewares
		}
		routers[name] = router
		services[name] = map[string]any{
			"loadBalancer": map[string]any{"servers": []any{map[string]any{"url": r.Backend}}},
		}
	}
	routers["harness-ready"] = map[string]any{
		"rule":        fmt.Sprintf("Path(`%s`)", readyPath(gen)),
		"entryPoints": []string{"web"},
		"service":     "ping@internal",
		"priority":    1 << 30,
	}
	for name, m := range d.Middlewares {
		registerOptionSecrets(m.Config)
		middlewares[name] = map[string]any{"plugin": map[string]any{m.Plugin: m.Config}}
	}
	doc := map[string]any{"http": map[string]any{
		"routers":     routers,
		"services":    services,
		"middlewares": middlewares,
	}}
	// JSON is YAML: the file provider reads it as a .yml file.
	return json.MarshalIndent(doc, "", "  ")
}

// routerNames lists the routers of d as Traefik's API names them.
func (d *Dynamic) routerNames() []string {
	if d == nil {
		return nil
	}
	var names []string
	for name := range d.Routes {
		names = append(names, name+"@file")
	}
	sort.Strings(names)
	return names
}

// staticConfig builds Traefik's static configuration; plugins maps each local plugin's
// key under experimental.localPlugins to its module path. Without a dynamicFile there
// is no file provider; edit, if not nil, changes the document last.
func staticConfig(webPort, adminPort int, dynamicFile string, plugins map[string]string, logLevel string, pprof bool, edit func(map[string]any)) ([]byte, error) {
	local := map[string]any{}
	for name, module := range plugins {
		local[name] = map[string]any{"moduleName": module}
	}
	doc := map[string]any{
		"global": map[string]any{"checkNewVersion": false, "sendAnonymousUsage": false},
		"entryPoints": map[string]any{
			"web": map[string]any{
				"address": fmt.Sprintf("127.0.0.1:%d", webPort),
				"transport": map[string]any{"lifeCycle": map[string]any{
					"graceTimeOut": "1s", "requestAcceptGraceTimeout": "0s",
				}},
			},
			"traefik": map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", adminPort)},
		},
		// With a file provider, the readiness router of each generation routes to ping
		// (manualRouting); without one, Start waits for /ping on the admin port.
		"ping": map[string]any{"entryPoint": "traefik", "manualRouting": dynamicFile != ""},
		"api":  map[string]any{"insecure": true, "dashboard": false, "debug": pprof},
		"log":  map[string]any{"level": logLevel, "noColor": true},
		"providers": map[string]any{
			"providersThrottleDuration": "100ms",
		},
		"experimental": map[string]any{
			"localPlugins": local,
		},
	}
	if dynamicFile != "" {
		doc["providers"].(map[string]any)["file"] = map[string]any{"filename": dynamicFile, "watch": true}
	}
	if edit != nil {
		edit(doc)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// copyPlugin copies a plugin's root files (go.mod, go.sum, .traefik.yml and the
// non-test .go files; no folder) from src into root/plugins-local/src/{module}, where
// Traefik's local plugin loader looks, relative to its working directory root.
// It returns the plugin's module path.
func copyPlugin(src, root string) (string, error) {
	module, err := ModulePath(src)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(src, ".traefik.yml")); err != nil {
		return "", fmt.Errorf("plugin %s: %w", src, err)
	}
	dst := filepath.Join(root, "plugins-local", "src", filepath.FromSlash(module))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	copied := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		keep := name == "go.mod" || name == "go.sum" || name == ".traefik.yml" ||
			(strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go"))
		if !keep {
			continue
		}
		if err := copyFile(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return "", err
		}
		if strings.HasSuffix(name, ".go") {
			copied++
		}
	}
	if copied == 0 {
		return "", fmt.Errorf("plugin %s: no .go file", src)
	}
	return module, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeFileAtomic writes data to a temporary file next to path and renames it, so a
// watcher never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// staticFlags reads the static configuration file that staticConfig wrote and returns
// it as Traefik's command-line flags: --a.b.c=value for each leaf, a list of values
// joined by commas.
func staticFlags(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var flags []string
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if err := walk(prefix+"."+k, sub); err != nil {
					return err
				}
			}
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				if _, nested := e.(map[string]any); nested {
					return fmt.Errorf("static option %s: a list of objects has no flag form here", prefix)
				}
				parts[i] = fmt.Sprint(e)
			}
			flags = append(flags, "--"+prefix[1:]+"="+strings.Join(parts, ","))
		default:
			flags = append(flags, "--"+prefix[1:]+"="+fmt.Sprint(v))
		}
		return nil
	}
	if err := walk("", doc); err != nil {
		return nil, err
	}
	sort.Strings(flags)
	return flags, nil
}
