// Package docs keeps the README and examples/ true to the code: every option the
// README's table lists, every environment variable and default it names, and every
// ags option in a YAML file under examples/ is checked against the plugin itself
// (its Config type, its New, and the defaults in its source).
package docs

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ags-client/ags"
	"github.com/ags-client/ags/e2e/harness"
	"github.com/mitchellh/mapstructure"
)

// option is one row of the README's option table.
type option struct {
	name, env, def, meaning string
}

const tableHeader = "| option | environment variable | default | what it does |"

// readOptionTable parses the README's option table.
func readOptionTable(t *testing.T) []option {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == tableHeader {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("README.md: no option table (a line %q)", tableHeader)
	}
	var opts []option
	for _, l := range lines[start+2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := tableCells(l)
		if len(cells) != 4 {
			t.Fatalf("README.md: option table row with %d cells, want 4: %s", len(cells), l)
		}
		opts = append(opts, option{name: unquote(cells[0]), env: unquote(cells[1]), def: cells[2], meaning: cells[3]})
	}
	if len(opts) == 0 {
		t.Fatal("README.md: the option table has no rows")
	}
	return opts
}

// tableCells splits a Markdown table row; a | inside `code` does not split.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	var cell strings.Builder
	inCode := false
	for _, r := range row {
		switch {
		case r == '`':
			inCode = !inCode
		case r == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
			continue
		}
		cell.WriteRune(r)
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// unquote turns "`x`" into "x".
func unquote(cell string) string {
	v, _ := codeSpan(cell)
	return v
}

// codeSpan returns the text of a cell that is one code span, and whether it is.
func codeSpan(cell string) (string, bool) {
	if len(cell) >= 2 && cell[0] == '`' && cell[len(cell)-1] == '`' && !strings.Contains(cell[1:len(cell)-1], "`") {
		return cell[1 : len(cell)-1], true
	}
	return cell, false
}

// configFields returns each exported field of ags.Config by its option name (the json tag).
func configFields(t *testing.T) map[string]reflect.StructField {
	t.Helper()
	fields := map[string]reflect.StructField{}
	typ := reflect.TypeOf(ags.Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			t.Errorf("Config.%s has no json tag: its option name is unknown", f.Name)
			continue
		}
		// Traefik's plugin loader matches option names to field names, ignoring case.
		if !strings.EqualFold(name, f.Name) {
			t.Errorf("Config.%s is documented as %q, which Traefik does not match to the field", f.Name, name)
		}
		fields[name] = f
	}
	return fields
}

// TestReadmeOptionTable checks the README's option table against the code: one row
// per Config field under its option name, the environment variable that New really
// reads for it, "required" exactly for the options New cannot do without, and the
// default that the plugin really applies (its defaults map).
func TestReadmeOptionTable(t *testing.T) {
	opts := readOptionTable(t)
	fields := configFields(t)
	defaults := sourceDefaults(t)
	seen := map[string]bool{}
	for _, o := range opts {
		if seen[o.name] {
			t.Errorf("README.md: option %q has two rows", o.name)
		}
		seen[o.name] = true
		if _, ok := fields[o.name]; !ok {
			t.Errorf("README.md: option %q is not a field of ags.Config", o.name)
		}
	}
	for name, f := range fields {
		if !seen[name] {
			t.Errorf("README.md: the option table has no row for %q (Config.%s)", name, f.Name)
		}
	}
	for name := range defaults {
		if _, ok := fields[name]; !ok {
			t.Errorf("the plugin's options table has a default for %q, which is not a Config option", name)
		}
	}

	for _, o := range opts {
		if _, ok := fields[o.name]; !ok {
			continue
		}
		t.Run(o.name, func(t *testing.T) {
			clearAGSEnv(t, opts)
			checkRequired(t, o)
			checkEnv(t, o)
			checkDefault(t, o, defaults)
		})
	}
}

// base is a valid configuration with the required options and a session secret.
func base() map[string]any {
	return map[string]any{
		"issuer":             "https://id.example.org",
		"clientID":           "my-app",
		"clientSecret":       "my-app-secret",
		"authenticatedPaths": []any{"/account"},
		"sessionSecret":      "docs-test-session-secret-0123456789abcdef",
	}
}

func without(m map[string]any, key string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// checkRequired: the README says "required" exactly when New fails without the option,
// and then New's error names it.
func checkRequired(t *testing.T, o option) {
	t.Helper()
	_, err := newFromTraefikConfig(without(base(), o.name), "docs")
	required := strings.HasPrefix(o.def, "required")
	switch {
	case required && err == nil:
		t.Errorf("README.md says %s is required, but New accepts a configuration without it", o.name)
	case required && !strings.Contains(err.Error(), o.name):
		t.Errorf("without %s, New fails with %q, which does not name it", o.name, err)
	case !required && err != nil:
		t.Errorf("README.md gives %s the default %q, but New fails without it: %v", o.name, o.def, err)
	}
}

// badValue is invalid for every option that checks its value: not a URL, a path,
// a cookie or header name, a regular expression, a boolean, a duration, an
// algorithm, a readable file or a 32-byte secret.
const badValue = "/nonexistent-ags-docs/( !"

// checkEnv: with the option left out of the configuration, New reads the README's
// environment variable for it. A bad value there must make New fail naming the option
// (differently than without the variable); an option that takes any value must be
// satisfied by the variable.
func checkEnv(t *testing.T, o option) {
	t.Helper()
	if !strings.HasPrefix(o.env, "AGS_CLIENT_") {
		t.Errorf("README.md: %s has environment variable %q, want AGS_CLIENT_*", o.name, o.env)
		return
	}
	cfg := without(base(), o.name)
	_, errUnset := newFromTraefikConfig(cfg, "docs")
	t.Setenv(o.env, badValue)
	_, errBad := newFromTraefikConfig(cfg, "docs")
	if errBad != nil {
		if !strings.Contains(errBad.Error(), o.name) || (errUnset != nil && errUnset.Error() == errBad.Error()) {
			t.Errorf("%s=%q: New fails with %q, which is not about %s", o.env, badValue, errBad, o.name)
		}
		return
	}
	t.Setenv(o.env, "")
	if errUnset == nil {
		t.Errorf("README.md says %s is read from %s, but New accepts %s=%q", o.name, o.env, o.env, badValue)
	}
}

// checkDefault: a literal default in the README is the one config.go applies, and an
// option without a literal default in the README has none in config.go. New accepts
// the README's default when it is set explicitly.
func checkDefault(t *testing.T, o option, defaults map[string]string) {
	t.Helper()
	readme, literal := codeSpan(o.def)
	code, inCode := defaults[o.name]
	switch {
	case inCode && !literal:
		t.Errorf("README.md: %s's default is %q, config.go applies `%s`", o.name, o.def, code)
	case inCode && readme != code:
		t.Errorf("README.md: %s's default is `%s`, config.go applies `%s`", o.name, readme, code)
	case !inCode && literal:
		t.Errorf("README.md: %s's default is `%s`, config.go has no default for it", o.name, readme)
	}
	if !literal {
		return
	}
	cfg := base()
	cfg[o.name] = readme
	if _, err := newFromTraefikConfig(cfg, "docs"); err != nil {
		t.Errorf("%s: %q, the README's default, set explicitly: %v", o.name, readme, err)
	}
}

// sourceDefaults reads the options table in the plugin's source (config.go,
// `var options = []option{{name, env, default, field}, ...}`): the defaults New
// applies to every option left empty, which the package does not export. Options
// whose default is "" have none.
func sourceDefaults(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var lit *ast.CompositeLit
	var path string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if len(vs.Names) == 1 && vs.Names[0].Name == "options" && len(vs.Values) == 1 {
					lit, _ = vs.Values[0].(*ast.CompositeLit)
					path = file
				}
			}
		}
	}
	if lit == nil {
		t.Fatal("the plugin's source has no `var options = []option{...}`: update sourceDefaults to where the defaults are now")
	}
	out := map[string]string{}
	rows := 0
	for _, e := range lit.Elts {
		row, ok := e.(*ast.CompositeLit)
		if !ok || len(row.Elts) != 4 {
			t.Fatalf("%s: options: an element that is not {name, env, default, field}", path)
		}
		k, kerr := stringLit(row.Elts[0])
		v, verr := stringLit(row.Elts[2])
		if kerr != nil || verr != nil {
			t.Fatalf("%s: options: a name or default that is not a string literal", path)
		}
		rows++
		if v != "" {
			out[k] = v
		}
	}
	if rows == 0 {
		t.Fatalf("%s: options is empty", path)
	}
	return out
}

func stringLit(e ast.Expr) (string, error) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", strconv.ErrSyntax
	}
	return strconv.Unquote(b.Value)
}

// newFromTraefikConfig builds the middleware from options as Traefik's plugin loader
// does (pkg/plugins/middlewareyaegi.go, createConfig): CreateConfig, then mapstructure
// with weak typing and comma-separated strings to lists; beyond Traefik, an unknown
// option is an error rather than ignored.
func newFromTraefikConfig(options map[string]any, name string) (http.Handler, error) {
	cfg := ags.CreateConfig()
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           cfg,
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(options); err != nil {
		return nil, err
	}
	return ags.New(context.Background(), http.NotFoundHandler(), cfg, name)
}

// clearAGSEnv empties, for this test, every variable that New might read.
func clearAGSEnv(t *testing.T, opts []option) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AGS_CLIENT_") {
			t.Setenv(name, "")
		}
	}
	for _, o := range opts {
		if strings.HasPrefix(o.env, "AGS_CLIENT_") {
			t.Setenv(o.env, "")
		}
	}
}

// TestReadmeExamplesAreFromExamples checks that every YAML block of the README is an
// excerpt of a file under examples/, which TestExamplesUseRealOptions checks.
func TestReadmeExamplesAreFromExamples(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var files [][]string
	filepath.WalkDir(filepath.Join(root, "examples"), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			b, _ := os.ReadFile(path)
			files = append(files, splitLines(string(b)))
		}
		return nil
	})
	blocks := yamlBlocks(string(data))
	if len(blocks) == 0 {
		t.Fatal("README.md: no ```yaml block")
	}
	for _, b := range blocks {
		found := false
		for _, f := range files {
			found = found || isExcerpt(b, f)
		}
		if !found {
			t.Errorf("README.md: this YAML block is not an excerpt of a file under examples/:\n%s", strings.Join(b, "\n"))
		}
	}
}

// yamlBlocks returns the lines of each ```yaml fenced block.
func yamlBlocks(md string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range splitLines(md) {
		switch {
		case !in && strings.TrimSpace(l) == "```yaml":
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// isExcerpt reports whether block appears in file as consecutive lines, the file's
// copy indented by the same number of spaces throughout.
func isExcerpt(block, file []string) bool {
	if len(block) == 0 {
		return true
	}
	for i := 0; i+len(block) <= len(file); i++ {
		indent := len(file[i]) - len(block[0])
		if indent < 0 || strings.TrimLeft(file[i][:indent], " ") != "" {
			continue
		}
		pad := strings.Repeat(" ", indent)
		ok := true
		for j, l := range block {
			if l != "" && file[i+j] != pad+l || l == "" && file[i+j] != "" {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return lines
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// pluginModule is the module path in the repository root's go.mod.
func pluginModule(t *testing.T) string {
	t.Helper()
	mod, err := harness.ModulePath(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}
