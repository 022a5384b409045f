package ags

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Sign-out at providers that do not follow OpenID Connect RP-Initiated Logout:
// Cognito signs out at /logout?client_id&logout_uri, Auth0 tenants from before late
// 2023 at /v2/logout?client_id&returnTo, neither announced in discovery.

// endSessionNames are the parameters ags may send at sign-out, by their standard
// names; endSessionParams renames them.
var endSessionNames = []string{"id_token_hint", "post_logout_redirect_uri", "client_id", "state", "logout_hint"}

// endSessionOverrides are endSessionURL and endSessionParams.
type endSessionOverrides struct {
	url    string            // "": the announced end_session_endpoint
	rename map[string]string // standard name -> the provider's; nil: all, as named
}

// resolveEndSessionParams reads AGS_CLIENT_END_SESSION_PARAMS when endSessionParams
// is empty: pairs name=providerName separated by commas.
func resolveEndSessionParams(params map[string]string, getenv func(string) string) map[string]string {
	if len(params) > 0 {
		return params
	}
	out := map[string]string{}
	for _, pair := range splitList(getenv(optionNamed("endSessionParams").env)) {
		name, to, _ := strings.Cut(pair, "=")
		out[strings.TrimSpace(name)] = strings.TrimSpace(to)
	}
	return out
}

// parseEndSessionOverrides reads endSessionURL (an absolute https URL, or http on
// loopback, its query kept) and endSessionParams.
func parseEndSessionOverrides(c *Config) (endSessionOverrides, error) {
	var o endSessionOverrides
	if c.EndSessionURL != "" {
		u, err := url.Parse(c.EndSessionURL)
		secure := err == nil && (u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()))
		if !secure || u.Host == "" || u.Fragment != "" {
			return o, fmt.Errorf("endSessionURL must be an absolute https URL without a fragment, got %q", c.EndSessionURL)
		}
		o.url = c.EndSessionURL
	}
	if len(c.EndSessionParams) == 0 {
		return o, nil
	}
	names := make([]string, 0, len(c.EndSessionParams))
	for name := range c.EndSessionParams {
		names = append(names, name)
	}
	sort.Strings(names) // the same error for the same configuration
	o.rename = map[string]string{}
	for _, name := range names {
		to := c.EndSessionParams[name]
		if !listContains(endSessionNames, name) {
			return o, fmt.Errorf("endSessionParams: %q is not one of %s", name, strings.Join(endSessionNames, ", "))
		}
		if !authParamName.MatchString(to) {
			return o, fmt.Errorf("endSessionParams: %s must map to a parameter name (letters, digits, _ . -), got %q", name, to)
		}
		o.rename[name] = to
	}
	return o, nil
}

// endSessionQuery is the sign-out request's parameters: the standard ones, or,
// with endSessionParams, only those it maps, under the provider's names.
func (o endSessionOverrides) endSessionQuery(standard url.Values) url.Values {
	if o.rename == nil {
		return standard
	}
	out := url.Values{}
	for name, to := range o.rename {
		if v := standard.Get(name); v != "" {
			out.Set(to, v)
		}
	}
	return out
}
