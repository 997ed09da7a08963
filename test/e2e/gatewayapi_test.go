package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

var (
	istioGatewayGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	istioVSGVR      = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
)

// requireGatewayAPI installs the Gateway API's standard CRDs (v1.6.3, from
// the Go module cache) and the GatewayClass istio that istiod would create,
// and removes them after the test: a served Gateway API makes setup and
// cleanup look for what a chain has there, which other tests do not expect.
func requireGatewayAPI(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := env.cluster.UninstallGatewayAPI(ctx); err != nil {
			t.Errorf("uninstalling the Gateway API: %v", err)
		}
	})
	if err := env.cluster.InstallGatewayAPI(ctx); err != nil {
		t.Fatalf("installing the Gateway API's CRDs: %v", err)
	}
	if _, err := env.dyn.Resource(datapath.GatewayClassGVR).Create(ctx, datapath.IstioGatewayClass(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// gatewayAPIService is the Service Istio deploys for the hop's Gateway.
func (w *world) gatewayAPIService() string { return w.gatewayName() + "-istio" }

// deployGatewayAPI plays Istio's deployment controller for the hop's
// Gateway: its Service and a gateway pod.
func (w *world) deployGatewayAPI(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := datapath.DeployGatewayAPIGateway(ctx, env.kube, w.p.IstioNamespace, w.gatewayName(), 443); err != nil {
		t.Fatal(err)
	}
}

// startGatewayAPIGateway starts the gateway stand-in as Istio's pilot code
// configures the gateway it deploys for the hop's Gateway API Gateway.
func (w *world) startGatewayAPIGateway(t *testing.T) *datapath.GatewayServer {
	t.Helper()
	datapath.IstioOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := datapath.GatewayAPIFromIstio(ctx, env.dyn, env.kube, w.p.IstioNamespace, w.gatewayName())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := datapath.StartGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// exists says whether the object is in the cluster.
func exists(t *testing.T, gvr schema.GroupVersionResource, ns, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := env.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return true
	case apierrors.IsNotFound(err):
		return false
	}
	t.Fatalf("reading %s %s/%s: %v", gvr.Resource, ns, name, err)
	return false
}

// modeObjects are, per gateway mode, the objects only that mode writes for
// the world's httpbin chain on the nginx ALB.
func (w *world) modeObjects() map[string][]struct {
	gvr      schema.GroupVersionResource
	ns, name string
} {
	type obj = struct {
		gvr      schema.GroupVersionResource
		ns, name string
	}
	ist, app := w.p.IstioNamespace, w.p.AppNamespace
	return map[string][]obj{
		"classic": {
			{istioGatewayGVR, ist, w.gatewayName()},
			{istioVSGVR, app, "albistio-httpbin"},
			{gvrOf("", "v1", "secrets"), ist, w.p.GatewaySecretName + "-cacert"},
		},
		"gateway-api": {
			{datapath.GatewayAPIGatewayGVR, ist, w.gatewayName()},
			{datapath.HTTPRouteGVR, app, "albistio-httpbin"},
			{gvrOf("", "v1", "configmaps"), ist, w.gatewayName() + "-client-ca"},
		},
	}
}

// expectMode checks that the chain has exactly the objects of mode, none
// of the other's.
func (w *world) expectMode(t *testing.T, mode string) {
	t.Helper()
	for m, objs := range w.modeObjects() {
		for _, o := range objs {
			if got, want := exists(t, o.gvr, o.ns, o.name), m == mode; got != want {
				t.Errorf("in %s mode, %s %s/%s exists: %v, want %v", mode, o.gvr.Resource, o.ns, o.name, got, want)
			}
		}
	}
}

// TestGatewayAPINotServed: setup --gateway-api on a cluster without the
// Gateway API's CRDs is bad input (exit 3) naming how to install them, and
// nothing is written.
func TestGatewayAPINotServed(t *testing.T) {
	w := newWorld(t, false)
	r := albistio(t, append([]string{"setup", "--gateway-api"}, w.flags("--alb-flavor", "nginx")...)...)
	mustFail(t, r, 3, "gateway.networking.k8s.io", "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secrets, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-albistio"})
	if err != nil {
		t.Fatal(err)
	}
	ings, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cms, err := env.kube.CoreV1().ConfigMaps(w.p.IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-albistio"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(secrets.Items) + len(ings.Items) + len(cms.Items); n != 0 {
		t.Errorf("a refused setup wrote %d objects", n)
	}
	if exists(t, istioGatewayGVR, w.p.IstioNamespace, w.gatewayName()) {
		t.Error("a refused setup wrote the Istio Gateway")
	}
}

// TestGatewayAPIChainNginx: setup --gateway-api writes the Gateway API
// Gateway, the chain's HTTPRoute and the client-CA ConfigMap (and none of
// the classic objects), points the nginx Ingress at the Service Istio
// deploys for the Gateway, and a request goes through real nginx over mutual
// TLS to the gateway stand-in configured as Istio's pilot code translates
// those objects: 418 with the ALB's client certificate verified by the
// ConfigMap's CA. A second setup writes nothing; cleanup removes all of it.
func TestGatewayAPIChainNginx(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	args := append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)
	// Istio deploys the Gateway's Service only once the Gateway is there:
	// setup must not need it before.
	mustSucceed(t, albistio(t, args...))
	w.deployGatewayAPI(t)
	w.expectMode(t, "gateway-api")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ing, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, w.ingressName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b.Name != w.gatewayAPIService() || b.Port.Number != 443 {
		t.Errorf("the Ingress should go to %s:443, the Service Istio deploys, goes to %s:%d", w.gatewayAPIService(), b.Name, b.Port.Number)
	}
	if r := mustSucceed(t, albistio(t, args...)); !strings.Contains(r.stderr, "up to date") {
		t.Errorf("a second setup should write nothing:\n%s", r)
	}

	gw := w.startGatewayAPIGateway(t)
	n := w.startNginx(ctx, t, w.ingressName(), gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	pa := &path{nginx: n, gateway: gw, roots: roots}
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
	last := gw.Requests()[len(gw.Requests())-1]
	client := secretLeaf(t, ctx, w.p.IstioNamespace, "alb-certs")
	if last.SNI != w.p.GatewayDomain || last.Host != w.host || last.ClientSubject != client.Subject.String() {
		t.Errorf("the gateway should see SNI %s, Host %s and alb-certs' client certificate %s; saw %+v", w.p.GatewayDomain, w.host, client.Subject, last)
	}
	t.Logf("418 through nginx → Gateway API gateway (as Istio translates it): SNI %s, Host %s, client %s, filter chain %q", last.SNI, last.Host, last.ClientSubject, last.Chain)

	// The client CA is the ConfigMap's: another CA there, and Istio's
	// gateway refuses the ALB.
	cm, err := env.kube.CoreV1().ConfigMaps(w.p.IstioNamespace).Get(ctx, w.gatewayName()+"-client-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["ca.crt"] = string(w.iks.RootPEM)
	if _, err := env.kube.CoreV1().ConfigMaps(w.p.IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gw2 := w.startGatewayAPIGateway(t)
	n2 := w.startNginx(ctx, t, w.ingressName(), gw2)
	pa2 := &path{nginx: n2, gateway: gw2, roots: roots}
	code, _ = pa2.get(t, w, "/status/418")
	if code == http.StatusTeapot || len(gw2.Requests()) != 0 {
		t.Errorf("with another CA in the client-CA ConfigMap the gateway must refuse the ALB; got %d, %d requests", code, len(gw2.Requests()))
	}

	// The ConfigMap now has another manager's field: setup would not take
	// it back without --force-conflicts, nor cleanup delete it. Delete it,
	// and setup writes it again.
	if err := env.kube.CoreV1().ConfigMaps(w.p.IstioNamespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := mustSucceed(t, albistio(t, args...)); !strings.Contains(r.stdout, "configmap/"+cm.Name) {
		t.Errorf("setup should write the client-CA ConfigMap again:\n%s", r)
	}

	cleanupArgs := append([]string{"cleanup", "--gateway-api", "--include-ca"}, dropFlag(w.flags(), "--ca-file")...)
	mustSucceed(t, albistio(t, cleanupArgs...))
	w.expectNothingLeft(t)
}

// expectNothingLeft checks that no object the plugin labels is left in the
// world's namespaces.
func (w *world) expectNothingLeft(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-albistio"}
	for _, g := range []struct {
		gvr schema.GroupVersionResource
		ns  string
	}{
		{gvrOf("", "v1", "secrets"), w.p.IstioNamespace}, {gvrOf("", "v1", "configmaps"), w.p.IstioNamespace},
		{gvrOf("", "v1", "services"), w.p.IstioNamespace}, {gvrOf("networking.k8s.io", "v1", "ingresses"), w.p.IstioNamespace},
		{istioGatewayGVR, w.p.IstioNamespace}, {istioVSGVR, w.p.AppNamespace},
		{datapath.GatewayAPIGatewayGVR, w.p.IstioNamespace}, {datapath.HTTPRouteGVR, w.p.AppNamespace},
	} {
		l, err := env.dyn.Resource(g.gvr).Namespace(g.ns).List(ctx, sel)
		if err != nil {
			t.Fatalf("listing %s: %v", g.gvr.Resource, err)
		}
		for _, u := range l.Items {
			t.Errorf("cleanup left %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
		}
	}
}

// TestGatewayAPISwitchModes: a chain moved from Istio's API to the Gateway
// API and back with setup leaves nothing of the mode it left, and still
// carries traffic in each; cleanup without --gateway-api removes what
// either mode wrote.
func TestGatewayAPISwitchModes(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	classic := append([]string{"setup", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)
	gatewayAPI := append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)

	mustSucceed(t, albistio(t, classic...))
	w.expectMode(t, "classic")
	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)

	r := mustSucceed(t, albistio(t, gatewayAPI...))
	w.deployGatewayAPI(t)
	w.expectMode(t, "gateway-api")
	for _, want := range []string{"virtualservice/albistio-httpbin -n " + w.p.AppNamespace + " deleted", "gateway/" + w.gatewayName() + " -n " + w.p.IstioNamespace + " deleted", "secret/" + w.p.GatewaySecretName + "-cacert -n " + w.p.IstioNamespace + " deleted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the switch to the Gateway API should say %q:\n%s", want, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gw := w.startGatewayAPIGateway(t)
	n := w.startNginx(ctx, t, w.ingressName(), gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	pa = &path{nginx: n, gateway: gw, roots: roots}
	code, body = pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)

	mustSucceed(t, albistio(t, classic...))
	w.expectMode(t, "classic")
	pa = w.startPath(t)
	code, body = pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)

	// Leave a Gateway API chain behind once more, then clean up in the
	// classic mode: both modes' objects go.
	mustSucceed(t, albistio(t, gatewayAPI...))
	w.expectMode(t, "gateway-api")
	mustSucceed(t, albistio(t, append([]string{"cleanup", "--include-ca"}, dropFlag(w.flags(), "--ca-file")...)...))
	w.expectNothingLeft(t)
	// The Service and pod that stand in for Istio's deployment are the
	// test's, not the plugin's: cleanup must have left them.
	if !exists(t, gvrOf("", "v1", "services"), w.p.IstioNamespace, w.gatewayAPIService()) {
		t.Error("cleanup deleted the Service Istio deployed")
	}
}

// TestGatewayAPITraefik: the Gateway API hop through a real Traefik (IKS's
// Traefik ALB): the plugin's Service for Traefik selects the pods Istio
// deploys for the Gateway, and a request reaches the gateway stand-in as
// Istio translates the Gateway API objects.
func TestGatewayAPITraefik(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	datapath.IstioOrSkip(t)
	installTraefikCRDs(t)
	requireGatewayAPI(t)
	w := newWorld(t, false, fixtures.TraefikClass())
	mustSucceed(t, albistio(t, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "traefik", "--client-identity", "private-ca")...)...))
	w.deployGatewayAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, w.gatewayAPIService()+"-albistio", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Service Traefik routes through: %v", err)
	}
	if svc.Spec.Selector[datapath.GatewayNameLabel] != w.gatewayName() {
		t.Errorf("the Service for Traefik should select the pods Istio deploys for the Gateway, selects %v", svc.Spec.Selector)
	}
	gw := w.startGatewayAPIGateway(t)
	port := svc.Spec.Ports[0]
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))
	tr := startTraefik(t, bin, []string{ns})
	tr.waitForRouter(t, w.host)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
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
	if err != nil || code != http.StatusTeapot {
		t.Fatalf("want 418 through Traefik → Gateway API gateway → app, got %d %q (err %v)\ngateway handshake errors: %q\nTraefik errors:\n%s", code, body, err, gw.HandshakeErrors(), tr.logProblems())
	}
	last := gw.Requests()[len(gw.Requests())-1]
	client := secretLeaf(t, ctx, ns, "alb-certs")
	if last.SNI != w.p.GatewayDomain || last.ClientSubject != client.Subject.String() {
		t.Errorf("the gateway should see SNI %s and alb-certs' certificate; saw %+v", w.p.GatewayDomain, last)
	}
	t.Logf("418 through Traefik → Gateway API gateway: %s", fmt.Sprintf("SNI %s, Host %s, client %s", last.SNI, last.Host, last.ClientSubject))
}

// TestGatewayAPICertManager: with cert-manager keeping the hop's
// certificates, setup --gateway-api waits for the hop's CA and copies it
// into the Gateway's client-CA ConfigMap; the ALB sends the Istio-deployed
// Service's cluster-local name as SNI and verifies the gateway's
// cert-manager certificate; traffic flows as Istio translates it.
func TestGatewayAPICertManager(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireCertManager(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	r := mustSucceed(t, albistio(t, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx")...)...))
	if !strings.Contains(r.stderr, "client identity: cert-manager") {
		t.Errorf("auto should pick cert-manager:\n%s", r)
	}
	w.deployGatewayAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace
	ca, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "albistio-client-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := env.kube.CoreV1().ConfigMaps(ns).Get(ctx, w.gatewayName()+"-client-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("setup should write the client-CA ConfigMap once cert-manager issued the hop's CA: %v\n%s", err, r)
	}
	if cm.Data["ca.crt"] != string(ca.Data["ca.crt"]) {
		t.Errorf("the ConfigMap's ca.crt should be the hop's CA as cert-manager issued it")
	}
	if r := mustSucceed(t, albistio(t, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx")...)...)); !strings.Contains(r.stderr, "up to date") || strings.Contains(r.stdout, "configmap/") {
		t.Errorf("a second setup should write nothing:\n%s", r)
	}
	gw := w.startGatewayAPIGateway(t)
	n := w.startNginx(ctx, t, w.ingressName(), gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	pa := &path{nginx: n, gateway: gw, roots: roots}
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
	last := gw.Requests()[len(gw.Requests())-1]
	if want := w.gatewayAPIService() + "." + ns + ".svc"; last.SNI != want {
		t.Errorf("the ALB should send SNI %s (the Service Istio deploys), sent %q", want, last.SNI)
	}
	mustSucceed(t, albistio(t, append([]string{"cleanup", "--gateway-api", "--include-ca"}, dropFlag(w.flags(), "--ca-file")...)...))
	w.expectNothingLeft(t)
}

// TestGatewayAPITwoChains: two apps in two namespaces on one Gateway API
// hop: the one listener admits routes from both namespaces, Istio routes
// each host to its app through the one filter chain the ALB's SNI picks,
// and cleanup of one app keeps the hop and the other app's traffic.
func TestGatewayAPITwoChains(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	other := w.addApp(t, "other")
	setup := func(extra ...string) result {
		return albistio(t, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags(append([]string{"--alb-flavor", "nginx", "--client-identity", "private-ca"}, extra...)...)...)...)
	}
	mustSucceed(t, setup())
	w.deployGatewayAPI(t)
	r := mustSucceed(t, setup(other.flags()...))
	if !strings.Contains(r.stdout, "gateway/"+w.gatewayName()+" -n "+w.p.IstioNamespace+" configured") || strings.Contains(r.stdout, "deleted") {
		t.Errorf("the second app's setup should add its namespace to the shared Gateway and delete nothing:\n%s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serve := func() (*datapath.GatewayServer, map[string]*datapath.Nginx) {
		gw := w.startGatewayAPIGateway(t)
		return gw, map[string]*datapath.Nginx{w.host: w.startNginx(ctx, t, w.ingressName(), gw), other.host: w.startNginx(ctx, t, other.ingressName(), gw)}
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	gw, ns := serve()
	for host, n := range ns {
		hp := &hopPath{gateway: gw, nginx: map[string]*datapath.Nginx{host: n}, roots: roots}
		hp.expectTeapot(t, host)
	}
	r = mustSucceed(t, albistio(t, append([]string{"cleanup", "--gateway-api"}, dropFlag(w.flags(other.flags()...), "--ca-file")...)...))
	if !strings.Contains(r.stdout, "httproute/albistio-other -n "+other.namespace+" deleted") || strings.Contains(r.stdout, "gateway/"+w.gatewayName()+" -n "+w.p.IstioNamespace+" deleted") || strings.Contains(r.stdout, "configmap/") {
		t.Errorf("cleanup of one app should delete its route and keep the hop:\n%s", r)
	}
	cfg, err := datapath.GatewayAPIFromIstio(ctx, env.dyn, env.kube, w.p.IstioNamespace, w.gatewayName())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Chains {
		for _, vh := range c.VirtualHosts {
			if slices.Contains(vh.Domains, other.host) {
				t.Errorf("Istio still routes the cleaned-up app's host: %+v", vh)
			}
		}
	}
	gw = w.startGatewayAPIGateway(t)
	(&hopPath{gateway: gw, nginx: map[string]*datapath.Nginx{w.host: w.startNginx(ctx, t, w.ingressName(), gw)}, roots: roots}).expectTeapot(t, w.host)
}

// TestGatewayAPINamedService: with --gateway-service naming the existing
// istio-ingressgateway, the Gateway carries it in spec.addresses, Istio
// serves the Gateway on that Service's pods (deploying nothing), and the
// ALB goes to that Service.
func TestGatewayAPINamedService(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	mustSucceed(t, albistio(t, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca", "--gateway-service", fixtures.GatewayServiceName)...)...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ing, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, w.ingressName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b.Name != fixtures.GatewayServiceName {
		t.Errorf("the Ingress should go to the named Service, goes to %s", b.Name)
	}
	gw := w.startGatewayAPIGateway(t)
	n := w.startNginx(ctx, t, w.ingressName(), gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	pa := &path{nginx: n, gateway: gw, roots: roots}
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
}

// TestGatewayAPIRBAC: the roles rbac --for=setup --gateway-api prints are
// enough for setup and cleanup in Gateway API mode, and the classic roles
// for moving the chain back (setup retires the Gateway API objects with
// them), run as a user bound to nothing else.
func TestGatewayAPIRBAC(t *testing.T) {
	requireGatewayAPI(t)
	w := newWorld(t, false)
	flags := w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")
	setupKC := env.cluster.KubeconfigFor(cluster.SetupUser)
	applyRBAC(t, append([]string{"--for=setup", "--user", cluster.SetupUser, "--gateway-api"}, flags...)...)
	mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, flags...)...))
	w.expectMode(t, "gateway-api")

	// The generated check roles read everything check --gateway-api judges,
	// the cluster-scoped GatewayClass and Gateway CRD included: the release
	// is read, nothing is reported unreadable.
	applyRBAC(t, append([]string{"--for=check", "--user", cluster.CheckUser, "--gateway-api"}, flags...)...)
	r := albistioAs(t, env.cluster.KubeconfigFor(cluster.CheckUser), nil, append([]string{"check", "--gateway-api", "-o", "json"}, flags...)...)
	var report struct {
		Findings []struct{ Code, Message string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code == 5 {
		t.Fatalf("check --gateway-api as the check user: exit %d, JSON error %v:\n%s", r.code, err, r)
	}
	release := false
	for _, f := range report.Findings {
		if strings.Contains(f.Message, "forbidden") || strings.Contains(f.Message, "unknown") && f.Code != "ALB0402" {
			t.Errorf("the check roles should let check read what it judges: %s %s", f.Code, f.Message)
		}
		release = release || f.Code == "ALB1002" && strings.Contains(f.Message, "Gateway API v1.6.3")
	}
	if !release {
		t.Errorf("check as the check user should read the Gateway API's release from the CRD:\n%s", r)
	}

	applyRBAC(t, append([]string{"--for=setup", "--user", cluster.SetupUser}, flags...)...)
	mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"setup", "--failure-threshold", "none"}, flags...)...))
	w.expectMode(t, "classic")
	mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"cleanup", "--include-ca"}, dropFlag(flags, "--ca-file")...)...))
	w.expectNothingLeft(t)
}

// TestGatewayAPISwitchOneOfTwo: of two apps on a classic hop, one moves to
// the Gateway API: the classic Gateway loses only its host, and the
// classic hop objects the other app still uses stay, so its traffic keeps
// flowing; once the other app moves too, nothing classic is left.
func TestGatewayAPISwitchOneOfTwo(t *testing.T) {
	datapath.NginxOrSkip(t)
	datapath.IstioOrSkip(t)
	requireGatewayAPI(t)
	w := newWorld(t, false)
	other := w.addApp(t, "other")
	setup := func(mode []string, extra ...string) result {
		return mustSucceed(t, albistio(t, append(append([]string{"setup", "--failure-threshold", "none"}, mode...), w.flags(append([]string{"--alb-flavor", "nginx", "--client-identity", "private-ca"}, extra...)...)...)...))
	}
	setup(nil)
	setup(nil, other.flags()...)
	r := setup([]string{"--gateway-api"})
	if !strings.Contains(r.stdout, "gateway/"+w.gatewayName()+" -n "+w.p.IstioNamespace+" configured") || strings.Contains(r.stdout, "secret/"+w.p.GatewaySecretName+"-cacert") {
		t.Errorf("moving one of two apps should take its host off the classic Gateway and keep the -cacert:\n%s", r)
	}
	if !exists(t, istioGatewayGVR, w.p.IstioNamespace, w.gatewayName()) || !exists(t, istioVSGVR, other.namespace, "albistio-other") || exists(t, istioVSGVR, w.p.AppNamespace, "albistio-httpbin") {
		t.Error("the classic hop must stay for the other app, without the moved app's VirtualService")
	}
	hp := w.startHopPath(t, map[string]string{other.host: other.ingressName()})
	hp.expectTeapot(t, other.host)
	setup([]string{"--gateway-api"}, other.flags()...)
	w.expectMode(t, "gateway-api")
	if exists(t, istioVSGVR, other.namespace, "albistio-other") {
		t.Error("the other app's VirtualService is left")
	}
}
