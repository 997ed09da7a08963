package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"testing"
	"time"
)

// This file builds throwaway PKIs in memory, shaped like Let's Encrypt's
// today. Keys never leave memory.

// testNow is the fixed clock every test runs at: after Let's Encrypt dropped
// clientAuth (2026-02-11), inside the validity of the bundled roots and of the
// real intermediates in testdata.
func testNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

// Extended key usage sets of the two test hierarchies.
func serverOnly() []x509.ExtKeyUsage { return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }
func serverAndClient() []x509.ExtKeyUsage {
	return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
}

// testGatewayHost is the leaf's name; testWildcard is its wildcard SAN.
const (
	testGatewayHost = "gw.example.test"
	testWildcard    = "*.apps.example.test"
)

// issued is a certificate and its in-memory key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec describes a certificate for issue.
type certSpec struct {
	cn        string
	dns       []string
	ekus      []x509.ExtKeyUsage
	isCA      bool
	notBefore time.Time
	notAfter  time.Time
	key       crypto.Signer // nil: a fresh ECDSA P-256 key
}

// newECKey returns a fresh ECDSA P-256 key.
func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating an ECDSA key: %v", err)
	}
	return key
}

// issue creates the certificate spec describes, signed by parent, or
// self-signed when parent is nil.
func issue(t testing.TB, spec certSpec, parent *issued) *issued {
	t.Helper()
	key := spec.key
	if key == nil {
		key = newECKey(t)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	now := testNow()
	if spec.notBefore.IsZero() {
		spec.notBefore = now.Add(-30 * 24 * time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = now.Add(60 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: spec.cn, Organization: []string{"albistio test"}},
		DNSNames:              spec.dns,
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		ExtKeyUsage:           spec.ekus,
		BasicConstraintsValid: true,
		IsCA:                  spec.isCA,
	}
	if spec.isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("creating test certificate %q: %v", spec.cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: cert, key: key}
}

// testPKI is root (self-signed, no EKU) → intermediate → leaf, the shape of
// Let's Encrypt's hierarchies.
type testPKI struct {
	root, intermediate, leaf *issued
}

// newTestPKI builds a hierarchy whose intermediate and leaf carry ekus:
// serverOnly() for a Let's Encrypt chain since 2026, serverAndClient() for
// one from before.
func newTestPKI(t testing.TB, name string, ekus []x509.ExtKeyUsage) *testPKI {
	t.Helper()
	now := testNow()
	root := issue(t, certSpec{
		cn: "Test Root " + name, isCA: true,
		notBefore: now.Add(-365 * 24 * time.Hour), notAfter: now.Add(10 * 365 * 24 * time.Hour),
	}, nil)
	inter := issue(t, certSpec{
		cn: "Test Intermediate " + name, isCA: true, ekus: ekus,
		notBefore: now.Add(-180 * 24 * time.Hour), notAfter: now.Add(3 * 365 * 24 * time.Hour),
	}, root)
	leaf := issue(t, certSpec{
		cn: testGatewayHost, dns: []string{testGatewayHost, testWildcard}, ekus: ekus,
	}, inter)
	return &testPKI{root: root, intermediate: inter, leaf: leaf}
}

// chain is what a server presents: leaf, then intermediate.
func (p *testPKI) chain() []*x509.Certificate {
	return []*x509.Certificate{p.leaf.cert, p.intermediate.cert}
}

// fullChain also includes the root.
func (p *testPKI) fullChain() []*x509.Certificate {
	return []*x509.Certificate{p.leaf.cert, p.intermediate.cert, p.root.cert}
}

// keyPair is the leaf's KeyPair.
func (p *testPKI) keyPair() *KeyPair {
	return &KeyPair{Chain: p.chain(), Key: p.leaf.key}
}

// readTestCert reads a public certificate from testdata.
func readTestCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}
