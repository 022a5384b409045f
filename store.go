package ags

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The revocation store (SPEC 16): revocations shared by every replica through Redis
// or Valkey (RESP, resp.go). Each replica keeps the whole set in memory
// (revocation.go) and the request path reads only that; the store is how a
// revocation made on one replica reaches the others:
//   - a revocation is written as a key with a time to live (the entry's until) and
//     published on storeChannel; every replica subscribes and applies what it hears;
//   - on every connection, first and after an outage, a replica subscribes, loads
//     every key, then writes back the entries it holds that the store lacks (made
//     while it was away, or lost by a store that restarted empty): nothing is lost
//     once the store is back;
//   - while the store cannot be reached, sessions keep working and revocations made
//     here apply here; one log line says the store is away, one that it is back.
// One store per address per process (process.go), started at its first use, never
// in New, and reconnecting with back-off.

// Keys and channel. A scope is a digest of the issuer and client ID: clients that
// share a store never end each other's sessions.
const (
	storeKeyPrefix = "ags:revoked:"
	storeJTIPrefix = "ags:jti:"
	storeChannel   = "ags:revocations"
	storeScanCount = "500"
)

// Timings of the store's client: its fields, so tests can shorten them.
const (
	storeTimeout    = 2 * time.Second
	storePingEvery  = 5 * time.Second
	storeMinBackoff = 100 * time.Millisecond
	storeMaxBackoff = 30 * time.Second
)

// storeScope is the part of the keys that names a client at an issuer.
func storeScope(issuer, clientID string) string {
	sum := sha256.Sum256([]byte(issuer + " " + clientID))
	return hex.EncodeToString(sum[:12])
}

// revocationStore is the client of one store, shared by the process.
type revocationStore struct {
	addr *storeAddress

	mu      sync.Mutex
	sets    map[string]storedSet // by scope
	log     *logger              // the latest instance's
	started bool
	away    bool // the store is unreachable, and the log said so
	dirty   bool // a write failed: write back at the next ping
	loaded  chan struct{}

	writeMu sync.Mutex
	writer  *respConn // commands; the subscription has its own connection

	timeout, pingEvery, minBackoff, maxBackoff time.Duration
	now                                        func() time.Time
}

// storedSet is what the store does with a client's set: apply entries to it, take
// its entries. Functions, not the set: under Yaegi a set that holds the store that
// holds the set is a type it cannot build.
type storedSet struct {
	apply    func(rs []revocation)
	snapshot func() []revocation
}

func newRevocationStore(a *storeAddress) *revocationStore {
	return &revocationStore{addr: a, sets: map[string]storedSet{}, loaded: make(chan struct{}),
		timeout: storeTimeout, pingEvery: storePingEvery, minBackoff: storeMinBackoff, maxBackoff: storeMaxBackoff, now: time.Now}
}

// attach makes the store carry the revocations of set, under scope.
func (st *revocationStore) attach(scope string, set storedSet, log *logger) {
	st.mu.Lock()
	st.sets[scope] = set
	st.log = log
	st.mu.Unlock()
}

// detach stops the store carrying scope (its client moved to another store).
func (st *revocationStore) detach(scope string) {
	st.mu.Lock()
	delete(st.sets, scope)
	st.mu.Unlock()
}

func (st *revocationStore) setOf(scope string) (storedSet, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	set, ok := st.sets[scope]
	return set, ok
}

// start starts the subscription at the store's first use (a session opened, a
// revocation made), and waits, that once, for the first load or the timeout: a
// session revoked before this process started is known before it is first opened,
// while the store answers.
func (st *revocationStore) start() {
	st.mu.Lock()
	if st.started {
		st.mu.Unlock()
		return
	}
	st.started = true
	st.mu.Unlock()
	go st.subscribe()
	select {
	case <-st.loaded:
	case <-time.After(st.timeout):
	}
}

// subscribe keeps a subscription to the channel, reconnecting with back-off, for as
// long as some client uses the store.
func (st *revocationStore) subscribe() {
	backoff := st.minBackoff
	first := true
	for {
		st.mu.Lock()
		inUse := len(st.sets) > 0
		st.mu.Unlock()
		if !inUse {
			return
		}
		conn, err := dialRESP(st.addr, st.timeout)
		if err == nil {
			_, err = conn.do("SUBSCRIBE", storeChannel)
			if err == nil {
				err = st.catchUp()
			}
		}
		if first {
			first = false
			close(st.loaded)
		}
		if err == nil {
			backoff = st.minBackoff
			st.reachable()
			err = st.listen(conn)
		}
		if conn != nil {
			conn.close()
		}
		st.unreachable(err)
		time.Sleep(backoff)
		if backoff *= 2; backoff > st.maxBackoff {
			backoff = st.maxBackoff
		}
	}
}

// listen applies what the channel carries until the connection fails. A pinger
// sends PING every pingEvery, so a connection that died silently shows as a read
// that times out after two pings; the pinger also writes back after a failed write.
func (st *revocationStore) listen(conn *respConn) error {
	done := make(chan struct{})
	defer close(done)
	go st.ping(conn, done)
	for {
		conn.conn.SetReadDeadline(time.Now().Add(2*st.pingEvery + st.timeout))
		v, err := conn.read(0)
		if err != nil {
			return fmt.Errorf("subscription: %w", err)
		}
		msg := respArray(v)
		if len(msg) == 3 && respString(msg[0]) == "message" {
			st.receive(respString(msg[2]))
		}
	}
}

// ping is listen's pinger; it owns the connection's writer.
func (st *revocationStore) ping(conn *respConn, done chan struct{}) {
	t := time.NewTicker(st.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		conn.conn.SetWriteDeadline(time.Now().Add(st.timeout))
		if conn.send("PING") != nil {
			conn.close()
			return
		}
		st.mu.Lock()
		dirty := st.dirty
		st.dirty = false
		st.mu.Unlock()
		if !dirty {
			continue
		}
		if err := st.catchUp(); err != nil {
			st.mu.Lock()
			st.dirty = true
			st.mu.Unlock()
			continue
		}
		st.reachable()
	}
}

func (st *revocationStore) reachable() {
	st.mu.Lock()
	away, log := st.away, st.log
	st.away = false
	st.mu.Unlock()
	if away && log != nil {
		log.write("INFO", logEvent{event: "revocation-store"}, "revocation store %s reachable again: revocations shared", st.addr.addr)
	}
}

func (st *revocationStore) unreachable(err error) {
	st.mu.Lock()
	away, log := st.away, st.log
	st.away = true
	st.mu.Unlock()
	if !away && log != nil && err != nil {
		log.write("WARN", logEvent{event: "revocation-store", reason: err.Error()},
			"revocation store %s unreachable (%v): sessions keep working, revocations made here apply here only until it is back", st.addr.addr, err)
	}
}

// command runs one command on the writer connection, dialled when needed; a
// connection that broke is dropped and the command tried once more on a new one
// (the store restarted since the last command).
func (st *revocationStore) command(args ...string) (interface{}, error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	var err error
	for try := 0; try < 2; try++ {
		if st.writer == nil {
			if st.writer, err = dialRESP(st.addr, st.timeout); err != nil {
				return nil, err
			}
		}
		var v interface{}
		v, err = st.writer.do(args...)
		if err == nil || errors.Is(err, errStoreRefused) {
			return v, err
		}
		st.writer.close()
		st.writer = nil
	}
	return nil, err
}

// publish writes the entries of scope to the store and announces them. A failure
// leaves them here, written back at the next connection or ping.
func (st *revocationStore) publish(scope string, rs []revocation) {
	for _, r := range rs {
		if err := st.write(scope, r); err != nil {
			st.mu.Lock()
			st.dirty = true
			st.mu.Unlock()
			st.unreachable(err)
			return
		}
	}
}

// write sets r's key with its time to live, and publishes it.
func (st *revocationStore) write(scope string, r revocation) error {
	ttl := r.until - st.now().Unix()
	if ttl <= 0 {
		return nil
	}
	value := strconv.FormatInt(r.before, 10) + " " + strconv.FormatInt(r.until, 10)
	if _, err := st.command("SET", storeKeyPrefix+scope+":"+r.kind+":"+r.value, value, "EX", strconv.FormatInt(ttl, 10)); err != nil {
		return err
	}
	_, err := st.command("PUBLISH", storeChannel, scope+" "+r.kind+" "+value+" "+r.value)
	return err
}

// receive applies a message of the channel: "scope kind before until value".
func (st *revocationStore) receive(msg string) {
	f := strings.SplitN(msg, " ", 5)
	if len(f) != 5 {
		return
	}
	r, ok := storedRevocation(f[1], f[4], f[2]+" "+f[3])
	set, known := st.setOf(f[0])
	if ok && known {
		set.apply([]revocation{r})
	}
}

// storedRevocation reads an entry as the store keeps it: its kind, its value, and
// "before until".
func storedRevocation(kind, value, times string) (revocation, bool) {
	if kind != revokeSid && kind != revokeSub && kind != revokeSidless || value == "" {
		return revocation{}, false
	}
	t := strings.SplitN(times, " ", 2)
	if len(t) != 2 {
		return revocation{}, false
	}
	before, err1 := strconv.ParseInt(t[0], 10, 64)
	until, err2 := strconv.ParseInt(t[1], 10, 64)
	if err1 != nil || err2 != nil {
		return revocation{}, false
	}
	return revocation{kind: kind, value: value, before: before, until: until}, true
}

// catchUp loads every entry of the store into the sets it carries, then writes
// back, and announces, the entries of those sets that the store lacks: the other
// replicas may have loaded before this one came back.
func (st *revocationStore) catchUp() error {
	stored := map[string]bool{}
	cursor := "0"
	for {
		v, err := st.command("SCAN", cursor, "MATCH", storeKeyPrefix+"*", "COUNT", storeScanCount)
		if err != nil {
			return err
		}
		reply := respArray(v)
		if len(reply) != 2 {
			return fmt.Errorf("SCAN: %w: a reply of %d elements", errStoreProtocol, len(reply))
		}
		if err = st.load(respArray(reply[1]), stored); err != nil {
			return err
		}
		if cursor = respString(reply[0]); cursor == "0" || cursor == "" {
			break
		}
	}
	st.mu.Lock()
	scopes := map[string]storedSet{}
	for scope, set := range st.sets {
		scopes[scope] = set
	}
	st.mu.Unlock()
	for scope, set := range scopes {
		for _, r := range set.snapshot() {
			if stored[storeKeyPrefix+scope+":"+r.kind+":"+r.value] {
				continue
			}
			if err := st.write(scope, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// load applies the entries under keys, and notes which the store holds.
func (st *revocationStore) load(keys []interface{}, stored map[string]bool) error {
	if len(keys) == 0 {
		return nil
	}
	args := []string{"MGET"}
	for _, k := range keys {
		args = append(args, respString(k))
	}
	v, err := st.command(args...)
	if err != nil {
		return err
	}
	values := respArray(v)
	byScope := map[string][]revocation{}
	for i, value := range values {
		if i+1 >= len(args) {
			break
		}
		key := args[i+1]
		stored[key] = true
		f := strings.SplitN(strings.TrimPrefix(key, storeKeyPrefix), ":", 3)
		if len(f) != 3 {
			continue
		}
		if r, ok := storedRevocation(f[1], f[2], respString(value)); ok {
			byScope[f[0]] = append(byScope[f[0]], r)
		}
	}
	for scope, rs := range byScope {
		if set, known := st.setOf(scope); known {
			set.apply(rs)
		}
	}
	return nil
}

// firstUse records a logout token's jti in the store until until; false when the
// store had it already (replayed to another replica). A store that cannot be
// reached says nothing: the replica's own record stands.
func (st *revocationStore) firstUse(scope, jti string, until int64) bool {
	ttl := until - st.now().Unix()
	if ttl <= 0 {
		ttl = 1
	}
	sum := sha256.Sum256([]byte(jti))
	v, err := st.command("SET", storeJTIPrefix+scope+":"+hex.EncodeToString(sum[:]), "1", "NX", "EX", strconv.FormatInt(ttl, 10))
	if err != nil {
		st.unreachable(err)
		return true
	}
	return v != nil
}
