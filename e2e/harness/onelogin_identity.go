package harness

import (
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// OneLoginUser is who signs in at the One Login-shaped provider, and what they
// achieve there.
type OneLoginUser struct {
	// Subject is the sub claim. Empty: urn:fdc:gov.uk:2022: and a hash of the client
	// ID, a pairwise identifier as One Login's are.
	Subject     string
	Email       string // at userinfo with the email scope, always email_verified
	PhoneNumber string // at userinfo with the phone scope; empty: phone_number_verified false
	// Credential is the credential level achieved, the ID token's vot: Cl or Cl.Cm.
	// Empty: the one asked for (the lowest vector's).
	Credential string
	// Level is the identity level achieved, the core identity JWT's vot: P0 to P3.
	// Empty: the one asked for. P0 (or no identity asked for) means no core identity
	// JWT, address, passport or driving permit, whatever the claims parameter asked.
	Level string
	// ReturnCodes are the returnCode claim's codes (one letter each), given when it is
	// asked for; empty: no returnCode claim.
	ReturnCodes []string
	// The core identity's name and date of birth (credentialSubject).
	GivenNames []string
	FamilyName string
	BirthDate  string // YYYY-MM-DD
	// The address, passport and drivingPermit claims, as One Login shapes them; empty:
	// the claim is left out.
	Addresses     []map[string]any
	Passport      []map[string]any
	DrivingPermit []map[string]any
	// AuthTime is the ID token's auth_time; zero: when /authorize answered.
	AuthTime time.Time
}

// DefaultOneLoginUser is the user of One Login's documentation examples ("Prove your
// user's identity"): Alice Jane Laura Doe, born 1970-01-01, with their address,
// passport and driving licence, who achieves what the request asks.
func DefaultOneLoginUser() OneLoginUser {
	return OneLoginUser{
		Email: "test@example.com", PhoneNumber: "+441406946277",
		GivenNames: []string{"Alice", "Jane", "Laura"}, FamilyName: "Doe", BirthDate: "1970-01-01",
		Addresses: []map[string]any{{
			"uprn": 10022812929, "subBuildingName": "FLAT 5", "buildingName": "WEST LEA",
			"buildingNumber": "16", "dependentStreetName": "KINGS PARK", "streetName": "HIGH STREET",
			"doubleDependentAddressLocality": "EREWASH", "dependentAddressLocality": "LONG EATON",
			"addressLocality": "GREAT MISSENDEN", "postalCode": "HP16 0AL", "addressCountry": "GB",
			"validFrom": "2022-01-01",
		}},
		Passport: []map[string]any{{"documentNumber": "1223456", "icaoIssuerCode": "GBR", "expiryDate": "2032-02-02"}},
		DrivingPermit: []map[string]any{{"expiryDate": "2023-01-18", "issueNumber": "5", "issuedBy": "DVLA",
			"personalNumber": "DOE99802085J99FG"}},
	}
}

func (u OneLoginUser) clone() OneLoginUser {
	cloneAll := func(ms []map[string]any) []map[string]any {
		if ms == nil {
			return nil
		}
		out := make([]map[string]any, len(ms))
		for i, m := range ms {
			out[i] = maps.Clone(m)
		}
		return out
	}
	u.ReturnCodes = slices.Clone(u.ReturnCodes)
	u.GivenNames = slices.Clone(u.GivenNames)
	u.Addresses, u.Passport, u.DrivingPermit = cloneAll(u.Addresses), cloneAll(u.Passport), cloneAll(u.DrivingPermit)
	return u
}

// pairwiseSubject is a sub in One Login's form, different for each client.
func pairwiseSubject(clientID, user string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + user))
	return "urn:fdc:gov.uk:2022:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Core identity issuers of One Login, which the issuer fault uses.
const (
	identityIntegrationIssuer = "https://identity.integration.account.gov.uk/"
	identityProductionIssuer  = "https://identity.account.gov.uk/"
	identityIntegrationDID    = "did:web:identity.integration.account.gov.uk"
)

// coreIdentityLifetime: "The core identity is valid for 30 minutes, starting when it
// is issued" (Prove your user's identity).
const coreIdentityLifetime = 30 * time.Minute

// coreIdentityJWT makes the coreIdentityJWT claim: ES256 by the DID document's key,
// kid the key's full DID URL, as One Login signs it; with the fault set if any.
func (o *OneLogin) coreIdentityJWT(g *oneLoginGrant, level string) (string, error) {
	o.mu.Lock()
	fault, iss := o.coreFault, o.coreIssuer
	o.mu.Unlock()
	now := o.now()
	switch fault {
	case CoreIdentityExpired:
		now = now.Add(-2 * time.Hour)
	case CoreIdentityNotYetValid:
		now = now.Add(time.Hour)
	}
	if fault == CoreIdentityLevelTooLow {
		levels := []string{"P0", "P1", "P2", "P3"}
		if i := slices.Index(levels, g.level); i > 0 {
			level = levels[i-1]
		}
	}
	u := g.user
	var parts []map[string]string
	for _, n := range u.GivenNames {
		parts = append(parts, map[string]string{"value": n, "type": "GivenName"})
	}
	if u.FamilyName != "" {
		parts = append(parts, map[string]string{"value": u.FamilyName, "type": "FamilyName"})
	}
	claims := map[string]any{
		"sub": g.sub, "iss": iss, "aud": g.client.ID,
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(coreIdentityLifetime).Unix(),
		"vot": level, "vtm": o.URL("trustmark"),
		"vc": map[string]any{
			// The documentation's type; One Login's simulator says IdentityCheckCredential.
			"type": []string{"VerifiableCredential", "VerifiableIdentityCredential"},
			"credentialSubject": map[string]any{
				"name":      []map[string]any{{"nameParts": parts}},
				"birthDate": []map[string]string{{"value": u.BirthDate}},
			},
		},
	}
	switch fault {
	case CoreIdentityWrongIssuer:
		claims["iss"] = identityIntegrationIssuer
		if iss == identityIntegrationIssuer {
			claims["iss"] = identityProductionIssuer
		}
	case CoreIdentityWrongAudience:
		claims["aud"] = g.client.ID + "-other"
	case CoreIdentityWrongSubject:
		claims["sub"] = pairwiseSubject(g.client.ID, "another-user")
	}
	kid := o.DID + "#" + o.didKid
	var tok string
	var err error
	switch fault {
	case CoreIdentityAlgRS256:
		tok, err = signCompact("RS256", map[string]any{"kid": kid}, claims, o.idKeyRSA)
	case CoreIdentityAlgHS256:
		secret, perr := publicPEM(&o.didKey.PublicKey)
		if perr != nil {
			return "", perr
		}
		tok, err = signCompact("HS256", map[string]any{"kid": kid}, claims, secret)
	case CoreIdentityUnknownKid:
		tok, err = signCompact("ES256", map[string]any{"kid": o.DID + "#" + o.strayKid}, claims, o.strayKey)
	case CoreIdentityKidOtherDID:
		tok, err = signCompact("ES256", map[string]any{"kid": identityIntegrationDID + "#" + o.didKid}, claims, o.didKey)
	default:
		tok, err = signCompact("ES256", map[string]any{"kid": kid}, claims, o.didKey)
	}
	if err == nil && fault == CoreIdentityBadSignature {
		tok = flipSignature(tok)
	}
	return tok, err
}

// didDocument serves the DID document of the core identity key, in One Login's shape
// (Prove your user's identity): a did:web id, one JsonWebKey assertion method whose id
// is the full DID URL of the JWTs' kid and whose controller is the document's id,
// cached for an hour, privately.
func (o *OneLogin) didDocument(w http.ResponseWriter, r *http.Request) {
	if r.UserAgent() == "" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	o.mu.Lock()
	fault := o.coreFault
	o.mu.Unlock()
	controller := o.DID
	if fault == CoreIdentityControllerMismatch {
		controller = identityIntegrationDID
	}
	doc := map[string]any{
		"@context": []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"},
		"id":       o.DID,
		"assertionMethod": []map[string]any{{
			"type": "JsonWebKey", "id": o.DID + "#" + o.didKid, "controller": controller,
			"publicKeyJwk": jose.JSONWebKey{Key: &o.didKey.PublicKey},
		}},
	}
	serveJSON(w, http.StatusOK, "max-age=3600, private", doc)
}
