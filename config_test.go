package ags

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cfgValid is a configuration that New accepts with no network.
func cfgValid() *Config {
	c := CreateConfig()
	c.Issuer = "https://id.example.org"
	c.ClientID = "client"
	c.ClientSecret = "secret"
	c.SessionSecret = tpSessionKey
	c.AuthenticatedPaths = []string{"/private"}
	return c
}

func TestConfigDefaults(t *testing.T) {
	s, err := cfgValid().resolved(func(string) string { return "" }).validate()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"signOutPath", s.signOutPath, "/sign-out"},
		{"callbackPath", s.callbackPath, "/oidc_callback"},
		{"sessionCookie", s.sessionCookie, "ags_client_session"},
		{"featureFlagCookie", s.flagCookie, "ags_client_active"},
		{"scopes", s.scopes, "openid profile email"},
		{"sessionLifetime", s.sessionLifetime.String(), "12h0m0s"},
		{"timeout", s.timeout.String(), "10s"},
		{"clockSkew", s.clockSkew.String(), "1m0s"},
		{"cookieSecure", s.cookies.secure, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !s.flagDefault || !s.flagToggle || !s.verifySSL || s.debug || s.refresh || s.passAccessToken || s.passIDToken {
		t.Errorf("boolean defaults wrong: %+v", s)
	}
	if s.cookies.sameSite != http.SameSiteLaxMode {
		t.Errorf("sameSite: got %v, want Lax", s.cookies.sameSite)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"AGS_CLIENT_ISSUER":               "https://broker.example.gov",
		"AGS_CLIENT_ID":                   "env-client",
		"AGS_CLIENT_SECRET":               "env-secret",
		"AGS_CLIENT_AUTHENTICATED_PATHS":  "/a, b/.* ,",
		"AGS_CLIENT_SIGN_OUT_PATH":        "logout",
		"AGS_CLIENT_CALLBACK_PATH":        "/auth/cb/",
		"AGS_CLIENT_DEBUG":                "True",
		"AGS_CLIENT_SESSION_COOKIE":       "sess",
		"AGS_CLIENT_SESSION_SECRET":       tpSessionKey + "," + tpSessionKey + "-old",
		"AGS_CLIENT_FEATURE_FLAG_COOKIE":  "flag",
		"AGS_CLIENT_FEATURE_FLAG_DEFAULT": "False",
		"AGS_CLIENT_VERIFY_SSL":           "0",
		"AGS_CLIENT_IDENTITY_HEADERS":     "name=X-Name,org=X-Org",
		"AGS_CLIENT_ALLOWED_ALGORITHMS":   "RS256,ES256",
	}
	c := CreateConfig()
	c.ClientID = "from-traefik" // Traefik's value wins over the environment
	s, err := c.resolved(func(k string) string { return env[k] }).validate()
	if err != nil {
		t.Fatal(err)
	}
	if s.issuer != "https://broker.example.gov" || s.clientID != "from-traefik" || s.clientSecret != "env-secret" {
		t.Errorf("got issuer %q, client %q", s.issuer, s.clientID)
	}
	if s.signOutPath != "/logout" || s.callbackPath != "/auth/cb" || !s.debug || s.sessionCookie != "sess" || len(s.secrets) != 2 {
		t.Errorf("env values not applied: %+v", s)
	}
	if s.flagCookie != "flag" || s.flagDefault || s.verifySSL {
		t.Errorf("flag or verifySSL not applied: %+v", s)
	}
	if !s.protected.MatchString("/a") || !s.protected.MatchString("/b/x") || s.protected.MatchString("/c") {
		t.Errorf("authenticated paths from the environment: %v", s.protected)
	}
	if s.identityHeaders["name"] != "X-Name" || s.identityHeaders["org"] != "X-Org" || len(s.allowedAlgorithms) != 2 {
		t.Errorf("identity headers %v, algorithms %v", s.identityHeaders, s.allowedAlgorithms)
	}
}

func TestConfigSecretFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	c := cfgValid()
	c.ClientSecret = ""
	c.ClientSecretFile = file
	s, err := c.resolved(func(string) string { return "" }).validate()
	if err != nil || s.clientSecret != "from-file" {
		t.Errorf("got %q, %v, want the file's secret", s.clientSecret, err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "issuer is required"},
		{"relative issuer", func(c *Config) { c.Issuer = "id.example.org" }, "issuer must be an absolute"},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://id.example.org" }, "issuer must be an absolute"},
		{"no client", func(c *Config) { c.ClientID = "" }, "clientID is required"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "clientSecret (or clientSecretFile) is required"},
		{"missing secret file", func(c *Config) { c.ClientSecretFile = "/nonexistent/secret" }, "clientSecretFile cannot be read"},
		{"no paths", func(c *Config) { c.AuthenticatedPaths = nil }, "authenticatedPaths is required"},
		{"bad regexp", func(c *Config) { c.AuthenticatedPaths = []string{"/ok", "(admin"} }, `authenticatedPaths[1] "(admin" is not a valid regular expression`},
		{"short session secret", func(c *Config) { c.SessionSecret = "short" }, "sessionSecret must be at least 32 bytes"},
		{"short second secret", func(c *Config) { c.SessionSecret = tpSessionKey + ",short" }, "sessionSecret must be at least 32 bytes (secret 2"},
		{"bad boolean", func(c *Config) { c.Debug = "yes" }, `debug must be true or false, got "yes"`},
		{"bad verifySSL", func(c *Config) { c.VerifySSL = "maybe" }, "verifySSL must be true or false"},
		{"bad duration", func(c *Config) { c.SessionLifetime = "forever" }, "sessionLifetime must be a duration"},
		{"negative timeout", func(c *Config) { c.Timeout = "-1s" }, "timeout must be positive"},
		{"bad sameSite", func(c *Config) { c.SameSite = "sometimes" }, "sameSite must be Lax, Strict or None"},
		{"bad cookieSecure", func(c *Config) { c.CookieSecure = "perhaps" }, "cookieSecure must be auto, true or false"},
		{"bad cookie name", func(c *Config) { c.SessionCookie = "a b" }, "sessionCookie must be a cookie name"},
		{"bad flag cookie", func(c *Config) { c.FeatureFlagCookie = "x;y" }, "featureFlagCookie must be a cookie name"},
		{"scopes without openid", func(c *Config) { c.Scopes = "profile email" }, "scopes must contain openid"},
		{"same paths", func(c *Config) { c.CallbackPath = "/x"; c.SignOutPath = "x/" }, "callbackPath and signOutPath must differ"},
		{"bad path option", func(c *Config) { c.CallbackPath = "/a?b" }, "callbackPath must be a path"},
		{"unknown algorithm", func(c *Config) { c.AllowedAlgorithms = []string{"none"} }, `allowedAlgorithms: "none" is not one of`},
		{"bad identity header", func(c *Config) { c.IdentityHeaders = map[string]string{"name": "X Name"} }, "identityHeaders must map a claim to a header name"},
		{"reserved identity header", func(c *Config) { c.IdentityHeaders = map[string]string{"name": "cookie"} }, `identityHeaders cannot set "cookie"`},
		{"missing CA file", func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }, "caFile cannot be read"},
		{"bad log path", func(c *Config) { c.LogPath = "/nonexistent/dir/ags.log" }, "logPath cannot be opened"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			c := cfgValid()
			tc.edit(c)
			_, err := New(context.Background(), http.NotFoundHandler(), c, "mw")
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ags: middleware mw: ") {
				t.Errorf("got %q, want it to contain %q", err.Error(), tc.want)
			}
			if strings.Contains(err.Error(), tpSessionKey) {
				t.Errorf("the error shows the session secret: %q", err.Error())
			}
		})
	}
}

func TestNewNeedsNoNetwork(t *testing.T) {
	c := cfgValid()
	c.Issuer = "https://unreachable.invalid"
	c.SessionSecret = ""
	for i := 0; i < 3; i++ {
		if _, err := New(context.Background(), http.NotFoundHandler(), c, "mw"); err != nil {
			t.Fatalf("New %d: %v", i, err)
		}
	}
	if _, err := New(context.Background(), http.NotFoundHandler(), nil, "mw"); err == nil {
		t.Error("New with a nil configuration: got no error, want issuer is required")
	}
}
