package main

import (
	"strings"
	"testing"
)

// The bearer routes' figures: the known token against one session, the many tokens
// against one token, each above bare, with issue 27's targets, and the RSS growth
// over the tokens' warm-up against the cache's bound.
func TestTokenMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name               string
		one, token, tokens float64 // CPU µs per request; bare is 100
		before, after      int64   // VmRSS kB around the tokens' warm-up
		wants              []string
	}{
		{name: "within", one: 110, token: 115, tokens: 125, before: 100000, after: 110240, wants: []string{
			"| ags bearer token, one known token | 15.0 | 1.50 × one session's (per round: 1.50) | ≤ 1.5x: met |",
			"| ags bearer tokens, 5,000 in turn | 25.0 | 1.67 × one token's (per round: 1.67) | ≤ 2x: met |",
			"+10.0 MiB; target within the cache's bound of 64 MiB + 10% (70.4 MiB): met",
		}},
		{name: "missed", one: 110, token: 116, tokens: 133, before: 100000, after: 180000, wants: []string{
			"| 16.0 | 1.60 × one session's (per round: 1.60) | ≤ 1.5x: **missed** |",
			"| 33.0 | 2.06 × one token's (per round: 2.06) | ≤ 2x: **missed** |",
			"+78.1 MiB; target within the cache's bound of 64 MiB + 10% (70.4 MiB): **missed**",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var row [numRoutes]result
			row[routeBare], row[routeSignedIn] = runOf(routeBare, 0, 100), runOf(routeSignedIn, 0, tc.one)
			row[routeToken], row[routeTokens] = runOf(routeToken, 0, tc.token), runOf(routeTokens, 0, tc.tokens)
			r := &report{s: settings{sessions: 5000, cacheBound: 64}, tokenBytes: 718,
				tokensBefore: memory{rss: tc.before}, tokensAfter: memory{rss: tc.after}}
			var b strings.Builder
			r.tokenMarkdown(&b, [][numRoutes]result{row})
			got := b.String()
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("got a report without %q:\n%s", want, got)
				}
			}
		})
	}
}

// The many-tokens route's script sends each token as the Authorization header, and
// the one-token route's load carries no Cookie header (ags serves a known token from
// its cache only without one).
func TestTokenLoads(t *testing.T) {
	script := luaScript("/tmp/x/tokens.txt", "http://127.0.0.1:4000", "Authorization")
	if !strings.Contains(script, `["Authorization"] = line`) || strings.Contains(script, `["Cookie"]`) {
		t.Errorf("got a script without the Authorization line, or with a Cookie header:\n%s", script)
	}
	load := tokenLoad("http://127.0.0.1:4000/token/", "Bearer x.y.z")
	if load.headers[0] != "Authorization: Bearer x.y.z" || strings.Contains(strings.Join(load.headers, "\n"), "Cookie") {
		t.Errorf("got the headers %q, want the Authorization header and no Cookie header", load.headers)
	}
}
