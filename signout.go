package ags

import (
	"fmt"
	"net/http"
	"net/url"
)

// signOut ends the session. With a session and a provider that has an end-session
// endpoint, the browser goes there and comes back to the sign-out path with the state
// it was given; that return, once its state matches, goes on to the app's sign-out
// view, as does every other request to the sign-out path.
func (m *middleware) signOut(w http.ResponseWriter, r *http.Request, v *cookieView) {
	id := v.id
	var sess *session
	if id != nil && m.now().Before(id.expiry) {
		sess = m.sessionOf(r, id)
	}
	if sess == nil {
		id = nil
	}
	m.store.clear(w, r)
	m.forgetView(v)
	if id == nil {
		if state := r.URL.Query().Get("state"); state != "" {
			back, err := m.store.takeSignOutState(w, r, state)
			if err != nil {
				m.page(w, r, http.StatusBadRequest, pageSignOutState, err)
				return
			}
			m.log.write("INFO", logEvent{event: "sign-out"}, "sign-out completed at the provider")
			if m.signOutReturn(w, r, back) {
				return
			}
		}
		m.passOn(w, r, v)
		return
	}
	sub := id.sub
	if m.revs != nil {
		m.revokeOwn(id)
	}
	endpoint := m.cfg.endSession.url
	p, err := m.provider(r.Context())
	if endpoint == "" && err == nil {
		endpoint = p.EndSessionEndpoint
	}
	if endpoint == "" {
		if err != nil {
			m.log.write("WARN", logEvent{event: "sign-out", sub: sub, reason: err.Error()}, "sign-out without the provider: %v", err)
		}
		m.log.write("INFO", logEvent{event: "sign-out", sub: sub}, "sign-out sub=%q", sub)
		m.passOn(w, r, v)
		return
	}
	overrides := m.cfg.endSession
	state, err := randomToken(32)
	if err == nil && (overrides.rename == nil || overrides.rename["state"] != "") {
		err = m.store.saveSignOutState(w, r, state, m.returnAddress(r, m.cfg.signOutPath))
	}
	if err != nil {
		m.page(w, r, http.StatusInternalServerError, pageInternal, fmt.Errorf("sign out: %w", err))
		return
	}
	params := url.Values{
		"id_token_hint":            {sess.IDToken},
		"client_id":                {m.cfg.clientID},
		"post_logout_redirect_uri": {m.flowURL(r, m.cfg.signOutPath)},
		"state":                    {state},
	}
	// Entra ID shows an account picker at sign-out unless told whom to sign out.
	if hint, _ := sess.Claims["login_hint"].(string); hint != "" {
		params.Set("logout_hint", hint)
	}
	m.log.write("INFO", logEvent{event: "sign-out", sub: sub}, "sign-out sub=%q, to the provider", sub)
	m.redirect(w, withQuery(endpoint, overrides.endSessionQuery(params)))
}

// revokeOwn ends, for every copy of its cookie, the session being signed out: its
// provider session (sid) when it has one, else the sessions of its user without
// one signed in until now.
func (m *middleware) revokeOwn(id *identity) {
	r := m.revs.entryFor(revokeSid, id.sid, m.now())
	if id.sid == "" {
		r = m.revs.entryFor(revokeSidless, id.sub, m.now())
	}
	m.revs.revoke([]revocation{r})
}
