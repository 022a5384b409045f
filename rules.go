package ags

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Who may pass (SPEC.md section 11): rules on the signed-in user's claims, per
// middleware instance. They are evaluated once per session and instance, when its
// identity is made (after sign-in, after renewal, on a cache miss), and the outcome is
// kept with the cached view, so the signed-in request path pays nothing for them.

// accessRules are the requiredClaims, allowedEmailDomains and allowedUsers of one
// instance; a user passes when every kind that is configured lets them.
type accessRules struct {
	claims  []claimRule     // every one must hold
	domains map[string]bool // lower case; the verified address's domain must be one
	// allowedUsers, split by kind: an entry with "@" is an e-mail address and
	// matches only a verified address (in any letter case); any other is a sub and
	// matches only the sub, exactly. users says whether the option is set at all.
	users        bool
	subjects     map[string]bool
	emailAddress map[string]bool // lower case
	// trust: the instance's authParams vtr, which a session signed in through
	// another instance (one sign-in, several routers) must meet too; nil: none.
	trust *trustRules
	// identity: the instance asks for One Login's core identity, which the session
	// must then hold, verified at its level or above; nil: it does not.
	identity *coreIdentityRules
}

// claimRule is one entry of requiredClaims: the claim must equal, or (an array)
// hold, one of values.
type claimRule struct {
	name   string
	path   []string // the name's steps into nested objects (claimPath); nil: none
	whole  bool     // the name is looked up whole first (it has no quoted step)
	values map[string]bool
}

// domainPattern is a DNS name of two labels or more, without a trailing dot.
var domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// parseAccessRules validates the rules. A rule that can never match (an empty list,
// an empty value, a bad domain) is an error naming the option.
func parseAccessRules(c *Config) (*accessRules, error) {
	rules := &accessRules{}
	flat := map[string][]string{}
	for name, v := range c.RequiredClaims {
		if err := flattenClaimRule(flat, name, v); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(flat))
	for name := range flat {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("requiredClaims: a claim name is empty")
		}
		path, err := claimPath(name)
		if err != nil {
			return nil, fmt.Errorf("requiredClaims %s: %w", name, err)
		}
		rule := claimRule{name: name, path: path, whole: !strings.Contains(name, `"`), values: map[string]bool{}}
		for _, value := range flat[name] {
			if value == "" {
				return nil, fmt.Errorf("requiredClaims %s: an allowed value is empty", name)
			}
			rule.values[value] = true
		}
		if len(rule.values) == 0 {
			return nil, fmt.Errorf("requiredClaims %s: the list of allowed values is empty, so no one could pass", name)
		}
		rules.claims = append(rules.claims, rule)
	}
	if len(c.AllowedEmailDomains) > 0 {
		rules.domains = map[string]bool{}
	}
	for _, d := range c.AllowedEmailDomains {
		domain := strings.ToLower(strings.TrimSpace(d))
		if !domainPattern.MatchString(domain) {
			return nil, fmt.Errorf("allowedEmailDomains: %q is not a domain name such as example.org (no @, no leading dot)", d)
		}
		rules.domains[domain] = true
	}
	rules.users = len(c.AllowedUsers) > 0
	rules.subjects, rules.emailAddress = map[string]bool{}, map[string]bool{}
	for _, u := range c.AllowedUsers {
		if u = strings.TrimSpace(u); u == "" {
			return nil, fmt.Errorf("allowedUsers: an entry is empty")
		}
		if strings.ContainsAny(u, " \t\r\n") {
			return nil, fmt.Errorf("allowedUsers: %q is not a sub or an e-mail address (it holds white space)", u)
		}
		if strings.Contains(u, "@") {
			rules.emailAddress[strings.ToLower(u)] = true
		} else {
			rules.subjects[u] = true
		}
	}
	return rules, nil
}

// flattenClaimRule adds the requiredClaims entry name: v to flat. v is a list (file
// provider, Kubernetes), a comma-separated string (Docker labels, whose values Traefik
// does not split for a field it cannot see the type of), or a map: Traefik splits a
// label key at its dots, so requiredClaims.realm_access.roles arrives nested and is
// joined here into the claim name realm_access.roles.
func flattenClaimRule(flat map[string][]string, name string, v interface{}) error {
	if nested, ok := v.(map[string]interface{}); ok {
		for k, e := range nested {
			if err := flattenClaimRule(flat, name+"."+k, e); err != nil {
				return err
			}
		}
		return nil
	}
	values := []string{}
	switch x := v.(type) {
	case string:
		values = splitList(x)
	case []string:
		for _, e := range x {
			values = append(values, strings.TrimSpace(e))
		}
	case []interface{}:
		for _, e := range x {
			s, ok := jsonText(e)
			if !ok {
				return fmt.Errorf("requiredClaims %s: allowed values must be strings, numbers or booleans", name)
			}
			values = append(values, strings.TrimSpace(s))
		}
	default:
		s, ok := jsonText(x)
		if !ok {
			return fmt.Errorf("requiredClaims %s: give a list of allowed values", name)
		}
		values = append(values, s)
	}
	flat[name] = append(flat[name], values...)
	if flat[name] == nil {
		flat[name] = []string{} // an empty list: validation says so
	}
	return nil
}

// jsonText is a claim value as its JSON text: strings as they are, booleans and
// numbers as JSON writes them (true, 42, 2.5; an integer as the provider wrote it,
// every digit kept). Objects, arrays and null have none.
func jsonText(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return numberText(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// numberText is a JSON number's text, one text per value: an integer as written
// (JSON has no leading zeros; "-0" is 0), any other as strconv writes its float64
// (42.0 and 4.2e1 are 42, as a float64 rule value from the configuration is).
func numberText(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" {
			return "0"
		}
		return s
	}
	f, err := n.Float64()
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// none reports whether no rule is configured: every signed-in user passes.
func (a *accessRules) none() bool {
	return len(a.claims) == 0 && a.domains == nil && !a.users && (a.trust == nil || a.trust.vectors == nil) && a.identity == nil
}

// refusal returns "" when the session's user may pass, else the rule that fails
// ("requiredClaims groups", "allowedEmailDomains", "allowedUsers"). An e-mail address
// that the provider does not say is verified (emailUnverified) never satisfies a
// rule, whichever option names it: requiredClaims on an email claim (in any letter
// case, whole or at the end of a path) sees no value.
func (a *accessRules) refusal(sess *session) string {
	if a.none() {
		return ""
	}
	if a.trust != nil && a.trust.vectorRefusal(sess.Claims) != "" {
		return "vtr"
	}
	if a.identity != nil && confidenceLevel(sess.IdentityLevel) < a.identity.level {
		return "coreIdentity"
	}
	unverified := emailUnverified(sess)
	for _, rule := range a.claims {
		v := rule.lookup(sess)
		if unverified && rule.readsEmail() {
			v = nil
		}
		if !rule.holds(v) {
			return "requiredClaims " + rule.name
		}
	}
	email := ""
	if e, ok := claimValue(sess, "email").(string); ok && !unverified {
		email = e
	}
	if a.domains != nil {
		at := strings.LastIndex(email, "@")
		if at < 0 || !a.domains[strings.ToLower(email[at+1:])] {
			return "allowedEmailDomains"
		}
	}
	if a.users {
		sub, _ := claimValue(sess, "sub").(string)
		if !a.subjects[sub] && (email == "" || !a.emailAddress[strings.ToLower(email)]) {
			return "allowedUsers"
		}
	}
	return ""
}

// readsEmail reports whether the rule reads an e-mail address claim: "email" in any
// letter case, alone or as the last step of a path.
func (rule claimRule) readsEmail() bool {
	last := rule.name[strings.LastIndex(rule.name, ".")+1:]
	if len(rule.path) > 0 {
		last = rule.path[len(rule.path)-1]
	}
	return strings.EqualFold(last, "email")
}

// holds reports whether a claim's value is allowed: equal to one of the values; for
// an array, holding one of them; for an object, having one of them as a key (ZITADEL's
// roles: {"admin": {...}} holds admin).
func (rule claimRule) holds(v interface{}) bool {
	if obj, ok := v.(map[string]interface{}); ok {
		for key := range obj {
			if rule.values[key] {
				return true
			}
		}
		return false
	}
	if list, ok := v.([]interface{}); ok {
		for _, e := range list {
			if s, ok := jsonText(e); ok && rule.values[s] {
				return true
			}
		}
		return false
	}
	s, ok := jsonText(v)
	return ok && rule.values[s]
}

// lookup finds the rule's claim by its whole name (Auth0's namespaced URLs hold
// dots), from the ID token, then userinfo, then the access token (claimValue); a
// dotted name not found whole is then read as a path into nested objects
// (Keycloak's realm_access.roles), and a name with a quoted step only so
// (resource_access."my.app".roles).
func (rule claimRule) lookup(sess *session) interface{} {
	if rule.whole {
		if v := claimValue(sess, rule.name); v != nil || rule.path == nil {
			return v
		}
	}
	if len(rule.path) == 1 {
		return claimValue(sess, rule.path[0])
	}
	for _, source := range []map[string]interface{}{sess.Claims, sess.UserInfo, sess.AccessClaims} {
		var v interface{} = source
		for _, part := range rule.path {
			obj, ok := v.(map[string]interface{})
			if !ok {
				v = nil
				break
			}
			v = obj[part]
		}
		if v != nil {
			return v
		}
	}
	return nil
}

// claimPath splits a requiredClaims name into the steps of its path: at its dots,
// but for those inside a double-quoted step (resource_access."my.app".roles, for a
// client ID that holds dots). nil: a name without dots or quotes, read whole only.
// Parsed once, in New.
func claimPath(name string) ([]string, error) {
	if !strings.Contains(name, `"`) {
		if !strings.Contains(name, ".") {
			return nil, nil
		}
		return strings.Split(name, "."), nil
	}
	var path []string
	rest := name
	for {
		var step string
		if strings.HasPrefix(rest, `"`) {
			quoted, after, closed := strings.Cut(rest[1:], `"`)
			if !closed || quoted == "" {
				return nil, fmt.Errorf("a quoted step is empty or not closed")
			}
			if after != "" && !strings.HasPrefix(after, ".") {
				return nil, fmt.Errorf("a quoted step must end the name or be followed by a dot")
			}
			step, rest = quoted, after
		} else {
			step, rest = rest, ""
			if i := strings.Index(step, "."); i >= 0 {
				step, rest = step[:i], step[i:]
			}
			if strings.Contains(step, `"`) {
				return nil, fmt.Errorf("a quote must open or close a whole step (\"my.app\")")
			}
		}
		path = append(path, step)
		if rest == "" {
			return path, nil
		}
		if rest = rest[1:]; rest == "" {
			return nil, fmt.Errorf("the name ends with a dot")
		}
	}
}

// forbidden answers a signed-in user whom the rules refuse on an authenticated path:
// 403 every time, never a redirect to the provider (which would loop). A browser gets
// a page naming who is signed in and a way to sign in as someone else; an API call a
// plain 403. Without debug the page does not say which values the rule allows.
func (m *middleware) forbidden(w http.ResponseWriter, r *http.Request, id *identity) {
	sub := id.sub
	m.log.write("WARN", logEvent{event: "refusal", sub: sub, rule: id.refusal, reason: "the user does not meet the access rules"},
		"access refused sub=%q instance=%s rule=%q on %s %s", sub, m.name, id.refusal, r.Method, r.URL.Path)
	if !isNavigation(r) {
		apiAnswer(w, r, http.StatusForbidden, "forbidden", "the signed-in user may not use this resource")
		return
	}
	who := id.name
	var b strings.Builder
	b.WriteString("<p>You are signed in as <strong>" + html.EscapeString(who) + "</strong>, but this page needs more: ")
	b.WriteString("your account does not meet this site's access rules.</p>\n")
	if m.cfg.debug {
		b.WriteString("<p>Detail (shown because debug is on): the rule that failed is <code>" + html.EscapeString(id.refusal) + "</code>.</p>\n")
	}
	b.WriteString(`<p><a href="` + html.EscapeString(m.cfg.signOutPath) + `">Sign out</a> to sign in as someone else, or <a href="/">go to the start page</a>.</p>` + "\n")
	m.writePage(w, r, http.StatusForbidden, "Access denied", b.String())
}
