package ags

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

// identityText is what an identity gives the request path and the pages, in one
// comparable string.
func identityText(id *identity) string {
	if id == nil {
		return "<nil>"
	}
	var hs []string
	for _, h := range id.headers {
		hs = append(hs, h.name+"="+strings.Join(h.value, "|"))
	}
	sort.Strings(hs)
	return fmt.Sprintf("sub=%q name=%q refusal=%q expiry=%d refreshAt=%d until=%d headers=%q",
		id.sub, id.name, id.refusal, id.expiry.Unix(), unixOrZero(id.refreshAt), id.until.Unix(), hs)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// TestViewBlockMatchesClaims: over the options that make an identity, combined, and
// sessions of several shapes, the identity read from the view block that the saving
// instance sealed is the one its claims give: the same headers, rule, names and
// times. A difference would let a cache miss serve what a hit would not.
func TestViewBlockMatchesClaims(t *testing.T) {
	expiry := ckNow.Add(8 * time.Hour)
	sessions := map[string]*session{
		"plain": {Claims: map[string]interface{}{"sub": "user-1", "email": "ada@example.org", "preferred_username": "ada",
			"groups": []interface{}{"staff", "admins"}}},
		"unverified e-mail": {Claims: map[string]interface{}{"sub": "user-2", "email": "eve@example.org", "email_verified": false}},
		"userinfo only": {Claims: map[string]interface{}{"sub": "user-3"},
			UserInfo: map[string]interface{}{"email": "bob@other.example", "groups": []interface{}{"ops"}, "dept": "it"}},
		"odd values": {Claims: map[string]interface{}{"sub": "user 4&x=y%", "email": "a+b@example.org",
			"groups": []interface{}{"a,b", "c:d", "e\nf"}, "level": float64(2), "admin": true, "dept": "line\r\nbreak",
			"realm_access": map[string]interface{}{"roles": []interface{}{"wiki"}}}},
		"no e-mail, no name": {Claims: map[string]interface{}{"sub": "user-5"}},
		"refresh": {Claims: map[string]interface{}{"sub": "user-6", "email": "r@example.org"},
			RefreshToken: "refresh-token-6", AccessExpiry: ckNow.Add(5 * time.Minute)},
	}
	headerSets := map[string]map[string]string{
		"standard": nil,
		"more":     {"email": "X-Mail", "dept": "X-Dept", "level": "X-Level", "realm_access": "X-Realm"},
	}
	ruleSets := map[string]func(c *Config){
		"no rule": func(c *Config) {},
		"groups":  func(c *Config) { c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"admins", "ops"}} },
		"domain":  func(c *Config) { c.AllowedEmailDomains = []string{"example.org"} },
		"users":   func(c *Config) { c.AllowedUsers = []string{"user-1", "bob@other.example"} },
		"all three rules": func(c *Config) {
			c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"admins"}}
			c.AllowedEmailDomains = []string{"example.org"}
			c.AllowedUsers = []string{"user-1"}
		},
	}
	for hName, headers := range headerSets {
		for rName, rules := range ruleSets {
			for _, unverified := range []string{"false", "true"} {
				for _, refresh := range []string{"false", "true"} {
					c := cacheConfig(t, "")
					for k, v := range headers {
						c.IdentityHeaders[k] = v
					}
					rules(c)
					c.AllowUnverifiedEmail, c.Refresh = unverified, refresh
					m := cacheInstance(t, c, headerUser)
					if m.viewDigest == "" {
						t.Fatal("no view digest without a token to pass")
					}
					for sName, sess := range sessions {
						name := fmt.Sprintf("%s/%s/allowUnverifiedEmail=%s/refresh=%s/%s", hName, rName, unverified, refresh, sName)
						s := *sess
						s.Expiry = expiry
						want := m.newIdentity(&s)
						block := m.viewBlock(want)
						got := identityFromBlock(m.viewDigest, blockSession(block), expiry.Unix())
						if identityText(got) != identityText(want) {
							t.Errorf("%s:\nfrom the block %s\nfrom claims    %s\nblock %s", name, identityText(got), identityText(want), block)
						}
					}
				}
			}
		}
	}
}

// TestViewBlockThroughTheCookie: a session saved by an instance carries its block,
// an instance of the same options reads the identity from it (a block that says
// another user than the claims shows which one it read), one with other options
// works it out from the claims, and its own rules apply.
func TestViewBlockThroughTheCookie(t *testing.T) {
	saver := cacheMiddleware(t, "")
	sess := ckSession(t, 900)
	id := saver.newIdentity(sess)
	if sess.View = saver.viewBlock(id); sess.View == "" {
		t.Fatal("no view block")
	}
	line := newSessionLine(t, saver, sess)
	sealed, err := saver.store.sealedValue(&http.Request{Header: http.Header{"Cookie": {line}}})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _, err := openWith(saver.store.sealer, saver.store.sessionAD, sealed, ckNow.Unix())
	if err != nil {
		t.Fatal(err)
	}
	if got := viewBlockOf(plain); got != sess.View {
		t.Fatalf("the sealed session's block reads %q, want %q", got, sess.View)
	}
	if got := identityText(openIdentity(saver, sealed)); got != identityText(id) {
		t.Errorf("opened: %s, want %s", got, identityText(id))
	}

	// A block naming someone else than the claims, sealed by ags all the same.
	other := *sess
	forgedID := *id
	forgedID.headers = []headerValue{{name: headerUser, value: []string{"from-the-block"}}}
	other.View = saver.viewBlock(&forgedID)
	blockLine := newSessionLine(t, saver, &other)
	same := cacheInstance(t, cacheConfig(t, ""), headerUser)
	if got := serveLine(same, "/admin/x", blockLine); got != "from-the-block" {
		t.Errorf("an instance of the same options got user %q, want the block's", got)
	}
	c := cacheConfig(t, "")
	c.IdentityHeaders["email"] = "X-Mail"
	differs := cacheInstance(t, c, headerUser)
	if got := serveLine(differs, "/admin/x", blockLine); got != "f3b2c1d0-8e7f-4a6b-9c5d-2e1f0a9b8c7d" {
		t.Errorf("an instance with other options got user %q, want the claims' sub", got)
	}

	// Rules: a block made without them does not let a refused user pass elsewhere.
	strict := cacheConfig(t, "")
	strict.AllowedUsers = []string{"someone-else"}
	gate := cacheInstance(t, strict, headerUser)
	r := httptest.NewRequest(http.MethodGet, "http://app.example.gov/admin/x", nil)
	r.Header.Set("Cookie", line)
	rec := httptest.NewRecorder()
	gate.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Errorf("an instance whose rules refuse the user answered %d, want 403", rec.Code)
	}
}

// TestNoViewBlockWithTokens: with a token passed to the app there is no block, and
// the token still reaches the app after a cache miss.
func TestNoViewBlockWithTokens(t *testing.T) {
	for _, option := range []string{"passAccessToken", "passIDToken"} {
		c := cacheConfig(t, "")
		if option == "passAccessToken" {
			c.PassAccessToken = "true"
		} else {
			c.PassIDToken = "true"
		}
		header := map[string]string{"passAccessToken": headerAccessToken, "passIDToken": headerIDToken}[option]
		m := cacheInstance(t, c, header)
		if m.viewDigest != "" {
			t.Errorf("%s: a view digest, so a block would carry a token", option)
		}
		sess := ckSession(t, 900)
		if sess.View = m.viewBlock(m.newIdentity(sess)); sess.View != "" {
			t.Errorf("%s: a view block %q", option, sess.View)
		}
		if got := serveLine(m, "/admin/x", newSessionLine(t, m, sess)); !strings.HasPrefix(got, "eyJ") {
			t.Errorf("%s: the app got %q, want the token", option, got)
		}
	}
}

// TestViewBlockRejectsBadBlocks: a block this instance cannot read is ignored.
func TestViewBlockRejectsBadBlocks(t *testing.T) {
	m := cacheMiddleware(t, "")
	good := m.viewBlock(m.newIdentity(&session{Claims: map[string]interface{}{"sub": "u"}, Expiry: ckNow.Add(time.Hour)}))
	if identityFromBlock(m.viewDigest, blockSession(good), ckNow.Add(time.Hour).Unix()) == nil {
		t.Fatalf("the good block %q was refused", good)
	}
	d := "i=" + m.viewDigest
	for _, block := range []string{
		"", "%zz", "i=other&i=u&i=u&i=&i=", strings.Replace(good, d, d+"x", 1),
		strings.Replace(good, d, "i=", 1),    // no digest: the format of version 1
		d + "&i=u&i=u&i=",                    // four values
		d + "&i=u&i=u&i=&i=",                 // five: version 3's, without the sid
		d + "&i=u&i=u&i=&i=&i=&i=",           // seven
		good + "&h=X-Odd",                    // a header without its value
		d + "&i=u&i=u&i=&i=soon&i=",          // renewal time not a number
		d + "&i=u&i=u&i=&i=&i=&h=X-A&h=1%zz", // bad escape
		"d=" + m.viewDigest + "&s=u&n=u",     // version 1's keys
	} {
		if id := identityFromBlock(m.viewDigest, blockSession(block), ckNow.Add(time.Hour).Unix()); id != nil {
			t.Errorf("block %q gave identity %s", block, identityText(id))
		}
	}
	deflated := blockSession(good)
	deflated[0] |= flagDeflate
	if id := identityFromBlock(m.viewDigest, deflated, ckNow.Add(time.Hour).Unix()); id != nil {
		t.Error("a deflated session's bytes were read as a block")
	}
	for _, plain := range [][]byte{nil, {0}, []byte("\x00{\"v\":\"" + good), []byte("\x00{\"w\":\"" + good + "\"")} {
		if id := identityFromBlock(m.viewDigest, plain, ckNow.Add(time.Hour).Unix()); id != nil {
			t.Errorf("session bytes %q gave identity %s", plain, identityText(id))
		}
	}
}

// blockSession is the encoding of a session whose view block is block.
func blockSession(block string) []byte {
	return append([]byte{0}, `{"v":"`+block+`","c":{}}`...)
}

// viewBlockOf is the view block of an opened session's encoding, as
// identityFromBlock reads it; "" when it has none.
func viewBlockOf(plain []byte) string {
	if len(plain) < 1 || plain[0]&flagDeflate != 0 || !bytes.HasPrefix(plain[1:], viewPrefix) {
		return ""
	}
	rest := plain[1+len(viewPrefix):]
	if end := bytes.IndexByte(rest, '"'); end >= 0 {
		return string(rest[:end])
	}
	return ""
}
