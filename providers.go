package ags

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Providers as they are (SPEC.md section 13): the options that meet real providers
// where they leave the textbook. Entra ID's multi-tenant endpoints announce an issuer
// template, its userinfo refuses its API tokens, Keycloak puts roles in the access
// token only, and Entra apps with claims-mapping sign with keys at a jwks_uri of
// their own.

// tenantPlaceholder is the part of Entra ID's multi-tenant issuer that stands for
// the user's tenant: https://login.microsoftonline.com/{tenantid}/v2.0.
const tenantPlaceholder = "{tenantid}"

// The userinfo option's values.
const (
	userinfoAuto     = "auto"
	userinfoRequired = "required"
	userinfoOff      = "off"
)

var (
	errTenant = errors.New("tenant not allowed")
	// errOpaqueAccessToken: accessTokenClaims is on and the access token cannot be
	// read (the token type is only known at sign-in).
	errOpaqueAccessToken = errors.New("accessTokenClaims is on and the access token is not a JWT")
)

// tenantRules are allowedTenants and allowAnyTenant: which tenants a template issuer
// admits. nil: no template is accepted.
type tenantRules struct {
	any     bool
	tenants map[string]bool // lower case
}

// parseProviderOptions reads allowedTenants, allowAnyTenant, userinfo,
// accessTokenClaims and jwksURL into s.
func parseProviderOptions(c *Config, s *settings) error {
	anyTenant, err := parseBool("allowAnyTenant", c.AllowAnyTenant)
	if err != nil {
		return err
	}
	if anyTenant && len(c.AllowedTenants) > 0 {
		return fmt.Errorf("allowedTenants and allowAnyTenant: set one, not both (allowAnyTenant admits every tenant)")
	}
	if anyTenant {
		s.tenants = &tenantRules{any: true}
	}
	for _, t := range c.AllowedTenants {
		id := strings.ToLower(strings.TrimSpace(t))
		if id == "" || strings.ContainsAny(id, "/?#{} \t") {
			return fmt.Errorf("allowedTenants: %q is not a tenant ID (such as 6d1f0c4e-2b7a-4e0c-9c55-3f2a8b1d7e90)", t)
		}
		if s.tenants == nil {
			s.tenants = &tenantRules{tenants: map[string]bool{}}
		}
		s.tenants.tenants[id] = true
	}
	switch c.Userinfo {
	case userinfoAuto, userinfoRequired, userinfoOff:
		s.userinfo = c.Userinfo
	default:
		return fmt.Errorf("userinfo must be auto, required or off, got %q", c.Userinfo)
	}
	if s.userinfo == userinfoOff && (s.coreIdentity != nil || s.returnCodes) {
		return fmt.Errorf("userinfo is off, and authParams claims asks for userinfo claims (the core identity, return codes): set userinfo to auto or required")
	}
	if s.accessTokenClaims, err = parseBool("accessTokenClaims", c.AccessTokenClaims); err != nil {
		return err
	}
	if err = checkEndpointOption("jwksURL", c.JWKSURL); err != nil {
		return err
	}
	s.jwksURL = c.JWKSURL
	return nil
}

// checkEndpointOption checks an option that replaces an endpoint the provider
// announces: empty, or an absolute http or https URL without a fragment.
func checkEndpointOption(name, value string) error {
	if value == "" {
		return nil
	}
	u, err := url.Parse(value)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || strings.Contains(value, "#") {
		return fmt.Errorf("%s must be an absolute http or https URL without a fragment, got %q", name, value)
	}
	return nil
}

// issuerTemplate is an issuer announced with {tenantid}: a token's iss must be it
// with the token's own tid, and tid one the rules allow.
type issuerTemplate struct {
	prefix, suffix string // around {tenantid}
	rules          *tenantRules
}

// newIssuerTemplate checks discovery's issuer against the configured one: a
// template fits when the configured issuer is it with one path segment for
// {tenantid} (organizations, common, consumers, a tenant ID). nil, nil: announced
// is no template.
func newIssuerTemplate(announced, configured string, rules *tenantRules) (*issuerTemplate, error) {
	if !strings.Contains(announced, tenantPlaceholder) {
		return nil, nil
	}
	if rules == nil {
		return nil, fmt.Errorf("%w: issuer is the template %q (a multi-tenant endpoint): set allowedTenants to the tenants that may sign in", errDiscovery, announced)
	}
	prefix, suffix, _ := strings.Cut(announced, tenantPlaceholder)
	t := &issuerTemplate{prefix: prefix, suffix: suffix, rules: rules}
	if strings.Contains(suffix, tenantPlaceholder) || !t.fits(configured) {
		return nil, fmt.Errorf("%w: issuer template %q does not fit the configured issuer %q", errDiscovery, announced, configured)
	}
	return t, nil
}

// fits reports whether iss is the template with one path segment in its place.
func (t *issuerTemplate) fits(iss string) bool {
	if !strings.HasPrefix(iss, t.prefix) || !strings.HasSuffix(iss, t.suffix) || len(iss) <= len(t.prefix)+len(t.suffix) {
		return false
	}
	return !strings.ContainsAny(iss[len(t.prefix):len(iss)-len(t.suffix)], "/?#")
}

// admits reports whether iss names an allowed tenant (the callback's iss, RFC 9207).
func (t *issuerTemplate) admits(iss string) bool {
	return t.fits(iss) && t.allowed(iss[len(t.prefix):len(iss)-len(t.suffix)])
}

func (t *issuerTemplate) allowed(tid string) bool {
	return t.rules.any || t.rules.tenants[strings.ToLower(tid)]
}

// check is the issuer check of a token with claims c: iss must be the template with
// the token's tid, and tid allowed.
func (t *issuerTemplate) check(c map[string]interface{}) error {
	iss, _ := c["iss"].(string)
	tid, _ := c["tid"].(string)
	if tid == "" {
		return fmt.Errorf("%w: the issuer is a template and the token has no tid", errIssuer)
	}
	if want := t.prefix + tid + t.suffix; iss != want {
		return fmt.Errorf("%w: iss %q, want %q", errIssuer, jwsTruncate(iss), jwsTruncate(want))
	}
	if !t.allowed(tid) {
		return fmt.Errorf("%w: tid %q is not in allowedTenants", errTenant, jwsTruncate(tid))
	}
	return nil
}

// userinfoAtSignIn calls userinfo as the userinfo option says: not at all (off);
// failing the sign-in on any failure (required); or (auto) failing it only when
// userinfo answers for another sub, else logging the failure and going on with
// the ID token's claims (Entra ID's userinfo refuses tokens for the app's own API).
func (m *middleware) userinfoAtSignIn(ctx context.Context, p *provider, accessToken, sub string) (map[string]interface{}, error) {
	if m.cfg.userinfo == userinfoOff {
		return nil, nil
	}
	info, err := m.userinfo(ctx, p, accessToken, sub)
	if err == nil || m.cfg.userinfo == userinfoRequired || errors.Is(err, errUserinfoSubject) {
		return info, err
	}
	m.log.write("WARN", logEvent{event: "sign-in", sub: sub, reason: "userinfo failed"},
		"sign-in sub=%q: %v; the sign-in goes on with the ID token's claims (userinfo: auto; required would fail it)", sub, err)
	return nil, nil
}
