package ags

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStepUp (SPEC 11-12, issue 24): with stepUp, a signed-in user whom an instance
// refuses is sent once to the provider with that instance's authParams; the new
// session replaces the old, and only if it is refused too comes the 403: one trip
// per request chain, never a loop. An API call gets the 403 at once; without stepUp,
// so does a browser.
func TestStepUp(t *testing.T) {
	tp := newTestProvider(t)
	for _, tc := range []struct {
		name    string
		edit    func(c *Config)
		first   map[string]interface{} // the ID token's claims at the first sign-in
		stepped map[string]interface{} // and at the step-up
		want    int                    // the answer after the step-up
	}{
		{"vtr met after step-up", func(c *Config) { c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`} },
			map[string]interface{}{"vot": "Cl"}, map[string]interface{}{"vot": "Cl.Cm"}, http.StatusOK},
		{"vtr still not met", func(c *Config) { c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`} },
			map[string]interface{}{"vot": "Cl"}, map[string]interface{}{"vot": "Cl"}, http.StatusForbidden},
		{"rule met after step-up", func(c *Config) { c.RequiredClaims = map[string]interface{}{"acr": []interface{}{"gold"}} },
			map[string]interface{}{"acr": "silver"}, map[string]interface{}{"acr": "gold"}, http.StatusOK},
		{"rule still not met", func(c *Config) { c.RequiredClaims = map[string]interface{}{"acr": []interface{}{"gold"}} },
			map[string]interface{}{"acr": "silver"}, map[string]interface{}{"acr": "silver"}, http.StatusForbidden},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			low, _ := newFlow(t, flowConfig(tp))
			c := flowConfig(tp)
			tc.edit(c)
			c.StepUp = "true"
			high, app := newFlow(t, c)
			reviewUser(tp, tc.first, nil)
			b := newFlowBrowser(t, low)
			b.signIn("/private")
			b.h = high
			if api := b.do(http.MethodGet, "/private", http.Header{"Accept": {"application/json"}}); api.Code != http.StatusForbidden {
				t.Errorf("an API call: got %d, want 403 at once", api.Code)
			}
			rec := b.get("/private")
			if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), tp.issuer+"/authorize?") {
				t.Fatalf("refused browser: got %d to %q, want a step-up to the provider", rec.Code, rec.Header().Get("Location"))
			}
			if tc.edit != nil && c.AuthParams["vtr"] != "" && !strings.Contains(rec.Header().Get("Location"), "vtr=") {
				t.Errorf("the step-up does not carry the instance's authParams: %s", rec.Header().Get("Location"))
			}
			reviewUser(tp, tc.stepped, nil)
			back := b.get(b.authorize(rec))
			if back.Code != http.StatusFound || back.Header().Get("Location") != "/private" {
				t.Fatalf("callback of the step-up: got %d to %q", back.Code, back.Header().Get("Location"))
			}
			got := b.get("/private")
			if got.Code != tc.want {
				t.Fatalf("after the step-up: got %d, want %d (no second trip)", got.Code, tc.want)
			}
			if tc.want == http.StatusOK && app.calls != 1 {
				t.Errorf("the app got %d calls, want 1", app.calls)
			}
			if tc.want == http.StatusForbidden {
				// A later visit may step up again: one trip per request chain.
				if again := b.get("/private"); again.Code != http.StatusFound {
					t.Errorf("a later visit: got %d, want another step-up", again.Code)
				}
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		reviewUser(tp, map[string]interface{}{"vot": "Cl"}, nil)
		low, _ := newFlow(t, flowConfig(tp))
		c := flowConfig(tp)
		c.AuthParams = map[string]string{"vtr": `["Cl.Cm"]`}
		high, _ := newFlow(t, c)
		b := newFlowBrowser(t, low)
		b.signIn("/private")
		b.h = high
		if rec := b.get("/private"); rec.Code != http.StatusForbidden {
			t.Errorf("stepUp off: got %d, want 403", rec.Code)
		}
	})
}

// TestSignInFinishedAsStarted: the callback path is routed to one middleware, but
// the sign-in is finished with the options of the one that started it (sealed in the
// pending login): a step-up from an identity route whose callback lands on the
// plain route still verifies the identity; and a new session keeps the userinfo
// claims any sibling reads, whichever instance finished the sign-in.
func TestSignInFinishedAsStarted(t *testing.T) {
	tp := newTestProvider(t)
	f := newCIFixture(t)
	plainCfg := flowConfig(tp)
	plainCfg.IdentityHeaders = map[string]string{"test " + t.Name(): "X-Distinct"} // a configuration of its own
	plain, _ := newFlow(t, plainCfg)
	idCfg := ciConfig(tp, f)
	idCfg.StepUp = "true"
	idCfg.RequiredClaims = map[string]interface{}{"department": []interface{}{"it"}} // from userinfo only
	identity, idApp := newFlow(t, idCfg)
	reviewUser(tp, map[string]interface{}{"vot": "Cl.Cm"}, map[string]interface{}{
		"sub": "user-42", "department": "it", coreIdentityClaim: f.signer.sign(t, nil, f.claims(time.Now())),
	})
	rulesCfg := flowConfig(tp)
	rulesCfg.RequiredClaims = map[string]interface{}{"department": []interface{}{"it"}}
	rules, _ := newFlow(t, rulesCfg)
	b := newFlowBrowser(t, plain)
	b.signIn("/private") // through the plain instance: it does not read department itself
	b.h = rules
	if got := b.get("/private"); got.Code != http.StatusOK {
		t.Errorf("a sibling whose rule reads a userinfo claim: got %d, want 200 (the session kept the claim)", got.Code)
	}
	b.h = identity
	rec := b.get("/private") // refused: no identity yet; a step-up
	if rec.Code != http.StatusFound {
		t.Fatalf("got %d, want a step-up", rec.Code)
	}
	b.h = plain // the callback path is routed to the plain instance
	back := b.get(b.authorize(rec))
	if back.Code != http.StatusFound {
		t.Fatalf("callback: got %d %s", back.Code, back.Body.String())
	}
	b.h = identity
	if got := b.get("/private"); got.Code != http.StatusOK || idApp.last == nil || idApp.last.Header.Get(headerIdentityLevel) != "P2" {
		t.Fatalf("after the step-up finished by the plain route: got %d, want the identity route with the identity", got.Code)
	}
}
