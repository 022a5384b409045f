package ags

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The Wycheproof vectors of testdata/wycheproof (see its README.md). A verifier passes
// when it accepts every valid case and rejects every invalid one; acceptable cases may go
// either way. The few cases where ags departs from the file are listed below, each with
// its reason, and the tests check that ags does what is said there.

type wycheproofSuite struct {
	NumberOfTests int               `json:"numberOfTests"`
	TestGroups    []wycheproofGroup `json:"testGroups"`
}

type wycheproofGroup struct {
	Comment      string           `json:"comment"`
	PublicKeyJwk json.RawMessage  `json:"publicKeyJwk"`
	KeyJwk       json.RawMessage  `json:"keyJwk"`
	PublicKey    json.RawMessage  `json:"publicKey"`
	Private      json.RawMessage  `json:"private"`
	Public       json.RawMessage  `json:"public"`
	Tests        []wycheproofCase `json:"tests"`
}

type wycheproofCase struct {
	TcID    int             `json:"tcId"`
	Comment string          `json:"comment"`
	Msg     string          `json:"msg"`
	Sig     string          `json:"sig"`
	JWS     json.RawMessage `json:"jws"`
	Result  string          `json:"result"`
}

// wycheproofDeparture is a case where ags does not do what the file says, on purpose.
type wycheproofDeparture struct {
	err    error // the error ags gives
	reason string
}

// wycheproofJWSRejectedOnPurpose: valid cases of json_web_signature_test.json that ags
// rejects. A key's alg must be the token's: tcIds 332-340 (invalid) need that rule, and
// no other rule accepts these four while rejecting those.
var wycheproofJWSRejectedOnPurpose = map[int]wycheproofDeparture{
	346: {errUnknownKey, "the key says alg PS256 and the token PS384"},
	350: {errUnknownKey, "the key says alg PS256 and the token PS384"},
	347: {errKeySet, `the key says alg "ES521", which is no JWS algorithm, and the token ES512`},
	351: {errKeySet, `the key says alg "ES521", which is no JWS algorithm, and the token ES512`},
	372: {errMalformedToken, "a '?' in the header is not base64url (the MAC is of the token without it)"},
	373: {errMalformedToken, "a '?' in the payload is not base64url (the MAC is of the token without it)"},
}

// wycheproofJWSIdentical: invalid cases that are byte for byte a valid case of the same
// group (the padding their comments speak of is not in the file), so no verifier can
// reject them and accept the valid one.
var wycheproofJWSIdentical = map[int]int{367: 357, 370: 357}

// wycheproofJWKRejectedOnPurpose: valid cases of json_web_key_test.json that ags rejects.
var wycheproofJWKRejectedOnPurpose = map[int]wycheproofDeparture{
	2: {errAlgorithmNotAllowed, "an HMAC key picked by kid from a set of HMAC keys: ags keys HMAC with its one client secret, never with a key from a key set"},
}

func wycheproofLoad(t *testing.T, name string) *wycheproofSuite {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var suite wycheproofSuite
	if err := json.Unmarshal(data, &suite); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	count := 0
	for _, g := range suite.TestGroups {
		count += len(g.Tests)
	}
	if count != suite.NumberOfTests {
		t.Fatalf("got %d cases in %s, want %d", count, name, suite.NumberOfTests)
	}
	return &suite
}

// wycheproofGroupJWK returns the group's public key as a JWK; the ECDSA groups that have
// none give the uncompressed point, which is turned into one.
func wycheproofGroupJWK(t *testing.T, g wycheproofGroup) []byte {
	t.Helper()
	if len(g.PublicKeyJwk) != 0 {
		return g.PublicKeyJwk
	}
	if len(g.KeyJwk) != 0 {
		return g.KeyJwk
	}
	var pub struct {
		Curve        string `json:"curve"`
		Uncompressed string `json:"uncompressed"`
	}
	if err := json.Unmarshal(g.PublicKey, &pub); err != nil {
		t.Fatalf("group without a key: %v", err)
	}
	crv := map[string]string{"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.Curve]
	point, err := hex.DecodeString(pub.Uncompressed)
	if err != nil || crv == "" || len(point)%2 != 1 || point[0] != 4 {
		t.Fatalf("group with an odd key %q", pub.Curve)
	}
	size := len(point) / 2
	return []byte(jwtJSON(t, map[string]string{"kty": "EC", "crv": crv,
		"x": jwsEncoding.EncodeToString(point[1 : 1+size]), "y": jwsEncoding.EncodeToString(point[1+size:])}))
}

// wycheproofTally counts the outcomes of one file.
type wycheproofTally struct {
	valid, invalid, acceptableIn, acceptableOut int
}

func TestWycheproofSignatures(t *testing.T) {
	files := []struct {
		name string
		alg  string
	}{
		{"rsa_signature_2048_sha256_test.json", "RS256"},
		{"rsa_signature_3072_sha384_test.json", "RS384"},
		{"rsa_signature_4096_sha512_test.json", "RS512"},
		{"rsa_pss_2048_sha256_mgf1_32_test.json", "PS256"},
		{"rsa_pss_2048_sha384_mgf1_48_test.json", "PS384"},
		{"rsa_pss_4096_sha512_mgf1_64_test.json", "PS512"},
		{"ecdsa_secp256r1_sha256_p1363_test.json", "ES256"},
		{"ecdsa_secp384r1_sha384_p1363_test.json", "ES384"},
		{"ecdsa_secp521r1_sha512_p1363_test.json", "ES512"},
		{"ed25519_test.json", "EdDSA"},
	}
	for _, file := range files {
		file := file
		t.Run(file.alg, func(t *testing.T) {
			suite := wycheproofLoad(t, file.name)
			var tally wycheproofTally
			for _, g := range suite.TestGroups {
				jwk, err := parseJWK(wycheproofGroupJWK(t, g))
				var key interface{}
				if err == nil && jwk.key != nil {
					key, err = selectJWK([]jsonWebKey{jwk}, "", file.alg)
				}
				for _, c := range g.Tests {
					accepted := false
					if key != nil {
						msg, errMsg := hex.DecodeString(c.Msg)
						sig, errSig := hex.DecodeString(c.Sig)
						if errMsg != nil || errSig != nil {
							t.Fatalf("tcId %d: bad hex", c.TcID)
						}
						accepted = verifyJWSSignature(file.alg, key, msg, sig) == nil
					}
					wycheproofCheck(t, file.name, c, accepted, err, &tally)
				}
			}
			t.Logf("%s: %d valid accepted, %d invalid rejected, acceptable %d accepted %d rejected",
				file.name, tally.valid, tally.invalid, tally.acceptableIn, tally.acceptableOut)
		})
	}
}

// wycheproofCheck compares one outcome with the file's result.
func wycheproofCheck(t *testing.T, file string, c wycheproofCase, accepted bool, keyErr error, tally *wycheproofTally) {
	t.Helper()
	switch c.Result {
	case "valid":
		if !accepted {
			t.Errorf("%s tcId %d (%s): got rejected (key: %v), want accepted", file, c.TcID, c.Comment, keyErr)
			return
		}
		tally.valid++
	case "invalid":
		if accepted {
			t.Errorf("%s tcId %d (%s): got accepted, want rejected", file, c.TcID, c.Comment)
			return
		}
		tally.invalid++
	case "acceptable":
		if accepted {
			tally.acceptableIn++
		} else {
			tally.acceptableOut++
		}
	default:
		t.Errorf("%s tcId %d: got result %q, want valid, invalid or acceptable", file, c.TcID, c.Result)
	}
}

// wycheproofDocServer serves one JWK Set document per path.
type wycheproofDocServer struct {
	docs map[string][]byte
}

func (s *wycheproofDocServer) serve(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.docs[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(doc)
}

// wycheproofCompact returns the case's JWS as a string: the compact form as it is, the
// JSON serialization as its JSON text.
func wycheproofCompact(c wycheproofCase) string {
	var s string
	if err := json.Unmarshal(c.JWS, &s); err == nil {
		return s
	}
	return string(c.JWS)
}

// wycheproofVerifier returns a verifier that allows every algorithm, with the given key
// set document (none when nil) and client secret.
func wycheproofVerifier(server *httptest.Server, path string, hasKeys bool, secret string) *jwtVerifier {
	now := func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }
	v := &jwtVerifier{algorithms: jwtAllAlgorithms, hmacSecret: secret, now: now}
	if hasKeys {
		v.keys = newKeySet(server.URL+path, server.Client(), now)
	}
	return v
}

// wycheproofVerifyJWS runs the signature half of verify: the payloads are not ID tokens.
func wycheproofVerifyJWS(v *jwtVerifier, token string) error {
	parsed, err := parseJWS(token)
	if err != nil {
		return err
	}
	return v.verifySignature(context.Background(), parsed)
}

// wycheproofSecret returns the HMAC key of an oct JWK with an HS algorithm, as a client
// secret; "" for any other key.
func wycheproofSecret(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var k struct {
		Kty string `json:"kty"`
		Alg string `json:"alg"`
		K   string `json:"k"`
	}
	if err := json.Unmarshal(raw, &k); err != nil || k.Kty != "oct" || !isHMACAlgorithm(k.Alg) {
		return ""
	}
	secret, err := jwsEncoding.DecodeString(k.K)
	if err != nil {
		t.Fatalf("bad oct key: %v", err)
	}
	return string(secret)
}

// TestWycheproofJWS runs json_web_signature_test.json as the Wycheproof harness does: the
// group's public key when it has one, served as the provider's key set; else its secret
// key, which for ags can only be the client secret.
func TestWycheproofJWS(t *testing.T) {
	const name = "json_web_signature_test.json"
	suite := wycheproofLoad(t, name)
	docs := &wycheproofDocServer{docs: map[string][]byte{}}
	byID := map[int]string{}
	for i, g := range suite.TestGroups {
		if len(g.Public) != 0 {
			docs.docs["/"+jwtJSON(t, i)] = []byte(`{"keys":[` + string(g.Public) + `]}`)
		}
		for _, c := range g.Tests {
			byID[c.TcID] = wycheproofCompact(c)
		}
	}
	server := httptest.NewServer(http.HandlerFunc(docs.serve))
	defer server.Close()

	var tally wycheproofTally
	onPurpose, identical := 0, 0
	for i, g := range suite.TestGroups {
		path := "/" + jwtJSON(t, i)
		secret := ""
		if len(g.Public) == 0 {
			secret = wycheproofSecret(t, g.Private)
		}
		v := wycheproofVerifier(server, path, len(g.Public) != 0, secret)
		for _, c := range g.Tests {
			token := wycheproofCompact(c)
			err := wycheproofVerifyJWS(v, token)
			if d, ok := wycheproofJWSRejectedOnPurpose[c.TcID]; ok {
				if c.Result != "valid" || !errors.Is(err, d.err) {
					t.Errorf("tcId %d: got result %q and error %v, want a valid case rejected with %q (%s)", c.TcID, c.Result, err, d.err, d.reason)
				}
				onPurpose++
				continue
			}
			if twin, ok := wycheproofJWSIdentical[c.TcID]; ok {
				if token != byID[twin] || err != nil {
					t.Errorf("tcId %d: got error %v, want it identical to tcId %d and accepted", c.TcID, err, twin)
				}
				identical++
				continue
			}
			wycheproofCheck(t, name, c, err == nil, err, &tally)
		}
	}
	if onPurpose != len(wycheproofJWSRejectedOnPurpose) || identical != len(wycheproofJWSIdentical) {
		t.Errorf("got %d and %d listed cases, want %d and %d", onPurpose, identical, len(wycheproofJWSRejectedOnPurpose), len(wycheproofJWSIdentical))
	}
	t.Logf("%s: %d valid accepted, %d invalid rejected, %d valid rejected on purpose, %d invalid identical to a valid case",
		name, tally.valid, tally.invalid, onPurpose, identical)
}

// TestWycheproofJWK runs json_web_key_test.json: the group's key set is served as the
// provider's; a set of exactly one HMAC key stands for a deployment whose client secret
// it is.
func TestWycheproofJWK(t *testing.T) {
	const name = "json_web_key_test.json"
	suite := wycheproofLoad(t, name)
	docs := &wycheproofDocServer{docs: map[string][]byte{}}
	sets := make([]json.RawMessage, len(suite.TestGroups))
	for i, g := range suite.TestGroups {
		sets[i] = g.Private
		if len(g.Public) != 0 {
			sets[i] = g.Public
		}
		docs.docs["/"+jwtJSON(t, i)] = sets[i]
	}
	server := httptest.NewServer(http.HandlerFunc(docs.serve))
	defer server.Close()

	var tally wycheproofTally
	onPurpose := 0
	for i, g := range suite.TestGroups {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(sets[i], &set); err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		secret := ""
		if len(set.Keys) == 1 {
			secret = wycheproofSecret(t, set.Keys[0])
		}
		v := wycheproofVerifier(server, "/"+jwtJSON(t, i), true, secret)
		for _, c := range g.Tests {
			err := wycheproofVerifyJWS(v, wycheproofCompact(c))
			if d, ok := wycheproofJWKRejectedOnPurpose[c.TcID]; ok {
				if c.Result != "valid" || !errors.Is(err, d.err) {
					t.Errorf("tcId %d: got result %q and error %v, want a valid case rejected with %q (%s)", c.TcID, c.Result, err, d.err, d.reason)
				}
				onPurpose++
				continue
			}
			wycheproofCheck(t, name, c, err == nil, err, &tally)
		}
	}
	if onPurpose != len(wycheproofJWKRejectedOnPurpose) {
		t.Errorf("got %d listed cases, want %d", onPurpose, len(wycheproofJWKRejectedOnPurpose))
	}
	t.Logf("%s: %d valid accepted, %d invalid rejected, %d valid rejected on purpose",
		name, tally.valid, tally.invalid, onPurpose)
}
