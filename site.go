package ags

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// How ags meets what stands in front of the app: the address the browser sees
// (externalURL), and the CORS preflights a browser sends before a cross-origin call
// (corsPreflight).

// parseExternalURL reads externalURL: an absolute http or https URL with no path
// (one trailing "/" aside), query, fragment or user; "" when not set.
func parseExternalURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("externalURL must be an absolute http or https URL such as https://app.example.org, got %q", v)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(v, "?#") {
		return "", fmt.Errorf("externalURL must be a scheme and host only, without a path, query or fragment, got %q", v)
	}
	return u.Scheme + "://" + u.Host, nil
}

// absoluteURL is the absolute URL of path as the browser reaches it: on externalURL
// when it is set, whatever the request's Host and X-Forwarded-Proto say; else on
// the host the request came to (requestURL).
func (m *middleware) absoluteURL(r *http.Request, path string) string {
	if m.cfg.externalURL != "" {
		return m.cfg.externalURL + path
	}
	return requestURL(r, path)
}

// isPreflight reports whether r is a CORS preflight that corsPreflight lets through
// without a session: OPTIONS with both Origin and Access-Control-Request-Method.
// A browser sends a preflight without cookies, so it can never carry a session.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}
