package ags

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// tpFormPost answers an authorization request as response_mode=form_post does: a
// page whose form the browser posts to the redirect URI at once.
func tpFormPost(w http.ResponseWriter, redirectURI string, answer url.Values) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(redirectURI))
	for name := range answer {
		fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(name), html.EscapeString(answer.Get(name)))
	}
	fmt.Fprint(w, `</form></body></html>`)
}

var (
	tpFormAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	tpFormInput  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// authorizeForm follows a login redirect to a provider that answers with a
// form_post page, and returns the path the form posts to and its fields.
func (b *flowBrowser) authorizeForm(rec *httptest.ResponseRecorder) (string, url.Values) {
	b.t.Helper()
	if rec.Code != http.StatusFound {
		b.t.Fatalf("login start: got status %d, want 302; body %s", rec.Code, rec.Body.String())
	}
	resp, err := http.Get(rec.Header().Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	buf := make([]byte, 4096)
	for {
		n, rerr := resp.Body.Read(buf)
		page.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	action := tpFormAction.FindStringSubmatch(page.String())
	if action == nil {
		b.t.Fatalf("the provider answered %d without a form_post page: %s", resp.StatusCode, page.String())
	}
	to, err := url.Parse(html.UnescapeString(action[1]))
	if err != nil || to.Host != b.host {
		b.t.Fatalf("the form posts to %q, want host %s", action[1], b.host)
	}
	form := url.Values{}
	for _, in := range tpFormInput.FindAllStringSubmatch(page.String(), -1) {
		form.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return to.RequestURI(), form
}

// postForm posts form to target, as the provider's page makes the browser do.
func (b *flowBrowser) postForm(target string, body string) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://"+b.host+target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(r)
}

// pendingCookie returns the pending-login cookie a login start set.
func pendingCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if strings.HasPrefix(c.Name, "ags_client_session_login") && c.MaxAge > 0 {
			return c
		}
	}
	t.Fatalf("the login start set no pending-login cookie: %v", rec.Result().Cookies())
	return nil
}

// TestFormPostSignIn: with responseMode form_post, the authorization request asks
// for it, the pending-login cookie survives a cross-site POST (SameSite=None;
// Secure), a GET callback is refused and the provider's POST signs the user in.
func TestFormPostSignIn(t *testing.T) {
	tp := newTestProvider(t)
	tp.issAnnounced = true
	c := flowConfig(tp)
	c.ResponseMode = "form_post"
	m, app := newFlow(t, c)
	b := newFlowBrowser(t, m)

	start := b.get("/private?tab=2")
	loc, _ := url.Parse(start.Header().Get("Location"))
	if got := loc.Query().Get("response_mode"); got != "form_post" {
		t.Errorf("response_mode: got %q, want form_post", got)
	}
	if pc := pendingCookie(t, start); pc.SameSite != http.SameSiteNoneMode || !pc.Secure {
		t.Errorf("pending-login cookie: got SameSite %v, Secure %v; want None and Secure", pc.SameSite, pc.Secure)
	}
	action, form := b.authorizeForm(start)
	if form.Get("code") == "" || form.Get("iss") != tp.issuer {
		t.Fatalf("the provider's form: got %v", form)
	}

	if rec := b.get(action + "?" + form.Encode()); rec.Code != http.StatusBadRequest || len(tp.tokenForms) != 0 {
		t.Errorf("GET callback in form_post mode: got %d and %d code exchanges, want 400 and none", rec.Code, len(tp.tokenForms))
	}
	done := b.postForm(action, form.Encode())
	if done.Code != http.StatusFound || done.Header().Get("Location") != "/private?tab=2" {
		t.Fatalf("POST callback: got %d to %q, want 302 to /private?tab=2; %s", done.Code, done.Header().Get("Location"), done.Body.String())
	}
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.last.Header.Get("X-Auth-Request-User") != "user-42" {
		t.Errorf("after a form_post sign-in: got %d, user %q", rec.Code, app.last.Header.Get("X-Auth-Request-User"))
	}
	// Only the pending login crosses sites on a POST: the sign-out state is Lax.
	out := b.get("/sign-out")
	for _, ck := range out.Result().Cookies() {
		if strings.HasSuffix(ck.Name, "_signout") && ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("sign-out state cookie: got SameSite %v, want Lax", ck.SameSite)
		}
	}
}

// TestQueryModeRefusesPost: by default the pending-login cookie stays Lax and a
// POST to the callback is refused, as a GET is in form_post mode.
func TestQueryModeRefusesPost(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	start := b.get("/private")
	if pc := pendingCookie(t, start); pc.SameSite != http.SameSiteLaxMode || pc.Secure {
		t.Errorf("pending-login cookie over http: got SameSite %v, Secure %v; want Lax, not Secure", pc.SameSite, pc.Secure)
	}
	back, _ := url.Parse(b.authorize(start))
	if rec := b.postForm(back.RequestURI(), back.RawQuery); rec.Code != http.StatusBadRequest || len(tp.tokenForms) != 0 {
		t.Errorf("POST callback in query mode: got %d and %d code exchanges, want 400 and none", rec.Code, len(tp.tokenForms))
	}
}

// TestFormPostCallbackChecks: the form, not the query, is the answer: RFC 9207's iss
// is checked in it, and a form too large or not a form is refused unexchanged.
func TestFormPostCallbackChecks(t *testing.T) {
	cases := []struct {
		name      string
		issParam  string // the provider's iss ("-": none)
		body      func(form url.Values) string
		query     func(form url.Values) string
		wantPage  string
		wantCalls int
	}{
		{"iss of another issuer", "https://other.example", nil, nil, "did not come from this site", 0},
		{"iss missing though announced", "-", nil, nil, "did not come from this site", 0},
		{"iss in the query only", "-", nil, func(f url.Values) string { return "iss=ISSUER" }, "did not come from this site", 0},
		{"state in the query only", "", func(f url.Values) string { f.Del("state"); return f.Encode() },
			func(f url.Values) string { return "state=" + f.Get("state") }, "Sign-in expired or invalid", 0},
		{"body over 64 KiB", "", func(f url.Values) string { f.Set("user", strings.Repeat("x", 70<<10)); return f.Encode() }, nil, "Sign-in expired or invalid", 0},
		{"as issued", "", nil, nil, "", 1},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.issAnnounced = true
			tp.issParam = tc.issParam
			c := flowConfig(tp)
			c.ResponseMode = "form_post"
			m, _ := newFlow(t, c)
			b := newFlowBrowser(t, m)
			action, form := b.authorizeForm(b.get("/private"))
			target := action
			if tc.query != nil {
				target += "?" + strings.ReplaceAll(tc.query(form), "ISSUER", url.QueryEscape(tp.issuer))
			}
			body := form.Encode()
			if tc.body != nil {
				body = tc.body(form)
			}
			rec := b.postForm(target, body)
			if len(tp.tokenForms) != tc.wantCalls {
				t.Errorf("got %d code exchanges, want %d (status %d)", len(tp.tokenForms), tc.wantCalls, rec.Code)
			}
			if tc.wantPage == "" && rec.Code != http.StatusFound {
				t.Errorf("got %d, want 302; %s", rec.Code, rec.Body.String())
			}
			if tc.wantPage != "" && (rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.wantPage)) {
				t.Errorf("got %d %q, want 400 with %q", rec.Code, rec.Body.String(), tc.wantPage)
			}
		})
	}
	t.Run("not a form", func(t *testing.T) {
		tp := newTestProvider(t)
		c := flowConfig(tp)
		c.ResponseMode = "form_post"
		m, _ := newFlow(t, c)
		b := newFlowBrowser(t, m)
		action, form := b.authorizeForm(b.get("/private"))
		r := httptest.NewRequest(http.MethodPost, "http://"+b.host+action, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "text/plain")
		if rec := b.send(r); rec.Code != http.StatusBadRequest || len(tp.tokenForms) != 0 {
			t.Errorf("got %d and %d code exchanges, want 400 and none", rec.Code, len(tp.tokenForms))
		}
	})
}

// TestFormPostInRequestObject: with requestObject, response_mode travels inside the
// signed request, not beside it.
func TestFormPostInRequestObject(t *testing.T) {
	tp := newTestProvider(t)
	tp.requestParameter = true
	c := tpAssertionConfig(t, tp, "ec-p256-pkcs8.pem")
	c.RequestObject = "true"
	c.ResponseMode = "form_post"
	m, _ := newFlow(t, c)
	b := newFlowBrowser(t, m)
	action, form := b.authorizeForm(b.get("/private"))
	if got := tp.requestObject["response_mode"]; got != "form_post" {
		t.Errorf("request object's response_mode: got %v, want form_post", got)
	}
	if tp.authorizeQuery.Get("response_mode") != "" {
		t.Errorf("response_mode beside the request object: %v", tp.authorizeQuery)
	}
	if rec := b.postForm(action, form.Encode()); rec.Code != http.StatusFound {
		t.Errorf("POST callback: got %d, want 302; %s", rec.Code, rec.Body.String())
	}
}

func TestResponseModeOption(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.ResponseMode = "fragment"
	if _, err := newMiddleware(http.NotFoundHandler(), c, "test"); err == nil || !strings.Contains(err.Error(), "responseMode") {
		t.Errorf("responseMode fragment: got %v, want an error naming responseMode", err)
	}
	env := map[string]string{"AGS_CLIENT_RESPONSE_MODE": "form_post"}
	m, _ := newFlow(t, flowConfig(tp).resolved(func(k string) string { return env[k] }))
	if !m.cfg.formPost || !m.cfg.cookies.formPost {
		t.Error("AGS_CLIENT_RESPONSE_MODE=form_post did not take effect")
	}
}
