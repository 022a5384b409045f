// Package harness runs the pieces of an end-to-end test of the ags Traefik plugin on
// 127.0.0.1: a Traefik process that loads the plugin from source, an OpenID provider
// (the zitadel/oidc example server, in process), a small backend app that shows the
// identity headers it receives, and a headless Chromium driven with chromedp.
//
// Every piece listens on a free loopback port and is stopped by its Close method.
// The tests of the e2e module use it; so can a benchmark or a demo.
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PluginModule is the module path of the ags plugin.
const PluginModule = "github.com/ags-client/ags"

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// RepoRoot returns the folder of the plugin's go.mod (module github.com/ags-client/ags),
// searching upwards from the working directory. AGS_REPO_ROOT overrides the search.
func RepoRoot() (string, error) {
	if dir := os.Getenv("AGS_REPO_ROOT"); dir != "" {
		return filepath.Abs(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := ModulePath(dir); err == nil && mod == PluginModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", PluginModule)
		}
		dir = parent
	}
}

// ModulePath reads the module path from dir/go.mod.
func ModulePath(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod: no module line", dir)
}

// RequiredVersion returns the version of module that the go.mod at path requires
// (a line "module version" of a require block, or "require module version").
func RequiredVersion(path, module string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module && strings.HasPrefix(fields[1], "v") {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s: no require line for %s", path, module)
}

// waitUntil calls check every interval until it returns nil or timeout passes; it then
// returns the last error. A check that returns a stopError ends the wait at once.
func waitUntil(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
