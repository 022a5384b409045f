package harness

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// KubeVersion is the kube-apiserver release the harness runs (tools/kube-apiserver/go.mod).
const KubeVersion = "v1.34.4"

// Kube is a Kubernetes API without nodes: Debian's etcd and kube-apiserver on
// 127.0.0.1, with RBAC, an admin token, and service-account tokens on request. No
// controller manager runs: objects are stored and served, nothing reconciles them.
type Kube struct {
	URL    string // https://127.0.0.1:{port}
	CAFile string // the server's self-signed certificate, PEM
	Dir    string

	adminToken string
	client     *http.Client
	etcd       *process
	apiserver  *process
}

// StartKube starts etcd and kube-apiserver and waits until the API is ready.
func StartKube() (*Kube, error) {
	bin, err := KubeAPIServerBinary()
	if err != nil {
		return nil, err
	}
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, errors.New("no etcd on PATH: install Debian's etcd-server (apt-get install -y etcd-server)")
	}
	dir, err := os.MkdirTemp("", "ags-e2e-kube-")
	if err != nil {
		return nil, err
	}
	k := &Kube{Dir: dir, CAFile: filepath.Join(dir, "apiserver.crt")}
	if err := k.start(etcdBin, bin); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

func (k *Kube) start(etcdBin, bin string) error {
	ports := make([]int, 3)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	client, peer, secure := ports[0], ports[1], ports[2]
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	var err error
	k.etcd, err = startProcess(filepath.Join(k.Dir, "etcd.log"), etcdBin,
		"--name=default", "--data-dir="+filepath.Join(k.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL)
	if err != nil {
		return err
	}

	cert, err := NewCertificate("127.0.0.1")
	if err != nil {
		return err
	}
	saKey, err := newRSAKeyPEM()
	if err != nil {
		return err
	}
	k.adminToken = randomHex(24)
	files := map[string][]byte{
		"apiserver.crt": cert.CertPEM,
		"apiserver.key": cert.KeyPEM,
		"sa.key":        saKey,
		"tokens.csv":    []byte(k.adminToken + `,admin,admin,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(k.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	k.URL = fmt.Sprintf("https://127.0.0.1:%d", secure)
	k.apiserver, err = startProcess(filepath.Join(k.Dir, "kube-apiserver.log"), bin,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", secure),
		"--tls-cert-file="+filepath.Join(k.Dir, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(k.Dir, "apiserver.key"),
		"--cert-dir="+filepath.Join(k.Dir, "certs"),
		"--token-auth-file="+filepath.Join(k.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(k.Dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(k.Dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		// No controller manager, so nothing would keep the kubernetes Service's endpoints.
		"--endpoint-reconciler-type=none",
		// etcd 3.4 lacks what the consistency check asks for; it only logs errors.
		"--feature-gates=DetectCacheInconsistency=false",
		"--profiling=false")
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cert.CertPEM)
	k.client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	err = waitUntil(90*time.Second, 200*time.Millisecond, func() error {
		for _, p := range []*process{k.etcd, k.apiserver} {
			if p.exited() {
				return stopError{fmt.Errorf("%s exited: %v\n--- %s (tail):\n%s", filepath.Base(p.cmd.Path), p.err, p.logPath, tail(p.log(), 40))}
			}
		}
		_, err := k.Do(http.MethodGet, "/readyz", "", nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w\n--- %s (tail):\n%s", err, k.apiserver.logPath, tail(k.apiserver.log(), 40))
	}
	return nil
}

// Do sends a request to the API as the admin and returns the body of a 2xx answer.
func (k *Kube) Do(method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, k.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
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

// collection is the API path of a kind in a namespace ("" for cluster objects).
// Every kind the tests use makes its plural with an s.
func collection(apiVersion, kind, namespace string) string {
	group := "/api/" + apiVersion
	if strings.Contains(apiVersion, "/") {
		group = "/apis/" + apiVersion
	}
	ns := ""
	if namespace != "" {
		ns = "/namespaces/" + namespace
	}
	return group + ns + "/" + strings.ToLower(kind) + "s"
}

// Create creates an object from its YAML (or JSON) document, as kubectl create -f
// does: the API takes YAML as it is.
func (k *Kube) Create(apiVersion, kind, namespace string, doc []byte) error {
	_, err := k.Do(http.MethodPost, collection(apiVersion, kind, namespace), "application/yaml", doc)
	return err
}

// Patch changes an object with a JSON merge patch (RFC 7386), as kubectl patch
// --type=merge does.
func (k *Kube) Patch(apiVersion, kind, namespace, name string, patch any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = k.Do(http.MethodPatch, collection(apiVersion, kind, namespace)+"/"+name, "application/merge-patch+json", body)
	return err
}

// WaitEstablished waits until the API serves the custom resources of group/version.
func (k *Kube) WaitEstablished(groupVersion string, kinds ...string) error {
	return waitUntil(30*time.Second, 100*time.Millisecond, func() error {
		data, err := k.Do(http.MethodGet, "/apis/"+groupVersion, "", nil)
		if err != nil {
			return err
		}
		for _, kind := range kinds {
			if !bytes.Contains(data, []byte(`"kind":"`+kind+`"`)) {
				return fmt.Errorf("%s not served yet", kind)
			}
		}
		return nil
	})
}

// ServiceAccountToken asks the API for a token of the service account (a
// TokenRequest, as a kubelet does for a pod), valid for an hour.
func (k *Kube) ServiceAccountToken(namespace, name string) (string, error) {
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}`)
	data, err := k.Do(http.MethodPost, "/api/v1/namespaces/"+namespace+"/serviceaccounts/"+name+"/token",
		"application/json", body)
	if err != nil {
		return "", err
	}
	var tr struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || tr.Status.Token == "" {
		return "", fmt.Errorf("token request for %s/%s: no token in %s", namespace, name, data)
	}
	return tr.Status.Token, nil
}

// Close stops kube-apiserver and etcd and removes their folder (unless AGS_E2E_KEEP is
// set). kube-apiserver takes about a minute to exit on SIGTERM, so it gets SIGKILL
// after a second; its state is thrown away anyway.
func (k *Kube) Close() {
	if k.apiserver != nil {
		k.apiserver.stop(time.Second)
	}
	if k.etcd != nil {
		k.etcd.stop(5 * time.Second)
	}
	if os.Getenv("AGS_E2E_KEEP") == "" {
		os.RemoveAll(k.Dir)
	}
}

// Logs returns the tails of etcd's and kube-apiserver's logs, for a failing test.
func (k *Kube) Logs(n int) string {
	var b strings.Builder
	for _, p := range []*process{k.etcd, k.apiserver} {
		if p != nil {
			fmt.Fprintf(&b, "--- %s (tail):\n%s\n", p.logPath, tail(p.log(), n))
		}
	}
	return b.String()
}

// process is a server the harness started, its output in logPath.
type process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProcess(logPath, bin string, args ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (p *process) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) log() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}
