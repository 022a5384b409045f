package ags

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
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
