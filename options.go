package ags

// Config is the middleware's configuration, as Traefik decodes it from the dynamic
// configuration (file provider, Docker or Kubernetes labels, a Kubernetes Middleware).
// Every option left empty is read from the environment variable named in its comment,
// so that a deployment of the Python ags_client carries over unchanged; then the
// default applies. Booleans accept true, false, True, False, 1 and 0; durations accept
// Go durations ("90s", "12h") or whole seconds.
type Config struct {
	// Issuer is the identity provider's issuer URL; discovery reads
	// {Issuer}/.well-known/openid-configuration, whose issuer must equal it exactly.
	// Required. Environment: AGS_CLIENT_ISSUER.
	Issuer string `json:"issuer,omitempty"`
	// ClientID is the client registered at the provider. Required. Environment: AGS_CLIENT_ID.
	ClientID string `json:"clientID,omitempty"`
	// ClientSecret is the client's secret; also the key for HS256/384/512 ID tokens.
	// Required unless ClientSecretFile is set. Environment: AGS_CLIENT_SECRET.
	ClientSecret string `json:"clientSecret,omitempty"`
	// ClientSecretFile names a file holding the client secret (Docker and Kubernetes
	// secrets); surrounding white space is ignored. Environment: AGS_CLIENT_SECRET_FILE.
	ClientSecretFile string `json:"clientSecretFile,omitempty"`
	// AuthenticatedPaths are regular expressions (RE2) for the paths that need a
	// signed-in user, each anchored at both ends, leading and one trailing "/" optional.
	// Required. Environment: AGS_CLIENT_AUTHENTICATED_PATHS, comma separated.
	AuthenticatedPaths []string `json:"authenticatedPaths,omitempty"`
	// PublicPaths are expressions written as AuthenticatedPaths for paths that stay
	// open even where an authenticated path matches, so [".*"] with [healthz,
	// "static/.*"] protects all but these. A path opens only if every reading of it
	// that an authenticated path matches is matched here too. Empty: none.
	// Environment: AGS_CLIENT_PUBLIC_PATHS, comma separated.
	PublicPaths []string `json:"publicPaths,omitempty"`
	// SignOutPath is the app's sign-out view. Default "sign-out", i.e. /sign-out.
	// Environment: AGS_CLIENT_SIGN_OUT_PATH.
	SignOutPath string `json:"signOutPath,omitempty"`
	// Debug shows detailed error pages and logs more. It MUST NOT be used in
	// production: error pages then name the failed check and the values compared.
	// Default false. Environment: AGS_CLIENT_DEBUG.
	Debug string `json:"debug,omitempty"`
	// LogPath, when set, is a file that every log line is also appended to.
	// Environment: AGS_CLIENT_LOG_PATH.
	LogPath string `json:"logPath,omitempty"`
	// LogFormat is how log lines read: "text" (a line of text, as ags always wrote),
	// "json" (one JSON object per line, with Traefik's field names, for a Traefik run
	// with log.format json), or "auto": json when Traefik was started with
	// --log.format=json or TRAEFIK_LOG_FORMAT=json, else text (a format set in
	// Traefik's configuration file cannot be seen by a plugin). Default "auto".
	// Environment: AGS_CLIENT_LOG_FORMAT.
	LogFormat string `json:"logFormat,omitempty"`
	// SessionCookie names the session cookie; chunks add _1 to _9, pending logins
	// _login_{state}, sign-out state _signout. Default "ags_client_session".
	// Environment: AGS_CLIENT_SESSION_COOKIE.
	SessionCookie string `json:"sessionCookie,omitempty"`
	// SessionSecret holds one or more comma-separated secrets of at least 32 bytes:
	// the first seals, all open, so a secret can be rotated. Empty: one random secret
	// per Traefik process, so sessions do not survive a restart or span replicas.
	// Environment: AGS_CLIENT_SESSION_SECRET.
	SessionSecret string `json:"sessionSecret,omitempty"`
	// CallbackPath is where the provider sends the browser back. Default
	// "oidc_callback", i.e. /oidc_callback. Environment: AGS_CLIENT_CALLBACK_PATH.
	CallbackPath string `json:"callbackPath,omitempty"`
	// FeatureFlagCookie names the cookie that switches ags on ("1") or off ("0") for a
	// browser. Default "ags_client_active". Environment: AGS_CLIENT_FEATURE_FLAG_COOKIE.
	FeatureFlagCookie string `json:"featureFlagCookie,omitempty"`
	// FeatureFlagDefault is the flag for a browser without the cookie. Default true.
	// Environment: AGS_CLIENT_FEATURE_FLAG_DEFAULT.
	FeatureFlagDefault string `json:"featureFlagDefault,omitempty"`
	// FeatureFlagToggle makes /toggle-feature/{FeatureFlagCookie} flip the flag. With
	// the toggle on, any visitor can turn ags off for their own browser and reach the
	// authenticated paths signed out: set it to false when ags must be a strict gate.
	// Default true (as in ags_client). Environment: AGS_CLIENT_FEATURE_FLAG_TOGGLE.
	FeatureFlagToggle string `json:"featureFlagToggle,omitempty"`
	// VerifySSL false skips TLS verification of the provider. It MUST NOT be used
	// outside a test set-up: anyone on the path can then impersonate the provider.
	// Default true. Environment: AGS_CLIENT_VERIFY_SSL.
	VerifySSL string `json:"verifySSL,omitempty"`
	// Scopes are the space-separated scopes asked for; must contain openid.
	// Default "openid profile email". Environment: AGS_CLIENT_SCOPES.
	Scopes string `json:"scopes,omitempty"`
	// SessionLifetime is how long a session lasts after sign-in. Default 12h.
	// Environment: AGS_CLIENT_SESSION_LIFETIME.
	SessionLifetime string `json:"sessionLifetime,omitempty"`
	// CookieSecure is auto (Secure when the request came over https, directly or by
	// X-Forwarded-Proto), true or false. Default auto. Environment: AGS_CLIENT_COOKIE_SECURE.
	CookieSecure string `json:"cookieSecure,omitempty"`
	// CookieDomain is the cookies' Domain attribute. Empty: host-only cookies.
	// Environment: AGS_CLIENT_COOKIE_DOMAIN.
	CookieDomain string `json:"cookieDomain,omitempty"`
	// SameSite is the cookies' SameSite attribute: Lax, Strict or None (None implies
	// Secure). Default Lax. Environment: AGS_CLIENT_SAME_SITE.
	SameSite string `json:"sameSite,omitempty"`
	// IdentityHeaders maps more claims (ID token, then userinfo) to request headers for
	// the app. Environment: AGS_CLIENT_IDENTITY_HEADERS, as claim=Header,claim=Header.
	IdentityHeaders map[string]string `json:"identityHeaders,omitempty"`
	// PassAccessToken sends the access token to the app as X-Auth-Request-Access-Token
	// and Authorization: Bearer. Default false. Environment: AGS_CLIENT_PASS_ACCESS_TOKEN.
	PassAccessToken string `json:"passAccessToken,omitempty"`
	// PassIDToken sends the raw ID token to the app as X-Auth-Request-Id-Token.
	// Default false. Environment: AGS_CLIENT_PASS_ID_TOKEN.
	PassIDToken string `json:"passIDToken,omitempty"`
	// CAFile names a PEM file of certificate authorities trusted for the provider, in
	// place of the system's. Environment: AGS_CLIENT_CA_FILE.
	CAFile string `json:"caFile,omitempty"`
	// Timeout bounds every call to the provider. Default 10s. Environment: AGS_CLIENT_TIMEOUT.
	Timeout string `json:"timeout,omitempty"`
	// ClockSkew is the leeway for the ID token's exp, iat and nbf. Default 60s.
	// Environment: AGS_CLIENT_CLOCK_SKEW.
	ClockSkew string `json:"clockSkew,omitempty"`
	// Refresh keeps the refresh token in the session and renews an expired access
	// token with it; a failed renewal ends the session. Default false.
	// Environment: AGS_CLIENT_REFRESH.
	Refresh string `json:"refresh,omitempty"`
	// AllowedAlgorithms narrows the ID-token signature algorithms accepted (RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, HS256, HS384,
	// HS512). Empty: every one of those the provider announces.
	// Environment: AGS_CLIENT_ALLOWED_ALGORITHMS, comma separated.
	AllowedAlgorithms []string `json:"allowedAlgorithms,omitempty"`
	// AllowUnverifiedEmail passes the e-mail address to the app even when the
	// provider says email_verified is false. It MUST NOT be used when the app keys
	// accounts on the address and the provider lets users claim any address: anyone
	// could then sign in as someone else. Default false (an absent email_verified
	// passes). Environment: AGS_CLIENT_ALLOW_UNVERIFIED_EMAIL.
	AllowUnverifiedEmail string `json:"allowUnverifiedEmail,omitempty"`
	// RequiredClaims says who may pass on the authenticated paths: claim name to the
	// values allowed. Every claim named must equal one of its values or, for an array,
	// hold one; strings, booleans and numbers compare as their JSON text. A dotted name
	// is looked up whole, then as a path into nested objects (realm_access.roles).
	// Empty: no rule. Environment: AGS_CLIENT_REQUIRED_CLAIMS, as
	// claim=value|value,claim=value.
	RequiredClaims map[string]interface{} `json:"requiredClaims,omitempty"`
	// AllowedEmailDomains are the domains the user's e-mail address must be at (an
	// address whose email_verified is false never matches). Empty: no rule.
	// Environment: AGS_CLIENT_ALLOWED_EMAIL_DOMAINS, comma separated.
	AllowedEmailDomains []string `json:"allowedEmailDomains,omitempty"`
	// AllowedUsers are the users who may pass, by sub or e-mail address. Empty: no
	// rule. Environment: AGS_CLIENT_ALLOWED_USERS, comma separated.
	AllowedUsers []string `json:"allowedUsers,omitempty"`
	// CacheSize bounds the memory given to the sessions ags has opened, so that a
	// signed-in request neither decrypts nor decodes: 64MiB, 512KiB, or bytes (KB, MB,
	// GB count as KiB, MiB, GiB). One cache per configuration: instances with the same
	// options (several routers, a reload) share it. Six eighths hold what each
	// browser's Cookie header means, about 1.1 KB a browser, so 64 MiB holds some
	// 45,000 active at once; an eighth holds the opened sessions themselves (for a
	// new Cookie header with a known session), an eighth what visitors without a
	// session send. Default 64MiB. Environment: AGS_CLIENT_CACHE_SIZE.
	CacheSize string `json:"cacheSize,omitempty"`

	// ClientAuthMethod is how ags authenticates at the token endpoint: auto (the first
	// the provider announces of client_secret_basic, client_secret_post with a secret,
	// private_key_jwt with a key), client_secret_basic, client_secret_post,
	// client_secret_jwt (HS256 keyed by the secret) or private_key_jwt (RFC 7523, a JWT
	// signed by the client's key). Default auto. Environment: AGS_CLIENT_AUTH_METHOD.
	ClientAuthMethod string `json:"clientAuthMethod,omitempty"`
	// ClientPrivateKeyFile names a PEM file holding the client's private key for
	// private_key_jwt: PKCS #8, PKCS #1 or SEC 1; RSA of at least 2048 bits, P-256,
	// P-384, P-521 or Ed25519. With a key, clientSecret is not required.
	// Environment: AGS_CLIENT_PRIVATE_KEY_FILE.
	ClientPrivateKeyFile string `json:"clientPrivateKeyFile,omitempty"`
	// ClientPrivateKey is the PEM key itself, in place of ClientPrivateKeyFile (so that
	// a urn:k8s:secret: reference works). Environment: AGS_CLIENT_PRIVATE_KEY.
	ClientPrivateKey string `json:"clientPrivateKey,omitempty"`
	// ClientKeyID is the kid header of the client assertion. Empty: the key's RFC 7638
	// thumbprint. Environment: AGS_CLIENT_KEY_ID.
	ClientKeyID string `json:"clientKeyID,omitempty"`
	// ClientSigningAlgorithm is the client assertion's alg. Empty: from the key (RS256,
	// ES256, ES384, ES512, EdDSA; HS256 with client_secret_jwt); PS256 for an RSA key
	// when the provider announces it; HS384 or HS512 with client_secret_jwt.
	// Environment: AGS_CLIENT_SIGNING_ALGORITHM.
	ClientSigningAlgorithm string `json:"clientSigningAlgorithm,omitempty"`
	// ClientAssertionAudience is the client assertion's aud: token_endpoint (the token
	// endpoint's URL, as OpenID Connect Core section 9 and GOV.UK One Login ask) or
	// issuer (the issuer URL, as FAPI 2.0, Auth0 and ZITADEL ask). Default
	// token_endpoint. Environment: AGS_CLIENT_ASSERTION_AUDIENCE.
	ClientAssertionAudience string `json:"clientAssertionAudience,omitempty"`
	// AuthParams are extra parameters of the authorization request, such as vtr,
	// ui_locales, prompt, acr_values or login_hint; the protocol's own (state, nonce,
	// redirect_uri, client_id, response_type, scope, code_challenge,
	// code_challenge_method, response_mode) are refused.
	// Environment: AGS_CLIENT_AUTH_PARAMS, as name=value&name=value.
	AuthParams map[string]string `json:"authParams,omitempty"`
	// RequestObject sends the authorization request as a JWT signed with the client's
	// private key (RFC 9101), so that no parameter can be changed on the way; it needs
	// clientPrivateKeyFile or clientPrivateKey, and a provider that announces
	// request_parameter_supported. Default false. Environment: AGS_CLIENT_REQUEST_OBJECT.
	RequestObject string `json:"requestObject,omitempty"`
	// RequestObjectAudience is the request object's aud: issuer (RFC 9101, FAPI) or
	// authorization_endpoint (GOV.UK One Login). Default issuer.
	// Environment: AGS_CLIENT_REQUEST_OBJECT_AUDIENCE.
	RequestObjectAudience string `json:"requestObjectAudience,omitempty"`
	// CoreIdentityDIDURL is the DID document whose keys sign GOV.UK One Login's
	// coreIdentityJWT, asked for in authParams claims. Default, for One Login's
	// issuers only: its identity service's did.json. Environment:
	// AGS_CLIENT_CORE_IDENTITY_DID_URL.
	CoreIdentityDIDURL string `json:"coreIdentityDIDURL,omitempty"`
	// CoreIdentityIssuer is the coreIdentityJWT's iss. Default, for One Login's
	// issuers only: its identity service. Environment: AGS_CLIENT_CORE_IDENTITY_ISSUER.
	CoreIdentityIssuer string `json:"coreIdentityIssuer,omitempty"`
	// StepUp sends a signed-in user whom this instance refuses (its vtr, its core
	// identity, its access rules) to the provider once, from a browser, with this
	// instance's authParams; the new session replaces the old, and only if it is
	// refused too does the user get the 403. Default false (the 403 at once).
	// Environment: AGS_CLIENT_STEP_UP.
	StepUp string `json:"stepUp,omitempty"`

	// ExternalURL pins the scheme and host of the redirect_uri and of the
	// post-logout address, such as https://app.example.org, whatever the request's
	// Host and X-Forwarded-Proto say (behind a load balancer that ends TLS and that
	// Traefik does not trust). Empty: the request's. Environment: AGS_CLIENT_EXTERNAL_URL.
	ExternalURL string `json:"externalURL,omitempty"`
	// CORSPreflight lets an OPTIONS request with Origin and
	// Access-Control-Request-Method reach the app without a session (and without
	// identity), so that a single-page app on another origin can call an API here.
	// The app's CORS policy then decides alone what such a request may learn.
	// Default false. Environment: AGS_CLIENT_CORS_PREFLIGHT.
	CORSPreflight string `json:"corsPreflight,omitempty"`
	// SessionIdleTimeout ends a session not used for that long (such as 15m, at
	// least 2m); sessionLifetime stays the cap. The last use is sealed in the session
	// cookie and sealed again at most once per a tenth of it (at least a minute), so
	// a session ends between 90% and 100% of it after its last use. Empty: off.
	// Environment: AGS_CLIENT_SESSION_IDLE_TIMEOUT.
	SessionIdleTimeout string `json:"sessionIdleTimeout,omitempty"`
	// AuthHost is the one host that receives every callback, such as
	// auth.example.org (a port allowed, no scheme or path), so that the provider
	// knows one redirect_uri, {scheme}://{AuthHost}/{callbackPath}, and one
	// post_logout_redirect_uri, {scheme}://{AuthHost}/{signOutPath}; the scheme is
	// externalURL's when set, else the request's. A login started on any host comes
	// back, after the callback on AuthHost, to the address it started at, sealed in
	// its pending login, when that host is under cookieDomain or in
	// AllowedRedirectHosts (else to "/" on AuthHost). Needs cookieDomain, which
	// AuthHost must be under; ags must be on AuthHost's router too, with the same
	// options. Empty: every host is its own callback host. Environment:
	// AGS_CLIENT_AUTH_HOST.
	AuthHost string `json:"authHost,omitempty"`
	// AllowedRedirectHosts are host names outside cookieDomain that the browser may
	// be sent back to after a sign-in or sign-out on AuthHost. The session cookie is
	// for cookieDomain only: such a host gets the browser back, not the session.
	// Needs AuthHost. Empty: cookieDomain's hosts only. Environment:
	// AGS_CLIENT_ALLOWED_REDIRECT_HOSTS, comma separated.
	AllowedRedirectHosts []string `json:"allowedRedirectHosts,omitempty"`

	// AllowedTenants are the tenant IDs that may sign in when discovery announces an
	// issuer template with {tenantid} (Entra ID's organizations and common
	// endpoints): a token's iss must then be the template with its own tid, and tid
	// one of these. Empty: a template issuer is refused. Environment:
	// AGS_CLIENT_ALLOWED_TENANTS, comma separated.
	AllowedTenants []string `json:"allowedTenants,omitempty"`
	// AllowAnyTenant admits every tenant of a template issuer. It MUST NOT be used
	// unless the app itself decides who may use it (by tid or requiredClaims):
	// anyone with an account in any tenant, one made for the purpose included, can
	// then sign in. Default false. Environment: AGS_CLIENT_ALLOW_ANY_TENANT.
	AllowAnyTenant string `json:"allowAnyTenant,omitempty"`
	// Userinfo says whether the userinfo endpoint is called at sign-in: auto (when
	// announced; a failure is logged and the ID token's claims stand), required (a
	// failure fails the sign-in) or off. A userinfo answer naming another sub always
	// fails the sign-in. Default auto. Environment: AGS_CLIENT_USERINFO.
	Userinfo string `json:"userinfo,omitempty"`
	// AccessTokenClaims verifies a JWT access token as an ID token is (the key set,
	// the algorithms, iss, exp; any aud) and reads its claims after the ID token's
	// and userinfo's (Keycloak's realm_access.roles). An opaque access token then
	// fails the sign-in. Default false. Environment: AGS_CLIENT_ACCESS_TOKEN_CLAIMS.
	AccessTokenClaims string `json:"accessTokenClaims,omitempty"`
	// JWKSURL replaces the key set URL that discovery announces, whole, query
	// included (Entra ID's ?appid= for apps with claims mapping). Empty: the
	// announced jwks_uri. Environment: AGS_CLIENT_JWKS_URL.
	JWKSURL string `json:"jwksURL,omitempty"`
	// ResponseMode is how the provider sends the browser back: query (a GET to
	// callbackPath) or form_post (a POST of a form, as Apple requires when the name or
	// e-mail address is asked for). With form_post the callback accepts only a POST,
	// and the pending-login cookie is SameSite=None and Secure, since a browser sends
	// no Lax cookie on the provider's cross-site POST: the site must then be served
	// over https. Default query. Environment: AGS_CLIENT_RESPONSE_MODE.
	ResponseMode string `json:"responseMode,omitempty"`
	// AppleTeamID makes ags sign Sign in with Apple's client secret itself, a JWT
	// (ES256, iss this team ID, sub clientID, aud the issuer) signed with the .p8 key
	// in clientPrivateKeyFile under clientKeyID (Apple's Key ID), renewed before it
	// expires; it is sent as client_secret_post, in place of clientSecret.
	// Empty: off. Environment: AGS_CLIENT_APPLE_TEAM_ID.
	AppleTeamID string `json:"appleTeamID,omitempty"`
	// ClientCertificateFile names a PEM file holding the certificate of the client's
	// private key; its SHA-256 and SHA-1 thumbprints go in the client assertion's
	// header (x5t#S256, x5t), as Entra ID's certificate credentials require. It must
	// match the key. Empty: none. Environment: AGS_CLIENT_CERTIFICATE_FILE.
	ClientCertificateFile string `json:"clientCertificateFile,omitempty"`
	// EndSessionURL is where sign-out sends the browser, in place of the
	// end_session_endpoint the provider announces (or where it announces none:
	// Cognito's https://DOMAIN/logout, Auth0's https://TENANT/v2/logout). Empty: the
	// announced one. Environment: AGS_CLIENT_END_SESSION_URL.
	EndSessionURL string `json:"endSessionURL,omitempty"`
	// EndSessionParams maps the sign-out parameters ags sends (id_token_hint,
	// post_logout_redirect_uri, client_id, state, logout_hint) to the names the
	// provider reads; when set, only the parameters it maps are sent (Cognito:
	// post_logout_redirect_uri: logout_uri, client_id: client_id). Empty: the standard
	// names, all of them. Environment: AGS_CLIENT_END_SESSION_PARAMS, as
	// name=providerName,name=providerName.
	EndSessionParams map[string]string `json:"endSessionParams,omitempty"`
	// BackChannelLogoutPath is where the provider POSTs its logout tokens (OpenID
	// Connect Back-Channel Logout 1.0), such as "backchannel-logout": register its
	// absolute URL as the client's backchannel_logout_uri. Each token ends every
	// session of its sid (or of its sub) in this Traefik, on every route of this
	// client; with revocationStore, on every replica. It turns revocation on, so that
	// ags's own sign-out ends the session for every copy of its cookie too. Set it on
	// every instance of the client. Empty: off. Environment:
	// AGS_CLIENT_BACK_CHANNEL_LOGOUT_PATH.
	BackChannelLogoutPath string `json:"backChannelLogoutPath,omitempty"`
	// RevocationStore shares revocations (back-channel logouts, sign-outs) with every
	// replica: redis://[user:password@]host[:port][/db], or rediss:// for TLS; Redis
	// 6 or later, or Valkey. Each replica keeps the set in memory and subscribes to
	// the store; while the store is away, sessions keep working and revocations apply
	// on the replica that received them, and are written when it is back. It turns
	// revocation on. Empty: revocations reach this Traefik process only. Environment:
	// AGS_CLIENT_REVOCATION_STORE.
	RevocationStore string `json:"revocationStore,omitempty"`
	// RevocationStorePasswordFile names a file holding the store's password, in place
	// of one in the URL. Empty: the URL's, or none. Environment:
	// AGS_CLIENT_REVOCATION_STORE_PASSWORD_FILE.
	RevocationStorePasswordFile string `json:"revocationStorePasswordFile,omitempty"`
	// RevocationStoreCAFile names a PEM file of the certificates that a rediss://
	// store's certificate must chain to. Empty: the system's. Environment:
	// AGS_CLIENT_REVOCATION_STORE_CA_FILE.
	RevocationStoreCAFile string `json:"revocationStoreCAFile,omitempty"`
	// BearerTokens lets API clients in with a token in place of a cookie: a request
	// with Authorization: Bearer is judged by its JWT access token (signed by the
	// issuer's keys, for one of BearerAudiences) and never by a cookie; a failure is a
	// 401 or a 403, never a redirect. Default false. Environment: AGS_CLIENT_BEARER_TOKENS.
	BearerTokens string `json:"bearerTokens,omitempty"`
	// BearerAudiences are the resource identifiers this API answers to: a token's aud
	// must hold one of them. Required with BearerTokens. Environment:
	// AGS_CLIENT_BEARER_AUDIENCES, comma separated.
	BearerAudiences []string `json:"bearerAudiences,omitempty"`
	// BearerIntrospection asks the provider's introspection_endpoint (RFC 7662) about
	// a token that is not a JWT, with the client's own authentication. Needs
	// BearerTokens. Default false. Environment: AGS_CLIENT_BEARER_INTROSPECTION.
	BearerIntrospection string `json:"bearerIntrospection,omitempty"`
	// IntrospectionURL is where bearerIntrospection asks, in place of the
	// introspection_endpoint that discovery announces (Ory Hydra announces none: its
	// introspection is the admin API's /admin/oauth2/introspect). Empty: the
	// announced one. Environment: AGS_CLIENT_INTROSPECTION_URL.
	IntrospectionURL string `json:"introspectionURL,omitempty"`
}

// CreateConfig returns the default configuration. Options whose default depends on
// the environment stay empty here and are settled in New.
func CreateConfig() *Config {
	return &Config{IdentityHeaders: map[string]string{}, RequiredClaims: map[string]interface{}{}, AuthParams: map[string]string{}, EndSessionParams: map[string]string{}}
}
