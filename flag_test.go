package ags

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestFlagOverEveryCombination pins the feature flag over every combination of
// featureFlagToggle, featureFlagDefault and the flag cookie a client sends, signed out
// and signed in, on a protected path and on the toggle path. With the toggle off the
// cookie must mean nothing: a strict gate cannot be switched off by a client.
func TestFlagOverEveryCombination(t *testing.T) {
	tp := newTestProvider(t)
	// One sign-in, through an instance that has the toggle, gives the session
	// that every instance below opens (same issuer, client, cookie and secret).
	signer, _ := newFlow(t, flowConfig(tp))
	sb := newFlowBrowser(t, signer)
	sb.signIn("/private")
	session := map[string]string{}
	for name, value := range sb.jar {
		if name != "ags_client_active" {
			session[name] = value
		}
	}
	if len(session) == 0 {
		t.Fatal("no session cookie after sign-in")
	}

	for _, toggle := range []string{"true", "false"} {
		for _, def := range []string{"true", "false"} {
			for _, cookie := range []string{"", "0", "1", "junk"} {
				for _, signedIn := range []bool{false, true} {
					name := "toggle=" + toggle + "/default=" + def + "/cookie=" + cookie
					if signedIn {
						name += "/signed-in"
					}
					t.Run(name, func(t *testing.T) {
						c := flowConfig(tp)
						c.FeatureFlagToggle = toggle
						c.FeatureFlagDefault = def
						m, app := newFlow(t, c)
						want := def == "true"
						if toggle == "true" && cookie == "0" {
							want = false
						}
						if toggle == "true" && cookie == "1" {
							want = true
						}
						newBrowser := func() *flowBrowser {
							b := newFlowBrowser(t, m)
							if cookie != "" {
								b.jar["ags_client_active"] = cookie
							}
							if signedIn {
								for k, v := range session {
									b.jar[k] = v
								}
							}
							return b
						}

						// A protected path, with a forged identity header.
						b := newBrowser()
						forged := http.Header{headerUser: {"forged"}}
						rec := b.do(http.MethodGet, "/private", forged)
						switch {
						case want && !signedIn:
							if rec.Code != http.StatusFound || app.calls != 0 {
								t.Errorf("flag on, signed out: got %d and %d app calls, want a login", rec.Code, app.calls)
							}
						case want && signedIn:
							if rec.Code != http.StatusOK || app.calls != 1 || app.last.Header.Get(headerUser) != "user-42" {
								t.Errorf("flag on, signed in: got %d, user %q, want the app with the identity", rec.Code, userOf(app))
							}
						default:
							if rec.Code != http.StatusOK || app.calls != 1 || app.last.Header.Get(headerUser) != "" {
								t.Errorf("flag off: got %d, user %q, want the app with no identity", rec.Code, userOf(app))
							}
						}

						// The toggle path.
						calls := app.calls
						b = newBrowser()
						rec = b.get("/toggle-feature/ags_client_active")
						if toggle == "false" {
							if app.calls != calls+1 || rec.Code != http.StatusOK {
								t.Errorf("toggle off: the toggle path got %d and did not reach the app", rec.Code)
							}
							if got := rec.Header().Values("Set-Cookie"); strings.Contains(strings.Join(got, "\n"), "ags_client_active=") {
								t.Errorf("toggle off: the flag cookie was set: %q", got)
							}
							return
						}
						word := "True"
						if want {
							word = "False"
						}
						if got, wantBody := rec.Body.String(), "ags_client_active feature flag set to: "+word; got != wantBody || app.calls != calls {
							t.Errorf("toggle: got %q (%d app calls), want %q and no app call", got, app.calls-calls, wantBody)
						}
					})
				}
			}
		}
	}
}

func userOf(app *flowBackend) string {
	if app.last == nil {
		return ""
	}
	return app.last.Header.Get(headerUser)
}

// TestToggleWarning: with the toggle on, each middleware says once, at start, that
// a visitor can switch it off, and names the option that stops it.
func TestToggleWarning(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		toggle string
		want   bool
	}{{"", true}, {"true", true}, {"false", false}} {
		t.Run("toggle="+tc.toggle, func(t *testing.T) {
			c := flowConfig(tp)
			c.FeatureFlagToggle = tc.toggle
			c.LogPath = t.TempDir() + "/ags.log"
			if _, err := newMiddleware(http.NotFoundHandler(), c, "warn"); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(c.LogPath)
			if err != nil {
				t.Fatal(err)
			}
			data := string(b)
			if got := strings.Count(data, "featureFlagToggle: false"); (got == 1) != tc.want {
				t.Errorf("got %d warnings naming featureFlagToggle, want %v:\n%s", got, tc.want, data)
			}
		})
	}
}
