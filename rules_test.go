package ags

import (
	"net/http"
	"strings"
	"testing"
)

// rulesSession is a session with claims from the ID token and from userinfo.
func rulesSession(claims, userinfo map[string]interface{}) *session {
	return &session{Claims: claims, UserInfo: userinfo}
}

func TestAccessRuleShapes(t *testing.T) {
	idToken := map[string]interface{}{
		"sub": "user-42", "email": "Ada@Example.org", "email_verified": true,
		"groups":                    []interface{}{"staff", "admins"},
		"amr":                       []interface{}{"pwd", "mfa"},
		"realm_access":              map[string]interface{}{"roles": []interface{}{"offline", "wiki-editor"}},
		"https://example.org/roles": []interface{}{"auditor"},
		"vot":                       "Cl.Cm",
		"admin":                     true,
		"level":                     float64(2),
		"ratio":                     2.5,
		"cognito:groups":            []interface{}{"ops"},
		"profile":                   map[string]interface{}{"dept": "it"},
		"dept.x":                    "whole",
	}
	userinfo := map[string]interface{}{"sub": "user-42", "office": "london", "teams": []interface{}{"blue"}}
	sess := rulesSession(idToken, userinfo)
	for _, tc := range []struct {
		name  string
		rules map[string]interface{}
		want  string // the refusal; "" passes
	}{
		{"no rule", nil, ""},
		{"string", map[string]interface{}{"vot": []interface{}{"Cl.Cm", "P2.Cl.Cm"}}, ""},
		{"string, other value", map[string]interface{}{"vot": []interface{}{"P2.Cl.Cm"}}, "requiredClaims vot"},
		{"array holds one", map[string]interface{}{"groups": []interface{}{"admins", "ops"}}, ""},
		{"array holds none", map[string]interface{}{"groups": []interface{}{"ops"}}, "requiredClaims groups"},
		{"two claims, both hold", map[string]interface{}{"groups": []interface{}{"admins"}, "amr": []interface{}{"mfa"}}, ""},
		{"two claims, one fails", map[string]interface{}{"groups": []interface{}{"admins"}, "amr": []interface{}{"hwk"}}, "requiredClaims amr"},
		{"nested path", map[string]interface{}{"realm_access.roles": []interface{}{"wiki-editor"}}, ""},
		{"nested path, no", map[string]interface{}{"realm_access.roles": []interface{}{"admin"}}, "requiredClaims realm_access.roles"},
		{"nested as Traefik's labels decode it", map[string]interface{}{"realm_access": map[string]interface{}{"roles": "wiki-editor"}}, ""},
		{"namespaced URL, whole name first", map[string]interface{}{"https://example.org/roles": []interface{}{"auditor"}}, ""},
		{"namespaced URL split by labels", map[string]interface{}{"https://example": map[string]interface{}{"org/roles": "auditor"}}, ""},
		{"dotted name found whole before the path", map[string]interface{}{"dept.x": []interface{}{"whole"}}, ""},
		{"colon in the name", map[string]interface{}{"cognito:groups": []interface{}{"ops"}}, ""},
		{"bool as JSON text", map[string]interface{}{"admin": []interface{}{"true"}}, ""},
		{"bool from YAML", map[string]interface{}{"admin": []interface{}{true}}, ""},
		{"bool, other", map[string]interface{}{"email_verified": []interface{}{"false"}}, "requiredClaims email_verified"},
		{"number", map[string]interface{}{"level": []interface{}{"2", "3"}}, ""},
		{"number from YAML", map[string]interface{}{"level": []interface{}{2}}, ""},
		{"fraction", map[string]interface{}{"ratio": []interface{}{"2.5"}}, ""},
		{"missing claim", map[string]interface{}{"department": []interface{}{"it"}}, "requiredClaims department"},
		{"object never matches", map[string]interface{}{"profile": []interface{}{"it"}}, "requiredClaims profile"},
		{"userinfo only", map[string]interface{}{"office": []interface{}{"london"}}, ""},
		{"userinfo array", map[string]interface{}{"teams": []interface{}{"blue"}}, ""},
		{"comma-separated string (Docker labels)", map[string]interface{}{"groups": "ops, admins"}, ""},
		{"string list (environment)", map[string]interface{}{"groups": []string{"x", "admins"}}, ""},
		{"case is significant", map[string]interface{}{"groups": []interface{}{"Admins"}}, "requiredClaims groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := parseAccessRules(&Config{RequiredClaims: tc.rules})
			if err != nil {
				t.Fatal(err)
			}
			if got := rules.refusal(sess); got != tc.want {
				t.Errorf("got refusal %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccessRuleEmailAndUsers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		email    interface{}
		verified interface{} // nil: absent
		domains  []string
		users    []string
		want     string
	}{
		{name: "domain", email: "ada@example.org", domains: []string{"example.org"}},
		{name: "domain, case", email: "Ada@EXAMPLE.org", domains: []string{"Example.ORG"}},
		{name: "domain, verified", email: "ada@example.org", verified: true, domains: []string{"example.org"}},
		{name: "domain, one of two", email: "ada@example.net", domains: []string{"example.org", "example.net"}},
		{name: "other domain", email: "ada@example.com", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "subdomain is another domain", email: "ada@mail.example.org", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "suffix is not a domain", email: "ada@evilexample.org", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "unverified never matches", email: "ada@example.org", verified: false, domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "unverified as a string", email: "ada@example.org", verified: "false", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "no address", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "address in the local part", email: "example.org@evil.com", domains: []string{"example.org"}, want: "allowedEmailDomains"},
		{name: "user by sub", users: []string{"user-42"}},
		{name: "user by e-mail", email: "ada@example.org", users: []string{"ada@example.org"}},
		{name: "user by unverified e-mail", email: "ada@example.org", verified: false, users: []string{"ada@example.org"}, want: "allowedUsers"},
		{name: "another user", email: "ada@example.org", users: []string{"bob@example.org", "user-7"}, want: "allowedUsers"},
		{name: "domain and users: both must pass", email: "ada@example.org", domains: []string{"example.org"}, users: []string{"user-7"}, want: "allowedUsers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := map[string]interface{}{"sub": "user-42"}
			if tc.email != nil {
				claims["email"] = tc.email
			}
			if tc.verified != nil {
				claims["email_verified"] = tc.verified
			}
			rules, err := parseAccessRules(&Config{AllowedEmailDomains: tc.domains, AllowedUsers: tc.users})
			if err != nil {
				t.Fatal(err)
			}
			if got := rules.refusal(rulesSession(claims, nil)); got != tc.want {
				t.Errorf("got refusal %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccessRuleConfigErrors(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"empty list", func(c *Config) { c.RequiredClaims = map[string]interface{}{"groups": []interface{}{}} }, "requiredClaims groups"},
		{"empty label value", func(c *Config) { c.RequiredClaims = map[string]interface{}{"groups": ""} }, "requiredClaims groups"},
		{"empty value", func(c *Config) { c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"a", ""}} }, "requiredClaims groups"},
		{"object value", func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"groups": []interface{}{map[string]interface{}{}}}
		}, "requiredClaims groups"},
		{"null value", func(c *Config) { c.RequiredClaims = map[string]interface{}{"groups": nil} }, "requiredClaims groups"},
		{"empty claim name", func(c *Config) { c.RequiredClaims = map[string]interface{}{"": []interface{}{"a"}} }, "requiredClaims"},
		{"domain with @", func(c *Config) { c.AllowedEmailDomains = []string{"@example.org"} }, "allowedEmailDomains"},
		{"domain with a leading dot", func(c *Config) { c.AllowedEmailDomains = []string{".example.org"} }, "allowedEmailDomains"},
		{"one-label domain", func(c *Config) { c.AllowedEmailDomains = []string{"localhost"} }, "allowedEmailDomains"},
		{"domain with a space", func(c *Config) { c.AllowedEmailDomains = []string{"exa mple.org"} }, "allowedEmailDomains"},
		{"empty user", func(c *Config) { c.AllowedUsers = []string{"ada", " "} }, "allowedUsers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(tp)
			tc.edit(c)
			_, err := New(nil, http.NotFoundHandler(), c, "rules")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestAccessRulesFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"AGS_CLIENT_REQUIRED_CLAIMS":       "groups=admins|ops, amr=mfa",
		"AGS_CLIENT_ALLOWED_EMAIL_DOMAINS": "example.org, example.net",
		"AGS_CLIENT_ALLOWED_USERS":         "user-42,bob@example.org",
	}
	c := &Config{Issuer: "https://id.example.org", ClientID: "c", ClientSecret: "s", AuthenticatedPaths: []string{"x"}}
	s, err := c.resolved(func(k string) string { return env[k] }).validate()
	if err != nil {
		t.Fatal(err)
	}
	got := s.rules
	if len(got.claims) != 2 || got.claims[0].name != "amr" || !got.claims[0].values["mfa"] ||
		got.claims[1].name != "groups" || !got.claims[1].values["admins"] || !got.claims[1].values["ops"] || len(got.claims[1].values) != 2 {
		t.Errorf("requiredClaims: got %+v", got.claims)
	}
	if len(got.domains) != 2 || !got.domains["example.net"] {
		t.Errorf("allowedEmailDomains: got %v", got.domains)
	}
	if !got.users || len(got.subjects)+len(got.emailAddress) != 2 || !got.emailAddress["bob@example.org"] {
		t.Errorf("allowedUsers: got %v and %v", got.subjects, got.emailAddress)
	}
}

// TestAccessRulesThroughServeHTTP: two instances share one sign-in with different
// rules. A refused user gets 403 on an authenticated path every time, never a
// redirect, with a page naming who is signed in and a way out (an API call a plain
// 403); on an open path they pass with their identity. Each refusal is logged.
func TestAccessRulesThroughServeHTTP(t *testing.T) {
	tp := newTestProvider(t) // the test user is in groups admins and staff
	signer, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, signer)
	b.signIn("/private")

	for _, debug := range []string{"false", "true"} {
		c := flowConfig(tp)
		c.Debug = debug
		c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"ops", "secret-group-name"}}
		wiki, wikiApp := newFlow(t, c)
		log := atkCaptureLog(wiki)
		b.h = wiki
		for i := 0; i < 3; i++ { // the second and third time from the cache
			rec := b.get("/private")
			if rec.Code != http.StatusForbidden || rec.Header().Get("Location") != "" || wikiApp.calls != 0 {
				t.Fatalf("debug %s, refused user, try %d: got %d to %q (%d app calls), want 403 and no redirect", debug, i, rec.Code, rec.Header().Get("Location"), wikiApp.calls)
			}
			body := rec.Body.String()
			if !strings.Contains(body, "ada") || !strings.Contains(body, `href="/sign-out"`) {
				t.Errorf("the 403 page does not name the user or offer to sign out: %s", body)
			}
			if strings.Contains(body, "secret-group-name") {
				t.Errorf("the 403 page lists the rule's values: %s", body)
			}
			if strings.Contains(body, "requiredClaims groups") != (debug == "true") {
				t.Errorf("debug %s: the page names the failed rule: %v", debug, strings.Contains(body, "requiredClaims groups"))
			}
		}
		if got := strings.Count(log.String(), `access refused sub="user-42" instance=test rule="requiredClaims groups"`); got != 3 {
			t.Errorf("got %d refusal log lines, want 3:\n%s", got, log.String())
		}
		api := b.do(http.MethodGet, "/private", http.Header{"Accept": {"application/json"}})
		if api.Code != http.StatusForbidden || api.Header().Get("Content-Type") != "application/json" || !strings.Contains(api.Body.String(), `"error":"forbidden"`) {
			t.Errorf("API call: got %d %q %q, want a JSON 403", api.Code, api.Header().Get("Content-Type"), api.Body.String())
		}
		xhr := b.do(http.MethodGet, "/private", http.Header{"X-Requested-With": {"XMLHttpRequest"}})
		if xhr.Code != http.StatusForbidden || !strings.HasPrefix(xhr.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("XHR: got %d %q, want a plain-text 403", xhr.Code, xhr.Header().Get("Content-Type"))
		}
		if rec := b.get("/elsewhere"); rec.Code != http.StatusOK || wikiApp.last.Header.Get(headerUser) != "user-42" {
			t.Errorf("open path: got %d, user %q, want the app with the identity", rec.Code, userOf(wikiApp))
		}
		if rec := b.get("/sign-out"); rec.Code == http.StatusForbidden {
			t.Errorf("a refused user cannot sign out: got 403")
		}
		b.signIn("/private") // signed in again through the signer
		b.h = signer
	}

	// An instance whose rule the user meets lets them pass, with the same session.
	c := flowConfig(tp)
	c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"admins"}}
	c.AllowedEmailDomains = []string{"example.org"}
	admin, adminApp := newFlow(t, c)
	b.h = admin
	for i := 0; i < 2; i++ {
		if rec := b.get("/private"); rec.Code != http.StatusOK || adminApp.last.Header.Get(headerUser) != "user-42" {
			t.Errorf("allowed user: got %d, want the app with the identity", rec.Code)
		}
	}
}
