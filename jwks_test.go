package ags

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwtJWKWith returns a copy of a JWK with the changes applied; a nil value deletes.
func jwtJWKWith(jwk map[string]interface{}, changes map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range jwk {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestParseJWKSet(t *testing.T) {
	f := jwtNewFixture(t)
	rsaJWK := f.rsa.jwk(t, true)
	ecJWK := f.es256.jwk(t, true)
	ec384JWK := f.es384.jwk(t, false)
	ec521JWK := f.es512.jwk(t, true)
	edJWK := f.ed.jwk(t, true)
	small := (&jwtSigner{alg: "RS256", kid: "small", key: jwtLoadKey(t, "rsa1024.pem")}).jwk(t, true)
	// A P-256 point moved off the curve: y + 1.
	offCurve := jwtJWKWith(ecJWK, nil)
	y, _ := jwsEncoding.DecodeString(ecJWK["y"].(string))
	y[len(y)-1] ^= 1
	offCurve["y"] = jwsEncoding.EncodeToString(y)
	// The same P-256 coordinates with a leading zero byte each.
	x, _ := jwsEncoding.DecodeString(ecJWK["x"].(string))
	y, _ = jwsEncoding.DecodeString(ecJWK["y"].(string))
	padded := jwtJWKWith(ecJWK, map[string]interface{}{
		"x": jwsEncoding.EncodeToString(append([]byte{0}, x...)),
		"y": jwsEncoding.EncodeToString(append([]byte{0}, y...)),
	})

	tests := []struct {
		name     string
		doc      string
		wantKids string // kids of the usable keys, comma separated; "" with wantErr
		wantErr  bool
		// unavailable: the document is no key set at all (errKeySetUnavailable)
		unavailable bool
	}{
		{name: "RSA", doc: string(jwtKeySetDoc(t, rsaJWK)), wantKids: "rsa-a"},
		{name: "every key type", doc: string(jwtKeySetDoc(t, rsaJWK, ecJWK, ec384JWK, ec521JWK, edJWK)), wantKids: "rsa-a,ec-256,ec-384,ec-521,ed-1"},
		{name: "no use and no alg", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"use": nil, "alg": nil}))), wantKids: "rsa-a"},
		{name: "unknown types skipped", doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},{"kty":"XYZ","kid":"odd"},{"kty":"OKP","crv":"X25519","x":"AAAA","kid":"x"},` + jwtJSON(t, ecJWK) + `]}`, wantKids: "ec-256"},
		{name: "encryption keys skipped", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"use": "enc", "kid": "enc"}), ecJWK)), wantKids: "ec-256"},
		{name: "key_ops without verify skipped", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"key_ops": []string{"encrypt"}}), edJWK)), wantKids: "ed-1"},
		{name: "key_ops with verify", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"key_ops": []string{"verify"}}))), wantKids: "rsa-a"},
		{name: "malformed key skipped", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"n": "!!"}), edJWK)), wantKids: "ed-1"},
		{name: "key with a wrongly typed member skipped", doc: `{"keys":[{"kty":"RSA","kid":5},` + jwtJSON(t, edJWK) + `]}`, wantKids: "ed-1"},
		{name: "only encryption keys", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"use": "enc"}))), wantErr: true},
		{name: "only an HMAC key", doc: `{"keys":[{"kty":"oct","alg":"HS256","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`, wantErr: true},
		{name: "RSA of 1024 bits", doc: string(jwtKeySetDoc(t, small)), wantErr: true},
		{name: "RSA exponent 1", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"e": "AQ"}))), wantErr: true},
		{name: "RSA exponent even", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"e": "AQAA"}))), wantErr: true},
		{name: "RSA exponent too large", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"e": "AQAAAAE"}))), wantErr: true},
		{name: "RSA modulus padded base64", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"e": "AQAB="}))), wantErr: true},
		{name: "RSA without n", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"n": nil}))), wantErr: true},
		{name: "EC point off the curve", doc: string(jwtKeySetDoc(t, offCurve)), wantErr: true},
		{name: "EC coordinates with a leading zero", doc: string(jwtKeySetDoc(t, padded)), wantErr: true},
		{name: "EC curve unknown", doc: string(jwtKeySetDoc(t, jwtJWKWith(ecJWK, map[string]interface{}{"crv": "secp256k1"}))), wantErr: true},
		{name: "EC P-256 point named P-384", doc: string(jwtKeySetDoc(t, jwtJWKWith(ecJWK, map[string]interface{}{"crv": "P-384", "alg": nil}))), wantErr: true},
		{name: "EC without y", doc: string(jwtKeySetDoc(t, jwtJWKWith(ecJWK, map[string]interface{}{"y": nil}))), wantErr: true},
		{name: "alg ES384 on a P-256 key", doc: string(jwtKeySetDoc(t, jwtJWKWith(ecJWK, map[string]interface{}{"alg": "ES384"}))), wantErr: true},
		{name: "alg HS256 on an RSA key", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"alg": "HS256"}))), wantErr: true},
		{name: "alg RSA-OAEP on an RSA key", doc: string(jwtKeySetDoc(t, jwtJWKWith(rsaJWK, map[string]interface{}{"alg": "RSA-OAEP"}))), wantErr: true},
		{name: "Ed25519 key of 31 bytes", doc: string(jwtKeySetDoc(t, jwtJWKWith(edJWK, map[string]interface{}{"x": jwsEncoding.EncodeToString(make([]byte, 31))}))), wantErr: true},
		{name: "empty set", doc: `{"keys":[]}`, wantErr: true},
		{name: "no keys member", doc: `{"kty":"RSA"}`, wantErr: true},
		{name: "keys not an array", doc: `{"keys":{}}`, wantErr: true, unavailable: true},
		{name: "not JSON", doc: `<html>`, wantErr: true, unavailable: true},
		{name: "JSON array", doc: `[]`, wantErr: true, unavailable: true},
		{name: "empty document", doc: ``, wantErr: true, unavailable: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKSet([]byte(tc.doc))
			if tc.wantErr {
				// A document that is no key set is the provider's outage (503); a
				// key set without a usable key fails the token (401).
				want, not := errKeySet, errKeySetUnavailable
				if tc.unavailable {
					want, not = errKeySetUnavailable, errKeySet
				}
				if !errors.Is(err, want) || errors.Is(err, not) {
					t.Fatalf("got %d keys, error %v, want %q only", len(keys), err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
				switch k.key.(type) {
				case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
				default:
					t.Errorf("got key type %T, want a public key", k.key)
				}
			}
			if got := strings.Join(kids, ","); got != tc.wantKids {
				t.Errorf("got kids %q, want %q", got, tc.wantKids)
			}
		})
	}
}

func jwtJSON(t testing.TB, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func TestKeySetCachesKeys(t *testing.T) {
	f := jwtNewFixture(t)
	for i := 0; i < 3; i++ {
		if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if _, err := f.verify(f.es256.sign(t, nil, f.claims())); err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
	}
	if got := f.server.count(); got != 1 {
		t.Errorf("got %d fetches, want 1", got)
	}
}

// TestKeySetRefetchRateLimit: an unknown kid fetches again at most once every 10 seconds
// of the injected clock.
func TestKeySetRefetchRateLimit(t *testing.T) {
	f := jwtNewFixture(t)
	unknown := (&jwtSigner{alg: "RS256", kid: "rsa-b", key: f.rsaB.key}).sign(t, nil, f.claims())
	steps := []struct {
		advance     time.Duration
		wantFetches int
	}{
		{0, 1},                // first use: the fetch, and too soon for another
		{9 * time.Second, 1},  // still too soon
		{time.Second, 2},      // 10 s after the first fetch
		{5 * time.Second, 2},  // too soon after the second
		{5 * time.Second, 3},  // 10 s after the second
		{time.Millisecond, 3}, // too soon after the third
		{30 * time.Second, 4}, // long after
		{9999 * time.Hour, 5}, // much later
		{-10 * time.Hour, 6},  // a clock that went back cannot measure the interval: fetch
		{5 * time.Second, 6},  // too soon after that
		{jwksRefetchInterval, 7},
	}
	for i, step := range steps {
		f.clock.advance(step.advance)
		_, err := f.verify(unknown)
		if !errors.Is(err, errUnknownKey) {
			t.Fatalf("step %d: got error %v, want %q", i, err, errUnknownKey)
		}
		if got := f.server.count(); got != step.wantFetches {
			t.Fatalf("step %d: got %d fetches, want %d", i, got, step.wantFetches)
		}
	}
}

func TestKeySetFailedFetchKeepsKeys(t *testing.T) {
	f := jwtNewFixture(t)
	if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
		t.Fatalf("verify: %v", err)
	}
	f.server.set([]byte(`{"keys":[]}`), http.StatusInternalServerError)
	f.clock.advance(time.Minute)
	unknown := (&jwtSigner{alg: "RS256", kid: "rsa-b", key: f.rsaB.key}).sign(t, nil, f.claims())
	if _, err := f.verify(unknown); !errors.Is(err, errUnknownKey) {
		t.Fatalf("got error %v, want %q", err, errUnknownKey)
	}
	f.server.set([]byte(`{"keys":[]}`), http.StatusOK)
	f.clock.advance(time.Minute)
	if _, err := f.verify(unknown); !errors.Is(err, errUnknownKey) {
		t.Fatalf("got error %v, want %q", err, errUnknownKey)
	}
	if got := f.server.count(); got != 3 {
		t.Errorf("got %d fetches, want 3", got)
	}
	if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
		t.Errorf("got error %q after failed fetches, want the old key kept", err)
	}
}

func TestKeySetFetchErrors(t *testing.T) {
	f := jwtNewFixture(t)
	valid := jwtKeySetDoc(t, f.rsa.jwk(t, true))
	// A valid document padded with spaces to just over the limit: a truncated read would
	// parse, so this shows the limit is an error.
	oversized := append(append([]byte{}, valid...), []byte(strings.Repeat(" ", maxJWKSetSize+1-len(valid)))...)
	atLimit := oversized[:maxJWKSetSize]
	tests := []struct {
		name    string
		doc     []byte
		status  int
		wantErr error
	}{
		{name: "document at the size limit", doc: atLimit, status: http.StatusOK},
		{name: "document over the size limit", doc: oversized, status: http.StatusOK, wantErr: errKeySetUnavailable},
		{name: "status 404", doc: valid, status: http.StatusNotFound, wantErr: errKeySetUnavailable},
		{name: "status 500", doc: valid, status: http.StatusInternalServerError, wantErr: errKeySetUnavailable},
		{name: "status 204", doc: nil, status: http.StatusNoContent, wantErr: errKeySetUnavailable},
		{name: "HTML", doc: []byte("<html>sign in</html>"), status: http.StatusOK, wantErr: errKeySetUnavailable},
		{name: "no usable key", doc: []byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`), status: http.StatusOK, wantErr: errKeySet},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := jwtNewFixture(t)
			f.server.set(tc.doc, tc.status)
			_, err := f.verify(f.rsa.sign(t, nil, f.claims()))
			if tc.wantErr == nil && err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestKeySetFetchTimeout(t *testing.T) {
	f := jwtNewFixture(t)
	release := make(chan struct{})
	defer close(release)
	f.server.mu.Lock()
	f.server.release = release
	f.server.mu.Unlock()
	f.verifier.keys = newKeySet(f.server.url(), &http.Client{Timeout: 100 * time.Millisecond}, f.clock.now)
	start := time.Now()
	_, err := f.verify(f.rsa.sign(t, nil, f.claims()))
	if !errors.Is(err, errKeySetUnavailable) {
		t.Fatalf("got error %v, want %q", err, errKeySetUnavailable)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("got a fetch of %s, want the client's timeout", elapsed)
	}
}

func TestKeySetUnreachable(t *testing.T) {
	f := jwtNewFixture(t)
	f.server.server.Close()
	if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); !errors.Is(err, errKeySetUnavailable) {
		t.Fatalf("got error %v, want %q", err, errKeySetUnavailable)
	}
	// Too soon to try again: the error of the failed fetch comes back, with no new fetch.
	if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); !errors.Is(err, errKeySetUnavailable) {
		t.Fatalf("got error %v, want %q", err, errKeySetUnavailable)
	}
}

// TestKeySetSingleFlight: 100 concurrent verifications of a token whose kid is new cause
// exactly one fetch, and every one of them gets the key it brought.
func TestKeySetSingleFlight(t *testing.T) {
	f := jwtNewFixture(t)
	if _, err := f.verify(f.rsa.sign(t, nil, f.claims())); err != nil {
		t.Fatalf("verify: %v", err)
	}
	f.clock.advance(time.Minute)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f.server.mu.Lock()
	f.server.doc = jwtKeySetDoc(t, f.rsa.jwk(t, true), f.rsaB.jwk(t, true))
	f.server.entered = entered
	f.server.release = release
	f.server.mu.Unlock()
	token := f.rsaB.sign(t, nil, f.claims())

	const n = 100
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go jwtVerifyInto(f, token, errs, &wg)
	}
	// Hold the fetch until the others have had time to pile up behind it.
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch started")
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				t.Errorf("got error %q, want none", err)
			}
		}
	}
	if failed != 0 {
		t.Errorf("got %d of %d verifications failed, want 0", failed, n)
	}
	if got := f.server.count(); got != 2 {
		t.Errorf("got %d fetches in all, want 2 (the first use and one refetch)", got)
	}
}

func jwtVerifyInto(f *jwtFixture, token string, errs chan<- error, wg *sync.WaitGroup) {
	defer wg.Done()
	_, err := f.verify(token)
	errs <- err
}

// TestKeySetWaiterCancelled: a request that gives up while waiting for the fetch returns
// its context's error, and the fetch still completes for the others.
func TestKeySetWaiterCancelled(t *testing.T) {
	f := jwtNewFixture(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f.server.mu.Lock()
	f.server.entered = entered
	f.server.release = release
	f.server.mu.Unlock()
	first := make(chan error, 1)
	go jwtKeyForInto(f.verifier.keys, context.Background(), first)
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.verifier.keys.keyFor(ctx, "rsa-a", "RS256"); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want %q", err, context.Canceled)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("got error %q for the fetching request, want none", err)
	}
}

func jwtKeyForInto(k keySource, ctx context.Context, out chan<- error) {
	_, err := k.keyFor(ctx, "rsa-a", "RS256")
	out <- err
}

// TestKeySetFetcherCancelled: the request that runs the fetch may be cancelled without
// failing the fetch for everyone else.
func TestKeySetFetcherCancelled(t *testing.T) {
	f := jwtNewFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.verifier.keys.keyFor(ctx, "rsa-a", "RS256"); err != nil {
		t.Fatalf("got error %q, want the shared fetch to go on", err)
	}
}

// FuzzParseJWKSet: the parser never panics, and every key it returns is usable.
func FuzzParseJWKSet(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw","kid":"e"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"fU0Of2FTpptiQrUiq77mhf2kQg-INLEIw72uNp71Sfo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","use":"sig","key_ops":["verify"]}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKSet(data)
		if err != nil {
			if !errors.Is(err, errKeySet) || keys != nil {
				t.Fatalf("got %d keys and error %v", len(keys), err)
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("got no keys and no error")
		}
		for _, k := range keys {
			switch key := k.key.(type) {
			case *rsa.PublicKey:
				if key.N.BitLen() < minRSAKeyBits || key.E < 3 || key.E%2 == 0 {
					t.Fatalf("got a weak RSA key: %d bits, e %d", key.N.BitLen(), key.E)
				}
			case *ecdsa.PublicKey:
				if !key.Curve.IsOnCurve(key.X, key.Y) {
					t.Fatal("got an EC point off the curve")
				}
			case ed25519.PublicKey:
				if len(key) != ed25519.PublicKeySize {
					t.Fatalf("got an Ed25519 key of %d bytes", len(key))
				}
			default:
				t.Fatalf("got key type %T", k.key)
			}
			if k.alg != "" && !keyFitsAlgorithm(k.key, k.alg) {
				t.Fatalf("got a key whose alg %q does not fit it", k.alg)
			}
		}
	})
}
