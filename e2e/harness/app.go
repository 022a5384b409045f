package harness

import (
	"html/template"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// App is the backend behind Traefik: every path answers 200 with an HTML page that
// shows the path, the identity headers (X-Auth-Request-*, Authorization) and the cookie
// names it received, and links to the protected page, the open page, sign out and the
// feature-flag toggle.
//
// Page structure, for tests: <main id="app" data-view="protected|open|signed-out|home">;
// #path (the path and query), #user (X-Auth-Request-User, or "(none)"), a row
// tr[data-header="X-Auth-Request-Email"] > td per identity header, #cookies.
type App struct {
	URL string
	srv *http.Server
}

// StartApp starts the app on a free port of 127.0.0.1.
func StartApp() (*App, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &App{URL: "http://" + ln.Addr().String(), srv: &http.Server{
		Handler: http.HandlerFunc(serveApp), ReadHeaderTimeout: 10 * time.Second,
	}}
	go a.srv.Serve(ln)
	return a, nil
}

// Close stops the app.
func (a *App) Close() { a.srv.Close() }

// FlagCookie is the default name of ags's feature-flag cookie, used in the app's link.
const FlagCookie = "ags_client_active"

type appHeader struct{ Name, Value string }

type appPage struct {
	View, Title, Host, Path, User, Flag string
	Headers                             []appHeader
	Cookies                             []string
}

// IsIdentityHeader reports whether the app shows header name as identity.
func IsIdentityHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	return strings.HasPrefix(name, "X-Auth-Request-") || name == "Authorization"
}

func serveApp(w http.ResponseWriter, r *http.Request) {
	p := appPage{View: "home", Title: "ags e2e app", Host: r.Host, Path: r.URL.RequestURI(), User: "(none)", Flag: FlagCookie}
	switch {
	case strings.HasPrefix(r.URL.Path, "/protected"):
		p.View, p.Title = "protected", "Protected page"
	case strings.HasPrefix(r.URL.Path, "/open"):
		p.View, p.Title = "open", "Open page"
	case r.URL.Path == "/sign-out" || strings.HasPrefix(r.URL.Path, "/sign-out/"):
		p.View, p.Title = "signed-out", "You are signed out"
	}
	for name, values := range r.Header {
		if IsIdentityHeader(name) {
			p.Headers = append(p.Headers, appHeader{name, strings.Join(values, ", ")})
		}
	}
	sort.Slice(p.Headers, func(i, j int) bool { return p.Headers[i].Name < p.Headers[j].Name })
	if u := r.Header.Get("X-Auth-Request-User"); u != "" {
		p.User = u
	}
	for _, c := range r.Cookies() {
		p.Cookies = append(p.Cookies, c.Name)
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
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; color: #1b1b1b; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; font-size: .9rem; }
th { background: #f3f3f3; white-space: nowrap; width: 1%; }
td { word-break: break-all; }
.user { font-size: 1.2rem; }
.none { color: #777; }
</style>
</head>
<body>
<main id="app" data-view="{{.View}}">
<h1 id="title">{{.Title}}</h1>
<nav>
<a id="link-home" href="/">Home</a>
<a id="link-protected" href="/protected/">Protected page</a>
<a id="link-open" href="/open/">Open page</a>
<a id="link-sign-out" href="/sign-out">Sign out</a>
<a id="link-toggle" href="/toggle-feature/{{.Flag}}">Toggle ags</a>
</nav>
<p>Host: <code id="host">{{.Host}}</code> &nbsp; Path: <code id="path">{{.Path}}</code></p>
<p class="user">Signed in as: <strong id="user">{{.User}}</strong></p>
<h2>Identity headers received</h2>
{{if .Headers}}<table id="identity">
{{range .Headers}}<tr data-header="{{.Name}}"><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>{{else}}<p id="identity" class="none">None: no signed-in user.</p>{{end}}
<p>Cookies received: <code id="cookies">{{range $i, $c := .Cookies}}{{if $i}}, {{end}}{{$c}}{{else}}(none){{end}}</code></p>
</main>
</body>
</html>
`))
