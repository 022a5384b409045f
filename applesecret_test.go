package ags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// checkAppleSecret checks a client secret as Sign in with Apple does: sent as
// client_secret_post, a JWT signed ES256 by the registered .p8 key under its Key ID,
// iss the team ID, sub the client, aud Apple, at most six months long and not
// expired. Callers hold tp.mu.
func (tp *testProvider) checkAppleSecret(basic bool, id, secret string) error {
	if basic || id != tpClientID {
		return fmt.Errorf("want client_secret_post for %q, got basic %v, client_id %q", tpClientID, basic, id)
	}
	a, err := tp.checkSignedJWT(secret, tp.appleKey)
	if err != nil {
		return fmt.Errorf("client_secret: %v", err)
	}
	c := a.claims
	exp, _ := c["exp"].(float64)
	iat, _ := c["iat"].(float64)
	now := float64(tp.now().Unix())
	switch {
	case a.header["alg"] != "ES256" || a.header["kid"] != "KEYID12345":
		return fmt.Errorf("header %v, want ES256 and the Key ID", a.header)
	case c["iss"] != tp.appleTeamID || c["sub"] != tpClientID || c["aud"] != "https://appleid.apple.com":
		return fmt.Errorf("iss %v, sub %v, aud %v", c["iss"], c["sub"], c["aud"])
	case exp <= now || iat > now+60 || exp-iat > 15777000:
		return errors.New("expired, issued in the future, or longer than six months")
	}
	tp.appleSecrets = append(tp.appleSecrets, a)
	return nil
}

// appleConfig is a configuration for a provider that authenticates clients as Apple
// does, with the P-256 key of testdata/client as the .p8 key.
func appleConfig(t *testing.T, tp *testProvider) *Config {
	t.Helper()
	pemText, pub := clientKey(t, "ec-p256-pkcs8.pem")
	tp.appleKey = pub
	tp.appleTeamID = "TEAMID1234"
	tp.authMethods = []string{"client_secret_post"}
	c := flowConfig(tp)
	c.ClientSecret = ""
	c.ClientPrivateKey = pemText
	c.ClientKeyID = "KEYID12345"
	c.AppleTeamID = "TEAMID1234"
	return c
}

// TestAppleClientSecret: with appleTeamID, the code exchange and refreshes carry a
// client secret that ags signed, the same one until it nears its end, then a new one.
func TestAppleClientSecret(t *testing.T) {
	tp := newTestProvider(t)
	tp.refreshToken = "refresh-1"
	c := appleConfig(t, tp)
	c.Refresh = "true"
	m, _ := newFlow(t, c)
	fc := newFlowClock(time.Now())
	setClock(m, func() time.Time { return fc.now() })
	tp.set(func(tp *testProvider) { tp.now = func() time.Time { return fc.now() } })
	b := newFlowBrowser(t, m)
	if rec := b.signIn("/private"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/private" {
		t.Fatalf("sign-in: got %d to %q, want 302 to /private; %s", rec.Code, rec.Header().Get("Location"), rec.Body.String())
	}
	if len(tp.appleSecrets) != 1 {
		t.Fatalf("got %d client secrets accepted, want 1", len(tp.appleSecrets))
	}
	first := tp.tokenForms[0].Get("client_secret")
	fc.set(fc.now().Add(22 * time.Hour))
	if _, err := m.refreshGrant(context.Background(), &session{RefreshToken: "refresh-1", Claims: map[string]interface{}{"sub": "user-42"}}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := tp.tokenForms[1].Get("client_secret"); got != first {
		t.Error("a new client secret was signed long before the last one ends")
	}
	fc.set(fc.now().Add(90 * time.Minute))
	if _, err := m.refreshGrant(context.Background(), &session{RefreshToken: "refresh-1", Claims: map[string]interface{}{"sub": "user-42"}}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := tp.tokenForms[2].Get("client_secret"); got == first {
		t.Error("the client secret was not renewed near its end")
	}
	if len(tp.appleSecrets) != 3 {
		t.Errorf("got %d client secrets accepted, want 3", len(tp.appleSecrets))
	}
}

func TestAppleTeamIDErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"not a team ID", func(c *Config) { c.AppleTeamID = "team" }, "appleTeamID must be"},
		{"with a client secret", func(c *Config) { c.ClientSecret = tpClientSecret }, "leave clientSecret"},
		{"without a key", func(c *Config) { c.ClientPrivateKey = ""; c.ClientKeyID = "" }, "appleTeamID needs Apple's .p8 key"},
		{"an RSA key", func(c *Config) { c.ClientPrivateKey, _ = clientKey(t, "rsa-2048-pkcs8.pem") }, "signs RS256"},
		{"without the Key ID", func(c *Config) { c.ClientKeyID = "" }, "appleTeamID needs clientKeyID"},
		{"basic", func(c *Config) { c.ClientAuthMethod = "client_secret_basic" }, "clientAuthMethod must be auto or client_secret_post"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			c := appleConfig(t, tp)
			tc.edit(c)
			_, err := newMiddleware(http.NotFoundHandler(), c, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("from the environment", func(t *testing.T) {
		tp := newTestProvider(t)
		c := appleConfig(t, tp)
		c.AppleTeamID = ""
		env := map[string]string{"AGS_CLIENT_APPLE_TEAM_ID": "TEAMID1234"}
		m, _ := newFlow(t, c.resolved(func(k string) string { return env[k] }))
		if rec := newFlowBrowser(t, m).signIn("/private"); rec.Code != http.StatusFound || len(tp.appleSecrets) != 1 {
			t.Errorf("AGS_CLIENT_APPLE_TEAM_ID: got %d and %d secrets accepted, want 302 and 1", rec.Code, len(tp.appleSecrets))
		}
	})
}
