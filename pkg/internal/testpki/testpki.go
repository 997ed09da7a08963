// Package testpki issues certificate hierarchies for unit tests, shaped like
// Let's Encrypt's: root → intermediate → leaf. Keys live in memory only.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Hierarchy is a root and an intermediate that issue leaves.
type Hierarchy struct {
	Root, Intermediate       *x509.Certificate
	rootKey, intermediateKey crypto.Signer
	// Usages are the extended key usages of the intermediate and its leaves.
	Usages []x509.ExtKeyUsage
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// ChainPEM is leaf + intermediate, as IKS stores tls.crt.
	ChainPEM []byte
	KeyPEM   []byte
}

// New creates a hierarchy. clientAuth false gives serverAuth-only
// intermediates and leaves, as Let's Encrypt issues since 2026.
func New(t testing.TB, name string, clientAuth bool) *Hierarchy {
	t.Helper()
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if clientAuth {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	now := time.Now()
	h := &Hierarchy{Usages: usages}
	h.rootKey = newKey(t)
	h.Root = sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, h.rootKey, h.rootKey)
	h.intermediateKey = newKey(t)
	h.Intermediate = sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " Intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(3 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage: usages,
	}, h.Root, h.intermediateKey, h.rootKey)
	return h
}

// Issue issues a leaf for names valid from notBefore to notAfter.
func (h *Hierarchy) Issue(t testing.TB, notBefore, notAfter time.Time, names ...string) *Leaf {
	t.Helper()
	key := newKey(t)
	cert := sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: h.Usages,
	}, h.Intermediate, key, h.intermediateKey)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Leaf{
		Cert: cert, Key: key,
		ChainPEM: append(PEM(cert), PEM(h.Intermediate)...),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}
}

// IssueNow issues a leaf valid for 90 days from an hour ago.
func (h *Hierarchy) IssueNow(t testing.TB, names ...string) *Leaf {
	now := time.Now()
	return h.Issue(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), names...)
}

// PEM encodes one certificate.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
