package ags

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// How option values are read: each parser takes one option's text and says, naming
// the option, what is wrong with it. validate (config.go) calls them in turn.

// parseCookieSettings reads cookieSecure, cookieDomain and sameSite.
func parseCookieSettings(c *Config) (cookieSettings, error) {
	var cs cookieSettings
	switch strings.ToLower(c.CookieSecure) {
	case "auto":
		cs.secure = ""
	case "true", "1":
		cs.secure = "true"
	case "false", "0":
		cs.secure = "false"
	default:
		return cs, fmt.Errorf("cookieSecure must be auto, true or false, got %q", c.CookieSecure)
	}
	if c.CookieDomain != "" && !cookieNamePattern.MatchString(c.CookieDomain) {
		return cs, fmt.Errorf("cookieDomain must be a domain name, got %q", c.CookieDomain)
	}
	cs.domain = c.CookieDomain
	switch strings.ToLower(c.SameSite) {
	case "lax":
		cs.sameSite = http.SameSiteLaxMode
	case "strict":
		cs.sameSite = http.SameSiteStrictMode
	case "none":
		cs.sameSite = http.SameSiteNoneMode
	default:
		return cs, fmt.Errorf("sameSite must be Lax, Strict or None, got %q", c.SameSite)
	}
	return cs, nil
}

// parseBool accepts the spellings the seed's settings used.
func parseBool(option, v string) (bool, error) {
	switch v {
	case "true", "True", "TRUE", "1":
		return true, nil
	case "false", "False", "FALSE", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s must be true or false, got %q", option, v)
}

// parseByteSize accepts a size such as 64MiB, 512KiB, 1GB (KB, MB and GB count as
// KiB, MiB and GiB) or whole bytes, from 1 MiB to 16 GiB.
func parseByteSize(option, v string) (int, error) {
	s := strings.TrimSpace(v)
	unit := int64(1)
	// Separate statements: under Yaegi v0.16.1, "s, unit = ..., sizes[i]" in this
	// loop left unit unchanged.
	suffixes := []string{"KiB", "KB", "MiB", "MB", "GiB", "GB", "B"}
	sizes := []int64{1 << 10, 1 << 10, 1 << 20, 1 << 20, 1 << 30, 1 << 30, 1}
	for i, suffix := range suffixes {
		if strings.HasSuffix(s, suffix) {
			s = strings.TrimSpace(strings.TrimSuffix(s, suffix))
			unit = sizes[i]
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (16<<30)/unit || n*unit < 1<<20 {
		return 0, fmt.Errorf("%s must be a size from 1MiB to 16GiB, such as 64MiB, got %q", option, v)
	}
	return int(n * unit), nil
}

// parseDuration accepts a Go duration or whole seconds; it must be positive.
func parseDuration(option, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, aerr := strconv.Atoi(v)
		if aerr != nil {
			return 0, fmt.Errorf("%s must be a duration such as 30s or 12h, got %q", option, v)
		}
		d = time.Duration(secs) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s must be positive, got %q", option, v)
	}
	return d, nil
}

// pathOption turns "oidc_callback" or "/oidc_callback/" into "/oidc_callback".
func pathOption(option, v string) (string, error) {
	p := strings.Trim(v, "/")
	if p == "" || !pathOptionPattern.MatchString(p) || strings.Contains(p, "//") {
		return "", fmt.Errorf("%s must be a path such as %q, got %q", option, optionNamed(option).def, v)
	}
	return "/" + p, nil
}

// reservedHeader reports headers that identityHeaders must not overwrite.
func reservedHeader(h string) bool {
	switch http.CanonicalHeaderKey(h) {
	case "Host", "Cookie", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection":
		return true
	}
	return false
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newHTTPClient builds the client for every call to the provider.
func newHTTPClient(s *settings) *http.Client {
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       &tls.Config{RootCAs: s.rootCAs, InsecureSkipVerify: !s.verifySSL, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   s.timeout,
		ResponseHeaderTimeout: s.timeout,
	}
	return &http.Client{Transport: transport, Timeout: s.timeout}
}

// parseSecrets reads sessionSecret: comma-separated secrets of at least 32 bytes
// each; none when empty.
func parseSecrets(value string) ([]string, error) {
	if value == "" {
		return nil, nil
	}
	var secrets []string
	for i, secret := range strings.Split(value, ",") {
		secret = strings.TrimSpace(secret)
		if len(secret) < 32 {
			return nil, fmt.Errorf("sessionSecret must be at least 32 bytes (secret %d of the list has %d)", i+1, len(secret))
		}
		secrets = append(secrets, secret)
	}
	return secrets, nil
}

// parseScopes reads scopes: space separated, openid among them.
func parseScopes(value string) (string, error) {
	scopes := strings.Fields(value)
	for _, sc := range scopes {
		if sc == "openid" {
			return strings.Join(scopes, " "), nil
		}
	}
	return "", fmt.Errorf("scopes must contain openid, got %q", value)
}

// parseIdentityHeaders reads identityHeaders: claim to header name, the header
// canonical. Two claims may not share a header, nor a claim take one of ags's own
// (which value the app got would depend on map order, and differ between instances
// of one configuration): headers compare as a backend reads them (headerKey), and
// the error names both claims.
func parseIdentityHeaders(value map[string]string) (map[string]string, error) {
	headers := map[string]string{}
	claims := make([]string, 0, len(value))
	for claim := range value {
		claims = append(claims, claim)
	}
	sort.Strings(claims) // the same error for the same configuration
	taken := map[string]string{}
	for header, source := range agsHeaderSources {
		taken[headerKey(header)] = source
	}
	for _, claim := range claims {
		header := value[claim]
		if claim == "" || !headerNamePattern.MatchString(header) {
			return nil, fmt.Errorf("identityHeaders must map a claim to a header name, got %q: %q", claim, header)
		}
		if reservedHeader(header) {
			return nil, fmt.Errorf("identityHeaders cannot set %q", header)
		}
		key, source := headerKey(header), "claim "+strconv.Quote(claim)
		if other, ok := taken[key]; ok && other != source {
			return nil, fmt.Errorf("identityHeaders: %s and %s both map to header %s: give each its own header", other, source, key)
		}
		taken[key] = source
		headers[claim] = http.CanonicalHeaderKey(header)
	}
	return headers, nil
}

// agsHeaderSources are the headers ags sets itself, and what from, for
// parseIdentityHeaders' errors.
var agsHeaderSources = map[string]string{
	headerUser:              `claim "sub"`,
	headerEmail:             `claim "email"`,
	headerPreferredUsername: `claim "preferred_username"`,
	headerGroups:            `claim "groups"`,
	headerAccessToken:       "the access token (passAccessToken)",
	headerIDToken:           "the ID token (passIDToken)",
	headerIdentityLevel:     "the verified core identity",
	headerIdentity:          "the verified core identity",
	headerReturnCode:        "One Login's return codes",
	headerAuthorization:     "the app's own Authorization (or the access token, passAccessToken)",
}

// readCAFile reads caFile: PEM certificates; nil (the system's) when not set.
func readCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("caFile cannot be read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile %q holds no PEM certificate", path)
	}
	return pool, nil
}
