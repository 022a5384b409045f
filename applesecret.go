package ags

import (
	"fmt"
	"regexp"
	"sync"
	"time"
)

// Sign in with Apple has no static client secret: the secret is a JWT that the client
// signs with its .p8 key (ES256, kid its Key ID), iss the team ID, sub the client ID,
// aud Apple, at most six months long (Apple's "Creating a client secret"). ags makes
// it itself, so that nobody pastes a secret that stops working half a year later.

// appleAudience is the client secret's aud, whatever the issuer is called.
const appleAudience = "https://appleid.apple.com"

// appleSecretLifetime is how long a generated secret is valid (Apple allows up to
// 15,777,000 seconds); appleSecretRenewal is how long before its end a new one is
// made, so that none expires between being sent and being read.
const (
	appleSecretLifetime = 24 * time.Hour
	appleSecretRenewal  = time.Hour
)

// appleTeamIDPattern is an Apple Developer team ID: ten upper-case letters or digits.
var appleTeamIDPattern = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// appleSecret is the generated client secret, kept until near its end.
type appleSecret struct {
	teamID string

	mu      sync.Mutex
	value   string
	renewAt time.Time
}

// parseAppleTeamID reads appleTeamID into a: the client secret is then signed with
// the client's key, which must be an ES256 key with clientKeyID set, and sent as
// client_secret_post. secret is the client secret configured ("" when none).
func parseAppleTeamID(c *Config, a *clientAuth, secret string) error {
	if c.AppleTeamID == "" {
		return nil
	}
	switch {
	case !appleTeamIDPattern.MatchString(c.AppleTeamID):
		return fmt.Errorf("appleTeamID must be Apple's 10-character team ID (upper-case letters and digits), got %q", c.AppleTeamID)
	case secret != "":
		return fmt.Errorf("appleTeamID makes the client secret from the key: leave clientSecret and clientSecretFile empty")
	case a.key == nil:
		return fmt.Errorf("appleTeamID needs Apple's .p8 key in clientPrivateKeyFile (or clientPrivateKey)")
	case a.keyAlg != "ES256":
		return fmt.Errorf("appleTeamID needs Apple's .p8 key, a P-256 key that signs ES256; this key signs %s", a.keyAlg)
	case c.ClientKeyID == "":
		return fmt.Errorf("appleTeamID needs clientKeyID, the Key ID of Apple's .p8 key")
	case a.method != authAuto && a.method != authSecretPost:
		return fmt.Errorf("appleTeamID sends the client secret as client_secret_post, as Apple requires: clientAuthMethod must be auto or client_secret_post, got %q", a.method)
	}
	a.method = authSecretPost
	a.apple = &appleSecret{teamID: c.AppleTeamID}
	return nil
}

// clientSecret is the secret sent to the token endpoint: the one configured, or
// Apple's, signed again when the last is near its end.
func (a *clientAuth) clientSecret(now time.Time) (string, error) {
	s := a.apple
	if s == nil {
		return a.secret, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value != "" && now.Before(s.renewAt) {
		return s.value, nil
	}
	value, err := a.signer.sign("JWT", map[string]interface{}{
		"iss": s.teamID, "sub": a.clientID, "aud": appleAudience,
		"iat": now.Unix(), "exp": now.Add(appleSecretLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("sign the client secret (appleTeamID): %w", err)
	}
	s.value = value
	s.renewAt = now.Add(appleSecretLifetime - appleSecretRenewal)
	return value, nil
}
