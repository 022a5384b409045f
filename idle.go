package ags

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The idle timeout (sessionIdleTimeout): a session not used for that long is over.
// ags keeps no store, so the last use is sealed in the session cookie and renewed
// by sealing the cookie again. That is done at most once per idleRenewal (a tenth
// of the timeout, at least a minute): the identity is served until the earlier of
// its end, its access token's renewal and lastUse+idleRenewal (identity.until), so
// the request path's one check of until sends a request to serveOther only when a
// renewal or the end is due, and costs nothing more between renewals. A session
// therefore ends between timeout-idleRenewal and timeout after its real last use.

// minIdleRenewal is the least time between two renewals of the last use.
const minIdleRenewal = time.Minute

// parseIdleTimeout reads sessionIdleTimeout: 0 (off) when empty, else at least
// two renewals' worth, so that a session in use is renewed before it ends.
func parseIdleTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := parseDuration("sessionIdleTimeout", v)
	if err == nil && d < 2*minIdleRenewal {
		err = fmt.Errorf("sessionIdleTimeout must be at least 2m (the last use is renewed at most once a minute), got %q", v)
	}
	return d, err
}

// idleRenewalFor is how often the last use of a session is sealed again.
func idleRenewalFor(timeout time.Duration) time.Duration {
	if timeout/10 < minIdleRenewal {
		return minIdleRenewal
	}
	return timeout / 10
}

// lastUseOf is the session's last use; a session sealed without one (by an earlier
// version, or before its first renewal) was last used at sign-in.
func lastUseOf(sess *session) time.Time {
	if sess.LastUse.IsZero() {
		return sess.IssuedAt
	}
	return sess.LastUse
}

// withIdle sets id's last use, and serves it no later than its renewal is due.
func withIdle(m *middleware, id *identity, lastUse time.Time) {
	id.lastUse = lastUse
	if renewBy := lastUse.Add(m.cfg.idleRenewal); renewBy.Before(id.until) {
		id.until = renewBy
	}
}

// idleOver reports whether id's session has been idle for the timeout at now.
func idleOver(m *middleware, id *identity, now time.Time) bool {
	return m.cfg.idleTimeout > 0 && !now.Before(id.lastUse.Add(m.cfg.idleTimeout))
}

// idleIdentity is an opened identity with its last use: nil once idle, so that
// the view of its cookie is signed out, as for an expired session.
func idleIdentity(m *middleware, id *identity, lastUse time.Time) *identity {
	withIdle(m, id, lastUse)
	if idleOver(m, id, m.now()) {
		return nil
	}
	return id
}

// lastUseKey follows the view block when the session has a last use (sessionWire).
var lastUseKey = []byte(`","lu":`)

// lastUseInBlock reads the last use of a session encoding whose view block
// identityFromBlock read: right after the block, as sessionWire orders it.
func lastUseInBlock(plain []byte, issuedAt int64) time.Time {
	at := issuedAt
	rest := plain[1+len(viewPrefix):]
	end := bytes.IndexByte(rest, '"')
	if end >= 0 && bytes.HasPrefix(rest[end:], lastUseKey) {
		digits := rest[end+len(lastUseKey):]
		if stop := bytes.IndexAny(digits, ",}"); stop > 0 {
			if n, err := strconv.ParseInt(string(digits[:stop]), 10, 64); err == nil && n > 0 {
				at = n
			}
		}
	}
	return time.Unix(at, 0)
}

// touchSession seals the session again with its last use now, sets it on w, and
// keeps the view of the request's Cookie header renewed, so that requests still
// carrying the old cookie are served from the cache too; nil when it cannot be
// saved (the session ends). old is the session behind v.
func (m *middleware) touchSession(w http.ResponseWriter, r *http.Request, v *cookieView, old *session, now time.Time) *identity {
	sess := *old
	sess.LastUse = now
	id := m.newIdentity(&sess)
	sess.View = m.viewBlock(id)
	if err := m.store.save(w, r, &sess); err != nil {
		m.log.warn("session ended: %v", err)
		m.forgetView(v)
		m.store.clear(w, r)
		return nil
	}
	renewed := *v
	renewed.id = id
	derive(&renewed)
	putView(m.views, &renewed)
	return id
}
