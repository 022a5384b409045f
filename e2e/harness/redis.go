package harness

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoRedis says that Debian's redis-server is not on PATH (make e2e-deps installs
// it).
var ErrNoRedis = errors.New("no redis-server on PATH: install Debian's redis-server (apt-get install -y redis-server), or run make e2e as root")

// RedisOptions says how to run Redis.
type RedisOptions struct {
	// TLS, when true, makes Redis speak TLS only (tls-port, port 0), with a
	// certificate for 127.0.0.1 that Redis.CA trusts; clients are not asked for one.
	TLS bool
}

// Redis is a redis-server on 127.0.0.1 (the revocation store's, SPEC 16): a free
// port, requirepass a random password, no persistence (no RDB, no AOF), its files
// in a temporary folder. Stop and Start kill it and start it again on the same
// port, empty, as an outage and a fresh replacement.
type Redis struct {
	Addr     string // 127.0.0.1:{port}
	Password string
	TLS      bool
	// CA trusts the server's certificate in TLS mode (nil otherwise); CAPEM and
	// CAFile are the same certificate as PEM and as a file.
	CA      *x509.CertPool
	CAPEM   []byte
	CAFile  string
	LogPath string

	bin, dir string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
}

// RedisBinary returns the path of redis-server, or ErrNoRedis.
func RedisBinary() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", ErrNoRedis
	}
	return bin, nil
}

// StartRedis starts redis-server and waits until it answers PING.
func StartRedis(opts RedisOptions) (*Redis, error) {
	bin, err := RedisBinary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: randomHex(16), TLS: opts.TLS, bin: bin}
	Secret("redis password", r.Password)
	if r.dir, err = os.MkdirTemp("", "ags-e2e-redis-*"); err != nil {
		return nil, err
	}
	r.LogPath = filepath.Join(r.dir, "redis.log")
	conf := []string{
		"bind 127.0.0.1",
		"protected-mode yes",
		"requirepass " + r.Password,
		`save ""`,
		"appendonly no",
		"dir " + r.dir,
		"daemonize no",
		`logfile ""`,
		"always-show-logo no",
	}
	if opts.TLS {
		cert, err := NewCertificate("127.0.0.1")
		if err != nil {
			r.Close()
			return nil, err
		}
		r.CA, r.CAPEM, r.CAFile = cert.Pool, cert.CertPEM, filepath.Join(r.dir, "ca.pem")
		certFile, keyFile := filepath.Join(r.dir, "redis.pem"), filepath.Join(r.dir, "redis-key.pem")
		for path, data := range map[string][]byte{r.CAFile: cert.CertPEM, certFile: cert.CertPEM, keyFile: cert.KeyPEM} {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				r.Close()
				return nil, err
			}
		}
		conf = append(conf, "port 0", fmt.Sprintf("tls-port %d", port),
			"tls-cert-file "+certFile, "tls-key-file "+keyFile, "tls-ca-cert-file "+r.CAFile,
			"tls-auth-clients no")
	} else {
		conf = append(conf, fmt.Sprintf("port %d", port))
	}
	if err := os.WriteFile(filepath.Join(r.dir, "redis.conf"), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.Start(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// URL returns the address a client is configured with:
// redis://:{password}@127.0.0.1:{port}/0, or rediss:// in TLS mode.
func (r *Redis) URL() string {
	u := url.URL{Scheme: "redis", User: url.UserPassword("", r.Password), Host: r.Addr, Path: "/0"}
	if r.TLS {
		u.Scheme = "rediss"
	}
	return u.String()
}

// Start starts redis-server (again, after Stop: on the same port, empty) and waits
// until it answers PING. Starting a running Redis does nothing.
func (r *Redis) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.bin, filepath.Join(r.dir, "redis.conf"))
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	return waitUntil(10*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-done:
			return stopError{fmt.Errorf("redis-server exited; its log:\n%s", r.Log())}
		default:
		}
		reply, err := r.Do("PING")
		if err != nil {
			return err
		}
		if reply != "PONG" {
			return fmt.Errorf("redis PING: %v", reply)
		}
		return nil
	})
}

// Stop kills redis-server (SIGKILL: an outage, not a shutdown) and waits until it
// is gone; its clients' connections break.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd, r.done = nil, nil
}

// Close stops Redis and removes its folder unless AGS_E2E_KEEP is set.
func (r *Redis) Close() {
	r.Stop()
	if r.dir != "" && os.Getenv("AGS_E2E_KEEP") == "" {
		os.RemoveAll(r.dir)
	}
}

// Log returns what redis-server logged so far.
func (r *Redis) Log() string {
	data, _ := os.ReadFile(r.LogPath)
	return string(data)
}

// Dial opens a connection to Redis (TLS in TLS mode, trusting CA), not yet
// authenticated.
func (r *Redis) Dial() (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if r.TLS {
		return tls.DialWithDialer(d, "tcp", r.Addr, &tls.Config{RootCAs: r.CA, ServerName: "127.0.0.1"})
	}
	return d.Dial("tcp", r.Addr)
}

// RedisError is an error reply of Redis (-ERR ..., -WRONGPASS ...).
type RedisError string

func (e RedisError) Error() string { return "redis: " + string(e) }

// Do sends one command on a new authenticated connection and returns the reply:
// a string (simple or bulk), an int64, nil, or []any; an error reply is a
// RedisError. For tests that look into the store or break it (PUBLISH, KEYS,
// CLIENT KILL), beside the client under test.
func (r *Redis) Do(args ...string) (any, error) {
	conn, err := r.Dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	w := bufio.NewWriter(conn)
	writeRESP(w, "AUTH", r.Password)
	writeRESP(w, args...)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	rd := bufio.NewReader(conn)
	if _, err := readRESP(rd); err != nil {
		return nil, fmt.Errorf("redis AUTH: %w", err)
	}
	return readRESP(rd)
}

// writeRESP writes a command as an array of bulk strings.
func writeRESP(w *bufio.Writer, args ...string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

// readRESP reads one RESP2 reply.
func readRESP(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, RedisError(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(rd, data); err != nil {
			return nil, err
		}
		return string(data[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = readRESP(rd); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("redis: unknown reply %q", line)
}
