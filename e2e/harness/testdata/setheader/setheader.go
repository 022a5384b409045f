// Package setheader is a Traefik middleware plugin that sets one request header: the
// smallest Yaegi plugin, used to check the e2e harness without the ags plugin.
package setheader

import (
	"context"
	"net/http"
)

// Config names the header and its value. Raw stores the header under Header as
// written, not in Go's canonical form, as some middlewares do.
type Config struct {
	Header string `json:"header,omitempty"`
	Value  string `json:"value,omitempty"`
	Raw    bool   `json:"raw,omitempty"`
}

// CreateConfig returns the default configuration.
func CreateConfig() *Config {
	return &Config{Header: "X-Plugin", Value: "on"}
}

type setHeader struct {
	next          http.Handler
	header, value string
	raw           bool
}

// New returns the middleware.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	return &setHeader{next: next, header: config.Header, value: config.Value, raw: config.Raw}, nil
}

func (s *setHeader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.raw {
		r.Header[s.header] = []string{s.value}
	} else {
		r.Header.Set(s.header, s.value)
	}
	s.next.ServeHTTP(w, r)
}
