package ags

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLogFormatOf(t *testing.T) {
	env := func(v string) func(string) string {
		return func(key string) string {
			if key == "TRAEFIK_LOG_FORMAT" {
				return v
			}
			return ""
		}
	}
	cases := []struct {
		name, value string
		args        []string
		env         string
		want        string
	}{
		{"text", "text", []string{"traefik", "--log.format=json"}, "json", "text"},
		{"json", "JSON", nil, "", "json"},
		{"auto, nothing said", "auto", []string{"traefik"}, "", "text"},
		{"auto, flag", "auto", []string{"traefik", "--log.level=DEBUG", "--log.format=json"}, "", "json"},
		{"auto, flag and value apart", "auto", []string{"traefik", "--log.format", "json"}, "", "json"},
		{"auto, flag says common", "auto", []string{"traefik", "--log.format=common"}, "", "text"},
		{"auto, environment", "auto", []string{"traefik"}, "json", "json"},
		{"auto, the flag wins over the environment", "auto", []string{"traefik", "--log.format=common"}, "json", "text"},
		{"auto, another flag's value", "auto", []string{"traefik", "--accesslog.format=json"}, "", "text"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := logFormatOf(tc.value, tc.args, env(tc.env))
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v, want %q", got, err, tc.want)
			}
		})
	}
	if _, err := logFormatOf("yaml", nil, env("")); err == nil || !strings.Contains(err.Error(), "logFormat") {
		t.Errorf("logFormat yaml: got %v, want an error naming logFormat", err)
	}
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret, c.AuthenticatedPaths = "https://id.example", "app", "secret", []string{"/private"}
	c.LogFormat = "logfmt"
	if _, err := New(nil, http.NotFoundHandler(), c, "x"); err == nil || !strings.Contains(err.Error(), "logFormat must be auto, text or json") {
		t.Errorf("New with logFormat logfmt: got %v, want the option named", err)
	}
}

// TestJSONLogLines runs a sign-in, a refusal, a rejected callback and a sign-out with
// logFormat json: every line must be one JSON object with Traefik's field names and
// ags's, and none may carry a secret, a token or a cookie's value.
func TestJSONLogLines(t *testing.T) {
	tp := newTestProvider(t)
	c := flowConfig(tp)
	c.LogFormat = "json"
	signer, _ := newFlow(t, c)
	signerLog := atkCaptureLog(signer)
	c = flowConfig(tp)
	c.LogFormat = "json"
	c.RequiredClaims = map[string]interface{}{"groups": []interface{}{"ops"}}
	refuser, _ := newFlow(t, c)
	refuserLog := atkCaptureLog(refuser)

	b := newFlowBrowser(t, signer)
	var cookies []string
	keep := func() {
		for _, v := range b.jar {
			cookies = append(cookies, v)
		}
	}
	b.signIn("/private")
	keep()
	b.h = refuser
	if rec := b.get("/private"); rec.Code != http.StatusForbidden {
		t.Fatalf("refused user: got %d, want 403", rec.Code)
	}
	b.h = signer
	if rec := newFlowBrowser(t, signer).get("/oidc_callback?state=forged&code=code-forged"); rec.Code != http.StatusBadRequest {
		t.Fatalf("forged callback: got %d, want 400", rec.Code)
	}
	out := b.get("/sign-out")
	keep()
	loc, err := url.Parse(out.Header().Get("Location"))
	if err != nil || out.Code != http.StatusFound {
		t.Fatalf("sign-out: got %d to %q, want the provider", out.Code, out.Header().Get("Location"))
	}
	b.get("/sign-out?state=" + url.QueryEscape(loc.Query().Get("state")))

	events := map[string][]map[string]interface{}{}
	text := signerLog.String() + refuserLog.String()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var f map[string]interface{}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Errorf("not a JSON object: %v: %s", err, line)
			continue
		}
		for _, key := range []string{"level", "time", "message", "middlewareName", "middlewareType", "instance"} {
			if logField(f, key) == "" {
				t.Errorf("no %s in %s", key, line)
			}
		}
		if _, err := time.Parse(time.RFC3339, f["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
		if lv := f["level"]; lv != "info" && lv != "warn" && lv != "debug" {
			t.Errorf("level %v, want Traefik's lower-case names: %s", lv, line)
		}
		name := logField(f, "event")
		events[name] = append(events[name], f)
	}
	want := []struct {
		event, level, sub, rule, reason string
		duration                        bool
	}{
		{"sign-in", "info", "user-42", "", "", true},
		{"refusal", "warn", "user-42", "requiredClaims groups", "the user does not meet the access rules", false},
		{"callback-state-rejected", "warn", "", "", "no sign-in waiting", false},
		{"sign-out", "info", "user-42", "", "", false},
	}
	for _, w := range want {
		if len(events[w.event]) == 0 {
			t.Errorf("no %s line in:\n%s", w.event, text)
			continue
		}
		f := events[w.event][0]
		sub, rule, reason := logField(f, "sub"), logField(f, "rule"), logField(f, "reason")
		ms, isNumber := f["durationMs"].(float64)
		if !isNumber {
			ms = 0
		}
		if f["level"] != w.level || sub != w.sub || rule != w.rule || !strings.Contains(reason, w.reason) || (ms > 0) != w.duration {
			t.Errorf("%s: got level %v, sub %q, rule %q, reason %q, durationMs %v; want %s, %q, %q, %q, a duration %v",
				w.event, f["level"], sub, rule, reason, ms, w.level, w.sub, w.rule, w.reason, w.duration)
		}
	}
	secrets := []string{tpClientSecret, tpSessionKey, "eyJ", "access-", "refresh-", "code-"}
	for _, v := range cookies {
		if len(v) >= 16 {
			secrets = append(secrets, v[:16])
		}
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("a log line carries a secret, token or cookie (%q)", s)
		}
	}
}

// logField is a JSON line's string field, "" when absent. (Under Yaegi v0.16.1,
// `s, _ := f[key].(string)` in a loop keeps the last iteration's value when the key
// is absent, so the assertion is made in a function of its own.)
func logField(f map[string]interface{}, key string) string {
	s, ok := f[key].(string)
	if !ok {
		return ""
	}
	return s
}
