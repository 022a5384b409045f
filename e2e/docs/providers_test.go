package docs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// providerPages are the pages of docs/providers/ that issue 25 asks for.
var providerPages = []string{"entra-id", "google", "keycloak", "okta", "auth0", "cognito",
	"authentik", "zitadel", "apple", "gov-uk-one-login", "hydra"}

// TestProviderPagesUseRealOptions reads every ```yaml block of docs/providers/*.md as
// a dynamic configuration and checks each ags middleware in it as
// TestExamplesUseRealOptions checks examples/: the options decoded as Traefik does,
// unknown ones refused, files filled in, then ags.New must accept it. Each page needs
// at least one, and the README links each page.
func TestProviderPagesUseRealOptions(t *testing.T) {
	root := repoRoot(t)
	opts := readOptionTable(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "providers", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, page := range pages {
		name := strings.TrimSuffix(filepath.Base(page), ".md")
		if name == "README" {
			continue
		}
		found[name] = true
		rel := "docs/providers/" + name + ".md"
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(string(readme), "("+rel+")") {
				t.Errorf("README.md does not link %s", rel)
			}
			data, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			d := &deployment{dir: rel, plugins: map[string]string{}, versions: map[string]string{},
				env: map[string]string{}, secrets: map[string]map[string]string{}}
			for i, block := range yamlBlocks(string(data)) {
				docs, err := decodeYAML(strings.Join(block, "\n"))
				if err != nil {
					t.Fatalf("%s: YAML block %d: %v", rel, i+1, err)
				}
				for _, doc := range docs {
					d.read(rel, doc)
				}
			}
			if len(d.sites) == 0 {
				t.Fatalf("%s: no ags middleware in its YAML blocks", rel)
			}
			for _, s := range d.sites {
				checkSite(t, d, s, opts)
			}
		})
	}
	for _, name := range providerPages {
		if !found[name] {
			t.Errorf("docs/providers/%s.md: missing", name)
		}
	}
}

// decodeYAML decodes every document of a YAML text.
func decodeYAML(text string) ([]map[string]any, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}
