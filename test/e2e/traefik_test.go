package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// Annotations Traefik's kubernetesingress provider reads on a Service
// (traefik pkg/provider/kubernetes/ingress/annotations.go, ServiceIng).
const (
	traefikServersTransportAnnotation = "traefik.ingress.kubernetes.io/service.serverstransport"
	traefikServersSchemeAnnotation    = "traefik.ingress.kubernetes.io/service.serversscheme"
)

// A real Traefik v3.6 in the ALB's role, configured only by what
// `kubectl albistio … --alb-flavor traefik` wrote (Ingress, Service,
// ServersTransport, secrets), carries a request over mutual TLS to the gateway
// stand-in: SNI = the gateway domain, the private CA's client certificate.
// Then the walkthrough's design (the ALB's serverAuth-only certificate as the
// client certificate) fails at the gateway with the usage error.
func TestTraefikChainCarriesTraffic(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)
	start := time.Now()

	w := newWorld(t, false, fixtures.TraefikClass())
	for _, s := range []string{"secrets", "gateway", "ingress"} {
		mustSucceed(t, w.slice(t, s, "--alb-flavor", "traefik"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace

	// What the plugin wrote, read back: Ingress → Service → ServersTransport.
	ing, err := env.kube.NetworkingV1().Ingresses(ns).Get(ctx, w.ingressName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) == 0 || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service == nil {
		t.Fatalf("the Ingress should have one rule routing to a Service: %+v", ing.Spec)
	}
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, backend.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Ingress's backend Service: %v", err)
	}
	var port *corev1.ServicePort
	for i, p := range svc.Spec.Ports {
		if p.Port == backend.Port.Number || (backend.Port.Name != "" && p.Name == backend.Port.Name) {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil {
		t.Fatalf("Service %s/%s has no port %v", ns, svc.Name, backend.Port)
	}
	transportRef := svc.Annotations[traefikServersTransportAnnotation]
	// The transport belongs to the hop, named like the Service that names it.
	wantRef := ns + "-istio-ingressgateway-albistio@kubernetescrd"
	if transportRef != wantRef {
		t.Errorf("Service %s annotation %s = %q, want %q", svc.Name, traefikServersTransportAnnotation, transportRef, wantRef)
	}
	st, err := env.dyn.Resource(gvrOf("traefik.io", "v1alpha1", "serverstransports")).Namespace(ns).Get(ctx, "istio-ingressgateway-albistio", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the ServersTransport the Service names: %v", err)
	}
	t.Logf("plugin wrote: Ingress %s/%s → Service %s:%d (%s, scheme %q, transport %q) → ServersTransport %s spec %v",
		ns, ing.Name, svc.Name, port.Port, port.Name, svc.Annotations[traefikServersSchemeAnnotation], transportRef, st.GetName(), st.Object["spec"])

	// The gateway stand-in, from the Gateway and secrets in the cluster, given
	// a pod address in a network namespace of the test's own, listening on
	// the Service's target port like the gateway pod would.
	gw := w.startGateway(t)
	targetPort := port.TargetPort.IntValue()
	pn := newPodNet(t, gw.Addr(), targetPort)
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))

	tr := startTraefik(t, bin, []string{ns})
	trStart := time.Now()
	_, router, r, s := tr.waitForRouter(t, w.host)
	t.Logf("Traefik loaded router %s: rule %s, entry points %v, tls %s, service servers %v via transport %q",
		router, r.Rule, r.EntryPoints, r.TLS, s.LoadBalancer.Servers, s.LoadBalancer.ServersTransport)
	if s.LoadBalancer.ServersTransport != transportRef {
		t.Errorf("Traefik's service uses transport %q, want the Service annotation's %q", s.LoadBalancer.ServersTransport, transportRef)
	}

	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	diag := func() string {
		return fmt.Sprintf("gateway handshake errors: %q\nrelay errors: %q\nTraefik access log:\n%s\nTraefik errors and warnings:\n%s\nTraefik log tail:\n%s",
			gw.HandshakeErrors(), pn.RelayErrors(), tr.accessLogTail(10), tr.logProblems(), tr.logTail(30))
	}

	// Traefik watches the API and applies configuration asynchronously: retry
	// until the request comes through, for up to 30 s.
	var code int
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err = tr.get(w.host, "/status/418", roots)
		if (err == nil && code == http.StatusTeapot) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("want 418 and a teapot through Traefik → gateway → app, got %d %q (err %v)\n%s", code, body, err, diag())
	}
	reqs := gw.Requests()
	last := reqs[len(reqs)-1]
	if last.SNI != w.p.GatewayDomain {
		t.Errorf("Traefik should send SNI %s (the ServersTransport's serverName) to the gateway, sent %q", w.p.GatewayDomain, last.SNI)
	}
	if last.Host != w.host {
		t.Errorf("Traefik should pass the Host header %s (the VirtualService matches it), sent %q", w.host, last.Host)
	}
	client := secretLeaf(t, ctx, ns, "alb-certs")
	if last.ClientSubject == "" || last.ClientSubject != client.Subject.String() {
		t.Errorf("the gateway should see alb-certs' client certificate %q, saw %q", client.Subject, last.ClientSubject)
	}
	t.Logf("418 through Traefik %s after it started (%s after the test did): gateway saw SNI %s, Host %s, client %s",
		time.Since(trStart).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond), last.SNI, last.Host, last.ClientSubject)

	// The walkthrough's design on today's certificates: the ALB's own
	// serverAuth-only certificate as Traefik's client certificate, the
	// gateway trusting its root. Traefik reloads the ServersTransport from the
	// secret it watches (a new transport: no pooled connection or session
	// survives), and the gateway refuses the handshake for the missing usage.
	alb := w.iks.ALBCert
	mergePatch(t, "secrets", ns, "alb-certs", map[string]any{"data": map[string][]byte{"tls.crt": alb.ChainPEM, "tls.key": alb.KeyPEM}})
	mergePatch(t, "secrets", ns, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": w.iks.RootPEM}})
	gw2 := w.startGateway(t)
	pn.Retarget(gw2.Addr())
	gw.Close()
	var refusal string
	deadline = time.Now().Add(30 * time.Second)
	for {
		before := len(gw2.HandshakeErrors())
		code, body, err = tr.get(w.host, "/status/418", roots)
		if errs := gw2.HandshakeErrors(); len(errs) > before {
			refusal = strings.Join(errs[before:], "; ")
		}
		if (err == nil && (code == http.StatusBadGateway || code == http.StatusInternalServerError) && strings.Contains(refusal, "incompatible key usage")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || (code != http.StatusBadGateway && code != http.StatusInternalServerError) {
		t.Fatalf("with the ALB's serverAuth-only certificate as client certificate, want 502 (or 500) from Traefik, got %d %q (err %v)\ngateway handshake errors: %q\nTraefik access log:\n%s\nTraefik errors:\n%s",
			code, body, err, gw2.HandshakeErrors(), tr.accessLogTail(10), tr.logProblems())
	}
	if !strings.Contains(refusal, "incompatible key usage") {
		t.Fatalf("the gateway should refuse the ALB certificate for its usage; handshake errors: %q\nTraefik errors:\n%s", gw2.HandshakeErrors(), tr.logProblems())
	}
	if n := len(gw2.Requests()); n != 0 {
		t.Errorf("no request may pass the refused handshake; the gateway saw %d: %+v", n, gw2.Requests())
	}
	t.Logf("walkthrough design through Traefik: %d, gateway: %s", code, refusal)
}

// createEndpointSlice publishes addr:port as the one ready endpoint of svc's
// port portName, as the EndpointSlice controller would for a gateway pod
// (no controller-manager runs here).
func createEndpointSlice(t *testing.T, ctx context.Context, svc *corev1.Service, portName, addr string, port int32) {
	t.Helper()
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name + "-e2e",
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   "albistio-e2e",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if _, err := env.kube.DiscoveryV1().EndpointSlices(svc.Namespace).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating EndpointSlice for %s/%s → %s:%d: %v", svc.Namespace, svc.Name, addr, port, err)
	}
}

// secretLeaf parses the first certificate of a secret's tls.crt.
func secretLeaf(t *testing.T, ctx context.Context, ns, name string) *x509.Certificate {
	t.Helper()
	s, err := env.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(s.Data[corev1.TLSCertKey])
	if block == nil {
		t.Fatalf("secret %s/%s: no PEM certificate in %s", ns, name, corev1.TLSCertKey)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("secret %s/%s: %v", ns, name, err)
	}
	return c
}
