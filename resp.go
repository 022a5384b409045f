package ags

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// RESP, the protocol of Redis and Valkey (version 2, which every server since Redis
// 1.2 speaks): the revocation store's client (store.go), written here because the
// plugin is standard library only. It reads as net/textproto does: a reader over a
// bufio.Reader that bounds everything it reads, a writer that sends one command and
// flushes once, a deadline on every call, and errors that name the command.
//
// Two classes of error: errStoreRefused, the server answered with an error (a wrong
// password, a command it does not know) and the connection is still fine; every
// other error (errStoreProtocol, a timeout, a closed connection) leaves the stream
// in an unknown state, and the connection is dropped.

var (
	errStoreRefused  = errors.New("refused by the store")
	errStoreProtocol = errors.New("not the store's protocol")
)

// Bounds of what a reply may hold: the store's replies are short strings, and
// arrays of at most a SCAN batch (storeScanCount) or a subscription's message.
const (
	respMaxLine  = 64 << 10 // a status, an error or a length line
	respMaxBulk  = 1 << 20  // one string
	respMaxArray = 1 << 14  // elements of one array
	respMaxDepth = 3        // arrays in arrays: SCAN's reply is two deep
)

// storeAddress is a parsed revocationStore.
type storeAddress struct {
	tls            bool
	addr, host     string // host:port to dial; the host name the certificate must name
	user, password string
	db             int
	roots          *x509.CertPool // rediss: nil for the system's
	key            string         // the store's identity in the process: URL, password and CAs
}

// parseRevocationStore reads revocationStore, revocationStorePasswordFile and
// revocationStoreCAFile; nil when no store is set.
func parseRevocationStore(c *Config) (*storeAddress, error) {
	if c.RevocationStore == "" {
		if c.RevocationStorePasswordFile != "" || c.RevocationStoreCAFile != "" {
			return nil, fmt.Errorf("revocationStorePasswordFile and revocationStoreCAFile need revocationStore")
		}
		return nil, nil
	}
	const form = `revocationStore must be redis://[user:password@]host[:port][/db] or rediss://...`
	u, err := url.Parse(c.RevocationStore)
	if err != nil {
		return nil, fmt.Errorf("%s, got a URL that cannot be parsed", form)
	}
	a := &storeAddress{tls: u.Scheme == "rediss", host: u.Hostname()}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return nil, fmt.Errorf("%s, got the scheme %q", form, u.Scheme)
	case a.host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%s, got no host", form)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s, with no query or fragment", form)
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%s, got the port %q", form, port)
	}
	a.addr = net.JoinHostPort(a.host, port)
	if db := strings.Trim(u.Path, "/"); db != "" {
		if a.db, err = strconv.Atoi(db); err != nil || a.db < 0 {
			return nil, fmt.Errorf("%s: the database is a number, got %q", form, db)
		}
	}
	if u.User != nil {
		a.user = u.User.Username()
		a.password, _ = u.User.Password()
	}
	if c.RevocationStorePasswordFile != "" {
		if a.password != "" {
			return nil, fmt.Errorf("revocationStore has a password and revocationStorePasswordFile is set: use one")
		}
		data, ferr := os.ReadFile(c.RevocationStorePasswordFile)
		if ferr != nil {
			return nil, fmt.Errorf("revocationStorePasswordFile cannot be read: %w", ferr)
		}
		a.password = strings.TrimSpace(string(data))
	}
	cas := ""
	if c.RevocationStoreCAFile != "" {
		if !a.tls {
			return nil, fmt.Errorf("revocationStoreCAFile is for rediss:// only")
		}
		data, ferr := os.ReadFile(c.RevocationStoreCAFile)
		if ferr != nil {
			return nil, fmt.Errorf("revocationStoreCAFile cannot be read: %w", ferr)
		}
		a.roots = x509.NewCertPool()
		if !a.roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("revocationStoreCAFile holds no PEM certificate")
		}
		cas = string(data)
	}
	sum := sha256.Sum256([]byte(c.RevocationStore + "\x00" + a.password + "\x00" + cas))
	a.key = hex.EncodeToString(sum[:])
	return a, nil
}

// redactedStore is a revocationStore address without its password, for a log line.
func redactedStore(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// respConn is one connection to the store.
type respConn struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration // each call's deadline
}

// dialRESP connects to a, over TLS for rediss://, then authenticates and selects
// the database.
func dialRESP(a *storeAddress, timeout time.Duration) (*respConn, error) {
	d := &net.Dialer{Timeout: timeout}
	conn, err := d.Dial("tcp", a.addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if a.tls {
		tc := tls.Client(conn, &tls.Config{ServerName: a.host, RootCAs: a.roots, MinVersion: tls.VersionTLS12})
		tc.SetDeadline(time.Now().Add(timeout))
		if err = tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	c := &respConn{conn: conn, r: bufio.NewReaderSize(conn, respMaxLine), w: bufio.NewWriter(conn), timeout: timeout}
	if a.password != "" {
		args := []string{"AUTH", a.password}
		if a.user != "" {
			args = []string{"AUTH", a.user, a.password}
		}
		if _, err = c.do(args...); err != nil {
			c.close()
			return nil, err
		}
	}
	if a.db != 0 {
		if _, err = c.do("SELECT", strconv.Itoa(a.db)); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *respConn) close() {
	c.conn.Close()
}

// do sends one command and reads its reply.
func (c *respConn) do(args ...string) (interface{}, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := c.send(args...); err != nil {
		return nil, err
	}
	v, err := c.read(0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", args[0], err)
	}
	return v, nil
}

// send writes one command as an array of bulk strings and flushes once. The
// arguments are never in an error: AUTH's is the password.
func (c *respConn) send(args ...string) error {
	w := c.w
	w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%s: send: %w", args[0], err)
	}
	return nil
}

// read reads one reply: a string (status or bulk), an int64, nil (a null bulk or
// array), or []interface{}; an error reply is an errStoreRefused.
func (c *respConn) read(depth int) (interface{}, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: a line over %d bytes", errStoreProtocol, respMaxLine)
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: a line not ended by CRLF", errStoreProtocol)
	}
	kind, text := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return text, nil
	case '-':
		return nil, fmt.Errorf("%w: %s", errStoreRefused, text)
	case ':':
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: integer %q", errStoreProtocol, text)
		}
		return n, nil
	case '$':
		n, err := respLength(text, respMaxBulk)
		if err != nil || n < 0 {
			return nil, err
		}
		b := make([]byte, n+2)
		if _, err = io.ReadFull(c.r, b); err != nil {
			return nil, err
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return nil, fmt.Errorf("%w: a string not ended by CRLF", errStoreProtocol)
		}
		return string(b[:n]), nil
	case '*':
		n, err := respLength(text, respMaxArray)
		if err != nil || n < 0 {
			return nil, err
		}
		if depth >= respMaxDepth {
			return nil, fmt.Errorf("%w: arrays nested over %d deep", errStoreProtocol, respMaxDepth)
		}
		items := make([]interface{}, n)
		for i := range items {
			if items[i], err = c.read(depth + 1); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("%w: reply type %q", errStoreProtocol, kind)
}

// respLength reads the length of a bulk string or an array: -1 (null) up to max.
// A null is (nil, -1, nil) for the caller.
func respLength(text string, max int) (int, error) {
	n, err := strconv.Atoi(text)
	if err != nil || n < -1 || n > max {
		return 0, fmt.Errorf("%w: length %q (at most %d)", errStoreProtocol, text, max)
	}
	return n, nil
}

// respString is v as a string, "" when it is not one.
func respString(v interface{}) string {
	s, _ := v.(string)
	return s
}

// respArray is v as an array, nil when it is not one.
func respArray(v interface{}) []interface{} {
	a, _ := v.([]interface{})
	return a
}
