package datapath_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// These tests need neither nginx nor an API server.

func TestProxySSLAnnotationsParsedLikeIngressNginx(t *testing.T) {
	a := func(k string) string { return datapath.AnnotationPrefix + k }
	for _, tc := range []struct {
		name   string
		set    map[string]string
		unset  []string
		check  func(*testing.T, *datapath.ProxySSL)
		denied string
	}{
		{name: "as the plugin writes it", check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.Verify != "on" || p.VerifyDepth != 2 || p.ServerName != "on" || p.Name != gwDomain || !p.HasClientCert || !p.HasCA {
				t.Errorf("%+v", p)
			}
		}},
		{name: "verify true is off", set: map[string]string{a("proxy-ssl-verify"): "true"}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.Verify != "off" {
				t.Errorf("verify = %q", p.Verify)
			}
		}},
		{name: "verify On is off", set: map[string]string{a("proxy-ssl-verify"): "On"}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.Verify != "off" {
				t.Errorf("verify = %q", p.Verify)
			}
		}},
		{name: "defaults", unset: []string{a("proxy-ssl-verify"), a("proxy-ssl-verify-depth"), a("proxy-ssl-name"), a("proxy-ssl-server-name")}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.Verify != "off" || p.VerifyDepth != 1 || p.ServerName != "off" || p.Name != "" || p.Protocols != datapath.DefaultProxySSLProtocols || p.Ciphers != "DEFAULT" {
				t.Errorf("%+v", p)
			}
		}},
		{name: "server-name true is off", set: map[string]string{a("proxy-ssl-server-name"): "true"}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.ServerName != "off" {
				t.Errorf("server name = %q", p.ServerName)
			}
		}},
		{name: "depth not a number", set: map[string]string{a("proxy-ssl-verify-depth"): "two"}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.VerifyDepth != 1 {
				t.Errorf("depth = %d", p.VerifyDepth)
			}
		}},
		{name: "protocols sorted", set: map[string]string{a("proxy-ssl-protocols"): "TLSv1.3 TLSv1.2"}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p.Protocols != "TLSv1.2 TLSv1.3" {
				t.Errorf("protocols = %q", p.Protocols)
			}
		}},
		{name: "no secret: nothing else counts", unset: []string{a("proxy-ssl-secret")}, check: func(t *testing.T, p *datapath.ProxySSL) {
			if p != nil {
				t.Errorf("proxy SSL configured without proxy-ssl-secret: %+v", p)
			}
		}},
		{name: "secret without namespace", set: map[string]string{a("proxy-ssl-secret"): albClient}, denied: "invalid format"},
		{name: "secret in another namespace", set: map[string]string{a("proxy-ssl-secret"): "default/" + albClient}, denied: "cross namespace"},
		{name: "missing secret", set: map[string]string{a("proxy-ssl-secret"): istioNS + "/nope"}, denied: "error obtaining certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			for k, v := range tc.set {
				w.ingress.Annotations[k] = v
			}
			for _, k := range tc.unset {
				delete(w.ingress.Annotations, k)
			}
			kube, _ := w.clients()
			cfg, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Servers) != 1 || len(cfg.Servers[0].Locations) != 2 {
				t.Fatalf("servers %+v, want one with the two locations of Prefix /status", cfg.Servers)
			}
			loc := cfg.Servers[0].Locations[1]
			if loc.Match != "/status/" || cfg.Servers[0].Locations[0].Match != "= /status" {
				t.Errorf("locations %q %q", cfg.Servers[0].Locations[0].Match, loc.Match)
			}
			if tc.denied != "" {
				if !strings.Contains(loc.Denied, tc.denied) {
					t.Errorf("denied = %q, want %q", loc.Denied, tc.denied)
				}
				return
			}
			if loc.Denied != "" || loc.Unavailable != "" {
				t.Fatalf("location denied %q / unavailable %q", loc.Denied, loc.Unavailable)
			}
			tc.check(t, loc.ProxySSL)
		})
	}
}

func TestBackendProtocolAndBackends(t *testing.T) {
	for _, tc := range []struct{ value, want string }{{"HTTPS", "HTTPS"}, {"https", "HTTPS"}, {"TLS", "HTTP"}, {"", "HTTP"}} {
		w := newWorld(t)
		w.ingress.Annotations[datapath.AnnotationPrefix+"backend-protocol"] = tc.value
		kube, _ := w.clients()
		cfg, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Servers[0].Locations[0].BackendProtocol; got != tc.want {
			t.Errorf("backend-protocol %q parsed as %q, want %q", tc.value, got, tc.want)
		}
	}

	w := newWorld(t)
	w.ingress.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 8443
	kube, _ := w.clients()
	cfg, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if u := cfg.Servers[0].Locations[0].Unavailable; !strings.Contains(u, "no port 8443") {
		t.Errorf("backend on a port the Service lacks: unavailable = %q", u)
	}
}

func TestServerCertificateFallsBackToDefault(t *testing.T) {
	w := newWorld(t)
	// The walkthrough's Ingress names the ALB secret, which lives in default, from istio-system.
	w.ingress.Spec.TLS[0].SecretName = "mycluster-abc123-0000"
	kube, _ := w.clients()
	cfg, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	if s.TLSSecret != "" || string(s.CertKeyPEM) != string(cfg.DefaultCertPEM) || len(cfg.Warnings) == 0 {
		t.Errorf("server uses %q, warnings %q; want the default certificate and a warning", s.TLSSecret, cfg.Warnings)
	}
}

func TestIngressClassMustBeIngressNginx(t *testing.T) {
	w := newWorld(t)
	traefik := fixtures.TraefikClass().Name
	w.ingress.Spec.IngressClassName = &traefik
	w.extra = append(w.extra, ingressClass(fixtures.TraefikClass()))
	kube, _ := w.clients()
	if _, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "traefik") {
		t.Errorf("err = %v, want one naming the traefik controller", err)
	}
	w.ingress.Spec.IngressClassName = nil
	if _, err := datapath.NginxFromIngress(context.Background(), kube, w.ingress, "127.0.0.1:1"); err == nil {
		t.Error("an Ingress without class is served although no ingress-nginx class is the default")
	}
}

// The tests' own reading of a Gateway (ReadGateway), which TestIstioDecides
// compares with Istio's.
func TestGatewayFromObjects(t *testing.T) {
	ctx := context.Background()
	t.Run("cacert secret first", func(t *testing.T) {
		w := newWorld(t)
		w.gwCACert.Data["cacert"] = w.gwCACert.Data["ca.crt"]
		w.gwCACert.Data["ca.crt"] = []byte("ignored")
		w.gwCredential.Data["ca.crt"] = []byte("ignored too")
		kube, dyn := w.clients()
		cfg, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CASource != istioNS+"/"+gwSecret+"-cacert cacert" || cfg.WorkloadNamespace != istioNS {
			t.Errorf("CA from %q, workload namespace %q", cfg.CASource, cfg.WorkloadNamespace)
		}
		if strings.Join(cfg.Hosts, ",") != gwDomain+","+appHost {
			t.Errorf("hosts %q: the namespace prefix should be gone", cfg.Hosts)
		}
	})
	t.Run("falls back to the credential's ca.crt", func(t *testing.T) {
		w := newWorld(t)
		w.gwCredential.Data["ca.crt"] = w.gwCACert.Data["ca.crt"]
		w.gwCACert.Name = "unrelated"
		kube, dyn := w.clients()
		cfg, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CASource != istioNS+"/"+gwSecret+" ca.crt" {
			t.Errorf("CA from %q", cfg.CASource)
		}
	})
	t.Run("no CA at all", func(t *testing.T) {
		w := newWorld(t)
		w.gwCACert.Name = "unrelated"
		kube, dyn := w.clients()
		if _, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName()); err == nil || !strings.Contains(err.Error(), "MUTUAL needs a CA") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("v1beta1 only", func(t *testing.T) {
		w := newWorld(t)
		w.gateway.SetAPIVersion("networking.istio.io/v1beta1")
		kube, dyn := w.clients()
		if _, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName()); err != nil {
			t.Error(err)
		}
	})
	t.Run("SIMPLE is not MUTUAL", func(t *testing.T) {
		w := newWorld(t)
		servers := w.gateway.Object["spec"].(map[string]any)["servers"].([]any)
		servers[1].(map[string]any)["tls"].(map[string]any)["mode"] = "SIMPLE"
		kube, dyn := w.clients()
		if _, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName()); err == nil || !strings.Contains(err.Error(), "MUTUAL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("gateway pods in several namespaces", func(t *testing.T) {
		w := newWorld(t)
		no := false
		w.extra = append(w.extra, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway-0", Namespace: "istio-system-2", Labels: fixtures.GatewayLabels()},
			Spec:       corev1.PodSpec{AutomountServiceAccountToken: &no},
		})
		kube, dyn := w.clients()
		if _, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName()); err == nil || !strings.Contains(err.Error(), "InWorkloadNamespace") {
			t.Errorf("err = %v, want a hint to name the workload namespace", err)
		}
		cfg, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName(), datapath.InWorkloadNamespace(istioNS))
		if err != nil || cfg.WorkloadNamespace != istioNS {
			t.Errorf("with InWorkloadNamespace: %v, %+v", err, cfg)
		}
	})
	t.Run("selector matches no pod", func(t *testing.T) {
		w := newWorld(t)
		w.gateway.Object["spec"].(map[string]any)["selector"] = map[string]any{"istio": "egressgateway"}
		kube, dyn := w.clients()
		if _, err := datapath.ReadGateway(ctx, dyn, kube, appNS, w.gateway.GetName()); err == nil || !strings.Contains(err.Error(), "matches no gateway pod") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestMatchesSNI(t *testing.T) {
	cfg := &datapath.GatewayConfig{Hosts: []string{"a.example.com", "*.wild.example.com"}}
	for sni, want := range map[string]bool{
		"a.example.com": true, "A.Example.com": true, "b.example.com": false, "": false,
		"x.wild.example.com": true, "y.x.wild.example.com": true, "wild.example.com": false,
	} {
		if got := cfg.MatchesSNI(sni); got != want {
			t.Errorf("MatchesSNI(%q) = %v, want %v", sni, got, want)
		}
	}
	if !(&datapath.GatewayConfig{Hosts: []string{"*"}}).MatchesSNI("") {
		t.Error(`host "*" should match even without SNI`)
	}
}

// The gateway alone, with Go as the client: the key-usage rule Envoy applies.
// The configuration is the tests' own reading, whose CA the test extends.
func TestGatewayChecksClientKeyUsage(t *testing.T) {
	w := newWorld(t)
	kube, dyn := w.clients()
	cfg, err := datapath.ReadGateway(context.Background(), dyn, kube, appNS, w.gateway.GetName())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := datapath.StartGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	roots := x509.NewCertPool()
	roots.AddCert(w.le.Root)
	get := func(client tls.Certificate) (int, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: gwDomain, Certificates: []tls.Certificate{client},
		}}}
		req, err := http.NewRequest(http.MethodGet, "https://"+gw.Addr()+"/status/418", nil)
		if err != nil {
			return 0, err
		}
		req.Host = gwDomain // as a client of the gateway domain sends it: the gateway routes by host
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	good, err := tls.X509KeyPair(w.albClientSecret.Data["tls.crt"], w.albClientSecret.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	if code, err := get(good); err != nil || code != http.StatusTeapot {
		t.Fatalf("with the clientAuth certificate: %d, %v", code, err)
	}

	// Trust the IKS root too, so only the missing clientAuth usage can fail.
	cfg.CAPEM = append(cfg.CAPEM, w.le.RootPEM...)
	gw2, err := datapath.StartGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer gw2.Close()
	gw = gw2
	serverOnly, err := tls.X509KeyPair(w.albCert.ChainPEM, w.albCert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(serverOnly); err == nil {
		t.Fatal("a serverAuth-only client certificate was accepted")
	}
	// The client sees the alert before the server logs why it sent it.
	if !gw.WaitHandshakeError("x509: certificate specifies an incompatible key usage", 5*time.Second) {
		t.Errorf("the gateway did not log the key usage as the reason; last handshake error %q", gw.LastHandshakeError())
	}
}

func ingressClass(c fixtures.IngressClass) runtime.Object {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: c.Name}, Spec: networkingv1.IngressClassSpec{Controller: c.Controller}}
}
