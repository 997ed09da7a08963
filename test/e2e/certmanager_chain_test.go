package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// hopServerSecret is the gateway's certificate for the ALB in cert-manager
// mode, as the plugin names it for the default gateway Service.
const hopServerSecret = "albistio-istio-ingressgateway-server"

// TestCertManagerChainRenewsItself: on a cluster serving cert-manager.io/v1,
// setup with --client-identity=auto puts the hop's certificates in
// cert-manager's hands. The chain carries traffic through nginx; cert-manager
// (its real controllers) renews the ALB's client certificate and the
// gateway's certificate for the ALB, and the chain still carries traffic
// with nobody running the plugin; check is clean before and after; the
// GitOps stream holds no private key; cleanup removes what it made.
func TestCertManagerChainRenewsItself(t *testing.T) {
	datapath.NginxOrSkip(t)
	requireCertManager(t)
	w := newWorld(t, false)
	ns := w.p.IstioNamespace
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)...))
	if !strings.Contains(r.stderr, "client identity: cert-manager") {
		t.Errorf("auto should pick cert-manager on a new hop where it is served:\n%s", r)
	}
	for _, name := range []string{"albistio-selfsigned", "albistio-client-ca"} {
		if _, err := env.dyn.Resource(cluster.IssuerGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("issuer %s: %v", name, err)
		}
	}
	client := secretOf(t, ctx, ns, "alb-certs")
	if client.Annotations["cert-manager.io/certificate-name"] != "alb-certs" || client.Type != corev1.SecretTypeTLS {
		t.Errorf("alb-certs should be cert-manager's kubernetes.io/tls secret: type %s, annotations %v", client.Type, client.Annotations)
	}
	if leaf := secretLeaf(t, ctx, ns, "alb-certs"); len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("the ALB's client certificate should allow client auth only, has %v", leaf.ExtKeyUsage)
	}
	if _, err := env.kube.CoreV1().Secrets(ns).Get(ctx, w.p.GatewaySecretName+"-cacert", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cert-manager mode writes no -cacert (Istio reads the credential's ca.crt), got %v", err)
	}
	if r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)...)); !strings.Contains(r.stderr, "up to date") {
		t.Errorf("a second setup should write nothing:\n%s", r)
	}

	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
	// check: clean but for the ALB TLS copy, which nothing renews (IKS keeps
	// no copy in this world's Istio namespace), and the certificates with
	// who renews each.
	r = mustSucceed(t, albistio(t, append([]string{"check", "-o", "json"}, w.flags("--alb-flavor", "nginx")...)...))
	var rep struct {
		Findings []struct {
			Code string `json:"code"`
		} `json:"findings"`
		Certificates []struct {
			Object    string `json:"object"`
			RenewedBy string `json:"renewedBy"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, r)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Code != "ALB0906" {
		t.Errorf("check should report only ALB0906 (the ALB TLS copy nothing renews), got %+v", rep.Findings)
	}
	renewers := map[string]string{}
	for _, c := range rep.Certificates {
		renewers[c.Object] = c.RenewedBy
	}
	for obj, want := range map[string]string{
		"Secret " + ns + "/alb-certs":          "cert-manager",
		"Secret " + ns + "/" + hopServerSecret: "cert-manager",
		"Secret " + ns + "/albistio-client-ca": "cert-manager",
	} {
		if renewers[obj] != want {
			t.Errorf("check says %s is renewed by %q, want %q (all: %v)", obj, renewers[obj], want, renewers)
		}
	}

	// cert-manager renews both leaves of the hop; nobody runs the plugin.
	before := map[string]*x509.Certificate{}
	for _, name := range []string{"alb-certs", hopServerSecret} {
		before[name] = secretLeaf(t, ctx, ns, name)
		triggerRenewal(t, ctx, ns, name)
	}
	for name, old := range before {
		renewed := waitForNewSerial(t, ctx, ns, name, old)
		t.Logf("%s renewed by cert-manager: serial %s → %s", name, old.SerialNumber, renewed.SerialNumber)
	}
	// The ALB and the gateway reload renewed secrets as ingress-nginx and
	// Istio's SDS do: the stand-ins start again from what the cluster holds.
	pa2 := w.startPath(t)
	code, body = pa2.get(t, w, "/status/418")
	pa2.expectTeapot(t, code, body)
	if got, old := lastClientSerial(pa2.gateway), before["alb-certs"].SerialNumber.String(); got == "" || got == old {
		t.Errorf("the gateway should have verified the renewed client certificate, saw serial %q (the old one is %s)", got, old)
	}
	mustSucceed(t, albistio(t, append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)...))

	// GitOps: the stream names cert-manager's objects and holds no key of
	// the hop (the ALB TLS copy is printed without its key, as ever).
	out := mustSucceed(t, albistio(t, append([]string{"setup", "--dry-run=server", "-o", "yaml"}, w.flags("--alb-flavor", "nginx")...)...)).stdout
	if strings.Contains(out, "PRIVATE KEY") || !strings.Contains(out, "kind: Certificate") {
		t.Errorf("setup -o yaml in cert-manager mode must list Certificates and no private key:\n%s", out)
	}

	mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags("--alb-flavor", "nginx")...)...))
	for _, name := range []string{"alb-certs", hopServerSecret} {
		if _, err := env.dyn.Resource(cluster.CertificateGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cleanup should delete certificate %s, got %v", name, err)
		}
		if _, err := env.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cleanup should delete secret %s that cert-manager wrote, got %v", name, err)
		}
	}
	if _, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "albistio-client-ca", metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup keeps the hop's CA without --include-ca: %v", err)
	}
}

// TestCertManagerModeWithTraefik: the same hop read by a real Traefik, which
// watches Secrets itself: after cert-manager renews the ALB's client
// certificate, Traefik presents the new one without anyone acting.
func TestCertManagerModeWithTraefik(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)
	requireCertManager(t)
	w := newWorld(t, false, fixtures.TraefikClass())
	ns := w.p.IstioNamespace
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "traefik", "--client-identity", "cert-manager")...)...))

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
	teapot := func(what string, gw interface{ HandshakeErrors() []string }) {
		t.Helper()
		var code int
		var body string
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, err = tr.get(w.host, "/status/418", roots)
			if err == nil && code == http.StatusTeapot || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code != http.StatusTeapot || !strings.Contains(body, "teapot") {
			t.Fatalf("%s: want 418 through Traefik → gateway → app, got %d %q (%v)\ngateway handshake errors: %q\nTraefik errors:\n%s",
				what, code, body, err, gw.HandshakeErrors(), tr.logProblems())
		}
	}
	tr.waitForRouter(t, w.host)
	teapot("after setup", gw)

	old := secretLeaf(t, ctx, ns, "alb-certs")
	triggerRenewal(t, ctx, ns, "alb-certs")
	renewed := waitForNewSerial(t, ctx, ns, "alb-certs", old)
	// Traefik reloads the Secret by itself; the gateway stand-in starts again
	// from the cluster, as Istio's SDS pushes the unchanged CA.
	gw2 := w.startGateway(t)
	pn.Retarget(gw2.Addr())
	gw.Close()
	// Traefik watches the Secret: it presents the renewed certificate on
	// its own (its transport's connections are fresh per config reload).
	deadline := time.Now().Add(30 * time.Second)
	for {
		teapot("after cert-manager renewed alb-certs", gw2)
		if serial := lastClientSerial(gw2); serial == renewed.SerialNumber.String() {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Traefik kept presenting the old client certificate: the gateway saw serial %s, cert-manager issued %s", serial, renewed.SerialNumber)
		}
		time.Sleep(time.Second)
	}
	mustSucceed(t, albistio(t, append([]string{"check"}, w.flags("--alb-flavor", "traefik")...)...))
}

func secretOf(t *testing.T, ctx context.Context, ns, name string) *corev1.Secret {
	t.Helper()
	s, err := env.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// triggerRenewal asks cert-manager to issue a Certificate again now.
func triggerRenewal(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	if err := cluster.RenewCertificate(ctx, env.dyn, ns, name); err != nil {
		t.Fatal(err)
	}
}

// waitForNewSerial waits until the Secret holds a certificate other than old.
func waitForNewSerial(t *testing.T, ctx context.Context, ns, name string, old *x509.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := cluster.WaitSecretLeaf(ctx, env.kube, ns, name, old.SerialNumber)
	if err != nil {
		t.Fatalf("cert-manager did not renew %s/%s: %v\ncert-manager's log:\n%s", ns, name, err, env.cluster.CertManagerLogTail(30))
	}
	return leaf
}

// TestIKSManagedALBCopyIsUsed: where IKS keeps a copy of the ALB's secret
// in the Istio namespace itself (ibmcloud ks ingress secret create
// --namespace; marked ingress.cloud.ibm.com/cert-source: ibm), setup writes
// no copy over it, and when IKS renews it the ALB serves the new
// certificate for the host without anyone running the plugin.
func TestIKSManagedALBCopyIsUsed(t *testing.T) {
	datapath.NginxOrSkip(t)
	w := newWorld(t, false)
	ns := w.p.IstioNamespace
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	iksCopy := func() {
		t.Helper()
		s := secretOf(t, ctx, w.p.ALBSecretNamespace, w.p.ALBSecretName)
		c := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: w.p.ALBSecretName, Namespace: ns, Annotations: map[string]string{"ingress.cloud.ibm.com/cert-source": "ibm"}},
			Type:       corev1.SecretTypeTLS, Data: s.Data,
		}
		if existing, err := env.kube.CoreV1().Secrets(ns).Get(ctx, c.Name, metav1.GetOptions{}); err == nil {
			existing.Data = s.Data
			_, err = env.kube.CoreV1().Secrets(ns).Update(ctx, existing, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, err := env.kube.CoreV1().Secrets(ns).Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	iksCopy()
	r := mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)...))
	if !strings.Contains(r.stderr, "kept by IKS") || strings.Contains(r.stdout, "secret/"+w.p.ALBSecretName) {
		t.Errorf("setup should use IKS's copy in %s and write none of its own:\n%s", ns, r)
	}
	if s := secretOf(t, ctx, ns, w.p.ALBSecretName); s.Annotations["albistio.io/source"] != "" || s.Labels["app.kubernetes.io/managed-by"] != "" {
		t.Errorf("IKS's copy was written by the plugin: %v %v", s.Labels, s.Annotations)
	}
	served := func() *x509.Certificate {
		t.Helper()
		pa := w.startPath(t)
		resp, err := pa.nginx.Client(pa.roots).Get("https://" + w.host + "/status/418")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("want 418 through the chain, got %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0]
	}
	first := served()
	// IKS renews the certificate: it rewrites its secret and its copies.
	if err := w.iks.RotateALBCert(ctx); err != nil {
		t.Fatal(err)
	}
	iksCopy()
	if renewed := served(); renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Errorf("after IKS renewed its copy, the ALB should serve the new certificate for %s (serial still %s)", w.host, first.SerialNumber)
	}
	mustSucceed(t, albistio(t, append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)...))
}

// lastClientSerial is the serial of the client certificate the gateway
// verified for its latest request.
func lastClientSerial(gw *datapath.GatewayServer) string {
	reqs := gw.Requests()
	if len(reqs) == 0 {
		return ""
	}
	return reqs[len(reqs)-1].ClientSerial
}
