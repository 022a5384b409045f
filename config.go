package ags

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// option is one option of Config: its name in Traefik's configuration, the
// environment variable read when it is left empty there, and its default. The string
// options have a field; the lists and maps are read from their variable by resolved.
type option struct {
	name, env, def string
	field          func(c *Config) *string
}

// options is every option, in the order of the README's table: the one list that the
// environment fallback, the defaults, the debug log and the README's drift tests read.
var options = []option{
	{"issuer", "AGS_CLIENT_ISSUER", "", func(c *Config) *string { return &c.Issuer }},
	{"clientID", "AGS_CLIENT_ID", "", func(c *Config) *string { return &c.ClientID }},
	{"clientSecret", "AGS_CLIENT_SECRET", "", func(c *Config) *string { return &c.ClientSecret }},
	{"clientSecretFile", "AGS_CLIENT_SECRET_FILE", "", func(c *Config) *string { return &c.ClientSecretFile }},
	{"signOutPath", "AGS_CLIENT_SIGN_OUT_PATH", "sign-out", func(c *Config) *string { return &c.SignOutPath }},
	{"debug", "AGS_CLIENT_DEBUG", "false", func(c *Config) *string { return &c.Debug }},
	{"logPath", "AGS_CLIENT_LOG_PATH", "", func(c *Config) *string { return &c.LogPath }},
	{"logFormat", "AGS_CLIENT_LOG_FORMAT", "auto", func(c *Config) *string { return &c.LogFormat }},
	{"sessionCookie", "AGS_CLIENT_SESSION_COOKIE", "ags_client_session", func(c *Config) *string { return &c.SessionCookie }},
	{"sessionSecret", "AGS_CLIENT_SESSION_SECRET", "", func(c *Config) *string { return &c.SessionSecret }},
	{"callbackPath", "AGS_CLIENT_CALLBACK_PATH", "oidc_callback", func(c *Config) *string { return &c.CallbackPath }},
	{"featureFlagCookie", "AGS_CLIENT_FEATURE_FLAG_COOKIE", "ags_client_active", func(c *Config) *string { return &c.FeatureFlagCookie }},
	{"featureFlagDefault", "AGS_CLIENT_FEATURE_FLAG_DEFAULT", "true", func(c *Config) *string { return &c.FeatureFlagDefault }},
	{"featureFlagToggle", "AGS_CLIENT_FEATURE_FLAG_TOGGLE", "true", func(c *Config) *string { return &c.FeatureFlagToggle }},
	{"verifySSL", "AGS_CLIENT_VERIFY_SSL", "true", func(c *Config) *string { return &c.VerifySSL }},
	{"scopes", "AGS_CLIENT_SCOPES", "openid profile email", func(c *Config) *string { return &c.Scopes }},
	{"sessionLifetime", "AGS_CLIENT_SESSION_LIFETIME", "12h", func(c *Config) *string { return &c.SessionLifetime }},
	{"cookieSecure", "AGS_CLIENT_COOKIE_SECURE", "auto", func(c *Config) *string { return &c.CookieSecure }},
	{"cookieDomain", "AGS_CLIENT_COOKIE_DOMAIN", "", func(c *Config) *string { return &c.CookieDomain }},
	{"sameSite", "AGS_CLIENT_SAME_SITE", "Lax", func(c *Config) *string { return &c.SameSite }},
	{"passAccessToken", "AGS_CLIENT_PASS_ACCESS_TOKEN", "false", func(c *Config) *string { return &c.PassAccessToken }},
	{"passIDToken", "AGS_CLIENT_PASS_ID_TOKEN", "false", func(c *Config) *string { return &c.PassIDToken }},
	{"caFile", "AGS_CLIENT_CA_FILE", "", func(c *Config) *string { return &c.CAFile }},
	{"timeout", "AGS_CLIENT_TIMEOUT", "10s", func(c *Config) *string { return &c.Timeout }},
	{"clockSkew", "AGS_CLIENT_CLOCK_SKEW", "60s", func(c *Config) *string { return &c.ClockSkew }},
	{"refresh", "AGS_CLIENT_REFRESH", "false", func(c *Config) *string { return &c.Refresh }},
	{"allowUnverifiedEmail", "AGS_CLIENT_ALLOW_UNVERIFIED_EMAIL", "false", func(c *Config) *string { return &c.AllowUnverifiedEmail }},
	{"cacheSize", "AGS_CLIENT_CACHE_SIZE", "64MiB", func(c *Config) *string { return &c.CacheSize }},
	{"clientAuthMethod", "AGS_CLIENT_AUTH_METHOD", "auto", func(c *Config) *string { return &c.ClientAuthMethod }},
	{"clientPrivateKeyFile", "AGS_CLIENT_PRIVATE_KEY_FILE", "", func(c *Config) *string { return &c.ClientPrivateKeyFile }},
	{"clientPrivateKey", "AGS_CLIENT_PRIVATE_KEY", "", func(c *Config) *string { return &c.ClientPrivateKey }},
	{"clientKeyID", "AGS_CLIENT_KEY_ID", "", func(c *Config) *string { return &c.ClientKeyID }},
	{"clientSigningAlgorithm", "AGS_CLIENT_SIGNING_ALGORITHM", "", func(c *Config) *string { return &c.ClientSigningAlgorithm }},
	{"clientAssertionAudience", "AGS_CLIENT_ASSERTION_AUDIENCE", "token_endpoint", func(c *Config) *string { return &c.ClientAssertionAudience }},
	{"requestObject", "AGS_CLIENT_REQUEST_OBJECT", "false", func(c *Config) *string { return &c.RequestObject }},
	{"requestObjectAudience", "AGS_CLIENT_REQUEST_OBJECT_AUDIENCE", "issuer", func(c *Config) *string { return &c.RequestObjectAudience }},
	{"coreIdentityDIDURL", "AGS_CLIENT_CORE_IDENTITY_DID_URL", "", func(c *Config) *string { return &c.CoreIdentityDIDURL }},
	{"coreIdentityIssuer", "AGS_CLIENT_CORE_IDENTITY_ISSUER", "", func(c *Config) *string { return &c.CoreIdentityIssuer }},
	{"stepUp", "AGS_CLIENT_STEP_UP", "false", func(c *Config) *string { return &c.StepUp }},
	{"externalURL", "AGS_CLIENT_EXTERNAL_URL", "", func(c *Config) *string { return &c.ExternalURL }},
	{"corsPreflight", "AGS_CLIENT_CORS_PREFLIGHT", "false", func(c *Config) *string { return &c.CORSPreflight }},
	{"sessionIdleTimeout", "AGS_CLIENT_SESSION_IDLE_TIMEOUT", "", func(c *Config) *string { return &c.SessionIdleTimeout }},
	{"userinfo", "AGS_CLIENT_USERINFO", "auto", func(c *Config) *string { return &c.Userinfo }},
	{"accessTokenClaims", "AGS_CLIENT_ACCESS_TOKEN_CLAIMS", "false", func(c *Config) *string { return &c.AccessTokenClaims }},
	{"allowAnyTenant", "AGS_CLIENT_ALLOW_ANY_TENANT", "false", func(c *Config) *string { return &c.AllowAnyTenant }},
	{"jwksURL", "AGS_CLIENT_JWKS_URL", "", func(c *Config) *string { return &c.JWKSURL }},
	{"responseMode", "AGS_CLIENT_RESPONSE_MODE", "query", func(c *Config) *string { return &c.ResponseMode }},
	{"appleTeamID", "AGS_CLIENT_APPLE_TEAM_ID", "", func(c *Config) *string { return &c.AppleTeamID }},
	{"clientCertificateFile", "AGS_CLIENT_CERTIFICATE_FILE", "", func(c *Config) *string { return &c.ClientCertificateFile }},
	{"endSessionURL", "AGS_CLIENT_END_SESSION_URL", "", func(c *Config) *string { return &c.EndSessionURL }},
	{"backChannelLogoutPath", "AGS_CLIENT_BACK_CHANNEL_LOGOUT_PATH", "", func(c *Config) *string { return &c.BackChannelLogoutPath }},
	{"revocationStore", "AGS_CLIENT_REVOCATION_STORE", "", func(c *Config) *string { return &c.RevocationStore }},
	{"revocationStorePasswordFile", "AGS_CLIENT_REVOCATION_STORE_PASSWORD_FILE", "", func(c *Config) *string { return &c.RevocationStorePasswordFile }},
	{"revocationStoreCAFile", "AGS_CLIENT_REVOCATION_STORE_CA_FILE", "", func(c *Config) *string { return &c.RevocationStoreCAFile }},
	{"bearerTokens", "AGS_CLIENT_BEARER_TOKENS", "false", func(c *Config) *string { return &c.BearerTokens }},
	{"bearerIntrospection", "AGS_CLIENT_BEARER_INTROSPECTION", "false", func(c *Config) *string { return &c.BearerIntrospection }},
	{"introspectionURL", "AGS_CLIENT_INTROSPECTION_URL", "", func(c *Config) *string { return &c.IntrospectionURL }},
	{"authenticatedPaths", "AGS_CLIENT_AUTHENTICATED_PATHS", "", nil},
	{"publicPaths", "AGS_CLIENT_PUBLIC_PATHS", "", nil},
	{"identityHeaders", "AGS_CLIENT_IDENTITY_HEADERS", "", nil},
	{"allowedAlgorithms", "AGS_CLIENT_ALLOWED_ALGORITHMS", "", nil},
	{"authParams", "AGS_CLIENT_AUTH_PARAMS", "", nil},
	{"requiredClaims", "AGS_CLIENT_REQUIRED_CLAIMS", "", nil},
	{"allowedEmailDomains", "AGS_CLIENT_ALLOWED_EMAIL_DOMAINS", "", nil},
	{"allowedUsers", "AGS_CLIENT_ALLOWED_USERS", "", nil},
	{"allowedTenants", "AGS_CLIENT_ALLOWED_TENANTS", "", nil},
	{"endSessionParams", "AGS_CLIENT_END_SESSION_PARAMS", "", nil},
	{"bearerAudiences", "AGS_CLIENT_BEARER_AUDIENCES", "", nil},
}

// optionNamed returns the option called name.
func optionNamed(name string) option {
	for _, o := range options {
		if o.name == name {
			return o
		}
	}
	return option{}
}

// resolved returns a copy of c with the environment and the defaults filled in for
// every option left empty. c itself is not changed: Traefik may reuse it.
func (c *Config) resolved(getenv func(string) string) *Config {
	r := *c
	for _, o := range options {
		if o.field == nil {
			continue
		}
		p := o.field(&r)
		if strings.TrimSpace(*p) == "" {
			*p = strings.TrimSpace(getenv(o.env))
		}
		if *p == "" {
			*p = o.def
		}
	}
	if len(r.AuthenticatedPaths) == 0 {
		r.AuthenticatedPaths = splitList(getenv(optionNamed("authenticatedPaths").env))
	}
	if len(r.PublicPaths) == 0 {
		r.PublicPaths = splitList(getenv(optionNamed("publicPaths").env))
	}
	if len(r.AllowedAlgorithms) == 0 {
		r.AllowedAlgorithms = splitList(getenv(optionNamed("allowedAlgorithms").env))
	}
	if len(r.IdentityHeaders) == 0 {
		r.IdentityHeaders = map[string]string{}
		for _, pair := range splitList(getenv(optionNamed("identityHeaders").env)) {
			claim, header, _ := strings.Cut(pair, "=")
			r.IdentityHeaders[strings.TrimSpace(claim)] = strings.TrimSpace(header)
		}
	}
	r.AuthParams = resolveAuthParams(r.AuthParams, getenv)
	r.EndSessionParams = resolveEndSessionParams(r.EndSessionParams, getenv)
	if len(r.RequiredClaims) == 0 {
		r.RequiredClaims = map[string]interface{}{}
		for _, pair := range splitList(getenv(optionNamed("requiredClaims").env)) {
			claim, values, _ := strings.Cut(pair, "=")
			r.RequiredClaims[strings.TrimSpace(claim)] = strings.Split(values, "|")
		}
	}
	if len(r.AllowedEmailDomains) == 0 {
		r.AllowedEmailDomains = splitList(getenv(optionNamed("allowedEmailDomains").env))
	}
	if len(r.AllowedUsers) == 0 {
		r.AllowedUsers = splitList(getenv(optionNamed("allowedUsers").env))
	}
	if len(r.AllowedTenants) == 0 {
		r.AllowedTenants = splitList(getenv(optionNamed("allowedTenants").env))
	}
	if len(r.BearerAudiences) == 0 {
		r.BearerAudiences = splitList(getenv(optionNamed("bearerAudiences").env))
	}
	return &r
}

// listContains reports whether list holds s: option lists, a provider's announced
// methods and algorithms.
func listContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// settings is a validated configuration, in the types the middleware works with.
type settings struct {
	issuer                string
	clientID              string
	clientSecret          string
	protected             *regexp.Regexp
	public                *regexp.Regexp // nil: no publicPaths
	signOutPath           string         // "/sign-out"
	callbackPath          string         // "/oidc_callback"
	debug                 bool
	logPath               string
	logFormat             string // text or json, auto resolved
	sessionCookie         string
	secrets               []string // empty: the process-wide generated secret
	flagCookie            string
	flagDefault           bool
	flagToggle            bool
	verifySSL             bool
	scopes                string
	sessionLifetime       time.Duration
	cookies               cookieSettings
	identityHeaders       map[string]string // claim -> canonical header
	passAccessToken       bool
	passIDToken           bool
	rootCAs               *x509.CertPool // nil: the system's
	timeout               time.Duration
	clockSkew             time.Duration
	refresh               bool
	allowedAlgorithms     []string
	allowUnverifiedEmail  bool
	rules                 *accessRules // who may pass
	cacheSize             int          // bytes for the view cache
	insecureHTTPIssuer    bool         // plain http to a provider that is not on loopback
	clientAuth            *clientAuth
	authParams            url.Values         // extra authorization request parameters
	trust                 *trustRules        // what authParams ask of a sign-in (vtr, max_age)
	requestObject         bool               // the authorization request as a signed JWT
	requestObjectAuthz    bool               // its aud is the authorization endpoint, not the issuer
	externalURL           string             // scheme://host; "": the request's
	corsPreflight         bool               // CORS preflights pass without a session
	idleTimeout           time.Duration      // sessionIdleTimeout; 0: off
	idleRenewal           time.Duration      // how often the last use is sealed again (idleRenewalFor)
	coreIdentity          *coreIdentityRules // One Login's identity, when authParams claims asks for it
	stepUp                bool               // a refused signed-in user goes to the provider once first
	returnCodes           bool               // authParams claims asks for One Login's return codes
	tenants               *tenantRules       // allowedTenants, allowAnyTenant; nil: no template issuer
	userinfo              string             // auto, required or off
	accessTokenClaims     bool               // a JWT access token's claims are read too
	jwksURL               string             // in place of the announced jwks_uri; "": that one
	formPost              bool               // responseMode form_post
	endSession            endSessionOverrides
	backChannelLogoutPath string          // "/backchannel-logout"; "": off (logout.go)
	revocation            bool            // sessions can be revoked (revocation.go)
	store                 *storeAddress   // revocationStore (store.go); nil: none
	bearer                *bearerSettings // API clients' tokens (bearer.go); nil: off
}

var (
	cookieNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)
	headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	pathOptionPattern = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=:@/-]+$`)
)

// validate checks every option of a resolved configuration and converts it. Each
// error names the option and says what is wrong.
func (c *Config) validate() (*settings, error) {
	s := &settings{}
	var err error

	issuer, perr := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		return nil, fmt.Errorf("issuer is required")
	case perr != nil || !issuer.IsAbs() || issuer.Host == "" || (issuer.Scheme != "https" && issuer.Scheme != "http"):
		return nil, fmt.Errorf("issuer must be an absolute http or https URL, got %q", c.Issuer)
	case issuer.RawQuery != "" || issuer.Fragment != "":
		return nil, fmt.Errorf("issuer must not have a query or fragment, got %q", c.Issuer)
	}
	s.issuer = c.Issuer
	s.insecureHTTPIssuer = issuer.Scheme == "http" && !isLoopback(issuer.Hostname())

	if s.clientID = c.ClientID; s.clientID == "" {
		return nil, fmt.Errorf("clientID is required")
	}
	s.clientSecret = c.ClientSecret
	if c.ClientSecretFile != "" {
		data, ferr := os.ReadFile(c.ClientSecretFile)
		if ferr != nil {
			return nil, fmt.Errorf("clientSecretFile cannot be read: %w", ferr)
		}
		s.clientSecret = strings.TrimSpace(string(data))
	}
	if s.clientAuth, err = parseClientAuth(c, s.clientSecret); err != nil {
		return nil, err
	}
	if s.authParams, err = parseAuthParams(c.AuthParams); err != nil {
		return nil, err
	}
	if s.trust, err = parseTrustRules(s.authParams); err != nil {
		return nil, err
	}
	asked, err := askedUserinfo(s.authParams)
	if err != nil {
		return nil, err
	}
	s.returnCodes = asked[returnCodeClaim]
	if s.coreIdentity, err = parseCoreIdentityRules(c, asked, s.trust); err != nil {
		return nil, err
	}
	if s.stepUp, err = parseBool("stepUp", c.StepUp); err != nil {
		return nil, err
	}
	if s.requestObject, err = parseBool("requestObject", c.RequestObject); err != nil {
		return nil, err
	}
	if s.requestObject && s.clientAuth.key == nil {
		return nil, fmt.Errorf("requestObject needs the client's private key: set clientPrivateKeyFile or clientPrivateKey")
	}
	switch c.RequestObjectAudience {
	case "issuer":
	case "authorization_endpoint":
		s.requestObjectAuthz = true
	default:
		return nil, fmt.Errorf("requestObjectAudience must be issuer or authorization_endpoint, got %q", c.RequestObjectAudience)
	}

	if s.protected, err = compilePathPatterns(c.AuthenticatedPaths); err != nil {
		return nil, err
	}
	if s.public, err = compilePatterns("publicPaths", c.PublicPaths); err != nil {
		return nil, err
	}
	if s.signOutPath, err = pathOption("signOutPath", c.SignOutPath); err != nil {
		return nil, err
	}
	if s.callbackPath, err = pathOption("callbackPath", c.CallbackPath); err != nil {
		return nil, err
	}
	if s.callbackPath == s.signOutPath {
		return nil, fmt.Errorf("callbackPath and signOutPath must differ, both are %q", s.callbackPath)
	}
	if s.debug, err = parseBool("debug", c.Debug); err != nil {
		return nil, err
	}
	if s.logFormat, err = logFormatOf(c.LogFormat, os.Args, os.Getenv); err != nil {
		return nil, err
	}
	s.logPath = c.LogPath
	if s.logPath != "" {
		f, ferr := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if ferr != nil {
			return nil, fmt.Errorf("logPath cannot be opened for appending: %w", ferr)
		}
		f.Close()
	}
	if !cookieNamePattern.MatchString(c.SessionCookie) {
		return nil, fmt.Errorf("sessionCookie must be a cookie name (letters, digits, -_.!#$%%&'*+^|~), got %q", c.SessionCookie)
	}
	s.sessionCookie = c.SessionCookie
	if s.secrets, err = parseSecrets(c.SessionSecret); err != nil {
		return nil, err
	}
	if !cookieNamePattern.MatchString(c.FeatureFlagCookie) {
		return nil, fmt.Errorf("featureFlagCookie must be a cookie name, got %q", c.FeatureFlagCookie)
	}
	s.flagCookie = c.FeatureFlagCookie
	if strings.HasPrefix(s.flagCookie, s.sessionCookie) {
		return nil, fmt.Errorf("featureFlagCookie must not start with sessionCookie %q", s.sessionCookie)
	}
	if s.flagDefault, err = parseBool("featureFlagDefault", c.FeatureFlagDefault); err != nil {
		return nil, err
	}
	if s.flagToggle, err = parseBool("featureFlagToggle", c.FeatureFlagToggle); err != nil {
		return nil, err
	}
	if s.verifySSL, err = parseBool("verifySSL", c.VerifySSL); err != nil {
		return nil, err
	}
	if s.scopes, err = parseScopes(c.Scopes); err != nil {
		return nil, err
	}
	if s.sessionLifetime, err = parseDuration("sessionLifetime", c.SessionLifetime); err != nil {
		return nil, err
	}
	if s.cookies, err = parseCookieSettings(c); err != nil {
		return nil, err
	}
	if s.identityHeaders, err = parseIdentityHeaders(c.IdentityHeaders); err != nil {
		return nil, err
	}
	if s.passAccessToken, err = parseBool("passAccessToken", c.PassAccessToken); err != nil {
		return nil, err
	}
	if s.passIDToken, err = parseBool("passIDToken", c.PassIDToken); err != nil {
		return nil, err
	}
	if s.rootCAs, err = readCAFile(c.CAFile); err != nil {
		return nil, err
	}
	if s.timeout, err = parseDuration("timeout", c.Timeout); err != nil {
		return nil, err
	}
	if s.clockSkew, err = parseDuration("clockSkew", c.ClockSkew); err != nil {
		return nil, err
	}
	if s.refresh, err = parseBool("refresh", c.Refresh); err != nil {
		return nil, err
	}
	if s.allowUnverifiedEmail, err = parseBool("allowUnverifiedEmail", c.AllowUnverifiedEmail); err != nil {
		return nil, err
	}
	if s.rules, err = parseAccessRules(c); err != nil {
		return nil, err
	}
	s.rules.trust, s.rules.identity = s.trust, s.coreIdentity
	if s.cacheSize, err = parseByteSize("cacheSize", c.CacheSize); err != nil {
		return nil, err
	}
	if s.externalURL, err = parseExternalURL(c.ExternalURL); err != nil {
		return nil, err
	}
	if s.corsPreflight, err = parseBool("corsPreflight", c.CORSPreflight); err != nil {
		return nil, err
	}
	if s.idleTimeout, err = parseIdleTimeout(c.SessionIdleTimeout); err != nil {
		return nil, err
	}
	if s.formPost, err = parseResponseMode(c.ResponseMode); err != nil {
		return nil, err
	}
	s.cookies.formPost = s.formPost
	if s.endSession, err = parseEndSessionOverrides(c); err != nil {
		return nil, err
	}
	s.idleRenewal = idleRenewalFor(s.idleTimeout)
	if err = parseProviderOptions(c, s); err != nil {
		return nil, err
	}
	if err = parseRevocationOptions(c, s); err != nil {
		return nil, err
	}
	if s.bearer, err = parseBearerSettings(c, s.identityHeaders); err != nil {
		return nil, err
	}
	for _, alg := range c.AllowedAlgorithms {
		if !supportedAlgorithm(alg) {
			return nil, fmt.Errorf("allowedAlgorithms: %q is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, HS256, HS384, HS512", alg)
		}
		s.allowedAlgorithms = append(s.allowedAlgorithms, alg)
	}
	return s, nil
}
