package datapath_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// clusterLocalSNI is the SNI name cert-manager mode gives the hop: the
// gateway Service's cluster-local name, on a certificate from the chain's CA.
const clusterLocalSNI = "istio-ingressgateway.istio-system.svc"

// istioCase is a world where the tests' own reading of the Gateway and
// Istio's could differ, what Istio must generate for it, and the verdict of
// the data path built from Istio's configuration.
type istioCase struct {
	name string
	// tweak changes the world; other is a CA nothing trusts.
	tweak func(t *testing.T, w *world, other *fixtures.PrivateCA)
	// sni is the name the ALB sends (default gwDomain).
	sni string
	// wantSDS is the validation context the chain names; wantCA what Istio's
	// SDS serves for it (nil: nothing served).
	wantSDS string
	wantCA  func(w *world, other *fixtures.PrivateCA) []byte
	// wantWarning is a substring of one of pilot's warnings.
	wantWarning string
	// want is the status through nginx and the gateway; refusal a substring
	// of the gateway's handshake error when it refuses.
	want    int
	refusal string
	// ownReadingDiffers: the tests' own reading (ReadGateway) comes to
	// another CA than Istio, and why.
	ownReadingDiffers string
}

func clientCA(w *world, _ *fixtures.PrivateCA) []byte             { return w.clientCA.CertPEM }
func otherCA(_ *world, other *fixtures.PrivateCA) []byte          { return other.CertPEM }
func noCA(*world, *fixtures.PrivateCA) []byte                     { return nil }
func withoutCACert(t *testing.T, w *world, _ *fixtures.PrivateCA) { w.gwCACert = nil }

// istioCases are the cases, each asserted against Istio's own output.
var istioCases = []istioCase{
	{
		name:    "the plugin's layout: -cacert holds ca.crt",
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: clientCA, want: http.StatusTeapot,
	},
	{
		name: "ca.crt in the credential and a -cacert: -cacert wins",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCredential.Data["ca.crt"] = other.CertPEM
		},
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: clientCA, want: http.StatusTeapot,
	},
	{
		name: "ca.crt in the credential and a foreign -cacert: -cacert alone, no merge",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCredential.Data["ca.crt"] = w.clientCA.CertPEM
			w.gwCACert.Data = map[string][]byte{"ca.crt": other.CertPEM}
		},
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: otherCA, want: http.StatusBadGateway, refusal: "unknown authority",
	},
	{
		name: "cacert and ca.crt in one secret: cacert first",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCACert.Data = map[string][]byte{"cacert": w.clientCA.CertPEM, "ca.crt": other.CertPEM}
		},
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: clientCA, want: http.StatusTeapot,
	},
	{
		name: "cacert and ca.crt in one secret: a foreign cacert hides ca.crt",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCACert.Data = map[string][]byte{"cacert": other.CertPEM, "ca.crt": w.clientCA.CertPEM}
		},
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: otherCA, want: http.StatusBadGateway, refusal: "unknown authority",
	},
	{
		name: "ca.crt in the credential and no -cacert (cert-manager's layout)",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCACert = nil
			w.gwCredential.Data["ca.crt"] = w.clientCA.CertPEM
		},
		// The listener still names <credential>-cacert; SDS answers it from the credential.
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: clientCA, want: http.StatusTeapot,
	},
	{
		name:    "cert-manager mode: cluster-local SNI, one CA for both ends, no -cacert",
		tweak:   certManagerMode,
		sni:     clusterLocalSNI,
		wantSDS: "kubernetes://" + gwSecret + "-cacert",
		wantCA:  func(w *world, _ *fixtures.PrivateCA) []byte { return w.gwCredential.Data["ca.crt"] },
		want:    http.StatusTeapot,
	},
	{
		name:    "no CA anywhere: the listener names a secret SDS does not serve",
		tweak:   withoutCACert,
		wantSDS: "kubernetes://" + gwSecret + "-cacert", wantCA: noCA,
		wantWarning: "cacert or ca.crt",
		want:        http.StatusBadGateway, refusal: "SDS served no validation context",
		ownReadingDiffers: "", // both: no CA (ReadGateway errors)
	},
	{
		name: "caCertCredentialName names a CA-only secret",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCACert.Data = map[string][]byte{"ca.crt": other.CertPEM}
			w.extra = append(w.extra, caSecret("albistio-client-ca", w.clientCA.CertPEM))
			setServerTLS(w, "caCertCredentialName", "albistio-client-ca")
		},
		wantSDS: "kubernetes://albistio-client-ca", wantCA: noCA,
		want: http.StatusBadGateway, refusal: "cannot be served",
		ownReadingDiffers: "ReadGateway ignores caCertCredentialName and reads -cacert",
	},
	{
		name: "caCertCredentialName names a -cacert secret",
		tweak: func(t *testing.T, w *world, other *fixtures.PrivateCA) {
			w.gwCACert.Data = map[string][]byte{"ca.crt": other.CertPEM}
			w.extra = append(w.extra, caSecret("albistio-client-ca-cacert", w.clientCA.CertPEM))
			setServerTLS(w, "caCertCredentialName", "albistio-client-ca-cacert")
		},
		wantSDS: "kubernetes://albistio-client-ca-cacert", wantCA: clientCA, want: http.StatusTeapot,
		ownReadingDiffers: "ReadGateway ignores caCertCredentialName and reads -cacert",
	},
	{
		name: "caCertCredentialName names the credential: SDS answers with a tls_certificate",
		tweak: func(t *testing.T, w *world, _ *fixtures.PrivateCA) {
			w.gwCredential.Data["ca.crt"] = w.clientCA.CertPEM
			setServerTLS(w, "caCertCredentialName", gwSecret)
		},
		wantSDS: "kubernetes://" + gwSecret, wantCA: noCA,
		want: http.StatusBadGateway, refusal: "not a validation context",
		ownReadingDiffers: "ReadGateway ignores caCertCredentialName and reads -cacert",
	},
}

// certManagerMode rebuilds the world as cert-manager mode leaves it: one CA
// (cert-manager's CA issuer) issues the gateway's server certificate for the
// cluster-local name and the ALB's client certificate; the credential holds
// tls.crt, tls.key and ca.crt; no -cacert exists; the Gateway's server lists
// the cluster-local name and the app host; the ALB sends that name as SNI.
func certManagerMode(t *testing.T, w *world, _ *fixtures.PrivateCA) {
	t.Helper()
	cm, err := fixtures.NewLetsEncryptLike("cert-manager CA", true)
	if err != nil {
		t.Fatal(err)
	}
	server, err := cm.IssueFor(clusterLocalSNI)
	if err != nil {
		t.Fatal(err)
	}
	client, err := cm.IssueFor("alb." + albDomain)
	if err != nil {
		t.Fatal(err)
	}
	w.gwCACert = nil
	w.gwCredential.Data = map[string][]byte{"tls.crt": server.ChainPEM, "tls.key": server.KeyPEM, "ca.crt": cm.RootPEM}
	w.albClientSecret.Data = map[string][]byte{"tls.crt": client.ChainPEM, "tls.key": client.KeyPEM, "ca.crt": cm.RootPEM}
	servers := w.gateway.Object["spec"].(map[string]any)["servers"].([]any)
	servers[1].(map[string]any)["hosts"] = []any{clusterLocalSNI, appNS + "/" + appHost}
	w.ingress.Annotations[datapath.AnnotationPrefix+"proxy-ssl-name"] = clusterLocalSNI
}

func caSecret(name string, pem []byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istioNS}, Data: map[string][]byte{"ca.crt": pem}}
}

// setServerTLS sets a field of the Gateway's MUTUAL server's tls.
func setServerTLS(w *world, field string, value any) {
	servers := w.gateway.Object["spec"].(map[string]any)["servers"].([]any)
	servers[1].(map[string]any)["tls"].(map[string]any)[field] = value
}

// TestIstioDecides builds each case's data path from what Istio's own pilot
// code generates and checks that output: the filter chain for the ALB's SNI,
// its certificate and the CA SDS serves for client verification; then the
// verdict through nginx and the gateway stand-in.
func TestIstioDecides(t *testing.T) {
	for _, tc := range istioCases {
		t.Run(tc.name, func(t *testing.T) {
			datapath.IstioOrSkip(t)
			w := newWorld(t)
			other, err := fixtures.NewPrivateCA("some other CA")
			if err != nil {
				t.Fatal(err)
			}
			if tc.tweak != nil {
				tc.tweak(t, w, other)
			}
			sni := tc.sni
			if sni == "" {
				sni = gwDomain
			}
			p := w.start(t)
			cfg := p.gw.Config()
			if cfg.Source != datapath.SourceIstio {
				t.Fatalf("the gateway's configuration came from %q, want Istio", cfg.Source)
			}
			sum := cfg.Istio
			l := sum.Listener(cfg.ListenerPort)
			if cfg.ListenerPort != 8443 || l == nil {
				t.Fatalf("Istio generated no listener on 8443 (the Service's 443 target); listeners: %+v", sum.Listeners)
			}
			fc := l.ChainFor(sni)
			if fc == nil {
				t.Fatalf("Istio generated no filter chain for SNI %s: %+v", sni, l.FilterChains)
			}
			if fc.TLS == nil || !fc.TLS.RequireClientCertificate {
				t.Fatalf("the filter chain for %s should require a client certificate: %+v", sni, fc.TLS)
			}
			if len(fc.TLS.Certificates) != 1 || !fc.TLS.Certificates[0].Served ||
				fc.TLS.Certificates[0].ChainPEM != string(w.gwCredential.Data["tls.crt"]) {
				t.Errorf("the chain should serve the credential's tls.crt: %+v", fc.TLS.Certificates)
			}
			if fc.TLS.Validation == nil || fc.TLS.Validation.SDS != tc.wantSDS {
				t.Errorf("validation context %+v, want SDS %s", fc.TLS.Validation, tc.wantSDS)
			}
			ca, why := fc.IstioCAs()
			if want := tc.wantCA(w, other); !bytes.Equal(ca, want) {
				t.Errorf("Istio's SDS serves CA %q (%s), want %q", caName(ca), why, caName(want))
			}
			if tc.wantWarning != "" && !sum.WarningsMention(tc.wantWarning) {
				t.Errorf("pilot's warnings %q do not mention %q", sum.Warnings, tc.wantWarning)
			}
			if !routes(fc, appHost) {
				t.Errorf("the chain's routes do not send %s to httpbin: %+v", appHost, fc.VirtualHosts)
			}

			code, body := p.get(t, "/status/418")
			if code != tc.want {
				t.Fatalf("GET /status/418 = %d %q, want %d\nhandshake errors: %q", code, body, tc.want, p.gw.HandshakeErrors())
			}
			if tc.refusal != "" {
				p.wantHandshakeError(t, tc.refusal)
			}
			if code == http.StatusTeapot {
				reqs := p.gw.Requests()
				if len(reqs) != 1 || reqs[0].SNI != sni || !strings.Contains(reqs[0].Cluster, "httpbin."+appNS) {
					t.Errorf("gateway saw %+v, want one request with SNI %s routed to httpbin", reqs, sni)
				}
			}

			// The tests' own reading, for the record: where it differs from Istio it says so.
			kube, dyn := w.clients()
			own, err := datapath.ReadGateway(context.Background(), dyn, kube, appNS, w.gateway.GetName())
			var ownCA []byte
			if err == nil {
				ownCA = own.CAPEM
			}
			agree := bytes.Equal(ownCA, ca)
			switch {
			case tc.ownReadingDiffers == "" && !agree:
				t.Errorf("the tests' own reading takes CA %q (err %v), Istio %q: ReadGateway is out of step with Istio", caName(ownCA), err, caName(ca))
			case tc.ownReadingDiffers != "" && agree:
				t.Errorf("the tests' own reading now agrees with Istio; drop ownReadingDiffers (%s)", tc.ownReadingDiffers)
			case tc.ownReadingDiffers != "":
				t.Logf("the tests' own reading differs, as expected: %s", tc.ownReadingDiffers)
			}
		})
	}
}

// routes reports whether the chain's routes send host to the httpbin cluster.
func routes(fc *datapath.IstioFilterChain, host string) bool {
	for _, vh := range fc.VirtualHosts {
		for _, d := range vh.Domains {
			if d != host {
				continue
			}
			for _, r := range vh.Routes {
				if strings.Contains(r.Cluster, "httpbin."+appNS) {
					return true
				}
			}
		}
	}
	return false
}

// caName names the first certificate of a PEM bundle by its subject.
func caName(p []byte) string {
	if len(p) == 0 {
		return "<none>"
	}
	b, _ := pem.Decode(p)
	if b == nil {
		return "<no PEM>"
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return c.Subject.CommonName
}

// Istio's gateway routes ignore the Host's port (ignore_port_in_host_matching),
// as a Host with the ALB's port (ingress-nginx's $best_http_host) needs.
func TestIstioIgnoresHostPort(t *testing.T) {
	datapath.IstioOrSkip(t)
	w := newWorld(t)
	kube, dyn := w.clients()
	cfg, err := datapath.GatewayFromIstio(context.Background(), dyn, kube, appNS, w.gateway.GetName())
	if err != nil {
		t.Fatal(err)
	}
	if fc := cfg.Istio.Listener(cfg.ListenerPort).ChainFor(gwDomain); fc == nil || !fc.IgnorePort {
		t.Fatalf("Istio's route configuration should ignore the Host's port: %+v", fc)
	}
	gw, err := datapath.StartGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	client, err := tls.X509KeyPair(w.albClientSecret.Data["tls.crt"], w.albClientSecret.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.le.Root)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: gwDomain, Certificates: []tls.Certificate{client}}}}
	for host, want := range map[string]int{appHost + ":31443": http.StatusTeapot, appHost: http.StatusTeapot, gwDomain: http.StatusNotFound} {
		req, err := http.NewRequest(http.MethodGet, "https://"+gw.Addr()+"/status/418", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d (no VirtualService binds the gateway domain)", host, resp.StatusCode, want)
		}
	}
}
