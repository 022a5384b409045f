package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// Cookies around the session in every request's Cookie header, as a browser sends them.
const cookieBefore, cookieAfter = "_ga=GA1.1.1234567890.1712345678", "theme=dark"

// The request headers of every route beside the Cookie header.
var browserHeaders = [][2]string{
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	{"Accept-Language", "en-GB,en;q=0.9"},
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) traefikbench/1"},
}

// sessionSet is the many-sessions route's users: one Cookie header per session, in
// a file that the wrk script reads (or the many-tokens route's Authorization
// headers, bearer.go).
type sessionSet struct {
	headers []string // Cookie header values: the session between cookieBefore and cookieAfter
	file    string   // the same, one a line
	script  string   // the wrk script
	took    time.Duration
	signIns string // what the sessions command said about its sign-ins
}

// makeSessions signs in n times with bench/sessions (a compiled ags, built against
// pluginSrc, the plugin source that Traefik loaded) against the provider, with the
// Traefik's session settings, and writes the Cookie headers and the wrk script
// into dir.
func makeSessions(ctx context.Context, root, pluginSrc, dir string, p *harness.Provider, app string, n, parallel int) (*sessionSet, error) {
	build, err := os.MkdirTemp("", "traefikbench-sessions-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(build)
	src, err := os.ReadFile(filepath.Join(root, "bench", "sessions", "main.go"))
	if err != nil {
		return nil, err
	}
	mod := fmt.Sprintf("module traefikbench/sessions\n\ngo 1.22\n\nrequire github.com/ags-client/ags v0.0.0\n\nreplace github.com/ags-client/ags => %s\n", pluginSrc)
	if err := os.WriteFile(filepath.Join(build, "go.mod"), []byte(mod), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(build, "main.go"), src, 0o644); err != nil {
		return nil, err
	}
	started := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", ".",
		"-issuer", p.Issuer, "-client-id", harness.ClientID, "-client-secret", harness.ClientSecret,
		"-session-secret", sessionSecret, "-authenticated-paths", strings.Join(authenticatedPaths, ","),
		"-app", app, "-username", p.Username, "-password", harness.TestPassword,
		"-n", strconv.Itoa(n), "-parallel", strconv.Itoa(parallel))
	cmd.Dir = build
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench/sessions: %w\n%s", err, stderr.String())
	}
	set := &sessionSet{took: time.Since(started)}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "sessions: ") { // not the plugin's log
			set.signIns = strings.TrimPrefix(line, "sessions: ")
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			set.headers = append(set.headers, cookieBefore+"; "+line+"; "+cookieAfter)
		}
	}
	if len(set.headers) != n {
		return nil, fmt.Errorf("bench/sessions made %d sessions, want %d", len(set.headers), n)
	}
	if err := set.write(dir, "cookies", app, "Cookie"); err != nil {
		return nil, err
	}
	return set, nil
}

// write puts the set's header values, one a line, into dir/name.txt and the wrk
// script that sends them as header into dir/name.lua.
func (s *sessionSet) write(dir, name, app, header string) error {
	s.file = filepath.Join(dir, name+".txt")
	if err := os.WriteFile(s.file, []byte(strings.Join(s.headers, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	s.script = filepath.Join(dir, name+".lua")
	return os.WriteFile(s.script, []byte(luaScript(s.file, app, header)), 0o644)
}

// load is the wrk load of the first n sessions, in turn, on url.
func (s *sessionSet) load(url string, n int) wrkLoad {
	return wrkLoad{url: url, script: s.script, scriptArgs: []string{strconv.Itoa(n)}}
}

// passLoad is the load of the first n sessions from session first (from 0) on,
// each thread stopping after perThread answers: one request per session for
// threads * perThread sessions.
func (s *sessionSet) passLoad(url string, n, first, perThread int) wrkLoad {
	return wrkLoad{url: url, script: s.script, scriptArgs: []string{
		strconv.Itoa(n), strconv.Itoa(first), strconv.Itoa(perThread)}}
}

// luaScript is a wrk script whose request function sends the next of the first N
// lines of the file (N: the script's first argument) as header (Cookie: the
// sessions; Authorization: bearer tokens) with every request; each wrk thread
// starts at another place in the list. With two more arguments, first and limit,
// each thread stops after limit answers, thread t starting at session first + t *
// limit (from 0): a pass over the sessions (passLoad; a connection of a thread
// may have sent one more request when its thread stops). A script's requests carry
// no -H header, so it sets them all: Host (as wrk sends it without a script), the
// Cookie header (or header) and the browser's headers of the other routes.
func luaScript(cookieFile, app, header string) string {
	return fmt.Sprintf(`-- written by traefikbench: one session after the other, per request
local file, host = %q, %q
`+luaThreadID+luaStopAfter+`
local requests, i = {}, 0

function init(args)
  local n = tonumber(args[1])
  for line in io.lines(file) do
    if #requests == n then break end
    requests[#requests + 1] = wrk.format("GET", nil, {
      ["Host"] = host,
      [%q] = line,
%s    })
  end
  if #requests < n then
    error(string.format("%%d lines in %%s, want %%d", #requests, file, n))
  end
  local first, limit = tonumber(args[2]), tonumber(args[3])
  if limit then
    i = (first + (id or 0) * limit) %% #requests
    -- wrk calls the first thread's request() once more, right after init, to
    -- check the script, and drops what it returns
    if (id or 0) == 0 then i = (i - 1) %% #requests end
    stopAfter(limit)
  else
    i = ((id or 0) * 7919) %% #requests
  end
end

function request()
  i = i %% #requests + 1
  return requests[i]
end
`, cookieFile, luaHost(app), header, luaHeaders("      "))
}

// luaThreadID gives each wrk thread a number of its own, as id.
const luaThreadID = `local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
`

// luaStopAfter defines stopAfter(limit), which stops the wrk thread after limit
// answers, or does nothing when limit is nil: wrk hands answers to a script only
// if it has a response function, which costs wrk (not Traefik) a little per answer,
// so the script has one only when it is to stop.
const luaStopAfter = `
local function stopAfter(limit)
  if limit == nil or limit <= 0 then return end
  local answered = 0
  function response()
    answered = answered + 1
    if answered >= limit then wrk.thread:stop() end
  end
end
`

// luaHost is the Host header of a script's requests: app's, as wrk sends it
// without a script.
func luaHost(app string) string { return strings.TrimPrefix(app, "http://") }

// luaHeaders is the browser's headers as fields of a Lua table, each line indented.
func luaHeaders(indent string) string {
	var h strings.Builder
	for _, kv := range browserHeaders {
		fmt.Fprintf(&h, "%s[%q] = %q,\n", indent, kv[0], kv[1])
	}
	return h.String()
}
