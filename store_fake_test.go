package ags

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStore is a Redis of the test's own, for the unit tests of the revocation store
// (store.go): the commands ags sends (AUTH, SELECT, PING, SET with EX and NX, GET,
// MGET, SCAN with MATCH prefix* and COUNT, PUBLISH, SUBSCRIBE), a password, and
// what a real one never does on demand: stop and start again empty on the same
// port, refuse every command, answer with a broken reply. The end-to-end tests run
// Debian's redis-server (e2e/backchannel_test.go).
type fakeStore struct {
	t        *testing.T
	addr     string
	password string

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
	values   map[string]fakeValue
	subs     map[net.Conn]*sync.Mutex // subscribed connections, and their write locks
	commands []string                 // every command's name and first argument
	reply    string                   // when set, the raw reply to every command but AUTH
	tls      *tls.Config              // when set, it speaks TLS only (rediss://)
}

type fakeValue struct {
	value   string
	expires time.Time
}

func newFakeStore(t *testing.T, password string) *fakeStore {
	t.Helper()
	f := &fakeStore{t: t, password: password}
	f.start("127.0.0.1:0")
	t.Cleanup(func() { f.stop() })
	return f
}

// start listens on addr (the same port again after stop) with no data.
func (f *fakeStore) start(addr string) {
	f.t.Helper()
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ { // the port of a stopped store may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("fake store: %v", err)
	}
	if f.tls != nil {
		ln = tls.NewListener(ln, f.tls)
	}
	f.mu.Lock()
	// One field a statement: under Yaegi v0.16.1, f.ln, f.addr = ... leaves an
	// interface field nil.
	f.ln = ln
	f.addr = ln.Addr().String()
	f.conns = map[net.Conn]bool{}
	f.values = map[string]fakeValue{}
	f.subs = map[net.Conn]*sync.Mutex{}
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
}

// stop closes the listener and every connection, as a store that went away.
func (f *fakeStore) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln == nil {
		return
	}
	f.ln.Close()
	f.ln = nil
	for c := range f.conns {
		c.Close()
	}
}

// restart is stop, then start on the same port with no data.
func (f *fakeStore) restart() {
	f.stop()
	f.start(f.addr)
}

// newFakeTLSStore is a fake store speaking TLS only, with a certificate for
// 127.0.0.1 of its own; it returns the store and the certificate's PEM file.
func newFakeTLSStore(t *testing.T, password string) (*fakeStore, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "ags test store"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "store-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeStore{t: t, password: password, tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	f.start("127.0.0.1:0")
	t.Cleanup(func() { f.stop() })
	return f, caFile
}

func (f *fakeStore) url() string {
	scheme := "redis://"
	if f.tls != nil {
		scheme = "rediss://"
	}
	if f.password == "" {
		return scheme + f.addr
	}
	return scheme + ":" + f.password + "@" + f.addr
}

// seen reports how many commands of name (and first argument prefix) were sent.
func (f *fakeStore) seen(name, prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.commands {
		if strings.HasPrefix(c, name+" "+prefix) {
			n++
		}
	}
	return n
}

func (f *fakeStore) keys(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.values {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	return ks
}

func (f *fakeStore) serve(c net.Conn) {
	defer c.Close()
	rc := &respConn{conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c), timeout: time.Minute}
	authed := f.password == ""
	wmu := &sync.Mutex{}
	write := func(s string) {
		wmu.Lock()
		rc.w.WriteString(s)
		rc.w.Flush()
		wmu.Unlock()
	}
	for {
		v, err := rc.read(0)
		if err != nil {
			f.mu.Lock()
			delete(f.subs, c)
			delete(f.conns, c)
			f.mu.Unlock()
			return
		}
		var args []string
		for _, a := range respArray(v) {
			args = append(args, respString(a))
		}
		if len(args) == 0 {
			write("-ERR empty command\r\n")
			continue
		}
		name := strings.ToUpper(args[0])
		f.mu.Lock()
		first := ""
		if len(args) > 1 && name != "AUTH" {
			first = args[1]
		}
		f.commands = append(f.commands, name+" "+first)
		raw := f.reply
		f.mu.Unlock()
		switch {
		case name == "AUTH":
			if args[len(args)-1] != f.password {
				write("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
				continue
			}
			authed = true
			write("+OK\r\n")
			continue
		case !authed:
			write("-NOAUTH Authentication required.\r\n")
			continue
		case raw != "":
			write(raw)
			continue
		}
		write(f.command(c, wmu, name, args))
	}
}

// command runs one command and returns its raw reply.
func (f *fakeStore) command(c net.Conn, wmu *sync.Mutex, name string, args []string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	get := func(k string) (string, bool) {
		v, ok := f.values[k]
		if !ok || (!v.expires.IsZero() && now.After(v.expires)) {
			return "", false
		}
		return v.value, true
	}
	switch name {
	case "PING":
		if f.subs[c] != nil {
			return "*2\r\n" + fakeBulk("pong") + fakeBulk("")
		}
		return "+PONG\r\n"
	case "SELECT":
		return "+OK\r\n"
	case "SET":
		v := fakeValue{value: args[2]}
		nx := false
		for i := 3; i < len(args); i++ {
			switch strings.ToUpper(args[i]) {
			case "NX":
				nx = true
			case "EX":
				secs, _ := strconv.Atoi(args[i+1])
				v.expires = now.Add(time.Duration(secs) * time.Second)
				i++
			}
		}
		if _, exists := get(args[1]); nx && exists {
			return "$-1\r\n"
		}
		f.values[args[1]] = v
		return "+OK\r\n"
	case "GET":
		if v, ok := get(args[1]); ok {
			return fakeBulk(v)
		}
		return "$-1\r\n"
	case "MGET":
		out := "*" + strconv.Itoa(len(args)-1) + "\r\n"
		for _, k := range args[1:] {
			if v, ok := get(k); ok {
				out += fakeBulk(v)
			} else {
				out += "$-1\r\n"
			}
		}
		return out
	case "SCAN":
		// Pages of COUNT keys in sorted order; the cursor is the next index.
		start, _ := strconv.Atoi(args[1])
		prefix, count := "", 10
		for i := 2; i+1 < len(args); i += 2 {
			switch strings.ToUpper(args[i]) {
			case "MATCH":
				prefix = strings.TrimSuffix(args[i+1], "*")
			case "COUNT":
				count, _ = strconv.Atoi(args[i+1])
			}
		}
		var all []string
		for k := range f.values {
			if _, ok := get(k); ok && strings.HasPrefix(k, prefix) {
				all = append(all, k)
			}
		}
		sort.Strings(all)
		end := start + count
		next := strconv.Itoa(end)
		if end >= len(all) { // one variable a statement, as in start
			end = len(all)
			next = "0"
		}
		page := ""
		n := 0
		if start < len(all) {
			for _, k := range all[start:end] {
				page += fakeBulk(k)
				n++
			}
		}
		return "*2\r\n" + fakeBulk(next) + "*" + strconv.Itoa(n) + "\r\n" + page
	case "PUBLISH":
		msg := "*3\r\n" + fakeBulk("message") + fakeBulk(args[1]) + fakeBulk(args[2])
		n := 0
		for sc, lock := range f.subs {
			lock.Lock()
			sc.Write([]byte(msg))
			lock.Unlock()
			n++
		}
		return ":" + strconv.Itoa(n) + "\r\n"
	case "SUBSCRIBE":
		f.subs[c] = wmu
		return "*3\r\n" + fakeBulk("subscribe") + fakeBulk(args[1]) + ":1\r\n"
	}
	return "-ERR unknown command '" + name + "'\r\n"
}

func fakeBulk(s string) string {
	return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n"
}
