package harness

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Where the harness learns the secrets of a run (Secret): the options it writes into
// Traefik's configuration and environment, the cookies its clients and browsers
// receive, the codes and tokens in the URLs and forms they follow, the bearer tokens
// they send, and the token answers of the providers that run in this process.

// secretOption reports whether an option of ags (or of any plugin the harness
// configures) holds a secret by its name: sessionSecret, clientSecret,
// clientPrivateKey, a password; a *File option names a file that holds one.
func secretOption(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "secret") || strings.Contains(n, "privatekey") || strings.Contains(n, "password")
}

// registerOptionSecrets registers the secrets of a middleware's options: the value of
// each secret option (the content of the file a *File one names), and the password of
// any URL (a revocation store's redis://:password@host).
func registerOptionSecrets(cfg map[string]any) {
	for name, v := range cfg {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if secretOption(name) && strings.HasSuffix(name, "File") {
			if data, err := os.ReadFile(s); err == nil {
				Secret("content of "+name, strings.TrimSpace(string(data)))
			}
		} else if secretOption(name) {
			Secret(name, s)
		}
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if pw, set := u.User.Password(); set {
				Secret("password in "+name, pw)
			}
		}
	}
}

// registerConfigSecrets registers the secrets of AGS_CLIENT_* variables (KEY=value)
// that a Traefik is started with.
func registerConfigSecrets(env []string) {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "AGS_CLIENT_") && secretOption(strings.ReplaceAll(k, "_", "")) {
			Secret(k, v)
		}
	}
}

// tokenParams are the names, in URLs, forms and token answers, of values that are
// secrets: what a provider issues and what a browser carries back.
var tokenParams = []struct{ name, kind string }{
	{"code", "authorization code"},
	{"id_token", "ID token"},
	{"access_token", "access token"},
	{"refresh_token", "refresh token"},
	{"logout_token", "logout token"},
	{"id_token_hint", "ID token"},
}

// learnValues registers the secrets among a URL's query or a form's fields.
func learnValues(values url.Values) {
	for _, p := range tokenParams {
		for _, v := range values[p.name] {
			Secret(p.kind, v)
		}
	}
}

// learnURL registers the secrets in the query and fragment of u.
func learnURL(u string) {
	parsed, err := url.Parse(u)
	if err != nil {
		return
	}
	learnValues(parsed.Query())
	if frag, err := url.ParseQuery(parsed.Fragment); err == nil {
		learnValues(frag)
	}
}

// learnRequest registers what a client sends that is a secret: a bearer token, and
// the codes and tokens of its URL.
func learnRequest(req *http.Request) {
	learnURL(req.URL.String())
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		Secret("bearer token", strings.TrimSpace(tok))
	}
}

// minCookieSecret: a cookie value shorter than this is a flag ("1", "on"), not a
// sealed session or pending login.
const minCookieSecret = 16

// learnCookie registers a cookie's value, named by the cookie (never by its value);
// a pending-login cookie by its name without the state, so that they count as one kind.
func learnCookie(name, value string) {
	if i := strings.Index(name, "_login_"); i >= 0 {
		name = name[:i] + "_login_{state}"
	}
	if len(value) >= minCookieSecret {
		Secret("cookie "+name, value)
	}
}

// secretJar is a cookie jar that registers every cookie it is given.
type secretJar struct {
	http.CookieJar
}

func (j secretJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	for _, c := range cookies {
		learnCookie(c.Name, c.Value)
	}
	j.CookieJar.SetCookies(u, cookies)
}

// tokenTap registers the tokens in the JSON answers of h on paths that end in
// "token" (a provider's token endpoint), as the provider issues them.
func tokenTap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "token") {
			h.ServeHTTP(w, r)
			return
		}
		rec := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		var answer map[string]any
		if json.Unmarshal(rec.body.Bytes(), &answer) != nil {
			return
		}
		for _, p := range tokenParams {
			if s, ok := answer[p.name].(string); ok {
				Secret(p.kind, s)
			}
		}
	})
}

// teeWriter keeps a copy of what is written (up to 1 MiB) as it passes it on.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.body.Len() < 1<<20 {
		t.body.Write(b)
	}
	return t.ResponseWriter.Write(b)
}
