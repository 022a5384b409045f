package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// Hop is one request of a redirect chain.
type Hop struct {
	Method, URL string
	Status      int
	Location    string
}

func (h Hop) String() string {
	s := fmt.Sprintf("%s %s -> %d", h.Method, h.URL, h.Status)
	if h.Location != "" {
		s += " Location: " + h.Location
	}
	return s
}

// Page is the end of a redirect chain.
type Page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	Hops   []Hop // every request, the last one included
}

// Client is a plain HTTP client with a cookie jar, as a browser without JavaScript: it
// follows redirects itself so that it can report each hop.
type Client struct {
	HTTP *http.Client
}

// NewClient returns a client with an empty cookie jar. The cookies it receives are
// registered as secrets (Secret), by name.
func NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{HTTP: &http.Client{
		Jar:           secretJar{jar},
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// ResolveTo127 makes the client connect to 127.0.0.1 for the given host names (as a
// DNS entry would in a deployment), on the port of the URL, and trust roots for
// HTTPS when not nil.
func (c *Client) ResolveTo127(roots *x509.CertPool, hosts ...string) {
	local := map[string]bool{}
	for _, h := range hosts {
		local[h] = true
	}
	var d net.Dialer
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && local[host] {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	c.HTTP.Transport = tr
}

// Do sends req and follows up to 20 redirects (303 and 302 after a POST become GETs).
// The codes and tokens it sends or is redirected with are registered as secrets.
func (c *Client) Do(req *http.Request) (*Page, error) {
	var hops []Hop
	for i := 0; ; i++ {
		learnRequest(req)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return &Page{Hops: hops}, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return &Page{Hops: hops}, err
		}
		loc := resp.Header.Get("Location")
		learnURL(loc)
		hops = append(hops, Hop{Method: req.Method, URL: req.URL.String(), Status: resp.StatusCode, Location: loc})
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return &Page{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body), Hops: hops}, nil
		}
		if i == 20 {
			return &Page{Hops: hops}, fmt.Errorf("more than 20 redirects")
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return &Page{Hops: hops}, fmt.Errorf("bad Location %q: %w", loc, err)
		}
		method := req.Method
		if resp.StatusCode == http.StatusSeeOther || (method == http.MethodPost && resp.StatusCode <= 302) {
			method = http.MethodGet
		}
		if req, err = http.NewRequest(method, next.String(), nil); err != nil {
			return &Page{Hops: hops}, err
		}
	}
}

// Get is Do with a GET of u.
func (c *Client) Get(u string) (*Page, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// PostForm posts values to u, as a browser submits a form, and follows redirects.
func (c *Client) PostForm(u string, values url.Values) (*Page, error) {
	learnValues(values)
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// SignIn fills the login form of page (the provider's login page) with user and
// password, submits it and follows the redirects back to the app.
func (c *Client) SignIn(login *Page, user, password string) (*Page, error) {
	action, values, err := ParseLoginForm(login.Body, login.URL)
	if err != nil {
		return nil, err
	}
	values.Set("username", user)
	values.Set("password", password)
	return c.PostForm(action, values)
}

// SubmitForm submits the first form of page with the values of its fields, as the
// page's script does in a browser: a form_post answer (OAuth 2.0 Form Post Response
// Mode) or a logout confirmation. It follows the redirects.
func (c *Client) SubmitForm(page *Page) (*Page, error) {
	doc, err := html.Parse(strings.NewReader(page.Body))
	if err != nil {
		return nil, err
	}
	var form *html.Node
	eachElement(doc, func(n *html.Node) {
		if form == nil && n.Data == "form" {
			form = n
		}
	})
	if form == nil {
		return nil, fmt.Errorf("no form in the page:\n%s", tail(page.Body, 30))
	}
	action, err := page.URL.Parse(attr(form, "action"))
	if err != nil {
		return nil, err
	}
	values := url.Values{}
	eachElement(form, func(n *html.Node) {
		if n.Data == "input" && attr(n, "name") != "" {
			values.Add(attr(n, "name"), attr(n, "value"))
		}
	})
	if !strings.EqualFold(attr(form, "method"), "post") {
		action.RawQuery = values.Encode()
		return c.Get(action.String())
	}
	return c.PostForm(action.String(), values)
}

// ParseLoginForm finds the form that has a password field in an HTML page and returns
// its absolute action URL and the values of its fields (hidden ones included).
func ParseLoginForm(body string, base *url.URL) (string, url.Values, error) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	var found *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" && hasPasswordField(n) {
			found = n
			return
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	if found == nil {
		return "", nil, fmt.Errorf("no login form (a form with a password field) in the page:\n%s", tail(body, 30))
	}
	action, err := base.Parse(attr(found, "action"))
	if err != nil {
		return "", nil, err
	}
	values := url.Values{}
	eachElement(found, func(n *html.Node) {
		if n.Data == "input" && attr(n, "name") != "" {
			values.Set(attr(n, "name"), attr(n, "value"))
		}
	})
	return action.String(), values, nil
}

func hasPasswordField(form *html.Node) bool {
	has := false
	eachElement(form, func(n *html.Node) {
		if n.Data == "input" && attr(n, "type") == "password" {
			has = true
		}
	})
	return has
}

func eachElement(n *html.Node, f func(*html.Node)) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if ch.Type == html.ElementNode {
			f(ch)
		}
		eachElement(ch, f)
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// AppView is what the app's page says (see App).
type AppView struct {
	View    string            // protected, open, signed-out, home; "" when the page is not the app's
	Path    string            // the path and query the app received
	User    string            // X-Auth-Request-User, "(none)" without
	Headers map[string]string // identity headers received
	All     map[string]string // every request header received but Cookie
	Cookies string            // the names of the cookies received, comma separated
}

// ParseAppView reads the app's page. View is "" when body is not the app's page.
func ParseAppView(body string) AppView {
	v := AppView{Headers: map[string]string{}, All: map[string]string{}}
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return v
	}
	eachElement(doc, func(n *html.Node) {
		switch {
		case n.Data == "main" && attr(n, "id") == "app":
			v.View = attr(n, "data-view")
		case attr(n, "id") == "path":
			v.Path = textOf(n)
		case attr(n, "id") == "user":
			v.User = textOf(n)
		case attr(n, "id") == "cookies":
			v.Cookies = textOf(n)
		case n.Data == "tr" && attr(n, "data-header") != "":
			eachElement(n, func(td *html.Node) {
				if td.Data == "td" {
					v.Headers[attr(n, "data-header")] = textOf(td)
				}
			})
		case n.Data == "tr" && attr(n, "data-request-header") != "":
			eachElement(n, func(td *html.Node) {
				if td.Data == "td" {
					v.All[attr(n, "data-request-header")] = textOf(td)
				}
			})
		}
	})
	return v
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
