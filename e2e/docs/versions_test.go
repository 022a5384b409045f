package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ags-client/ags/e2e/harness"
)

// traefikVersionNamed finds a text naming a Traefik release: "Traefik v3.6.12",
// "traefik:v3.6.12" (an image), "Traefik v3.6" (a minor release).
var traefikVersionNamed = regexp.MustCompile(`(?i)\btraefik[ :]v(\d+\.\d+(?:\.\d+)?)\b`)

// helmTag is the image tag in the Helm values of examples/kubernetes.
var helmTag = regexp.MustCompile(`^\s*tag:\s*v(\d+\.\d+\.\d+)\s*$`)

// TestTraefikVersionNamed keeps every text of the repository true to the one record
// of the tested Traefik release, tools/traefik/go.mod: a text that names another
// release (or another minor release) fails here. The README's "Supported Traefik
// versions" section names others on purpose; benchmark plots record the release
// they were measured with, and go.mod and go.sum files name modules.
func TestTraefikVersionNamed(t *testing.T) {
	root := repoRoot(t)
	version, err := harness.TraefikVersion()
	if err != nil {
		t.Fatal(err)
	}
	tested := strings.TrimPrefix(version, "v")
	minor := tested[:strings.LastIndex(tested, ".")]
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	checked := 0
	for _, name := range strings.Fields(string(out)) {
		base := filepath.Base(name)
		if base == "go.mod" || base == "go.sum" || strings.HasSuffix(name, ".svg") || strings.Contains(name, "testdata/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || strings.IndexByte(string(data), 0) >= 0 {
			continue // removed in the work tree, or not text
		}
		section := ""
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "## ") {
				section = line
			}
			if name == "README.md" && section == "## Supported Traefik versions" {
				continue
			}
			var named []string
			for _, m := range traefikVersionNamed.FindAllStringSubmatch(line, -1) {
				named = append(named, m[1])
			}
			if m := helmTag.FindStringSubmatch(line); m != nil && strings.HasPrefix(name, "examples/kubernetes/") {
				named = append(named, m[1])
			}
			for _, v := range named {
				checked++
				if v != tested && v != minor {
					t.Errorf("%s:%d names Traefik v%s, but tools/traefik/go.mod pins %s: %s", name, i+1, v, version, strings.TrimSpace(line))
				}
			}
		}
	}
	if checked == 0 {
		t.Errorf("no text names Traefik %s: the pattern no longer matches how the texts name it", version)
	}
	t.Logf("%d mentions of Traefik %s checked", checked, version)
}
