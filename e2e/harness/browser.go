package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium means that no Chromium or Chrome was found.
var ErrNoChromium = errors.New("no Chromium found: install Debian's chromium (apt-get install -y chromium) or set AGS_CHROMIUM")

// FindChromium returns the path of a Chromium: $AGS_CHROMIUM, or chromium,
// chromium-browser, google-chrome or google-chrome-stable on PATH.
func FindChromium() (string, error) {
	if p := os.Getenv("AGS_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Browser is a headless Chromium's cookie jar: a process of its own with a fresh
// profile (StartBrowserWith), or a browser context, Chromium's incognito-like
// profile, in the process that a test binary's browsers share (OpenBrowser).
type Browser struct {
	ctx         context.Context // the first tab; its parent is the allocator, or the shared process's tab
	cancel      context.CancelFunc
	allocCancel context.CancelFunc // nil for a browser context in the shared process
	dir         string
	contextID   cdp.BrowserContextID // "" for a process of its own
}

// BrowserOptions says how to run Chromium.
type BrowserOptions struct {
	// Hosts are host names that resolve to 127.0.0.1 in this browser (as a DNS entry
	// would in a deployment), e.g. app.example.org.
	Hosts []string
	// TrustSPKI are base64 SHA-256 hashes of public keys (SPKIHash) whose certificates
	// the browser accepts though no CA it knows signed them.
	TrustSPKI []string
}

// StartBrowser starts a headless Chromium (flags for running as root on a machine
// without network) with a new, empty user data folder.
func StartBrowser() (*Browser, error) { return StartBrowserWith(BrowserOptions{}) }

// StartBrowserWith starts a headless Chromium as opts says.
func StartBrowserWith(bo BrowserOptions) (*Browser, error) {
	path, err := FindChromium()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ags-e2e-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1024, 768),
	)
	if len(bo.Hosts) > 0 {
		rules := make([]string, len(bo.Hosts))
		for i, h := range bo.Hosts {
			rules[i] = "MAP " + h + " 127.0.0.1"
		}
		opts = append(opts, chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")))
	}
	if len(bo.TrustSPKI) > 0 {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(bo.TrustSPKI, ",")))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx, cancel: cancel, allocCancel: allocCancel, dir: dir}
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }() // starts the browser and its first tab
	select {
	case err = <-started:
	case <-time.After(30 * time.Second):
		err = errors.New("chromium did not start within 30s")
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	return b, nil
}

// Tab is the browser's first tab. Derive a context with a timeout from it for actions.
func (b *Browser) Tab() context.Context { return b.ctx }

// NewTab opens another tab of the same browser (same cookies).
func (b *Browser) NewTab() (context.Context, context.CancelFunc, error) {
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, cancel, nil
}

// Close ends the browser (a process of its own, with its profile; or the browser
// context in the shared process). The cookies it holds are registered as secrets
// first (Secret), by name.
func (b *Browser) Close() {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	if res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{BrowserContextID: b.contextID}); err == nil {
		for _, c := range res.Cookies {
			learnCookie(c.Name, c.Value)
		}
	}
	cancel()
	b.cancel()
	if b.allocCancel != nil {
		b.allocCancel()
		os.RemoveAll(b.dir)
	}
}

// sharedBrowser is the Chromium process of OpenBrowser, started at its first call.
var sharedBrowser struct {
	mu sync.Mutex
	b  *Browser
}

// OpenBrowser returns a browser with cookies of its own, a browser context in a
// Chromium process that the callers share: starting a Chromium costs about a second
// of CPU (5 starts, 4.9 s), and the same page loads took 3.3 CPU-s in 5 browser
// contexts of one Chromium against 7.5 in 5 Chromiums; the end-to-end tests open
// browsers in 27 places, several at a time. The
// options of StartBrowserWith are the process's flags: a test that needs them starts
// a process of its own. CloseSharedBrowser ends the process.
func OpenBrowser() (*Browser, error) {
	sharedBrowser.mu.Lock()
	if sharedBrowser.b == nil {
		b, err := StartBrowser()
		if err != nil {
			sharedBrowser.mu.Unlock()
			return nil, err
		}
		sharedBrowser.b = b
	}
	parent := sharedBrowser.b
	sharedBrowser.mu.Unlock()
	ctx, cancel := chromedp.NewContext(parent.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("open a browser context in the shared Chromium: %w", err)
	}
	return &Browser{ctx: ctx, cancel: cancel, contextID: chromedp.FromContext(ctx).BrowserContextID}, nil
}

// CloseSharedBrowser ends OpenBrowser's Chromium process, if it started one.
func CloseSharedBrowser() {
	sharedBrowser.mu.Lock()
	defer sharedBrowser.mu.Unlock()
	if sharedBrowser.b != nil {
		sharedBrowser.b.Close()
		sharedBrowser.b = nil
	}
}

// Open navigates ctx's tab to u and returns the response of the final document.
func Open(ctx context.Context, u string) (*network.Response, error) {
	return chromedp.Run(ctx, chromedp.NavigateResponse(u))
}

// Reload reloads ctx's tab and returns the response of the document.
func Reload(ctx context.Context) (*network.Response, error) {
	return chromedp.RunResponse(ctx, chromedp.Reload())
}

// ClickNav clicks the element sel (which must appear within 10 seconds) and waits for
// the navigation it starts.
func ClickNav(ctx context.Context, sel string) (*network.Response, error) {
	if err := waitVisible(ctx, sel); err != nil {
		return nil, err
	}
	return chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
}

func waitVisible(ctx context.Context, sel string) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		return fmt.Errorf("no element %s on the page: %w", sel, err)
	}
	return nil
}

// SubmitLogin types user and password into the provider's login page in ctx's tab,
// clicks Login and waits for the navigation that follows.
func SubmitLogin(ctx context.Context, user, password string) (*network.Response, error) {
	if err := waitVisible(ctx, "#username"); err != nil {
		return nil, err
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	); err != nil {
		return nil, fmt.Errorf("fill the login form: %w", err)
	}
	return chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
}

// HTML returns the current document of ctx's tab.
func HTML(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
}

// Text returns the visible text of the current document's body.
func Text(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
}

// Location returns the URL of ctx's tab.
func Location(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Location())
}

// ReadApp returns what the app's page in ctx's tab shows; View is "" when the tab
// does not show the app.
func ReadApp(ctx context.Context) (AppView, error) {
	doc, err := HTML(ctx)
	if err != nil {
		return AppView{}, err
	}
	return ParseAppView(doc), nil
}

// Screenshot returns a PNG of the viewport of ctx's tab.
func Screenshot(ctx context.Context) ([]byte, error) {
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// Navigations records the document requests of a tab, redirects included.
type Navigations struct {
	mu   sync.Mutex
	hops []Hop
}

// RecordNavigations starts recording the document requests of ctx's tab.
func RecordNavigations(ctx context.Context) (*Navigations, error) {
	n := &Navigations{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventResponseReceivedExtraInfo:
			learnSetCookies(ev.Headers)
		case *network.EventRequestWillBeSent:
			learnURL(ev.Request.URL)
			if ev.Type != network.ResourceTypeDocument || ev.RedirectResponse == nil {
				return
			}
			n.add(Hop{Method: ev.Request.Method, URL: ev.RedirectResponse.URL,
				Status: int(ev.RedirectResponse.Status), Location: ev.Request.URL})
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				n.add(Hop{Method: "GET", URL: ev.Response.URL, Status: int(ev.Response.Status)})
			}
		}
	})
	return n, err
}

// learnSetCookies registers the cookies of a response's Set-Cookie headers (as
// Chromium reports them: one string, a line per cookie).
func learnSetCookies(headers network.Headers) {
	h := http.Header{}
	for k, v := range headers {
		if s, ok := v.(string); ok && strings.EqualFold(k, "set-cookie") {
			h["Set-Cookie"] = strings.Split(s, "\n")
		}
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		learnCookie(c.Name, c.Value)
	}
}

func (n *Navigations) add(h Hop) {
	n.mu.Lock()
	n.hops = append(n.hops, h)
	n.mu.Unlock()
}

// Hops returns the documents loaded so far: for a redirect, its target in Location.
func (n *Navigations) Hops() []Hop {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Hop(nil), n.hops...)
}

// Reset forgets the documents recorded so far.
func (n *Navigations) Reset() {
	n.mu.Lock()
	n.hops = nil
	n.mu.Unlock()
}

// Visited reports whether a recorded document URL starts with prefix.
func (n *Navigations) Visited(prefix string) bool {
	for _, h := range n.Hops() {
		if strings.HasPrefix(h.URL, prefix) {
			return true
		}
	}
	return false
}

// String lists the recorded documents, one per line.
func (n *Navigations) String() string {
	var b strings.Builder
	for _, h := range n.Hops() {
		b.WriteString("  " + h.String() + "\n")
	}
	return b.String()
}
