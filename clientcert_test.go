package ags

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSignedCertificate writes a certificate of the client key file (testdata/client)
// to a temporary file, as Entra ID's portal takes one, and returns its path and DER.
func selfSignedCertificate(t *testing.T, keyFile string) (string, []byte) {
	t.Helper()
	pemText, _ := clientKey(t, keyFile)
	key, err := parsePrivateKeyPEM([]byte(pemText))
	if err != nil {
		t.Fatal(err)
	}
	signer := key.(*ecdsa.PrivateKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ags test client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &signer.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "client.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, der
}

// TestClientCertificateThumbprints: with clientCertificateFile, the client
// assertion's header names the certificate by its SHA-256 and SHA-1 thumbprints.
func TestClientCertificateThumbprints(t *testing.T) {
	tp := newTestProvider(t)
	c := tpAssertionConfig(t, tp, "ec-p256-pkcs8.pem")
	path, der := selfSignedCertificate(t, "ec-p256-pkcs8.pem")
	c.ClientCertificateFile = path
	m, _ := newFlow(t, c)
	if rec := newFlowBrowser(t, m).signIn("/private"); rec.Code != http.StatusFound || len(tp.assertions) != 1 {
		t.Fatalf("sign-in: got %d and %d assertions, want 302 and 1; %s", rec.Code, len(tp.assertions), rec.Body.String())
	}
	sum256, sum1 := sha256.Sum256(der), sha1.Sum(der)
	h := tp.assertions[0].header
	if got, want := h["x5t#S256"], base64.RawURLEncoding.EncodeToString(sum256[:]); got != want {
		t.Errorf("x5t#S256: got %v, want %q", got, want)
	}
	if got, want := h["x5t"], base64.RawURLEncoding.EncodeToString(sum1[:]); got != want {
		t.Errorf("x5t: got %v, want %q", got, want)
	}
	if h["kid"] == nil || h["alg"] != "ES256" {
		t.Errorf("header: got %v, want kid and alg kept", h)
	}
}

func TestClientCertificateErrors(t *testing.T) {
	other, _ := selfSignedCertificate(t, "ec-p384-pkcs8.pem")
	notPEM := filepath.Join(t.TempDir(), "cert.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	cases := []struct {
		name, file string
		noKey      bool
		want       string
	}{
		{"another key's certificate", other, false, "clientCertificateFile: the certificate is not of the client's private key"},
		{"no PEM", notPEM, false, "clientCertificateFile \""},
		{"unreadable", "/nonexistent/client.crt", false, "clientCertificateFile cannot be read"},
		{"no key", other, true, "clientCertificateFile needs the certificate's private key"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			tp := newTestProvider(t)
			c := tpAssertionConfig(t, tp, "ec-p256-pkcs8.pem")
			if tc.noKey {
				c = flowConfig(tp)
			}
			c.ClientCertificateFile = tc.file
			_, err := newMiddleware(http.NotFoundHandler(), c, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
