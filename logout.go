package ags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a
// logout token, a JWT naming a provider session (sid), a user (sub) or both, to
// backChannelLogoutPath, and every session it names ends (revocation.go). The token
// is checked as an ID token is, by the same key set, algorithms and signature check
// (idTokenVerifier.verifySignature), then by the rules of its kind
// (logoutTokenRules). The answer is for the provider, never for a browser: no
// redirect, no page, no cookie.

// backChannelLogoutEvent is the member of a logout token's events claim.
const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxLogoutTokenAge is how old a logout token may be (its iat), besides clockSkew: a
// provider sends it at once, and its jti is remembered for that long at least.
const maxLogoutTokenAge = 5 * time.Minute

// maxLogoutBody bounds the provider's POST: a form with one JWT.
const maxLogoutBody = 64 << 10

var errLogoutToken = errors.New("logout token rejected")

// logoutToken is what a verified logout token says.
type logoutToken struct {
	sid, sub, jti string
	iat           time.Time
	until         time.Time // when its jti can be forgotten
}

// parseRevocationOptions reads backChannelLogoutPath and the revocation store, and
// whether revocation is on: with either.
func parseRevocationOptions(c *Config, s *settings) error {
	if v := c.BackChannelLogoutPath; v != "" {
		p := strings.Trim(v, "/")
		if p == "" || !pathOptionPattern.MatchString(p) || strings.Contains(p, "//") {
			return fmt.Errorf("backChannelLogoutPath must be a path such as \"backchannel-logout\", got %q", v)
		}
		s.backChannelLogoutPath = "/" + p
		if s.backChannelLogoutPath == s.callbackPath || s.backChannelLogoutPath == s.signOutPath {
			return fmt.Errorf("backChannelLogoutPath must differ from callbackPath and signOutPath, got %q", v)
		}
	}
	var err error
	if s.store, err = parseRevocationStore(c); err != nil {
		return err
	}
	s.revocation = s.backChannelLogoutPath != "" || s.store != nil
	return nil
}

// useRevocations turns revocation on for m: the set of its client, reaching m's
// view cache.
func useRevocations(m *middleware) {
	revs := revocationsOf(m.cfg.issuer, m.cfg.clientID)
	revs.useLifetime(m.cfg.sessionLifetime + m.cfg.clockSkew)
	revs.addCache(m.views)
	m.views.useRevocations(revs)
	m.revs = revs
	if a := m.cfg.store; a != nil {
		st := storeAt(a)
		scope := storeScope(m.cfg.issuer, m.cfg.clientID)
		st.attach(scope, storedSet{
			apply:    func(rs []revocation) { revs.apply(rs) },
			snapshot: func() []revocation { return revs.snapshot() },
		}, m.log)
		revs.useStore(st, scope)
	} else {
		revs.useStore(nil, "")
	}
}

// backChannelLogout serves the provider's POST of a logout token.
func (m *middleware) backChannelLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		logoutAnswer(w, http.StatusMethodNotAllowed, "invalid_request", "a logout token is POSTed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	raw := ""
	if err := r.ParseForm(); err == nil {
		raw = r.PostForm.Get("logout_token")
	}
	if raw == "" {
		m.log.write("WARN", logEvent{event: "back-channel-logout", reason: "no logout_token"}, "back-channel logout refused: no logout_token in a form body")
		logoutAnswer(w, http.StatusBadRequest, "invalid_request", "logout_token missing")
		return
	}
	p, err := m.provider(r.Context())
	var tok *logoutToken
	if err == nil {
		tok, err = verifyLogoutToken(r.Context(), p.verifier, raw)
	}
	if err == nil && !m.revs.firstUse(tok.jti, tok.until.Unix()) {
		err = fmt.Errorf("%w: jti seen before", errLogoutToken)
	}
	if err != nil {
		m.log.write("WARN", logEvent{event: "back-channel-logout", reason: err.Error()}, "back-channel logout refused: %v", err)
		if errors.Is(err, errKeySetUnavailable) || p == nil {
			// The provider's keys cannot be had: not the token's fault, and the
			// provider sends it again.
			logoutAnswer(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the provider's keys cannot be had")
			return
		}
		logoutAnswer(w, http.StatusBadRequest, "invalid_request", "logout token rejected")
		return
	}
	m.revs.revoke(logoutRevocations(m, tok))
	m.log.write("INFO", logEvent{event: "back-channel-logout", sub: tok.sub}, "back-channel logout sub=%q sid=%t", tok.sub, tok.sid != "")
	logoutAnswer(w, http.StatusOK, "", "")
}

// logoutRevocations are the entries a logout token adds: its sid's sessions, and
// its sub's (those without a sid when it names a sid too), each signed in before
// the provider ended them: at the token's iat, or when it arrived if that is later,
// by at most clockSkew (so that a copy of the token sent again later ends no session
// signed in since).
func logoutRevocations(m *middleware, tok *logoutToken) []revocation {
	before := m.now()
	if limit := tok.iat.Add(m.cfg.clockSkew); before.After(limit) {
		before = limit
	}
	if before.Before(tok.iat) {
		before = tok.iat
	}
	var rs []revocation
	if tok.sid != "" {
		rs = append(rs, m.revs.entryFor(revokeSid, tok.sid, before))
		if tok.sub != "" {
			rs = append(rs, m.revs.entryFor(revokeSidless, tok.sub, before))
		}
		return rs
	}
	return append(rs, m.revs.entryFor(revokeSub, tok.sub, before))
}

// logoutAnswer answers the provider: 200 with nothing, or an error as RFC 6749
// section 5.2 writes it.
func logoutAnswer(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if code == "" {
		w.WriteHeader(status)
		return
	}
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// verifyLogoutToken checks a logout token: its signature as an ID token's (the
// algorithm allowed before any key is looked up; never none), then its claims.
func verifyLogoutToken(ctx context.Context, v *idTokenVerifier, raw string) (*logoutToken, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLogoutToken, err)
	}
	if err := v.verifySignature(ctx, t); err != nil {
		return nil, fmt.Errorf("%w: %w", errLogoutToken, err)
	}
	claims, err := decodeClaims(t.payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", errLogoutToken)
	}
	tok, err := logoutTokenRules(v, claims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLogoutToken, err)
	}
	return tok, nil
}

// logoutTokenRules are the claim checks of a logout token (Back-Channel Logout 1.0
// section 2.6): iss, aud (and azp) as an ID token's; iat within clockSkew of now and
// at most maxLogoutTokenAge old; exp, when present, not past; the back-channel
// logout event; a sid or a sub, or both; no nonce (so that an ID token is never
// taken for one); a jti.
func logoutTokenRules(v *idTokenVerifier, c map[string]interface{}) (*logoutToken, error) {
	iss, _ := c["iss"].(string)
	if iss != v.issuer {
		return nil, fmt.Errorf("%w: iss %q, want %q", errIssuer, jwsTruncate(iss), v.issuer)
	}
	if err := v.checkAudience(c); err != nil {
		return nil, err
	}
	now, skew := v.now(), v.clockSkew
	iat, ok := numericDate(c["iat"])
	if !ok {
		return nil, fmt.Errorf("%w: iat missing or not a number", errIssuedAt)
	}
	if numericDateBefore(now.Add(skew), iat) || !numericDateBefore(now.Add(-skew-maxLogoutTokenAge), iat) {
		return nil, fmt.Errorf("%w: iat %s, now %s", errIssuedAt, formatNumericDate(iat), now.UTC().Format(time.RFC3339))
	}
	tok := &logoutToken{iat: numericDateTime(iat)}
	tok.until = tok.iat.Add(skew + maxLogoutTokenAge)
	if raw, present := c["exp"]; present {
		exp, ok := numericDate(raw)
		if !ok || !numericDateBefore(now.Add(-skew), exp) {
			return nil, fmt.Errorf("%w: exp not a number or past", errExpired)
		}
		if t := numericDateTime(exp).Add(skew); t.After(tok.until) {
			tok.until = t
		}
	}
	events, _ := c["events"].(map[string]interface{})
	if _, ok := events[backChannelLogoutEvent].(map[string]interface{}); !ok {
		return nil, errors.New("events claim without the back-channel logout event")
	}
	tok.sid = stringClaim(c, "sid")
	tok.sub = stringClaim(c, "sub")
	if tok.sid == "" && tok.sub == "" {
		return nil, errors.New("neither sid nor sub")
	}
	if _, present := c["nonce"]; present {
		return nil, fmt.Errorf("%w: a logout token has none", errNonce)
	}
	tok.jti = stringClaim(c, "jti")
	if tok.jti == "" {
		return nil, errors.New("jti missing")
	}
	return tok, nil
}

// stringClaim is claim name of c when it is a string; "" otherwise. (A function:
// under Yaegi, a comma-ok assertion in a loop can keep an earlier value.)
func stringClaim(c map[string]interface{}, name string) string {
	s, _ := c[name].(string)
	return s
}
