package harness

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// App is the backend behind Traefik: every path answers 200 with an HTML page that
// shows the path, the identity headers (X-Auth-Request-*, Authorization) and the cookie
// names it received, whether ags is on for the browser (the feature-flag cookie), all
// request headers, and links to the protected page, the open page, sign out and the
// feature-flag toggle.
//
// Page structure, for tests: <main id="app" data-view="protected|open|signed-out|home">;
// #path (the path and query), #user (X-Auth-Request-User, or "(none)"), a row
// tr[data-header="X-Auth-Request-Email"] > td per identity header, #cookies, #flag.
type App struct {
	URL string
	srv *http.Server
}

// AppOptions says how to run the app.
type AppOptions struct {
	Port    int    // on 127.0.0.1; 0 picks a free one
	Config  string // shown on every page under "ags configuration", when not empty
	FlagOff bool   // ags's featureFlagDefault is false: no flag cookie means off
}

// StartApp starts the app on a free port of 127.0.0.1.
func StartApp() (*App, error) { return StartAppWith(AppOptions{}) }

// StartAppWith starts the app as opts says.
func StartAppWith(opts AppOptions) (*App, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", opts.Port))
	if err != nil {
		return nil, err
	}
	a := &App{URL: "http://" + ln.Addr().String(), srv: &http.Server{
		Handler: AppHandler(opts), ReadHeaderTimeout: 10 * time.Second,
	}}
	go a.srv.Serve(ln)
	return a, nil
}

// AppHandler is the app's handler, for a server of one's own (cmd/app, in a container).
func AppHandler(opts AppOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveApp(w, r, opts) })
}

// Close stops the app.
func (a *App) Close() { a.srv.Close() }

// FlagCookie is the default name of ags's feature-flag cookie, used in the app's link.
const FlagCookie = "ags_client_active"

type appHeader struct{ Name, Value string }

type appPage struct {
	View, Title, Intro, Host, Path, User, Flag, FlagState, Config string
	FlagOn, SignedIn                                              bool
	Headers, AllHeaders                                           []appHeader
	Cookies                                                       []string
}

// IsIdentityHeader reports whether the app shows header name as identity.
func IsIdentityHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	return strings.HasPrefix(name, "X-Auth-Request-") || name == "Authorization"
}

var appIntros = map[string]string{
	"home":       "This app stands behind Traefik, which runs the ags middleware. It shows what ags passed on to it.",
	"protected":  "An authenticated path: ags let this request through because this browser is signed in, and added the identity headers below. Signed out, ags sends the browser to the provider first.",
	"open":       "An open path: ags lets every request through, and adds the identity headers when this browser is signed in.",
	"signed-out": "The app's own sign-out view. ags ended the session and signed out at the provider before passing this request on.",
}

const appIntroProtectedOff = "An authenticated path, but no signed-in user: ags is off for this browser (its feature-flag cookie), so it passed the request on without a sign-in and without identity headers."

var onOff = map[bool]string{true: "on", false: "off"}

func serveApp(w http.ResponseWriter, r *http.Request, opts AppOptions) {
	p := appPage{View: "home", Title: "ags demo app", Host: r.Host, Path: r.URL.RequestURI(), User: "(none)",
		Flag: FlagCookie, Config: opts.Config}
	switch {
	case strings.HasPrefix(r.URL.Path, "/protected"):
		p.View, p.Title = "protected", "Protected page"
	case strings.HasPrefix(r.URL.Path, "/open"):
		p.View, p.Title = "open", "Open page"
	case r.URL.Path == "/sign-out" || strings.HasPrefix(r.URL.Path, "/sign-out/"):
		p.View, p.Title = "signed-out", "You are signed out"
	}
	for name, values := range r.Header {
		h := appHeader{name, strings.Join(values, ", ")}
		if IsIdentityHeader(name) {
			p.Headers = append(p.Headers, h)
		}
		if name == "Cookie" {
			continue // listed by name below
		}
		p.AllHeaders = append(p.AllHeaders, h)
	}
	sort.Slice(p.Headers, func(i, j int) bool { return p.Headers[i].Name < p.Headers[j].Name })
	sort.Slice(p.AllHeaders, func(i, j int) bool { return p.AllHeaders[i].Name < p.AllHeaders[j].Name })
	if u := r.Header.Get("X-Auth-Request-User"); u != "" {
		p.User = u
	}
	p.FlagOn = !opts.FlagOff
	p.FlagState = onOff[p.FlagOn] + " (the default: no " + FlagCookie + " cookie)"
	for _, c := range r.Cookies() {
		p.Cookies = append(p.Cookies, c.Name)
		if c.Name == FlagCookie {
			p.FlagOn = c.Value != "0"
			p.FlagState = onOff[p.FlagOn] + " (cookie " + FlagCookie + "=" + c.Value + ")"
		}
	}
	p.SignedIn = p.User != "(none)"
	p.Intro = appIntros[p.View]
	if p.View == "protected" && !p.SignedIn {
		// Only a browser for which ags is off gets here without an identity.
		p.Intro = appIntroProtectedOff
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := appTemplate.Execute(w, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

var appTemplate = template.Must(template.New("app").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 52rem; padding: 0 1rem; color: #1b1b1b; }
h1 { margin: 0 0 .3rem; }
h2 { font-size: 1.05rem; margin: 1.3rem 0 .4rem; }
.intro { color: #444; margin: .2rem 0 1rem; }
nav { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; }
nav a { border: 1px solid #bbb; border-radius: 4px; padding: .3rem .7rem; text-decoration: none; color: #0b4f8a; }
nav a:hover { background: #eef4fb; }
table { border-collapse: collapse; margin: .4rem 0; width: 100%; }
th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: left; font-size: .9rem; }
th { background: #f3f3f3; white-space: nowrap; width: 1%; }
td { word-break: break-all; font-family: ui-monospace, monospace; }
.status { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .6rem 0; }
.status dt { color: #555; }
.status dd { margin: 0; }
.user { font-size: 1.15rem; }
.on { color: #17692c; } .off { color: #a33; }
.none { color: #777; }
details { margin: 1rem 0; } summary { cursor: pointer; color: #333; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; font-size: .85rem; }
</style>
</head>
<body>
<main id="app" data-view="{{.View}}">
<h1 id="title">{{.Title}}</h1>
<p class="intro">{{.Intro}}</p>
<nav>
<a id="link-home" href="/">Home</a>
<a id="link-protected" href="/protected/">Protected page</a>
<a id="link-open" href="/open/">Open page</a>
<a id="link-sign-out" href="/sign-out">Sign out</a>
<a id="link-toggle" href="/toggle-feature/{{.Flag}}">Toggle ags for this browser</a>
</nav>
<dl class="status">
{{if .SignedIn}}<dt>Signed in as</dt><dd class="user"><strong id="user">{{.User}}</strong></dd>
{{else}}<dt>Signed in</dt><dd class="user">no{{if not .FlagOn}}: ags is off for this browser{{end}} <span id="user" hidden>{{.User}}</span></dd>{{end}}
<dt>ags for this browser</dt><dd id="flag" class="{{if .FlagOn}}on{{else}}off{{end}}">{{.FlagState}}</dd>
<dt>Host, path</dt><dd><code id="host">{{.Host}}</code> <code id="path">{{.Path}}</code></dd>
<dt>Cookies received</dt><dd><code id="cookies">{{range $i, $c := .Cookies}}{{if $i}}, {{end}}{{$c}}{{else}}(none){{end}}</code></dd>
</dl>
<h2>Identity headers received</h2>
{{if .Headers}}<table id="identity">
{{range .Headers}}<tr data-header="{{.Name}}"><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>{{else}}<p id="identity" class="none">None: no signed-in user.</p>{{end}}
<details id="all-headers"><summary>All request headers</summary>
<table>
{{range .AllHeaders}}<tr data-request-header="{{.Name}}"><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
</details>
{{if .Config}}<details id="config"><summary>ags configuration (Traefik's dynamic configuration)</summary>
<pre>{{.Config}}</pre>
</details>{{end}}
</main>
</body>
</html>
`))
