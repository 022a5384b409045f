package ags

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var (
	errStateMissing = errors.New("the callback carries no state")
	errCodeMissing  = errors.New("the callback carries no code")
	errNoIDToken    = errors.New("the token response has no id_token")
	errMixUp        = errors.New("the callback's iss is not the issuer")
)

// isNavigation reports whether a browser is navigating to the page, so that a login
// redirect makes sense. API calls, XHR and fetch get a 401 instead.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return false
	}
	accept := r.Header.Get("Accept")
	return !strings.Contains(accept, "application/json") || strings.Contains(accept, "text/html")
}

// startLogin sends the browser to the provider's authorization endpoint, with a
// pending-login cookie of its own for this state.
func (m *middleware) startLogin(w http.ResponseWriter, r *http.Request) {
	m.startLoginFor(w, r, false)
}

// startLoginFor is startLogin; stepUp marks a step-up (serveOther).
func (m *middleware) startLoginFor(w http.ResponseWriter, r *http.Request, stepUp bool) {
	if m.cfg.bearer != nil && queryHasToken(r) {
		refuseToken(m, w, r, http.StatusUnauthorized, "invalid_request", fmt.Errorf("%w: a token in the query", errBearerRequest))
		return
	}
	if !isNavigation(r) {
		w.Header().Set("WWW-Authenticate", `OpenIDConnect realm="ags"`)
		if m.cfg.bearer != nil {
			w.Header().Add("WWW-Authenticate", `Bearer realm="ags"`)
		}
		apiAnswer(w, r, http.StatusUnauthorized, "unauthorized", "sign-in required: sign in from a browser")
		return
	}
	p, err := m.provider(r.Context())
	if err != nil {
		m.page(w, r, http.StatusServiceUnavailable, pageUnavailable, err)
		return
	}
	pending := &pendingLogin{ReturnTo: returnPath(r.URL), StepUp: stepUp, Finisher: m.fingerprint}
	if len(pending.Finisher) > finisherLength {
		pending.Finisher = pending.Finisher[:finisherLength]
	}
	if pending.State, err = randomToken(32); err == nil {
		if pending.Nonce, err = randomToken(32); err == nil {
			pending.Verifier, err = randomToken(32)
		}
	}
	if err == nil {
		err = m.store.savePending(w, r, pending)
	}
	if err != nil {
		m.page(w, r, http.StatusInternalServerError, pageInternal, fmt.Errorf("start login: %w", err))
		return
	}
	params := url.Values{
		"response_type":         {"code"},
		"client_id":             {m.cfg.clientID},
		"redirect_uri":          {m.absoluteURL(r, m.cfg.callbackPath)},
		"scope":                 {m.cfg.scopes},
		"state":                 {pending.State},
		"nonce":                 {pending.Nonce},
		"code_challenge":        {pkceChallenge(pending.Verifier)},
		"code_challenge_method": {"S256"},
	}
	for name, values := range m.cfg.authParams {
		params[name] = values // validate refused the protocol's own names
	}
	if m.cfg.formPost {
		params.Set("response_mode", responseModeFormPost) // inside the request object too
	}
	if m.cfg.requestObject {
		aud := m.cfg.issuer
		if m.cfg.requestObjectAuthz {
			aud = p.AuthorizationEndpoint
		}
		if params, err = m.cfg.clientAuth.requestObject(params, aud, m.now()); err != nil {
			m.page(w, r, http.StatusInternalServerError, pageInternal, fmt.Errorf("sign the request object: %w", err))
			return
		}
	}
	m.redirect(w, withQuery(p.AuthorizationEndpoint, params))
}

// checkResponseIssuer is RFC 9207's defence against mix-up (two providers on one
// client): an authorization response's iss, when present, must be the issuer, and a
// provider that announces authorization_response_iss_parameter_supported must send
// it. The code is not exchanged otherwise.
func checkResponseIssuer(q url.Values, announced bool, issuer string) error {
	iss, present := q["iss"]
	switch {
	case !present && announced:
		return fmt.Errorf("%w: the provider announces the iss parameter and the callback has none", errMixUp)
	case present && (len(iss) != 1 || iss[0] != issuer):
		return fmt.Errorf("%w: got %q, want %q", errMixUp, jwsTruncate(strings.Join(iss, ",")), issuer)
	}
	return nil
}

// finisherLength is how much of the starting instance's fingerprint a pending login
// keeps: 64 bits tell configurations apart, and the cookie stays short.
const finisherLength = 16

// checkVectors checks the ID token's vot against the vectors asked for: a mismatch
// fails the sign-in, but for a step-up, whose session is then made and refused by
// the instance's rule (403, SPEC 12) rather than failed.
func checkVectors(m *middleware, tok *idToken, stepUp bool) error {
	why := m.cfg.trust.vectorRefusal(tok.Claims)
	if why == "" {
		return nil
	}
	if stepUp {
		m.log.warn("step-up sub=%q: %s", tok.Subject, why)
		return nil
	}
	return fmt.Errorf("%w: %s", errTrust, why)
}

// callback finishes a login: the state must be a pending login's, the code is
// exchanged, the ID token and userinfo are checked, and only then is a new session
// sealed. Any failure leaves the browser signed out.
func (m *middleware) callback(w http.ResponseWriter, r *http.Request) {
	q, err := m.callbackParams(w, r)
	if err != nil {
		m.page(w, r, http.StatusBadRequest, pageBadState, err)
		return
	}
	state := q.Get("state")
	if code := q.Get("error"); code != "" {
		if state != "" {
			m.store.takePending(w, r, state) // this login is over either way
		}
		perr := &providerError{Code: code, Description: q.Get("error_description")}
		m.page(w, r, http.StatusUnauthorized, pageProviderError, perr)
		return
	}
	if state == "" {
		m.page(w, r, http.StatusBadRequest, pageBadState, errStateMissing)
		return
	}
	pending, err := m.store.takePending(w, r, state)
	if err != nil {
		if v := viewOf(m, r); v.id != nil && m.now().Before(v.id.expiry) {
			// A callback replayed (Back, a reload) by a browser already signed in:
			// its login is over, and the pending login with its return address gone.
			m.log.write("INFO", logEvent{event: "callback-replayed"}, "callback replayed by a signed-in browser: sent to the start page")
			m.redirect(w, "/")
			return
		}
		m.page(w, r, http.StatusBadRequest, pageBadState, err)
		return
	}
	code := q.Get("code")
	if code == "" {
		m.page(w, r, http.StatusBadRequest, pageBadState, errCodeMissing)
		return
	}
	p, err := m.provider(r.Context())
	if err != nil {
		m.page(w, r, http.StatusServiceUnavailable, pageUnavailable, err)
		return
	}
	issuer := m.cfg.issuer
	if p.template != nil && p.template.admits(q.Get("iss")) {
		issuer = q.Get("iss") // a template issuer's instance for an allowed tenant
	}
	if err := checkResponseIssuer(q, p.IssParameter, issuer); err != nil {
		m.page(w, r, http.StatusBadRequest, pageMixUp, err)
		return
	}
	// The options of the instance that started the sign-in finish it: the route it
	// comes back to may ask more (vtr, the core identity) than this one.
	fin := finisherOf(m, pending.Finisher)
	finP := p
	if fin != m {
		if finP, err = fin.provider(r.Context()); err != nil {
			m.page(w, r, http.StatusServiceUnavailable, pageUnavailable, err)
			return
		}
	}
	began := time.Now() // the provider's share of the sign-in, for the log
	tr, err := m.tokenRequest(r.Context(), p, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {fin.absoluteURL(r, fin.cfg.callbackPath)},
		"code_verifier": {pending.Verifier},
	})
	if err != nil {
		m.page(w, r, http.StatusBadGateway, pageExchange, fmt.Errorf("code exchange: %w", err))
		return
	}
	if tr.IDToken == "" {
		m.page(w, r, http.StatusBadGateway, pageExchange, errNoIDToken)
		return
	}
	tok, err := verifyIDToken(r.Context(), p.idTokens, tr.IDToken, pending.Nonce, tr.AccessToken)
	if errors.Is(err, errKeySetUnavailable) {
		m.page(w, r, http.StatusServiceUnavailable, pageUnavailable, err)
		return
	}
	if err == nil {
		err = fin.cfg.trust.checkMaxAge(tok.Claims, m.now(), m.cfg.clockSkew)
	}
	if err == nil {
		err = checkVectors(fin, tok, pending.StepUp)
	}
	if err != nil {
		m.page(w, r, http.StatusUnauthorized, pageIDToken, err)
		return
	}
	info, err := fin.userinfoAtSignIn(r.Context(), p, tr.AccessToken, tok.Subject)
	if err != nil {
		m.page(w, r, http.StatusUnauthorized, pageUserinfo, err)
		return
	}
	kept := keptBySiblings(fin)
	accessClaims, err := fin.accessClaimsAtSignIn(r.Context(), p, tr.AccessToken, tok.Subject, kept)
	if err != nil {
		fin.accessTokenPage(w, r, err)
		return
	}
	providerTime := time.Since(began)
	now := m.now()
	sess := &session{
		IssuedAt:     now,
		Expiry:       now.Add(m.cfg.sessionLifetime),
		Claims:       tok.Claims,
		IDToken:      tr.IDToken,
		AccessToken:  tr.AccessToken,
		AccessExpiry: m.accessExpiry(tr),
		UserInfo:     info,
		AccessClaims: accessClaims,
	}
	if m.cfg.refresh {
		sess.RefreshToken = tr.RefreshToken
	}
	fin.takeCoreIdentity(r.Context(), finP, sess, tok.Subject)
	fin.distributedGroups(r.Context(), sess, tr.AccessToken, tok.Subject)
	minimiseUserInfo(sess.UserInfo, kept)
	if pending.StepUp {
		m.store.markStepUp(w, r)
	}
	sess.View = fin.viewBlock(fin.newIdentity(sess))
	if err := m.store.save(w, r, sess); err != nil {
		m.page(w, r, http.StatusInternalServerError, pageInternal, fmt.Errorf("save session: %w", err))
		return
	}
	fin.log.write("INFO", logEvent{event: "sign-in", sub: tok.Subject, duration: providerTime}, "sign-in sub=%q", tok.Subject)
	if emailUnverified(sess) && claimString(sess, "email") != "" {
		unverified := logEvent{event: "sign-in", sub: tok.Subject, reason: "email not verified"}
		if fin.cfg.allowUnverifiedEmail {
			fin.log.write("WARN", unverified, "sign-in sub=%q: the e-mail address is not verified (email_verified false) and is passed to the app, as allowUnverifiedEmail says", tok.Subject)
		} else {
			fin.log.write("WARN", unverified, "sign-in sub=%q: the e-mail address is not verified (email_verified false): the app does not get it (allowUnverifiedEmail is off)", tok.Subject)
		}
	}
	target := pending.ReturnTo
	if !isLocalPath(target) {
		target = "/"
	}
	m.redirect(w, target)
}
