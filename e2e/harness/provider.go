package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The client that ags uses at the provider.
const (
	ClientID = "ags"
	// ExampleClientID is the client of the files in examples/ (same secret), so that
	// a test runs them with only the issuer and the secrets changed.
	ExampleClientID = "my-app"
	ClientSecret    = "ags-e2e-client-secret"
	// TestPassword is the password of the example storage's users.
	TestPassword = "verysecure"
	// ClientIDKey is a second client, which authenticates with private_key_jwt only,
	// signed by the key SetClientKey registers (the storage decides a client's
	// method and keys). ZITADEL wants the issuer as the assertion's aud.
	ClientIDKey = "ags-private-key-jwt"
)

// Provider is an OpenID provider on http://127.0.0.1:{Port}: the zitadel/oidc v3
// example server (exampleop with its in-memory storage), run in this process. Its
// user Username (password TestPassword) signs in through the example's login form
// (fields username and password, a Login button); its confidential web client
// ClientID/ClientSecret (client_secret_basic, code flow, PKCE) accepts any redirect
// and post-logout redirect URI of the form http://127.0.0.1:{any port}/{one segment}
// (or an example.org host); ExampleClientID is the same client under the examples' ID.
//
// Beyond the example, the login page has a Cancel link (id "cancel") that sends the
// browser back to the client with error=access_denied, as a user who declines would.
//
// Stop and Start stop and restart the listener on the same port and with the same
// state (keys, sessions): a provider that goes down and comes back.
type Provider struct {
	Issuer   string
	Port     int
	Username string // the test user (id1), e.g. test-user@127.0.0.1
	Subject  string // its sub claim
	Email    string
	// The second user (id2), for tests where two users differ.
	Username2, Subject2, Email2 string

	handler    http.Handler
	store      *storage.Storage
	user       *storage.User
	unverified bool                      // say email_verified false
	claims     map[string]map[string]any // more claims by user ID (SetClaims)
	mu         sync.Mutex
	srv        *http.Server
	keys       map[string]any          // ClientIDKey's public keys by kid
	overrides  map[string]http.Handler // paths answered by a test's handler (Override)
	registered []string                // the only redirect and post-logout URIs (Register); nil: loopbackGlobs
}

var providerLog sync.Once

// NewProvider makes a provider for port (0 picks a free port) without starting it.
func NewProvider(port int) (*Provider, error) {
	var err error
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	providerLog.Do(quietProviderLog)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	users := storage.NewUserStore(issuer)
	clients := map[string]*storage.Client{}
	for _, id := range []string{ClientID, ExampleClientID} {
		clients[id] = storage.WebClient(id, ClientSecret, "http://127.0.0.1/oidc_callback")
	}
	clients[ClientIDKey] = storage.WebClient(ClientIDKey, "", "http://127.0.0.1/oidc_callback")
	store := storage.NewStorageWithClients(users, clients)
	user := users.GetUserByID("id1")
	user2 := users.GetUserByID("id2")
	p := &Provider{Issuer: issuer, Port: port, Username: user.Username, Subject: user.ID,
		Email: user.Email, Username2: user2.Username, Subject2: user2.ID, Email2: user2.Email,
		store: store, user: user, keys: map[string]any{}, claims: map[string]map[string]any{},
		overrides: map[string]http.Handler{}}
	router := exampleop.SetupServer(issuer, &loopbackStorage{Storage: store, p: p}, nil, false)
	mux := http.NewServeMux()
	mux.HandleFunc("/login/username", p.loginPage(router))
	mux.HandleFunc("GET /login/cancel", p.cancel)
	mux.Handle("/", router)
	p.handler = tokenTap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := p.override(r.URL.Path); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return p, nil
}

// quietProviderLog sends the example server's request log (slog's default logger) to a
// file instead of the test output.
func quietProviderLog() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "ags-e2e-provider.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// StartProvider makes a provider on a free port and starts it.
func StartProvider() (*Provider, error) {
	p, err := NewProvider(0)
	if err != nil {
		return nil, err
	}
	return p, p.Start()
}

// Start listens on the provider's port and serves.
func (p *Provider) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return errors.New("provider already running")
	}
	var ln net.Listener
	err := waitUntil(5*time.Second, 50*time.Millisecond, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port))
		return err
	})
	if err != nil {
		return err
	}
	p.srv = &http.Server{Handler: p.handler, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return nil
}

// Stop closes the listener and every connection.
func (p *Provider) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}

// Close is Stop.
func (p *Provider) Close() { p.Stop() }

// URL returns the issuer followed by path.
func (p *Provider) URL(path string) string { return p.Issuer + path }

// Discovery fetches the provider's discovery document, as a client reads it.
func (p *Provider) Discovery() (map[string]any, error) {
	resp, err := http.Get(p.URL("/.well-known/openid-configuration"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("discovery document: %s: %w", resp.Status, err)
	}
	return doc, nil
}

// SignAccessToken signs claims as a JWT access token of RFC 9068 (typ at+jwt) with
// the provider's own signing key, the one its jwks_uri announces: the example
// provider writes no JWT access tokens of its own, and a resource server (ags's
// bearerTokens) checks such a token against the key set alone.
func (p *Provider) SignAccessToken(claims map[string]any) (string, error) {
	key, err := p.store.SigningKey(context.Background())
	if err != nil {
		return "", err
	}
	return signCompact(string(key.SignatureAlgorithm()), map[string]any{"kid": key.ID(), "typ": "at+jwt"}, claims, key.Key())
}

// SetEmailVerified sets the email_verified claim the provider gives the test user
// from the next sign-in on. (The example storage leaves a false one out, so the
// provider then states it explicitly, in the ID token and at userinfo.)
func (p *Provider) SetEmailVerified(verified bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user.EmailVerified = verified
	p.unverified = !verified
}

// SetClaims gives user userID (Subject or Subject2) more claims, in the ID token and
// at userinfo, from the next sign-in on: groups, roles, whatever a test needs.
func (p *Provider) SetClaims(userID string, claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims[userID] = claims
}

// Override has h answer the requests for path (exactly, e.g. "/keys", the key set)
// in the provider's place, until Override(path, nil): one endpoint down or broken
// while the others work.
func (p *Provider) Override(path string, h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h == nil {
		delete(p.overrides, path)
	} else {
		p.overrides[path] = h
	}
}

func (p *Provider) override(path string) http.Handler {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.overrides[path]
}

func (p *Provider) claimsOf(userID string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claims[userID]
}

func (p *Provider) emailUnverified() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unverified
}

// loginPage serves the example's login page (GET, and POST after a wrong password)
// with a Cancel link added to its form.
func (p *Provider) loginPage(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("authRequestID")
		if r.Method == http.MethodPost {
			_ = r.ParseForm() // the example's handler parses it again: a no-op
			id = r.PostForm.Get("id")
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			cancel := fmt.Sprintf(`<p><a id="cancel" href="/login/cancel?id=%s">Cancel</a></p></form>`,
				html.EscapeString(url.QueryEscape(id)))
			body = bytes.Replace(body, []byte("</form>"), []byte(cancel), 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}
}

// cancel ends the auth request id and sends the browser back to the client with
// error=access_denied (RFC 6749, section 4.1.2.1).
func (p *Provider) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	req, err := p.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown auth request", http.StatusBadRequest)
		return
	}
	_ = p.store.DeleteAuthRequest(r.Context(), id)
	q := url.Values{"error": {"access_denied"}, "error_description": {"The user cancelled the sign-in."}}
	if s := req.GetState(); s != "" {
		q.Set("state", s)
	}
	target := req.GetRedirectURI()
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	http.Redirect(w, r, target+sep+q.Encode(), http.StatusFound)
}

// SetClientKey registers the public key (an *rsa.PublicKey or *ecdsa.PublicKey) that
// signs ClientIDKey's assertions, under kid.
func (p *Provider) SetClientKey(kid string, public any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = public
}

// Register makes uris the only redirect and post-logout redirect URIs of the
// clients, as a provider where each is registered exactly (authHost's one callback
// and sign-out address); no call: any of loopbackGlobs.
func (p *Provider) Register(uris ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.registered = append([]string{}, uris...)
}

func (p *Provider) registeredURIs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.registered
}

// loopbackStorage is the example storage whose clients accept loopback redirect URIs
// on any port (the tests' Traefik processes listen on ports picked at run time), and
// where ClientIDKey authenticates with private_key_jwt and the keys of SetClientKey.
type loopbackStorage struct {
	*storage.Storage
	p *Provider
}

// SetUserinfoFromRequest fills the ID token's claims; SetUserinfoFromToken the
// userinfo answer. Both say email_verified false when the test asks for it.
func (s *loopbackStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	s.addClaims(info, token.GetSubject())
	return nil
}

func (s *loopbackStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addClaims(info, subject)
	return nil
}

// addClaims adds what the test set: email_verified false, and SetClaims's claims.
func (s *loopbackStorage) addClaims(info *oidc.UserInfo, userID string) {
	if s.p.emailUnverified() && info.Email != "" {
		info.AppendClaims("email_verified", false)
	}
	for k, v := range s.p.claimsOf(userID) {
		info.AppendClaims(k, v)
	}
}

func (s *loopbackStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return loopbackClient{c, id == ClientIDKey, s.p.registeredURIs()}, nil
}

// GetKeyByIDAndClientID is where the op package finds the key of a client assertion.
func (s *loopbackStorage) GetKeyByIDAndClientID(ctx context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	if clientID != ClientIDKey {
		return s.Storage.GetKeyByIDAndClientID(ctx, kid, clientID)
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	key, ok := s.p.keys[kid]
	if !ok {
		return nil, fmt.Errorf("client %s has no key %q", clientID, kid)
	}
	return &jose.JSONWebKey{KeyID: kid, Use: "sig", Key: key}, nil
}

// The examples' hosts (app.example.org, ...) resolve to 127.0.0.1 in the tests that
// run them (BrowserOptions.Hosts, Client.ResolveTo127).
var loopbackGlobs = []string{"http://127.0.0.1:*/*", "http://localhost:*/*",
	"http://*.example.org:*/*", "https://*.example.org:*/*"}

type loopbackClient struct {
	op.Client
	privateKeyJWT bool
	registered    []string // nil: loopbackGlobs
}

func (c loopbackClient) RedirectURIGlobs() []string           { return c.globs() }
func (c loopbackClient) PostLogoutRedirectURIGlobs() []string { return c.globs() }

func (c loopbackClient) globs() []string {
	if c.registered != nil {
		return c.registered
	}
	return loopbackGlobs
}

func (c loopbackClient) AuthMethod() oidc.AuthMethod {
	if c.privateKeyJWT {
		return oidc.AuthMethodPrivateKeyJWT
	}
	return c.Client.AuthMethod()
}
