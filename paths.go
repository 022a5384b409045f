package ags

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// compilePathPatterns joins the authenticatedPaths patterns into one expression that
// must match a whole path, with the leading "/" and one trailing "/" optional. The s
// flag lets "." match a newline, which a decoded path can hold.
func compilePathPatterns(patterns []string) (*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("authenticatedPaths is required: give at least one regular expression")
	}
	return compilePatterns("authenticatedPaths", patterns)
}

// compilePatterns joins the patterns of option as compilePathPatterns does; nil
// when there are none.
func compilePatterns(option string, patterns []string) (*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	parts := make([]string, 0, len(patterns))
	for i, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%s[%d] is empty", option, i)
		}
		if _, err := regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("%s[%d] %q is not a valid regular expression: %w", option, i, p, err)
		}
		parts = append(parts, "(?:"+strings.TrimPrefix(p, "/")+")")
	}
	return regexp.MustCompile(`(?s)^/?(?:` + strings.Join(parts, "|") + `)/?$`), nil
}

// needsNormalizing lists what a path may hold that the app could read differently
// from the path as it stands: encodings, matrix parameters, backslashes, a decoded
// "?" or "#", white space and control characters. plainPath adds dot segments,
// runs of slashes and a segment ending in ".". A path without any of these is
// matched as it is, which keeps the common request cheap.
const needsNormalizing = "%;?#\\ " + controlChars

// plainPath reports whether p has one reading only: itself.
func plainPath(p string) bool {
	return !strings.ContainsAny(p, needsNormalizing) && !strings.Contains(p, "//") &&
		!strings.Contains(p, "/.") && !strings.Contains(p, "./") && !strings.HasSuffix(p, ".")
}

// matchPaths returns the forms of the request path to match: the path as the app
// sees it, decoded up to three more times, each as it stands (an app that does not
// clean paths acts on /admin/../public as under /admin/) and cleaned, with the
// other readings that a server between Traefik and the app might make of it. When
// in doubt, protect: a path is protected if any of its forms matches.
func matchPaths(p string) []string {
	if plainPath(p) {
		return []string{p}
	}
	readings := []string{p}
	decoded := p
	for i := 0; i < 3 && strings.Contains(decoded, "%"); i++ {
		d, err := url.PathUnescape(decoded)
		if err != nil {
			d = lenientUnescape(decoded)
		}
		decoded = d
		readings = append(readings, decoded)
	}
	seen := map[string]bool{}
	var forms []string
	for _, reading := range readings {
		for _, v := range serverReadings(reading) {
			for _, form := range []string{v, cleanPath(v)} {
				if !seen[form] {
					seen[form] = true
					forms = append(forms, form)
				}
			}
		}
	}
	return forms
}

// serverReadings returns p and what servers make of it: the part before a decoded
// "?" or "#", without ";matrix" parameters (Java servers), with "\" read as "/"
// (Windows servers), and with each segment's trailing dots and spaces dropped (as
// Windows and some frameworks do). Each reading applies to the ones before it.
func serverReadings(p string) []string {
	out := []string{p}
	apply := func(applies bool, f func(string) string) {
		if !applies {
			return
		}
		for _, v := range out {
			if w := f(v); w != v {
				out = append(out, w)
			}
		}
	}
	apply(strings.ContainsAny(p, "?#"), func(v string) string {
		if cut := strings.IndexAny(v, "?#"); cut >= 0 {
			return v[:cut]
		}
		return v
	})
	apply(strings.Contains(p, ";"), stripMatrixParams)
	apply(strings.Contains(p, "\\"), func(v string) string { return strings.ReplaceAll(v, "\\", "/") })
	apply(strings.ContainsAny(p, ". "), trimSegmentEnds)
	return out
}

// trimSegmentEnds drops the trailing dots and spaces of every segment but "." and
// "..": a Windows server opens /admin. and /admin%20 as /admin.
func trimSegmentEnds(p string) string {
	segments := strings.Split(p, "/")
	for i, seg := range segments {
		if seg != "." && seg != ".." {
			segments[i] = strings.TrimRight(seg, ". ")
		}
	}
	return strings.Join(segments, "/")
}

// lenientUnescape decodes every valid %XX escape and keeps the rest as it is, as
// many servers do: one bad escape must not hide the others from matching.
func lenientUnescape(s string) string {
	parts := strings.Split(s, "%")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, part := range parts[1:] {
		if len(part) >= 2 && strings.Contains(hexDigits, part[:1]) && strings.Contains(hexDigits, part[1:2]) {
			d, err := url.PathUnescape("%" + part[:2])
			if err == nil {
				b.WriteString(d)
				b.WriteString(part[2:])
				continue
			}
		}
		b.WriteString("%")
		b.WriteString(part)
	}
	return b.String()
}

const hexDigits = "0123456789abcdefABCDEF"

// cleanPath resolves "." and "..", collapses "//" and keeps one trailing "/".
func cleanPath(p string) string {
	c := path.Clean("/" + p)
	if c != "/" && strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c
}

// stripMatrixParams drops ";params" from every segment, as Java servers do.
func stripMatrixParams(p string) string {
	segments := strings.Split(p, "/")
	for i, seg := range segments {
		if cut := strings.IndexByte(seg, ';'); cut >= 0 {
			segments[i] = seg[:cut]
		}
	}
	return strings.Join(segments, "/")
}

// maxEscapes bounds the escapes a path may hold before it is protected unread:
// decoding a flood of them, three times over, is work an attacker should not get
// for free, and no app's real path holds that many.
const maxEscapes = 64

// requestForms are the forms of a request's path to match: matchPaths of the
// path (p, r.URL.Path), and, when the request spelt it otherwise (raw,
// r.URL.RawPath, set only then), of the escaped path decoded but for "%2F": an app
// that routes on the escaped path (Go's ServeMux since 1.22, Rails, Express) reads
// /reports/q3%2Fsalaries as one segment, where the decoded path has two.
func requestForms(p, raw string) []string {
	forms := matchPaths(p)
	if raw == "" {
		return forms
	}
	for _, form := range matchPaths(unescapeButSlash(raw)) {
		if !listContains(forms, form) {
			forms = append(forms, form)
		}
	}
	return forms
}

// unescapeButSlash decodes every escape of an escaped path but "%2F", which stays
// as it is (in upper case).
func unescapeButSlash(raw string) string {
	parts := strings.Split(strings.ReplaceAll(raw, "%2f", "%2F"), "%2F")
	for i, part := range parts {
		d, err := url.PathUnescape(part)
		if err != nil {
			d = lenientUnescape(part)
		}
		parts[i] = d
	}
	return strings.Join(parts, "%2F")
}

// isProtected reports whether the request path needs a signed-in user: p is
// r.URL.Path, raw r.URL.RawPath. A reading that an authenticated path matches
// protects the path unless a public path matches that reading too: so the path
// opens only if every reading that is protected is also public.
func (m *middleware) isProtected(p, raw string) bool {
	if strings.Count(p, "%")+strings.Count(raw, "%") > maxEscapes {
		return true
	}
	public := m.cfg.public
	for _, form := range requestForms(p, raw) {
		// A NUL or another control character: no app's real path, and each
		// reads it its own way (a C string ends at the NUL).
		if strings.ContainsAny(form, controlChars) {
			return true
		}
		if pathMatches(m.cfg.protected, form) && (public == nil || !pathMatches(public, form)) {
			return true
		}
	}
	return false
}

// pathMatches reports whether the expression of a path option matches form.
// "admin/.*" matches /admin as well as /admin/: the app may serve both alike.
func pathMatches(re *regexp.Regexp, form string) bool {
	return re.MatchString(form) || !strings.HasSuffix(form, "/") && re.MatchString(form+"/")
}

// signOutLast is what a decoded path must hold to be read as the sign-out path
// without being it (readsAsSignOut): the sign-out path's last segment, which every
// reading but decoding again leaves in place (cutting at ";", "?" or "#", "\\" for
// "/", cleaning "//" and dot segments, trimming a segment's trailing dots and
// spaces, the escaped path, which only joins segments). One call into strings on the
// signed-in request path (mayReadAsSignOut), where the cost of a second (a "%" that
// a second decoding might turn into it) was measured at some 6,000 instructions: a
// sign-out link encoded twice is not one (README, "Paths").
func signOutLast(signOutPath string) string {
	return signOutPath[strings.LastIndex(signOutPath, "/")+1:]
}

// mayReadAsSignOut reports whether p may have a reading that is the sign-out path.
func mayReadAsSignOut(m *middleware, p string) bool {
	return strings.Contains(p, m.signOutLast)
}

// readsAsSignOut reports whether any reading of the request path (requestForms:
// path parameters, a trailing "/", "//", dot segments, encodings) is the sign-out
// path: then the request signs out, as the app's sign-out view will take it for one.
func (m *middleware) readsAsSignOut(r *http.Request) bool {
	p, raw := r.URL.Path, r.URL.RawPath
	if !mayReadAsSignOut(m, p) {
		return false
	}
	if strings.Count(p, "%")+strings.Count(raw, "%") > maxEscapes {
		return false // protected unread (isProtected); no sign-out view has so many
	}
	for _, form := range requestForms(p, raw) {
		if form == m.cfg.signOutPath || form == m.signOutSlash {
			return true
		}
	}
	return false
}

// returnPath gives the place to come back to after sign-in: the request's own path
// and query on the same host, or "/" when any reading of it could leave the host.
func returnPath(u *url.URL) string {
	target := u.EscapedPath()
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	if !isLocalPath(target) {
		return "/"
	}
	return target
}

// isLocalPath reports whether a Location value stays on the same host however a
// browser or a server reads it: it must start with one "/" that is not followed by
// another "/" or "\", also once percent-decoded (repeatedly) and with the tabs and
// line breaks that browsers drop removed and the leading spaces and control
// characters they skip trimmed.
func isLocalPath(target string) bool {
	if strings.ContainsAny(target, controlChars) {
		return false
	}
	s := target
	for i := 0; i < 4; i++ {
		t := strings.TrimLeft(locationNoise.Replace(s), controlChars+" ")
		if !strings.HasPrefix(t, "/") || strings.HasPrefix(t, "//") || strings.HasPrefix(t, "/\\") {
			return false
		}
		if !strings.Contains(s, "%") {
			return true
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		s = d
	}
	return !strings.Contains(s, "%")
}

// controlChars are the C0 controls and DEL.
const controlChars = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// locationNoise removes what URL parsers delete anywhere in a URL.
var locationNoise = strings.NewReplacer("\t", "", "\n", "", "\r", "")
