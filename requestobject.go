package ags

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signed authorization requests (RFC 9101, JAR): with requestObject on, the
// authorization request travels as a JWT signed with the client's key, so that no
// parameter (vtr, claims, prompt) can be changed in the browser's address bar. GOV.UK
// One Login requires one of some clients, and honours prompt=login only inside one.

// requestObjectLifetime is how long a request object is valid: about the time a
// user may take from the redirect to the provider's first page.
const requestObjectLifetime = 5 * time.Minute

// requestObjectType is the request object's typ (RFC 9101 section 10.8).
const requestObjectType = "oauth-authz-req+jwt"

var errRequestObject = errors.New("request objects not supported by the provider")

// requestObject signs the authorization request params as a request object for aud:
// every parameter as a claim, with its JSON type where it has one (vtr an array,
// claims an object, max_age a number), the client as iss, and a short life with a
// fresh jti. The query then keeps only what RFC 9101 and OpenID Connect ask for.
func (a *clientAuth) requestObject(params url.Values, aud string, now time.Time) (url.Values, error) {
	jti, err := randomToken(32)
	if err != nil {
		return nil, err
	}
	claims := map[string]interface{}{
		"iss": a.clientID, "aud": aud, "jti": jti,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(requestObjectLifetime).Unix(),
	}
	for name, values := range params {
		claims[name] = requestClaim(name, values[0])
	}
	signed, err := a.signer.sign(requestObjectType, claims)
	if err != nil {
		return nil, err
	}
	return url.Values{
		"response_type": {params.Get("response_type")},
		"scope":         {params.Get("scope")},
		"client_id":     {a.clientID},
		"request":       {signed},
	}, nil
}

// requestClaim is a parameter's value as a request object's claim: a JSON array or
// object as itself, max_age as a number, anything else the string.
func requestClaim(name, value string) interface{} {
	if strings.HasPrefix(value, "[") || strings.HasPrefix(value, "{") {
		var v interface{}
		if decodeJSON([]byte(value), &v) == nil {
			return v
		}
	}
	if name == "max_age" {
		if n, err := strconv.Atoi(value); err == nil {
			return n
		}
	}
	return value
}
