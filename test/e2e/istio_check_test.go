package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// istioCheckCase changes a chain the plugin set up in a way where the
// tests' own reading of the Gateway and Istio's could differ.
type istioCheckCase struct {
	name string
	// change edits the cluster; pluginCA is the CA the plugin put in
	// -cacert (it issued the ALB's client certificate), foreign one that
	// issued nothing the ALB presents.
	change func(t *testing.T, w *world, pluginCA, foreign []byte)
	// works is whether the gateway Istio configures lets the ALB through:
	// the case's premise, asserted so that it tests what it says.
	works bool
	// checkDisagrees names a known disagreement of check with Istio: the
	// case then passes while it persists and fails once check agrees, so
	// that whoever fixes check also drops the note.
	checkDisagrees string
}

var istioCheckCases = []istioCheckCase{
	{name: "as set up", works: true},
	{
		name: "ca.crt in the credential and the plugin's -cacert",
		change: func(t *testing.T, w *world, _, foreign []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName, map[string]any{"data": map[string]any{"ca.crt": foreign}})
		},
		works: true,
	},
	{
		name: "the plugin's CA in the credential's ca.crt, a foreign -cacert",
		change: func(t *testing.T, w *world, pluginCA, foreign []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName, map[string]any{"data": map[string]any{"ca.crt": pluginCA}})
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string]any{"ca.crt": foreign}})
		},
		works: false,
	},
	{
		name: "cacert and ca.crt in -cacert: cacert is the plugin's",
		change: func(t *testing.T, w *world, pluginCA, foreign []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string]any{"cacert": pluginCA, "ca.crt": foreign}})
		},
		works: true,
	},
	{
		name: "cacert and ca.crt in -cacert: cacert is foreign",
		change: func(t *testing.T, w *world, pluginCA, foreign []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string]any{"cacert": foreign, "ca.crt": pluginCA}})
		},
		works: false,
	},
	{
		name: "no -cacert, the plugin's CA in the credential's ca.crt (cert-manager's layout)",
		change: func(t *testing.T, w *world, pluginCA, _ []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName, map[string]any{"data": map[string]any{"ca.crt": pluginCA}})
			deleteSecret(t, w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert")
		},
		works: true,
	},
	{
		name: "no CA anywhere",
		change: func(t *testing.T, w *world, _, _ []byte) {
			deleteSecret(t, w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert")
		},
		works: false,
	},
	{
		name: "caCertCredentialName names a <name>-cacert holding the plugin's CA",
		change: func(t *testing.T, w *world, pluginCA, _ []byte) {
			createCASecret(t, w.p.IstioNamespace, "other-client-ca-cacert", pluginCA)
			setGatewayTLS(t, w, "caCertCredentialName", "other-client-ca-cacert")
		},
		works: true, // check reads it, verifies the ALB against it, warns ALB0415 and exits 0
	},
	{
		name: "caCertCredentialName names a CA-only secret holding the plugin's CA",
		change: func(t *testing.T, w *world, pluginCA, _ []byte) {
			createCASecret(t, w.p.IstioNamespace, "other-client-ca", pluginCA)
			setGatewayTLS(t, w, "caCertCredentialName", "other-client-ca")
		},
		// Istio reads a name without the -cacert suffix as a certificate and
		// key ("didn't have expected keys (cert and key)"): SDS serves nothing.
		works: false, // check: ALB0416
	},
	{
		name: "caCertCredentialName names a foreign <name>-cacert",
		change: func(t *testing.T, w *world, _, foreign []byte) {
			createCASecret(t, w.p.IstioNamespace, "other-client-ca-cacert", foreign)
			setGatewayTLS(t, w, "caCertCredentialName", "other-client-ca-cacert")
		},
		works: false, // check: ALB0202 against the named -cacert
	},
	{
		name: "caCertCredentialName names the credential itself",
		change: func(t *testing.T, w *world, pluginCA, _ []byte) {
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName, map[string]any{"data": map[string]any{"ca.crt": pluginCA}})
			setGatewayTLS(t, w, "caCertCredentialName", w.p.GatewaySecretName)
		},
		// SDS answers the name with the credential's tls_certificate, which
		// Envoy cannot use as a validation context.
		works: false, // check: ALB0416
	},
}

// TestIstioAgreesWithCheck is the meta-test over the cases: for each, the
// gateway stand-in configured from what Istio's own pilot code generates
// carries the ALB's request (418) or refuses it (502), and `kubectl albistio
// check` must come to the same verdict: exit 0 when Istio's gateway lets the
// ALB through, an error-level finding (exit 8) when it does not.
func TestIstioAgreesWithCheck(t *testing.T) {
	datapath.IstioOrSkip(t)
	datapath.NginxOrSkip(t)
	foreign, err := fixtures.NewPrivateCA("foreign CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range istioCheckCases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			mustSucceed(t, w.setup(t))
			ctx := context.Background()
			cacert, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(ctx, w.p.GatewaySecretName+"-cacert", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pluginCA := cacert.Data["ca.crt"]
			if tc.change != nil {
				tc.change(t, w, pluginCA, foreign.CertPEM)
			}

			pa := w.startPath(t)
			cfg := pa.gateway.Config()
			if cfg.Source != datapath.SourceIstio {
				t.Fatalf("the gateway's configuration came from %q, want Istio", cfg.Source)
			}
			fc := cfg.Istio.Listener(cfg.ListenerPort).ChainFor(w.p.GatewayDomain)
			istioCA, why := "<no filter chain>", ""
			if fc != nil {
				var ca []byte
				ca, why = fc.IstioCAs()
				istioCA = describeCA(ca, pluginCA, foreign.CertPEM)
			}
			code, _ := pa.get(t, w, "/status/418")
			works := code == http.StatusTeapot
			if !works && code != http.StatusBadGateway {
				t.Fatalf("through nginx → gateway: %d, want 418 or 502\nnginx error.log:\n%s", code, pa.nginx.ErrorLog())
			}
			if works != tc.works {
				t.Errorf("Istio's gateway (client CA: %s %s) gave %d, the case expects it to %s; handshake errors: %q",
					istioCA, why, code, map[bool]string{true: "let the ALB through", false: "refuse it"}[tc.works], pa.gateway.HandshakeErrors())
			}
			if !works && !pa.gateway.WaitHandshakeError("", time.Second) {
				t.Errorf("the 502 should come from the gateway's handshake")
			}

			codes, exit, rep := w.check(t)
			agrees := (works && exit == 0) || (!works && exit == 8)
			switch {
			case agrees && tc.checkDisagrees != "":
				t.Errorf("check now agrees with Istio (exit %d %v); drop checkDisagrees (%s)", exit, codes, tc.checkDisagrees)
			case !agrees && tc.checkDisagrees != "":
				t.Logf("KNOWN DISAGREEMENT: Istio's gateway %s the ALB (client CA: %s %s), check exits %d with %v: %s",
					map[bool]string{true: "lets through", false: "refuses"}[works], istioCA, why, exit, codes, tc.checkDisagrees)
			case works && exit != 0:
				t.Errorf("Istio's gateway lets the ALB through (client CA: %s), but check exits %d with %v:\n%s", istioCA, exit, codes, findings(rep))
			case !works && exit != 8:
				t.Errorf("Istio's gateway refuses the ALB (client CA: %s %s; %q), but check exits %d with %v:\n%s", istioCA, why, pa.gateway.HandshakeErrors(), exit, codes, findings(rep))
			}
			t.Logf("Istio: client CA %s %s → %d; check: exit %d %v", istioCA, why, code, exit, codes)
		})
	}
}

// describeCA names which of the known CAs a PEM bundle is.
func describeCA(ca, pluginCA, foreign []byte) string {
	switch {
	case ca == nil:
		return "none served"
	case bytes.Equal(ca, pluginCA):
		return "the plugin's CA"
	case bytes.Equal(ca, foreign):
		return "the foreign CA"
	}
	if b, _ := pem.Decode(ca); b != nil {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			return c.Subject.CommonName
		}
	}
	return "unparsable"
}

func findings(rep checkReport) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(f.Level + " " + f.Code + " " + f.Object + ": " + f.Message + "\n")
	}
	return b.String()
}

func deleteSecret(t *testing.T, ns, name string) {
	t.Helper()
	if err := env.kube.CoreV1().Secrets(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createCASecret(t *testing.T, ns, name string, ca []byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{"ca.crt": ca}}
	if _, err := env.kube.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// setGatewayTLS sets a tls field of the hop Gateway's server.
func setGatewayTLS(t *testing.T, w *world, field string, value any) {
	t.Helper()
	ctx := context.Background()
	res := env.dyn.Resource(gvrOf("networking.istio.io", "v1", "gateways")).Namespace(w.p.IstioNamespace)
	gw, err := res.Get(ctx, w.gatewayName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	if len(servers) != 1 {
		t.Fatalf("the hop Gateway has %d servers, want 1", len(servers))
	}
	if err := unstructured.SetNestedField(servers[0].(map[string]any), value, "tls", field); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(gw.Object, servers, "spec", "servers"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Update(ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
