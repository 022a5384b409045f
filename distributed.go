package ags

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// Distributed claims (OpenID Connect Core section 5.6.2): a provider may leave a
// claim out of its tokens and name a source to fetch it from. Entra ID does so with
// groups for a user in more than 200 of them (the groups overage), so that a rule on
// groups would refuse exactly the administrators it was written for.

var errDistributed = errors.New("distributed claim source failed")

// distributedGroups fetches groups, once at sign-in, when neither the ID token nor
// userinfo has them and _claim_names.groups names a source of _claim_sources with an
// endpoint: with the source's access_token, else the sign-in's, through the
// provider's client (its timeout, the size limit). The groups are kept with the
// userinfo claims. A failure leaves groups absent, so that a rule on groups
// refuses, and is logged as the overage.
func (m *middleware) distributedGroups(ctx context.Context, sess *session, accessToken, sub string) {
	if claimValue(sess, "groups") != nil {
		return
	}
	endpoint, token, ok := claimSource(sess.Claims, "groups")
	if !ok {
		endpoint, token, ok = claimSource(sess.UserInfo, "groups")
	}
	if !ok {
		return
	}
	if token == "" {
		token = accessToken
	}
	groups, err := m.fetchDistributed(ctx, endpoint, token, "groups")
	if err != nil {
		m.log.write("WARN", logEvent{event: "sign-in", sub: sub, reason: "groups overage"},
			"sign-in sub=%q: groups overage: the provider sent _claim_names for groups instead of the claim, and its source failed: %v; a rule on groups refuses this user (Entra ID: see the README on app roles and groups assigned to the application)", sub, err)
		return
	}
	if sess.UserInfo == nil {
		sess.UserInfo = map[string]interface{}{}
	}
	sess.UserInfo["groups"] = groups
	m.log.info("sign-in sub=%q: groups overage: %d groups read from the distributed claim source", sub, len(groups))
}

// claimSource reads where _claim_names sends claim name in claims: the endpoint of
// its _claim_sources entry and that entry's access_token ("" when none).
func claimSource(claims map[string]interface{}, name string) (endpoint, token string, ok bool) {
	names, _ := claims["_claim_names"].(map[string]interface{})
	sources, _ := claims["_claim_sources"].(map[string]interface{})
	source, _ := names[name].(string)
	entry, _ := sources[source].(map[string]interface{})
	endpoint, _ = entry["endpoint"].(string)
	token, _ = entry["access_token"].(string)
	return endpoint, token, endpoint != ""
}

// fetchDistributed reads claim name, a JSON array, from a distributed claim source.
// The endpoint must be https, or http when the issuer is (a local test set-up).
func (m *middleware) fetchDistributed(ctx context.Context, endpoint, token, name string) ([]interface{}, error) {
	u, err := url.Parse(endpoint)
	issuer, _ := url.Parse(m.cfg.issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && issuer.Scheme == "http") {
		return nil, fmt.Errorf("%w: endpoint %q is not an https URL", errDistributed, jwsTruncate(endpoint))
	}
	body, err := m.get(ctx, endpoint, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errDistributed, u.Host, err)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the answer is not a JSON object (signed claims are not supported)", errDistributed, u.Host)
	}
	list, ok := claims[name].([]interface{})
	if !ok {
		return nil, fmt.Errorf("%w: %s: the answer has no %s list", errDistributed, u.Host, name)
	}
	return list, nil
}
