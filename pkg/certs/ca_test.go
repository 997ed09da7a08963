package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// newTestCA creates a private CA at testNow.
func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("albistio test client CA", testNow(), DefaultCALifetime)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	now := testNow()
	ca := newTestCA(t)
	c := ca.Cert
	if c.Subject.CommonName != "albistio test client CA" {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
	if !c.BasicConstraintsValid || !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: valid=%v CA=%v maxPathLen=%d zero=%v, want a CA with path length 0", c.BasicConstraintsValid, c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage = %b, want certSign|cRLSign", c.KeyUsage)
	}
	if len(c.ExtKeyUsage) != 0 {
		t.Errorf("CA has extended key usages %v", usageNames(c))
	}
	if !c.NotBefore.Equal(now.Add(-time.Hour)) || !c.NotAfter.Equal(now.Add(DefaultCALifetime)) {
		t.Errorf("validity %s..%s, want an hour before now until now+%s", c.NotBefore, c.NotAfter, DefaultCALifetime)
	}
	if !isSelfSigned(c) {
		t.Errorf("CA is not self-signed")
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %s, want ECDSA P-256", keyDescription(c.PublicKey))
	}
	if err := KeyMatches(ca.Key, c); err != nil {
		t.Error(err)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %x is not a positive 128-bit number", c.SerialNumber)
	}
	if other := newTestCA(t); other.Cert.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two CAs share serial %x", c.SerialNumber)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Errorf("CA has no subject key identifier")
	}

	for _, tt := range []struct {
		name     string
		cn       string
		validity time.Duration
		wantErr  string
	}{
		{name: "no common name", cn: "", validity: time.Hour, wantErr: "common name"},
		{name: "zero validity", cn: "x", validity: 0, wantErr: "must be positive"},
		{name: "negative validity", cn: "x", validity: -time.Hour, wantErr: "must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCA(tt.cn, now, tt.validity)
			checkErr(t, err, []string{tt.wantErr})
		})
	}
}

func TestParseCA(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	pki := newTestPKI(t, "CA", serverOnly())
	caKey, err := EncodePrivateKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := EncodePrivateKey(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := EncodePrivateKey(pki.leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	caCert := EncodeCertificates(ca.Cert)
	tests := []struct {
		name      string
		cert, key []byte
		wantErr   []string
	}{
		{name: "round trip", cert: caCert, key: caKey},
		{name: "round trip with CRLF", cert: crlf(caCert), key: crlf(caKey)},
		{name: "key of another CA", cert: caCert, key: otherKey, wantErr: []string{"does not match its certificate", "does not belong"}},
		{name: "not a CA", cert: EncodeCertificates(pki.leaf.cert), key: leafKey, wantErr: []string{"not a CA certificate", testGatewayHost}},
		{name: "two certificates", cert: EncodeCertificates(ca.Cert, other.Cert), key: caKey, wantErr: []string{"2 certificates", "exactly the one"}},
		{name: "no certificate", cert: caKey, key: caKey, wantErr: []string{"reading the private CA certificate"}},
		{name: "encrypted key", cert: caCert, key: pemBlock("ENCRYPTED PRIVATE KEY", nil, []byte{1}), wantErr: []string{"reading the private CA key", "encrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCA(tt.cert, tt.key)
			checkErr(t, err, tt.wantErr)
			if err != nil {
				return
			}
			if !SameCertificates([]*x509.Certificate{got.Cert}, []*x509.Certificate{ca.Cert}) || KeyMatches(got.Key, ca.Cert) != nil {
				t.Errorf("ParseCA returned another CA")
			}
			// The parsed CA can issue.
			if _, err := got.Issue(ClientCertRequest{CommonName: "alb"}, testNow()); err != nil {
				t.Errorf("issuing from the parsed CA: %v", err)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	now := testNow()
	ca := newTestCA(t)
	kp, err := ca.Issue(ClientCertRequest{CommonName: "alb.example.test", DNSNames: []string{"alb.example.test"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := kp.Leaf()
	if len(kp.Chain) != 2 || kp.Chain[1] != ca.Cert {
		t.Fatalf("chain has %d certificates, want [leaf, CA]", len(kp.Chain))
	}
	if leaf.Subject.CommonName != "alb.example.test" || !slices.Equal(leaf.DNSNames, []string{"alb.example.test"}) {
		t.Errorf("subject %q, SANs %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(leaf.UnknownExtKeyUsage) != 0 {
		t.Errorf("extended key usages %v, want clientAuth only", usageNames(leaf))
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || leaf.IsCA {
		t.Errorf("key usage %b, CA %v; want digitalSignature, not a CA", leaf.KeyUsage, leaf.IsCA)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Hour)) || !leaf.NotAfter.Equal(now.Add(DefaultClientCertLifetime)) {
		t.Errorf("validity %s..%s, want the default lifetime", leaf.NotBefore, leaf.NotAfter)
	}
	if err := KeyMatches(kp.Key, leaf); err != nil {
		t.Error(err)
	}
	if KeyMatches(ca.Key, leaf) == nil {
		t.Errorf("the client certificate reuses the CA key")
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %x is not a positive 128-bit number", leaf.SerialNumber)
	}

	// The chain verifies for clientAuth against the CA alone, and not for serverAuth.
	path, err := VerifyChain(kp.Chain, []*x509.Certificate{ca.Cert}, x509.ExtKeyUsageClientAuth, "", now)
	if err != nil {
		t.Fatalf("issued chain does not verify for clientAuth: %v", err)
	}
	if len(path) != 2 || path[1] != ca.Cert {
		t.Errorf("verified path does not end at the CA")
	}
	var ue *UsageError
	if _, err := VerifyChain(kp.Chain, []*x509.Certificate{ca.Cert}, x509.ExtKeyUsageServerAuth, "", now); !errors.As(err, &ue) {
		t.Errorf("client certificate verified for serverAuth: %v", err)
	}
	if anchor, err := TrustAnchor(kp.Chain, nil); err != nil || anchor != ca.Cert {
		t.Errorf("TrustAnchor = %v, %v; want the CA", anchor, err)
	}

	// A second certificate gets its own key and serial.
	kp2, err := ca.Issue(ClientCertRequest{CommonName: "alb.example.test", Lifetime: 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if kp2.Leaf().SerialNumber.Cmp(leaf.SerialNumber) == 0 || KeyMatches(kp.Key, kp2.Leaf()) == nil {
		t.Errorf("two issued certificates share a serial or a key")
	}
	if !kp2.Leaf().NotAfter.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("NotAfter %s, want the requested lifetime", kp2.Leaf().NotAfter)
	}
}

func TestIssueLimits(t *testing.T) {
	now := testNow()
	ca := newTestCA(t)
	shortCA, err := NewCA("short-lived CA", now, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mismatched := &CA{Cert: ca.Cert, Key: shortCA.Key}
	tests := []struct {
		name         string
		ca           *CA
		req          ClientCertRequest
		now          time.Time
		wantNotAfter time.Time
		wantErr      []string
	}{
		{name: "cut short at the CA's expiry", ca: shortCA, req: ClientCertRequest{CommonName: "alb"}, now: now, wantNotAfter: shortCA.Cert.NotAfter},
		{name: "CA expired", ca: shortCA, req: ClientCertRequest{CommonName: "alb"}, now: now.Add(11 * 24 * time.Hour), wantErr: []string{"cannot issue", "expired", "create a new private CA"}},
		{name: "CA not yet valid", ca: ca, req: ClientCertRequest{CommonName: "alb"}, now: now.Add(-2 * time.Hour), wantErr: []string{"not valid before"}},
		{name: "no common name", ca: ca, req: ClientCertRequest{}, now: now, wantErr: []string{"common name"}},
		{name: "negative lifetime", ca: ca, req: ClientCertRequest{CommonName: "alb", Lifetime: -time.Hour}, now: now, wantErr: []string{"must be positive"}},
		{name: "nil CA", ca: nil, req: ClientCertRequest{CommonName: "alb"}, now: now, wantErr: []string{"no certificate or no key"}},
		{name: "CA without key", ca: &CA{Cert: ca.Cert}, req: ClientCertRequest{CommonName: "alb"}, now: now, wantErr: []string{"no certificate or no key"}},
		{name: "CA key mismatch", ca: mismatched, req: ClientCertRequest{CommonName: "alb"}, now: now, wantErr: []string{"does not match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := tt.ca.Issue(tt.req, tt.now)
			checkErr(t, err, tt.wantErr)
			if err == nil && !kp.Leaf().NotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("NotAfter = %s, want %s", kp.Leaf().NotAfter, tt.wantNotAfter)
			}
		})
	}
}

func TestNeedsRenewal(t *testing.T) {
	now := testNow()
	ca := newTestCA(t)
	tests := []struct {
		name     string
		lifetime time.Duration
		at       time.Time
		want     bool
	}{
		{name: "fresh", lifetime: DefaultClientCertLifetime, at: now, want: false},
		{name: "31 days left", lifetime: DefaultClientCertLifetime, at: now.Add(DefaultClientCertLifetime - 31*24*time.Hour), want: false},
		{name: "29 days left", lifetime: DefaultClientCertLifetime, at: now.Add(DefaultClientCertLifetime - 29*24*time.Hour), want: true},
		{name: "expired", lifetime: DefaultClientCertLifetime, at: now.Add(DefaultClientCertLifetime + time.Hour), want: true},
		{name: "issued shorter than RenewBefore", lifetime: 7 * 24 * time.Hour, at: now, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ca.Issue(ClientCertRequest{CommonName: "alb", Lifetime: tt.lifetime}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := NeedsRenewal(kp.Leaf(), tt.at); got != tt.want {
				t.Errorf("NeedsRenewal = %v, want %v", got, tt.want)
			}
		})
	}
	if !NeedsRenewal(nil, now) {
		t.Errorf("NeedsRenewal(nil) = false; a missing certificate must be issued")
	}
}

// tlsCertificate turns a KeyPair into what crypto/tls presents.
func tlsCertificate(kp *KeyPair) tls.Certificate {
	c := tls.Certificate{PrivateKey: kp.Key, Leaf: kp.Leaf()}
	for _, x := range kp.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// pool makes a CertPool of certs.
func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// mutualTLS runs one handshake over loopback TCP between a server that, like
// the Istio gateway in MUTUAL mode, requires a client certificate chaining to
// clientCAs, and a client (the ALB) presenting client. It returns both sides'
// errors.
func mutualTLS(t *testing.T, server *KeyPair, serverRoot *x509.Certificate, clientCAs []*x509.Certificate, client *KeyPair) (serverErr, clientErr error) {
	t.Helper()
	now := testNow()
	clock := func() time.Time { return now }
	serverConf := &tls.Config{
		Certificates:           []tls.Certificate{tlsCertificate(server)},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              pool(clientCAs...),
		Time:                   clock,
		MinVersion:             tls.VersionTLS12,
		SessionTicketsDisabled: true,
	}
	clientConf := &tls.Config{
		Certificates: []tls.Certificate{tlsCertificate(client)},
		RootCAs:      pool(serverRoot),
		ServerName:   testGatewayHost,
		Time:         clock,
		MinVersion:   tls.VersionTLS12,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback listener: %v", err)
	}
	defer ln.Close()
	deadline := time.Now().Add(20 * time.Second)
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(deadline)
		srv := tls.Server(conn, serverConf)
		err = srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte("ok"))
			// Wait for the client to hang up so the reply is not lost.
			_, _ = io.Copy(io.Discard, srv)
		}
		done <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing the loopback listener: %v", err)
	}
	_ = conn.SetDeadline(deadline)
	cli := tls.Client(conn, clientConf)
	clientErr = cli.Handshake()
	if clientErr == nil {
		// With TLS 1.3 the server judges the client certificate after
		// the client's handshake returns; reading surfaces its verdict.
		buf := make([]byte, 2)
		_, clientErr = io.ReadFull(cli, buf)
	}
	cli.Close()
	return <-done, clientErr
}

func TestMutualTLSHandshake(t *testing.T) {
	gateway := newTestPKI(t, "GW", serverOnly())       // the gateway's public server certificate
	le := newTestPKI(t, "ALB2026", serverOnly())       // a current Let's Encrypt-like ALB certificate
	old := newTestPKI(t, "ALB2025", serverAndClient()) // one from before 2026-02-11
	ca := newTestCA(t)
	albClient, err := ca.Issue(ClientCertRequest{CommonName: "alb.example.test"}, testNow())
	if err != nil {
		t.Fatal(err)
	}
	// The gateway trusts all three issuers, so only usage can fail.
	clientCAs := []*x509.Certificate{ca.Cert, le.root.cert, old.root.cert}
	tests := []struct {
		name          string
		client        *KeyPair
		wantServerErr string // "" means success
	}{
		{name: "client certificate from the private CA", client: albClient},
		{name: "serverAuth-only ALB certificate", client: le.keyPair(), wantServerErr: "incompatible key usage"},
		{name: "serverAuth+clientAuth ALB certificate", client: old.keyPair()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverErr, clientErr := mutualTLS(t, gateway.keyPair(), gateway.root.cert, clientCAs, tt.client)
			if tt.wantServerErr == "" {
				if serverErr != nil || clientErr != nil {
					t.Fatalf("handshake failed: server: %v; client: %v", serverErr, clientErr)
				}
				return
			}
			t.Logf("server: %v; client: %v", serverErr, clientErr)
			if serverErr == nil || !strings.Contains(serverErr.Error(), tt.wantServerErr) {
				t.Errorf("server error = %v, want one containing %q", serverErr, tt.wantServerErr)
			}
			if clientErr == nil {
				t.Errorf("client saw no error although the server refused its certificate")
			}
			// VerifyChain predicts the refusal.
			var ue *UsageError
			if _, err := VerifyChain(tt.client.Chain, clientCAs, x509.ExtKeyUsageClientAuth, "", testNow()); !errors.As(err, &ue) {
				t.Errorf("VerifyChain did not predict the refusal: %v", err)
			}
		})
	}
}
