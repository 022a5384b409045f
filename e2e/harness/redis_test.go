package harness

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func startRedis(t *testing.T, opts RedisOptions) *Redis {
	t.Helper()
	if _, err := RedisBinary(); err != nil {
		skipOrFail(t, err)
	}
	r, err := StartRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis log:\n%s", tail(r.Log(), 30))
		}
		r.Close()
	})
	return r
}

// TestRedisStarts: Redis asks for the password, refuses a wrong one, answers PING
// after AUTH, over TCP and over TLS only; Stop and Start give an outage and an empty
// Redis on the same address.
func TestRedisStarts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		scheme string
	}{
		{"plain", false, "redis://"},
		{"tls", true, "rediss://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRedis(t, RedisOptions{TLS: tc.tls})
			if want := tc.scheme + ":" + r.Password + "@" + r.Addr + "/0"; r.URL() != want {
				t.Errorf("URL() = %q, want %q", r.URL(), want)
			}
			var conn net.Conn
			var err error
			if tc.tls {
				conn, err = tls.Dial("tcp", r.Addr, &tls.Config{RootCAs: r.CA})
			} else {
				conn, err = net.Dial("tcp", r.Addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			rd := bufio.NewReader(conn)
			exchange := func(command, wantPrefix string) {
				t.Helper()
				if _, err := conn.Write([]byte(command)); err != nil {
					t.Fatal(err)
				}
				line, err := rd.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, wantPrefix) {
					t.Fatalf("%q: got %q %v, want %q...", command, line, err, wantPrefix)
				}
			}
			exchange("*1\r\n$4\r\nPING\r\n", "-NOAUTH")
			exchange("*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n", "-WRONGPASS")
			exchange("*2\r\n$4\r\nAUTH\r\n$32\r\n"+r.Password+"\r\n", "+OK")
			exchange("*1\r\n$4\r\nPING\r\n", "+PONG")

			if tc.tls {
				// TLS only: a plain connection gets no answer.
				plain, err := net.Dial("tcp", r.Addr)
				if err != nil {
					t.Fatal(err)
				}
				plain.SetDeadline(time.Now().Add(2 * time.Second))
				plain.Write([]byte("*1\r\n$4\r\nPING\r\n"))
				if line, _ := bufio.NewReader(plain).ReadString('\n'); line != "" {
					t.Errorf("a plain connection to the TLS port got %q", line)
				}
				plain.Close()
			}

			if _, err := r.Do("SET", "k", "v"); err != nil {
				t.Fatal(err)
			}
			r.Stop()
			if _, err := r.Do("PING"); err == nil {
				t.Fatal("PING answered while stopped")
			}
			if _, err := rd.ReadString('\n'); err == nil {
				t.Error("the connection stayed open across Stop")
			}
			if err := r.Start(); err != nil {
				t.Fatal(err)
			}
			if v, err := r.Do("GET", "k"); err != nil || v != nil {
				t.Errorf("GET k after a restart: %v %v, want nil (no persistence)", v, err)
			}
			var re RedisError
			if _, err := r.Do("NOSUCHCOMMAND"); !errors.As(err, &re) {
				t.Errorf("an unknown command: %v, want a RedisError", err)
			}
		})
	}
}
