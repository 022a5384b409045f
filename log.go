package ags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Log formats (logFormat). Traefik's own lines are text unless it runs with
// log.format json; then they are zerolog's JSON objects, which jsonLine mirrors.
const (
	logText = "text"
	logJSON = "json"
	logAuto = "auto"
)

// logEvent is what an operator filters on, beside the line's message: in a JSON line
// each is a field; a text line keeps saying it in its message, as it always has.
// Never a token, a secret or a cookie: sub is the provider's user identifier.
type logEvent struct {
	event    string        // what happened: "sign-in", "sign-out", "refusal", a page's kind, "discovery"
	sub      string        // the user's subject
	rule     string        // the rule that refused the user
	reason   string        // why it failed
	duration time.Duration // of the calls to the provider behind the event; 0: none
}

// jsonLine is one line of logFormat json: Traefik's field names for level, time,
// message and the middleware (pkg/observability/logs: middlewareName,
// middlewareType, which is "Plugin" for a plugin), then ags's own.
type jsonLine struct {
	Level          string  `json:"level"`
	Time           string  `json:"time"`
	MiddlewareName string  `json:"middlewareName"`
	MiddlewareType string  `json:"middlewareType"`
	Event          string  `json:"event,omitempty"`
	Instance       string  `json:"instance"`
	Sub            string  `json:"sub,omitempty"`
	Rule           string  `json:"rule,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	DurationMs     float64 `json:"durationMs,omitempty"`
	Message        string  `json:"message"`
}

// logger writes one line per event to standard error, which Traefik collects, and
// appends it to logPath when set. No token, secret or cookie is ever passed to it.
type logger struct {
	out    io.Writer // standard error; tests read it
	name   string    // the middleware's name, as Traefik gave it
	prefix string
	path   string
	debug  bool
	json   bool
	mu     sync.Mutex
}

func newLogger(name, path string, debug bool, format string) *logger {
	return &logger{out: os.Stderr, name: name, prefix: "ags[" + name + "]:", path: path, debug: debug, json: format == logJSON}
}

func (l *logger) info(format string, args ...interface{}) {
	l.write("INFO", logEvent{}, format, args...)
}
func (l *logger) warn(format string, args ...interface{}) {
	l.write("WARN", logEvent{}, format, args...)
}
func (l *logger) debugf(format string, args ...interface{}) {
	l.write("DEBUG", logEvent{}, format, args...)
}

// logEscapes keeps one event on one line: a path, a provider's error text or a
// claim can hold line breaks that would otherwise forge log lines.
var logEscapes = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\x00", `\x00`, "\x1b", `\x1b`)

// write logs one line at level (INFO, WARN, DEBUG; DEBUG only with debug on).
func (l *logger) write(level string, e logEvent, format string, args ...interface{}) {
	if level == "DEBUG" && !l.debug {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	msg := fmt.Sprintf(format, args...)
	var line string
	if l.json {
		line = l.encodeJSON(level, now, e, msg)
	} else {
		line = now + " " + level + " " + l.prefix + " " + logEscapes.Replace(msg) + "\n"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.out, line)
	if l.path == "" {
		return
	}
	// Opened per line: lines are rare (sign-ins, sign-outs, failures), and Traefik
	// builds a new middleware on every configuration change, which would leak a
	// file kept open.
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		io.WriteString(l.out, "ags: cannot append to logPath: "+err.Error()+"\n")
		return
	}
	f.WriteString(line)
	f.Close()
}

// encodeJSON is the line as one JSON object; encoding/json escapes every line break
// and control character, so one event stays one line.
func (l *logger) encodeJSON(level, now string, e logEvent, msg string) string {
	v := jsonLine{Level: strings.ToLower(level), Time: now, MiddlewareName: l.name, MiddlewareType: "Plugin",
		Event: e.event, Instance: l.name, Sub: e.sub, Rule: e.rule, Reason: e.reason, Message: msg}
	if e.duration > 0 {
		v.DurationMs = float64(e.duration.Microseconds()) / 1000
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // paths and reasons read as they are in jq
	if err := enc.Encode(&v); err != nil {
		return `{"level":"error","message":"ags: log line cannot be encoded"}` + "\n"
	}
	return b.String()
}

// logFormatOf resolves logFormat. auto follows Traefik's log.format where a plugin
// can see it: Yaegi hands the plugin Traefik's command line (os.Args) and environment,
// so --log.format=json and TRAEFIK_LOG_FORMAT=json are seen; a format set in Traefik's
// configuration file is not (the plugin is never told), and auto is then text.
func logFormatOf(value string, args []string, getenv func(string) string) (string, error) {
	switch strings.ToLower(value) {
	case logText:
		return logText, nil
	case logJSON:
		return logJSON, nil
	case logAuto:
	default:
		return "", fmt.Errorf("logFormat must be auto, text or json, got %q", value)
	}
	format := getenv("TRAEFIK_LOG_FORMAT")
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !strings.EqualFold(name, "log.format") {
			continue
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		format = val
	}
	if strings.EqualFold(format, logJSON) {
		return logJSON, nil
	}
	return logText, nil
}
