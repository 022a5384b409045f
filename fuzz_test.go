package ags

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets of the attack suite (issue 7). FuzzParseJWS, FuzzParseJWKSet and
// FuzzOpenCookieHeader live next to what they test. `make fuzz` runs each target for
// FUZZTIME; `go test` replays the seeds below and those in testdata/fuzz.

// atkFuzzIssuer is the configured issuer FuzzParseDiscovery checks documents against.
const atkFuzzIssuer = "https://idp.example/realms/ags"

// FuzzParseDiscovery: a discovery document never panics the parser, and one it
// accepts names the configured issuer, absolute http(s) endpoints, a client
// authentication ags can do, and an authorization endpoint that keeps the
// parameters ags adds to it.
func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"` + atkFuzzIssuer + `","authorization_endpoint":"https://idp.example/auth","token_endpoint":"https://idp.example/token","jwks_uri":"https://idp.example/jwks","userinfo_endpoint":"https://idp.example/userinfo","end_session_endpoint":"https://idp.example/logout?x=1","id_token_signing_alg_values_supported":["RS256","ES256"]}`))
	f.Add([]byte(`{"issuer":"` + atkFuzzIssuer + `","authorization_endpoint":"http://127.0.0.1/a","token_endpoint":"http://127.0.0.1/t","jwks_uri":"http://127.0.0.1/k","token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt"]}`))
	f.Add([]byte(`{"issuer":"` + atkFuzzIssuer + `/","authorization_endpoint":"javascript:alert(1)","token_endpoint":"//evil.example/t","jwks_uri":"file:///etc/passwd"}`))
	f.Add([]byte(`{"issuer":"` + atkFuzzIssuer + `","authorization_endpoint":"https://idp.example/a","token_endpoint":"https://idp.example/t","jwks_uri":"https://idp.example/k","token_endpoint_auth_methods_supported":["tls_client_auth"]}`))
	f.Add([]byte(`{"issuer":42}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseDiscovery(body, atkFuzzIssuer, nil)
		if err != nil {
			if p != nil || !errors.Is(err, errDiscovery) {
				t.Fatalf("got %v and error %v, want errDiscovery alone", p, err)
			}
			return
		}
		if p.Issuer != atkFuzzIssuer {
			t.Fatalf("got issuer %q accepted, want %q", p.Issuer, atkFuzzIssuer)
		}
		endpoints := []struct {
			name, value string
			optional    bool
		}{
			{"authorization_endpoint", p.AuthorizationEndpoint, false},
			{"token_endpoint", p.TokenEndpoint, false},
			{"jwks_uri", p.JWKSURI, false},
			{"userinfo_endpoint", p.UserinfoEndpoint, true},
			{"end_session_endpoint", p.EndSessionEndpoint, true},
		}
		for _, e := range endpoints {
			if e.value == "" && e.optional {
				continue
			}
			u, perr := url.Parse(e.value)
			if perr != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("got %s %q accepted, want an absolute http(s) URL", e.name, e.value)
			}
		}
		// A client with a secret only: basic first, then post, else no sign-in.
		basic, post := false, false
		for _, am := range p.AuthMethods {
			basic = basic || am == "client_secret_basic"
			post = post || am == "client_secret_post"
		}
		want := "client_secret_basic"
		if len(p.AuthMethods) > 0 && !basic && post {
			want = "client_secret_post"
		}
		if len(p.AuthMethods) > 0 && !basic && !post {
			want = ""
		}
		ca := &clientAuth{method: authAuto, clientID: "c", secret: "s"}
		got, _, cerr := ca.choose(p.AuthMethods, p.AuthSigningAlgorithms)
		if got != want || (cerr != nil) != (want == "") {
			t.Fatalf("got auth method %q (error %v) for %q, want %q", got, cerr, p.AuthMethods, want)
		}
		// The browser is sent to the authorization endpoint with ags's parameters
		// added: they must land in the query the provider reads, on its host.
		auth, _ := url.Parse(p.AuthorizationEndpoint)
		sent, perr := url.Parse(withQuery(p.AuthorizationEndpoint, url.Values{"state": {"s"}, "nonce": {"n"}}))
		if perr != nil || sent.Host != auth.Host || sent.Query().Get("state") != "s" || sent.Query().Get("nonce") != "n" {
			t.Fatalf("authorization_endpoint %q: the login URL %q loses its parameters", p.AuthorizationEndpoint, sent)
		}
	})
}

// atkPathPatterns are the authenticatedPaths of the path fuzzing.
var atkPathPatterns = []string{"admin/.*", "/private", "reports/[0-9]+"}

// atkDecodeDepth counts how many times p can be percent-decoded (as matchPaths
// does, keeping invalid escapes) before it stops changing, up to 4.
func atkDecodeDepth(p string) int {
	depth := 0
	for depth < 4 && strings.Contains(p, "%") {
		d := lenientUnescape(p)
		if d == p {
			break
		}
		p = d
		depth++
	}
	return depth
}

// atkPathVariants returns spellings of p that an app reads as p: a "/" made "/./" or
// "//", one byte percent-encoded, a trailing "/" added. Each kind is bounded so that
// a long input stays quick. Encoding a byte adds a level of decoding, and matchPaths
// decodes three: the encoded variants are only made of paths that need two at most.
func atkPathVariants(p string) []string {
	out := []string{p + "/"}
	slashes := 0
	for i := 0; i < len(p) && slashes < 8; i++ {
		if p[i] == '/' {
			slashes++
			out = append(out, p[:i]+"/./"+p[i+1:], p[:i]+"//"+p[i+1:])
		}
	}
	if atkDecodeDepth(p) > 2 {
		return out
	}
	for i := 0; i < len(p) && i < 64; i++ {
		out = append(out, p[:i]+fmt.Sprintf("%%%02X", p[i])+p[i+1:])
	}
	return out
}

// FuzzMatchPaths: matching a path never panics, and a protected path stays protected
// however it is respelt: with "/./" or "//" for a "/", with one byte percent-encoded,
// or with a trailing "/".
func FuzzMatchPaths(f *testing.F) {
	protected, err := compilePathPatterns(atkPathPatterns)
	if err != nil {
		f.Fatal(err)
	}
	m := &middleware{cfg: &settings{protected: protected}}
	for _, seed := range []string{"/admin", "/admin/x", "/private", "/reports/12", "//admin", "/x/../admin",
		"/%61dmin", "/admin%2F", "/public/..%2Fadmin", "/admin;jsessionid=1/x", "/public\\..\\admin",
		"/private%3Fx", "/%252e%252e/private", "/public", "/administrator"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if len(matchPaths(p)) == 0 {
			t.Fatalf("matchPaths(%q) gave no form to match", p)
		}
		if !m.isProtected(p, "") {
			return
		}
		for _, v := range atkPathVariants(p) {
			if !m.isProtected(v, "") {
				t.Fatalf("%q is protected, but %q (forms %q) is not", p, v, matchPaths(v))
			}
		}
	})
}

// atkResolvesOnHost reports whether a Location value, read as browsers read it (tabs
// and line breaks dropped, "\" taken for "/", leading blanks skipped) and also once
// percent-decoded, stays on app.example.
func atkResolvesOnHost(loc string) bool {
	base, _ := url.Parse("http://app.example/start/page")
	readings := []string{loc}
	s := loc
	for i := 0; i < 3 && strings.Contains(s, "%"); i++ {
		d, err := url.PathUnescape(s)
		if err != nil {
			break
		}
		readings = append(readings, d)
		s = d
	}
	clean := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/")
	for _, r := range readings {
		for _, v := range []string{r, clean.Replace(r), strings.TrimLeft(clean.Replace(r), controlChars+" ")} {
			u, err := base.Parse(v)
			if err == nil && (u.Host != "app.example" || u.Scheme != "http") {
				return false
			}
		}
	}
	return true
}

// FuzzReturnPath: the place to return to after sign-in is always a same-host path,
// and either the request's own path and query or "/".
func FuzzReturnPath(f *testing.F) {
	for _, seed := range []string{"/private?tab=2", "//evil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
		"/%09/evil.example", "/%252F%252Fevil.example", "/\\evil.example", "/a?next=//evil.example",
		"/.//evil.example", "/%2e%2e//evil.example", "/%E3%80%82evil.example", "http://evil.example/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		urls := []*url.URL{{Path: target}}
		if u, err := url.ParseRequestURI(target); err == nil {
			urls = append(urls, u)
		}
		if path, query, ok := strings.Cut(target, "?"); ok {
			urls = append(urls, &url.URL{Path: path, RawQuery: query})
		}
		for _, u := range urls {
			got := returnPath(u)
			own := u.EscapedPath()
			if u.RawQuery != "" {
				own += "?" + u.RawQuery
			}
			if got != "/" && got != own {
				t.Fatalf("returnPath(%q) = %q, want %q or /", own, got, own)
			}
			if !isLocalPath(got) {
				t.Fatalf("returnPath(%q) = %q, which isLocalPath refuses", own, got)
			}
			if !atkResolvesOnHost(got) {
				t.Fatalf("returnPath(%q) = %q, which a browser may take off the host", own, got)
			}
		}
	})
}

// FuzzLoneSession: loneSession never disagrees with the long way, whatever the
// Cookie header.
func FuzzLoneSession(f *testing.F) {
	for _, seed := range []string{"_ga=1; ags_client_session=abc; theme=dark", "ags_client_session=abc", "a=1;;ags_client_session=x ;b"} {
		f.Add(seed)
	}
	c := cacheConfig(f, "")
	m, err := newMiddleware(http.NotFoundHandler(), c, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		checkLoneSession(t, m, line)
	})
}
