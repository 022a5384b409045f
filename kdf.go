package ags

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
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
