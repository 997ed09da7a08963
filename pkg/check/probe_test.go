package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// gatewayServer is a stand-in for the Istio ingress gateway: a TLS server
// on a loopback port that presents the gateway's certificate and requires a
// client certificate from clientCAs, as a MUTUAL Gateway does. (A loopback
// listener, not net.Pipe: a TLS 1.3 client-certificate rejection deadlocks
// on a synchronous pipe.)
type gatewayServer struct {
	clientCAs []*x509.Certificate
	// sni, when set, is the only server name the gateway has a filter chain
	// for; others are refused during the handshake.
	sni string
	// maxVersion caps the TLS version (TLS 1.2 rejects client certificates
	// inside the handshake, TLS 1.3 after it).
	maxVersion uint16
}

func (g gatewayServer) start(t *testing.T) string {
	t.Helper()
	k := testPKI(t)
	cert, err := tls.X509KeyPair(k.pem["gw.chain"], k.pem["gw.key"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range g.clientCAs {
		pool.AddCert(c)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MaxVersion: g.maxVersion}
	if g.sni != "" {
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			if h.ServerName != g.sni {
				return nil, errors.New("no filter chain matches the server name")
			}
			return nil, nil
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-envoy-upstream-service-time", "2")
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("/gateway-ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/no-route", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	mux.HandleFunc("/no-upstream", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// probeInput reads a grid fixture's world, as `check --probe` would.
func probeInput(t *testing.T, fixture string) *Input {
	t.Helper()
	c, ops := loadCase(t, "testdata/grid/"+fixture+".yaml")
	w := newWorld(t, c.World)
	w.apply(t, ops)
	api := newFakeAPI(t, w)
	p := *w.params
	snap, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatal(err)
	}
	return &Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots}
}

// gatewayCAs are the client CAs the world's gateway trusts (its -cacert).
func gatewayCAs(t *testing.T, in *Input) []*x509.Certificate {
	t.Helper()
	cas, _ := in.gatewayClientCAs()
	if len(cas) == 0 {
		t.Fatal("the world's gateway trusts no client CA")
	}
	return cas
}

type probeCase struct {
	name string
	// fixture is the world the ALB's identity is read from.
	fixture string
	// server configures the gateway; nil means no server listens.
	server func(t *testing.T, in *Input) *gatewayServer
	// material adjusts what the probe presents and asks.
	material func(m *ProbeMaterial)
	want     []Code
	// mention is a phrase the first finding's message must contain.
	mention string
}

// probeCases is the probe's test table; the meta-test reads its codes.
func probeCases() []probeCase {
	trusting := func(t *testing.T, in *Input) *gatewayServer {
		return &gatewayServer{clientCAs: gatewayCAs(t, in)}
	}
	return []probeCase{
		{name: "good identity", fixture: "healthy-nginx-private-ca", server: trusting,
			want: []Code{ProbeHandshakeOK, ProbeHTTPOK}, mention: "accepted the ALB's client certificate"},
		{name: "good identity, TLS 1.2", fixture: "healthy-nginx-private-ca",
			server: func(t *testing.T, in *Input) *gatewayServer {
				return &gatewayServer{clientCAs: gatewayCAs(t, in), maxVersion: tls.VersionTLS12}
			},
			want: []Code{ProbeHandshakeOK, ProbeHTTPOK}, mention: "TLS 1.2"},
		{name: "ALB certificate without client-auth usage", fixture: "iks-today-walkthrough", server: trusting,
			want: []Code{ProbeClientNoAuthEKU}, mention: "does not allow clientAuth"},
		{name: "ALB certificate without client-auth usage, TLS 1.2", fixture: "iks-today-walkthrough",
			server: func(t *testing.T, in *Input) *gatewayServer {
				return &gatewayServer{clientCAs: gatewayCAs(t, in), maxVersion: tls.VersionTLS12}
			},
			want: []Code{ProbeClientNoAuthEKU}, mention: "bad certificate"},
		{name: "client certificate from a CA the gateway does not trust", fixture: "healthy-nginx-private-ca",
			server: func(t *testing.T, _ *Input) *gatewayServer {
				return &gatewayServer{clientCAs: []*x509.Certificate{testPKI(t).other.Root}}
			},
			want: []Code{ProbeClientRejected}, mention: "refused the ALB's client certificate"},
		{name: "wrong SNI", fixture: "healthy-nginx-private-ca",
			server: func(t *testing.T, in *Input) *gatewayServer {
				return &gatewayServer{clientCAs: gatewayCAs(t, in), sni: gwDomain}
			},
			material: func(m *ProbeMaterial) { m.ServerName = "httpbin." + albDomain },
			want:     []Code{ProbeHandshakeFailed}, mention: "SNI"},
		{name: "gateway certificate not trusted by the ALB", fixture: "alb-trusts-other-ca", server: trusting,
			want: []Code{ProbeServerUntrusted}, mention: "does not verify against the ALB's ca.crt"},
		{name: "nothing listens", fixture: "healthy-nginx-private-ca",
			want: []Code{ProbeConnectFailed}, mention: "cannot connect"},
		{name: "gateway answers without the service", fixture: "healthy-nginx-private-ca", server: trusting,
			material: func(m *ProbeMaterial) { m.Path = "/gateway-ok" },
			want:     []Code{ProbeHandshakeOK, ProbeHTTPOK}, mention: "accepted"},
		{name: "no route", fixture: "healthy-nginx-private-ca", server: trusting,
			material: func(m *ProbeMaterial) { m.Path = "/no-route" },
			want:     []Code{ProbeHandshakeOK, ProbeHTTPClientError}, mention: "accepted"},
		{name: "no upstream", fixture: "healthy-nginx-private-ca", server: trusting,
			material: func(m *ProbeMaterial) { m.Path = "/no-upstream" },
			want:     []Code{ProbeHandshakeOK, ProbeHTTPServerError}, mention: "accepted"},
	}
}

func TestProbe(t *testing.T) {
	for _, pc := range probeCases() {
		t.Run(pc.name, func(t *testing.T) {
			in := probeInput(t, pc.fixture)
			m, nf := NewProbeMaterial(in)
			if nf != nil {
				t.Fatalf("no probe material: %s", nf.Message)
			}
			if pc.material != nil {
				pc.material(m)
			}
			addr := "127.0.0.1:1" // nothing listens on port 1 of the loopback
			if pc.server != nil {
				addr = pc.server(t, in).start(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			fs := Probe(ctx, ProbeTarget{Address: addr, Object: "Service istio-system/istio-ingressgateway", Via: "test"}, m)
			var got []Code
			for _, f := range fs {
				got = append(got, f.Code)
				t.Log(textLine(f, false))
			}
			if !slices.Equal(got, pc.want) {
				t.Fatalf("got %v, want %v: %+v", got, pc.want, fs)
			}
			if !strings.Contains(fs[0].Message, pc.mention) {
				t.Errorf("the finding does not mention %q: %s", pc.mention, fs[0].Message)
			}
		})
	}
}

// TestProbeClosedWithoutAlert: Envoy closes the connection without an alert
// when no filter chain matches the SNI; the probe says so.
func TestProbeClosedWithoutAlert(t *testing.T) {
	in := probeInput(t, "healthy-nginx-private-ca")
	m, _ := NewProbeMaterial(in)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 512)
		_, _ = conn.Read(buf) // the ClientHello
		conn.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := Probe(ctx, ProbeTarget{Address: ln.Addr().String(), Object: "Service istio-system/istio-ingressgateway", Via: "test"}, m)
	if len(fs) != 1 || fs[0].Code != ProbeHandshakeFailed || !strings.Contains(fs[0].Message, "without a TLS alert") {
		t.Fatalf("got %+v, want one %s about a connection closed without an alert", fs, ProbeHandshakeFailed)
	}
}

// TestProbeNotRun: without a usable client secret or address there is
// nothing to probe with, and the finding says why.
func TestProbeNotRun(t *testing.T) {
	in := probeInput(t, "client-secret-missing")
	if _, f := NewProbeMaterial(in); f == nil || f.Code != ProbeNotRun {
		t.Fatalf("got %+v, want %s for a missing client secret", f, ProbeNotRun)
	}
	in = probeInput(t, "healthy-nginx-private-ca")
	in.Snapshot.GatewayService.Status.LoadBalancer.Ingress = nil
	if _, err := LoadBalancerTarget(in); err == nil {
		t.Fatal("a Service without a LoadBalancer address must not give a target")
	} else if f := NotRun(gatewayServiceRef(in), err); f.Code != ProbeNotRun || !strings.Contains(f.Message, "no LoadBalancer address") {
		t.Fatalf("got %+v", f)
	}
}

func TestProbeTargets(t *testing.T) {
	in := probeInput(t, "healthy-nginx-private-ca")
	lb, err := LoadBalancerTarget(in)
	if err != nil || lb.Address != gatewayIP+":443" {
		t.Fatalf("LoadBalancerTarget = %+v, %v; want %s:443", lb, err, gatewayIP)
	}
	pod, port, err := PortForwardTarget(in)
	if err != nil || pod != "istio-ingressgateway-7d9f8-abcde" || port != 8443 {
		t.Fatalf("PortForwardTarget = %s, %d, %v; want the gateway pod on 8443", pod, port, err)
	}
	in = probeInput(t, "gateway-pods-not-ready")
	if _, _, err := PortForwardTarget(in); err == nil {
		t.Fatal("a port-forward needs a ready gateway pod")
	}
}
