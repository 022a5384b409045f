package ags

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// maxBodySize bounds every response read from the provider.
const maxBodySize = 1 << 20

var (
	errProviderUnavailable = errors.New("identity provider unavailable")
	errDiscovery           = errors.New("discovery document rejected")
	errUserinfo            = errors.New("userinfo failed")
	errUserinfoSubject     = errors.New("userinfo sub differs from the id token's sub")
	errRefresh             = errors.New("token refresh failed")
)

// providerError is an OAuth 2.0 error response (RFC 6749 section 5.2) from the token
// endpoint, or an error sent back to the callback (section 4.1.2.1).
type providerError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *providerError) Error() string {
	if e.Description == "" {
		return "provider answered " + e.Code
	}
	return "provider answered " + e.Code + ": " + e.Description
}

// asProviderError finds a *providerError among the errors err wraps, through
// fmt.Errorf's "%w: %w" too (the class, then the cause). Under Yaegi v0.16.1,
// errors.As cannot take a pointer to an interpreted type, and a compiled error does
// not satisfy an interpreted interface{ Unwrap() []error }: reflection finds the
// method instead (on the error path only).
func asProviderError(err error) *providerError {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*providerError); ok {
		return pe
	}
	if errs, ok := unwrapAll(err); ok {
		for _, e := range errs {
			if pe := asProviderError(e); pe != nil {
				return pe
			}
		}
		return nil
	}
	return asProviderError(errors.Unwrap(err))
}

// unwrapAll returns the errors a "%w: %w" error wraps.
func unwrapAll(err error) ([]error, bool) {
	method := reflect.ValueOf(err).MethodByName("Unwrap")
	if !method.IsValid() || method.Type().NumIn() != 0 || method.Type().NumOut() != 1 {
		return nil, false
	}
	errs, ok := method.Call(nil)[0].Interface().([]error)
	return errs, ok
}

// version is ags's version, in the User-Agent of every call to the provider.
const version = "0.4.0"

// userAgent names ags to the provider, as GOV.UK One Login asks of its relying
// parties ("Setting a User-Agent header").
const userAgent = "ags/" + version + " (+https://github.com/ags-client/ags)"

// providerRequest is a request to the provider: every call ags makes goes through it,
// with ags's User-Agent and Accept: application/json.
func providerRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// getDocument fetches a provider's JSON document and how long it may be used.
func (m *middleware) getDocument(ctx context.Context, target string) ([]byte, time.Duration, error) {
	req, err := providerRequest(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, err
	}
	body, header, err := m.doWithHeader(req)
	if err != nil {
		return nil, 0, err
	}
	return body, documentAge(header), nil
}

// get fetches url with an optional bearer token and returns the body of a 200 answer.
func (m *middleware) get(ctx context.Context, target, bearer string) ([]byte, error) {
	req, err := providerRequest(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return m.do(req)
}

// do sends a request to the provider and reads a 200 answer's body, with a limit.
// A non-200 answer carrying an OAuth error becomes a *providerError.
func (m *middleware) do(req *http.Request) ([]byte, error) {
	body, _, err := m.doWithHeader(req)
	return body, err
}

// doWithHeader is do, also returning the answer's header.
func (m *middleware) doWithHeader(req *http.Request) ([]byte, http.Header, error) {
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxBodySize {
		return nil, nil, fmt.Errorf("response larger than %d bytes", maxBodySize)
	}
	if resp.StatusCode != http.StatusOK {
		var pe providerError
		if json.Unmarshal(body, &pe) == nil && pe.Code != "" {
			return nil, nil, &pe
		}
		return nil, nil, fmt.Errorf("status %d from %s", resp.StatusCode, req.URL.Host)
	}
	return body, resp.Header, nil
}

// tokenResponse is a successful answer of the token endpoint.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	IDToken      string      `json:"id_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    json.Number `json:"expires_in"`
}

// tokenRequest posts a grant to the token endpoint with the client's credentials.
func (m *middleware) tokenRequest(ctx context.Context, p *provider, form url.Values) (*tokenResponse, error) {
	req, err := m.newTokenRequest(ctx, p, form)
	if err != nil {
		return nil, err
	}
	body, err := m.do(req)
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("token response is not JSON: %v", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("token response has no access_token")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("token_type is %q, not Bearer", tr.TokenType)
	}
	return &tr, nil
}

// accessExpiry turns expires_in into a time; zero when the provider gave none.
func (m *middleware) accessExpiry(tr *tokenResponse) time.Time {
	secs, err := tr.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return m.now().Add(time.Duration(secs) * time.Second)
}

// userinfo calls the userinfo endpoint; its sub must be the ID token's.
func (m *middleware) userinfo(ctx context.Context, p *provider, accessToken, sub string) (map[string]interface{}, error) {
	if p.UserinfoEndpoint == "" {
		return nil, nil
	}
	body, err := m.get(ctx, p.UserinfoEndpoint, accessToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUserinfo, err)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object (signed userinfo is not supported)", errUserinfo)
	}
	if got, _ := claims["sub"].(string); got != sub {
		return nil, fmt.Errorf("%w: got %q, want %q", errUserinfoSubject, got, sub)
	}
	return claims, nil
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// pkceChallenge is the S256 code challenge of a verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// withQuery adds params to an endpoint URL, keeping the query it already has.
// Discovery accepted the endpoint as an absolute URL without a fragment.
func withQuery(endpoint string, params url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// requestURL is the absolute URL of path on the host the request came to.
func requestURL(r *http.Request, path string) string {
	return requestScheme(r) + "://" + r.Host + path
}

// requestScheme is the one answer to "did this request come over https?": what
// X-Forwarded-Proto says when it is there (Traefik sets it from the entry point;
// behind several proxies it is a list, and the first is the client's), else whether
// it came over TLS. Cookies' Secure attribute and the absolute URLs ags sends to
// the provider both follow it.
func requestScheme(r *http.Request) string {
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		first, _, _ := strings.Cut(proto, ",")
		if strings.EqualFold(strings.TrimSpace(first), "https") {
			return "https"
		}
		return "http"
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
