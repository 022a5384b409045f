package ags

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
)

// What the Traefik process shares between middleware instances: the plugin's only
// package-level state. Traefik calls New again on every dynamic configuration change
// (with the Docker provider, at every container start) and once per router that uses
// a middleware, and it never says when an instance is dropped. What must outlive an
// instance, or would be duplicated by each, lives here, each with a bound:
//   - the session secret made up when none is configured (one, for the process);
//   - the renewals in flight and their outcomes, per client at each provider;
//   - the revocation set, per client at each provider, and the revocation stores'
//     clients, one per store;
//   - the caches, per configuration: instances built from the same options, on
//     several routers or after a reload, serve the same views;
//   - with them, the latest instance of each configuration, so that the instance a
//     sign-in comes back to can finish it with the options of the one that started
//     it (finisherOf), and keep the userinfo claims any sibling reads (keptBySiblings).

// generatedSecret holds the session secret made up when none is configured.
// A secret made per New would sign everyone out each time a container starts.
var generatedSecret struct {
	once  sync.Once
	value string
}

// processSessionSecret returns a random secret, the same for the whole life
// of the process, and whether this call made it (so the warning about it is
// logged once, not at every configuration change). The secret is "" if the
// system has no randomness, which New then rejects as under 32 bytes.
func processSessionSecret() (string, bool) {
	made := false
	generatedSecret.once.Do(func() {
		made = true
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return
		}
		generatedSecret.value = base64.RawURLEncoding.EncodeToString(b)
	})
	return generatedSecret.value, made
}

// sharedRenewals holds the renewals of each client at each provider, shared by every
// middleware instance of this Traefik process. Traefik builds new instances at every
// configuration change (with the Docker provider, at every container start); the
// outcome of a renewal must outlive the instance that made it, or a request still
// carrying the old cookie would send the spent refresh token again through the next
// one.
var sharedRenewals = struct {
	mu       sync.Mutex
	byClient map[string]*renewals
}{byClient: map[string]*renewals{}}

// renewalsOf returns the renewals of clientID at issuer.
func renewalsOf(issuer, clientID string) *renewals {
	key := issuer + " " + clientID
	sharedRenewals.mu.Lock()
	defer sharedRenewals.mu.Unlock()
	rs := sharedRenewals.byClient[key]
	if rs == nil {
		rs = newRenewals()
		sharedRenewals.byClient[key] = rs
	}
	return rs
}

// sharedRevocations holds the revocation set of each client at each provider
// (revocation.go): a session revoked through one instance is over on every route.
var sharedRevocations = struct {
	mu       sync.Mutex
	byClient map[string]*revocations
}{byClient: map[string]*revocations{}}

// revocationsOf returns the revocation set of clientID at issuer.
func revocationsOf(issuer, clientID string) *revocations {
	key := issuer + " " + clientID
	sharedRevocations.mu.Lock()
	defer sharedRevocations.mu.Unlock()
	rs := sharedRevocations.byClient[key]
	if rs == nil {
		rs = newRevocations()
		sharedRevocations.byClient[key] = rs
	}
	return rs
}

// sharedStores holds the revocation stores (store.go), one per address, password and
// CAs: every client that names the same store shares one subscription. A store
// stays for the life of the process (its subscription ends when no client uses
// it); the bound is for a process whose configurations name store after store.
var sharedStores = struct {
	mu    sync.Mutex
	byKey map[string]*revocationStore
	order []string
}{byKey: map[string]*revocationStore{}}

const maxSharedStores = 16

// storeAt returns the process's client of the store at a.
func storeAt(a *storeAddress) *revocationStore {
	sharedStores.mu.Lock()
	defer sharedStores.mu.Unlock()
	st := sharedStores.byKey[a.key]
	if st == nil {
		st = newRevocationStore(a)
		sharedStores.byKey[a.key] = st
		sharedStores.order = append(sharedStores.order, a.key)
		if len(sharedStores.order) > maxSharedStores {
			delete(sharedStores.byKey, sharedStores.order[0])
			sharedStores.order = sharedStores.order[1:]
		}
	}
	return st
}

// sharedCaches holds the caches of each configuration, by its fingerprint, the
// most recently built last. At most maxSharedConfigs are kept for the instances to
// come; an instance holds its own until Traefik drops it.
var sharedCaches = struct {
	mu       sync.Mutex
	byConfig map[string]*caches
	order    []string
}{byConfig: map[string]*caches{}}

// maxSharedConfigs bounds the configurations whose caches the process keeps for
// the next instance: a cache each (cacheSize and the path cache's bound).
const maxSharedConfigs = 16

// caches are the two caches that the request path reads (cache.go).
type caches struct {
	views    *viewCache
	paths    *pathCache
	instance *middleware // the latest instance of the configuration (shareInstance)
}

// cachesFor returns the caches of the configuration c (resolved, as New reads it).
// Instances share them only when every option is the same: a view depends on the
// session options, the rules and the headers, a path on the paths.
func cachesFor(c *Config, cacheSize int, tokens bool) *caches {
	fingerprint, err := configFingerprint(c)
	if err != nil {
		return newCaches(cacheSize, tokens)
	}
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	cs := sharedCaches.byConfig[fingerprint]
	if cs == nil {
		cs = newCaches(cacheSize, tokens)
		sharedCaches.byConfig[fingerprint] = cs
	}
	order := []string{}
	for _, f := range sharedCaches.order {
		if f != fingerprint {
			order = append(order, f)
		}
	}
	order = append(order, fingerprint)
	if len(order) > maxSharedConfigs {
		delete(sharedCaches.byConfig, order[0])
		order = order[1:]
	}
	sharedCaches.order = order
	return cs
}

// newCaches makes a configuration's caches; tokens: its view cache has a class for
// bearer tokens (bearerTokens).
func newCaches(cacheSize int, tokens bool) *caches {
	cs := &caches{views: newViewCache(cacheSize), paths: newPathCache()}
	if tokens {
		addTokenClass(cs.views)
	}
	return cs
}

// shareInstance records m as the latest instance of its configuration.
func shareInstance(m *middleware) {
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	if cs := sharedCaches.byConfig[m.fingerprint]; cs != nil {
		cs.instance = m
	}
}

// siblings reports whether two instances share their sessions: the same issuer,
// client and cookie (SPEC 9).
func siblings(a, b *middleware) bool {
	return a.cfg.issuer == b.cfg.issuer && a.cfg.clientID == b.cfg.clientID && a.cfg.sessionCookie == b.cfg.sessionCookie
}

// finisherOf is the instance that finishes a sign-in m received the callback of:
// the latest instance of the configuration that started it (its fingerprint sealed
// in the pending login), when that one shares m's sessions, else m. A route's
// middleware may ask more of a sign-in (vtr, the core identity) than the one the
// callback path is routed to, and one redirect URI serves them all.
func finisherOf(m *middleware, fingerprint string) *middleware {
	if fingerprint == "" || strings.HasPrefix(m.fingerprint, fingerprint) {
		return m
	}
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	for f, cs := range sharedCaches.byConfig {
		if strings.HasPrefix(f, fingerprint) && cs.instance != nil && siblings(cs.instance, m) {
			return cs.instance
		}
	}
	return m
}

// keptBySiblings is every userinfo claim that m or an instance sharing its sessions
// reads: what a new session keeps (minimiseUserInfo), so that a middleware on
// another route finds the claims its rules and headers need, whichever finished the
// sign-in.
func keptBySiblings(m *middleware) map[string]bool {
	kept := map[string]bool{}
	for name, keep := range m.keptUserInfo {
		kept[name] = keep
	}
	sharedCaches.mu.Lock()
	defer sharedCaches.mu.Unlock()
	for _, cs := range sharedCaches.byConfig {
		if cs.instance == nil || !siblings(cs.instance, m) {
			continue
		}
		for name, keep := range cs.instance.keptUserInfo {
			kept[name] = kept[name] || keep
		}
	}
	return kept
}

// configFingerprint is a digest of every option, secrets included (it is never
// shown).
func configFingerprint(c *Config) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
