package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/internal/testpki"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

const (
	albDomain = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	gwDomain  = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
)

type world struct {
	le, leClient *testpki.Hierarchy
	alb, gw      *testpki.Leaf
}

// newWorld issues IKS's two certificates from a serverAuth-only hierarchy
// (today's Let's Encrypt) or from one that still allows client auth.
func newWorld(t *testing.T, albClientAuth bool) *world {
	w := &world{le: testpki.New(t, "LE-like", false), leClient: testpki.New(t, "LE-2025-like", true)}
	issuer := w.le
	if albClientAuth {
		issuer = w.leClient
	}
	w.alb = issuer.IssueNow(t, "*."+albDomain, albDomain)
	w.gw = w.le.IssueNow(t, gwDomain, "*."+gwDomain)
	return w
}

func params(t *testing.T, mode chain.IdentityMode) *chain.Params {
	f := chain.NewFlags()
	f.ALBDomain, f.ALBSecret, f.GatewayDomain, f.GatewaySecret = albDomain, "alb", gwDomain, "gw"
	f.Flavor, f.Identity = "nginx", string(mode)
	p, err := f.Resolve("httptools", func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tlsSecret(ns, name string, certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

func (w *world) inputs(t *testing.T, mode chain.IdentityMode) Inputs {
	return Inputs{
		Params:        params(t, mode),
		ALBSecret:     tlsSecret("default", "alb", w.alb.ChainPEM, w.alb.KeyPEM),
		GatewaySecret: tlsSecret("istio-system", "gw", w.gw.ChainPEM, w.gw.KeyPEM),
		ExtraRoots:    []*x509.Certificate{w.le.Root, w.leClient.Root},
		Now:           time.Now(),
	}
}

func TestAutoPicksPrivateCAForTodaysCertificates(t *testing.T) {
	w := newWorld(t, false)
	d, err := Decide(w.inputs(t, chain.IdentityAuto))
	if err != nil {
		t.Fatal(err)
	}
	if d.Mode != chain.IdentityPrivateCA {
		t.Fatalf("mode = %s, want private-ca for a serverAuth-only ALB certificate", d.Mode)
	}
	if !strings.Contains(d.Notes[0], "client") {
		t.Errorf("the first note should say why: %q", d.Notes[0])
	}
	if d.GatewayVerifyDepth != 2 {
		t.Errorf("verify depth = %d, want 2 (intermediate + root)", d.GatewayVerifyDepth)
	}
	// The issued identity must pass the handshake a MUTUAL gateway makes.
	handshake(t, d.Material.Identity, nil)
}

func TestAutoPicksALBCertWhenItAllowsClientAuth(t *testing.T) {
	w := newWorld(t, true)
	d, err := Decide(w.inputs(t, chain.IdentityAuto))
	if err != nil {
		t.Fatal(err)
	}
	if d.Mode != chain.IdentityALBCert || d.Material.CA != nil {
		t.Fatalf("mode = %s (CA %v), want alb-cert and no private CA", d.Mode, d.Material.CA != nil)
	}
	if string(d.Material.Identity.CertChainPEM) != string(w.alb.ChainPEM) {
		t.Error("alb-cert mode must present the ALB's chain as is")
	}
	handshake(t, d.Material.Identity, nil)
}

func TestALBCertModeRefusesServerAuthOnlyChain(t *testing.T) {
	w := newWorld(t, false)
	_, err := Decide(w.inputs(t, chain.IdentityALBCert))
	var ue *certs.UsageError
	var ie *Error
	if !errors.As(err, &ue) || !errors.As(err, &ie) || ie.Secret != "default/alb" {
		t.Fatalf("want a UsageError about default/alb, got %v", err)
	}
	if !strings.Contains(err.Error(), "private-ca") {
		t.Errorf("the refusal should point at --client-identity=private-ca: %v", err)
	}
	// And the walkthrough's way does fail the handshake Envoy makes.
	id := &render.ClientIdentity{CertChainPEM: w.alb.ChainPEM, KeyPEM: w.alb.KeyPEM, ClientCAPEM: testpki.PEM(w.le.Root), GatewayTrustPEM: testpki.PEM(w.le.Root)}
	handshake(t, id, errIncompatibleUsage)
}

func TestReRunReusesCAAndClientCert(t *testing.T) {
	w := newWorld(t, false)
	in := w.inputs(t, chain.IdentityAuto)
	first, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	objs := render.Secrets(in.Params, first.Material)
	in.CASecret = asSecret(t, objs, in.Params.CASecret)
	in.ClientSecret = asSecret(t, objs, in.Params.ClientSecret)
	second, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(second.Material.Identity.KeyPEM) != string(first.Material.Identity.KeyPEM) ||
		string(second.Material.CA.CertPEM) != string(first.Material.CA.CertPEM) {
		t.Fatal("a re-run with nothing changed must reuse the CA and the client certificate")
	}
	// Close to expiry, the client certificate is re-issued from the same CA.
	in.Now = time.Now().Add(80 * 24 * time.Hour)
	in.GatewaySecret = tlsSecret("istio-system", "gw", w.gw.ChainPEM, w.gw.KeyPEM)
	w2 := w.le.Issue(t, time.Now(), time.Now().Add(200*24*time.Hour), "*."+albDomain)
	in.ALBSecret = tlsSecret("default", "alb", w2.ChainPEM, w2.KeyPEM)
	gw2 := w.le.Issue(t, time.Now(), time.Now().Add(200*24*time.Hour), gwDomain)
	in.GatewaySecret = tlsSecret("istio-system", "gw", gw2.ChainPEM, gw2.KeyPEM)
	third, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(third.Material.Identity.KeyPEM) == string(first.Material.Identity.KeyPEM) {
		t.Error("a client certificate within RenewBefore of expiry must be re-issued")
	}
	if string(third.Material.CA.CertPEM) != string(first.Material.CA.CertPEM) {
		t.Error("renewing the client certificate must keep the CA, so -cacert stays valid")
	}
}

func TestALBRotationUpdatesCopies(t *testing.T) {
	w := newWorld(t, true)
	in := w.inputs(t, chain.IdentityAuto)
	first, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	renewed := w.leClient.IssueNow(t, "*."+albDomain, albDomain)
	in.ALBSecret = tlsSecret("default", "alb", renewed.ChainPEM, renewed.KeyPEM)
	second, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Material.ALBTLSHash == second.Material.ALBTLSHash || first.Material.Identity.SourceHash == second.Material.Identity.SourceHash {
		t.Error("after IKS renews the ALB certificate, the copies' source hashes must change")
	}
	if string(second.Material.ALBTLS.CertPEM) != string(renewed.ChainPEM) {
		t.Error("the ALB TLS copy must carry the renewed certificate")
	}
}

func TestSourceFailures(t *testing.T) {
	w := newWorld(t, false)
	other := testpki.New(t, "Other", false)
	wrongSAN := w.le.IssueNow(t, "elsewhere.example.com")
	expired := w.le.Issue(t, time.Now().Add(-100*24*time.Hour), time.Now().Add(-24*time.Hour), gwDomain)
	foreign := other.IssueNow(t, gwDomain)
	cases := []struct {
		name   string
		mutate func(*Inputs)
		want   string
	}{
		{"malformed ALB PEM", func(in *Inputs) { in.ALBSecret.Data["tls.crt"] = []byte("not a pem") }, "default/alb"},
		{"missing tls.key", func(in *Inputs) { delete(in.ALBSecret.Data, "tls.key") }, "tls.key"},
		{"key mismatch", func(in *Inputs) { in.ALBSecret.Data["tls.key"] = w.gw.KeyPEM }, "default/alb"},
		{"expired gateway cert", func(in *Inputs) {
			in.GatewaySecret = tlsSecret("istio-system", "gw", expired.ChainPEM, expired.KeyPEM)
		}, "expired"},
		{"ALB SAN does not cover host", func(in *Inputs) {
			in.ALBSecret = tlsSecret("default", "alb", wrongSAN.ChainPEM, wrongSAN.KeyPEM)
		}, "--host"},
		{"gateway SAN does not cover domain", func(in *Inputs) {
			in.GatewaySecret = tlsSecret("istio-system", "gw", wrongSAN.ChainPEM, wrongSAN.KeyPEM)
		}, "--gateway-domain"},
		{"gateway root unknown", func(in *Inputs) {
			in.GatewaySecret = tlsSecret("istio-system", "gw", foreign.ChainPEM, foreign.KeyPEM)
		}, "--ca-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := w.inputs(t, chain.IdentityAuto)
			tc.mutate(&in)
			_, err := Decide(in)
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("want an identity.Error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func asSecret(t *testing.T, objs render.Objects, name string) *corev1.Secret {
	t.Helper()
	for _, o := range objs {
		if o.GetName() == name {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.GetNamespace(), Annotations: o.GetAnnotations()}, Data: map[string][]byte{}}
			data, _, _ := unstructuredData(o.Object)
			for k, v := range data {
				s.Data[k] = v
			}
			return s
		}
	}
	t.Fatalf("no secret %s rendered", name)
	return nil
}

var errIncompatibleUsage = errors.New("incompatible key usage")

// handshake runs a real TLS handshake between a client presenting id and a
// server requiring client certificates from id's CA, as a MUTUAL gateway
// does. want nil means it must succeed; else the error must mention want.
func handshake(t *testing.T, id *render.ClientIdentity, want error) {
	t.Helper()
	srvLeaf := testpki.New(t, "srv", false).IssueNow(t, gwDomain)
	srvCert, err := tls.X509KeyPair(srvLeaf.ChainPEM, srvLeaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(id.ClientCAPEM) {
		t.Fatal("client CA PEM holds no certificate")
	}
	cliCert, err := tls.X509KeyPair(id.CertChainPEM, id.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// A loopback listener, not net.Pipe: with TLS 1.3 the server rejects the
	// client certificate after the client's handshake returned, and on an
	// unbuffered pipe that alert would block forever.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
		srvErr <- s.Handshake()
		s.Close()
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	cli := tls.Client(conn, &tls.Config{Certificates: []tls.Certificate{cliCert}, InsecureSkipVerify: true})
	cli.Handshake()
	cli.Read(make([]byte, 1)) // lets a TLS 1.3 rejection alert arrive
	cli.Close()
	err = <-srvErr
	switch {
	case want == nil && err != nil:
		t.Fatalf("the gateway refused the client certificate: %v", err)
	case want != nil && (err == nil || !strings.Contains(err.Error(), want.Error())):
		t.Fatalf("the gateway should refuse with %q, got %v", want, err)
	}
}
