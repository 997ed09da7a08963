package e2e

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// TestTraefikTwoAppsShareOneHop: two apps set up with --alb-flavor traefik
// share the hop's ServersTransport and Service; a real Traefik serves both
// hosts over mutual TLS to the one gateway; after cleanup of the second app,
// Traefik drops its router and the first app still gets its teapot through
// the hop's objects as they are in the cluster then.
func TestTraefikTwoAppsShareOneHop(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)

	w := newWorld(t, false, fixtures.TraefikClass())
	other := w.addApp(t, "other")
	traefik := []string{"--alb-flavor", "traefik"}
	mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags(traefik...)...)...))
	r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags(append(traefik, other.flags()...)...)...)...))
	if strings.Contains(r.stdout, "serverstransport") || strings.Contains(r.stdout, "service/istio-ingressgateway-albistio") {
		t.Errorf("the second app's setup rewrote the hop's Traefik objects:\n%s", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, "istio-ingressgateway-albistio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := svc.Spec.Ports[0]
	gw := w.startGateway(t)
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))

	tr := startTraefik(t, bin, []string{ns})
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	// until retries a request through Traefik for up to 30 s (it applies
	// configuration asynchronously) and returns the last answer.
	until := func(host string, want int) (int, string) {
		var code int
		var body string
		var err error
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, err = tr.get(host, "/status/418", roots)
			if (err == nil && code == want) || time.Now().After(deadline) {
				return code, body
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, host := range []string{w.host, other.host} {
		tr.waitForRouter(t, host)
		if code, body := until(host, http.StatusTeapot); code != http.StatusTeapot || !strings.Contains(body, "teapot") {
			t.Fatalf("%s: want 418 through Traefik → gateway → app, got %d %q\ngateway handshake errors: %q\nTraefik errors:\n%s",
				host, code, body, gw.HandshakeErrors(), tr.logProblems())
		}
	}
	seen := map[string]bool{}
	for _, req := range gw.Requests() {
		seen[req.Host] = true
	}
	if !seen[w.host] || !seen[other.host] {
		t.Errorf("the one gateway should have served both hosts, saw %v", seen)
	}

	mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags(append(traefik, other.flags()...)...)...)...))
	// The gateway again from what the cluster holds now: the hop's secrets
	// and its Gateway, which no longer lists the second host.
	gw2 := w.startGateway(t)
	pn.Retarget(gw2.Addr())
	gw.Close()
	if code, body := until(w.host, http.StatusTeapot); code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("after the other app's cleanup, %s: want 418, got %d %q\ngateway handshake errors: %q\nTraefik errors:\n%s",
			w.host, code, body, gw2.HandshakeErrors(), tr.logProblems())
	}
	if code, _ := until(other.host, http.StatusNotFound); code != http.StatusNotFound {
		t.Errorf("after its cleanup, %s should find no router in Traefik (404), got %d", other.host, code)
	}
}
