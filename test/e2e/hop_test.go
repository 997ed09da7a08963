package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// app is a second mesh service behind the world's ALB and gateway.
type app struct {
	namespace, service, host string
}

// addApp creates a namespace with sidecar injection and a Service, as a
// second team's app would have before running setup.
func (w *world) addApp(t *testing.T, service string) app {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("%s-%d", service, seq.Add(1))
	if _, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"istio-injection": "enabled"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns, Labels: map[string]string{"app": service}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": service},
			Ports:    []corev1.ServicePort{{Name: "http", Port: fixtures.AppServicePort, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := env.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return app{namespace: ns, service: service, host: service + "." + w.p.ALBDomain}
}

// appFlags are the flags that make a command act on a's chain.
func (a app) flags() []string { return []string{"-n", a.namespace, "--service", a.service} }

// ingressName is a's Ingress as the plugin names it by default.
func (a app) ingressName() string { return "albistio-" + a.namespace + "-" + a.service }

// chainState fingerprints one chain's own objects (its Ingress and
// VirtualService), so a test can tell whether another chain's run touched them.
func chainState(t *testing.T, w *world, ns, service string) string {
	t.Helper()
	ctx := context.Background()
	ing, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, "albistio-"+ns+"-"+service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := env.dyn.Resource(gvrOf("networking.istio.io", "v1", "virtualservices")).Namespace(ns).Get(ctx, "albistio-"+service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return "ingress@" + ing.ResourceVersion + " virtualservice@" + vs.GetResourceVersion()
}

// hopPath is the data path of a hop: the gateway stand-in configured from
// the hop's Gateway and secrets as they are now, and one nginx per Ingress
// (each app's Ingress, as ingress-nginx would serve it).
type hopPath struct {
	gateway *datapath.GatewayServer
	nginx   map[string]*datapath.Nginx // by host
	roots   *x509.CertPool
}

func (w *world) startHopPath(t *testing.T, ingresses map[string]string) *hopPath {
	t.Helper()
	datapath.NginxOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw := w.startGateway(t)
	hp := &hopPath{gateway: gw, nginx: map[string]*datapath.Nginx{}, roots: x509.NewCertPool()}
	hp.roots.AddCert(w.iks.PKI.Root)
	for host, name := range ingresses {
		hp.nginx[host] = w.startNginx(ctx, t, name, gw)
	}
	return hp
}

func (hp *hopPath) get(t *testing.T, host, urlPath string) (int, string) {
	t.Helper()
	n := hp.nginx[host]
	resp, err := n.Client(hp.roots).Get("https://" + host + urlPath)
	if err != nil {
		t.Fatalf("request for %s through nginx: %v\nnginx error.log:\n%s", host, err, n.ErrorLog())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (hp *hopPath) expectTeapot(t *testing.T, host string) {
	t.Helper()
	code, body := hp.get(t, host, "/status/418")
	if code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("%s: want 418 through nginx → gateway → app, got %d %q\nnginx error.log:\n%s\ngateway handshake errors: %q",
			host, code, body, hp.nginx[host].ErrorLog(), hp.gateway.HandshakeErrors())
	}
}

// checkClean runs check for one chain and wants exit 0.
func (w *world) checkClean(t *testing.T, extra ...string) {
	t.Helper()
	r := albistio(t, append([]string{"check"}, w.flags(append([]string{"--alb-flavor", "nginx"}, extra...)...)...)...)
	if r.code != 0 {
		t.Fatalf("check should be clean:\n%s", r)
	}
}

// TestTwoAppsShareOneHop: a second app's setup adds to the hop without
// touching what the first app uses; both carry traffic through the same
// ALB and gateway; cleanup of one leaves the other carrying traffic; the
// hop goes with the last chain.
func TestTwoAppsShareOneHop(t *testing.T) {
	w := newWorld(t, false)
	other := w.addApp(t, "other")

	mustSucceed(t, w.setup(t))
	first := chainState(t, w, w.p.AppNamespace, "httpbin")
	checkArgs := append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)
	oneChain := requestLog(t, []int{0}, checkArgs...)
	r := mustSucceed(t, w.setup(t, other.flags()...))
	for _, shared := range []string{"secret/alb-certs", "secret/albistio-client-ca", "secret/" + w.p.GatewaySecretName + "-cacert", "secret/" + w.p.ALBSecretName + " "} {
		if strings.Contains(r.stdout, shared) {
			t.Errorf("the second app's setup rewrote the hop's %s:\n%s", shared, r)
		}
	}
	// The long explanation of why the ALB needs a private CA was given once.
	if !strings.Contains(r.stderr, "client identity: private-ca, as before") || strings.Contains(r.stderr, "Let's Encrypt stopped") {
		t.Errorf("a later setup on the hop should note the client identity in one short line:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "gateway/"+w.gatewayName()+" -n "+w.p.IstioNamespace+" configured") {
		t.Errorf("the second app's setup should add its host to the shared Gateway:\n%s", r)
	}
	if got := chainState(t, w, w.p.AppNamespace, "httpbin"); got != first {
		t.Errorf("the second app's setup changed the first app's objects: %s → %s", first, got)
	}
	w.checkClean(t)
	w.checkClean(t, other.flags()...)
	// check costs one request per object it inspects, however many chains
	// share the hop: the hop's chain list is one annotation on its Gateway.
	twoChains := requestLog(t, []int{0}, checkArgs...)
	if want := checkRequests + compatReads(t); len(oneChain) != want || len(twoChains) != want ||
		strings.Join(oneChain.Signatures(), "\n") != strings.Join(twoChains.Signatures(), "\n") {
		t.Errorf("check made %d requests with one chain on the hop and %d with two, want %d both times:\n%s\n%s",
			len(oneChain), len(twoChains), checkRequests+compatReads(t), oneChain, twoChains)
	}
	if s := requestLog(t, []int{0}, append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)...); len(s) != setupRequests+compatReads(t) {
		t.Errorf("setup with nothing to change made %d requests with two chains on the hop, want %d:\n%s", len(s), setupRequests+compatReads(t), s)
	}

	hp := w.startHopPath(t, map[string]string{w.host: w.ingressName(), other.host: other.ingressName()})
	hp.expectTeapot(t, w.host)
	hp.expectTeapot(t, other.host)
	hosts := map[string]bool{}
	for _, req := range hp.gateway.Requests() {
		hosts[req.Host] = true
		if req.SNI != w.p.GatewayDomain {
			t.Errorf("the ALB sent SNI %q, want the gateway domain", req.SNI)
		}
	}
	if !hosts[w.host] || !hosts[other.host] {
		t.Errorf("the gateway should have served both hosts, saw %v", hosts)
	}

	// cleanup of the second app: only its objects go; the first keeps working.
	r = mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags(other.flags()...)...)...))
	for _, gone := range []string{"ingress/" + other.ingressName(), "virtualservice/albistio-other"} {
		if !strings.Contains(r.stdout, gone+" -n") {
			t.Errorf("cleanup should delete %s:\n%s", gone, r)
		}
	}
	if strings.Contains(r.stdout, "secret/") || strings.Contains(r.stdout, "gateway/"+w.gatewayName()+" -n "+w.p.IstioNamespace+" deleted") {
		t.Errorf("cleanup of one app deleted the hop's shared objects:\n%s", r)
	}
	if !strings.Contains(r.stderr, "still use them") || !strings.Contains(r.stderr, w.p.AppNamespace+"/httpbin") {
		t.Errorf("cleanup should say which chains keep the hop:\n%s", r)
	}
	if got := chainState(t, w, w.p.AppNamespace, "httpbin"); got != first {
		t.Errorf("cleanup of the second app changed the first app's objects: %s → %s", first, got)
	}
	w.checkClean(t)
	hp = w.startHopPath(t, map[string]string{w.host: w.ingressName()})
	hp.expectTeapot(t, w.host)
	if hp.gateway.Config().MatchesSNI(other.host) {
		t.Errorf("the removed app's host should be off the Gateway: %v", hp.gateway.Config().Hosts)
	}

	// cleanup of the last app takes the hop with it (the CA stays).
	r = mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags()...)...))
	for _, gone := range []string{"gateway/" + w.gatewayName(), "secret/alb-certs", "secret/" + w.p.GatewaySecretName + "-cacert", "secret/" + w.p.ALBSecretName} {
		if !strings.Contains(r.stdout, gone+" -n "+w.p.IstioNamespace+" deleted") {
			t.Errorf("cleanup of the last chain should delete %s:\n%s", gone, r)
		}
	}
	if _, err := env.dyn.Resource(gvrOf("networking.istio.io", "v1", "gateways")).Namespace(w.p.IstioNamespace).Get(context.Background(), w.gatewayName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the hop's Gateway should be gone: %v", err)
	}
	if _, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(context.Background(), "albistio-client-ca", metav1.GetOptions{}); err != nil {
		t.Errorf("the private CA stays without --include-ca: %v", err)
	}
}

// TestConcurrentSetups: 20 rounds of 3 setups at the same time on a hop
// without a private CA yet, as pipelines run them — even rounds for the same
// app, odd rounds for three apps of one hop. Every run succeeds (its closing
// check clean), one CA is stored, the gateway's -cacert holds exactly it, the
// client certificate verifies against it for client auth, and the hop's
// Gateway lists every app (no lost update).
func TestConcurrentSetups(t *testing.T) {
	const rounds, parallel = 20, 3
	replanned := 0
	defer func() { t.Logf("%d of %d runs lost a race and planned again", replanned, rounds*parallel) }()
	for round := 0; round < rounds; round++ {
		w := newWorld(t, false)
		apps := []app{{namespace: w.p.AppNamespace, service: "httpbin", host: w.host}}
		for len(apps) < parallel {
			if round%2 == 0 {
				apps = append(apps, apps[0])
			} else {
				apps = append(apps, w.addApp(t, fmt.Sprintf("app%d", len(apps))))
			}
		}
		var wg sync.WaitGroup
		results := make([]result, parallel)
		for i, a := range apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = w.setup(t, a.flags()...)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Fatalf("round %d, run %d failed:\n%s", round, i, r)
			}
			if strings.Contains(r.stderr, "planning again") {
				replanned++
			}
		}
		verifyOneCA(t, w)
		reg := gatewayRegistry(t, w)
		for _, a := range apps {
			if reg[a.namespace+"/"+a.service] != a.host {
				t.Fatalf("round %d: the Gateway's chains %v lack %s/%s", round, reg, a.namespace, a.service)
			}
		}
		for _, a := range apps[1:] {
			if a != apps[0] {
				w.checkClean(t, a.flags()...)
			}
		}
	}
}

// verifyOneCA: the stored CA is the one CA in -cacert, and the ALB's client
// certificate chains to it for client authentication.
func verifyOneCA(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	get := func(name string) *corev1.Secret {
		s, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ca := parseCerts(t, get("albistio-client-ca").Data["tls.crt"])
	trusted := parseCerts(t, get(w.p.GatewaySecretName + "-cacert").Data["ca.crt"])
	if len(ca) != 1 || len(trusted) != 1 || !ca[0].Equal(trusted[0]) {
		t.Fatalf("the stored CA (%d certs) must be the one CA in -cacert (%d certs)", len(ca), len(trusted))
	}
	client := parseCerts(t, get("alb-certs").Data["tls.crt"])
	pool := x509.NewCertPool()
	pool.AddCert(trusted[0])
	if _, err := client[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the client certificate does not verify against -cacert for client auth: %v", err)
	}
}

func parseCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func gatewayRegistry(t *testing.T, w *world) map[string]string {
	t.Helper()
	gw, err := env.dyn.Resource(gvrOf("networking.istio.io", "v1", "gateways")).Namespace(w.p.IstioNamespace).Get(context.Background(), w.gatewayName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := map[string]string{}
	if err := json.Unmarshal([]byte(gw.GetAnnotations()["albistio.io/chains"]), &reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestOutputNameCollisionsRefused: names that would make two outputs one
// object, or an output an IKS input, are refused before anything is read
// (exit 2, both flags named) and the cluster is left as it was.
func TestOutputNameCollisionsRefused(t *testing.T) {
	w := newWorld(t, false)
	before := snapshot(t, w)
	for _, c := range []struct {
		flags []string
		wants []string
	}{
		{[]string{"--client-secret", w.p.ALBSecretName}, []string{"--client-secret", "--alb-secret"}},
		{[]string{"--ca-secret", w.p.GatewaySecretName + "-cacert"}, []string{"--ca-secret", "--gateway-secret"}},
		{[]string{"--ca-secret", w.p.ALBSecretName}, []string{"--ca-secret", "--alb-secret"}},
		{[]string{"--client-secret", w.p.GatewaySecretName}, []string{"--client-secret", "--gateway-secret", "IKS-owned"}},
	} {
		mustFail(t, w.setup(t, c.flags...), 2, c.wants...)
	}
	if after := snapshot(t, w); after != before {
		t.Errorf("a refused setup changed the cluster:\nbefore %s\nafter  %s", before, after)
	}
}

// TestCleanupLeavesATakenOverSecret: the user made alb-certs; setup takes it
// over only with --force-conflicts, and cleanup then leaves it, saying why.
func TestCleanupLeavesATakenOverSecret(t *testing.T) {
	w := newWorld(t, false)
	kubectl(t, "create", "secret", "generic", "alb-certs", "-n", w.p.IstioNamespace, "--from-literal=note=mine")
	mustFail(t, w.setup(t), 4, "alb-certs", "kubectl-create", "--force-conflicts")
	mustSucceed(t, w.setup(t, "--force-conflicts"))
	mustSucceed(t, w.setup(t)) // a later run keeps the record of the takeover
	r := mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags()...)...))
	if !strings.Contains(r.stderr, "keeping secret/alb-certs") || !strings.Contains(r.stderr, "kubectl-create") {
		t.Errorf("cleanup should keep the user's alb-certs and say who made it:\n%s", r)
	}
	if _, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(context.Background(), "alb-certs", metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup deleted a secret the user created: %v", err)
	}
}
