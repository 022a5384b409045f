// Package empty is the smallest useful Traefik plugin: it sets one request header.
// The benchmark runs it to measure what any interpreted plugin costs.
package empty

import (
	"context"
	"net/http"
)

// Config names the header to set.
type Config struct {
	Header string `json:"header,omitempty"`
}

// CreateConfig returns the default configuration.
func CreateConfig() *Config {
	return &Config{Header: "X-Empty"}
}

type empty struct {
	next   http.Handler
	header string
}

// New builds the plugin.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	return &empty{next: next, header: config.Header}, nil
}

func (e *empty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Header.Set(e.header, "1")
	e.next.ServeHTTP(w, r)
}
