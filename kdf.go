package ags

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
)

// hkdfSHA256 is HKDF (RFC 5869) with SHA-256: extract a pseudorandom key from
// secret and salt, then expand it with info to length bytes. Written here
// because Yaegi's standard library (Go 1.22) has no crypto/hkdf.
func hkdfSHA256(secret, salt, info []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*sha256.Size {
		return nil, errors.New("hkdf: invalid output length")
	}
	// An empty salt means a string of HashLen zeros (RFC 5869 2.2); HMAC pads
	// its key with zeros, so nil already is that.
	extract := hmac.New(sha256.New, salt)
	extract.Write(secret)
	prk := extract.Sum(nil)

	expand := hmac.New(sha256.New, prk)
	out := make([]byte, 0, length+sha256.Size)
	var block []byte
	counter := []byte{0}
	for len(out) < length {
		counter[0]++
		expand.Reset()
		expand.Write(block)
		expand.Write(info)
		expand.Write(counter)
		block = expand.Sum(block[:0])
		out = append(out, block...)
	}
	return out[:length], nil
}

// generatedSecret holds the session secret made up when none is configured.
// It is the package's only mutable state: Traefik calls New again on every
// configuration change, and a secret made per New would sign everyone out
// each time a container starts.
var generatedSecret struct {
	once  sync.Once
	value string
}

// processSessionSecret returns a random secret, the same for the whole life
// of the process, and whether this call made it (so the warning about it is
// logged once, not at every configuration change). The secret is "" if the
// system has no randomness, which New then rejects as under 32 bytes.
func processSessionSecret() (string, bool) {
	made := false
	generatedSecret.once.Do(func() {
		made = true
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return
		}
		generatedSecret.value = base64.RawURLEncoding.EncodeToString(b)
	})
	return generatedSecret.value, made
}
