package ags

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Levels of trust (SPEC 12): what the authorization request asked of the sign-in
// through authParams, checked against the ID token. GOV.UK One Login's guide says a
// relying party must check them: vtr travels in the query, where a user can edit it.

var errTrust = errors.New("level of trust not met")

// trustRules are an instance's authParams vtr (RFC 8485 vectors of trust) and
// max_age (OpenID Connect Core 3.1.2.1).
type trustRules struct {
	vectors   [][]string    // each requested vector's components, sorted; nil: no vtr
	asked     string        // vtr as configured, for messages
	maxAge    time.Duration // with hasMaxAge
	hasMaxAge bool
}

// vectorComponent is one component of a vector: a letter, then its value (Cl, Cm, P2).
var vectorComponent = regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)

// parseTrustRules reads vtr and max_age from the authorization request's extra
// parameters; an error names the option.
func parseTrustRules(params url.Values) (*trustRules, error) {
	t := &trustRules{}
	if raw := params.Get("vtr"); raw != "" {
		var vtr []string
		if err := json.Unmarshal([]byte(raw), &vtr); err != nil || len(vtr) == 0 {
			return nil, fmt.Errorf(`authParams vtr must be a JSON array of vectors such as ["Cl.Cm"], got %q`, raw)
		}
		for _, v := range vtr {
			components, err := vectorComponents(v)
			if err != nil {
				return nil, fmt.Errorf("authParams vtr: %w", err)
			}
			t.vectors = append(t.vectors, components)
		}
		t.asked = raw
	}
	if raw := params.Get("max_age"); raw != "" {
		secs, err := strconv.Atoi(raw)
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("authParams max_age must be whole seconds, got %q", raw)
		}
		t.maxAge, t.hasMaxAge = time.Duration(secs)*time.Second, true
	}
	return t, nil
}

// vectorComponents splits a vector ("Cl.Cm.P2") into its components, sorted: a
// vector is a set, and providers need not list it in the order it was asked.
func vectorComponents(v string) ([]string, error) {
	components := strings.Split(v, ".")
	for _, c := range components {
		if !vectorComponent.MatchString(c) {
			return nil, fmt.Errorf("%q is not a vector of trust such as Cl.Cm or Cl.Cm.P2", v)
		}
	}
	sort.Strings(components)
	return components, nil
}

// isLevelOfConfidence reports whether a component is identity proofing (P0 to P3):
// One Login reports it in the core identity, and leaves it out of the ID token's vot.
func isLevelOfConfidence(c string) bool {
	if len(c) < 2 || c[0] != 'P' {
		return false
	}
	_, err := strconv.Atoi(c[1:])
	return err == nil
}

// acceptsVot reports whether the ID token's vot is one of the vectors asked for, or
// one of them without its level of confidence.
func (t *trustRules) acceptsVot(vot string) bool {
	got, err := vectorComponents(vot)
	if err != nil {
		return false
	}
	for _, want := range t.vectors {
		var credential []string
		for _, c := range want {
			if !isLevelOfConfidence(c) {
				credential = append(credential, c)
			}
		}
		if strings.Join(got, ".") == strings.Join(want, ".") || strings.Join(got, ".") == strings.Join(credential, ".") {
			return true
		}
	}
	return false
}

// vectorRefusal is why claims do not meet the vectors asked for; "" when they do or
// none were asked for.
func (t *trustRules) vectorRefusal(claims map[string]interface{}) string {
	if t.vectors == nil {
		return ""
	}
	vot, _ := claims["vot"].(string)
	if vot == "" {
		return "the ID token has no vot"
	}
	if !t.acceptsVot(vot) {
		return fmt.Sprintf("vot %q is not one of the vectors asked for (vtr %s)", jwsTruncate(vot), t.asked)
	}
	return ""
}

// checkMaxAge returns nil when a new ID token's auth_time is within max_age (with
// skew) of now, or none was asked.
func (t *trustRules) checkMaxAge(claims map[string]interface{}, now time.Time, skew time.Duration) error {
	if !t.hasMaxAge {
		return nil
	}
	authTime, ok := numericDate(claims["auth_time"])
	if !ok {
		return fmt.Errorf("%w: max_age was asked and the ID token has no auth_time", errTrust)
	}
	if numericDateBefore(now.Add(-t.maxAge-skew), authTime) {
		return nil
	}
	return fmt.Errorf("%w: auth_time %s is older than max_age %s", errTrust, formatNumericDate(authTime), t.maxAge)
}
