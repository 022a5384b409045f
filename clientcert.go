package ags

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
)

// Entra ID registers a client's key as a certificate and finds it by the certificate's
// thumbprint in the client assertion's header (x5t#S256; x5t, SHA-1, in older
// tenants), not by kid.

// parseClientCertificate reads clientCertificateFile into a: the certificate must be
// of the client's key.
func parseClientCertificate(c *Config, a *clientAuth) error {
	if c.ClientCertificateFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.ClientCertificateFile)
	if err != nil {
		return fmt.Errorf("clientCertificateFile cannot be read: %w", err)
	}
	block, _ := pem.Decode(data)
	for block != nil && block.Type != "CERTIFICATE" {
		block, data = pem.Decode(data)
	}
	if block == nil {
		return fmt.Errorf("clientCertificateFile %q holds no PEM certificate", c.ClientCertificateFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("clientCertificateFile: %w", err)
	}
	// a.key first: under Yaegi, asserting a nil interface{} to an interface panics.
	if a.key == nil {
		return fmt.Errorf("clientCertificateFile needs the certificate's private key in clientPrivateKeyFile (or clientPrivateKey)")
	}
	signer, ok := a.key.(crypto.Signer)
	if !ok {
		return fmt.Errorf("clientCertificateFile needs the certificate's private key in clientPrivateKeyFile (or clientPrivateKey)")
	}
	// Compared as DER: under Yaegi, asserting a compiled key to an interface of
	// its Equal method is not to be relied on.
	mine, err := x509.MarshalPKIXPublicKey(signer.Public())
	theirs, cerr := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil || cerr != nil || !bytes.Equal(mine, theirs) {
		return fmt.Errorf("clientCertificateFile: the certificate is not of the client's private key (clientPrivateKeyFile or clientPrivateKey)")
	}
	sum256 := sha256.Sum256(cert.Raw)
	sum1 := sha1.Sum(cert.Raw)
	a.x5tS256 = base64.RawURLEncoding.EncodeToString(sum256[:])
	a.x5t = base64.RawURLEncoding.EncodeToString(sum1[:])
	return nil
}
