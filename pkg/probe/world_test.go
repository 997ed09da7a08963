package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/internal/testpki"
)

// The chain's names are IKS-shaped, as in check's tests.
const (
	albDomain  = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	gwDomain   = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	istioNS    = "istio-system"
	gatewayIP  = "192.0.2.10"
	gatewayPod = "istio-ingressgateway-7d9f8-abcde"
	gatewaySvc = "Service istio-system/istio-ingressgateway"
)

// pki is what a probe test's ALB and gateway hold: the gateway's
// Let's-Encrypt-shaped server certificate, the ALB's IKS certificate of the
// same shape (serverAuth only, as Let's Encrypt issues since 2026), the
// plugin's private CA and the client certificate it issues (clientAuth),
// and a CA nobody in the chain uses. Keys stay in memory.
type pki struct {
	le, other *testpki.Hierarchy
	gateway   *testpki.Leaf
	// albLE is the ALB's own IKS certificate, which lacks clientAuth.
	albLE *testpki.Leaf
	// privateCA issued client, the identity `secrets` gives the ALB.
	privateCA *certs.CA
	client    *certs.KeyPair
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now()
	k := &pki{le: testpki.New(t, "LE-like", false), other: testpki.New(t, "Other", true)}
	k.gateway = k.le.IssueNow(t, gwDomain, "*."+gwDomain)
	k.albLE = k.le.IssueNow(t, "*."+albDomain, albDomain)
	var err error
	if k.privateCA, err = certs.NewCA("kubectl-albistio client CA", now, certs.DefaultCALifetime); err != nil {
		t.Fatal(err)
	}
	if k.client, err = k.privateCA.Issue(certs.ClientCertRequest{CommonName: albDomain}, now); err != nil {
		t.Fatal(err)
	}
	return k
}

// clientPEM is the private-CA client identity as the client secret holds it.
func (k *pki) clientPEM(t *testing.T) (chainPEM, keyPEM []byte) {
	t.Helper()
	keyPEM, err := certs.EncodePrivateKey(k.client.Key)
	if err != nil {
		t.Fatal(err)
	}
	return certs.EncodeCertificates(k.client.Chain...), keyPEM
}

// alb is what the client secret holds: the certificate chain and key the
// ALB presents, and the CA it verifies the gateway with.
type alb struct {
	chain, key []byte
	trust      *x509.Certificate
}

// goodALB presents the private CA's client certificate and trusts the
// gateway's root: the identity `secrets` writes.
func goodALB(t *testing.T, k *pki) alb {
	c, key := k.clientPEM(t)
	return alb{chain: c, key: key, trust: k.le.Root}
}

// newInput is the Input check reads for a chain whose ALB (of flavor f)
// holds a, behind the gateway Service istio-ingressgateway (port 443 to the
// pods' container port https, 8443, LoadBalancer address gatewayIP) with one
// ready gateway pod: what the probe needs of a snapshot, and nothing else.
func newInput(f chain.Flavor, a alb) *check.Input {
	p := &chain.Params{
		ALBDomain: albDomain, GatewayDomain: gwDomain, IstioNamespace: istioNS,
		Service: "httpbin", AppNamespace: "httptools", Port: 8000,
		Paths: []string{"/status"}, Host: "httpbin." + albDomain,
		GatewaySelector: map[string]string{"istio": "ingressgateway"},
		GatewayService:  "istio-ingressgateway", GatewayServicePort: 443,
		Flavor: f, ClientSecret: "alb-certs",
	}
	keys := flavor.SecretKeysFor(f)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: "alb-certs"},
		Data:       map[string][]byte{keys.Cert: a.chain, keys.Key: a.key},
	}
	if a.trust != nil {
		secret.Data[keys.Trust] = testpki.PEM(a.trust)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: "istio-ingressgateway"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: p.GatewaySelector,
			Ports: []corev1.ServicePort{
				{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "https", Port: 443, TargetPort: intstr.FromString("https")},
			}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: gatewayIP}}}},
	}
	return &check.Input{Params: p, Now: time.Now(), Snapshot: &check.Snapshot{
		ClientSecret: secret, GatewayService: svc,
		GatewayPods: []corev1.Pod{gatewayPodNamed(gatewayPod, true)},
	}}
}

// gatewayPodNamed is a gateway pod whose container serves HTTPS on the
// port named https (8443), as Istio's gateway deployment declares it.
func gatewayPodNamed(name string, ready bool) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: name, Labels: map[string]string{"istio": "ingressgateway"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Ports: []corev1.ContainerPort{
			{Name: "http2", ContainerPort: 8080}, {Name: "https", ContainerPort: 8443},
		}}}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

// gatewayServer is a stand-in for the Istio ingress gateway: a TLS server
// on a loopback port that presents the gateway's certificate, has a filter
// chain for the gateway domain's SNI only, and requires a client
// certificate from clientCAs, as a MUTUAL Gateway does. (A loopback
// listener, not net.Pipe: a TLS 1.3 client-certificate rejection deadlocks
// on a synchronous pipe.)
type gatewayServer struct {
	clientCAs []*x509.Certificate
	// maxVersion caps the TLS version (TLS 1.2 rejects client certificates
	// inside the handshake, TLS 1.3 after it).
	maxVersion uint16
}

// start serves on a loopback port until the test ends and returns its
// address.
func (g gatewayServer) start(t *testing.T, k *pki) string {
	t.Helper()
	cert, err := tls.X509KeyPair(k.gateway.ChainPEM, k.gateway.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range g.clientCAs {
		pool.AddCert(c)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MaxVersion: g.maxVersion,
		// Envoy picks the filter chain by SNI; a ClientHello without the
		// gateway domain's finds none.
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			if h.ServerName != gwDomain {
				return nil, errors.New("no filter chain matches the server name")
			}
			return nil, nil
		},
	}
	mux := http.NewServeMux()
	// The service answers through Envoy, which adds its upstream timing.
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

// closingServer accepts one connection, reads the ClientHello and closes
// it without a TLS alert, as Envoy does when no filter chain matches.
func closingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 512)
		_, _ = conn.Read(buf)
		_ = conn.Close()
	}()
	return ln.Addr().String()
}
