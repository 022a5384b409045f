package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PanvaProfile says which real provider a Panva imitates.
type PanvaProfile string

// The profiles of StartPanva. Each keeps oidc-provider's protocol and changes what a
// relying party sees of the provider it names (README, "panva's oidc-provider").
const (
	// PanvaTextbook is oidc-provider as it comes: issuer http://127.0.0.1:{port},
	// opaque access tokens, userinfo, the scopes' claims in the ID token.
	PanvaTextbook PanvaProfile = "textbook"
	// PanvaEntraMultitenant is Entra ID's organizations endpoint: Issuer
	// http://127.0.0.1:{port}/organizations/v2.0, whose discovery names the issuer
	// template http://127.0.0.1:{port}/{tenantid}/v2.0 literally; tokens name the
	// user's tenant (iss with the tid claim's value, and tid); JWT access tokens for
	// the app itself (aud its client ID, typ JWT, scp), which userinfo refuses (401).
	PanvaEntraMultitenant PanvaProfile = "entra-multitenant"
	// PanvaKeycloak is a Keycloak realm: Issuer http://127.0.0.1:{port}/realms/ags,
	// Keycloak's endpoint paths, JWT access tokens (typ at+jwt, aud account) with
	// realm_access.roles and resource_access."my.app".roles, which the ID token and
	// userinfo do not carry; the client is PanvaKeycloakClientID.
	PanvaKeycloak PanvaProfile = "keycloak"
	// PanvaZitadel has ZITADEL's roles claim, an object whose keys are the roles:
	// urn:zitadel:iam:org:project:roles {"admin": {orgID: domain}}, in the ID token
	// and userinfo.
	PanvaZitadel PanvaProfile = "zitadel"
	// PanvaEntraOverage is one Entra tenant (Issuer
	// http://127.0.0.1:{port}/{tenant}/v2.0) whose user has too many groups: no
	// groups claim, but _claim_names {"groups": "src1"} and _claim_sources {"src1":
	// {"endpoint": URL("/groups/{sub}")}}, an endpoint that answers {"groups": [...]}
	// to the user's access token (Bearer).
	PanvaEntraOverage PanvaProfile = "entra-overage"
	// PanvaApple is Sign in with Apple: response_mode=form_post required when the
	// scope has email or name (else a 400 page, no redirect); the first answer has a
	// form field user with the name; no userinfo and no end-session endpoint;
	// email_verified and is_private_email are strings.
	PanvaApple PanvaProfile = "apple"
	// PanvaCognito is Amazon Cognito's hosted UI: no end_session_endpoint in
	// discovery; /logout?client_id=...&logout_uri=... ends the session and redirects
	// to logout_uri when the client registered it; cognito:groups and
	// cognito:username claims, token_use "id".
	PanvaCognito PanvaProfile = "cognito"
)

// The user of a Panva (password TestPassword), and the defaults of PanvaOptions.
const (
	PanvaUsername = "grace"
	PanvaSubject  = "panva-user-grace"
	PanvaEmail    = "grace@example.org"
	// PanvaTenantID is the Entra profiles' tenant: the user's tid.
	PanvaTenantID = "6d1f0c4e-2b7a-4e0c-9c55-3f2a8b1d7e90"
	// PanvaKeycloakClientID is the keycloak profile's client (a dot in it, as in
	// resource_access."my.app"); the other profiles' is ClientID. Both have
	// ClientSecret.
	PanvaKeycloakClientID = "my.app"
)

// PanvaOptions says how to run a Panva.
type PanvaOptions struct {
	// Profile is the provider imitated; "" is PanvaTextbook.
	Profile PanvaProfile
	// Claims are set over the profile's claims of the user (PanvaClaims); a nil
	// value removes one. Only the names known at start are ever released: SetClaims
	// changes values, not which claims exist.
	Claims map[string]any
	// Clients are oidc-provider client metadata (RFC 7591 names, e.g.
	// backchannel_logout_uri, jwks, token_endpoint_auth_method). Nil: one client,
	// PanvaDefaultClient. Every client may also redirect to any
	// http://127.0.0.1:{port}/ or example.org address, as the other providers allow.
	Clients []map[string]any
	// TenantID is the Entra profiles' tenant; "" is PanvaTenantID.
	TenantID string
	// AccessTokenTTL is the access tokens' lifetime; 0 is an hour.
	AccessTokenTTL time.Duration
	// MinimalIDToken keeps the scopes' claims out of the ID token when an access
	// token for userinfo is issued (oidc-provider's conformIdTokenClaims, OIDC Core
	// 5.4): the ID token has sub and what the claims parameter asks for.
	MinimalIDToken bool
	// AccessTokenType, when set, is the typ header of JWT access tokens instead of
	// at+jwt (Entra's default here is JWT, as Entra's are).
	AccessTokenType string
}

// Panva is panva's oidc-provider (an OpenID Certified implementation, in Node, the
// third provider of the harness) on 127.0.0.1, run by `node server.mjs` from
// e2e/harness/panva with the packages of tools/oidc-provider/install.sh. Its user
// Username signs in with TestPassword through a form with the fields of the other
// providers' (username, password, a Login button, a Cancel link with id "cancel";
// #context shows login_hint and ui_locales); consent is granted without a page.
// oidc-provider's logout confirmation and form_post answers submit themselves in a
// browser; a Client posts them with SubmitForm.
type Panva struct {
	// Issuer is what a relying party is configured with: its discovery is at
	// Issuer + "/.well-known/openid-configuration". For entra-multitenant the
	// issuer of the tokens differs (TokenIssuer).
	Issuer   string
	Origin   string // http://127.0.0.1:{Port}
	Port     int
	Profile  PanvaProfile
	ClientID string // the default client's
	Username string
	Subject  string
	TenantID string         // the Entra profiles'
	Claims   map[string]any // the user's at start, sub included
	LogPath  string

	dir, adminToken string
	cmd             *exec.Cmd
	done            chan struct{}
}

// PanvaDefaultClient is the client of a Panva without PanvaOptions.Clients: id,
// ClientSecret with client_secret_basic, the code flow, refresh tokens and client
// credentials.
func PanvaDefaultClient(id string) map[string]any {
	return map[string]any{
		"client_id":                  id,
		"client_secret":              ClientSecret,
		"token_endpoint_auth_method": "client_secret_basic",
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"post_logout_redirect_uris":  []string{"http://127.0.0.1/"},
		"grant_types":                []string{"authorization_code", "refresh_token", "client_credentials"},
		"response_types":             []string{"code"},
	}
}

// PanvaClaims returns the claims a profile gives the user, before
// PanvaOptions.Claims: the real provider's names and shapes.
func PanvaClaims(profile PanvaProfile, tenantID string) map[string]any {
	c := map[string]any{
		"sub":                PanvaSubject,
		"email":              PanvaEmail,
		"email_verified":     true,
		"name":               "Grace Hopper",
		"given_name":         "Grace",
		"family_name":        "Hopper",
		"preferred_username": PanvaUsername,
	}
	switch profile {
	case PanvaTextbook, "":
		c["groups"] = []string{"engineering", "ags-admins"}
	case PanvaEntraMultitenant, PanvaEntraOverage:
		delete(c, "email_verified") // Entra has none
		c["preferred_username"] = PanvaEmail
		c["tid"] = tenantID
		c["oid"] = "0b6a8f2e-5c1d-4f7a-8e3b-9d2c1a0f4e65"
		c["ver"] = "2.0"
		c["groups"] = []string{"c3a1b2d4-0e5f-4a6b-8c7d-9e0f1a2b3c4d", "7f8e9d0c-1b2a-4c3d-9e4f-5a6b7c8d9e0f"}
	case PanvaKeycloak:
		c["realm_access"] = map[string]any{"roles": []string{"default-roles-ags", "offline_access", "uma_authorization", "ags-admin"}}
		c["resource_access"] = map[string]any{
			PanvaKeycloakClientID: map[string]any{"roles": []string{"admin", "viewer"}},
			"account":             map[string]any{"roles": []string{"manage-account", "view-profile"}},
		}
	case PanvaZitadel:
		roles := map[string]any{"admin": map[string]any{"284061812436566017": "ags.127.0.0.1"}}
		c["urn:zitadel:iam:org:project:roles"] = roles
		c["urn:zitadel:iam:org:project:284061834310451201:roles"] = roles
		c["urn:zitadel:iam:user:resourceowner:id"] = "284061812436566017"
	case PanvaApple:
		c = map[string]any{
			"sub":              "001234.5f1c7a3b9e2d4c8a.0815",
			"email":            "x7k2p9q4rt@privaterelay.appleid.com",
			"email_verified":   "true",
			"is_private_email": "true",
			"given_name":       "Grace",
			"family_name":      "Hopper",
			"nonce_supported":  true,
		}
	case PanvaCognito:
		delete(c, "preferred_username")
		c["cognito:username"] = PanvaUsername
		c["cognito:groups"] = []string{"ags-admins"}
	}
	return c
}

var panvaProfiles = map[PanvaProfile]bool{
	PanvaTextbook: true, PanvaEntraMultitenant: true, PanvaKeycloak: true, PanvaZitadel: true,
	PanvaEntraOverage: true, PanvaApple: true, PanvaCognito: true,
}

// StartPanva starts oidc-provider on a free port and waits until its discovery
// answers.
func StartPanva(opts PanvaOptions) (*Panva, error) {
	if opts.Profile == "" {
		opts.Profile = PanvaTextbook
	}
	if !panvaProfiles[opts.Profile] {
		return nil, fmt.Errorf("panva: no profile %q", opts.Profile)
	}
	if opts.TenantID == "" {
		opts.TenantID = PanvaTenantID
	}
	node, err := FindNode()
	if err != nil {
		return nil, err
	}
	modules, err := OIDCProviderDir()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	claims := PanvaClaims(opts.Profile, opts.TenantID)
	for k, v := range opts.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	p := &Panva{
		Origin:     fmt.Sprintf("http://127.0.0.1:%d", port),
		Port:       port,
		Profile:    opts.Profile,
		ClientID:   ClientID,
		Username:   PanvaUsername,
		Subject:    fmt.Sprint(claims["sub"]),
		Claims:     claims,
		adminToken: randomHex(16),
	}
	switch opts.Profile {
	case PanvaEntraMultitenant:
		p.Issuer, p.TenantID = p.Origin+"/organizations/v2.0", opts.TenantID
		if opts.AccessTokenType == "" {
			opts.AccessTokenType = "JWT"
		}
	case PanvaEntraOverage:
		p.Issuer, p.TenantID = p.Origin+"/"+opts.TenantID+"/v2.0", opts.TenantID
		if opts.AccessTokenType == "" {
			opts.AccessTokenType = "JWT"
		}
	case PanvaKeycloak:
		p.Issuer, p.ClientID = p.Origin+"/realms/ags", PanvaKeycloakClientID
	default:
		p.Issuer = p.Origin
	}
	clients := opts.Clients
	if clients == nil {
		clients = []map[string]any{PanvaDefaultClient(p.ClientID)}
	}

	// A folder of its own: the program, its configuration, its log, and a link to
	// the installed packages, which Node finds from the program's folder.
	if p.dir, err = os.MkdirTemp("", "ags-e2e-panva-*"); err != nil {
		return nil, err
	}
	p.LogPath = filepath.Join(p.dir, "oidc-provider.log")
	program, err := os.ReadFile(filepath.Join(root, "e2e", "harness", "panva", "server.mjs"))
	if err == nil {
		err = os.WriteFile(filepath.Join(p.dir, "server.mjs"), program, 0o644)
	}
	if err == nil {
		err = os.Symlink(filepath.Join(modules, "node_modules"), filepath.Join(p.dir, "node_modules"))
	}
	if err == nil {
		err = writeJSONFile(filepath.Join(p.dir, "config.json"), map[string]any{
			"port":           port,
			"profile":        opts.Profile,
			"username":       PanvaUsername,
			"password":       TestPassword,
			"claims":         claims,
			"clients":        clients,
			"tenantId":       opts.TenantID,
			"accessTokenTTL": int(opts.AccessTokenTTL / time.Second),
			"minimalIdToken": opts.MinimalIDToken,
			"accessTokenTyp": opts.AccessTokenType,
			"adminToken":     p.adminToken,
		})
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		p.Close()
		return nil, err
	}
	cmd := exec.Command(node, "server.mjs", "config.json")
	cmd.Dir = p.dir
	cmd.Env = append(cleanEnv(), "NODE_ENV=production")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.Close()
		return nil, err
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	err = waitUntil(30*time.Second, 50*time.Millisecond, func() error {
		select {
		case <-p.done:
			return stopError{fmt.Errorf("oidc-provider exited; its log:\n%s", p.Log())}
		default:
		}
		resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("oidc-provider discovery: %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func writeJSONFile(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// URL returns the provider's origin followed by path (which starts with "/").
func (p *Panva) URL(path string) string { return p.Origin + path }

// TokenIssuer returns the iss of the provider's tokens: Issuer, but for Entra the
// tenant's http://127.0.0.1:{port}/{tid}/v2.0 (tid the user's claim, else TenantID).
func (p *Panva) TokenIssuer() string {
	if p.Profile != PanvaEntraMultitenant && p.Profile != PanvaEntraOverage {
		return p.Issuer
	}
	tid := p.TenantID
	if s, ok := p.Claims["tid"].(string); ok && s != "" {
		tid = s
	}
	return p.Origin + "/" + tid + "/v2.0"
}

// SetClaims replaces the user's claims (sub stays) for the tokens and answers
// issued from now on; names unknown at start are not released.
func (p *Panva) SetClaims(claims map[string]any) error {
	data, err := json.Marshal(claims)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, p.URL("/__ags/claims"), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("panva: set claims: %d", resp.StatusCode)
	}
	next := map[string]any{}
	for k, v := range claims {
		next[k] = v
	}
	next["sub"] = p.Subject
	p.Claims = next
	return nil
}

// Log returns what oidc-provider logged so far: a line per request, and its errors.
func (p *Panva) Log() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

// Close stops oidc-provider and removes its folder unless AGS_E2E_KEEP is set.
func (p *Panva) Close() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if p.dir != "" && os.Getenv("AGS_E2E_KEEP") == "" {
		os.RemoveAll(p.dir)
	}
}

// ErrNoNode says that no Node.js 20.18 or later is on PATH.
var ErrNoNode = errors.New("no node (Node.js 20.18 or later) on PATH: oidc-provider needs it")

var nodeOnce struct {
	sync.Once
	path string
	err  error
}

// FindNode returns the path of node, when it is Node.js 20.18 or later: oidc-provider
// 9 calls URL.parse (Node 20.18) and crypto.hash (20.12). Its authors support 22 LTS
// and later, and it warns on 20 ("Unsupported runtime"); the harness's tests pass on
// 20.20.
func FindNode() (string, error) {
	nodeOnce.Do(func() {
		path, err := exec.LookPath("node")
		if err != nil {
			nodeOnce.err = ErrNoNode
			return
		}
		out, err := exec.Command(path, "--version").Output()
		if err != nil {
			nodeOnce.err = fmt.Errorf("%s --version: %w", path, err)
			return
		}
		version := strings.TrimSpace(string(out))
		parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
		major, _ := strconv.Atoi(parts[0])
		minor := 0
		if len(parts) > 1 {
			minor, _ = strconv.Atoi(parts[1])
		}
		if major < 20 || major == 20 && minor < 18 {
			nodeOnce.err = fmt.Errorf("%s is %s: %w", path, version, ErrNoNode)
			return
		}
		nodeOnce.path = path
	})
	return nodeOnce.path, nodeOnce.err
}
