package ags

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestREADMEOptionTable keeps the README's option table true to the code: one row
// per Config field, named by its json key, with its environment variable and its
// real default.
func TestREADMEOptionTable(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 4 {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows[cells[0]] = cells
	}
	env := map[string]string{}
	def := map[string]string{}
	for _, o := range options {
		env[o.name] = o.env
		def[o.name] = o.def
	}
	// Options without a plain default say what happens instead.
	noDefault := map[string]string{
		"issuer": "required", "clientID": "required", "authenticatedPaths": "required",
		"clientSecret":      "required unless `clientSecretFile` or a private key",
		"sessionSecret":     "generated per Traefik process, with a warning",
		"allowedAlgorithms": "the provider's",
		"clientSecretFile":  "", "logPath": "", "cookieDomain": "", "caFile": "", "identityHeaders": "", "requiredClaims": "", "allowedEmailDomains": "", "allowedUsers": "", "publicPaths": "",
		"clientPrivateKeyFile": "", "clientPrivateKey": "", "clientKeyID": "", "clientSigningAlgorithm": "", "authParams": "",
		"appleTeamID": "", "clientCertificateFile": "", "endSessionURL": "", "endSessionParams": "",
	}
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		key := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
		row, ok := rows[key]
		if !ok {
			t.Errorf("README has no row for option %q", key)
			continue
		}
		if row[1] != env[key] {
			t.Errorf("%s: README names %q, want environment variable %q", key, row[1], env[key])
		}
		want, ownPaths := noDefault[key]
		if !ownPaths {
			want = def[key]
		}
		if row[2] != want {
			t.Errorf("%s: README default %q, want %q", key, row[2], want)
		}
		delete(rows, key)
	}
	for key := range rows {
		t.Errorf("README lists %q, which is not an option", key)
	}
}

// TestREADMEFileTable: the Development section's table names every file of the
// plugin, and only those.
func TestREADMEFileTable(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "| file | what it holds |")
	if start < 0 {
		t.Fatal("README.md has no file table")
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(text[start:], "\n")[2:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			break
		}
		cell := strings.Split(strings.Trim(line, "|"), "|")[0]
		for _, part := range strings.Split(cell, ",") {
			listed[strings.Trim(strings.TrimSpace(part), "`")] = true
		}
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if !listed[name] {
			t.Errorf("README.md's file table does not list %s", name)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("README.md's file table lists %s, which is not a file of the plugin", name)
	}
}
