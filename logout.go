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
// is checked by the ID token's key set and algorithms (logoutTokenVerifier), then by
// the rules of its kind (logoutTokenRules). The answer is for the provider, never for a browser: no
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
		tok, err = verifyLogoutToken(r.Context(), p.logoutTokens, raw)
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

// logoutTokenVerifier is the verifier of logout tokens (Back-Channel Logout 1.0
// section 2.6): the ID token's key set, algorithms and aud; iss the issuer exactly;
// iat within clockSkew of now and at most maxLogoutTokenAge old; exp, when present,
// not past.
func logoutTokenVerifier(idTokens *jwtVerifier) *jwtVerifier {
	v := *idTokens
	v.template = nil
	v.times = timeRules{exp: claimWhenPresent, maxAge: maxLogoutTokenAge}
	return &v
}

// verifyLogoutToken checks a logout token with v and logoutTokenRules.
func verifyLogoutToken(ctx context.Context, v *jwtVerifier, raw string) (*logoutToken, error) {
	t, err := v.verify(ctx, raw, authorizedParty, logoutTokenRules)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLogoutToken, err)
	}
	c := t.claims
	iat, _ := numericDate(c["iat"])
	tok := &logoutToken{sid: stringClaim(c, "sid"), sub: stringClaim(c, "sub"), jti: stringClaim(c, "jti"), iat: numericDateTime(iat)}
	tok.until = tok.iat.Add(v.clockSkew + maxLogoutTokenAge)
	if exp, ok := numericDate(c["exp"]); ok {
		if t := numericDateTime(exp).Add(v.clockSkew); t.After(tok.until) {
			tok.until = t
		}
	}
	return tok, nil
}

// logoutTokenRules are the claim checks of a logout token's kind: the back-channel
// logout event; a sid or a sub, or both; no nonce (so that an ID token is never
// taken for one); a jti.
func logoutTokenRules(v *jwtVerifier, t *verifiedJWT) error {
	c := t.claims
	events, _ := c["events"].(map[string]interface{})
	if _, ok := events[backChannelLogoutEvent].(map[string]interface{}); !ok {
		return errors.New("events claim without the back-channel logout event")
	}
	if stringClaim(c, "sid") == "" && stringClaim(c, "sub") == "" {
		return errors.New("neither sid nor sub")
	}
	if _, present := c["nonce"]; present {
		return fmt.Errorf("%w: a logout token has none", errNonce)
	}
	if stringClaim(c, "jti") == "" {
		return errors.New("jti missing")
	}
	return nil
}
