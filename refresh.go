package ags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Renewal of an access token with the refresh token (refresh on). Providers that
// rotate refresh tokens with reuse detection (Okta, Auth0, Keycloak) revoke the whole
// grant when they see a refresh token twice, so a replica renews a session at most
// once: requests that carry the same session at once wait for the one renewal, and
// its outcome is kept, so that a request still carrying the old cookie afterwards
// gets the renewed session instead of sending the old refresh token again. No lock is
// held across the call to the provider, and sessions renew independently.

const (
	// maxRenewals bounds the outcomes kept; in-flight renewals are never dropped.
	maxRenewals = 4096
	// failedRenewalMemory is how long a failed renewal's outcome is kept: requests
	// with the same old cookie meanwhile end their session too, without a call.
	failedRenewalMemory = 30 * time.Second
	// minRenewalMemory is the least a successful outcome is kept.
	minRenewalMemory = time.Minute
)

// renewal is one renewal of a session, keyed by the refresh token it spends.
type renewal struct {
	done  chan struct{} // closed once sess or err is set
	sess  *session      // the renewed session
	err   error
	until time.Time // the outcome is kept until then; zero while in flight
}

// renewals holds the renewals in flight and the recent outcomes.
type renewals struct {
	mu    sync.Mutex
	byKey map[string]*renewal
}

func newRenewals() *renewals {
	return &renewals{byKey: map[string]*renewal{}}
}

// join returns the renewal of key, and whether the caller must run it (it is new).
func (rs *renewals) join(key string, now time.Time) (*renewal, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rn := rs.byKey[key]; rn != nil && (rn.until.IsZero() || now.Before(rn.until)) {
		return rn, false
	}
	if len(rs.byKey) >= maxRenewals {
		rs.prune(now)
	}
	rn := &renewal{done: make(chan struct{})}
	rs.byKey[key] = rn
	return rn, true
}

// finish records the outcome of rn and wakes those waiting for it.
func (rs *renewals) finish(rn *renewal, sess *session, err error, now time.Time) {
	rs.mu.Lock()
	rn.sess, rn.err = sess, err
	rn.until = now.Add(failedRenewalMemory)
	if err == nil {
		rn.until = now.Add(minRenewalMemory)
		if sess.AccessExpiry.After(rn.until) {
			rn.until = sess.AccessExpiry
		}
	}
	rs.mu.Unlock()
	close(rn.done)
}

// prune drops the outcomes that are over, then, if the map is still full, other
// outcomes (Go's map order is random). Called with rs.mu held.
func (rs *renewals) prune(now time.Time) {
	for key, rn := range rs.byKey {
		if !rn.until.IsZero() && !now.Before(rn.until) {
			delete(rs.byKey, key)
		}
	}
	for key, rn := range rs.byKey {
		if len(rs.byKey) < maxRenewals/2 {
			return
		}
		if !rn.until.IsZero() {
			delete(rs.byKey, key)
		}
	}
}

// endOrRenew handles a cached session that has ended or whose access token must be
// renewed: an ended session is forgotten; with refresh on, the access token is
// renewed once however many requests carry the session, and a failed renewal ends
// the session and clears its cookies on w.
func (m *middleware) endOrRenew(w http.ResponseWriter, r *http.Request, v *cookieView, now time.Time) *identity {
	if !now.Before(v.id.expiry) || idleOver(m, v.id, now) {
		m.forgetView(v)
		return nil
	}
	old := m.sessionOf(r, v.id)
	refreshDue := !v.id.refreshAt.IsZero() && !now.Before(v.id.refreshAt)
	if old != nil && m.cfg.idleTimeout > 0 && !refreshDue {
		return m.touchSession(w, r, v, old, now)
	}
	if old == nil || old.RefreshToken == "" {
		m.forgetView(v)
		return nil
	}
	rn, first := m.renewals.join(old.RefreshToken, m.now())
	if first {
		// Shared with every request that waits for it: one client going away must
		// not fail it for the others. The client's timeout still bounds it.
		sess, err := m.refreshGrant(context.WithoutCancel(r.Context()), old)
		m.renewals.finish(rn, sess, err, m.now())
	} else {
		select {
		case <-rn.done:
		case <-r.Context().Done():
			return nil
		}
	}
	err := rn.err
	var id *identity
	if err == nil {
		// The renewal is shared by instances whose options may differ: each seals
		// its own view block into a copy.
		fresh := *rn.sess
		if m.cfg.idleTimeout > 0 {
			fresh.LastUse = now
		}
		id = m.newIdentity(&fresh)
		saved := fresh
		saved.View = m.viewBlock(id)
		err = m.store.save(w, r, &saved)
	}
	if err != nil {
		if first {
			m.log.write("WARN", logEvent{event: "session-ended", reason: err.Error()}, "session ended: %v", err)
		}
		m.forgetView(v)
		m.store.clear(w, r)
		return nil
	}
	renewed := *v
	renewed.id = id
	renewed.id.sess = rn.sess // the browser may go on sending the old cookie for a while
	renewed.id.bytes = identityBytes(renewed.id)
	derive(&renewed)
	putView(m.views, &renewed)
	return renewed.id
}

// refreshGrant asks the token endpoint for new tokens. A new ID token must pass
// the checks again (without a nonce) and name the same subject.
func (m *middleware) refreshGrant(ctx context.Context, old *session) (*session, error) {
	p, err := m.provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRefresh, err)
	}
	tr, err := m.tokenRequest(ctx, p, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {old.RefreshToken},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRefresh, err)
	}
	sess := *old
	sess.AccessToken = tr.AccessToken
	sess.AccessExpiry = m.accessExpiry(tr)
	if sess.AccessExpiry.IsZero() {
		sess.AccessExpiry = m.now().Add(5 * time.Minute)
	}
	if tr.RefreshToken != "" {
		sess.RefreshToken = tr.RefreshToken
	}
	if tr.IDToken != "" {
		// A refreshed ID token carries no nonce, or repeats the original one
		// (OpenID Connect Core 12.2); every other check applies as at sign-in.
		tok, verr := verifyIDToken(ctx, p.idTokens, tr.IDToken, "", tr.AccessToken)
		if original, _ := old.Claims["nonce"].(string); errors.Is(verr, errNonce) && original != "" {
			tok, verr = verifyIDToken(ctx, p.idTokens, tr.IDToken, original, tr.AccessToken)
		}
		if verr != nil {
			return nil, fmt.Errorf("%w: %w", errRefresh, verr)
		}
		if tok.Subject != claimString(old, "sub") {
			return nil, fmt.Errorf("%w: the refreshed id token names another subject", errRefresh)
		}
		sess.Claims = tok.Claims
		sess.IDToken = tr.IDToken
	}
	if m.cfg.accessTokenClaims {
		// The renewed token's claims replace the old ones (roles may have changed).
		if sess.AccessClaims, err = m.accessClaimsAtSignIn(ctx, p, tr.AccessToken, claimString(old, "sub"), keptBySiblings(m)); err != nil {
			return nil, fmt.Errorf("%w: %w", errRefresh, err)
		}
	}
	return &sess, nil
}
