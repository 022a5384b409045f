package harness

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Docker is a Docker daemon of the test's own (Debian's dockerd), with its own data
// root, exec root and socket, and no iptables, IP forwarding or default bridge: it
// changes nothing on the machine that outlives it. Containers reach each other, and
// the host reaches them, on a user-defined network (CreateNetwork).
type Docker struct {
	Socket   string // the API's unix socket
	Endpoint string // unix://{Socket}, for Traefik's providers.docker.endpoint
	Dir      string

	client *http.Client
	daemon *process
}

// StartDocker starts dockerd and waits until its API answers.
func StartDocker() (*Docker, error) {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, errors.New("no dockerd on PATH: install Debian's docker.io (apt-get install -y docker.io)")
	}
	// A short folder: unix socket paths under the exec root must fit in 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "agsd-")
	if err != nil {
		return nil, err
	}
	d := &Docker{Dir: dir, Socket: filepath.Join(dir, "docker.sock")}
	d.Endpoint = "unix://" + d.Socket
	d.client = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Socket)
		},
	}}
	d.daemon, err = startProcess(filepath.Join(dir, "dockerd.log"), bin,
		"--host="+d.Endpoint,
		"--data-root="+filepath.Join(dir, "data"),
		"--exec-root="+filepath.Join(dir, "exec"),
		"--pidfile="+filepath.Join(dir, "dockerd.pid"),
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
		"--userland-proxy=false", "--log-level=warn")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	err = waitUntil(60*time.Second, 100*time.Millisecond, func() error {
		if d.daemon.exited() {
			return stopError{fmt.Errorf("dockerd exited: %v", d.daemon.err)}
		}
		_, err := d.do(http.MethodGet, "/_ping", "", nil)
		return err
	})
	if err != nil {
		log := tail(d.daemon.log(), 40)
		d.Close()
		return nil, fmt.Errorf("dockerd not ready: %w\n--- dockerd.log (tail):\n%s", err, log)
	}
	return d, nil
}

// do sends a request to the daemon's API and returns the body of a 2xx answer.
func (d *Docker) do(method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequest(method, "http://docker"+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

func (d *Docker) doJSON(method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	data, err := d.do(method, path, "application/json", bytes.NewReader(body))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// BuildImage builds image tag from a Dockerfile and the files beside it (name to
// content and mode), as docker build does with that folder as its context.
func (d *Docker) BuildImage(tag, dockerfile string, files map[string]File) error {
	var ctx bytes.Buffer
	tw := tar.NewWriter(&ctx)
	files["Dockerfile"] = File{Data: []byte(dockerfile), Mode: 0o644}
	for name, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: f.Mode, Size: int64(len(f.Data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data, err := d.do(http.MethodPost, "/build?rm=1&forcerm=1&t="+url.QueryEscape(tag), "application/x-tar", &ctx)
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	// The answer is a stream of JSON messages; a failed step is one with an error.
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Error != "" {
			return fmt.Errorf("build %s: %s", tag, msg.Error)
		}
	}
	return nil
}

// File is a file of a build context.
type File struct {
	Data []byte
	Mode int64
}

// CreateNetwork makes a user-defined bridge network with the given subnet (CIDR).
func (d *Docker) CreateNetwork(name, subnet string) error {
	return d.doJSON(http.MethodPost, "/networks/create", map[string]any{
		"Name": name, "Driver": "bridge", "CheckDuplicate": true,
		"IPAM": map[string]any{"Config": []map[string]string{{"Subnet": subnet}}},
	}, nil)
}

// Run creates and starts a container of image on network with labels, and returns its
// id. It is removed by Close, or by Remove.
func (d *Docker) Run(name, image, network string, labels map[string]string) (string, error) {
	var created struct{ ID string }
	err := d.doJSON(http.MethodPost, "/containers/create?name="+url.QueryEscape(name), map[string]any{
		"Image": image, "Labels": labels,
		"HostConfig": map[string]any{"NetworkMode": network},
	}, &created)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	if _, err := d.do(http.MethodPost, "/containers/"+created.ID+"/start", "", nil); err != nil {
		return "", fmt.Errorf("start container %s: %w", name, err)
	}
	return created.ID, nil
}

// Remove stops and removes a container.
func (d *Docker) Remove(id string) error {
	_, err := d.do(http.MethodDelete, "/containers/"+id+"?force=1", "", nil)
	return err
}

// Log returns the tail of dockerd's log, for a failing test.
func (d *Docker) Log(n int) string { return tail(d.daemon.log(), n) }

// Close removes every container and network, stops dockerd and removes its folder
// (unless AGS_E2E_KEEP is set).
func (d *Docker) Close() {
	if d.daemon != nil && !d.daemon.exited() {
		var containers []struct{ ID string }
		if data, err := d.do(http.MethodGet, "/containers/json?all=1", "", nil); err == nil && json.Unmarshal(data, &containers) == nil {
			for _, c := range containers {
				_ = d.Remove(c.ID)
			}
		}
		_, _ = d.do(http.MethodPost, "/networks/prune", "", nil)
		d.daemon.stop(20 * time.Second)
	}
	if os.Getenv("AGS_E2E_KEEP") == "" {
		os.RemoveAll(d.Dir)
	}
}
