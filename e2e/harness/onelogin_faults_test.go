package harness

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// Each ID token fault makes exactly the one thing wrong it names.
func TestOneLoginIDTokenFaults(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	rsaRP := newRelyingParty(t, ol, func(c *OneLoginClient) { c.IDTokenAlg = "RS256" })
	tests := []struct {
		fault IDTokenFault
		rp    *relyingParty
		want  []string
	}{
		{fault: IDTokenNoFault},
		{fault: IDTokenWrongIssuer, want: []string{"iss"}},
		{fault: IDTokenWrongAudience, want: []string{"aud"}},
		{fault: IDTokenAlgNone, want: []string{"alg"}},
		{fault: IDTokenOtherAlg, want: []string{"alg"}},
		{fault: IDTokenOtherAlg, rp: rsaRP, want: []string{"alg"}},
		{fault: IDTokenBadSignature, want: []string{"signature"}},
		{fault: IDTokenBadSignature, rp: rsaRP, want: []string{"signature"}},
		{fault: IDTokenExpired, want: []string{"exp"}},
		{fault: IDTokenNotYetValid, want: []string{"iat"}},
		{fault: IDTokenWrongNonce, want: []string{"nonce"}},
		{fault: IDTokenWrongVot, want: []string{"vot"}},
		{fault: IDTokenNoVot, want: []string{"vot"}},
	}
	for _, tc := range tests {
		client, alg := rp, "ES256"
		if tc.rp != nil {
			client, alg = tc.rp, "RS256"
		}
		t.Run(string(tc.fault)+" "+alg, func(t *testing.T) {
			ol.SetIDTokenFault(tc.fault)
			defer ol.SetIDTokenFault(IDTokenNoFault)
			idToken, access := client.signIn()
			got := idTokenProblems(idToken, idTokenWant{alg: alg, issuer: ol.Issuer, clientID: client.id,
				nonce: "nonce-1", vot: "Cl.Cm", accessToken: access, keys: client.jwks()})
			if !slices.Equal(got, tc.want) {
				t.Errorf("wrong: got %v, want %v", got, tc.want)
			}
			header, _, _ := decodeJWT(idToken)
			switch tc.fault {
			case IDTokenAlgNone:
				if header["alg"] != "none" || header["kid"] != nil || !strings.HasSuffix(idToken, ".") {
					t.Errorf("alg none: got header %v, token %s", header, idToken)
				}
			case IDTokenOtherAlg:
				if want := map[string]string{"ES256": "RS256", "RS256": "ES256"}[alg]; header["alg"] != want {
					t.Errorf("alg: got %v, want %s", header["alg"], want)
				}
			}
		})
	}
}

// Each core identity fault makes exactly the one thing wrong it names.
func TestOneLoginCoreIdentityFaults(t *testing.T) {
	ol := startOneLogin(t)
	rp := newRelyingParty(t, ol, nil)
	tests := []struct {
		fault CoreIdentityFault
		want  []string
	}{
		{fault: CoreIdentityNoFault},
		{fault: CoreIdentityAlgRS256, want: []string{"alg"}},
		{fault: CoreIdentityAlgHS256, want: []string{"alg"}},
		{fault: CoreIdentityBadSignature, want: []string{"signature"}},
		{fault: CoreIdentityWrongIssuer, want: []string{"iss"}},
		{fault: CoreIdentityWrongAudience, want: []string{"aud"}},
		{fault: CoreIdentityWrongSubject, want: []string{"sub"}},
		{fault: CoreIdentityExpired, want: []string{"exp"}},
		{fault: CoreIdentityNotYetValid, want: []string{"nbf"}},
		{fault: CoreIdentityLevelTooLow, want: []string{"vot"}},
		{fault: CoreIdentityControllerMismatch, want: []string{"controller"}},
		{fault: CoreIdentityUnknownKid, want: []string{"kid"}},
		{fault: CoreIdentityKidOtherDID, want: []string{"kid DID"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			ol.SetCoreIdentityFault(tc.fault)
			defer ol.SetCoreIdentityFault(CoreIdentityNoFault)
			idToken, access := rp.signIn()
			_, idClaims, _ := decodeJWT(idToken)
			core, _ := rp.userinfo(access)[claimCoreIdentity].(string)
			doc := rp.didDocument()
			got := coreIdentityProblems(core, coreIdentityWant{issuer: ol.Issuer, clientID: rp.id,
				sub: idClaims["sub"].(string), level: "P2", doc: doc})
			if !slices.Equal(got, tc.want) {
				t.Errorf("wrong: got %v, want %v", got, tc.want)
			}
			header, _, _ := decodeJWT(core)
			switch tc.fault {
			case CoreIdentityAlgRS256:
				// A valid RS256 signature by the provider's JWKS RSA key: only alg is wrong.
				var rsaKey jose.JSONWebKey
				for _, k := range rp.jwks().Keys {
					if k.Algorithm == "RS256" {
						rsaKey = k
					}
				}
				if err := verifyCompact(core, "RS256", rsaKey.Key); err != nil || header["kid"] != ol.DID+"#"+ol.didKid {
					t.Errorf("RS256: %v, header %v", err, header)
				}
			case CoreIdentityAlgHS256:
				// The key-confusion attack: HMAC keyed with the DID key's public PEM.
				var key jose.JSONWebKey
				b, _ := json.Marshal(doc["assertionMethod"].([]any)[0].(map[string]any)["publicKeyJwk"])
				key.UnmarshalJSON(b)
				secret, _ := publicPEM(key.Key)
				i := strings.LastIndexByte(core, '.')
				mac := hmac.New(sha256.New, secret)
				mac.Write([]byte(core[:i]))
				if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != core[i+1:] {
					t.Error("HS256: not an HMAC keyed with the DID key's public PEM")
				}
			}
		})
	}

	t.Run("configured issuer", func(t *testing.T) {
		ol.SetCoreIdentityIssuer(identityIntegrationIssuer)
		defer ol.SetCoreIdentityIssuer(ol.Issuer)
		_, access := rp.signIn()
		_, claims, _ := decodeJWT(rp.userinfo(access)[claimCoreIdentity].(string))
		if claims["iss"] != identityIntegrationIssuer {
			t.Errorf("iss: got %v, want %s", claims["iss"], identityIntegrationIssuer)
		}
	})
}
