package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The forged-cookie flood (-flood N): after the many-sessions route is warm, N
// requests to it, each with a Cookie header of its own that anyone could make, from a
// wrk Lua script: in turn a forged session (a real session's value with characters
// changed), no session (random app cookies) and junk. Then the route is measured
// again. Not one of them may reach the backend.

// floodKinds are the script's three kinds of Cookie header, in the order it sends them.
var floodKinds = []string{"forged session", "no session but random app cookies", "junk"}

// floodResult is the flood phase.
type floodResult struct {
	before, after result   // the many-sessions route right before and after the flood
	runs          []result // the flood's wrk runs
	flood         floodCount
	cpu           time.Duration // Traefik's CPU over the flood's runs
	took          time.Duration // the flood's runs, end to end
	// Traefik's RSS right before the flood, the highest reading during it (every
	// 100 ms) and right after it
	rssBefore, rssMost, rssAfter memory
}

// floodCount is what the flood script said of its answers, over its threads.
type floodCount struct {
	answered  int64 // responses
	redirects int64 // 302 to the provider
	other     int64 // anything else
	status    int64 // the last other status (0: none)
	issued    int64 // requests made, answered or not
}

// floodScript is a wrk script that sends, per request, the next Cookie header of the
// flood: the request number c (args: the first request's number and the stride, the
// number of threads; each thread starts at its own offset) makes it distinct from
// every other. It reads the first n real sessions from cookieFile (args[1]), stops
// each thread after its limit (args[4]) of answers, counts the answers that are a
// redirect to provider (args[5]) and the others, and prints one "flood:" line per
// thread when done.
func floodScript(cookieFile, app string) string {
	host := strings.TrimPrefix(app, "http://")
	var h strings.Builder
	for _, kv := range browserHeaders {
		fmt.Fprintf(&h, "    [%q] = %q,\n", kv[0], kv[1])
	}
	return fmt.Sprintf(`-- written by traefikbench: a flood of distinct Cookie headers that anyone could make
local file, host = %q, %q
local counter, threads = 0, {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- the script's counts, global so that done() can read them with thread:get
answered, redirects, other, status, issued = 0, 0, 0, 0, 0
local sessions, first, stride, limit, provider = {}, 0, 1, 0, ""
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local junk

function init(args)
  local n = tonumber(args[1])
  first, stride, limit, provider = tonumber(args[2]) + id, tonumber(args[3]), tonumber(args[4]), args[5]
  for line in io.lines(file) do
    if #sessions == n then break end
    -- the first ags cookie: name=value, split around its value
    local at = line:find("ags_", 1, true)
    local eq = line:find("=", at, true)
    local stop = line:find(";", eq, true) or (#line + 1)
    sessions[#sessions + 1] = {line:sub(1, eq), line:sub(eq + 1, stop - 1), line:sub(stop), line:sub(at, eq - 1)}
  end
  if #sessions < n then
    error(string.format("%%d sessions in %%s, want %%d", #sessions, file, n))
  end
  math.randomseed(first)
  local t = {}
  for j = 1, 8192 do
    local r = math.random(#alphabet)
    t[j] = alphabet:sub(r, r)
  end
  junk = table.concat(t)
end

local function cookie(c)
  local s = sessions[math.floor(c / 3) %% #sessions + 1]
  local kind = c %% 3
  if kind == 0 then
    -- a forged session: 11 characters in the middle of a real value replaced by c
    local v = s[2]
    local at = math.floor(#v / 2)
    local mark = string.format("%%011d", c)
    if v:sub(at + 1, at + 11) == mark then mark = "Z" .. mark:sub(2) end
    return s[1] .. v:sub(1, at) .. mark .. v:sub(at + 12) .. s[3]
  end
  local from = c %% 2048 + 1
  if kind == 1 then
    -- no session: app cookies with random values
    return string.format("_ga=GA1.1.%%d.%%d; theme=dark; app_%%d=%%s", c, math.random(1000000000), c %% 97, junk:sub(from, from + 31 + c %% 64))
  end
  -- junk: a random value under the session cookie's name, or no name=value at all
  if math.floor(c / 3) %% 2 == 0 then
    return s[4] .. "=" .. c .. junk:sub(from, from + #s[2] - 1)
  end
  return c .. ";;" .. junk:sub(from, from + 255) .. "; =" .. junk:sub(from + 256, from + 511)
end

function request()
  local c = first + issued * stride
  issued = issued + 1
  return wrk.format("GET", nil, {
    ["Host"] = host,
    ["Cookie"] = cookie(c),
%s  })
end

function response(code, headers, body)
  answered = answered + 1
  local location = headers["Location"] or ""
  if code == 302 and location:sub(1, #provider) == provider then
    redirects = redirects + 1
  else
    other, status = other + 1, code
  end
  if answered >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("flood: answered %%d redirects %%d other %%d status %%d issued %%d\n",
      t:get("answered"), t:get("redirects"), t:get("other"), t:get("status"), t:get("issued")))
  end
end
`, cookieFile, host, h.String())
}

// parseFlood adds up the script's "flood:" lines, one per thread.
func parseFlood(out string, threads int) (floodCount, error) {
	var total floodCount
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "flood:") {
			continue
		}
		var c floodCount
		if _, err := fmt.Sscanf(line, "flood: answered %d redirects %d other %d status %d issued %d",
			&c.answered, &c.redirects, &c.other, &c.status, &c.issued); err != nil {
			return total, fmt.Errorf("line %q: %w", line, err)
		}
		total.answered += c.answered
		total.redirects += c.redirects
		total.other += c.other
		total.issued += c.issued
		if c.status != 0 {
			total.status = c.status
		}
		lines++
	}
	if lines != threads {
		return total, fmt.Errorf("%d \"flood:\" lines from the script, want one per thread (%d)", lines, threads)
	}
	return total, nil
}

// writeFloodScript writes the flood's script beside the sessions' file.
func (s *sessionSet) writeFloodScript(app string) (string, error) {
	file := filepath.Join(filepath.Dir(s.file), "flood.lua")
	return file, os.WriteFile(file, []byte(floodScript(s.file, app)), 0o644)
}

// floodPhase measures the warm many-sessions route, floods it with s.flood requests
// of distinct made-up Cookie headers (in wrk runs of whole seconds until that many
// are answered), reading Traefik's RSS every 100 ms, and measures the route again.
// Any flood answer other than a redirect to the provider, or any flood request that
// reaches the backend, is an error.
func (b *bencher) floodPhase() (*floodResult, error) {
	s := b.s
	f := &floodResult{}
	script, err := b.sessions.writeFloodScript(b.tr.URL(""))
	if err != nil {
		return nil, err
	}
	if f.before, err = b.run(routeMany, s.connections, s.duration); err != nil {
		return nil, fmt.Errorf("before the flood: %w", err)
	}
	f.before.label = fmt.Sprintf("ags %d sessions, before the flood", b.many)
	if f.rssBefore, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	most, stopSampling := sampleRSS(b.pid, f.rssBefore)
	started := time.Now()
	next := int64(0) // the number of the next run's first request
	rate := max(f.before.wrk.rps/2, 1)
	for f.flood.answered < int64(s.flood) {
		left := int64(s.flood) - f.flood.answered
		perThread := (left + int64(s.threads) - 1) / int64(s.threads)
		// at most 10 s: a thread that reached its limit idles until the run's end
		secs := min(max(int(float64(left)/rate)+1, 1), 10)
		load := wrkLoad{url: b.tr.URL(routePaths[routeMany]), script: script, scriptArgs: []string{
			strconv.Itoa(b.many), strconv.FormatInt(next, 10), strconv.Itoa(s.threads),
			strconv.FormatInt(perThread, 10), b.providerURL}}
		res, count, err := b.floodRun(load, time.Duration(secs)*time.Second)
		if err != nil {
			stopSampling()
			return nil, fmt.Errorf("flood: %w", err)
		}
		// each thread makes at most its limit and one request per connection more
		next += int64(s.threads) * (perThread + int64(s.connections) + 1)
		res.round = len(f.runs)
		f.runs = append(f.runs, res)
		f.cpu += res.cpu
		f.flood.answered += count.answered
		f.flood.redirects += count.redirects
		f.flood.issued += count.issued
		if count.answered < perThread*int64(s.threads) && res.wrk.seconds > 0 {
			rate = max(float64(count.answered)/res.wrk.seconds, 1) // the run ended before its limit
		}
		fmt.Fprintf(os.Stderr, "flood: %d of %d requests answered, VmRSS at most %d kB\n", f.flood.answered, s.flood, most().rss)
	}
	f.took = time.Since(started)
	f.rssMost = stopSampling()
	if f.rssAfter, err = readRSS(b.pid); err != nil {
		return nil, err
	}
	if f.after, err = b.run(routeMany, s.connections, s.duration); err != nil {
		return nil, fmt.Errorf("after the flood: %w", err)
	}
	f.after.label = fmt.Sprintf("ags %d sessions, after the flood", b.many)
	return f, nil
}

// floodRun runs the flood script once and checks its answers and the backend,
// whose counts it takes once the requests of the run before have arrived (a
// signed-in request of the many-sessions route's run right before, counted in the
// flood's, would stop it as one that passed).
func (b *bencher) floodRun(load wrkLoad, d time.Duration) (result, floodCount, error) {
	before := b.be.settled(routeMany, 100*time.Millisecond, 2*time.Second)
	cpu0, err := cpuTime(b.pid)
	if err != nil {
		return result{}, floodCount{}, err
	}
	w, out, err := runWrkOutput(b.ctx, b.s.wrk, b.s.threads, b.s.connections, d, load)
	if err != nil {
		return result{}, floodCount{}, err
	}
	cpu1, err := cpuTime(b.pid)
	if err != nil {
		return result{}, floodCount{}, err
	}
	res := result{route: routeMany, conns: b.s.connections, wrk: w, cpu: cpu1 - cpu0, sessions: b.many, label: "forged-cookie flood"}
	count, err := parseFlood(out, b.s.threads)
	if err != nil {
		return res, count, fmt.Errorf("the flood script: %w\n%s", err, out)
	}
	after := b.be.counts(routeMany)
	return res, count, checkFlood(w, count, before, after)
}

// checkFlood fails when a flood request was answered otherwise than by a redirect
// to the provider, or reached the backend (with an identity header or without).
func checkFlood(w wrkResult, count floodCount, before, after counts) error {
	served, user := after.served-before.served, after.withUser-before.withUser
	switch {
	case count.answered == 0:
		return fmt.Errorf("no flood request answered")
	case w.connectErrs+w.readErrs+w.writeErrs > 0:
		return fmt.Errorf("socket errors: connect %d, read %d, write %d", w.connectErrs, w.readErrs, w.writeErrs)
	case user > 0:
		return fmt.Errorf("%d flood requests reached the backend with an identity header", user)
	case served > 0:
		return fmt.Errorf("%d flood requests reached the backend, without a session", served)
	case count.other > 0 || w.non2xx3xx > 0:
		return fmt.Errorf("%d flood answers were not a redirect to the provider (the last: status %d)", count.other, count.status)
	}
	return nil
}

// sampleRSS reads Traefik's RSS every 100 ms until stop is called, which returns the
// highest reading (at least from); most returns it so far.
func sampleRSS(pid int, from memory) (most func() memory, stop func() memory) {
	var mu sync.Mutex
	high := from
	done, finished := make(chan struct{}), make(chan struct{})
	read := func() {
		if m, err := readRSS(pid); err == nil {
			mu.Lock()
			if m.rss > high.rss {
				high = m
			}
			mu.Unlock()
		}
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-tick.C:
				read()
			}
		}
	}()
	most = func() memory {
		mu.Lock()
		defer mu.Unlock()
		return high
	}
	var once sync.Once
	stop = func() memory {
		once.Do(func() { close(done); <-finished })
		return most()
	}
	return most, stop
}

// floodMarkdown is the flood: the route before and after, the answers, the memory.
func (r *report) floodMarkdown(b *strings.Builder) {
	f := r.flood
	if f == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := r.s
	p("\n### Forged-cookie flood: %s requests to the many-sessions route, each with a Cookie header of its own\n\n",
		thousands(float64(f.flood.answered)))
	p("After the route was warm, `wrk -t%d -c%d` with a Lua script sent, in turn: a %s (one of the %s real session values "+
		"with 11 characters in its middle replaced by the request's number); %s; %s (a random value under the session "+
		"cookie's name, or no `name=value` at all). All %s answers were redirects to the provider and none reached the "+
		"backend (anything else would have stopped the run). The flood's wrk runs last whole seconds: the time and the CPU "+
		"below include what is left of a run after its last answer. Then the route ran again.\n\n",
		s.threads, s.connections, floodKinds[0], thousands(float64(r.s.sessions)), floodKinds[1], floodKinds[2],
		thousands(float64(f.flood.redirects)))
	ratio := f.after.cpuPerRequest() / f.before.cpuPerRequest()
	p("| | figure |\n|---|--:|\n")
	p("| flood requests answered (made) | %s (%s) in %s |\n", thousands(float64(f.flood.answered)), thousands(float64(f.flood.issued)),
		f.took.Round(100*time.Millisecond))
	p("| Traefik CPU µs per flood request | %.1f |\n", float64(f.cpu)/float64(time.Microsecond)/float64(f.flood.answered))
	p("| %s sessions in turn, CPU µs/request right before the flood | %.1f |\n", thousands(float64(r.s.sessions)), f.before.cpuPerRequest())
	p("| the same right after it | %.1f |\n", f.after.cpuPerRequest())
	p("| after / before | %.2f (the real sessions' views are a class of their own: expected near 1) |\n\n", ratio)
	r.boundTable(b, "the flood", "highest reading during it (every 100 ms)", f.rssBefore, f.rssMost, f.rssAfter, 0)
}
