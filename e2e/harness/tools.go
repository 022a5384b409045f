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
	once      sync.Once
	path      string
	err       error
}

var (
	traefikTool = &tool{name: "traefik", env: "AGS_TRAEFIK_BIN"}
	hydraTool   = &tool{name: "hydra", env: "AGS_HYDRA_BIN"}
	kubeTool    = &tool{name: "kube-apiserver", env: "AGS_KUBE_APISERVER_BIN"}
)

// binary returns the tool's path: $env when set, else what its build script prints.
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
		script := filepath.Join("tools", t.name, "build.sh")
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
