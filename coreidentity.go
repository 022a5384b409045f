package ags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// GOV.UK One Login's proof of identity (SPEC 12): a service that asks, in the claims
// parameter, for the coreIdentityJWT gets it at userinfo, signed (ES256) by One
// Login's identity service with a key of its DID document. ags verifies it at
// sign-in, keeps only what the app is given (the level and the credential subject),
// and never the JWT itself.

// coreIdentityClaim is the userinfo claim that carries the coreIdentityJWT.
const coreIdentityClaim = "https://vocab.account.gov.uk/v1/coreIdentityJWT"

// returnCodeClaim is the userinfo claim of One Login's return codes, which a
// service that asks for them must act on.
const returnCodeClaim = "https://vocab.account.gov.uk/v1/returnCode"

// The headers of a verified identity, and of the return codes.
const (
	headerIdentityLevel = "X-Auth-Request-Identity-Level"
	headerIdentity      = "X-Auth-Request-Identity"
	headerReturnCode    = "X-Auth-Request-Return-Code"
)

var errCoreIdentity = errors.New("core identity rejected")

// oneLoginIdentity are the DID document and the core identity's issuer of One
// Login's environments, by the issuer of their sign-in.
var oneLoginIdentity = map[string][2]string{
	"https://oidc.account.gov.uk/":             {"https://identity.account.gov.uk/.well-known/did.json", "https://identity.account.gov.uk/"},
	"https://oidc.integration.account.gov.uk/": {"https://identity.integration.account.gov.uk/.well-known/did.json", "https://identity.integration.account.gov.uk/"},
}

// coreIdentityRules say how an instance that asks for the identity checks it; nil
// when its authParams claims do not ask for the coreIdentityJWT.
type coreIdentityRules struct {
	didURL string
	issuer string
	level  int // the least level of confidence asked for in vtr (P2: 2); 1 when vtr names none
}

// askedUserinfo is the userinfo claims the claims parameter of authParams asks for
// (OpenID Connect Core 5.5).
func askedUserinfo(params url.Values) (map[string]bool, error) {
	var claims struct {
		Userinfo map[string]json.RawMessage `json:"userinfo"`
	}
	if raw := params.Get("claims"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &claims); err != nil {
			return nil, fmt.Errorf("authParams claims must be a JSON object (OpenID Connect Core 5.5), got %q", raw)
		}
	}
	asked := map[string]bool{}
	for name := range claims.Userinfo {
		asked[name] = true
	}
	return asked, nil
}

// parseCoreIdentityRules reads coreIdentityDIDURL and coreIdentityIssuer for an
// instance whose claims parameter asks for the coreIdentityJWT.
func parseCoreIdentityRules(c *Config, asked map[string]bool, trust *trustRules) (*coreIdentityRules, error) {
	if !asked[coreIdentityClaim] {
		if c.CoreIdentityDIDURL != "" || c.CoreIdentityIssuer != "" {
			return nil, fmt.Errorf("coreIdentityDIDURL and coreIdentityIssuer need authParams claims to ask for %s", coreIdentityClaim)
		}
		return nil, nil
	}
	rules := &coreIdentityRules{didURL: c.CoreIdentityDIDURL, issuer: c.CoreIdentityIssuer, level: 1}
	if known, ok := oneLoginIdentity[c.Issuer]; ok {
		if rules.didURL == "" {
			rules.didURL = known[0]
		}
		if rules.issuer == "" {
			rules.issuer = known[1]
		}
	}
	if rules.didURL == "" || rules.issuer == "" {
		return nil, fmt.Errorf("coreIdentityDIDURL and coreIdentityIssuer are required when authParams claims asks for the coreIdentityJWT (they default for One Login's own issuers only)")
	}
	if u, err := url.Parse(rules.didURL); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("coreIdentityDIDURL must be an absolute http or https URL, got %q", rules.didURL)
	}
	least := -1
	for _, vector := range trust.vectors {
		for _, component := range vector {
			if n := confidenceLevel(component); n >= 0 && (least < 0 || n < least) {
				least = n
			}
		}
	}
	if least > 0 {
		rules.level = least
	}
	return rules, nil
}

// returnCodes is One Login's returnCode claim ([{"code":"X"}, ...]) as a header
// value: the codes, as listText joins them; "" when there are none.
func returnCodes(sess *session) string {
	list, _ := claimValue(sess, returnCodeClaim).([]interface{})
	var codes []interface{}
	for _, e := range list {
		if obj, ok := e.(map[string]interface{}); ok && obj["code"] != nil {
			codes = append(codes, obj["code"])
		}
	}
	if len(codes) == 0 {
		return ""
	}
	return listText(codes)
}

// confidenceLevel is a level of confidence's number (P2: 2); -1 for anything else.
func confidenceLevel(component string) int {
	if !isLevelOfConfidence(component) {
		return -1
	}
	n, _ := strconv.Atoi(component[1:])
	return n
}

// parseDIDDocument reads the keys of a DID document (did:web, as One Login publishes
// it): the assertionMethod entries whose controller is the document's id, each with
// its full DID URL (id#fragment) as its kid. An entry another controller claims is
// skipped: it does not speak for the document.
func parseDIDDocument(data []byte) ([]jsonWebKey, error) {
	var doc struct {
		ID              string `json:"id"`
		AssertionMethod []struct {
			ID           string          `json:"id"`
			Controller   string          `json:"controller"`
			PublicKeyJWK json.RawMessage `json:"publicKeyJwk"`
		} `json:"assertionMethod"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.ID == "" {
		return nil, fmt.Errorf("%w: not a DID document", errKeySetUnavailable)
	}
	var keys []jsonWebKey
	for _, m := range doc.AssertionMethod {
		if m.Controller != doc.ID || !strings.HasPrefix(m.ID, doc.ID+"#") {
			continue
		}
		key, err := parseJWK(m.PublicKeyJWK)
		if err != nil || key.key == nil {
			continue
		}
		key.kid = m.ID
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no assertion method of %q with a usable key", errKeySet, jwsTruncate(doc.ID))
	}
	return keys, nil
}

// verifiedIdentity is what ags keeps of a verified core identity.
type verifiedIdentity struct {
	level   string // the core identity's vot, e.g. P2
	subject string // the credential subject (names, birth dates) as compact JSON
}

// coreIdentityVerifier is the verifier of core identities: ES256 only, by a key of
// the DID document; iss the core identity's issuer; aud holding the client ID; exp,
// and nbf when present, with clockSkew (iat is not read); the ID tokens' audience
// (the client ID) and clock.
func coreIdentityVerifier(idTokens *jwtVerifier, rules *coreIdentityRules, didKeys keySource) *jwtVerifier {
	return &jwtVerifier{
		algorithms: []string{"ES256"},
		keys:       didKeys,
		issuer:     rules.issuer,
		audiences:  idTokens.audiences,
		times:      timeRules{iat: claimIgnored},
		clockSkew:  idTokens.clockSkew,
		now:        idTokens.now,
	}
}

// verifyCoreIdentity checks a coreIdentityJWT for the user sub with v and
// coreIdentityOf.
func verifyCoreIdentity(ctx context.Context, v *jwtVerifier, raw interface{}, sub string, level int) (*verifiedIdentity, error) {
	token, ok := raw.(string)
	if !ok || token == "" {
		return nil, fmt.Errorf("%w: userinfo has no coreIdentityJWT", errCoreIdentity)
	}
	t, err := v.verify(ctx, token, coreIdentityOf(sub, level))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCoreIdentity, err)
	}
	vot := stringClaim(t.claims, "vot")
	vc, _ := t.claims["vc"].(map[string]interface{})
	subject, _ := vc["credentialSubject"].(map[string]interface{})
	return &verifiedIdentity{level: vot, subject: headerJSON(subject)}, nil
}

// coreIdentityOf: the core identity is of the user sub, with a vot at least the
// level asked for, and a vc.credentialSubject.
func coreIdentityOf(sub string, level int) jwtCheck {
	is := subjectIs(sub)
	return func(v *jwtVerifier, t *verifiedJWT) error {
		if err := is(v, t); err != nil {
			return err
		}
		vot := stringClaim(t.claims, "vot")
		if confidenceLevel(vot) < level {
			return fmt.Errorf("vot %q is below P%d", jwsTruncate(vot), level)
		}
		vc, _ := t.claims["vc"].(map[string]interface{})
		if _, ok := vc["credentialSubject"].(map[string]interface{}); !ok {
			return errors.New("no vc.credentialSubject")
		}
		return nil
	}
}

// takeCoreIdentity verifies the identity in a new session's userinfo, for an
// instance that asks for it, and keeps in the session only what the app is given:
// the JWT itself leaves the session whatever the outcome. A missing, failed or
// too-low identity is logged, and the session has none (the instance's routes then
// answer 403: accessRules).
func (m *middleware) takeCoreIdentity(ctx context.Context, p *provider, sess *session, sub string) {
	raw, present := sess.UserInfo[coreIdentityClaim]
	delete(sess.UserInfo, coreIdentityClaim)
	if m.cfg.coreIdentity == nil {
		return
	}
	if !present {
		m.log.warn("sign-in sub=%q: no identity: userinfo has no coreIdentityJWT", sub)
		return
	}
	id, err := verifyCoreIdentity(ctx, p.coreIdentities, raw, sub, m.cfg.coreIdentity.level)
	if err != nil {
		m.log.warn("sign-in sub=%q: no identity: %v", sub, err)
		return
	}
	sess.IdentityLevel, sess.Identity = id.level, id.subject
	m.log.info("sign-in sub=%q: identity verified at %s", sub, id.level)
}
