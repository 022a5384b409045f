package ags

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// ciFixture is a One Login-like identity service: a DID document served over HTTP
// and the key that signs core identities.
type ciFixture struct {
	did, kid string
	signer   *jwtSigner
	doc      map[string]interface{}
	srv      *httptest.Server
}

func newCIFixture(t *testing.T) *ciFixture {
	t.Helper()
	f := &ciFixture{did: "did:web:identity.example.test"}
	f.kid = f.did + "#key-1"
	f.signer = jwtNewSigner(t, "ec_p256.pem", "ES256", f.kid)
	jwk := f.signer.jwk(t, false)
	delete(jwk, "kid")
	delete(jwk, "use")
	f.doc = map[string]interface{}{
		"@context": []string{"https://www.w3.org/ns/did/v1"},
		"id":       f.did,
		"assertionMethod": []interface{}{map[string]interface{}{
			"type": "JsonWebKey", "id": f.kid, "controller": f.did, "publicKeyJwk": jwk,
		}},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(f.doc)
	}))
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// claims are a valid core identity of user-42 for the test client.
func (f *ciFixture) claims(now time.Time) map[string]interface{} {
	return map[string]interface{}{
		"iss": "https://identity.example.test/", "aud": tpClientID, "sub": "user-42",
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(30 * time.Minute).Unix(),
		"vot": "P2", "vtm": "https://oidc.example.test/trustmark",
		"vc": map[string]interface{}{
			"type": []string{"VerifiableCredential", "VerifiableIdentityCredential"},
			"credentialSubject": map[string]interface{}{
				"name":      []interface{}{map[string]interface{}{"nameParts": []interface{}{map[string]interface{}{"type": "GivenName", "value": "Ada"}}}},
				"birthDate": []interface{}{map[string]interface{}{"value": "1815-12-10"}},
			},
		},
	}
}

// ciConfig is an instance that asks for the identity at P2.
func ciConfig(tp *testProvider, f *ciFixture) *Config {
	c := flowConfig(tp)
	c.AuthParams = map[string]string{"vtr": `["Cl.Cm.P2"]`, "claims": `{"userinfo":{"` + coreIdentityClaim + `":null}}`}
	c.CoreIdentityDIDURL = f.srv.URL + "/.well-known/did.json"
	c.CoreIdentityIssuer = "https://identity.example.test/"
	return c
}

// TestCoreIdentity (SPEC 12, issue 24): the coreIdentityJWT is verified at sign-in
// (ES256 by a key of the DID document whose controller is the document, iss, aud,
// sub, exp, nbf, a vot at least the level asked for); the app gets the level and the
// credential subject, never the JWT, and the session does not keep it. A missing,
// failed or too-low identity signs the user in without one: the instance's
// protected paths answer 403.
func TestCoreIdentity(t *testing.T) {
	tp := newTestProvider(t)
	f := newCIFixture(t)
	now := time.Now()
	with := func(edit map[string]interface{}) map[string]interface{} {
		c := f.claims(now)
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := &jwtSigner{alg: "ES256", kid: f.kid, key: otherKey}
	for _, tc := range []struct {
		name  string
		token func() interface{}
		doc   func(doc map[string]interface{})
		ok    bool
	}{
		{"valid", func() interface{} { return f.signer.sign(t, nil, f.claims(now)) }, nil, true},
		{"P3 where P2 was asked", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"vot": "P3"})) }, nil, true},
		{"aud an array", func() interface{} {
			return f.signer.sign(t, nil, with(map[string]interface{}{"aud": []string{"x", tpClientID}}))
		}, nil, true},
		{"missing", nil, nil, false},
		{"not a string", func() interface{} { return map[string]interface{}{"vot": "P2"} }, nil, false},
		{"RS256", func() interface{} {
			return jwtNewSigner(t, "rsa2048_a.pem", "RS256", f.kid).sign(t, nil, f.claims(now))
		}, nil, false},
		{"alg none", func() interface{} {
			h, _ := json.Marshal(map[string]string{"alg": "none", "kid": f.kid})
			c, _ := json.Marshal(f.claims(now))
			return jwsEncoding.EncodeToString(h) + "." + jwsEncoding.EncodeToString(c) + "."
		}, nil, false},
		{"another key", func() interface{} { return other.sign(t, nil, f.claims(now)) }, nil, false},
		{"kid not in the document", func() interface{} {
			return f.signer.sign(t, map[string]interface{}{"alg": "ES256", "kid": f.did + "#key-2"}, f.claims(now))
		}, nil, false},
		{"controller mismatch", func() interface{} { return f.signer.sign(t, nil, f.claims(now)) }, func(doc map[string]interface{}) {
			doc["assertionMethod"].([]interface{})[0].(map[string]interface{})["controller"] = "did:web:evil.example"
		}, false},
		{"wrong issuer", func() interface{} {
			return f.signer.sign(t, nil, with(map[string]interface{}{"iss": "https://evil.example/"}))
		}, nil, false},
		{"wrong audience", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"aud": "other"})) }, nil, false},
		{"another user", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"sub": "user-43"})) }, nil, false},
		{"expired", func() interface{} {
			return f.signer.sign(t, nil, with(map[string]interface{}{"exp": now.Add(-time.Hour).Unix()}))
		}, nil, false},
		{"no exp", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"exp": nil})) }, nil, false},
		{"not yet valid", func() interface{} {
			return f.signer.sign(t, nil, with(map[string]interface{}{"nbf": now.Add(time.Hour).Unix()}))
		}, nil, false},
		{"level too low", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"vot": "P1"})) }, nil, false},
		{"P0", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"vot": "P0"})) }, nil, false},
		{"no credential subject", func() interface{} { return f.signer.sign(t, nil, with(map[string]interface{}{"vc": nil})) }, nil, false},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f.doc = newCIFixture(t).doc
			f.doc["assertionMethod"].([]interface{})[0].(map[string]interface{})["publicKeyJwk"] = func() map[string]interface{} {
				jwk := f.signer.jwk(t, false)
				delete(jwk, "kid")
				return jwk
			}()
			if tc.doc != nil {
				tc.doc(f.doc)
			}
			info := map[string]interface{}{"sub": "user-42"}
			if tc.token != nil {
				info[coreIdentityClaim] = tc.token()
			}
			reviewUser(tp, map[string]interface{}{"vot": "Cl.Cm"}, info)
			m, app := newFlow(t, ciConfig(tp, f))
			log := atkCaptureLog(m)
			b := newFlowBrowser(t, m)
			if rec := b.signIn("/private"); rec.Code != http.StatusFound {
				t.Fatalf("sign-in: got %d %s", rec.Code, rec.Body.String())
			}
			rec := b.get("/private")
			if !tc.ok {
				if rec.Code != http.StatusForbidden || app.calls != 0 {
					t.Errorf("got %d (%d app calls), want 403", rec.Code, app.calls)
				}
				if !strings.Contains(log.String(), "no identity") {
					t.Errorf("no log line says why:\n%s", log.String())
				}
				if got := b.get("/elsewhere"); got.Code != http.StatusOK || app.last.Header.Get(headerIdentityLevel) != "" || app.last.Header.Get(headerIdentity) != "" {
					t.Errorf("an open path got identity headers %q", app.last.Header)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d %s, want 200", rec.Code, rec.Body.String())
			}
			h := app.last.Header
			if h.Get(headerIdentityLevel) != "P2" && h.Get(headerIdentityLevel) != "P3" {
				t.Errorf("level header %q", h.Get(headerIdentityLevel))
			}
			var subject map[string]interface{}
			if err := json.Unmarshal([]byte(h.Get(headerIdentity)), &subject); err != nil || subject["birthDate"] == nil || subject["name"] == nil {
				t.Errorf("identity header %q: %v", h.Get(headerIdentity), err)
			}
			for name, values := range h {
				for _, v := range values {
					if strings.Count(v, ".") == 2 && strings.Contains(v, "eyJ") && name != "Cookie" {
						t.Errorf("header %s carries a JWT", name)
					}
				}
			}
			sess := m.sessionOf(&http.Request{Header: http.Header{"Cookie": {atkCookieHeader(b.jar)}}}, &identity{})
			if sess == nil || sess.UserInfo[coreIdentityClaim] != nil || sess.IdentityLevel == "" {
				t.Errorf("the session keeps the JWT, or no level: %+v", sess)
			}
		})
	}
}

// TestCoreIdentityConfig: the DID document and issuer default for One Login's
// issuers only, and are required otherwise; forged identity headers are stripped.
func TestCoreIdentityConfig(t *testing.T) {
	ask := map[string]string{"claims": `{"userinfo":{"` + coreIdentityClaim + `":null}}`}
	for _, tc := range []struct {
		name, issuer, did, iss string
		params                 map[string]string
		want                   string // error; "" none
	}{
		{"One Login integration", "https://oidc.integration.account.gov.uk/", "", "", ask, ""},
		{"One Login production", "https://oidc.account.gov.uk/", "", "", ask, ""},
		{"another issuer, none set", "https://id.example.org", "", "", ask, "coreIdentityDIDURL and coreIdentityIssuer are required"},
		{"another issuer, both set", "https://id.example.org", "https://id.example.org/did.json", "https://id.example.org/", ask, ""},
		{"set but not asked", "https://id.example.org", "https://id.example.org/did.json", "https://id.example.org/", nil, "need authParams claims"},
		{"claims not JSON", "https://id.example.org", "", "", map[string]string{"claims": "coreIdentityJWT"}, "authParams claims must be a JSON object"},
		{"DID URL not absolute", "https://id.example.org", "did.json", "https://id.example.org/", ask, "coreIdentityDIDURL must be"},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Issuer: tc.issuer, ClientID: "c", ClientSecret: "s", AuthenticatedPaths: []string{"x"},
				AuthParams: tc.params, CoreIdentityDIDURL: tc.did, CoreIdentityIssuer: tc.iss}
			s, err := c.resolved(func(string) string { return "" }).validate()
			if tc.want == "" {
				if err != nil || s.coreIdentity == nil {
					t.Fatalf("got %v, want the identity asked for", err)
				}
				if tc.did == "" && !strings.HasPrefix(s.coreIdentity.didURL, "https://identity.") {
					t.Errorf("default DID URL %q", s.coreIdentity.didURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	tp := newTestProvider(t)
	m, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.do(http.MethodGet, "/elsewhere", http.Header{"X-Auth-Request-Identity": {"forged"}, "X_Auth_Request_Identity_Level": {"P4"}})
	if len(app.last.Header.Values("X-Auth-Request-Identity")) != 0 || len(app.last.Header.Values("X_Auth_Request_Identity_Level")) != 0 {
		t.Errorf("forged identity headers reached the app: %v", app.last.Header)
	}
}

// TestSessionKeepsWhatIsUsed (issue 24, data minimisation): a new session keeps of
// userinfo the claims the instance's headers and rules read, not every field the
// provider sent (One Login's passport, unless mapped).
func TestSessionKeepsWhatIsUsed(t *testing.T) {
	tp := newTestProvider(t)
	reviewUser(tp, nil, map[string]interface{}{
		"sub": "user-42", "name": "Ada", "address": map[string]interface{}{"country": "GB"},
		"passport": []interface{}{map[string]interface{}{"documentNumber": "123456789"}},
		"dept":     "it", "org": map[string]interface{}{"unit": "lab"}, "unused": "secret-ish",
	})
	c := flowConfig(tp)
	c.IdentityHeaders = map[string]string{"address": "X-Address"}
	c.RequiredClaims = map[string]interface{}{"org.unit": "lab", "dept": []interface{}{"it"}}
	m, app := newFlow(t, c)
	b := newFlowBrowser(t, m)
	b.signIn("/private")
	if rec := b.get("/private"); rec.Code != http.StatusOK || app.last == nil || app.last.Header.Get("X-Address") != `{"country":"GB"}` {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
	sess := m.sessionOf(&http.Request{Header: http.Header{"Cookie": {atkCookieHeader(b.jar)}}}, &identity{})
	if sess == nil {
		t.Fatal("no session")
	}
	for _, kept := range []string{"sub", "name", "address", "dept", "org"} {
		if sess.UserInfo[kept] == nil {
			t.Errorf("the session lost %s", kept)
		}
	}
	for _, dropped := range []string{"passport", "unused"} {
		if sess.UserInfo[dropped] != nil {
			t.Errorf("the session keeps %s, which nothing reads", dropped)
		}
	}
}

// TestReturnCodes (issue 24): One Login's return codes reach the app, which must act
// on them, when the claims parameter asks for them, and only then.
func TestReturnCodes(t *testing.T) {
	tp := newTestProvider(t)
	reviewUser(tp, nil, map[string]interface{}{"sub": "user-42", returnCodeClaim: []interface{}{
		map[string]interface{}{"code": "X"}, map[string]interface{}{"code": "Z"}}})
	for _, asked := range []bool{true, false} {
		c := flowConfig(tp)
		if asked {
			c.AuthParams = map[string]string{"claims": `{"userinfo":{"` + returnCodeClaim + `":null}}`}
		}
		m, app := newFlow(t, c)
		b := newFlowBrowser(t, m)
		b.signIn("/private")
		b.get("/private")
		want := ""
		if asked {
			want = "X,Z"
		}
		if app.last == nil || app.last.Header.Get(headerReturnCode) != want {
			t.Errorf("asked %v: got %q, want %q", asked, app.last.Header.Get(headerReturnCode), want)
		}
	}
}
