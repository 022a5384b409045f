package ags

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The identity headers ags sets for the app. A request never reaches the app with one
// of these unless ags set it from a valid session.
const (
	headerUser              = "X-Auth-Request-User"
	headerEmail             = "X-Auth-Request-Email"
	headerPreferredUsername = "X-Auth-Request-Preferred-Username"
	headerGroups            = "X-Auth-Request-Groups"
	headerAccessToken       = "X-Auth-Request-Access-Token"
	headerIDToken           = "X-Auth-Request-Id-Token"
	headerAuthorization     = "Authorization"
)

// pathOverrideHeaders name another path than the request's: IIS URL Rewrite,
// Symfony and Zend route on them, so a client that sets one reaches /admin through
// an open path. No client may send them to the app.
var pathOverrideHeaders = []string{"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri"}

// headerKey is the name a backend reads a header key as: any letter case, and "_"
// for "-" (CGI, WSGI and PHP turn both into HTTP_X_AUTH_REQUEST_USER). An earlier
// middleware may have stored a key in any spelling, not only Go's canonical one.
func headerKey(k string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))
}

// strippedHeaders builds the set of header names (as headerKey gives them) removed
// from every request: the identity headers and the path-override headers.
// Authorization is the app's own unless ags passes the access token in it.
func strippedHeaders(s *settings) map[string]bool {
	names := []string{headerUser, headerEmail, headerPreferredUsername, headerGroups, headerAccessToken, headerIDToken}
	names = append(names, pathOverrideHeaders...)
	if s.passAccessToken {
		names = append(names, headerAuthorization)
	}
	for _, h := range s.identityHeaders {
		names = append(names, h)
	}
	set := map[string]bool{}
	for _, name := range names {
		set[headerKey(name)] = true
	}
	return set
}

// identity is what an opened session gives the app, kept in the cache so that a
// signed-in request neither decrypts nor decodes. It does not keep the session (the
// tokens and claims are most of a view's bytes): the slow paths that need it open
// the request's cookie again (sessionOf).
type identity struct {
	sess      *session // only for a renewed session, which the browser may not have yet
	sub       string   // for log lines
	name      string   // preferred_username, else email, else sub: for pages
	headers   []headerValue
	expiry    time.Time // the session's end
	refreshAt time.Time // when the access token must be renewed; zero: never
	until     time.Time // the earlier of the two: the identity is served until then
	refusal   string    // the access rule this user fails on this instance; "": none
	// The digests of the sealed value it was opened from, when the cache of opened
	// sessions holds it (viewCache); zero otherwise.
	key, check uint64
	bytes      int // the memory it holds, estimated when it is made (cache.go)
}

// claimHeader is a claim that reaches the app as a header.
type claimHeader struct {
	claim, header string
}

// claimHeaders lists the claims passed to the app: the standard four, then
// identityHeaders.
func claimHeaders(s *settings) []claimHeader {
	out := []claimHeader{{"sub", headerUser}, {"email", headerEmail}, {"preferred_username", headerPreferredUsername}, {"groups", headerGroups}}
	for claim, header := range s.identityHeaders {
		out = append(out, claimHeader{claim: claim, header: header})
	}
	return out
}

type headerValue struct {
	name  string
	value []string
}

// newIdentity computes the headers for the app from a session.
func (m *middleware) newIdentity(sess *session) *identity {
	id := &identity{sub: claimString(sess, "sub"), expiry: sess.Expiry, until: sess.Expiry}
	id.name = claimString(sess, "preferred_username")
	if id.name == "" {
		id.name = claimString(sess, "email")
	}
	if id.name == "" {
		id.name = id.sub
	}
	if m.cfg.refresh && sess.RefreshToken != "" && !sess.AccessExpiry.IsZero() {
		id.refreshAt = sess.AccessExpiry
		if id.refreshAt.Before(id.until) {
			id.until = id.refreshAt
		}
	}
	id.refusal = m.cfg.rules.refusal(sess)
	withheld := !m.cfg.allowUnverifiedEmail && emailUnverified(sess)
	// A cache miss makes an identity, and under Yaegi a closure call goes through
	// reflection: plain loops over the claims to pass, worked out in New.
	id.headers = make([]headerValue, 0, len(m.claimHeaders)+3)
	for _, ch := range m.claimHeaders {
		if ch.claim == "email" && withheld {
			continue
		}
		if value := claimString(sess, ch.claim); value != "" {
			id.headers = append(id.headers, headerValue{name: ch.header, value: []string{value}})
		}
	}
	if m.cfg.passAccessToken && sess.AccessToken != "" {
		id.headers = append(id.headers, headerValue{name: headerAccessToken, value: []string{sess.AccessToken}},
			headerValue{name: headerAuthorization, value: []string{"Bearer " + sess.AccessToken}})
	}
	if m.cfg.passIDToken && sess.IDToken != "" {
		id.headers = append(id.headers, headerValue{name: headerIDToken, value: []string{sess.IDToken}})
	}
	id.bytes = identityBytes(id)
	return id
}

// sessionOf returns the session behind id: the renewed one it keeps, else the
// request's cookie opened again; nil when that no longer opens.
func (m *middleware) sessionOf(r *http.Request, id *identity) *session {
	if id.sess != nil {
		return id.sess
	}
	sealed, err := m.store.sealedValue(r)
	if err != nil {
		return nil
	}
	sess, err := m.store.open(sealed)
	if err != nil {
		return nil
	}
	return sess
}

// emailUnverified reports whether the provider says the e-mail address is not
// verified: email_verified false, or "false" as some providers send it. An absent
// claim is not a no: many providers never send it.
func emailUnverified(sess *session) bool {
	switch v := claimValue(sess, "email_verified").(type) {
	case bool:
		return !v
	case string:
		return strings.EqualFold(v, "false")
	}
	return false
}

// claimValue is a claim from the ID token, else from userinfo; nil when neither has it.
func claimValue(sess *session, name string) interface{} {
	if v, ok := sess.Claims[name]; ok && v != nil {
		return v
	}
	return sess.UserInfo[name]
}

// lineBreaks are the white space besides " " that strings.Fields splits at.
const lineBreaks = "\t\n\v\f\r\u0085\u00a0"

// claimString gives a claim as a header value: from the ID token, else from userinfo;
// lists are comma separated. Line breaks are dropped so a claim cannot split a header.
func claimString(sess *session, name string) string {
	var s string
	switch x := claimValue(sess, name).(type) {
	case nil:
		return ""
	case string:
		if !strings.ContainsAny(x, lineBreaks) {
			return x // the common claim, with one call
		}
		s = x
	case []interface{}:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			text, ok := jsonText(e)
			if !ok {
				text = fmt.Sprint(e)
			}
			parts = append(parts, text)
		}
		s = strings.Join(parts, ",")
	case float64:
		s = fmt.Sprintf("%.0f", x)
		if float64(int64(x)) != x {
			s = fmt.Sprint(x)
		}
	default:
		s = fmt.Sprint(x)
	}
	return strings.Join(strings.Fields(s), " ")
}
