package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ags-client/ags/e2e/harness"
)

// The bearer routes (issue 27): API clients that send an access token in place of a
// cookie. Their middleware is ags with bearerTokens on (a configuration of its own,
// so a view cache of its own); one router sends one known token on every request,
// the other -sessions tokens in turn, as the many-sessions route sends sessions. The
// tokens are JWT access tokens (RFC 9068) signed with the provider's own key, which
// its key set announces: what ags checks of a token is its signature against that
// key set and its claims, wherever it came from. A token's first request verifies
// its signature; the route is warmed until every token has been asked for, so the
// rounds measure known tokens, as the many-sessions route measures known sessions.

// bearerAudience is the API's resource identifier: the routes' bearerAudiences and
// the tokens' aud.
const bearerAudience = "https://api.traefikbench.example"

// tokenTTL is the tokens' lifetime: longer than any run of the command.
const tokenTTL = 6 * time.Hour

// The targets of issue 27: a known token's CPU above bare within 1.5x of one
// session's, n tokens in turn within 2x of one token's; Traefik's RSS over the
// tokens' warm-up within the cache's bound plus 10% (as targetBoundSlack).
const (
	targetTokenRatio  = 1.5
	targetTokensRatio = 2
)

// bearerConfig is the bearer routes' middleware: agsCfg with bearerTokens on for
// bearerAudience, and their paths as its authenticated ones.
func bearerConfig(agsCfg map[string]any) map[string]any {
	cfg := map[string]any{}
	for k, v := range agsCfg {
		cfg[k] = v
	}
	cfg["bearerTokens"] = "true"
	cfg["bearerAudiences"] = []string{bearerAudience}
	cfg["authenticatedPaths"] = []string{"/tokens?(/.*)?"}
	return cfg
}

// makeTokens signs one access token for the one-token route and n more for the
// many-tokens route (on every core: an RSA signature takes a millisecond or more),
// whose Authorization headers and wrk script it writes into dir.
func makeTokens(p *harness.Provider, dir, app string, n int) (string, *sessionSet, error) {
	started := time.Now()
	headers := make([]string, n+1)
	errs := make(chan error, runtime.NumCPU())
	for w := 0; w < cap(errs); w++ {
		go func(w int) {
			for i := w; i <= n; i += cap(errs) {
				now := time.Now()
				tok, err := p.SignAccessToken(map[string]any{
					"iss": p.Issuer, "aud": []string{bearerAudience}, "sub": "service-" + strconv.Itoa(i),
					"client_id": "traefikbench", "scope": "reports:read", "jti": "traefikbench-" + strconv.Itoa(i),
					"iat": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
				})
				if err != nil {
					errs <- fmt.Errorf("signing access tokens: %w", err)
					return
				}
				headers[i] = "Bearer " + tok
			}
			errs <- nil
		}(w)
	}
	var err error
	for w := 0; w < cap(errs); w++ {
		if e := <-errs; e != nil {
			err = e
		}
	}
	if err != nil {
		return "", nil, err
	}
	set := &sessionSet{headers: headers[1:]}
	if err := set.write(dir, "tokens", app, "Authorization"); err != nil {
		return "", nil, err
	}
	set.took = time.Since(started)
	return headers[0], set, nil
}

// tokenLoad is the one-token route's load on url: the Authorization header and the
// browser's headers of the other routes, and no Cookie header, as an API client
// sends it (ags serves a known token from its cache only without one).
func tokenLoad(url, auth string) wrkLoad {
	headers := []string{"Authorization: " + auth}
	for _, kv := range browserHeaders {
		headers = append(headers, kv[0]+": "+kv[1])
	}
	return wrkLoad{url: url, headers: headers}
}

// warmTokens runs the many-tokens route until every token has been asked for (the
// first request of each verifies its signature) and reads Traefik's RSS before and
// after: the growth that the tokens' views cost, against the cache's bound.
func (b *bencher) warmTokens(r *report) error {
	var err error
	if r.tokensBefore, err = readRSS(b.pid); err != nil {
		return err
	}
	if r.tokensWarm, err = b.warm(routeTokens, len(b.tokens.headers), b.s.warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	r.tokensAfter, err = readRSS(b.pid)
	return err
}

// tokenMarkdown gives the bearer routes against the one-session route and bare,
// with issue 27's targets, and Traefik's RSS over the tokens' warm-up.
func (r *report) tokenMarkdown(b *strings.Builder, rounds [][numRoutes]result) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	aboveBare := func(route int) func(*[numRoutes]result) float64 { return minus(cpuOf(route), cpuOf(routeBare)) }
	one := medianOf(rounds, aboveBare(routeSignedIn))
	token := medianOf(rounds, aboveBare(routeToken))
	tokens := medianOf(rounds, aboveBare(routeTokens))
	n := thousands(float64(r.s.sessions))
	p("\n### Bearer tokens (issue 27): one known token and %s in turn, against one session\n\n", n)
	p("| route | CPU µs above bare | ratio | target |\n|---|--:|--:|---|\n")
	p("| ags signed in, one session | %.1f | | |\n", one)
	p("| ags bearer token, one known token | %.1f | %.2f × one session's (per round: %.2f) | ≤ %.1fx: %s |\n", token,
		token/one, medianOf(rounds, over(aboveBare(routeToken), aboveBare(routeSignedIn))),
		targetTokenRatio, ratioVerdict(token, one, targetTokenRatio))
	p("| ags bearer tokens, %s in turn | %.1f | %.2f × one token's (per round: %.2f) | ≤ %dx: %s |\n", n, tokens,
		tokens/token, medianOf(rounds, over(aboveBare(routeTokens), aboveBare(routeToken))),
		targetTokensRatio, ratioVerdict(tokens, token, targetTokensRatio))
	p("\nThe bearer routes' middleware has bearerTokens on (a configuration of its own: its own cache); its requests carry "+
		"`Authorization: Bearer` with an RS256 access token (%d bytes for the one token) and the browser's headers, no Cookie header. "+
		"Before the rounds the many-tokens route ran %s requests, so that every token had been verified once.\n\n",
		r.tokenBytes, thousands(float64(r.tokensWarm)))
	r.boundTable(b, "the tokens' warm-up (each token's first requests)", "after the warm-up", r.tokensBefore, r.tokensAfter, r.tokensAfter, 0)
}
