package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Lifetimes the plugin uses for its private CA and the client certificates it
// issues.
const (
	// DefaultCALifetime is five years. The CA certificate sits in the
	// gateway's <credentialName>-cacert Secret, and replacing it means
	// trusting old and new CA side by side until every client certificate
	// is re-issued, so it should change rarely; five years keeps that to a
	// few times in a cluster's life while bounding how long a leaked CA key
	// (it lives in a Secret) stays useful. The key can only mint client
	// certificates that this one gateway accepts.
	DefaultCALifetime = 5 * 365 * 24 * time.Hour
	// DefaultClientCertLifetime is 90 days, the lifetime of the public
	// certificates it stands in for, so operators keep the renewal rhythm
	// they know and a leaked ALB client key expires quickly.
	DefaultClientCertLifetime = 90 * 24 * time.Hour
	// RenewBefore is how much validity a client certificate must have left;
	// with less, re-running `secrets` issues a new one. Thirty days is
	// certbot's margin and leaves a month of `check` warnings before an
	// outage if nobody re-runs `secrets`.
	RenewBefore = 30 * 24 * time.Hour
)

// clockSkew backdates NotBefore so that a certificate issued on a machine whose
// clock runs ahead is already valid on the ALB and the gateway.
const clockSkew = time.Hour

// NeedsRenewal reports whether cert has less than RenewBefore of validity left
// at now (or is already expired), the rule `secrets` uses to re-issue.
func NeedsRenewal(cert *x509.Certificate, now time.Time) bool {
	return cert == nil || cert.NotAfter.Sub(now) < RenewBefore
}

// CA is a private certificate authority that gives the ALB a TLS client
// identity when the ALB's own certificate lacks the clientAuth usage; the
// gateway trusts Cert through its -cacert Secret.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key, held in memory only.
	Key crypto.Signer
}

// ClientCertRequest describes a client certificate to issue.
type ClientCertRequest struct {
	// CommonName identifies the client (the ALB) in the gateway's logs; required.
	CommonName string
	// DNSNames are optional subjectAltNames, for gateways that match client SANs.
	DNSNames []string
	// Lifetime is how long the certificate is valid; zero means DefaultClientCertLifetime.
	Lifetime time.Duration
}

// NewCA creates a self-signed CA with a fresh ECDSA P-256 key, valid from an
// hour before now (clock skew) until now+validity. MaxPathLen 0 keeps it from
// signing other CAs: it only ever issues client certificates.
func NewCA(commonName string, now time.Time, validity time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("the private CA needs a common name, e.g. \"kubectl-albistio client CA\"")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("the private CA's validity must be positive, got %s; use e.g. %s", validity, DefaultCALifetime)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the private CA's key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing the private CA certificate %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("reading back the private CA certificate %q: %w", commonName, err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// ParseCA reads a CA certificate and its key (as stored in the plugin's CA
// Secret) and checks that the certificate is a CA and the key belongs to it,
// so a wrong Secret is caught before anything is issued.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the private CA certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("the private CA certificate data holds %d certificates; it must hold exactly the one CA certificate", len(certs))
	}
	cert := certs[0]
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("certificate %s is not a CA certificate (basicConstraints CA:TRUE is missing); pass the private CA's certificate, not one it issued", certName(cert))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("CA certificate %s lacks the keyCertSign key usage, so certificates it signs will be rejected; create a new private CA", certName(cert))
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the private CA key: %w", err)
	}
	if err := KeyMatches(key, cert); err != nil {
		return nil, fmt.Errorf("the private CA key does not match its certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue creates a client certificate with a fresh ECDSA P-256 key, usable for
// TLS client authentication only (the purpose Envoy checks), signed by ca.
// It is valid from an hour before now (clock skew) for req.Lifetime, cut
// short at the CA's own expiry, and its chain is [leaf, ca.Cert] so the
// client can present the CA too.
func (ca *CA) Issue(req ClientCertRequest, now time.Time) (*KeyPair, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("the private CA has no certificate or no key; create it with NewCA or read it with ParseCA")
	}
	if req.CommonName == "" {
		return nil, errors.New("the client certificate needs a common name that identifies the client, e.g. the ALB's domain")
	}
	if req.Lifetime < 0 {
		return nil, fmt.Errorf("the client certificate lifetime must be positive, got %s", req.Lifetime)
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = DefaultClientCertLifetime
	}
	if err := KeyMatches(ca.Key, ca.Cert); err != nil {
		return nil, fmt.Errorf("the private CA key does not match its certificate: %w", err)
	}
	if err := CheckValidity(ca.Cert, now); err != nil {
		if errors.Is(err, ErrExpired) {
			return nil, fmt.Errorf("cannot issue from the private CA because it has expired; create a new private CA and put its certificate into the gateway's -cacert Secret: %w", err)
		}
		return nil, fmt.Errorf("cannot issue from the private CA: %w", err)
	}
	notBefore := now.Add(-clockSkew)
	if notBefore.Before(ca.Cert.NotBefore) {
		notBefore = ca.Cert.NotBefore
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the client certificate's key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		DNSNames:              append([]string(nil), req.DNSNames...),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing the client certificate %q with private CA %s: %w", req.CommonName, certName(ca.Cert), err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("reading back the client certificate %q: %w", req.CommonName, err)
	}
	return &KeyPair{Chain: []*x509.Certificate{leaf, ca.Cert}, Key: key}, nil
}

// randomSerial returns a random positive 128-bit serial number: RFC 5280 and
// the CA/Browser Forum want unpredictable serials, and it keeps two
// certificates from the same CA from ever sharing one.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating a certificate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
