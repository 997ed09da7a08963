package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// TestBothALBsServeTheChain: on a cluster mid-migration, whose
// IngressClasses show both of IKS's ALBs, setup with --alb-flavor=auto
// writes one Ingress per ALB (nginx's with its proxy-ssl annotations,
// Traefik's with its ServersTransport) so that the host is served whichever
// ALB a request reaches: real nginx and a real Traefik each carry a request
// over mutual TLS to the one gateway. check reports each ALB's side on its
// own; cleanup removes both.
func TestBothALBsServeTheChain(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)
	w := newWorld(t, false, fixtures.NginxClass(), fixtures.TraefikClass())
	ns := w.p.IstioNamespace
	nginxIngress, traefikIngress := w.ingressName()+"-nginx", w.ingressName()+"-traefik"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags()...)...))
	for _, ref := range []string{"ingress/" + nginxIngress, "ingress/" + traefikIngress, "serverstransport/istio-ingressgateway-albistio"} {
		if !strings.Contains(r.stdout, ref+" -n "+ns+" created") {
			t.Errorf("setup with both ALBs should create %s:\n%s", ref, r)
		}
	}
	for name, class := range map[string]string{nginxIngress: "public-iks-k8s-nginx", traefikIngress: "public-iks-traefik"} {
		ing, err := env.kube.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != class {
			t.Errorf("Ingress %s should name class %s, has %v", name, class, ing.Spec.IngressClassName)
		}
	}
	if r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags()...)...)); !strings.Contains(r.stderr, "up to date") {
		t.Errorf("a second setup should write nothing:\n%s", r)
	}

	// nginx, as ingress-nginx renders its Ingress.
	gw := w.startGateway(t)
	n := w.startNginx(ctx, t, nginxIngress, gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	pa := &path{nginx: n, gateway: gw, roots: roots}
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)

	// Traefik, reading its Ingress and the hop's transport itself.
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, "istio-ingressgateway-albistio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := svc.Spec.Ports[0]
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))
	tr := startTraefik(t, bin, []string{ns})
	tr.waitForRouter(t, w.host)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err = tr.get(w.host, "/status/418", roots)
		if err == nil && code == http.StatusTeapot || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("want 418 through Traefik → gateway → app, got %d %q (%v)\ngateway handshake errors: %q\nTraefik errors:\n%s", code, body, err, gw.HandshakeErrors(), tr.logProblems())
	}

	r = mustSucceed(t, albistio(t, append([]string{"check"}, w.flags()...)...))
	for _, want := range []string{"ALB nginx (Ingress " + ns + "/" + nginxIngress + ")", "ALB traefik (Ingress " + ns + "/" + traefikIngress + ")"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check should report %q on its own:\n%s", want, r)
		}
	}
	// check -A finds the chain once, as its two ALB sides, each clean.
	r = albistio(t, "check", "-A", "--ca-file", w.caFile, "-o", "json")
	var all fleetCluster
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil {
		t.Fatalf("check -A -o json is not JSON: %v\n%s", err, r)
	}
	sides := map[string]string{}
	for _, ch := range all.Chains {
		if ch.Chain == w.p.AppNamespace+"/httpbin" {
			sides[ch.ALB] = ch.Ingress + " " + ch.Outcome
		}
	}
	if want := map[string]string{"nginx": ns + "/" + nginxIngress + " clean", "traefik": ns + "/" + traefikIngress + " clean"}; !maps.Equal(sides, want) {
		t.Errorf("check -A should find %s as its two ALB sides %v, found %v:\n%s", w.p.AppNamespace+"/httpbin", want, sides, r)
	}
	if all.Summary.Checks != len(all.Chains) || all.Summary.Chains >= len(all.Chains) {
		t.Errorf("check -A should count the chain on two ALBs once: summary %+v for %d results", all.Summary, len(all.Chains))
	}

	// A breakage on one ALB's side is that side's finding, and fails check.
	mergePatch(t, "ingresses", ns, nginxIngress, map[string]any{"metadata": map[string]any{"annotations": map[string]any{"nginx.ingress.kubernetes.io/proxy-ssl-server-name": "off"}}})
	r = albistio(t, append([]string{"check"}, w.flags()...)...)
	nginxSide, traefikSide, _ := strings.Cut(r.stdout, "ALB traefik (Ingress")
	if r.code != 8 || !strings.Contains(nginxSide, "ALB0616") || strings.Contains(traefikSide, "ALB0616") {
		t.Errorf("SNI off on nginx's Ingress should be nginx's finding alone, exit 8:\n%s", r)
	}

	// setup takes the annotation back (the fix check gives names the
	// manager and --force-conflicts), and the chain is whole again.
	mustSucceed(t, albistio(t, append([]string{"setup", "--force-conflicts"}, w.flags()...)...))
	mustSucceed(t, albistio(t, append([]string{"check"}, w.flags()...)...))

	r = mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags()...)...))
	for _, name := range []string{nginxIngress, traefikIngress} {
		if _, err := env.kube.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cleanup should delete Ingress %s, got %v\n%s", name, err, r)
		}
	}
	if _, err := env.kube.CoreV1().Services(ns).Get(ctx, "istio-ingressgateway-albistio", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cleanup of the last chain should delete Traefik's Service, got %v", err)
	}
}
