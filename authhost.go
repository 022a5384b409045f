package ags

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// One sign-in for many hosts (authHost, SPEC 14): every callback comes to one host,
// so the provider knows one redirect_uri; the host a login started on travels sealed
// in its pending login, and is taken back only when it is under cookieDomain or in
// allowedRedirectHosts. None of this is on the request path of a signed-in user: it
// runs when a login starts, at the callback and at sign-out.

// hostNamePattern is a DNS name in lower case: labels of letters, digits and inner
// hyphens, no empty label (so no trailing dot), nothing a URL parser reads otherwise.
var hostNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// hostNameOf returns the name of host[:port] when host is a plain lower-case DNS
// name with at most a numeric port; ok is false for anything else (user info, a
// path, a backslash, a trailing dot, upper case, an IPv6 literal).
func hostNameOf(hostport string) (name string, ok bool) {
	name, port, hasPort := strings.Cut(hostport, ":")
	if hasPort && (len(port) == 0 || len(port) > 5 || !isDigits(port)) {
		return "", false
	}
	return name, len(name) <= 253 && hostNamePattern.MatchString(name)
}

// isUnderDomain reports whether name is domain itself or a host under it.
func isUnderDomain(name, domain string) bool {
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// parseAuthHost reads authHost and allowedRedirectHosts; cookieDomain is already in
// s.cookies. authHost must be a host under cookieDomain, since the session it sets
// at the callback must reach every host the login may have started on.
func parseAuthHost(c *Config, s *settings) error {
	domain := strings.ToLower(strings.TrimPrefix(s.cookies.domain, "."))
	if c.AuthHost != "" {
		host := strings.ToLower(c.AuthHost)
		name, ok := hostNameOf(host)
		if !ok {
			return fmt.Errorf("authHost must be a host name, with a port at most (auth.example.org), without a scheme or path, got %q", c.AuthHost)
		}
		if domain == "" {
			return fmt.Errorf("authHost needs cookieDomain: the session set at %s must reach the other hosts", host)
		}
		if !isUnderDomain(name, domain) {
			return fmt.Errorf("authHost %q must be cookieDomain %q or a host under it", c.AuthHost, s.cookies.domain)
		}
		s.authHost, s.authDomain = host, domain
	}
	if len(c.AllowedRedirectHosts) > 0 && s.authHost == "" {
		return fmt.Errorf("allowedRedirectHosts needs authHost: without it, the return after sign-in stays on the host it started on")
	}
	for _, h := range c.AllowedRedirectHosts {
		name := strings.ToLower(strings.TrimSpace(h))
		if n, ok := hostNameOf(name); !ok || n != name {
			return fmt.Errorf("allowedRedirectHosts: %q is not a host name (no scheme, port or path)", h)
		}
		if s.redirectHosts == nil {
			s.redirectHosts = map[string]bool{}
		}
		s.redirectHosts[name] = true
	}
	return nil
}

// scheme is the scheme of the addresses ags gives the provider: externalURL's when
// it is set, else the request's.
func (m *middleware) scheme(r *http.Request) string {
	if m.cfg.externalURL != "" {
		scheme, _, _ := strings.Cut(m.cfg.externalURL, "://")
		return scheme
	}
	return requestScheme(r)
}

// flowURL is the absolute URL of one of ags's own paths (the callback, the sign-out
// return) as the provider is told it: on authHost when it is set, else absoluteURL.
func (m *middleware) flowURL(r *http.Request, path string) string {
	if m.cfg.authHost == "" {
		return m.absoluteURL(r, path)
	}
	return m.scheme(r) + "://" + m.cfg.authHost + path
}

// returnAddress is the place a login started from r comes back to: its path and
// query (returnPath), and with authHost the scheme and host too, so that the
// callback on authHost can send the browser home. A host that may not be returned
// to is dropped here already: such a login ends on authHost's "/".
func (m *middleware) returnAddress(r *http.Request, path string) string {
	if m.cfg.authHost == "" {
		return path
	}
	host := strings.ToLower(r.Host)
	if !m.mayReturnTo(host) {
		return "/"
	}
	return m.scheme(r) + "://" + host + path
}

// mayReturnTo reports whether the browser may be sent to host (host[:port]) after
// a sign-in or sign-out on authHost.
func (m *middleware) mayReturnTo(host string) bool {
	name, ok := hostNameOf(host)
	return ok && (isUnderDomain(name, m.cfg.authDomain) || m.cfg.redirectHosts[name])
}

// returnTarget is the Location a callback sends the browser to: the sealed return
// address when it is still a safe one, else "/" of the host the callback came to.
// It is checked again here, sealed or not: what leaves is never off the domain.
func (m *middleware) returnTarget(sealed string) string {
	if m.cfg.authHost == "" || strings.HasPrefix(sealed, "/") {
		if isLocalPath(sealed) {
			return sealed
		}
		return "/"
	}
	scheme, rest, _ := strings.Cut(sealed, "://")
	host, path := rest, ""
	if i := strings.Index(rest, "/"); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if (scheme != "https" && scheme != "http") || !m.mayReturnTo(host) || !isLocalPath(path) {
		return "/"
	}
	return scheme + "://" + host + path
}

// rootOf is the shortest form of a return address that still goes home: its
// scheme and host with "/", or "/" (savePending cuts to it when the cookie is full).
func rootOf(target string) string {
	if scheme, rest, ok := strings.Cut(target, "://"); ok && !strings.HasPrefix(target, "/") {
		host, _, _ := strings.Cut(rest, "/")
		return scheme + "://" + host + "/"
	}
	return "/"
}

// signOutReturn answers a sign-out's return from the provider on authHost, when the
// sign-out began on another host: the browser goes to that host's sign-out path,
// where, signed out already, it reaches that host's sign-out view. It reports
// whether it answered; otherwise the request goes on as on any host.
func (m *middleware) signOutReturn(w http.ResponseWriter, r *http.Request, sealed string) bool {
	if m.cfg.authHost == "" || sealed == "" {
		return false
	}
	target := m.returnTarget(sealed)
	if !strings.Contains(target, "://") || rootOf(target) == rootOf(m.scheme(r)+"://"+strings.ToLower(r.Host)+"/") {
		return false
	}
	m.redirect(w, target)
	return true
}
