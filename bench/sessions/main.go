// Command sessions makes many real ags sessions, cheaply: it signs in -n times
// through a compiled ags (CreateConfig and New, called in this process, no Traefik,
// no Yaegi) against the e2e harness's provider (the zitadel/oidc example: the login
// form answered with the test user's password) and prints each session's cookies as
// one Cookie header value per line (name=value; name2=value2 when the session is
// split into chunks).
//
// A session only opens in an ags with the same sessionSecret, cookie name, issuer and
// client, sealed in the format that ags reads. So traefikbench builds this command
// against the very plugin source that its Traefik loaded (a go.mod that replaces
// github.com/ags-client/ags with that folder) and passes it the Traefik's settings:
// the sessions are real sessions of the plugin under test, whatever its version.
//
//	go run ./sessions -issuer URL -app http://127.0.0.1:PORT -session-secret S -n 5000 > cookies.txt
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ags-client/ags"
)

// options are the command's flags.
type options struct {
	issuer, clientID, clientSecret, sessionSecret string
	protected                                     string // a path that needs a session
	paths                                         string // authenticatedPaths, comma separated
	app                                           string // the app's origin, for redirect_uri
	username, password                            string
	n, parallel                                   int
}

func main() {
	var o options
	flag.StringVar(&o.issuer, "issuer", "", "the provider's issuer URL (required)")
	flag.StringVar(&o.clientID, "client-id", "ags", "the client ID")
	flag.StringVar(&o.clientSecret, "client-secret", "ags-e2e-client-secret", "the client secret")
	flag.StringVar(&o.sessionSecret, "session-secret", "", "ags's sessionSecret (required)")
	flag.StringVar(&o.paths, "authenticated-paths", "/protected(/.*)?", "ags's authenticatedPaths, comma separated")
	flag.StringVar(&o.protected, "path", "/protected/", "the protected path where each sign-in starts")
	flag.StringVar(&o.app, "app", "", "the app's origin as the browser sees it, e.g. http://127.0.0.1:8080 (required)")
	flag.StringVar(&o.username, "username", "test-user@localhost", "the provider's user")
	flag.StringVar(&o.password, "password", "verysecure", "its password")
	flag.IntVar(&o.n, "n", 1, "sessions to make")
	flag.IntVar(&o.parallel, "parallel", 2, "sign-ins at once")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "sessions:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	started := time.Now()
	out, err := makeSessions(o)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, c := range out {
		fmt.Fprintln(w, c)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sessions: %d sign-ins in %s (%d at once)\n", o.n, time.Since(started).Round(time.Millisecond), o.parallel)
	return nil
}

// makeSessions signs in o.n times, o.parallel at once, and returns each session's
// Cookie header value.
func makeSessions(o options) ([]string, error) {
	switch {
	case o.issuer == "" || o.sessionSecret == "" || o.app == "":
		return nil, errors.New("-issuer, -session-secret and -app are required")
	case o.n < 1 || o.parallel < 1:
		return nil, errors.New("-n and -parallel must be at least 1")
	}
	h, err := newAgs(o)
	if err != nil {
		return nil, err
	}
	out := make([]string, o.n)
	errs := make(chan error, o.parallel)
	next := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: o.parallel},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for w := 0; w < o.parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := signIn(h, client, o)
				if err != nil {
					errs <- fmt.Errorf("sign-in %d: %w", i+1, err)
					return
				}
				out[i] = c
			}
		}()
	}
	var failed error
feed:
	for i := 0; i < o.n; i++ {
		select {
		case next <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errs:
		default:
		}
	}
	if failed != nil {
		return nil, failed
	}
	return out, nil
}

// newAgs builds the plugin, compiled, with the settings that decide whether a
// session opens. Options are set by field name, as Traefik does, so that the command
// builds against any version of the plugin that has these options.
func newAgs(o options) (http.Handler, error) {
	return newAgsWith(o, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
}

func newAgsWith(o options, next http.Handler) (http.Handler, error) {
	cfg := ags.CreateConfig()
	v := reflect.ValueOf(cfg).Elem()
	for name, value := range map[string]any{
		"Issuer": o.issuer, "ClientID": o.clientID, "ClientSecret": o.clientSecret,
		"SessionSecret": o.sessionSecret, "AuthenticatedPaths": strings.Split(o.paths, ","),
	} {
		f := v.FieldByName(name)
		if !f.IsValid() {
			return nil, fmt.Errorf("the plugin's Config has no field %s", name)
		}
		f.Set(reflect.ValueOf(value))
	}
	return ags.New(context.Background(), next, cfg, "sessions")
}

// signIn goes once through the code flow: ags's redirect to the provider, the
// provider's login form, its redirect back to the callback, and ags's answer with the
// session cookies, which it returns as one Cookie header value.
func signIn(h http.Handler, client *http.Client, o options) (string, error) {
	w := serve(h, o.app+o.protected, nil)
	if w.Code != http.StatusFound {
		return "", fmt.Errorf("GET %s: %d, want a redirect to the provider", o.protected, w.Code)
	}
	pending := w.Result().Cookies()
	authorize := w.Header().Get("Location")

	loc, err := follow(client, http.MethodGet, authorize, nil)
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	id := loc.Query().Get("authRequestID")
	if id == "" {
		return "", fmt.Errorf("authorize sent the browser to %s, want the login page", loc)
	}
	form := url.Values{"id": {id}, "username": {o.username}, "password": {o.password}}
	loc, err = follow(client, http.MethodPost, loc.ResolveReference(&url.URL{Path: loc.Path}).String(), form)
	if err != nil {
		return "", fmt.Errorf("login form: %w", err)
	}
	if !strings.HasPrefix(loc.String(), o.app) { // the authorize callback, then ags's
		if loc, err = follow(client, http.MethodGet, loc.String(), nil); err != nil {
			return "", fmt.Errorf("after the login: %w", err)
		}
	}
	if loc.Query().Get("code") == "" {
		return "", fmt.Errorf("the provider sent the browser to %s, want the callback with a code", loc)
	}
	w = serve(h, loc.String(), pending)
	if w.Code != http.StatusFound {
		return "", fmt.Errorf("callback: %d %s", w.Code, strings.TrimSpace(w.Body.String()))
	}
	var parts []string
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" { // the pending login's cookie is cleared
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", errors.New("callback set no session cookie")
	}
	return strings.Join(parts, "; "), nil
}

// serve passes one browser navigation to h.
func serve(h http.Handler, target string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// follow makes one request to the provider and returns where its redirect points.
func follow(client *http.Client, method, target string, form url.Values) (*url.URL, error) {
	var resp *http.Response
	var err error
	if form != nil {
		resp, err = client.PostForm(target, form)
	} else {
		resp, err = client.Get(target)
	}
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("%s %s: %s, want a redirect", method, target, resp.Status)
	}
	return resp.Request.URL.Parse(resp.Header.Get("Location"))
}
