package ags

import (
	"errors"
	"strings"
	"testing"
)

// jwtB64 encodes s as a JWS part.
func jwtB64(s string) string { return jwsEncoding.EncodeToString([]byte(s)) }

func TestParseJWS(t *testing.T) {
	header := jwtB64(`{"alg":"RS256","kid":"k1","typ":"JWT"}`)
	payload := jwtB64(`{"sub":"x"}`)
	sig := jwtB64("signature-bytes")
	valid := header + "." + payload + "." + sig
	tests := []struct {
		name    string
		token   string
		wantErr error // nil: parses
		wantAlg string
		wantKid string
	}{
		{name: "compact JWS", token: valid, wantAlg: "RS256", wantKid: "k1"},
		{name: "empty payload", token: header + ".." + sig, wantAlg: "RS256", wantKid: "k1"},
		{name: "empty signature", token: header + "." + payload + ".", wantAlg: "RS256", wantKid: "k1"},
		{name: "no kid", token: jwtB64(`{"alg":"ES256"}`) + "." + payload + "." + sig, wantAlg: "ES256"},
		{name: "whitespace inside the header JSON", token: jwtB64("{ \"alg\" :\n\t\"HS256\" }") + "." + payload + "." + sig, wantAlg: "HS256"},
		{name: "unknown header parameters ignored", token: jwtB64(`{"alg":"RS256","x5t":"abc","jku":"https://evil.test/keys"}`) + "." + payload + "." + sig, wantAlg: "RS256"},
		{name: "empty string", token: "", wantErr: errMalformedToken},
		{name: "one part", token: header, wantErr: errMalformedToken},
		{name: "two parts", token: header + "." + payload, wantErr: errMalformedToken},
		{name: "four parts", token: valid + "." + sig, wantErr: errMalformedToken},
		{name: "five parts (JWE)", token: header + "..." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "extra trailing dot", token: valid + ".", wantErr: errMalformedToken},
		{name: "empty header", token: "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "padding in the header", token: jwtB64(`{"alg":"RS256"}`) + "=." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "padding in the signature", token: header + "." + payload + "." + jwtB64("sig") + "=", wantErr: errMalformedToken},
		{name: "padded base64url", token: header + "." + payload + "." + jwtB64("si") + "==", wantErr: errMalformedToken},
		{name: "standard base64 alphabet", token: header + "." + payload + ".ab+/", wantErr: errMalformedToken},
		{name: "space in the signature", token: header + "." + payload + ". " + sig, wantErr: errMalformedToken},
		{name: "space at the end", token: valid + " ", wantErr: errMalformedToken},
		{name: "newline in the payload", token: header + "." + payload[:4] + "\n" + payload[4:] + "." + sig, wantErr: errMalformedToken},
		{name: "carriage return in the header", token: header[:4] + "\r" + header[4:] + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "non-zero trailing bits", token: header + ".AB." + sig, wantErr: errMalformedToken},
		{name: "invalid character", token: header + "." + payload + "." + sig + "?", wantErr: errMalformedToken},
		{name: "header not JSON", token: jwtB64("alg=RS256") + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "header a JSON array", token: jwtB64(`["RS256"]`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "header JSON null", token: jwtB64(`null`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "header with trailing garbage", token: jwtB64(`{"alg":"RS256"}x`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "alg missing", token: jwtB64(`{"kid":"k1"}`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "alg empty", token: jwtB64(`{"alg":""}`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "alg a number", token: jwtB64(`{"alg":256}`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "kid a number", token: jwtB64(`{"alg":"RS256","kid":1}`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "typ an object", token: jwtB64(`{"alg":"RS256","typ":{}}`) + "." + payload + "." + sig, wantErr: errMalformedToken},
		{name: "crit with an unknown entry", token: jwtB64(`{"alg":"RS256","crit":["http://example.test/ext"],"http://example.test/ext":true}`) + "." + payload + "." + sig, wantErr: errUnsupportedCrit},
		{name: "crit b64", token: jwtB64(`{"alg":"RS256","b64":false,"crit":["b64"]}`) + "." + payload + "." + sig, wantErr: errUnsupportedCrit},
		{name: "crit empty", token: jwtB64(`{"alg":"RS256","crit":[]}`) + "." + payload + "." + sig, wantErr: errUnsupportedCrit},
		{name: "JSON serialization", token: `{"payload":"` + payload + `","protected":"` + header + `","signature":"` + sig + `"}`, wantErr: errMalformedToken},
		{name: "flattened JSON serialization with dots", token: `{"payload":"a.b","signature":"c"}`, wantErr: errMalformedToken},
		{name: "too long", token: header + "." + strings.Repeat("A", maxJWSSize) + "." + sig, wantErr: errMalformedToken},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJWS(tc.token)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("got a token with the error, want nil")
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if got.header.Alg != tc.wantAlg || got.header.Kid != tc.wantKid {
				t.Errorf("got alg %q kid %q, want %q %q", got.header.Alg, got.header.Kid, tc.wantAlg, tc.wantKid)
			}
			if want := tc.token[:strings.LastIndexByte(tc.token, '.')]; string(got.signed) != want {
				t.Errorf("got signing input %q, want %q", got.signed, want)
			}
		})
	}
}

// TestVerifyJWSSignatureRejects checks the per-algorithm guards that hold whatever the
// key set says: wrong key types, wrong curves, wrong sizes, and no HMAC from a key.
func TestVerifyJWSSignatureRejects(t *testing.T) {
	f := jwtNewFixture(t)
	signed := []byte("header.payload")
	rsaSig := f.rsa.signature(t, signed)
	esSig := f.es256.signature(t, signed)
	tests := []struct {
		name    string
		alg     string
		key     interface{}
		sig     []byte
		wantErr error
	}{
		{name: "RS256 accepted", alg: "RS256", key: f.rsa.key.Public(), sig: rsaSig},
		{name: "ES256 accepted", alg: "ES256", key: f.es256.key.Public(), sig: esSig},
		{name: "HS256 with a key from the set", alg: "HS256", key: f.rsa.key.Public(), sig: rsaSig, wantErr: errAlgorithmNotAllowed},
		{name: "none", alg: "none", key: f.rsa.key.Public(), sig: nil, wantErr: errAlgorithmNotAllowed},
		{name: "RS256 with an EC key", alg: "RS256", key: f.es256.key.Public(), sig: rsaSig, wantErr: errAlgorithmNotAllowed},
		{name: "ES384 with a P-256 key", alg: "ES384", key: f.es256.key.Public(), sig: esSig, wantErr: errAlgorithmNotAllowed},
		{name: "EdDSA with an RSA key", alg: "EdDSA", key: f.rsa.key.Public(), sig: rsaSig, wantErr: errAlgorithmNotAllowed},
		{name: "RS256 signature with a zero byte prepended", alg: "RS256", key: f.rsa.key.Public(), sig: append([]byte{0}, rsaSig...), wantErr: errSignature},
		{name: "RS256 signature with the leading byte cut", alg: "RS256", key: f.rsa.key.Public(), sig: rsaSig[1:], wantErr: errSignature},
		{name: "PS256 checked as RS256", alg: "PS256", key: f.rsa.key.Public(), sig: rsaSig, wantErr: errSignature},
		{name: "ES256 signature one byte short", alg: "ES256", key: f.es256.key.Public(), sig: esSig[:63], wantErr: errSignature},
		{name: "ES256 signature with a zero byte appended", alg: "ES256", key: f.es256.key.Public(), sig: append(append([]byte{}, esSig...), 0), wantErr: errSignature},
		{name: "ES256 r and s of zero", alg: "ES256", key: f.es256.key.Public(), sig: make([]byte, 64), wantErr: errSignature},
		{name: "EdDSA signature of 63 bytes", alg: "EdDSA", key: f.ed.key.Public(), sig: make([]byte, 63), wantErr: errSignature},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			err := verifyJWSSignature(tc.alg, tc.key, signed, tc.sig)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyJWSMAC(t *testing.T) {
	signed := []byte("header.payload")
	key := strings.Repeat("k", 64)
	tests := []struct {
		name    string
		alg     string
		secret  string
		sig     func() []byte
		wantErr error
	}{
		{name: "HS256", alg: "HS256", secret: key, sig: func() []byte {
			return (&jwtSigner{alg: "HS256", secret: []byte(key)}).signature(t, signed)
		}},
		{name: "HS512", alg: "HS512", secret: key, sig: func() []byte {
			return (&jwtSigner{alg: "HS512", secret: []byte(key)}).signature(t, signed)
		}},
		{name: "HS256 MAC checked as HS384", alg: "HS384", secret: key, sig: func() []byte {
			return (&jwtSigner{alg: "HS256", secret: []byte(key)}).signature(t, signed)
		}, wantErr: errSignature},
		{name: "truncated MAC", alg: "HS256", secret: key, sig: func() []byte {
			return (&jwtSigner{alg: "HS256", secret: []byte(key)}).signature(t, signed)[:16]
		}, wantErr: errSignature},
		{name: "secret of 31 bytes for HS256", alg: "HS256", secret: key[:31], sig: func() []byte {
			return (&jwtSigner{alg: "HS256", secret: []byte(key[:31])}).signature(t, signed)
		}, wantErr: errAlgorithmNotAllowed},
		{name: "secret of 63 bytes for HS512", alg: "HS512", secret: key[:63], sig: func() []byte {
			return (&jwtSigner{alg: "HS512", secret: []byte(key[:63])}).signature(t, signed)
		}, wantErr: errAlgorithmNotAllowed},
		{name: "RS256 is no MAC", alg: "RS256", secret: key, sig: func() []byte { return nil }, wantErr: errAlgorithmNotAllowed},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			err := verifyJWSMAC(tc.alg, tc.secret, signed, tc.sig())
			if tc.wantErr == nil && err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseJWS: the parser never panics, and what it accepts is a strict compact JWS:
// three parts, each the one canonical encoding of what was decoded.
func FuzzParseJWS(f *testing.F) {
	f.Add(jwtB64(`{"alg":"RS256","kid":"k1"}`) + "." + jwtB64(`{"sub":"x"}`) + "." + jwtB64("sig"))
	f.Add(jwtB64(`{"alg":"none"}`) + "." + jwtB64(`{}`) + ".")
	f.Add(jwtB64(`{"alg":"RS256","crit":["b64"]}`) + ".." + jwtB64("s"))
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Fuzz(func(t *testing.T, token string) {
		got, err := parseJWS(token)
		if err != nil {
			if got != nil {
				t.Fatalf("got a token with error %v", err)
			}
			if !errors.Is(err, errMalformedToken) && !errors.Is(err, errUnsupportedCrit) {
				t.Fatalf("got error %v, want a parse error", err)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("got %d parts accepted, want 3", len(parts))
		}
		if got.header.Alg == "" || len(got.header.Crit) != 0 {
			t.Fatalf("got header %+v accepted", got.header)
		}
		if jwsEncoding.EncodeToString(got.payload) != parts[1] || jwsEncoding.EncodeToString(got.signature) != parts[2] {
			t.Fatalf("got a non-canonical encoding accepted: %q", token)
		}
		if string(got.signed) != parts[0]+"."+parts[1] {
			t.Fatalf("got signing input %q, want %q", got.signed, parts[0]+"."+parts[1])
		}
	})
}
