package ags

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"
)

// pageKind is one of the error pages, with what it tells a user.
type pageKind struct {
	title   string
	message string
	event   string // the log line's reason
}

var (
	pageUnauthorized  = pageKind{"Sign-in required", "This page needs a signed-in user. Sign in from a browser and try again.", "unauthenticated request"}
	pageUnavailable   = pageKind{"Sign-in unavailable", "The identity provider cannot be reached right now. Please try again in a moment.", "provider unavailable"}
	pageBadState      = pageKind{"Sign-in expired or invalid", "This sign-in link is not valid for this browser: it may have expired, been used already, or come from elsewhere. Go back to the page you wanted and sign in again.", "callback state rejected"}
	pageProviderError = pageKind{"Sign-in refused", "The identity provider did not sign you in.", "provider returned an error"}
	pageExchange      = pageKind{"Sign-in failed", "The sign-in could not be completed with the identity provider. Please try again.", "code exchange failed"}
	pageIDToken       = pageKind{"Sign-in failed", "The identity provider's answer did not pass the security checks, so you were not signed in.", "id token rejected"}
	pageMixUp         = pageKind{"Sign-in failed", "The answer to this sign-in did not come from this site's identity provider, so you were not signed in. Go back to the page you wanted and sign in again.", "callback from another issuer"}
	pageUserinfo      = pageKind{"Sign-in failed", "The identity provider's user information did not match the sign-in, so you were not signed in.", "userinfo rejected"}
	pageAccessToken   = pageKind{"Sign-in failed", "The identity provider's access token did not pass the security checks, so you were not signed in.", "access token rejected"}
	pageOpaqueToken   = pageKind{"Sign-in failed", "This site reads the claims of the access token (accessTokenClaims), and the identity provider issued one that is not a JWT: the site's configuration must change.", "access token not a JWT"}
	pageSignOutState  = pageKind{"Sign-out link invalid", "This sign-out return is not valid for this browser. You are signed out of this site.", "sign-out state rejected"}
	pageInternal      = pageKind{"Something went wrong", "The sign-in could not be completed. Please try again.", "internal error"}
)

// page answers with a clear HTML error page and logs the failure. The provider's
// error code and description are shown (escaped) since the user needs them; any
// other detail only with debug, as it can name what was compared.
func (m *middleware) page(w http.ResponseWriter, r *http.Request, status int, kind pageKind, err error) {
	e := logEvent{event: strings.ReplaceAll(kind.event, " ", "-")}
	if err != nil {
		e.reason = err.Error()
		m.log.write("WARN", e, "%s on %s %s: %v", kind.event, r.Method, r.URL.Path, err)
	} else {
		m.log.write("DEBUG", e, "%s on %s %s", kind.event, r.Method, r.URL.Path)
	}
	var b strings.Builder
	b.WriteString("<p>" + html.EscapeString(kind.message) + "</p>\n")
	if perr := asProviderError(err); perr != nil {
		b.WriteString("<p>The provider said: <code>" + html.EscapeString(perr.Code) + "</code>")
		if perr.Description != "" {
			b.WriteString(": " + html.EscapeString(perr.Description))
		}
		b.WriteString("</p>\n")
	}
	if m.cfg.debug && err != nil {
		b.WriteString("<p>Detail (shown because debug is on): <code>" + html.EscapeString(err.Error()) + "</code></p>\n")
	}
	b.WriteString(`<p><a href="/">Go to the start page</a></p>` + "\n")
	m.writePage(w, r, status, kind.title, b.String())
}

// writePage answers with an HTML page: title, then body (HTML, escaped by the caller).
func (m *middleware) writePage(w http.ResponseWriter, r *http.Request, status int, title, body string) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">")
	b.WriteString("<title>" + html.EscapeString(title) + "</title>")
	b.WriteString("<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{background:#eee;padding:.1em .3em}</style></head><body>")
	b.WriteString("<h1>" + html.EscapeString(title) + "</h1>\n" + body + "</body></html>\n")
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
}

// apiAnswer answers an API call, not a page: JSON ({"error", "error_description"}, as
// OAuth errors read) when it accepts JSON, else a line of plain text.
func apiAnswer(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	if !strings.Contains(r.Header.Get("Accept"), "json") {
		plainAnswer(w, r, status, code+": "+description)
		return
	}
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	writeAnswer(w, r, status, "application/json", append(body, '\n'))
}

// plainAnswer answers an API call with a line of plain text.
func plainAnswer(w http.ResponseWriter, r *http.Request, status int, text string) {
	writeAnswer(w, r, status, "text/plain; charset=utf-8", []byte(text+"\n"))
}

// writeAnswer writes an answer for an API call, never to be cached or sniffed.
func writeAnswer(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
