package ags

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// manifestTestData reads the flat testData block of .traefik.yml: "key: value"
// lines and "- item" lists, which is all the manifest uses.
func manifestTestData(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile(".traefik.yml")
	if err != nil {
		t.Fatal(err)
	}
	c := CreateConfig()
	in, list := false, ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "testData:") {
			in = true
			continue
		}
		if !in || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "  ") {
			break
		}
		item := strings.TrimSpace(line)
		if strings.HasPrefix(item, "- ") && list == "authenticatedPaths" {
			c.AuthenticatedPaths = append(c.AuthenticatedPaths, strings.TrimSpace(item[2:]))
			continue
		}
		key, value, _ := strings.Cut(item, ":")
		value = strings.TrimSpace(value)
		list = key
		if o := optionNamed(key); o.field != nil {
			*o.field(c) = value
		} else if key != "authenticatedPaths" {
			t.Fatalf("testData has %q, which is not an option", key)
		}
	}
	return c
}

// TestManifestTestData builds the middleware from the plugin catalog's testData,
// as the catalog does: with no network, and it must serve an open path.
func TestManifestTestData(t *testing.T) {
	c := manifestTestData(t)
	if c.Issuer == "" || len(c.AuthenticatedPaths) == 0 {
		t.Fatalf("testData not read: %+v", c)
	}
	h, err := New(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}), c, "catalog")
	if err != nil {
		t.Fatalf("New with testData: %v", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("open path: got %d %q", rec.Code, rec.Body.String())
	}
}

// TestSessionsSharedAcrossInstances: two middlewares with the same issuer, client and
// secret (two routers, two replicas, or one after a restart) read each other's
// sessions; another secret does not.
func TestSessionsSharedAcrossInstances(t *testing.T) {
	tp := newTestProvider(t)
	first, _ := newFlow(t, flowConfig(tp))
	second, app := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, first)
	b.signIn("/private")
	b.h = second
	if rec := b.get("/private"); rec.Code != 200 || app.last.Header.Get("X-Auth-Request-User") != "user-42" {
		t.Errorf("through the second instance: got %d", rec.Code)
	}
	c := flowConfig(tp)
	c.SessionSecret = "another-secret-of-at-least-32-bytes-long"
	third, _ := newFlow(t, c)
	b.h = third
	if rec := b.get("/private"); rec.Code != http.StatusFound {
		t.Errorf("with another secret: got %d, want a new login", rec.Code)
	}
}

// TestSignInReplacesOldSession: a session cookie planted before the login is
// replaced, never kept (session fixation).
func TestSignInReplacesOldSession(t *testing.T) {
	tp := newTestProvider(t)
	m, _ := newFlow(t, flowConfig(tp))
	b := newFlowBrowser(t, m)
	b.jar["ags_client_session"] = "planted"
	b.jar["ags_client_session_1"] = "planted"
	b.signIn("/private")
	if b.jar["ags_client_session"] == "planted" || b.jar["ags_client_session_1"] == "planted" {
		t.Errorf("the planted cookies survived the sign-in: %v", b.jar)
	}
	if rec := b.get("/private"); rec.Code != 200 {
		t.Errorf("after sign-in: got %d", rec.Code)
	}
}
