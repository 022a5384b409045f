package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// tool is a program the tests run, built by tools/{name}/build.sh (into the Go build
// cache, the first time, which takes minutes: the Makefile runs the scripts before the
// tests, so that they do not spend their timeout on it), or named by an environment
// variable. The script runs once per process.
type tool struct {
	name, env string
	script    string // in tools/{name}; "" is build.sh
	once      sync.Once
	path      string
	err       error
}

var (
	traefikTool = &tool{name: "traefik", env: "AGS_TRAEFIK_BIN"}
	hydraTool   = &tool{name: "hydra", env: "AGS_HYDRA_BIN"}
	kubeTool    = &tool{name: "kube-apiserver", env: "AGS_KUBE_APISERVER_BIN"}
	// oidc-provider is a folder of Node packages (npm ci), not a binary.
	oidcProviderTool = &tool{name: "oidc-provider", env: "AGS_OIDC_PROVIDER_DIR", script: "install.sh"}
)

// binary returns the tool's path: $env when set, else what its script prints.
func (t *tool) binary() (string, error) {
	t.once.Do(func() {
		if p := os.Getenv(t.env); p != "" {
			t.path = p
			return
		}
		root, err := RepoRoot()
		if err != nil {
			t.err = err
			return
		}
		name := t.script
		if name == "" {
			name = "build.sh"
		}
		script := filepath.Join("tools", t.name, name)
		cmd := exec.Command("sh", filepath.Join(root, script))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.err = fmt.Errorf("%s: %w", script, err)
			return
		}
		t.path = strings.TrimSpace(string(out))
	})
	return t.path, t.err
}

// TraefikBinary returns the path of the Traefik binary: $AGS_TRAEFIK_BIN when set,
// otherwise what tools/traefik/build.sh prints.
func TraefikBinary() (string, error) { return traefikTool.binary() }

// HydraBinary returns the path of the Ory Hydra binary: $AGS_HYDRA_BIN when set,
// otherwise what tools/hydra/build.sh prints.
func HydraBinary() (string, error) { return hydraTool.binary() }

// KubeAPIServerBinary returns the path of kube-apiserver: $AGS_KUBE_APISERVER_BIN when
// set, otherwise what tools/kube-apiserver/build.sh prints (about 860 CPU-seconds the
// first time).
func KubeAPIServerBinary() (string, error) { return kubeTool.binary() }

// OIDCProviderDir returns the folder whose node_modules holds panva's oidc-provider:
// $AGS_OIDC_PROVIDER_DIR when set, otherwise what tools/oidc-provider/install.sh
// prints (npm ci into the Go build cache, seconds the first time).
func OIDCProviderDir() (string, error) { return oidcProviderTool.binary() }
