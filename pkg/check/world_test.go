package check

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
	"github.com/albistio/kubectl-albistio/pkg/internal/testpki"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// The world's names are IKS-shaped, as in the render and identity tests.
const (
	albDomain = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	gwDomain  = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	albSecret = "mycluster-a1b2c3-0000"
	gwSecret  = "mycluster-a1b2c3-0001"
	appNS     = "httptools"
	istioNS   = "istio-system"
	gatewayIP = "192.0.2.10"
)

// pki is the certificate material every world draws from. It is generated
// once per test binary: Let's-Encrypt-shaped hierarchies (root →
// intermediate → leaf) for today's serverAuth-only certificates and for the
// clientAuth ones issued before 2026-02-11, and leaves for each fixture's
// needs. Keys stay in memory.
type pki struct {
	le, le2025, other *testpki.Hierarchy
	// pem maps names usable in fixtures ({{b64 "alb.chain"}}) to PEM.
	pem map[string][]byte
}

var (
	sharedPKIOnce sync.Once
	sharedPKI     *pki
)

func testPKI(t *testing.T) *pki {
	t.Helper()
	sharedPKIOnce.Do(func() {
		now := time.Now()
		k := &pki{
			le:     testpki.New(t, "LE-like", false),
			le2025: testpki.New(t, "LE-2025-like", true),
			other:  testpki.New(t, "Other", true),
			pem:    map[string][]byte{},
		}
		leaf := func(name string, l *testpki.Leaf) {
			k.pem[name+".chain"], k.pem[name+".key"] = l.ChainPEM, l.KeyPEM
		}
		k.pem["le.root"] = testpki.PEM(k.le.Root)
		k.pem["le2025.root"] = testpki.PEM(k.le2025.Root)
		k.pem["other.root"] = testpki.PEM(k.other.Root)
		leaf("alb", k.le.IssueNow(t, "*."+albDomain, albDomain))
		leaf("alb2025", k.le2025.IssueNow(t, "*."+albDomain, albDomain))
		leaf("alb.renewed", k.le.IssueNow(t, "*."+albDomain, albDomain))
		leaf("alb2025.renewed", k.le2025.IssueNow(t, "*."+albDomain, albDomain))
		leaf("alb.expired", k.le.Issue(t, now.Add(-91*24*time.Hour), now.Add(-24*time.Hour), "*."+albDomain, albDomain))
		leaf("alb.othername", k.le.IssueNow(t, "*.example.com", "example.com"))
		leaf("gw", k.le.IssueNow(t, gwDomain, "*."+gwDomain))
		leaf("gw.othername", k.le.IssueNow(t, "gateway.example.com"))
		leaf("other.client", k.other.IssueNow(t, "client.example.com"))
		// A second private CA, as a concurrent setup would have created.
		ca2, err := certs.NewCA("kubectl-albistio client CA (another run)", now, certs.DefaultCALifetime)
		if err != nil {
			t.Fatal(err)
		}
		if k.pem["ca2.key"], err = certs.EncodePrivateKey(ca2.Key); err != nil {
			t.Fatal(err)
		}
		k.pem["ca2.crt"] = certs.EncodeCertificates(ca2.Cert)
		k.addHopPKI(t, now)
		sharedPKI = k
	})
	if sharedPKI == nil {
		t.Fatal("generating the test PKI failed")
	}
	return sharedPKI
}

// extraRoots are the roots the world's chains end in (the bundled ISRG
// roots stand for them in production).
func (k *pki) extraRoots() []*x509.Certificate {
	return []*x509.Certificate{k.le.Root, k.le2025.Root}
}

// worldOptions shape a world; fixtures set them in their header.
type worldOptions struct {
	// Flavor is the ALB flavor the plugin rendered for: nginx (default), traefik or classic.
	Flavor chain.Flavor `json:"flavor"`
	// FlavorFlag is --alb-flavor for check: auto by default, classic for classic.
	FlavorFlag chain.Flavor `json:"flavorFlag"`
	// Identity is --client-identity when rendering (default auto).
	Identity chain.IdentityMode `json:"identity"`
	// ALBClientAuth issues the ALB certificate from the pre-2026 hierarchy
	// whose certificates still allow client auth.
	ALBClientAuth bool `json:"albClientAuth"`
	// Istio are the served versions of networking.istio.io; absent means
	// v1, v1beta1 and v1alpha3; an empty list means not served.
	Istio *[]string `json:"istio"`
	// GatewayServicePort is --gateway-service-port (default 443); the
	// gateway Service gets a port of that number too.
	GatewayServicePort int32 `json:"gatewayServicePort"`
	// Now shifts check's clock from the time the certificates were issued ("75d", "-2h").
	Now string `json:"now"`
	// CheckIdentity is --client-identity for check (default: Identity, but
	// auto for a cert-manager world, whose mode check then tells from the
	// client secret, as after setup with the default flags).
	CheckIdentity chain.IdentityMode `json:"checkIdentity"`
	// NoCertManager: the cluster does not serve cert-manager.io (its
	// objects are gone; the Secrets it wrote stay).
	NoCertManager bool `json:"noCertManager"`
	// IKSCopy: IKS keeps a copy of the ALB secret in the Istio namespace
	// (ingress.cloud.ibm.com/cert-source: ibm), so setup wrote none.
	IKSCopy bool `json:"iksCopy"`
	// GatewayAPI puts the gateway side on the Gateway API (world_gatewayapi_test.go).
	GatewayAPI *gatewayAPIOptions `json:"gatewayAPI"`
}

// world is a cluster after `kubectl albistio secrets`, `gateway` and
// `ingress` ran: IKS's objects plus exactly what the plugin renders.
type world struct {
	params  *chain.Params // what check runs with
	objects []*unstructured.Unstructured
	served  []string // nil: Istio not served
	now     time.Time
	roots   []*x509.Certificate
	// certManagerUnserved: cert-manager.io is not served.
	certManagerUnserved bool
	// gatewayAPIUnserved: gateway.networking.k8s.io is not served.
	gatewayAPIUnserved bool
}

func testParams(t *testing.T, flavor chain.Flavor, identity chain.IdentityMode, port int32) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	if port != 0 {
		f.GatewayServicePort = port
	}
	f.ALBDomain, f.ALBSecret, f.GatewayDomain, f.GatewaySecret = albDomain, albSecret, gwDomain, gwSecret
	f.Flavor, f.Identity = string(flavor), string(identity)
	f.GatewaySelector = "istio=ingressgateway"
	p, err := f.Resolve(appNS, func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func gatewayLabels() map[string]string {
	return map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	k := testPKI(t)
	if o.Flavor == "" {
		o.Flavor = chain.FlavorNginx
	}
	if o.FlavorFlag == "" {
		o.FlavorFlag = chain.FlavorAuto
		if o.Flavor == chain.FlavorClassic {
			o.FlavorFlag = chain.FlavorClassic
		}
	}
	if o.Identity == "" {
		o.Identity = chain.IdentityAuto
	}
	served := []string{"v1", "v1beta1", "v1alpha3"}
	if o.Istio != nil {
		served = *o.Istio
	}
	istioVersion := "v1"
	for _, v := range render.IstioVersions {
		if slices.Contains(served, v) {
			istioVersion = v
			break
		}
	}
	checkIdentity := o.CheckIdentity
	if checkIdentity == "" {
		checkIdentity = o.Identity
		if o.Identity == chain.IdentityCertManager {
			checkIdentity = chain.IdentityAuto
		}
	}
	now := time.Now()
	w := &world{params: testParams(t, o.FlavorFlag, checkIdentity, o.GatewayServicePort), now: now, roots: k.extraRoots()}
	if len(served) > 0 {
		w.served = served
	}
	if o.Now != "" {
		d, err := parseOffset(o.Now)
		if err != nil {
			t.Fatal(err)
		}
		w.now = now.Add(d)
	}

	albName := "alb"
	if o.ALBClientAuth {
		albName = "alb2025"
	}
	albSec := tlsSecret("default", albSecret, k.pem[albName+".chain"], k.pem[albName+".key"])
	gwSec := tlsSecret(istioNS, gwSecret, k.pem["gw.chain"], k.pem["gw.key"])

	rp := testParams(t, o.Flavor, o.Identity, o.GatewayServicePort)
	if o.GatewayAPI != nil {
		gatewayAPIParams(w.params)
		gatewayAPIParams(rp)
	}
	var iksCopy *corev1.Secret
	if o.IKSCopy {
		iksCopy = tlsSecret(istioNS, albSecret, k.pem[albName+".chain"], k.pem[albName+".key"])
		iksCopy.Annotations = map[string]string{chain.AnnotationIKSCertSource: "ibm"}
	}
	d, err := identity.Decide(identity.Inputs{Params: rp, ALBSecret: albSec, GatewaySecret: gwSec, ALBTLSInIstio: iksCopy, ExtraRoots: k.extraRoots(), Now: now})
	if err != nil {
		t.Fatalf("rendering the world: %v", err)
	}
	backend := render.Backend{VerifyDepth: d.GatewayVerifyDepth, Selector: gatewayLabels(), TargetPort: intstr.FromInt32(8443)}
	rendered, err := render.Chain(rp, d.Material, backend, istioVersion, render.SingleChain(rp))
	if err != nil {
		t.Fatal(err)
	}

	add := func(obj any) { w.objects = append(w.objects, toUnstructured(t, obj)) }
	add(namespace(istioNS, nil))
	add(namespace("default", nil))
	add(namespace(appNS, map[string]string{"istio-injection": "enabled"}))
	switch o.Flavor {
	case chain.FlavorNginx:
		add(ingressClass("public-iks-k8s-nginx", "k8s.io/ingress-nginx"))
		add(ingressClass("private-iks-k8s-nginx", "k8s.io/ingress-nginx"))
	case chain.FlavorTraefik:
		add(ingressClass("public-iks-traefik", "traefik.io/ingress-controller"))
	}
	add(albSec)
	add(gwSec)
	if iksCopy != nil {
		add(iksCopy)
	}
	add(gatewayService(rp.GatewayServicePort))
	add(gatewayPod("istio-ingressgateway-7d9f8-abcde"))
	add(&corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "httpbin", Labels: map[string]string{"app": "httpbin"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "httpbin"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromInt32(8080)}}},
	})
	// Deep copies: rendered objects may share maps (the leaves' issuerRef),
	// which a fixture's patch of one must not change in the other.
	for _, u := range rendered {
		w.objects = append(w.objects, u.DeepCopy())
	}
	if o.GatewayAPI != nil {
		w.toGatewayAPI(t, rp, *o.GatewayAPI)
	}
	if rp.CertManager() {
		w.issueCertManager(t, rp)
		if o.NoCertManager {
			w.withoutCertManager()
		}
	}
	return w
}

// parseOffset reads "75d", "-2h" or any time.ParseDuration value.
func parseOffset(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil {
			return 0, fmt.Errorf("offset %q: %w", s, err)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func tlsSecret(ns, name string, certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func ingressClass(name, controller string) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networkingv1.IngressClassSpec{Controller: controller},
	}
}

// gatewayService is istio-ingressgateway as Istio's installer creates it
// on IKS, with the LoadBalancer address the nlb-dns subdomain points at.
func gatewayService(port int32) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: "istio-ingressgateway", Labels: gatewayLabels()},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: gatewayLabels(),
			Ports: []corev1.ServicePort{
				{Name: "status-port", Port: 15021, TargetPort: intstr.FromInt32(15021)},
				{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)},
			},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: gatewayIP}}}},
	}
	if port != 443 {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "https-alt", Port: port, TargetPort: intstr.FromInt32(8443)})
	}
	return svc
}

func gatewayPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: name, Labels: gatewayLabels()},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 8443}, {Name: "http-envoy-prom", ContainerPort: 15090}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func toUnstructured(t *testing.T, obj any) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

// key names an object the way findings and fixture targets do.
func key(u *unstructured.Unstructured) string {
	return ObjectRef(u.GetKind(), u.GetNamespace(), u.GetName())
}

// find returns the world's object named target ("Kind namespace/name").
func (w *world) find(target string) (int, *unstructured.Unstructured) {
	for i, u := range w.objects {
		if key(u) == target {
			return i, u
		}
	}
	return -1, nil
}

// b64 and friends are the template functions fixtures use to place
// generated certificates.
func (k *pki) funcs() map[string]any {
	get := func(name string) ([]byte, error) {
		v, ok := k.pem[name]
		if !ok {
			return nil, fmt.Errorf("no test material %q", name)
		}
		return v, nil
	}
	return map[string]any{
		"b64": func(name string) (string, error) {
			v, err := get(name)
			return base64.StdEncoding.EncodeToString(v), err
		},
		// pem places PEM text in a YAML block scalar indented by n
		// spaces (a ConfigMap's data holds strings, not base64).
		"pem": func(name string, n int) (string, error) {
			v, err := get(name)
			pad := strings.Repeat(" ", n)
			return pad + strings.ReplaceAll(strings.TrimSpace(string(v)), "\n", "\n"+pad), err
		},
		"fp": func(name string) (string, error) {
			v, err := get(name + ".chain")
			if err != nil {
				return "", err
			}
			cs, err := certs.ParseCertificates(v)
			if err != nil {
				return "", err
			}
			return identity.Fingerprint(cs), nil
		},
	}
}

// mergePatch applies an RFC 7386 JSON merge patch to doc.
func mergePatch(doc, patch map[string]any) map[string]any {
	if doc == nil {
		doc = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(doc, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			dm, _ := doc[k].(map[string]any)
			doc[k] = mergePatch(dm, pm)
			continue
		}
		doc[k] = v
	}
	return doc
}

// roundTrip normalises a value to JSON types.
func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
