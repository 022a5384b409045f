package ags

import (
	"net/http"
)

// flagFor reports whether ags is on for the browser that sent r: the flag cookie
// says "1" or "0"; without it (or with another value) featureFlagDefault decides.
// Without the toggle the cookie means nothing: the flag is featureFlagDefault for
// everybody, so that no visitor can switch ags off for their own browser. (A
// function: it is on every cache miss, view.go.)
func flagFor(s *settings, r *http.Request) bool {
	if !s.flagToggle {
		return s.flagDefault
	}
	c, err := r.Cookie(s.flagCookie)
	if err != nil {
		return s.flagDefault
	}
	switch c.Value {
	case "1":
		return true
	case "0":
		return false
	}
	return s.flagDefault
}

// toggleFlag flips the flag for this browser, in the seed's words.
func (m *middleware) toggleFlag(w http.ResponseWriter, r *http.Request, wasOn bool) {
	on := !wasOn
	value, word := "0", "False"
	if on {
		value, word = "1", "True"
	}
	http.SetCookie(w, m.cfg.cookies.cookie(r, m.cfg.flagCookie, value, 365*24*3600, m.cfg.cookies.sameSite))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(m.cfg.flagCookie + " feature flag set to: " + word))
	m.log.info("feature flag %s set to %s", m.cfg.flagCookie, word)
}
