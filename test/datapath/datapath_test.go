package datapath_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

const (
	istioNS   = "istio-system"
	appNS     = "httptools"
	albDomain = "mycluster-abc123-0000.jp-tok.containers.appdomain.cloud"
	gwDomain  = "mycluster-abc123-0001.jp-tok.containers.appdomain.cloud"
	appHost   = "httpbin." + albDomain
	gwSecret  = "mycluster-abc123-0001"
	albCopy   = "alb-tls"   // the ALB certificate, copied into the Ingress's namespace
	albClient = "alb-certs" // the ALB's client identity for the gateway
)

// world is one chain ALB → gateway as the plugin would leave it, kept as
// in-memory objects that a test tweaks before building the data path.
type world struct {
	le      *fixtures.PKI // issues the IKS certificates (Let's Encrypt today: serverAuth only)
	albCert *fixtures.Leaf
	gwCert  *fixtures.Leaf
	// clientCA issues the ALB's client certificate; -cacert trusts it.
	clientCA *fixtures.PrivateCA

	gateway         *unstructured.Unstructured
	virtualService  *unstructured.Unstructured
	ingress         *networkingv1.Ingress
	gwCredential    *corev1.Secret
	gwCACert        *corev1.Secret
	albClientSecret *corev1.Secret
	extra           []runtime.Object
}

// newWorld builds the working design: a private CA for the ALB's client
// certificate (clientAuth), trusted by the gateway's -cacert secret; the NLB
// certificate as the gateway's server certificate; nginx verifying it.
func newWorld(t *testing.T) *world {
	t.Helper()
	le, err := fixtures.NewLetsEncryptLike("le", false)
	if err != nil {
		t.Fatal(err)
	}
	albCert, err := le.IssueFor("*."+albDomain, albDomain)
	if err != nil {
		t.Fatal(err)
	}
	gwCert, err := le.IssueFor(gwDomain, "*."+gwDomain)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := fixtures.NewPrivateCA("albistio client CA")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient("alb." + albDomain)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{le: le, albCert: albCert, gwCert: gwCert, clientCA: ca}
	w.gwCredential = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: gwSecret, Namespace: istioNS},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": gwCert.ChainPEM, "tls.key": gwCert.KeyPEM},
	}
	w.gwCACert = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: gwSecret + "-cacert", Namespace: istioNS},
		Data:       map[string][]byte{"ca.crt": ca.CertPEM},
	}
	w.albClientSecret = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: albClient, Namespace: istioNS},
		Data:       map[string][]byte{"tls.crt": client.ChainPEM, "tls.key": client.KeyPEM, "ca.crt": le.RootPEM},
	}
	w.gateway = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "albistio-gateway", "namespace": appNS},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{
				map[string]any{
					"port":  map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"},
					"hosts": []any{"*"},
				},
				map[string]any{
					"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
					"tls":   map[string]any{"mode": "MUTUAL", "credentialName": gwSecret},
					"hosts": []any{gwDomain, appNS + "/" + appHost},
				},
			},
		},
	}}
	// The app's route through the Gateway, as the plugin writes it: Istio
	// routes a host only where a VirtualService binds it to the Gateway.
	w.virtualService = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "VirtualService",
		"metadata":   map[string]any{"name": "httpbin", "namespace": appNS},
		"spec": map[string]any{
			"hosts":    []any{appHost},
			"gateways": []any{appNS + "/albistio-gateway"},
			"http": []any{map[string]any{
				"match": []any{map[string]any{"uri": map[string]any{"prefix": "/status"}}},
				"route": []any{map[string]any{"destination": map[string]any{
					"host": "httpbin." + appNS + ".svc.cluster.local", "port": map[string]any{"number": int64(fixtures.AppServicePort)},
				}}},
			}},
		},
	}}
	prefix := networkingv1.PathTypePrefix
	class := fixtures.NginxClass().Name
	w.ingress = &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "albistio", Namespace: istioNS, Annotations: map[string]string{
			datapath.AnnotationPrefix + "backend-protocol":       "HTTPS",
			datapath.AnnotationPrefix + "proxy-ssl-secret":       istioNS + "/" + albClient,
			datapath.AnnotationPrefix + "proxy-ssl-verify":       "on",
			datapath.AnnotationPrefix + "proxy-ssl-verify-depth": "2",
			datapath.AnnotationPrefix + "proxy-ssl-name":         gwDomain,
			datapath.AnnotationPrefix + "proxy-ssl-server-name":  "on",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{appHost}, SecretName: albCopy}},
			Rules: []networkingv1.IngressRule{{
				Host: appHost,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/status",
						PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: fixtures.GatewayServiceName, Port: networkingv1.ServiceBackendPort{Number: 443},
						}},
					}},
				}},
			}},
		},
	}
	return w
}

func (w *world) clients() (*fake.Clientset, *dynamicfake.FakeDynamicClient) {
	no := false
	var objs []runtime.Object
	for _, s := range []*corev1.Secret{w.gwCredential, w.gwCACert, w.albClientSecret} {
		if s != nil { // a case may delete one
			objs = append(objs, s)
		}
	}
	objs = append(objs,
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: albCopy, Namespace: istioNS},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": w.albCert.ChainPEM, "tls.key": w.albCert.KeyPEM},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway-0", Namespace: istioNS, Labels: fixtures.GatewayLabels()},
			Spec:       corev1.PodSpec{AutomountServiceAccountToken: &no, ServiceAccountName: fixtures.GatewayServiceAccountName},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fixtures.AppServiceName, Namespace: appNS},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "httpbin"}, Ports: []corev1.ServicePort{
				{Name: "http", Port: fixtures.AppServicePort, TargetPort: intstr.FromInt32(8080)},
			}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fixtures.GatewayServiceName, Namespace: istioNS},
			Spec: corev1.ServiceSpec{Selector: fixtures.GatewayLabels(), Ports: []corev1.ServicePort{
				{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)},
			}},
		},
		&networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: fixtures.NginxClass().Name},
			Spec:       networkingv1.IngressClassSpec{Controller: fixtures.NginxClass().Controller},
		},
	)
	objs = append(objs, w.extra...)
	kube := fake.NewClientset(objs...)
	listKinds := map[schema.GroupVersionResource]string{}
	for _, gvr := range datapath.GatewayGVRs() {
		listKinds[gvr] = "GatewayList"
		gvr.Resource = "virtualservices"
		listKinds[gvr] = "VirtualServiceList"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	// Created through the client: handed to the constructor, a Gateway (a kind
	// the scheme does not know) is not found by Get afterwards.
	for _, o := range []*unstructured.Unstructured{w.gateway, w.virtualService} {
		if o == nil {
			continue
		}
		gvr := datapath.GatewayGVRs()[0]
		gvr.Version = o.GroupVersionKind().Version
		gvr.Resource = strings.ToLower(o.GetKind()) + "s"
		if _, err := dyn.Resource(gvr).Namespace(o.GetNamespace()).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	return kube, dyn
}

// path is a running gateway and nginx built from the world's objects.
type path struct {
	gw    *datapath.GatewayServer
	nginx *datapath.Nginx
	roots *x509.CertPool
}

func (w *world) start(t *testing.T) *path {
	t.Helper()
	datapath.NginxOrSkip(t)
	ctx := context.Background()
	kube, dyn := w.clients()
	gcfg, err := datapath.GatewayFromCluster(ctx, dyn, kube, appNS, w.gateway.GetName())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := datapath.StartGateway(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	ncfg, err := datapath.NginxFromIngress(ctx, kube, w.ingress, gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	n, err := datapath.StartNginx(t.TempDir(), ncfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx.conf:\n%s\nerror.log:\n%s", n.Conf, n.ErrorLog())
		}
		_ = n.Stop()
	})
	roots := x509.NewCertPool()
	roots.AddCert(w.le.Root)
	return &path{gw: gw, nginx: n, roots: roots}
}

// get requests https://<appHost><path> through nginx, as a client of the ALB would.
func (p *path) get(t *testing.T, urlPath string) (int, string) {
	t.Helper()
	resp, err := p.nginx.Client(p.roots).Get("https://" + appHost + urlPath)
	if err != nil {
		t.Fatalf("GET %s through nginx: %v", urlPath, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (p *path) wantHandshakeError(t *testing.T, substr string) {
	t.Helper()
	if !p.gw.WaitHandshakeError(substr, 5*time.Second) {
		t.Errorf("gateway handshake errors %q do not mention %q", p.gw.HandshakeErrors(), substr)
	}
}

func TestChainWithPrivateClientCA(t *testing.T) {
	p := newWorld(t).start(t)
	code, body := p.get(t, "/status/418")
	if code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("GET /status/418 = %d %q, want 418 and the teapot", code, body)
	}
	reqs := p.gw.Requests()
	if len(reqs) != 1 || reqs[0].SNI != gwDomain || reqs[0].Host != appHost || !strings.Contains(reqs[0].ClientSubject, "alb."+albDomain) {
		t.Errorf("gateway saw %+v; want one request with SNI %s, Host %s, the ALB's client certificate", reqs, gwDomain, appHost)
	}
	if code, _ := p.get(t, "/status/503"); code != 503 {
		t.Errorf("GET /status/503 = %d", code)
	}
	// ingress-nginx's Prefix /status does not match /statusfoo: the default server answers.
	if code, _ := p.get(t, "/statusfoo"); code != http.StatusNotFound {
		t.Errorf("GET /statusfoo = %d, want 404 from nginx", code)
	}
}

// The walkthrough's design: the IKS certificate as the ALB's client certificate
// and the Let's Encrypt root as the gateway's CA. It worked while Let's Encrypt
// certificates carried clientAuth...
func TestWalkthroughDesignWithClientAuthCertificates(t *testing.T) {
	w := newWorld(t)
	le, err := fixtures.NewLetsEncryptLike("le-2020", true)
	if err != nil {
		t.Fatal(err)
	}
	useIKSCertAsClient(t, w, le)
	p := w.start(t)
	if code, body := p.get(t, "/status/418"); code != http.StatusTeapot {
		t.Fatalf("GET /status/418 = %d %q, want 418", code, body)
	}
}

// ... and fails at the gateway's handshake with today's serverAuth-only ones.
func TestWalkthroughDesignWithServerAuthOnlyCertificates(t *testing.T) {
	w := newWorld(t)
	useIKSCertAsClient(t, w, w.le)
	p := w.start(t)
	if code, body := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d %q, want 502", code, body)
	}
	p.wantHandshakeError(t, "incompatible key usage")
}

// useIKSCertAsClient rebuilds the world as the walkthrough does: both IKS
// certificates come from le, the ALB presents its own certificate, and the
// gateway trusts le's root.
func useIKSCertAsClient(t *testing.T, w *world, le *fixtures.PKI) {
	t.Helper()
	var err error
	if w.albCert, err = le.IssueFor("*."+albDomain, albDomain); err != nil {
		t.Fatal(err)
	}
	if w.gwCert, err = le.IssueFor(gwDomain, "*."+gwDomain); err != nil {
		t.Fatal(err)
	}
	w.le = le
	w.gwCredential.Data = map[string][]byte{"tls.crt": w.gwCert.ChainPEM, "tls.key": w.gwCert.KeyPEM}
	w.gwCACert.Data = map[string][]byte{"cacert": le.RootPEM}
	w.albClientSecret.Data = map[string][]byte{"tls.crt": w.albCert.ChainPEM, "tls.key": w.albCert.KeyPEM, "ca.crt": le.RootPEM}
}

func TestServerNameOffSendsNoSNI(t *testing.T) {
	w := newWorld(t)
	w.ingress.Annotations[datapath.AnnotationPrefix+"proxy-ssl-server-name"] = "off"
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d, want 502", code)
	}
	p.wantHandshakeError(t, `no filter chain matches SNI ""`)
}

func TestServerNameOnWithoutNameSendsUpstreamBalancer(t *testing.T) {
	w := newWorld(t)
	delete(w.ingress.Annotations, datapath.AnnotationPrefix+"proxy-ssl-name")
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d, want 502", code)
	}
	p.wantHandshakeError(t, `no filter chain matches SNI "upstream_balancer"`)
}

func TestGatewayTrustsAnotherCA(t *testing.T) {
	w := newWorld(t)
	other, err := fixtures.NewPrivateCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	w.gwCACert.Data = map[string][]byte{"ca.crt": other.CertPEM}
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d, want 502", code)
	}
	p.wantHandshakeError(t, "unknown authority")
}

func TestALBTrustsAnotherCA(t *testing.T) {
	w := newWorld(t)
	other, err := fixtures.NewLetsEncryptLike("other", false)
	if err != nil {
		t.Fatal(err)
	}
	w.albClientSecret.Data["ca.crt"] = other.RootPEM
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d, want 502", code)
	}
	if log := p.nginx.ErrorLog(); !strings.Contains(log, "upstream SSL certificate verify error") {
		t.Errorf("nginx error.log lacks the verify error:\n%s", log)
	}
}

// "true" is not "on": ingress-nginx silently leaves verification off, so a
// wrong CA goes unnoticed.
func TestVerifyTrueMeansOff(t *testing.T) {
	w := newWorld(t)
	other, err := fixtures.NewLetsEncryptLike("other", false)
	if err != nil {
		t.Fatal(err)
	}
	w.albClientSecret.Data["ca.crt"] = other.RootPEM
	w.ingress.Annotations[datapath.AnnotationPrefix+"proxy-ssl-verify"] = "true"
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusTeapot {
		t.Fatalf("GET /status/418 = %d, want 418 (verification off)", code)
	}
}

// Without ca.crt in proxy-ssl-secret ingress-nginx configures no client
// certificate at all, and the gateway refuses the connection.
func TestProxySecretWithoutCASendsNoClientCert(t *testing.T) {
	w := newWorld(t)
	delete(w.albClientSecret.Data, "ca.crt")
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusBadGateway {
		t.Fatalf("GET /status/418 = %d, want 502", code)
	}
	p.wantHandshakeError(t, "client didn't provide a certificate")
}

// nginx (OpenSSL 3) counts intermediates against proxy-ssl-verify-depth: the
// default 1 takes leaf → intermediate → root, but not a chain through a
// cross-signed root, which needs 2.
func TestVerifyDepthAndCrossSignedChain(t *testing.T) {
	for _, tc := range []struct {
		depth string
		want  int
	}{{"", http.StatusBadGateway}, {"1", http.StatusBadGateway}, {"2", http.StatusTeapot}} {
		t.Run("depth="+tc.depth, func(t *testing.T) {
			w := newWorld(t)
			x1, err := fixtures.NewLetsEncryptLike("x1", false)
			if err != nil {
				t.Fatal(err)
			}
			cross, err := w.le.CrossSignedBy(x1)
			if err != nil {
				t.Fatal(err)
			}
			// The gateway sends leaf, intermediate, cross-signed root; the ALB trusts only x1.
			w.gwCredential.Data["tls.crt"] = append(append([]byte(nil), w.gwCert.ChainPEM...), cross...)
			w.albClientSecret.Data["ca.crt"] = x1.RootPEM
			if tc.depth == "" {
				delete(w.ingress.Annotations, datapath.AnnotationPrefix+"proxy-ssl-verify-depth")
			} else {
				w.ingress.Annotations[datapath.AnnotationPrefix+"proxy-ssl-verify-depth"] = tc.depth
			}
			p := w.start(t)
			if code, _ := p.get(t, "/status/418"); code != tc.want {
				t.Fatalf("GET /status/418 = %d, want %d", code, tc.want)
			}
			if tc.want == http.StatusBadGateway && !strings.Contains(p.nginx.ErrorLog(), "upstream SSL certificate verify error") {
				t.Errorf("nginx error.log lacks the verify error:\n%s", p.nginx.ErrorLog())
			}
		})
	}
}

// With one intermediate the default depth of 1 is enough.
func TestVerifyDepthDefaultWithOneIntermediate(t *testing.T) {
	w := newWorld(t)
	delete(w.ingress.Annotations, datapath.AnnotationPrefix+"proxy-ssl-verify-depth")
	p := w.start(t)
	if code, _ := p.get(t, "/status/418"); code != http.StatusTeapot {
		t.Fatalf("GET /status/418 = %d, want 418", code)
	}
}
