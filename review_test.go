package ags

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The review's findings (issue 23), each a class of inputs: tested through ServeHTTP
// over the class's spellings, sources and the options that name it.

// reviewUser sets what the test provider says of the user: edits of the ID token's
// claims, and userinfo's answer (nil: the provider's own).
func reviewUser(tp *testProvider, idToken map[string]interface{}, userinfo map[string]interface{}) {
	tp.set(func(tp *testProvider) {
		tp.claims = func(c map[string]interface{}) {
			for k, v := range idToken {
				if v == nil {
					delete(c, k)
				} else {
					c[k] = v
				}
			}
		}
		tp.atkUserinfo = nil
		if userinfo != nil {
			body, _ := json.Marshal(userinfo)
			tp.atkUserinfo = body
		}
	})
}

// reviewInstances are the ways an identity is made for a request, each its own
// instance on one sign-in: the instance that signed in (from the view block it
// sealed), and one whose other options differ (from the session's claims).
func reviewInstances(t *testing.T, tp *testProvider, c *Config) []*middleware {
	t.Helper()
	signer, _ := newFlow(t, c)
	other := *c
	other.IdentityHeaders = map[string]string{"name": "X-Review-Name"}
	for k, v := range c.IdentityHeaders {
		other.IdentityHeaders[k] = v
	}
	claims, _ := newFlow(t, &other)
	return []*middleware{signer, claims}
}

// reviewGet signs in through the first instance, then asks each instance for path
// twice (a cache miss, then a hit) and returns what each answered: the status and
// the app's copy of header ("" when the app was not reached).
func reviewGet(t *testing.T, ms []*middleware, path, header string) []string {
	t.Helper()
	b := newFlowBrowser(t, ms[0])
	if rec := b.signIn("/private"); rec.Code != http.StatusFound {
		t.Fatalf("sign-in: got %d %s", rec.Code, rec.Body.String())
	}
	var got []string
	for _, m := range ms {
		for i := 0; i < 2; i++ {
			app := &flowBackend{}
			m.next = app
			m.serve = m.handler()
			b.h = m
			rec := b.get(path)
			value := ""
			if app.last != nil {
				value = app.last.Header.Get(header)
			}
			got = append(got, fmt.Sprintf("%d %s", rec.Code, value))
		}
	}
	return got
}

// reviewSame reports whether every answer is want.
func reviewSame(got []string, want string) bool {
	for _, g := range got {
		if g != want {
			return false
		}
	}
	return true
}

// TestUnverifiedEmailSatisfiesNoRule (issue 23, 1): an address the provider does not
// say is verified satisfies no rule, whichever option names it, whether
// email_verified comes from the ID token or userinfo, however it is spelled, and in
// whatever letter case the address or the claim's name is written.
func TestUnverifiedEmailSatisfiesNoRule(t *testing.T) {
	tp := newTestProvider(t)
	rules := []struct {
		name string
		edit func(c *Config)
		// the claim the address is in, and its value
		claim, address string
	}{
		{"requiredClaims email", func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"email": []interface{}{"boss@example.org"}}
		}, "email", "boss@example.org"},
		{"requiredClaims Email", func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"Email": []interface{}{"boss@example.org"}}
		}, "Email", "boss@example.org"},
		{"requiredClaims email (Docker label)", func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"email": "boss@example.org"}
		}, "email", "boss@example.org"},
		{"requiredClaims profile.email", func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"profile.email": []interface{}{"boss@example.org"}}
		}, "profile", "boss@example.org"},
		{"allowedEmailDomains", func(c *Config) { c.AllowedEmailDomains = []string{"example.org"} }, "email", "Boss@Example.ORG"},
		{"allowedUsers", func(c *Config) { c.AllowedUsers = []string{"boss@example.org"} }, "email", "boss@example.org"},
		{"allowedUsers, other case", func(c *Config) { c.AllowedUsers = []string{"BOSS@example.org"} }, "email", "Boss@Example.org"},
	}
	spellings := []interface{}{false, "false", "False", "FALSE", " false ", "no", 0, nil}
	for _, rule := range rules {
		for _, source := range []string{"id token", "userinfo"} {
			for _, verified := range spellings {
				rule, source, verified := rule, source, verified
				name := fmt.Sprintf("%s/%s/%#v", rule.name, source, verified)
				if verified == nil {
					name = rule.name + "/" + source + "/verified" // the control: it passes
				}
				t.Run(name, func(t *testing.T) {
					c := flowConfig(tp)
					rule.edit(c)
					var value interface{} = rule.address
					if rule.claim == "profile" {
						value = map[string]interface{}{"email": rule.address}
					}
					id := map[string]interface{}{"email": nil, rule.claim: value, "email_verified": true}
					info := map[string]interface{}{"sub": "user-42", "email_verified": true}
					if verified != nil {
						if source == "id token" {
							id["email_verified"] = verified
						} else {
							info["email_verified"] = verified
						}
					}
					reviewUser(tp, id, info)
					got := reviewGet(t, reviewInstances(t, tp, c), "/private", headerUser)
					want := "403 "
					if verified == nil {
						want = "200 user-42"
					}
					if !reviewSame(got, want) {
						t.Errorf("got %q, want every answer %q", got, want)
					}
				})
			}
		}
	}
}

// TestLargeIntegerClaims (issue 23, 2): numbers reach rules and headers exactly as
// the provider wrote them, from the ID token and from userinfo, through the view
// block and the session's claims: two integers that differ past 2^53 stay two.
func TestLargeIntegerClaims(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name   string
		number json.RawMessage
		allow  string
		want   string // answer and X-Employee
	}{
		{"past 2^53", json.RawMessage("9007199254740993"), "9007199254740993", "200 9007199254740993"},
		{"past 2^53, the neighbour refused", json.RawMessage("9007199254740993"), "9007199254740992", "403 "},
		{"past 2^64", json.RawMessage("123456789012345678901234567890"), "123456789012345678901234567890", "200 123456789012345678901234567890"},
		{"negative", json.RawMessage("-9007199254740993"), "-9007199254740993", "200 -9007199254740993"},
		{"fraction as written", json.RawMessage("2.50"), "2.5", "200 2.50"},
		{"exponent", json.RawMessage("1e3"), "1000", "200 1e3"},
	} {
		for _, source := range []string{"id token", "userinfo"} {
			tc, source := tc, source
			t.Run(tc.name+"/"+source, func(t *testing.T) {
				c := flowConfig(tp)
				c.IdentityHeaders = map[string]string{"employee_id": "X-Employee"}
				c.RequiredClaims = map[string]interface{}{"employee_id": []interface{}{tc.allow}}
				if source == "id token" {
					reviewUser(tp, map[string]interface{}{"employee_id": tc.number}, nil)
				} else {
					reviewUser(tp, nil, map[string]interface{}{"sub": "user-42", "employee_id": tc.number})
				}
				got := reviewGet(t, reviewInstances(t, tp, c), "/private", "X-Employee")
				if !reviewSame(got, tc.want) {
					t.Errorf("got %q, want every answer %q", got, tc.want)
				}
			})
		}
	}
}

// TestAllowedUsersKinds (issue 23, 3): an allowedUsers entry with "@" is an address
// and matches only a verified address (in any letter case); any other entry matches
// the sub only.
func TestAllowedUsersKinds(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name  string
		users []string
		id    map[string]interface{}
		want  int
	}{
		{"address entry, sub spelled as it", []string{"boss@example.org"}, map[string]interface{}{"sub": "boss@example.org", "email": "eve@example.net"}, 403},
		{"address entry, sub spelled as it, no email", []string{"boss@example.org"}, map[string]interface{}{"sub": "boss@example.org", "email": nil}, 403},
		{"address entry, verified address", []string{"boss@example.org"}, map[string]interface{}{"email": "boss@example.org", "email_verified": true}, 200},
		{"address entry, other letter case", []string{"Boss@Example.ORG"}, map[string]interface{}{"email": "boss@example.org"}, 200},
		{"address entry, unverified address", []string{"boss@example.org"}, map[string]interface{}{"email": "boss@example.org", "email_verified": false}, 403},
		{"sub entry", []string{"user-42"}, nil, 200},
		{"sub entry, other letter case", []string{"USER-42"}, nil, 403},
		{"sub entry, address spelled as it", []string{"user-43"}, map[string]interface{}{"email": "user-43"}, 403},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(tp)
			c.AllowedUsers = tc.users
			id := map[string]interface{}{}
			for k, v := range tc.id {
				id[k] = v
			}
			reviewUser(tp, id, map[string]interface{}{"sub": id["sub"]})
			if id["sub"] == nil {
				reviewUser(tp, id, map[string]interface{}{"sub": "user-42"})
			}
			got := reviewGet(t, reviewInstances(t, tp, c), "/private", headerUser)
			for _, g := range got {
				if !strings.HasPrefix(g, fmt.Sprint(tc.want)) {
					t.Errorf("got %q, want every answer %d", got, tc.want)
					break
				}
			}
		})
	}
}

// TestListHeadersUnambiguous (issue 23, 7): a list claim reaches the app as a comma
// list only when that reads one way; otherwise as a JSON array, for the groups
// header and any list mapped by identityHeaders; objects as JSON.
func TestListHeadersUnambiguous(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name  string
		value interface{}
		want  string
	}{
		{"plain", []interface{}{"admins", "staff"}, "admins,staff"},
		{"one group holding a comma", []interface{}{"staff,admins"}, `["staff,admins"]`},
		{"a comma among others", []interface{}{"ops", "staff,admins"}, `["ops","staff,admins"]`},
		{"a string holding a comma", "staff,admins", `["staff,admins"]`},
		{"a string without one", "staff", "staff"},
		{"starting with [", []interface{}{"[admins]"}, `["[admins]"]`},
		{"space at an end", []interface{}{" admins", "staff"}, `[" admins","staff"]`},
		{"a line break", []interface{}{"a\nb"}, `["a\nb"]`},
		{"numbers as written", []interface{}{json.RawMessage("9007199254740993"), "x"}, "9007199254740993,x"},
		{"an object in the list", []interface{}{map[string]interface{}{"id": "a,b"}}, `[{"id":"a,b"}]`},
		{"no quotes needed", []interface{}{`say "hi"`}, `say "hi"`},
		{"HTML kept as it is", []interface{}{"<b>", "a,b"}, `["<b>","a,b"]`},
		{"NEL escaped", []interface{}{"a\u0085b", "c"}, `["a\u0085b","c"]`},
		{"empty", []interface{}{}, ""},
	} {
		for _, header := range []string{headerGroups, "X-Roles"} {
			tc, header := tc, header
			t.Run(tc.name+"/"+header, func(t *testing.T) {
				c := flowConfig(tp)
				claim := "groups"
				if header == "X-Roles" {
					claim = "roles"
					c.IdentityHeaders = map[string]string{"roles": "X-Roles"}
				}
				reviewUser(tp, map[string]interface{}{claim: tc.value}, nil)
				want := "200 " + tc.want
				if _, isString := tc.value.(string); isString && header != headerGroups {
					want = "200 " + tc.value.(string) // a string claim is a string, not a list
				}
				if got := reviewGet(t, reviewInstances(t, tp, c), "/private", header); !reviewSame(got, want) {
					t.Errorf("got %q, want every answer %q", got, want)
				}
			})
		}
	}
	// A rule reads the list, not the header: the one group "staff,admins" is not
	// membership of admins.
	c := flowConfig(tp)
	c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"admins"}}
	reviewUser(tp, map[string]interface{}{"groups": []interface{}{"staff,admins"}}, nil)
	if got := reviewGet(t, reviewInstances(t, tp, c), "/private", headerGroups); !reviewSame(got, "403 ") {
		t.Errorf("rule on a group holding a comma: got %q, want 403", got)
	}
	// Objects, mapped by identityHeaders, as JSON (never Go's map syntax).
	c = flowConfig(tp)
	c.IdentityHeaders = map[string]string{"address": "X-Address"}
	reviewUser(tp, map[string]interface{}{"address": map[string]interface{}{"country": "GB", "postal_code": json.RawMessage("10001")}}, nil)
	if got, want := reviewGet(t, reviewInstances(t, tp, c), "/private", "X-Address"), `200 {"country":"GB","postal_code":10001}`; !reviewSame(got, want) {
		t.Errorf("object claim: got %q, want %q", got, want)
	}
}

// TestIdentityHeadersOneClaimEach (issue 23, 8): two claims mapped to one header, as
// a backend reads its name, or a claim mapped to one of ags's own headers, is refused
// at configuration with an error naming both; the same claim twice is not.
func TestIdentityHeadersOneClaimEach(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    []string // in the error; none: accepted
	}{
		{"two claims, letter case", map[string]string{"name": "X-User", "preferred_username": "x-user"}, []string{`claim "name"`, `claim "preferred_username"`, "X-User"}},
		{"two claims, all capitals", map[string]string{"nickname": "X-USER", "name": "x-User"}, []string{`claim "name"`, `claim "nickname"`}},
		{"an underscore is no header name", map[string]string{"nickname": "X_User"}, []string{"must map a claim to a header name"}},
		{"ags's user header", map[string]string{"name": "x-auth-request-user"}, []string{`claim "sub"`, `claim "name"`}},
		{"ags's groups header", map[string]string{"roles": "X-AUTH-REQUEST-GROUPS"}, []string{`claim "groups"`, `claim "roles"`}},
		{"the access token's header", map[string]string{"at": "X-Auth-Request-Access-Token"}, []string{"passAccessToken", `claim "at"`}},
		{"Authorization", map[string]string{"at": "authorization"}, []string{"Authorization", `claim "at"`}},
		{"the same claim as ags", map[string]string{"sub": "X-Auth-Request-User"}, nil},
		{"distinct headers", map[string]string{"name": "X-Name", "nickname": "X-Nick"}, nil},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(tp)
			c.IdentityHeaders = tc.headers
			for i := 0; i < 3; i++ { // the same error every time, whatever the map order
				_, err := New(nil, http.NotFoundHandler(), c, "headers")
				if tc.want == nil {
					if err != nil {
						t.Fatalf("got %v, want no error", err)
					}
					continue
				}
				if err == nil {
					t.Fatalf("got no error, want one naming %q", tc.want)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
			}
		})
	}
}

// TestCallbackIssuer (RFC 9207): the callback's iss, when present, must be the
// issuer, and must be present when the provider announces it; otherwise 400 and the
// code is never exchanged.
func TestCallbackIssuer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		announced bool
		iss       string // "-": none; "": the issuer
		want      int
	}{
		{"announced, sent", true, "", http.StatusFound},
		{"announced, missing", true, "-", http.StatusBadRequest},
		{"announced, another issuer", true, "https://evil.example", http.StatusBadRequest},
		{"announced, a trailing slash", true, "/", http.StatusBadRequest},
		{"not announced, missing", false, "-", http.StatusFound},
		{"not announced, another issuer", false, "https://evil.example", http.StatusBadRequest},
		{"not announced, the issuer", false, "", http.StatusFound},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			iss := tc.iss
			switch iss {
			case "":
				iss = tp.issuer
			case "/":
				iss = tp.issuer + "/"
			}
			tp.set(func(tp *testProvider) { tp.issAnnounced, tp.issParam = tc.announced, iss })
			m, app := newFlow(t, flowConfig(tp))
			b := newFlowBrowser(t, m)
			rec := b.signIn("/private")
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			exchanged := len(tp.tokenForms) > 0
			if tc.want != http.StatusFound {
				if exchanged || b.sessionCookies() != 0 || app.calls != 0 {
					t.Errorf("exchanged %v, %d session cookies, %d app calls: want none", exchanged, b.sessionCookies(), app.calls)
				}
				if !strings.Contains(rec.Body.String(), "did not come from this site") {
					t.Errorf("page %s, want the mix-up page", rec.Body.String())
				}
			}
		})
	}
}
