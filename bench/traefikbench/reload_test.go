package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

func baseDynamic() *harness.Dynamic {
	return &harness.Dynamic{
		Routes: map[string]harness.Route{
			"bare":     {Rule: "PathPrefix(`/bare`)", Backend: "http://127.0.0.1:1"},
			"ags-many": {Rule: "PathPrefix(`/many`)", Middlewares: []string{"ags"}, Backend: "http://127.0.0.1:1"},
		},
		Middlewares: map[string]harness.Middleware{
			"ags": {Plugin: "ags", Config: map[string]any{"issuer": "http://127.0.0.1:2", "sessionSecret": "s"}},
		},
	}
}

func TestReloadVariant(t *testing.T) {
	for _, tc := range []struct {
		name        string
		kind, i     int
		wantDummy   bool
		wantHeaders any // the ags middleware's identityHeaders; nil: none
	}{
		{name: "same options, first reload adds the router", kind: reloadSame, i: 0, wantDummy: true},
		{name: "same options, second removes it", kind: reloadSame, i: 1},
		{name: "same options, third adds it again", kind: reloadSame, i: 2, wantDummy: true},
		{name: "option changed, first reload", kind: reloadOption, i: 0, wantHeaders: map[string]any{"sub": "X-Bench-Reload-A"}},
		{name: "option changed, second reload", kind: reloadOption, i: 1, wantHeaders: map[string]any{"sub": "X-Bench-Reload-B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := baseDynamic()
			got := reloadVariant(base, tc.kind, tc.i)
			if !reflect.DeepEqual(base, baseDynamic()) {
				t.Fatalf("got base changed: %+v", base)
			}
			_, dummy := got.Routes[dummyRouter]
			if dummy != tc.wantDummy {
				t.Errorf("got the dummy router %v, want %v", dummy, tc.wantDummy)
			}
			if dummy && got.Routes[dummyRouter].Backend != base.Routes["bare"].Backend {
				t.Errorf("got the dummy router to %q, want the bare backend %q", got.Routes[dummyRouter].Backend, base.Routes["bare"].Backend)
			}
			cfg := got.Middlewares["ags"].Config
			if h := cfg["identityHeaders"]; !reflect.DeepEqual(h, tc.wantHeaders) {
				t.Errorf("got identityHeaders %v, want %v", h, tc.wantHeaders)
			}
			for k, v := range base.Middlewares["ags"].Config {
				if !reflect.DeepEqual(cfg[k], v) {
					t.Errorf("got %s %v, want %v as in the base", k, cfg[k], v)
				}
			}
			for name := range base.Routes {
				if !reflect.DeepEqual(got.Routes[name], base.Routes[name]) {
					t.Errorf("got router %s %+v, want %+v", name, got.Routes[name], base.Routes[name])
				}
			}
		})
	}
}

func TestReloadDiffers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind, n int
		want    bool
	}{
		{"no reload", reloadSame, 0, false},
		{"dummy added", reloadSame, 1, true},
		{"dummy added and removed", reloadSame, 2, false},
		{"dummy added, removed, added", reloadSame, 3, true},
		{"no option reload", reloadOption, 0, false},
		{"option A", reloadOption, 1, true},
		{"option B", reloadOption, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reloadDiffers(tc.kind, tc.n); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckReloads(t *testing.T) {
	end := time.Date(2026, 12, 1, 12, 0, 5, 0, time.UTC)
	at := func(i int, before time.Duration) reload { return reload{i: i, applied: end.Add(-before)} }
	for _, tc := range []struct {
		name    string
		kind    int
		applied []reload
		headers [2]int64
		wantErr string // "" for none
	}{
		{name: "none applied", kind: reloadSame, wantErr: "no reload was applied"},
		{name: "same options, no toggled header", kind: reloadSame, applied: []reload{at(0, 4*time.Second)}},
		{name: "same options, a toggled header", kind: reloadSame, applied: []reload{at(0, 4*time.Second)}, headers: [2]int64{3, 0},
			wantErr: "with ags's options unchanged"},
		{name: "option, both seen", kind: reloadOption, applied: []reload{at(0, 4*time.Second), at(1, 3*time.Second)}, headers: [2]int64{10, 12}},
		{name: "option, the second never seen", kind: reloadOption, applied: []reload{at(0, 4*time.Second), at(1, 3*time.Second)},
			headers: [2]int64{10, 0}, wantErr: "reload 2 mapped sub to X-Bench-Reload-B"},
		{name: "option, the last applied too late to be seen", kind: reloadOption,
			applied: []reload{at(0, 4*time.Second), at(1, 10*time.Millisecond)}, headers: [2]int64{10, 0}},
		{name: "option, none seen", kind: reloadOption, applied: []reload{at(0, time.Second)}, wantErr: "reload 1 mapped sub to X-Bench-Reload-A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkReloads(tc.kind, tc.applied, end, tc.headers)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// runOf is a run of route that cost us µs of Traefik CPU per request, in round.
func runOf(route, round int, us float64) result {
	return result{route: route, round: round, wrk: wrkResult{requests: 1000},
		cpu: time.Duration(us * 1000 * float64(time.Microsecond))}
}

func TestReloadMarkdown(t *testing.T) {
	var rounds [][numRoutes]result
	var reloads []reloadRun
	// plain many-sessions runs of 30, 40, 50 µs; same options 1.1x, 1.2x, 1.3x; option 10x each
	for round, plain := range []float64{30, 40, 50} {
		var row [numRoutes]result
		for route := range row {
			row[route] = runOf(route, round, plain)
		}
		rounds = append(rounds, row)
		reloads = append(reloads,
			reloadRun{kind: reloadSame, res: runOf(routeMany, round, plain*(1.1+0.1*float64(round))), applied: 5 - round,
				waits: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}, rss: memory{rss: 200000 + int64(round)}},
			reloadRun{kind: reloadOption, res: runOf(routeMany, round, plain*10), applied: 5,
				waits: []time.Duration{150 * time.Millisecond}, rss: memory{rss: 300000}})
	}
	r := &report{s: settings{sessions: 5000, reload: time.Second}, reloads: reloads, manyMax: memory{rss: 150000}}
	var b strings.Builder
	r.reloadMarkdown(&b, rounds)
	got := b.String()
	for _, want := range []string{
		"### Reloads under load: 5,000 sessions in turn while the configuration changes every 1s",
		"| without reloads | 40.0 | 1 | | | 150,000 |",
		"| routers rebuilt, ags options unchanged (a router added or removed) | 48.0 | 1.20 | 5, 4, 3 | 200.0 / 300.0 ms | 200,002 |",
		"| an ags option changed (an `identityHeaders` entry toggled) | 400.0 | 10.00 | 5, 5, 5 | 150.0 / 150.0 ms | 300,000 |",
		"the first comes 500ms after wrk starts",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got a report without %q:\n%s", want, got)
		}
	}
	r.reloads = nil
	b.Reset()
	if r.reloadMarkdown(&b, rounds); b.Len() != 0 {
		t.Errorf("got %q without -reload, want nothing", b.String())
	}
}

func TestSettingsCheck(t *testing.T) {
	ok := settings{rounds: 1, connections: 8, threads: 1, sessions: 50, parallel: 2, duration: 5 * time.Second, c1Duration: 5 * time.Second, reloadDuration: 5 * time.Second}
	for _, tc := range []struct {
		name    string
		edit    func(*settings)
		wantErr string
	}{
		{name: "no reload, no flood", edit: func(*settings) {}},
		{name: "reload 1s, flood", edit: func(s *settings) { s.reload, s.flood = time.Second, 200000 }},
		{name: "reload as long as a run", edit: func(s *settings) { s.reload = 5 * time.Second }},
		{name: "reload longer than a run", edit: func(s *settings) { s.reload = 6 * time.Second }, wantErr: "-reload must be between 0 and -reload-duration"},
		{name: "reload longer than a run, a longer run under reloads", edit: func(s *settings) { s.reload, s.reloadDuration = 6*time.Second, 6*time.Second }},
		{name: "reload run in part seconds", edit: func(s *settings) { s.reloadDuration = 2500 * time.Millisecond }, wantErr: "-reload-duration must be whole seconds"},
		{name: "negative reload", edit: func(s *settings) { s.reload = -time.Second }, wantErr: "-reload must be between 0 and -reload-duration"},
		{name: "negative flood", edit: func(s *settings) { s.flood = -1 }, wantErr: "-flood must be 0 or more"},
		{name: "flood with the sweep alone", edit: func(s *settings) { s.sweepOnly, s.sweep, s.flood = true, []int{1}, 10 }, wantErr: "not -sweep-only"},
		{name: "session flood", edit: func(s *settings) { s.sessionFlood = 200000 }},
		{name: "negative session flood", edit: func(s *settings) { s.sessionFlood = -1 }, wantErr: "-session-flood must be 0 or more"},
		{name: "session flood with the sweep alone", edit: func(s *settings) { s.sweepOnly, s.sweep, s.sessionFlood = true, []int{1}, 10 }, wantErr: "not -sweep-only"},
		{name: "reload with the sweep alone", edit: func(s *settings) { s.sweepOnly, s.sweep, s.reload = true, []int{1}, time.Second }, wantErr: "not -sweep-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.check()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
