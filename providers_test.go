package ags

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// Providers as they are (issue 25): each option through ServeHTTP.

const (
	tenantA = "6d1f0c4e-2b7a-4e0c-9c55-3f2a8b1d7e90"
	tenantB = "0b6a8f2e-5c1d-4f7a-8e3b-9d2c1a0f4e65"
)

// TestIssuerTemplate: Entra ID's organizations endpoint announces
// {tenantid}; a token's iss must be the template with its own tid, and tid allowed.
func TestIssuerTemplate(t *testing.T) {
	cases := []struct {
		name      string
		tenants   []string
		env       string // AGS_CLIENT_ALLOWED_TENANTS
		any       string
		announced string // discovery's issuer, after the server's URL; "" the template
		tid       interface{}
		issTenant string // the tenant in the token's iss; "" tid's
		issParam  string // the callback's iss (RFC 9207), tenant in the template; "" none
		want      int    // the callback's answer; 503: discovery refused at the start
	}{
		{name: "allowed tenant", tenants: []string{tenantA}, tid: tenantA, want: 302},
		{name: "allowed in upper case", tenants: []string{strings.ToUpper(tenantA)}, tid: tenantA, want: 302},
		{name: "from the environment", env: tenantB + "," + tenantA, tid: tenantA, want: 302},
		{name: "another tenant", tenants: []string{tenantA}, tid: tenantB, want: 401},
		{name: "iss of another tenant than tid", tenants: []string{tenantA}, tid: tenantA, issTenant: tenantB, want: 401},
		{name: "iss of the allowed tenant, tid of another", tenants: []string{tenantA}, tid: tenantB, issTenant: tenantA, want: 401},
		{name: "iss the configured issuer", tenants: []string{tenantA}, tid: tenantA, issTenant: "organizations", want: 401},
		{name: "no tid", tenants: []string{tenantA}, tid: nil, issTenant: tenantA, want: 401},
		{name: "tid not a string", tenants: []string{tenantA}, tid: 7, issTenant: tenantA, want: 401},
		{name: "any tenant", any: "true", tid: tenantB, want: 302},
		{name: "any tenant, iss still checked", any: "true", tid: tenantB, issTenant: tenantA, want: 401},
		{name: "no tenant option: template refused", tid: tenantA, want: 503},
		{name: "template that does not fit", tenants: []string{tenantA}, announced: "/{tenantid}/v3.0", tid: tenantA, want: 503},
		{name: "two placeholders", tenants: []string{tenantA}, announced: "/{tenantid}/v2.0/{tenantid}", tid: tenantA, want: 503},
		{name: "another issuer, no template: exact", tenants: []string{tenantA}, announced: "/common/v2.0", tid: tenantA, want: 503},
		{name: "callback iss of the allowed tenant", tenants: []string{tenantA}, tid: tenantA, issParam: tenantA, want: 302},
		{name: "callback iss of another tenant", tenants: []string{tenantA}, tid: tenantA, issParam: tenantB, want: 400},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			base := tp.issuer
			announced := "/{tenantid}/v2.0"
			if tc.announced != "" {
				announced = tc.announced
			}
			issTenant, _ := tc.tid.(string)
			if tc.issTenant != "" {
				issTenant = tc.issTenant
			}
			tp.set(func(tp *testProvider) {
				tp.mount = "/organizations/v2.0"
				tp.discoveryIssuer = base + announced
				if tc.issParam != "" {
					tp.issParam = base + "/" + tc.issParam + "/v2.0"
				}
			})
			reviewUser(tp, map[string]interface{}{"iss": base + "/" + issTenant + "/v2.0", "tid": tc.tid}, nil)
			if tc.tid == nil {
				reviewUser(tp, map[string]interface{}{"iss": base + "/" + issTenant + "/v2.0"}, nil)
				tp.set(func(tp *testProvider) {
					edit := tp.claims
					tp.claims = func(c map[string]interface{}) { edit(c); delete(c, "tid") }
				})
			}
			providersSetenv(t, "AGS_CLIENT_ALLOWED_TENANTS", tc.env)
			c := flowConfig(tp)
			c.Issuer = base + "/organizations/v2.0"
			c.AllowedTenants = tc.tenants
			c.AllowAnyTenant = tc.any
			m, app := newFlow(t, c)
			b := newFlowBrowser(t, m)
			rec := b.get("/private")
			if tc.want == 503 {
				if rec.Code != 503 {
					t.Fatalf("start: got %d, want 503 (discovery refused)", rec.Code)
				}
				return
			}
			rec = b.get(b.authorize(rec))
			if rec.Code != tc.want {
				t.Fatalf("callback: got %d %s, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			if tc.want != 302 {
				if b.sessionCookies() != 0 {
					t.Errorf("a refused sign-in left a session")
				}
				return
			}
			if b.get("/private"); app.last == nil || app.last.Header.Get(headerUser) != "user-42" {
				t.Errorf("the app did not get the signed-in user")
			}
		})
	}
}

// TestUserinfoModes: auto goes on without a failing userinfo, required fails,
// off never calls it; another sub always fails.
func TestUserinfoModes(t *testing.T) {
	cases := []struct {
		name, mode, env string
		status          int    // userinfo's answer; 0: the user's claims
		sub             string // userinfo's sub; "": the token's
		want            int
		wantName        string // X-Name, from userinfo's name
		wantCalls       int
	}{
		{name: "default auto, userinfo answers", want: 302, wantName: "Ada Lovelace", wantCalls: 1},
		{name: "auto, userinfo refuses the token", mode: "auto", status: 401, want: 302, wantCalls: 1},
		{name: "default auto, userinfo fails", status: 500, want: 302, wantCalls: 1},
		{name: "auto, another sub", mode: "auto", sub: "user-666", want: 401, wantCalls: 1},
		{name: "required, userinfo refuses", mode: "required", status: 401, want: 401, wantCalls: 1},
		{name: "required, answers", mode: "required", want: 302, wantName: "Ada Lovelace", wantCalls: 1},
		{name: "required, another sub", mode: "required", sub: "user-666", want: 401, wantCalls: 1},
		{name: "off", mode: "off", sub: "user-666", want: 302, wantCalls: 0},
		{name: "off from the environment", env: "off", status: 500, want: 302, wantCalls: 0},
		{name: "required from the environment", env: "required", status: 401, want: 401, wantCalls: 1},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.set(func(tp *testProvider) { tp.userinfoStatus, tp.userinfoSub = tc.status, tc.sub })
			providersSetenv(t, "AGS_CLIENT_USERINFO", tc.env)
			c := flowConfig(tp)
			c.Userinfo = tc.mode
			c.IdentityHeaders = map[string]string{"name": "X-Name"}
			m, app := newFlow(t, c)
			log := &flowLog{}
			m.log.out = log
			b := newFlowBrowser(t, m)
			rec := b.signIn("/private")
			if rec.Code != tc.want {
				t.Fatalf("callback: got %d %s, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			if tp.userinfoCalls != tc.wantCalls {
				t.Errorf("userinfo called %d times, want %d", tp.userinfoCalls, tc.wantCalls)
			}
			if tc.want != 302 {
				return
			}
			b.get("/private")
			if app.last == nil || app.last.Header.Get(headerUser) != "user-42" {
				t.Fatalf("the app did not get the signed-in user")
			}
			if got := app.last.Header.Get("X-Name"); got != tc.wantName {
				t.Errorf("X-Name: got %q, want %q", got, tc.wantName)
			}
			if tc.status != 0 && tc.wantCalls > 0 && !strings.Contains(log.String(), "goes on with the ID token's claims") {
				t.Errorf("no log line says userinfo failed:\n%s", log.String())
			}
		})
	}
}

// TestJWKSURL: jwksURL replaces the announced key set, query included.
func TestJWKSURL(t *testing.T) {
	for _, override := range []string{"", "/app-keys?appid=" + tpClientID, "/app-keys"} {
		override := override
		t.Run(override, func(t *testing.T) {
			tp := newTestProvider(t)
			tp.set(func(tp *testProvider) { tp.atkKeys = []byte(`{"keys":[]}`) }) // the announced set lacks the key
			c := flowConfig(tp)
			if override != "" {
				c.JWKSURL = tp.issuer + override
			}
			m, _ := newFlow(t, c)
			rec := newFlowBrowser(t, m).signIn("/private")
			want := http.StatusUnauthorized
			if strings.Contains(override, "appid") {
				want = http.StatusFound
			}
			if rec.Code != want && !(want == 401 && rec.Code == 503) {
				t.Fatalf("callback: got %d %s, want %d", rec.Code, rec.Body.String(), want)
			}
			if override != "" && tp.appKeysCalls == 0 {
				t.Errorf("jwksURL was not fetched")
			}
			if override != "" && tp.atkJWKSCalls != 0 {
				t.Errorf("the announced jwks_uri was fetched %d times", tp.atkJWKSCalls)
			}
		})
	}
}

// TestProviderOptionErrors: each bad value stops New with an error naming the option.
func TestProviderOptionErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"userinfo", func(c *Config) { c.Userinfo = "sometimes" }, "userinfo must be auto, required or off"},
		{"userinfo off with the core identity", func(c *Config) {
			c.Userinfo = "off"
			c.AuthParams = map[string]string{"claims": `{"userinfo":{"https://vocab.account.gov.uk/v1/returnCode":null}}`}
		}, "userinfo is off"},
		{"accessTokenClaims", func(c *Config) { c.AccessTokenClaims = "yes" }, "accessTokenClaims must be true or false"},
		{"allowAnyTenant", func(c *Config) { c.AllowAnyTenant = "always" }, "allowAnyTenant must be true or false"},
		{"both tenant options", func(c *Config) { c.AllowAnyTenant = "true"; c.AllowedTenants = []string{tenantA} }, "allowedTenants and allowAnyTenant"},
		{"tenant with a slash", func(c *Config) { c.AllowedTenants = []string{"a/b"} }, "allowedTenants"},
		{"empty tenant", func(c *Config) { c.AllowedTenants = []string{" "} }, "allowedTenants"},
		{"jwksURL relative", func(c *Config) { c.JWKSURL = "/keys" }, "jwksURL must be"},
		{"jwksURL with a fragment", func(c *Config) { c.JWKSURL = "https://example.org/keys#x" }, "jwksURL must be"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := flowConfig(&testProvider{issuer: "https://idp.example.org"})
			tc.edit(c)
			_, err := New(nil, http.NotFoundHandler(), c, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// providersSetenv sets an environment variable for one test: t.Setenv's does not
// reach the plugin's os.Getenv under Yaegi, which keeps an environment of its own.
func providersSetenv(t *testing.T, key, value string) {
	t.Helper()
	old, had := os.LookupEnv(key)
	os.Setenv(key, value)
	t.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}
