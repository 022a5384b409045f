package ags

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

var (
	// errNoPendingLogin: the callback's state has no pending login here (none
	// started in this browser, expired, already used, or tampered with).
	errNoPendingLogin = errors.New("this browser has no sign-in waiting for this callback")
	// errStateMismatch: the sign-out state does not match the one we sent.
	errStateMismatch = errors.New("state mismatch")
	// errPendingEncoding: a pending-login cookie opened but does not hold one.
	errPendingEncoding = errors.New("bad pending-login encoding")
)

const (
	// pendingLifetime is how long a login may take at the provider.
	pendingLifetime = 10 * time.Minute
	// maxPending is how many logins may be in flight in one browser; each
	// costs a cookie on every request until it ends or expires.
	maxPending = 5
	// State tokens are base64url, at least 128 bits; the bounds keep the
	// cookie name sane.
	minStateLen       = 22
	maxStateLen       = 128
	base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// pendingLogin is the state of one login in flight (about 10 minutes).
type pendingLogin struct {
	State    string
	Nonce    string
	Verifier string // PKCE code_verifier
	ReturnTo string // path and query (returnPath); with authHost, scheme://host too (returnAddress)
	// StepUp: started because a signed-in user did not meet an instance's
	// requirements (stepUp); the callback marks the browser so that the same
	// refusal after it is a 403, not another trip to the provider.
	StepUp bool
	// Finisher: a prefix of the fingerprint of the starting instance's configuration,
	// whose options finish the sign-in (finisherOf); "": the callback's instance.
	Finisher string
}

// validState reports whether state is a plain base64url token of sane
// length, safe to put in a cookie name.
func validState(state string) bool {
	return len(state) >= minStateLen && len(state) <= maxStateLen && strings.Trim(state, base64URLAlphabet) == ""
}

// encodePending encodes p as a JSON array: short, and one call to decode. The
// first four elements are always there (older cookies hold only them); then
// "step-up" and "f:" with the finisher, when set.
func encodePending(p *pendingLogin) []byte {
	f := []string{p.State, p.Nonce, p.Verifier, p.ReturnTo}
	if p.StepUp {
		f = append(f, "step-up")
	}
	if p.Finisher != "" {
		f = append(f, "f:"+p.Finisher)
	}
	b, _ := json.Marshal(f)
	return b
}

func decodePending(b []byte) (*pendingLogin, error) {
	var f []string
	if err := json.Unmarshal(b, &f); err != nil || len(f) < 4 || len(f) > 6 {
		return nil, errPendingEncoding
	}
	p := &pendingLogin{State: f[0], Nonce: f[1], Verifier: f[2], ReturnTo: f[3]}
	for _, extra := range f[4:] {
		switch {
		case extra == "step-up":
			p.StepUp = true
		case strings.HasPrefix(extra, "f:"):
			p.Finisher = extra[2:]
		default:
			return nil, errPendingEncoding
		}
	}
	return p, nil
}

// stepUpLifetime is how long the browser remembers a step-up: long enough for
// the return from the provider, short enough that a later visit may step up again.
const stepUpLifetime = 5 * time.Minute

// markStepUp remembers in the browser that a step-up just ended.
func (s *sessionStore) markStepUp(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookies.cookie(r, s.stepUpName, "1", int(stepUpLifetime/time.Second), s.cookies.sameSite))
}

// steppedUp reports whether r comes back from a step-up, and forgets it: its refusal
// is then final for this request chain.
func (s *sessionStore) steppedUp(w http.ResponseWriter, r *http.Request) bool {
	if _, err := r.Cookie(s.stepUpName); err != nil {
		return false
	}
	s.expire(w, r, s.stepUpName, s.cookies.sameSite)
	return true
}

// maxCookieLine bounds every Set-Cookie line ags writes, attributes included:
// browsers drop a cookie of over 4,096 bytes, and a login whose cookie is dropped
// can never finish.
const maxCookieLine = 4000

// savePending sets one cookie per login, named from its state, so that tabs
// signing in at once each finish their own. When maxPending are already in
// flight, the oldest are expired to make room. A place to return to that would
// not fit the cookie loses its query, and then its path: the sign-in still ends.
func (s *sessionStore) savePending(w http.ResponseWriter, r *http.Request, p *pendingLogin) error {
	if !validState(p.State) {
		return errors.New("save pending login: state is not a base64url token")
	}
	now := s.now()
	name := s.pendingPrefix + p.State
	var cookie *http.Cookie
	for _, cut := range []func(string) string{keepReturnTo, dropQuery, rootOf} {
		p.ReturnTo = cut(p.ReturnTo)
		value, err := s.sealer.seal(name, encodePending(p), now, now.Add(pendingLifetime))
		if err != nil {
			return fmt.Errorf("save pending login: %w", err)
		}
		cookie = s.cookies.cookie(r, name, value, int(pendingLifetime/time.Second), s.cookies.pendingSameSite())
		if len(cookie.String()) <= maxCookieLine {
			break
		}
	}
	s.prunePending(w, r, now)
	http.SetCookie(w, cookie)
	return nil
}

func keepReturnTo(target string) string { return target }

func dropQuery(target string) string {
	path, _, _ := strings.Cut(target, "?")
	return path
}

// prunePending expires the pending-login cookies of r that do not open, and
// then the oldest, so that with the one about to be added there are at most
// maxPending. It opens each cookie to learn its age; this is the rare path.
func (s *sessionStore) prunePending(w http.ResponseWriter, r *http.Request, now time.Time) {
	type inFlight struct {
		name     string
		issuedAt int64
	}
	var live []inFlight
	seen := make(map[string]bool)
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, s.pendingPrefix) || seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		_, issuedAt, _, err := openWith(s.sealer, s.sealer.additionalData(c.Name), c.Value, now.Unix())
		if err != nil {
			s.expire(w, r, c.Name, s.cookies.pendingSameSite())
			continue
		}
		live = append(live, inFlight{name: c.Name, issuedAt: issuedAt})
	}
	if len(live) < maxPending {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].issuedAt < live[j].issuedAt })
	for _, f := range live[:len(live)-maxPending+1] {
		s.expire(w, r, f.name, s.cookies.pendingSameSite())
	}
}

// takePending returns the pending login of state and expires its cookie:
// a state is used once. Every failure wraps errNoPendingLogin.
func (s *sessionStore) takePending(w http.ResponseWriter, r *http.Request, state string) (*pendingLogin, error) {
	if !validState(state) {
		return nil, fmt.Errorf("%w (its state is not one ags makes)", errNoPendingLogin)
	}
	name := s.pendingPrefix + state
	c, err := r.Cookie(name)
	if err != nil {
		return nil, fmt.Errorf("%w (no pending-login cookie: expired, used already, or started in another browser)", errNoPendingLogin)
	}
	s.expire(w, r, name, s.cookies.pendingSameSite())
	plain, err := s.sealer.open(name, c.Value, s.now())
	if err != nil {
		return nil, fmt.Errorf("%w (its pending-login cookie does not open: %v)", errNoPendingLogin, err)
	}
	p, err := decodePending(plain)
	if err != nil {
		return nil, fmt.Errorf("%w (its pending-login cookie does not open: %v)", errNoPendingLogin, err)
	}
	// The name already binds the state; this guards against a sealing bug.
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		return nil, fmt.Errorf("%w (the state differs from its pending login)", errNoPendingLogin)
	}
	return p, nil
}

// saveSignOutState keeps the sign-out state (SPEC section 7) until the
// provider sends the browser back, and with it back, the address to return to from
// authHost ("": none), after a newline that no state holds.
func (s *sessionStore) saveSignOutState(w http.ResponseWriter, r *http.Request, state, back string) error {
	now := s.now()
	kept := state
	if back != "" {
		kept += "\n" + back
	}
	value, err := s.sealer.seal(s.signOutName, []byte(kept), now, now.Add(pendingLifetime))
	if err != nil {
		return fmt.Errorf("save sign-out state: %w", err)
	}
	http.SetCookie(w, s.cookies.cookie(r, s.signOutName, value, int(pendingLifetime/time.Second), s.cookies.flowSameSite()))
	return nil
}

// takeSignOutState checks state against the kept one, expires it, and returns the
// address kept with it. Every failure wraps errStateMismatch.
func (s *sessionStore) takeSignOutState(w http.ResponseWriter, r *http.Request, state string) (back string, err error) {
	c, err := r.Cookie(s.signOutName)
	if err != nil {
		return "", fmt.Errorf("take sign-out state: no cookie: %w", errStateMismatch)
	}
	s.expire(w, r, s.signOutName, s.cookies.flowSameSite())
	plain, err := s.sealer.open(s.signOutName, c.Value, s.now())
	if err != nil {
		return "", fmt.Errorf("take sign-out state: %v: %w", err, errStateMismatch)
	}
	kept, back, _ := strings.Cut(string(plain), "\n")
	if state == "" || subtle.ConstantTimeCompare([]byte(kept), []byte(state)) != 1 {
		return "", fmt.Errorf("take sign-out state: %w", errStateMismatch)
	}
	return back, nil
}
