package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TraefikModule is the module whose version in tools/traefik/go.mod is the Traefik
// release that the tests, the demo and the benchmark run.
const TraefikModule = "github.com/traefik/traefik/v3"

// TraefikVersion returns the Traefik release the harness runs: the version of
// TraefikModule that tools/traefik/go.mod requires. That line is the repository's one
// record of it (tools/traefik/build.sh builds what it names), so moving to another
// release is one edit there and `go mod tidy`.
func TraefikVersion() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return RequiredVersion(filepath.Join(root, "tools", "traefik", "go.mod"), TraefikModule)
}

// TraefikConfig says how to run a Traefik process.
type TraefikConfig struct {
	PluginDir  string   // the plugin's source folder; "" means $AGS_PLUGIN_DIR or RepoRoot() (ags)
	PluginName string   // its key under experimental.localPlugins; "" means "ags"
	Port       int      // web entry point port; 0 picks a free one
	LogLevel   string   // Traefik's log level; "" means $AGS_E2E_TRAEFIK_LOG_LEVEL or INFO
	Env        []string // more environment variables (KEY=value) for Traefik
	// MorePlugins are more local plugins beside the first: key under
	// experimental.localPlugins to source folder (e.g. a benchmark's empty plugin).
	MorePlugins map[string]string
	// Pprof serves Go's profiles on the admin port under /debug/pprof/ (api.debug),
	// for a benchmark that looks into where Traefik's time goes.
	Pprof bool
	// Static, if not nil, changes the static configuration before it is written: more
	// entry points, the Docker or Kubernetes provider. With a nil Dynamic there is no
	// file provider, and Start waits only for Traefik's ping on AdminPort.
	Static func(static map[string]any)
	// CommandLine passes the static configuration as command-line flags
	// (--log.format=json) instead of a file, as a Helm chart runs Traefik: a plugin
	// sees Traefik's command line (os.Args), never its configuration file.
	CommandLine bool
}

// Traefik is a Traefik process listening on 127.0.0.1:Port (entry point "web"), with
// ping and the API on AdminPort, its file provider watching a dynamic configuration
// that SetDynamic rewrites. Its output goes to LogPath.
type Traefik struct {
	Port      int
	AdminPort int
	Dir       string // working directory, holds plugins-local, the configuration, the log
	LogPath   string
	Module    string // the plugin's module path

	bin     string
	cfg     TraefikConfig
	dynPath string

	mu      sync.Mutex
	gen     int
	dynamic *Dynamic
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
}

// StartTraefik copies the plugin into a new temporary folder, writes the static and
// dynamic configuration, starts Traefik and waits until every router of dyn is loaded.
func StartTraefik(cfg TraefikConfig, dyn *Dynamic) (*Traefik, error) {
	bin, err := TraefikBinary()
	if err != nil {
		return nil, err
	}
	if cfg.PluginDir == "" {
		cfg.PluginDir = os.Getenv("AGS_PLUGIN_DIR")
	}
	if cfg.PluginDir == "" {
		if cfg.PluginDir, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	if cfg.PluginName == "" {
		cfg.PluginName = "ags"
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = os.Getenv("AGS_E2E_TRAEFIK_LOG_LEVEL")
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "INFO"
	}
	dir, err := os.MkdirTemp("", "ags-e2e-traefik-")
	if err != nil {
		return nil, err
	}
	t := &Traefik{Dir: dir, LogPath: filepath.Join(dir, "traefik.log"), bin: bin, cfg: cfg,
		dynPath: filepath.Join(dir, "dynamic.yml")}
	if err := t.setup(dyn); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := t.Start(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Traefik) setup(dyn *Dynamic) error {
	var err error
	if t.Module, err = copyPlugin(t.cfg.PluginDir, t.Dir); err != nil {
		return err
	}
	modules := map[string]string{t.cfg.PluginName: t.Module}
	for name, dir := range t.cfg.MorePlugins {
		if _, dup := modules[name]; dup {
			return fmt.Errorf("local plugin %q twice", name)
		}
		if modules[name], err = copyPlugin(dir, t.Dir); err != nil {
			return err
		}
	}
	if t.Port = t.cfg.Port; t.Port == 0 {
		if t.Port, err = FreePort(); err != nil {
			return err
		}
	}
	if t.AdminPort, err = FreePort(); err != nil {
		return err
	}
	if dyn == nil {
		t.dynPath = ""
	}
	static, err := staticConfig(t.Port, t.AdminPort, t.dynPath, modules, t.cfg.LogLevel, t.cfg.Pprof, t.cfg.Static)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t.Dir, "traefik.yml"), static, 0o644); err != nil {
		return err
	}
	registerConfigSecrets(t.cfg.Env)
	return t.writeDynamic(dyn)
}

// URL returns http://127.0.0.1:{Port}{path}.
func (t *Traefik) URL(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", t.Port, path) }

// Start starts the process (after Stop) and waits until it has loaded the current
// dynamic configuration.
func (t *Traefik) Start() error {
	t.mu.Lock()
	if t.cmd != nil {
		t.mu.Unlock()
		return errors.New("traefik already running")
	}
	logf, err := os.OpenFile(t.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "=== harness: starting %s at %s\n", t.bin, time.Now().Format(time.RFC3339Nano))
	args := []string{"--configFile=" + filepath.Join(t.Dir, "traefik.yml")}
	if t.cfg.CommandLine {
		if args, err = staticFlags(filepath.Join(t.Dir, "traefik.yml")); err != nil {
			logf.Close()
			t.mu.Unlock()
			return err
		}
	}
	cmd := exec.Command(t.bin, args...)
	cmd.Dir = t.Dir // local plugins are read from ./plugins-local
	cmd.Env = append(cleanEnv(), t.cfg.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.mu.Unlock()
		return err
	}
	trackLog(t, t.LogPath)
	done := make(chan struct{})
	t.cmd, t.done, t.exitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		t.mu.Lock()
		t.exitErr = err
		t.mu.Unlock()
		close(done)
	}()
	gen := t.gen
	t.mu.Unlock()
	return t.waitLoaded(gen, 60*time.Second)
}

// cleanEnv is the test's environment without AGS_CLIENT_* variables, which the plugin
// would read for the options its configuration leaves empty.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGS_CLIENT_") {
			env = append(env, kv)
		}
	}
	return env
}

// SetDynamic rewrites the dynamic configuration file and waits until Traefik has
// reloaded it (the file provider watches it) and loaded every router.
func (t *Traefik) SetDynamic(dyn *Dynamic) error {
	if err := t.writeDynamic(dyn); err != nil {
		return err
	}
	t.mu.Lock()
	gen := t.gen
	t.mu.Unlock()
	return t.waitLoaded(gen, 30*time.Second)
}

// Dynamic returns the dynamic configuration in force (do not modify it).
func (t *Traefik) Dynamic() *Dynamic {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dynamic
}

func (t *Traefik) writeDynamic(dyn *Dynamic) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dynPath == "" {
		if dyn != nil {
			return errors.New("this Traefik has no file provider (started with a nil Dynamic)")
		}
		return nil
	}
	data, err := dyn.render(t.gen + 1)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(t.dynPath, data); err != nil {
		return err
	}
	t.gen++
	t.dynamic = dyn
	return nil
}

// waitLoaded waits until the readiness router of generation gen answers and the API
// reports every router of the configuration as enabled.
func (t *Traefik) waitLoaded(gen int, timeout time.Duration) error {
	t.mu.Lock()
	done := t.done
	routers := t.dynamic.routerNames()
	t.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	ready := t.URL(readyPath(gen))
	if t.dynPath == "" {
		ready = fmt.Sprintf("http://127.0.0.1:%d/ping", t.AdminPort)
	}
	err := waitUntil(timeout, 50*time.Millisecond, func() error {
		select {
		case <-done:
			return stopError{fmt.Errorf("traefik exited: %v", t.ExitErr())}
		default:
		}
		resp, err := client.Get(ready)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "OK" {
			return fmt.Errorf("GET %s: %s (not yet the ping service)", ready, resp.Status)
		}
		return nil
	})
	if err == nil {
		err = t.checkRouters(client, routers)
	}
	if err != nil {
		return fmt.Errorf("traefik on port %d not ready: %w\n--- %s (tail):\n%s", t.Port, err, t.LogPath, tail(t.Log(), 60))
	}
	return nil
}

// checkRouters asks Traefik's API for the status of each router.
func (t *Traefik) checkRouters(client *http.Client, names []string) error {
	for _, name := range names {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/api/http/routers/%s", t.AdminPort, name))
		if err != nil {
			return err
		}
		var info struct {
			Status string   `json:"status"`
			Err    []string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("router %s: %s: %w", name, resp.Status, err)
		}
		if info.Status != "enabled" || len(info.Err) > 0 {
			return fmt.Errorf("router %s is %q: %s", name, info.Status, strings.Join(info.Err, "; "))
		}
	}
	return nil
}

// WaitRouter waits until Traefik's API lists a router whose name starts with prefix
// (e.g. "app@docker", or "my-app-app-" for an IngressRoute) as enabled, without
// errors. It is how a test knows that a provider other than the file provider has
// delivered its configuration.
func (t *Traefik) WaitRouter(prefix string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	err := waitUntil(timeout, 100*time.Millisecond, func() error {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/api/http/routers", t.AdminPort))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var routers []struct {
			Name   string   `json:"name"`
			Status string   `json:"status"`
			Err    []string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&routers); err != nil {
			return fmt.Errorf("GET /api/http/routers: %s: %w", resp.Status, err)
		}
		var seen []string
		for _, r := range routers {
			if !strings.HasPrefix(r.Name, prefix) {
				seen = append(seen, r.Name)
				continue
			}
			if r.Status != "enabled" || len(r.Err) > 0 {
				return fmt.Errorf("router %s is %q: %s", r.Name, r.Status, strings.Join(r.Err, "; "))
			}
			return nil
		}
		return fmt.Errorf("no router %s* yet (routers: %s)", prefix, strings.Join(seen, ", "))
	})
	if err != nil {
		return fmt.Errorf("traefik on port %d: %w\n--- %s (tail):\n%s", t.Port, err, t.LogPath, tail(t.Log(), 60))
	}
	return nil
}

// Stop sends SIGTERM, then SIGKILL after 5 seconds, and waits for the exit.
func (t *Traefik) Stop() error {
	t.mu.Lock()
	cmd, done := t.cmd, t.done
	t.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	t.mu.Lock()
	t.cmd = nil
	t.mu.Unlock()
	return nil
}

// Restart stops and starts the process, on the same ports and configuration.
func (t *Traefik) Restart() error {
	if err := t.Stop(); err != nil {
		return err
	}
	return t.Start()
}

// PID is the process id of the running Traefik, 0 when it is stopped.
func (t *Traefik) PID() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

// ExitErr is the process's exit status once it has exited.
func (t *Traefik) ExitErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exitErr
}

// Log returns Traefik's output so far.
func (t *Traefik) Log() string {
	data, _ := os.ReadFile(t.LogPath)
	return string(data)
}

// LogSize is the length of the log so far; LogSince(size) returns what came after.
func (t *Traefik) LogSize() int64 {
	fi, err := os.Stat(t.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns the log from byte offset off on.
func (t *Traefik) LogSince(off int64) string {
	log := t.Log()
	if off > int64(len(log)) {
		off = 0
	}
	return log[off:]
}

// Close stops Traefik and removes its folder, unless AGS_E2E_KEEP is set; after
// CollectLogs, its log is kept for the secret scan.
func (t *Traefik) Close() {
	t.Stop()
	trackLog(t, "")
	if os.Getenv("AGS_E2E_KEEP") != "" {
		keepLog(t.LogPath, "")
		return
	}
	t.LogPath = keepLog(t.LogPath, fmt.Sprintf("traefik-%d.log", t.Port))
	os.RemoveAll(t.Dir)
}
