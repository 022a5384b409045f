// Package ags is a Traefik middleware plugin that puts an OpenID Connect sign-in in
// front of any web app and hands the signed-in user's identity to the app in request
// headers. It carries over the settings of the Python WSGI middleware ags_client.
//
// Sessions live in AES-256-GCM sealed cookies, so any number of Traefik replicas that
// share the session secret serve the same users. ID tokens are verified once, at
// sign-in; a signed-in request only opens (or finds in a small cache) its cookie.
// Traefik runs the plugin in its Yaegi interpreter: the code uses the standard
// library of Go 1.22 only, and leaves byte-level work to it.
package ags

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

// middleware is one instance of ags on a router.
type middleware struct {
	next           http.Handler
	name           string
	cfg            *settings
	store          *sessionStore
	serve          http.HandlerFunc // the request path: see handler
	views          *viewCache
	paths          *pathCache
	client         *http.Client
	discovery      *discovery
	log            *logger
	removedHeaders map[string]bool // identity header keys removed from every request
	claimHeaders   []claimHeader   // the claims passed to the app, and their headers
	keptUserInfo   map[string]bool // the userinfo claims this instance reads (keptBySiblings)
	fingerprint    string          // of its configuration (process.go), sealed in its pending logins
	toggle         string          // the toggle's path
	ownPaths       map[string]bool // the toggle, callback and sign-out paths
	callbackSlash  string          // the callback path with a trailing "/"
	signOutSlash   string          // the sign-out path with a trailing "/"
	signOutLast    string          // the sign-out path's last segment (mayReadAsSignOut)
	// The one clock: now. since is the request path's form of it (time.Since, one
	// compiled call, while now is time.Now), and clock is now for the session store,
	// the key set and the verifier, which read m.now when called. setClock sets all.
	now        func() time.Time
	since      func(time.Time) time.Duration
	clock      func() time.Time
	renewals   *renewals    // renewals in flight and their recent outcomes
	revs       *revocations // the client's revocation set (revocation.go); nil: revocation off
	viewDigest string       // of the options that make an identity (viewblock.go); "": no view block
}

// New builds the middleware from its configuration. It does no network I/O and
// starts no goroutine: Traefik calls it on every configuration change, and the
// plugin catalog calls it with no network. The provider is discovered on first use.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	m, err := newMiddleware(next, config, name)
	if err != nil {
		return nil, err
	}
	return m.serve, nil
}

// newMiddleware is New, returning the middleware itself.
func newMiddleware(next http.Handler, config *Config, name string) (*middleware, error) {
	if config == nil {
		config = CreateConfig()
	}
	resolved := config.resolved(os.Getenv)
	cfg, err := resolved.validate()
	if err != nil {
		return nil, fmt.Errorf("ags: middleware %s: %w", name, err)
	}
	m := &middleware{
		next:           next,
		name:           name,
		cfg:            cfg,
		client:         newHTTPClient(cfg),
		discovery:      &discovery{},
		renewals:       renewalsOf(cfg.issuer, cfg.clientID),
		log:            newLogger(name, cfg.logPath, cfg.debug, cfg.logFormat),
		removedHeaders: strippedHeaders(cfg),
		claimHeaders:   claimHeaders(cfg),
		toggle:         "/toggle-feature/" + cfg.flagCookie,
		callbackSlash:  cfg.callbackPath + "/",
		signOutSlash:   cfg.signOutPath + "/",
		signOutLast:    signOutLast(cfg.signOutPath),
		ownPaths:       map[string]bool{},
		now:            time.Now,
		since:          time.Since,
	}
	m.clock = func() time.Time { return m.now() }
	m.keptUserInfo = keptUserInfo(m)
	m.viewDigest = viewDigest(resolved, cfg)
	m.fingerprint, _ = configFingerprint(resolved)
	cs := cachesFor(resolved, cfg.cacheSize, cfg.bearer != nil)
	m.views, m.paths = cs.views, cs.paths
	if cfg.revocation {
		useRevocations(m)
	}
	for _, p := range []string{cfg.callbackPath, m.callbackSlash, cfg.signOutPath, m.signOutSlash} {
		m.ownPaths[p] = true
	}
	if cfg.backChannelLogoutPath != "" {
		m.ownPaths[cfg.backChannelLogoutPath] = true
	}
	if cfg.flagToggle {
		m.ownPaths[m.toggle] = true
		m.log.warn("featureFlagToggle is on: any visitor can switch ags off for their own browser at %s and reach the authenticated paths signed out; set featureFlagToggle: false for a strict gate", m.toggle)
	}
	secrets := cfg.secrets
	if len(secrets) == 0 {
		secret, made := processSessionSecret()
		secrets = []string{secret}
		if made {
			m.log.warn("sessionSecret is not set: a random secret was generated for this Traefik process, so sessions will not survive a restart or span replicas")
		}
	}
	sealer, err := newSealer(secrets, cfg.issuer, cfg.clientID)
	if err != nil {
		return nil, fmt.Errorf("ags: middleware %s: sessionSecret: %w", name, err)
	}
	m.store = newSessionStore(cfg.sessionCookie, sealer, cfg.sessionLifetime, cfg.cookies, m.clock)
	if !cfg.verifySSL {
		m.log.warn("verifySSL is false: the provider's TLS certificate is not checked")
	}
	if cfg.insecureHTTPIssuer {
		m.log.warn("the issuer %s uses plain http to a host that is not loopback: tokens cross the network unencrypted", cfg.issuer)
	}
	logEffectiveConfig(m.log, resolved, cfg)
	m.serve = m.handler()
	shareInstance(m)
	return m, nil
}

// setClock makes now the middleware's clock everywhere: the request path, the
// session store, the key set and the ID-token checks (for tests).
func (m *middleware) setClock(now func() time.Time) {
	m.now = now
	m.since = func(t time.Time) time.Duration { return now().Sub(t) }
	m.serve = m.handler() // the request path holds what it reads
}

// ServeHTTP serves a request as the handler that New returns does.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.serve(w, r)
}

// serveOther handles the rest, in the order of SPEC.md section 3: the toggle, the
// flag off, the callback, sign-out, and a session that has ended or must be renewed.
func serveOther(m *middleware, w http.ResponseWriter, r *http.Request, v *cookieView) {
	p := r.URL.Path
	if p == m.cfg.backChannelLogoutPath && p != "" { // the provider's: whatever the flag
		m.backChannelLogout(w, r)
		return
	}
	if p == m.toggle && m.cfg.flagToggle && r.Method == http.MethodGet {
		m.toggleFlag(w, r, v.flagOn)
		return
	}
	if !v.flagOn {
		m.next.ServeHTTP(w, r)
		return
	}
	if p == m.cfg.callbackPath || p == m.callbackSlash {
		m.callback(w, r)
		return
	}
	if p == m.cfg.signOutPath || p == m.signOutSlash || m.readsAsSignOut(r) {
		m.signOut(w, r, v)
		return
	}
	id := v.id
	if now := m.now(); id != nil && !now.Before(id.until) {
		id = m.endOrRenew(w, r, v, now)
	}
	if id == nil {
		if protectedPath(m, r) && !(m.cfg.corsPreflight && isPreflight(r)) {
			m.startLogin(w, r)
			return
		}
		m.passOn(w, r, v)
		return
	}
	if id.refusal != "" && protectedPath(m, r) {
		if m.cfg.stepUp && isNavigation(r) && !m.store.steppedUp(w, r) {
			m.log.info("step-up sub=%q instance=%s rule=%q on %s", id.sub, m.name, id.refusal, r.URL.Path)
			m.startLoginFor(w, r, true)
			return
		}
		m.forbidden(w, r, id)
		return
	}
	for _, hv := range id.headers {
		r.Header[hv.name] = hv.value
	}
	m.passOn(w, r, v)
}

// passOn sends the request to the app without ags's cookies.
func (m *middleware) passOn(w http.ResponseWriter, r *http.Request, v *cookieView) {
	if v.hasAgsCookies {
		setAppCookie(r.Header, v)
	}
	m.next.ServeHTTP(w, r)
}

// redirect answers 302 to target; the answer must not be cached.
func (m *middleware) redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
