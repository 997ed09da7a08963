package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
)

type probeCase struct {
	name string
	// alb is what the client secret holds; nil means goodALB.
	alb func(t *testing.T, k *pki) alb
	// flavor is the ALB's; "" means nginx.
	flavor chain.Flavor
	// server configures the gateway; nil means no server listens.
	server func(k *pki) *gatewayServer
	// material adjusts what the probe presents and asks.
	material func(m *Material)
	want     []check.Code
	// mention is a phrase the first finding's message must contain.
	mention string
}

// probeCases is the probe's test table; TestEveryProbeCodeIsTested reads
// its codes.
func probeCases() []probeCase {
	// trusting is a gateway whose -cacert holds the private CA, as
	// `secrets` writes it.
	trusting := func(k *pki) *gatewayServer {
		return &gatewayServer{clientCAs: []*x509.Certificate{k.privateCA.Cert}}
	}
	// walkthrough is the ALB of IBM's walkthrough today: it presents its own
	// IKS certificate (serverAuth only) and the gateway trusts its root.
	walkthrough := func(_ *testing.T, k *pki) alb {
		return alb{chain: k.albLE.ChainPEM, key: k.albLE.KeyPEM, trust: k.le.Root}
	}
	trustsLE := func(k *pki) *gatewayServer { return &gatewayServer{clientCAs: []*x509.Certificate{k.le.Root}} }
	return []probeCase{
		{name: "good identity", server: trusting,
			want: []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPOK}, mention: "accepted the ALB's client certificate"},
		{name: "good identity, TLS 1.2",
			server: func(k *pki) *gatewayServer {
				return &gatewayServer{clientCAs: []*x509.Certificate{k.privateCA.Cert}, maxVersion: tls.VersionTLS12}
			},
			want: []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPOK}, mention: "TLS 1.2"},
		{name: "good identity, classic ALB's key names", flavor: chain.FlavorClassic, server: trusting,
			want: []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPOK}, mention: "accepted"},
		{name: "ALB certificate without client-auth usage", alb: walkthrough, server: trustsLE,
			want: []check.Code{check.ProbeClientNoAuthEKU}, mention: "does not allow clientAuth"},
		{name: "ALB certificate without client-auth usage, TLS 1.2", alb: walkthrough,
			server: func(k *pki) *gatewayServer {
				return &gatewayServer{clientCAs: []*x509.Certificate{k.le.Root}, maxVersion: tls.VersionTLS12}
			},
			want: []check.Code{check.ProbeClientNoAuthEKU}, mention: "bad certificate"},
		{name: "client certificate from a CA the gateway does not trust",
			server: func(k *pki) *gatewayServer { return &gatewayServer{clientCAs: []*x509.Certificate{k.other.Root}} },
			want:   []check.Code{check.ProbeClientRejected}, mention: "refused the ALB's client certificate"},
		{name: "client certificate from a CA the gateway does not trust, TLS 1.2",
			server: func(k *pki) *gatewayServer {
				return &gatewayServer{clientCAs: []*x509.Certificate{k.other.Root}, maxVersion: tls.VersionTLS12}
			},
			want: []check.Code{check.ProbeClientRejected}, mention: "does not chain to the CA in the gateway's -cacert"},
		{name: "wrong SNI", server: trusting,
			material: func(m *Material) { m.ServerName = "httpbin." + albDomain },
			want:     []check.Code{check.ProbeHandshakeFailed}, mention: "SNI"},
		{name: "gateway certificate not trusted by the ALB",
			alb: func(t *testing.T, k *pki) alb {
				a := goodALB(t, k)
				a.trust = k.other.Root
				return a
			},
			server: trusting, want: []check.Code{check.ProbeServerUntrusted}, mention: "does not verify against the ALB's ca.crt"},
		{name: "nothing listens",
			want: []check.Code{check.ProbeConnectFailed}, mention: "cannot connect"},
		{name: "gateway answers without the service", server: trusting,
			material: func(m *Material) { m.Path = "/gateway-ok" },
			want:     []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPOK}, mention: "accepted"},
		{name: "no route", server: trusting,
			material: func(m *Material) { m.Path = "/no-route" },
			want:     []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPClientError}, mention: "accepted"},
		{name: "no upstream", server: trusting,
			material: func(m *Material) { m.Path = "/no-upstream" },
			want:     []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPServerError}, mention: "accepted"},
	}
}

func TestHandshake(t *testing.T) {
	for _, pc := range probeCases() {
		t.Run(pc.name, func(t *testing.T) {
			k := newPKI(t)
			a := goodALB(t, k)
			if pc.alb != nil {
				a = pc.alb(t, k)
			}
			f := pc.flavor
			if f == "" {
				f = chain.FlavorNginx
			}
			m, nf := NewMaterial(newInput(f, a))
			if nf != nil {
				t.Fatalf("no probe material: %s", nf.Message)
			}
			if pc.material != nil {
				pc.material(m)
			}
			addr := "127.0.0.1:1" // nothing listens on port 1 of the loopback
			if pc.server != nil {
				addr = pc.server(k).start(t, k)
			}
			fs := handshake(t, addr, m)
			if got := codes(fs); !slices.Equal(got, pc.want) {
				t.Fatalf("got %v, want %v: %+v", got, pc.want, fs)
			}
			if !strings.Contains(fs[0].Message, pc.mention) {
				t.Errorf("the finding does not mention %q: %s", pc.mention, fs[0].Message)
			}
		})
	}
}

// handshake probes addr with m as the gateway Service, within 10 seconds.
func handshake(t *testing.T, addr string, m *Material) []check.Finding {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := Handshake(ctx, Target{Address: addr, Object: gatewaySvc, Via: "test"}, m)
	for _, f := range fs {
		t.Logf("%s %s %s: %s", f.Level, f.Code, f.Object, f.Message)
	}
	return fs
}

func codes(fs []check.Finding) []check.Code {
	var cs []check.Code
	for _, f := range fs {
		cs = append(cs, f.Code)
	}
	return cs
}

// TestHandshakeClosedWithoutAlert: Envoy closes the connection without an
// alert when no filter chain matches the SNI; the probe says so.
func TestHandshakeClosedWithoutAlert(t *testing.T) {
	k := newPKI(t)
	m, _ := NewMaterial(newInput(chain.FlavorNginx, goodALB(t, k)))
	fs := handshake(t, closingServer(t), m)
	if len(fs) != 1 || fs[0].Code != check.ProbeHandshakeFailed || !strings.Contains(fs[0].Message, "without a TLS alert") {
		t.Fatalf("got %+v, want one %s about a connection closed without an alert", fs, check.ProbeHandshakeFailed)
	}
}

// TestNewMaterial: the probe presents the client secret's chain and key
// under the flavor's key names, trusts its CA, sends the gateway domain
// (the hop's own name in cert-manager mode) as SNI and asks for the first
// path; without a usable client secret there is nothing to probe with, and
// the ALB0810 finding says why, on the client secret.
func TestNewMaterial(t *testing.T) {
	k := newPKI(t)
	in := newInput(chain.FlavorNginx, goodALB(t, k))
	in.Params.Paths = []string{"/status", "/headers"}
	m, nf := NewMaterial(in)
	if nf != nil {
		t.Fatalf("no probe material: %+v", nf)
	}
	if m.ServerName != gwDomain || m.Host != "httpbin."+albDomain || m.Path != "/status" ||
		len(m.Roots) != 1 || !m.Roots[0].Equal(k.le.Root) || len(m.ClientChain) != 2 || !m.ClientChain[0].Equal(k.client.Chain[0]) {
		t.Errorf("material: SNI %q, Host %q, path %q, %d roots, %d client certificates", m.ServerName, m.Host, m.Path, len(m.Roots), len(m.ClientChain))
	}
	in.Snapshot.CertManager = true
	if m, nf := NewMaterial(in); nf != nil || m.ServerName != "istio-ingressgateway.istio-system.svc" {
		t.Errorf("in cert-manager mode the probe must send the hop's server name as SNI, not %q", sniOf(m))
	}

	for _, c := range []struct {
		name    string
		edit    func(in *check.Input)
		mention string
	}{
		{"no client secret", func(in *check.Input) { in.Snapshot.ClientSecret = nil }, "which does not exist"},
		{"key of another certificate", func(in *check.Input) { in.Snapshot.ClientSecret.Data["tls.key"] = k.albLE.KeyPEM }, "tls.crt and tls.key do not make a key pair"},
		{"no CA to verify the gateway with", func(in *check.Input) { delete(in.Snapshot.ClientSecret.Data, "ca.crt") }, "no CA certificates"},
		{"no host", func(in *check.Input) { in.Params.Host = "" }, "needs --host"},
		{"no path", func(in *check.Input) { in.Params.Paths = nil }, "a --path"},
		{"no gateway domain", func(in *check.Input) { in.Params.GatewayDomain = "" }, "--gateway-domain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newInput(chain.FlavorNginx, goodALB(t, k))
			c.edit(in)
			m, nf := NewMaterial(in)
			if m != nil || nf == nil || nf.Code != check.ProbeNotRun || nf.Object != "Secret istio-system/alb-certs" || !strings.Contains(nf.Message, c.mention) {
				t.Fatalf("got material for SNI %q, finding %+v; want only %s on the client secret mentioning %q", sniOf(m), nf, check.ProbeNotRun, c.mention)
			}
		})
	}
}

// sniOf is m's server name for messages (m holds the client's key).
func sniOf(m *Material) string {
	if m == nil {
		return "no material"
	}
	return m.ServerName
}

// TestEveryProbeCodeIsTested: the probe's tests expect every 08xx code of
// check's catalog, as check's grid does for the rules' codes.
func TestEveryProbeCodeIsTested(t *testing.T) {
	tested := map[check.Code]bool{
		// TestNewMaterial and the target tests expect it: no probe case
		// can, as none gets as far as connecting without material.
		check.ProbeNotRun: true,
	}
	for _, pc := range probeCases() {
		for _, c := range pc.want {
			tested[c] = true
		}
	}
	n := 0
	for _, c := range check.Catalog() {
		if !strings.HasPrefix(string(c.Code), "ALB08") {
			continue
		}
		n++
		if !tested[c.Code] {
			t.Errorf("no probe test expects %s (%s)", c.Code, c.Description)
		}
	}
	if n == 0 {
		t.Fatal("check's catalog lists no 08xx code")
	}
}
