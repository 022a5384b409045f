package ags

import (
	"bytes"
	"encoding/json"
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
	names := []string{headerUser, headerEmail, headerPreferredUsername, headerGroups, headerAccessToken, headerIDToken,
		headerIdentityLevel, headerIdentity, headerReturnCode}
	names = append(names, pathOverrideHeaders...)
	if s.passAccessToken {
		names = append(names, headerAuthorization)
	}
	if s.bearer != nil {
		names = append(names, headerScope, headerClientID)
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
	lastUse   time.Time // sessionIdleTimeout: the session's last use, as sealed; zero when off
	until     time.Time // the earliest of the end, the renewal and the last use's renewal (withIdle): the identity is served until then
	refusal   string    // the access rule this user fails on this instance; "": none
	sid       string    // the ID token's sid (revocation.go); "": none
	issuedAt  int64     // the session's sign-in, Unix seconds (revocation.go)
	indexed   bool      // in the view cache's revocation index, under its lock
	// The digests of the sealed value it was opened from, when the cache of opened
	// sessions holds it (viewCache); zero otherwise.
	key, check uint64
	bytes      int // the memory it holds, estimated when it is made (cache.go)
	// Its views in the view cache, oldest first, at most maxViewsPerSession, under
	// the cache's lock (putView).
	views []*cookieView
}

// sidOf is the session's provider session (the ID token's sid); "": none.
func sidOf(sess *session) string {
	sid, _ := sess.Claims["sid"].(string)
	return sid
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
	id := &identity{sub: claimString(sess, "sub"), sid: sidOf(sess), issuedAt: sess.IssuedAt.Unix(), expiry: sess.Expiry, until: sess.Expiry}
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
	if m.cfg.idleTimeout > 0 {
		withIdle(m, id, lastUseOf(sess))
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
		value := claimString(sess, ch.claim)
		if ch.header == headerGroups && !strings.HasPrefix(value, "[") {
			value = groupsText(sess, ch.claim, value)
		}
		if value != "" {
			id.headers = append(id.headers, headerValue{name: ch.header, value: []string{value}})
		}
	}
	if codes := returnCodes(sess); m.cfg.returnCodes && codes != "" {
		id.headers = append(id.headers, headerValue{name: headerReturnCode, value: []string{codes}})
	}
	if sess.IdentityLevel != "" {
		id.headers = append(id.headers, headerValue{name: headerIdentityLevel, value: []string{sess.IdentityLevel}},
			headerValue{name: headerIdentity, value: []string{sess.Identity}})
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

// keptUserInfo is what a new session keeps of userinfo (data minimisation): the
// claims this instance hands the app or its rules read (the standard headers',
// identityHeaders', requiredClaims' (a dotted name whole and its first step), and
// email_verified, name and vot), not every field the provider sent (One Login's
// addresses and passport numbers, unless mapped). A claim mapped later reaches the
// app from the next sign-in.
func keptUserInfo(m *middleware) map[string]bool {
	kept := map[string]bool{"sub": true, "email_verified": true, "name": true, "vot": true, returnCodeClaim: m.cfg.returnCodes}
	for _, ch := range m.claimHeaders {
		kept[ch.claim] = true
	}
	for _, rule := range m.cfg.rules.claims {
		kept[rule.name] = true
		first, _, _ := strings.Cut(rule.name, ".")
		kept[first] = true
		if len(rule.path) > 0 {
			kept[rule.path[0]] = true
		}
	}
	return kept
}

// minimiseUserInfo drops from info what keptUserInfo does not name.
func minimiseUserInfo(info map[string]interface{}, kept map[string]bool) {
	for name := range info {
		if !kept[name] {
			delete(info, name)
		}
	}
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

// emailUnverified reports whether the e-mail address may not be taken as verified:
// the ID token or userinfo, either, has an email_verified that is not true (false,
// "false" or "False" as some providers send it, a number, anything but true or
// "true"). An absent claim is not a no: many providers never send it.
func emailUnverified(sess *session) bool {
	return notTrue(sess.Claims["email_verified"]) || notTrue(sess.UserInfo["email_verified"]) || notTrue(sess.AccessClaims["email_verified"])
}

// notTrue reports whether a claim is present and says anything but yes.
func notTrue(v interface{}) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return !x
	case string:
		return !strings.EqualFold(strings.TrimSpace(x), "true")
	}
	return true
}

// claimValue is a claim from the ID token, else from userinfo, else from the access
// token (accessTokenClaims); nil when none has it.
func claimValue(sess *session, name string) interface{} {
	if v, ok := sess.Claims[name]; ok && v != nil {
		return v
	}
	if v, ok := sess.UserInfo[name]; ok && v != nil {
		return v
	}
	return sess.AccessClaims[name]
}

// lineBreaks are the white space besides " " that strings.Fields splits at.
const lineBreaks = "\t\n\v\f\r\u0085\u00a0"

// claimString gives a claim as a header value, from the ID token, else from
// userinfo: a string with its line breaks folded into spaces (a claim cannot split a
// header); a number exactly as the provider wrote it; a list as listText gives it;
// an object as compact JSON.
func claimString(sess *session, name string) string {
	switch x := claimValue(sess, name).(type) {
	case nil:
		return ""
	case string:
		if !strings.ContainsAny(x, lineBreaks) {
			return x // the common claim, with one call
		}
		return strings.Join(strings.Fields(x), " ")
	case json.Number:
		return string(x)
	case []interface{}:
		return listText(x)
	default:
		if s, ok := jsonText(x); ok {
			return s
		}
		return headerJSON(x)
	}
}

// listText is a list claim (groups, roles) as a header value that reads one way
// only: its values joined with "," when that is unambiguous, else the list as a
// compact JSON array. JSON when a value holds a comma (the one group "staff,admins"
// must not read as membership of admins), a line break or white space at an end
// (which an app's split and trim would change), when a value is not a string,
// number or boolean, or when the joined text would start with "[" (so that a
// header starting with "[" is always JSON). An app splits on "," unless the value
// starts with "[", and then decodes JSON (README, "Identity headers").
func listText(list []interface{}) string {
	parts := make([]string, 0, len(list))
	for _, e := range list {
		text, ok := jsonText(e)
		if !ok || strings.ContainsAny(text, ","+lineBreaks) || text != strings.TrimSpace(text) {
			return headerJSON(list)
		}
		parts = append(parts, text)
	}
	joined := strings.Join(parts, ",")
	if strings.HasPrefix(joined, "[") {
		return headerJSON(list)
	}
	return joined
}

// groupsText is X-Auth-Request-Groups for a groups claim that is one string (value):
// one group, so "a,b" goes as ["a,b"], not as two.
func groupsText(sess *session, claim, value string) string {
	if s, ok := claimValue(sess, claim).(string); ok {
		return listText([]interface{}{s})
	}
	return value
}

// headerJSON is a claim value as compact JSON for a header. Control characters,
// U+2028 and U+2029 come out escaped by encoding/json; NEL and NBSP, which it keeps,
// are escaped here too, so that no reader takes one for a line break.
func headerJSON(v interface{}) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return jsonBreaks.Replace(strings.TrimSuffix(b.String(), "\n"))
}

// jsonBreaks escapes what headerJSON must not leave raw.
var jsonBreaks = strings.NewReplacer("\u0085", `\u0085`, "\u00a0", `\u00a0`)
