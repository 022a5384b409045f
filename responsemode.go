package ags

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices, Form Post
// Response Mode): how the provider hands the authorization response back. Apple
// requires form_post as soon as the name or e-mail address is asked for.
const (
	responseModeQuery    = "query"
	responseModeFormPost = "form_post"
)

// maxCallbackForm bounds the body of a form_post callback: code, state, iss and an
// error description fit in a few kilobytes; Apple adds a small user object.
const maxCallbackForm = 64 << 10

var errCallbackMethod = errors.New("the callback came with the wrong method for responseMode")

// parseResponseMode reads responseMode: query or form_post.
func parseResponseMode(v string) (bool, error) {
	switch v {
	case responseModeQuery:
		return false, nil
	case responseModeFormPost:
		return true, nil
	}
	return false, fmt.Errorf("responseMode must be query or form_post, got %q", v)
}

// callbackParams returns the authorization response: the query of a GET in query
// mode, the form of a POST in form_post mode (its query ignored). The other method
// is refused: a response that does not come the way it was asked for is not the
// provider's.
func (m *middleware) callbackParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if !m.cfg.formPost {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return nil, fmt.Errorf("%w: got %s, want GET (responseMode query)", errCallbackMethod, r.Method)
		}
		return r.URL.Query(), nil
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: got %s, want POST (responseMode form_post)", errCallbackMethod, r.Method)
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: the form_post callback is not a form (Content-Type %q)", errCallbackMethod, r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackForm))
	if err != nil {
		return nil, fmt.Errorf("read the form_post callback: %w", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("read the form_post callback: %w", err)
	}
	return form, nil
}
