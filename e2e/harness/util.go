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
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// PluginModule is the module path of the ags plugin.
const PluginModule = "github.com/ags-client/ags"

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on, for a server to
// listen on shortly. It comes from the 12,000 ports below the kernel's ephemeral
// range (ip_local_port_range, 32768 and up by default), where the kernel puts no
// outgoing connection and no listen on port 0, and a process never hands out one port
// twice; each process starts at a random place, so that the test binaries and the
// benchmark running at the same time rarely meet. With the tests running beside each
// other, a port the kernel had handed out (a listen on port 0, closed again) was
// taken by an outgoing connection before Traefik bound it: "address already in use".
func FreePort() (int, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.low == 0 {
		ports.low, ports.high = portRange()
		ports.next = ports.low + mrand.IntN(ports.high-ports.low)
	}
	for range ports.high - ports.low {
		p := ports.next
		if ports.next++; ports.next >= ports.high {
			ports.next = ports.low
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // in use
		}
		ln.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d", ports.low, ports.high-1)
}

// ports are FreePort's: [low, high) and the next to try.
var ports struct {
	mu              sync.Mutex
	low, high, next int
}

// portRange is the 12,000 ports below the ephemeral range (at least from 1024).
func portRange() (low, high int) {
	high = 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscanf(string(data), "%d %d", &lo, &hi); err == nil && lo > 2024 {
			high = lo
		}
	}
	return max(1024, high-12000), high
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
