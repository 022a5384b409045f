package ags

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

const (
	// minRSAKeyBits: RFC 7518 section 3.3 asks for 2048 bits at least.
	minRSAKeyBits = 2048
	// maxRSAKeyBits bounds the cost of a verification with a key someone else chose.
	maxRSAKeyBits = 8192
	// maxJWKSetSize is the most ags reads of a key set document.
	maxJWKSetSize = 1 << 20
	// jwksRefetchInterval is the least time between two fetches of the key set, however
	// many tokens name a key that is not in it.
	jwksRefetchInterval = 10 * time.Second
)

// jsonWebKey is a usable public key from a JWK Set.
type jsonWebKey struct {
	kid string
	alg string      // "" when the JWK does not restrict it
	key interface{} // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// jwkJSON is one JWK as published; the private members are never read.
type jwkJSON struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKSet parses a JWK Set document and returns its usable keys: RSA of 2048 bits or
// more, EC on P-256, P-384 or P-521, and Ed25519, meant for signatures. A key of another
// type, for encryption, or malformed is skipped, so that one odd key does not stop
// sign-in; a set with no usable key is an error.
func parseJWKSet(data []byte) ([]jsonWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JSON key set: %w", errKeySetUnavailable, err)
	}
	var keys []jsonWebKey
	var firstErr error
	for _, raw := range doc.Keys {
		key, err := parseJWK(raw)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if key.key != nil {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("%w: no usable key (%v)", errKeySet, firstErr)
		}
		return nil, fmt.Errorf("%w: no usable key", errKeySet)
	}
	return keys, nil
}

// parseJWK parses one JWK. A key ags does not use (another type, an encryption key) comes
// back with a nil key and no error; a malformed one with an error.
func parseJWK(raw []byte) (jsonWebKey, error) {
	var j jwkJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return jsonWebKey{}, fmt.Errorf("jwk: %v", err)
	}
	if j.Use != "" && j.Use != "sig" {
		return jsonWebKey{}, nil
	}
	if j.KeyOps != nil && !listContains(j.KeyOps, "verify") {
		return jsonWebKey{}, nil
	}
	var key interface{}
	var err error
	switch j.Kty {
	case "RSA":
		key, err = parseRSAJWK(j)
	case "EC":
		key, err = parseECJWK(j)
	case "OKP":
		key, err = parseOKPJWK(j)
	default:
		return jsonWebKey{}, nil
	}
	if err != nil {
		return jsonWebKey{}, fmt.Errorf("jwk %q: %v", jwsTruncate(j.Kid), err)
	}
	if key == nil {
		return jsonWebKey{}, nil
	}
	// A key that names an algorithm it cannot sign with (ES256 on P-384, RSA-OAEP, ...)
	// is contradictory: skip it rather than guess which half to believe.
	if j.Alg != "" && !keyFitsAlgorithm(key, j.Alg) {
		return jsonWebKey{}, fmt.Errorf("jwk %q: alg %q does not fit the key", jwsTruncate(j.Kid), jwsTruncate(j.Alg))
	}
	return jsonWebKey{kid: j.Kid, alg: j.Alg, key: key}, nil
}

// decodeJWKInt decodes a base64url big-endian unsigned integer.
func decodeJWKInt(name, s string) (*big.Int, error) {
	b, err := jwsEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("bad %s", name)
	}
	return new(big.Int).SetBytes(b), nil
}

func parseRSAJWK(j jwkJSON) (*rsa.PublicKey, error) {
	n, err := decodeJWKInt("n", j.N)
	if err != nil {
		return nil, err
	}
	e, err := decodeJWKInt("e", j.E)
	if err != nil {
		return nil, err
	}
	if n.BitLen() < minRSAKeyBits || n.BitLen() > maxRSAKeyBits {
		return nil, fmt.Errorf("rsa modulus of %d bits, want %d to %d", n.BitLen(), minRSAKeyBits, maxRSAKeyBits)
	}
	if n.Bit(0) == 0 {
		return nil, errors.New("rsa modulus is even")
	}
	// e = 1 makes every signature trivially forgeable (CVE-2011-4121 and kin).
	if e.BitLen() > 31 || e.Int64() < 3 || e.Bit(0) == 0 {
		return nil, errors.New("bad rsa exponent")
	}
	if rsaROCAFingerprint(n) {
		return nil, errors.New("rsa key with the ROCA weakness (CVE-2017-15361)")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// rocaPrimes are the small primes whose residues fingerprint the keys of the ROCA
// weakness (Nemec et al., CCS 2017): such a modulus is a power of 65537 modulo each.
var rocaPrimes = []int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
	73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rsaROCAFingerprint reports whether n has the ROCA fingerprint. A sound modulus fails it
// within the first few primes, so the loop is short.
func rsaROCAFingerprint(n *big.Int) bool {
	m := new(big.Int)
	for _, p := range rocaPrimes {
		r := m.Mod(n, big.NewInt(p)).Int64()
		g := 65537 % p
		found := false
		x := int64(1)
		// Walk the subgroup generated by 65537 mod p until it closes.
		for i := int64(0); i < p; i++ {
			if x == r {
				found = true
				break
			}
			x = x * g % p
			if x == 1 {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ecJWKCurve maps a JWK crv to its curve, for parsing and for checking the point.
func ecJWKCurve(crv string) (elliptic.Curve, ecdh.Curve, bool) {
	switch crv {
	case "P-256":
		return elliptic.P256(), ecdh.P256(), true
	case "P-384":
		return elliptic.P384(), ecdh.P384(), true
	case "P-521":
		return elliptic.P521(), ecdh.P521(), true
	}
	return nil, nil, false
}

func parseECJWK(j jwkJSON) (*ecdsa.PublicKey, error) {
	curve, check, ok := ecJWKCurve(j.Crv)
	if !ok {
		return nil, fmt.Errorf("unsupported curve %q", jwsTruncate(j.Crv))
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := jwsEncoding.DecodeString(j.X)
	y, errY := jwsEncoding.DecodeString(j.Y)
	// RFC 7518 section 6.2.1.2: each coordinate is the full size of the curve.
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, fmt.Errorf("bad %s coordinates", j.Crv)
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	// crypto/ecdh refuses points off the curve and the point at infinity.
	if _, err := check.NewPublicKey(point); err != nil {
		return nil, fmt.Errorf("point not on %s", j.Crv)
	}
	return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
}

// parseOKPJWK parses an Ed25519 key (RFC 8037); other OKP curves are not for signatures
// ags checks, and are skipped.
func parseOKPJWK(j jwkJSON) (interface{}, error) {
	if j.Crv != "Ed25519" {
		return nil, nil
	}
	x, err := jwsEncoding.DecodeString(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("bad Ed25519 key")
	}
	return ed25519.PublicKey(x), nil
}

// selectJWK picks the key for a token: the one with its kid that fits alg, or, for a
// token without kid, the only key that fits alg. A key whose alg is set fits that alg only.
func selectJWK(keys []jsonWebKey, kid, alg string) (interface{}, error) {
	var found interface{}
	count := 0
	for _, k := range keys {
		if kid != "" && k.kid != kid {
			continue
		}
		if k.alg != "" && k.alg != alg && !(isEd25519Algorithm(k.alg) && isEd25519Algorithm(alg)) {
			continue
		}
		if !keyFitsAlgorithm(k.key, alg) {
			continue
		}
		found = k.key
		count++
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: no %s key with kid %q", errUnknownKey, alg, jwsTruncate(kid))
	}
	if count > 1 {
		return nil, fmt.Errorf("%w: %d %s keys with kid %q", errAmbiguousKey, count, alg, jwsTruncate(kid))
	}
	return found, nil
}

// keySet caches the keys of jwks_uri. A token whose key is not known makes the set be
// fetched again: one fetch shared by every request that waits for it (single flight), at
// most once every jwksRefetchInterval, and no lock is held while it runs. A failed fetch
// keeps the keys already known.
type keySet struct {
	uri    string
	client *http.Client
	now    func() time.Time
	name   string                             // for errors: "jwks", "did document"
	parse  func([]byte) ([]jsonWebKey, error) // parseJWKSet, or parseDIDDocument

	mu        sync.Mutex
	keys      []jsonWebKey
	loaded    bool          // a fetch has succeeded once
	lastFetch time.Time     // start of the latest fetch; zero before the first
	lastErr   error         // outcome of the latest fetch
	inflight  *keySetUpdate // the fetch running now, if any
	staleAt   time.Time     // when the keys are due to be fetched again
}

// keySetUpdate is one fetch that requests can wait for.
type keySetUpdate struct {
	done chan struct{} // closed when err is set
	err  error
}

func newKeySet(uri string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{uri: uri, client: client, now: now, name: "jwks", parse: parseJWKSet}
}

// newDIDKeySet is the key set of a DID document (coreidentity.go): fetched, cached,
// renewed and refetched for an unknown kid as a JWK Set is.
func newDIDKeySet(uri string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{uri: uri, client: client, now: now, name: "did document", parse: parseDIDDocument}
}

// keyFor returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey) to
// check a token with. It fetches the set on first use; on an unknown kid it fetches again
// (rate limited) and tries once more. Keys older than their maximum age (Cache-Control
// max-age, within minDocumentAge and maxDocumentAge) are fetched again in the
// background, so that a key the provider withdrew stops being trusted, and the keys
// known are used meanwhile.
func (k *keySet) keyFor(ctx context.Context, kid, alg string) (interface{}, error) {
	k.mu.Lock()
	keys, loaded := k.keys, k.loaded
	if loaded && k.inflight == nil && !k.now().Before(k.staleAt) && k.now().Sub(k.lastFetch) >= jwksRefetchInterval {
		go k.refresh(context.Background())
	}
	k.mu.Unlock()
	if loaded {
		key, err := selectJWK(keys, kid, alg)
		if !errors.Is(err, errUnknownKey) {
			return key, err
		}
	}
	fetchErr := k.refresh(ctx)
	k.mu.Lock()
	keys, loaded = k.keys, k.loaded
	k.mu.Unlock()
	if !loaded {
		if fetchErr == nil {
			fetchErr = fmt.Errorf("%w: not fetched", errKeySetUnavailable)
		}
		return nil, fetchErr
	}
	key, err := selectJWK(keys, kid, alg)
	if err != nil && fetchErr != nil {
		// The key may be in the set the provider could not give: not the token's fault.
		return nil, fmt.Errorf("%w (and the key set could not be fetched again: %w)", err, fetchErr)
	}
	return key, err
}

// refresh fetches the set again unless the latest fetch is too recent, or joins the fetch
// already running. It returns the error of the fetch it ran or waited for, or of the
// latest one when it is too soon to fetch.
func (k *keySet) refresh(ctx context.Context) error {
	k.mu.Lock()
	update := k.inflight
	if update == nil {
		now := k.now()
		// A clock that went back cannot measure the interval: fetch rather than wait.
		elapsed := now.Sub(k.lastFetch)
		if !k.lastFetch.IsZero() && elapsed >= 0 && elapsed < jwksRefetchInterval {
			err := k.lastErr
			k.mu.Unlock()
			return err
		}
		update = &keySetUpdate{done: make(chan struct{})}
		k.inflight = update
		k.lastFetch = now
		k.mu.Unlock()

		// The fetch is shared: one caller's cancellation must not fail it for the others.
		// The client's timeout still bounds it.
		keys, maxAge, err := k.fetch(context.WithoutCancel(ctx))

		k.mu.Lock()
		if err == nil {
			k.keys = keys
			k.loaded = true
			k.staleAt = k.now().Add(maxAge)
		}
		k.lastErr = err
		update.err = err
		k.inflight = nil
		close(update.done)
		k.mu.Unlock()
		return err
	}
	k.mu.Unlock()
	select {
	case <-update.done:
		return update.err
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w: %w", k.name, errKeySetUnavailable, ctx.Err())
	}
}

// fetch downloads and parses the key set, and says how long it may be used. Every
// way of not getting a key set keeps its cause and is errKeySetUnavailable; a set
// had without a usable key is errKeySet.
func (k *keySet) fetch(ctx context.Context) ([]jsonWebKey, time.Duration, error) {
	req, err := providerRequest(ctx, http.MethodGet, k.uri, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s: %w: %w", k.name, errKeySetUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s: %w: %w", k.name, errKeySetUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch %s: %w: status %d", k.name, errKeySetUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSetSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s: %w: %w", k.name, errKeySetUnavailable, err)
	}
	if len(body) > maxJWKSetSize {
		return nil, 0, fmt.Errorf("fetch %s: %w: larger than %d bytes", k.name, errKeySetUnavailable, maxJWKSetSize)
	}
	keys, err := k.parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s: %w", k.name, err)
	}
	return keys, documentAge(resp.Header), nil
}
