package harness

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A relying party's checks of what the One Login provider issues, as One Login's
// documentation lists them, each named so that a test can say which failed.

// idTokenWant is what a relying party checks an ID token against (One Login's
// "Validate your ID token").
type idTokenWant struct {
	alg, issuer, clientID, nonce, vot, accessToken string
	keys                                           jose.JSONWebKeySet
}

// idTokenProblems returns the names of what is wrong with raw: alg, signature (checked
// when alg is ES256 or RS256, with the JWKS key of its kid and alg), iss, aud, exp,
// iat, nonce, vot, and the claims One Login always sends (sub, vtm, sid, auth_time,
// at_hash).
func idTokenProblems(raw string, want idTokenWant) []string {
	var problems []string
	header, claims, err := decodeJWT(raw)
	if err != nil {
		return []string{"malformed"}
	}
	alg, _ := header["alg"].(string)
	if alg != want.alg {
		problems = append(problems, "alg")
	}
	if alg == "ES256" || alg == "RS256" {
		kid, _ := header["kid"].(string)
		keys := want.keys.Key(kid)
		ok := len(keys) == 1 && keys[0].Algorithm == alg
		if ok {
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			ok = err == nil
			if ok {
				_, err = jws.Verify(keys[0])
				ok = err == nil
			}
		}
		if !ok {
			problems = append(problems, "signature")
		}
	}
	now := time.Now()
	str := func(name string) string { s, _ := claims[name].(string); return s }
	exp, _ := numberClaim(claims, "exp")
	iat, hasIat := numberClaim(claims, "iat")
	_, hasAuthTime := numberClaim(claims, "auth_time")
	sum := sha256.Sum256([]byte(want.accessToken))
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"iss", str("iss") == want.issuer},
		{"aud", str("aud") == want.clientID},
		{"exp", time.Unix(exp, 0).After(now)},
		{"iat", hasIat && !time.Unix(iat, 0).After(now.Add(clockLeeway))},
		{"nonce", str("nonce") == want.nonce},
		{"vot", str("vot") == want.vot},
		{"sub", strings.HasPrefix(str("sub"), "urn:fdc:gov.uk:2022:")},
		{"vtm", str("vtm") == want.issuer+"trustmark"},
		{"sid", str("sid") != ""},
		{"auth_time", hasAuthTime},
		{"at_hash", str("at_hash") == base64.RawURLEncoding.EncodeToString(sum[:16])},
	} {
		if !c.ok {
			problems = append(problems, c.name)
		}
	}
	return problems
}

// coreIdentityWant is what a relying party checks a core identity JWT against (One
// Login's "Validate your user's identity credential").
type coreIdentityWant struct {
	issuer, clientID, sub, level string
	doc                          map[string]any
}

// coreIdentityProblems returns the names of what is wrong with raw: alg (ES256),
// "kid DID" (the kid's DID is not the document's id), kid (its key is not in the
// document), controller (the key's controller is not the document's id), signature
// (checked for ES256 with the key found), iss, aud, sub, exp, nbf, vot, and the
// credential's shape (vc).
func coreIdentityProblems(raw string, want coreIdentityWant) []string {
	var problems []string
	header, claims, err := decodeJWT(raw)
	if err != nil {
		return []string{"malformed"}
	}
	alg, _ := header["alg"].(string)
	if alg != "ES256" {
		problems = append(problems, "alg")
	}
	kid, _ := header["kid"].(string)
	did, fragment, _ := strings.Cut(kid, "#")
	docID, _ := want.doc["id"].(string)
	if did != docID {
		problems = append(problems, "kid DID")
	}
	var method map[string]any
	methods, _ := want.doc["assertionMethod"].([]any)
	for _, m := range methods {
		if m, _ := m.(map[string]any); m["id"] == docID+"#"+fragment {
			method = m
		}
	}
	if method == nil {
		problems = append(problems, "kid")
	} else if method["controller"] != docID {
		problems = append(problems, "controller")
	}
	if alg == "ES256" && method != nil {
		var key jose.JSONWebKey
		b, _ := json.Marshal(method["publicKeyJwk"])
		ok := key.UnmarshalJSON(b) == nil
		if ok {
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
			ok = err == nil
			if ok {
				_, err = jws.Verify(key)
				ok = err == nil
			}
		}
		if !ok {
			problems = append(problems, "signature")
		}
	}
	now := time.Now()
	str := func(name string) string { s, _ := claims[name].(string); return s }
	exp, _ := numberClaim(claims, "exp")
	nbf, hasNbf := numberClaim(claims, "nbf")
	vc, _ := claims["vc"].(map[string]any)
	subject, _ := vc["credentialSubject"].(map[string]any)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"iss", str("iss") == want.issuer},
		{"aud", str("aud") == want.clientID},
		{"sub", str("sub") == want.sub},
		{"exp", time.Unix(exp, 0).After(now)},
		{"nbf", hasNbf && !time.Unix(nbf, 0).After(now.Add(clockLeeway))},
		{"vot", str("vot") >= want.level}, // P0 < P1 < P2 < P3 as strings
		{"vc", reflect.DeepEqual(vc["type"], []any{"VerifiableCredential", "VerifiableIdentityCredential"}) &&
			subject["name"] != nil && subject["birthDate"] != nil},
	} {
		if !c.ok {
			problems = append(problems, c.name)
		}
	}
	return problems
}
