package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
)

// healthy is a chain whose ALB holds the identity `secrets` writes, and a
// gateway on a loopback port that trusts it: the address to reach it at.
func healthy(t *testing.T) (*check.Input, string) {
	t.Helper()
	k := newPKI(t)
	addr := gatewayServer{clientCAs: []*x509.Certificate{k.privateCA.Cert}}.start(t, k)
	return newInput(chain.FlavorNginx, goodALB(t, k)), addr
}

// noForward is a PortForwarder for runs that must not port-forward.
func noForward(t *testing.T) PortForwarder {
	return func(context.Context, string, string, int) (string, func(), error) {
		t.Error("the probe port-forwarded, which it was not asked to")
		return "", nil, errors.New("no port-forward here")
	}
}

// run probes in with o within 10 seconds and logs the findings.
func run(t *testing.T, in *check.Input, o Options, forward PortForwarder) []check.Finding {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := Run(ctx, in, o, forward)
	for _, f := range fs {
		t.Logf("%s %s %s: %s (fix: %s)", f.Level, f.Code, f.Object, f.Message, f.Fix)
	}
	return fs
}

// wantHealthy expects the two findings of a probe that got through, on
// object, reached as via says.
func wantHealthy(t *testing.T, fs []check.Finding, object, via string) {
	t.Helper()
	if got := codes(fs); !slices.Equal(got, []check.Code{check.ProbeHandshakeOK, check.ProbeHTTPOK}) {
		t.Fatalf("got %v, want a completed handshake and an answer: %+v", got, fs)
	}
	if fs[0].Object != object || !strings.Contains(fs[0].Message, "("+via+")") {
		t.Errorf("the handshake finding is on %q, reached %q; want %q, %q", fs[0].Object, fs[0].Message, object, via)
	}
}

// TestRunRoutes: each way of reaching the gateway ends in the ALB's real
// handshake with it: --probe-address, a port-forward to the first ready
// gateway pod on the HTTPS target port (closed afterwards), and the
// gateway Service's LoadBalancer address on --gateway-service-port.
func TestRunRoutes(t *testing.T) {
	t.Run("--probe-address", func(t *testing.T) {
		in, addr := healthy(t)
		// The address wins over --port-forward.
		fs := run(t, in, Options{Address: addr, PortForward: true, Timeout: 10 * time.Second}, noForward(t))
		wantHealthy(t, fs, gatewaySvc, "--probe-address")
	})
	t.Run("--port-forward", func(t *testing.T) {
		in, addr := healthy(t)
		var forwarded string
		stopped := false
		forward := func(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("the port-forward is not bounded by --probe-timeout")
			}
			forwarded = namespace + "/" + pod + ":" + strconv.Itoa(port)
			return addr, func() { stopped = true }, nil
		}
		fs := run(t, in, Options{PortForward: true, Timeout: 10 * time.Second}, forward)
		if want := istioNS + "/" + gatewayPod + ":8443"; forwarded != want {
			t.Errorf("port-forwarded to %q, want %q", forwarded, want)
		}
		if !stopped {
			t.Error("the port-forward was left open")
		}
		wantHealthy(t, fs, "Pod istio-system/"+gatewayPod, "port-forward to pod "+gatewayPod+" port 8443")
	})
	t.Run("LoadBalancer address", func(t *testing.T) {
		in, addr := healthy(t)
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(port)
		in.Params.GatewayServicePort = int32(n)
		in.Snapshot.GatewayService.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: host}}
		fs := run(t, in, Options{Timeout: 10 * time.Second}, noForward(t))
		wantHealthy(t, fs, gatewaySvc, "the gateway Service's LoadBalancer address")
	})
}

// TestRunNotRun: a probe that cannot start says why in one ALB0810
// finding, on the object in the way, with the way around it.
func TestRunNotRun(t *testing.T) {
	const fix = "pass --probe-address host:port, or --port-forward to reach a gateway pod through the API server"
	for _, c := range []struct {
		name    string
		edit    func(in *check.Input)
		o       Options
		forward func(t *testing.T) PortForwarder
		object  string
		mention string
		fix     string
	}{
		{name: "no client identity", o: Options{Address: "127.0.0.1:1"}, forward: noForward,
			edit:   func(in *check.Input) { in.Snapshot.ClientSecret = nil },
			object: "Secret istio-system/alb-certs", mention: "which does not exist",
			fix: "fix the client secret first (see the other findings), usually by running kubectl albistio secrets"},
		{name: "no LoadBalancer address", forward: noForward,
			edit:   func(in *check.Input) { in.Snapshot.GatewayService.Status.LoadBalancer.Ingress = nil },
			object: gatewaySvc, mention: "has no LoadBalancer address yet", fix: fix},
		{name: "no ready gateway pod to port-forward to", o: Options{PortForward: true}, forward: noForward,
			edit:   func(in *check.Input) { in.Snapshot.GatewayPods = nil },
			object: gatewaySvc, mention: "no ready gateway pod", fix: fix},
		{name: "the port-forward fails", o: Options{PortForward: true},
			forward: func(*testing.T) PortForwarder {
				return func(context.Context, string, string, int) (string, func(), error) {
					return "", nil, errors.New(`pods "` + gatewayPod + `" is forbidden: cannot create resource "pods/portforward"`)
				}
			},
			object: "Pod istio-system/" + gatewayPod, mention: "pods/portforward", fix: fix},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newInput(chain.FlavorNginx, goodALB(t, newPKI(t)))
			if c.edit != nil {
				c.edit(in)
			}
			fs := run(t, in, c.o, c.forward(t))
			if len(fs) != 1 || fs[0].Code != check.ProbeNotRun || fs[0].Level != check.LevelError {
				t.Fatalf("got %+v, want one %s error", fs, check.ProbeNotRun)
			}
			if f := fs[0]; f.Object != c.object || !strings.Contains(f.Message, c.mention) || f.Fix != c.fix {
				t.Errorf("got %q: %q (fix %q); want %q mentioning %q (fix %q)", f.Object, f.Message, f.Fix, c.object, c.mention, c.fix)
			}
		})
	}
}

// TestRunTimeout: --probe-timeout bounds a gateway that accepts the
// connection and never answers, and the finding says to raise it.
func TestRunTimeout(t *testing.T) {
	in := newInput(chain.FlavorNginx, goodALB(t, newPKI(t)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the ClientHello and whatever follows, answer nothing,
			// until the probe gives up and closes.
			go func() { _, _ = io.Copy(io.Discard, conn); _ = conn.Close() }()
		}
	}()
	start := time.Now()
	fs := run(t, in, Options{Address: ln.Addr().String(), Timeout: 200 * time.Millisecond}, noForward(t))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the probe took %s with a 200ms timeout", took)
	}
	if len(fs) != 1 || fs[0].Code != check.ProbeHandshakeFailed || !strings.Contains(fs[0].Fix, "raise --probe-timeout") {
		t.Fatalf("got %+v, want one %s whose fix raises --probe-timeout", fs, check.ProbeHandshakeFailed)
	}
}
