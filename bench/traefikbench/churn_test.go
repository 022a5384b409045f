package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

const churnSession = cookieBefore + "; ags_client_session=sealed; " + cookieAfter

func TestChurnScript(t *testing.T) {
	got := churnScript(churnSession, "http://127.0.0.1:4000")
	for _, want := range []string{
		`local host, cookie = "127.0.0.1:4000", "_ga=GA1.1.1234567890.1712345678; ags_client_session=sealed; theme=dark"`,
		`thread:set("id", counter)`,
		`["Host"] = host`,
		`["Cookie"] = string.format("%s; XSRF-TOKEN=%s-%d-%d", cookie, run, id, n)`, // per run, thread and request
		"stopAfter(tonumber(args[2]))",                                              // the session flood's share per thread, if given
		"if answered >= limit then wrk.thread:stop() end",
		`["Accept-Language"] = "en-GB,en;q=0.9"`,
		`["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) traefikbench/1"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a script without %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "%!") {
		t.Errorf("got a formatting error in the script:\n%s", got)
	}
}

// TestChurnScriptWrk runs the script in wrk against a test server: every request
// carries the session, the browser's headers and an app cookie of its own, from
// each of the two threads; with a second argument, each thread stops after that
// many answers (the session flood).
func TestChurnScriptWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("no wrk (apt-get install wrk)")
	}
	for _, tc := range []struct {
		name  string
		args  []string
		limit int64 // requests in all; 0: as many as wrk makes in a second
	}{
		{name: "for wrk's -d", args: []string{"7"}},
		{name: "stopping each thread after 25", args: []string{"7", "25"}, limit: 50},
	} {
		t.Run(tc.name, func(t *testing.T) { churnScriptWrk(t, tc.args, tc.limit) })
	}
}

func churnScriptWrk(t *testing.T, args []string, limit int64) {
	var mu sync.Mutex
	seen := map[string]int{}
	var bad []string
	var host string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie := r.Header.Get("Cookie")
		token, ok := strings.CutPrefix(cookie, churnSession+"; "+churnCookie+"=")
		mu.Lock()
		if !ok || r.Host != host || r.Header.Get("User-Agent") != browserHeaders[2][1] {
			bad = append(bad, r.Host+" "+cookie)
		}
		seen[token]++
		mu.Unlock()
	}))
	host = srv.Listener.Addr().String()
	srv.Start()
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "churn.lua")
	if err := os.WriteFile(file, []byte(churnScript(churnSession, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := runWrk(context.Background(), "wrk", 2, 2, time.Second,
		wrkLoad{url: srv.URL + "/churn/", script: file, scriptArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("got %d requests without the session, the Host or the browser's headers, the first: %q", len(bad), bad[0])
	}
	threads := map[string]int64{}
	for token, n := range seen {
		if n > 1 {
			t.Errorf("got the app cookie %q on %d requests, want one", token, n)
		}
		run, rest, _ := strings.Cut(token, "-")
		thread, _, _ := strings.Cut(rest, "-")
		if run != "7" {
			t.Errorf("got the app cookie %q, want the run's number 7 first", token)
		}
		threads[thread]++
	}
	if threads["0"] == 0 || threads["1"] == 0 || len(threads) != 2 {
		t.Errorf("got the threads %v in the app cookies, want 0 and 1", threads)
	}
	if int64(len(seen)) < w.requests {
		t.Errorf("got %d app cookies over %d requests", len(seen), w.requests)
	}
	switch {
	case limit > 0 && (w.requests != limit || threads["0"] != limit/2 || threads["1"] != limit/2):
		t.Errorf("got %d requests, %v app cookies by thread, want each thread to stop at its share: %d in all", w.requests, threads, limit)
	case limit == 0 && w.requests <= 50:
		t.Errorf("got %d requests in a second without a limit, want more than the limited run's 50", w.requests)
	}
}

// Each run of the churn script gets an argument of its own, whichever its route
// (the churn route's, the session flood's): a value from an earlier run would be
// in ags's cache.
func TestLoadChurn(t *testing.T) {
	b := &bencher{tr: &harness.Traefik{Port: 4000}, churnScript: "/tmp/churn.lua"}
	first, second := b.load(routeChurn), b.load(routeChurn)
	if first.url != "http://127.0.0.1:4000/churn/" || first.script != "/tmp/churn.lua" || len(first.headers) != 0 {
		t.Errorf("got %+v, want the script on /churn/ and no -H header", first)
	}
	if len(first.scriptArgs) != 1 || len(second.scriptArgs) != 1 || first.scriptArgs[0] == second.scriptArgs[0] {
		t.Errorf("got the arguments %q then %q, want one each, distinct", first.scriptArgs, second.scriptArgs)
	}
	flood := b.churnLoad("http://127.0.0.1:4000/many/", 25000)
	if flood.url != "http://127.0.0.1:4000/many/" || flood.script != "/tmp/churn.lua" ||
		len(flood.scriptArgs) != 2 || flood.scriptArgs[0] != "3" || flood.scriptArgs[1] != "25000" {
		t.Errorf("got %+v, want the churn script on /many/ with the third run's number and the share per thread", flood)
	}
}

// A churn run whose requests did not all reach the app signed in fails.
func TestCheckRunChurn(t *testing.T) {
	w := wrkResult{requests: 100}
	before := counts{served: 10, withUser: 10}
	if err := checkRun(routeChurn, w, before, counts{served: 110, withUser: 110}); err != nil {
		t.Errorf("got %v for every request signed in, want no error", err)
	}
	err := checkRun(routeChurn, w, before, counts{served: 110, withUser: 109})
	if want := "the backend got the identity on 99 of 100 signed-in requests"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
