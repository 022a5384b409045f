package harness

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The user of Hydra's login app.
const (
	HydraUsername = "ada"
	HydraSubject  = "hydra-user-ada"
	HydraEmail    = "ada@example.org"
)

// HydraOptions says how to run Hydra.
type HydraOptions struct {
	// IDTokenAlg, when set (ES256), is the algorithm of the key set that signs ID
	// tokens, made through the admin API before Hydra makes its own (RS256).
	IDTokenAlg string
}

// Hydra is an Ory Hydra v2 OpenID provider (a second implementation beside the
// zitadel/oidc example server): its public API on http://127.0.0.1:{port}/ (Hydra's
// issuer ends in "/"), its admin API, an in-memory SQLite database, and the harness's
// own login-and-consent app, which signs in HydraUsername with TestPassword through a
// form with the same fields as the zitadel example's (username, password, a submit
// button; #context shows the request's ui_locales and login_hint), grants every scope asked for with the claims email, email_verified and
// preferred_username, and accepts every logout; a logout that names no client (Hydra's
// end-session endpoint without id_token_hint) ends at the app's /signed-out page.
type Hydra struct {
	Issuer  string // e.g. http://127.0.0.1:4444/
	Admin   string // e.g. http://127.0.0.1:4445
	UI      string // the login-and-consent app, e.g. http://127.0.0.1:4455
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	ui   *http.Server
}

// StartHydra starts Hydra and its login-and-consent app on free ports and waits until
// Hydra is ready.
func StartHydra(opts HydraOptions) (*Hydra, error) {
	bin, err := HydraBinary()
	if err != nil {
		return nil, err
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	h := &Hydra{
		Issuer: fmt.Sprintf("http://127.0.0.1:%d/", ports[0]),
		Admin:  fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		UI:     fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", h.login)
	mux.HandleFunc("/consent", h.consent)
	mux.HandleFunc("/logout", h.logout)
	mux.HandleFunc("/signed-out", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>Signed out</title><h1>Signed out of Ory Hydra</h1>")
	})
	h.ui = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go h.ui.Serve(ln)

	logf, err := os.CreateTemp("", "ags-e2e-hydra-*.log")
	if err != nil {
		h.Close()
		return nil, err
	}
	h.LogPath = logf.Name()
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = append(cleanEnv(),
		"DSN=memory",
		"SECRETS_SYSTEM=ags-e2e-hydra-system-secret-0123456789",
		"URLS_SELF_ISSUER="+h.Issuer,
		"URLS_LOGIN="+h.UI+"/login",
		"URLS_CONSENT="+h.UI+"/consent",
		"URLS_LOGOUT="+h.UI+"/logout",
		"URLS_POST_LOGOUT_REDIRECT="+h.UI+"/signed-out",
		"SERVE_PUBLIC_HOST=127.0.0.1", fmt.Sprintf("SERVE_PUBLIC_PORT=%d", ports[0]),
		"SERVE_ADMIN_HOST=127.0.0.1", fmt.Sprintf("SERVE_ADMIN_PORT=%d", ports[1]),
		"OAUTH2_EXPOSE_INTERNAL_ERRORS=true",
		"LOG_LEVEL=info",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		h.Close()
		return nil, err
	}
	h.cmd, h.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(h.done)
	}()
	err = waitUntil(60*time.Second, 100*time.Millisecond, func() error {
		select {
		case <-h.done:
			return stopError{fmt.Errorf("hydra exited; its log:\n%s", h.Log())}
		default:
		}
		resp, err := http.Get(h.Admin + "/health/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("hydra not ready: %d", resp.StatusCode)
		}
		return nil
	})
	if err == nil {
		err = h.putKeys(opts.IDTokenAlg == "")
	}
	if err == nil && opts.IDTokenAlg != "" {
		err = h.adminJSON(http.MethodPost, "/admin/keys/hydra.openid.id-token",
			map[string]string{"alg": opts.IDTokenAlg, "use": "sig", "kid": "ags-e2e-" + strings.ToLower(opts.IDTokenAlg)}, nil)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// hydraKey is the RSA key that signs the ID tokens (RS256) and JWT access tokens of
// every Hydra the harness starts, made once per test binary and given to each
// through the admin API (PUT /admin/keys/{set}, as a deployment brings its own
// keys). Hydra would otherwise make an RSA 4096 key for each set at the first
// request that needs it: seconds of CPU per Hydra, and with the tests running beside
// each other one took long enough that ags's discovery request timed out.
var hydraKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

// putKeys sets Hydra's access-token key set, and its ID-token set when idToken, to
// hydraKey.
func (h *Hydra) putKeys(idToken bool) error {
	hydraKey.once.Do(func() { hydraKey.key, hydraKey.err = rsa.GenerateKey(rand.Reader, 2048) })
	if hydraKey.err != nil {
		return hydraKey.err
	}
	sets := []string{"hydra.jwt.access-token"}
	if idToken {
		sets = append(sets, "hydra.openid.id-token")
	}
	for _, set := range sets {
		jwk := jose.JSONWebKey{Key: hydraKey.key, KeyID: "ags-e2e-" + set, Algorithm: "RS256", Use: "sig"}
		if err := h.adminJSON(http.MethodPut, "/admin/keys/"+set, map[string]any{"keys": []any{jwk}}, nil); err != nil {
			return fmt.Errorf("put Hydra's key set %s: %w", set, err)
		}
	}
	return nil
}

// URL returns Hydra's public address followed by path (which starts with "/").
func (h *Hydra) URL(path string) string { return strings.TrimSuffix(h.Issuer, "/") + path }

// Log returns what Hydra logged so far.
func (h *Hydra) Log() string {
	data, _ := os.ReadFile(h.LogPath)
	return string(data)
}

// CreateClient registers an OAuth 2.0 client (Hydra's admin API, POST /admin/clients)
// and returns its client_id.
func (h *Hydra) CreateClient(client map[string]any) (string, error) {
	var created struct {
		ClientID string `json:"client_id"`
	}
	err := h.adminJSON(http.MethodPost, "/admin/clients", client, &created)
	return created.ClientID, err
}

// SetClientLifespans sets a client's token lifespans (PUT /admin/clients/{id}/lifespans).
func (h *Hydra) SetClientLifespans(id string, lifespans map[string]string) error {
	return h.adminJSON(http.MethodPut, "/admin/clients/"+url.PathEscape(id)+"/lifespans", lifespans, nil)
}

// Close stops Hydra and its app, and removes its log unless AGS_E2E_KEEP is set.
func (h *Hydra) Close() {
	if h.ui != nil {
		h.ui.Close()
	}
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Signal(os.Interrupt)
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			h.cmd.Process.Kill()
			<-h.done
		}
	}
	if h.LogPath != "" && os.Getenv("AGS_E2E_KEEP") == "" {
		os.Remove(h.LogPath)
	}
}

// adminJSON sends body as JSON to Hydra's admin API and decodes the answer into out.
func (h *Hydra) adminJSON(method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, h.Admin+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("hydra %s %s: %d %s", method, path, resp.StatusCode, answer)
	}
	if out != nil {
		return json.Unmarshal(answer, out)
	}
	return nil
}

// adminGet reads a login, consent or logout request of the admin API.
func (h *Hydra) adminGet(path string, out any) error {
	resp, err := http.Get(h.Admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("hydra GET %s: %d %s", path, resp.StatusCode, body)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// accept accepts a login, consent or logout challenge and sends the browser where
// Hydra says.
func (h *Hydra) accept(w http.ResponseWriter, r *http.Request, kind, challenge string, body any) {
	var answer struct {
		RedirectTo string `json:"redirect_to"`
	}
	path := "/admin/oauth2/auth/requests/" + kind + "/accept?" + kind + "_challenge=" + url.QueryEscape(challenge)
	if err := h.adminJSON(http.MethodPut, path, body, &answer); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, answer.RedirectTo, http.StatusFound)
}

var hydraLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><title>Hydra sign-in</title></head><body>
<h1>Sign in to Ory Hydra</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
{{if .Context}}<p id="context">{{.Context}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="challenge" value="{{.Challenge}}">
<label>Username <input id="username" name="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button type="submit">Login</button>
</form></body></html>`))

// login shows the login form for a login challenge, and accepts the test user.
func (h *Hydra) login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.ParseForm()
		challenge := r.PostForm.Get("challenge")
		if r.PostForm.Get("username") != HydraUsername || r.PostForm.Get("password") != TestPassword {
			w.WriteHeader(http.StatusUnauthorized)
			hydraLoginPage.Execute(w, map[string]string{"Challenge": challenge, "Error": "Wrong username or password."})
			return
		}
		// remember: Hydra keeps a login session, which its logout must end.
		h.accept(w, r, "login", challenge, map[string]any{"subject": HydraSubject, "remember": true})
		return
	}
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
		OIDC    struct {
			UILocales []string `json:"ui_locales"`
			LoginHint string   `json:"login_hint"`
		} `json:"oidc_context"`
	}
	if err := h.adminGet("/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(challenge), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if req.Skip {
		h.accept(w, r, "login", challenge, map[string]any{"subject": req.Subject})
		return
	}
	// What the client asked for beyond the protocol, as Hydra passed it on.
	context := ""
	if len(req.OIDC.UILocales) > 0 || req.OIDC.LoginHint != "" {
		context = fmt.Sprintf("ui_locales: %s; login_hint: %s", strings.Join(req.OIDC.UILocales, " "), req.OIDC.LoginHint)
	}
	hydraLoginPage.Execute(w, map[string]string{"Challenge": challenge, "Context": context})
}

// consent grants what the client asked for, with the test user's claims.
func (h *Hydra) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		RequestedScope    []string `json:"requested_scope"`
		RequestedAudience []string `json:"requested_access_token_audience"`
	}
	if err := h.adminGet("/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(challenge), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	claims := map[string]any{"email": HydraEmail, "email_verified": true, "preferred_username": HydraUsername}
	h.accept(w, r, "consent", challenge, map[string]any{
		"grant_scope":                 req.RequestedScope,
		"grant_access_token_audience": req.RequestedAudience,
		"remember":                    false,
		"session":                     map[string]any{"id_token": claims, "access_token": map[string]any{}},
	})
}

// logout accepts the logout: Hydra then sends the browser to the client's
// post_logout_redirect_uri.
func (h *Hydra) logout(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("logout_challenge")
	if challenge == "" {
		http.Error(w, "no logout_challenge", http.StatusBadRequest)
		return
	}
	h.accept(w, r, "logout", challenge, struct{}{})
}
