package identity

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

func clientSecret(annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "alb-certs", Annotations: annotations}}
}

// TestResolveMode: auto never moves an existing hop, takes cert-manager
// for a new hop where it is served, and no explicit mode moves a hop
// between cert-manager and the plugin's own issuance in place.
func TestResolveMode(t *testing.T) {
	byCertManager := clientSecret(map[string]string{chain.AnnotationCertManagerCertificate: "alb-certs"})
	byPlugin := clientSecret(map[string]string{chain.AnnotationIdentity: string(chain.IdentityPrivateCA)})
	foreign := clientSecret(nil)
	for _, tc := range []struct {
		name    string
		want    chain.IdentityMode
		client  *corev1.Secret
		served  bool
		mode    chain.IdentityMode
		errWith string
	}{
		{"new hop, cert-manager served", chain.IdentityAuto, nil, true, chain.IdentityCertManager, ""},
		{"new hop, no cert-manager", chain.IdentityAuto, nil, false, chain.IdentityAuto, ""},
		{"cert-manager hop stays", chain.IdentityAuto, byCertManager, true, chain.IdentityCertManager, ""},
		{"cert-manager hop stays even if its API went", chain.IdentityAuto, byCertManager, false, chain.IdentityCertManager, ""},
		{"private-ca hop stays though cert-manager came", chain.IdentityAuto, byPlugin, true, chain.IdentityAuto, ""},
		{"someone's alb-certs: decided as before", chain.IdentityAuto, foreign, true, chain.IdentityAuto, ""},
		{"explicit cert-manager", chain.IdentityCertManager, nil, true, chain.IdentityCertManager, ""},
		{"explicit cert-manager, not served", chain.IdentityCertManager, nil, false, "", "does not serve cert-manager.io/v1"},
		{"explicit cert-manager over the plugin's", chain.IdentityCertManager, byPlugin, true, "", "cleanup for every chain"},
		{"explicit private-ca over cert-manager's", chain.IdentityPrivateCA, byCertManager, true, "", "keep --client-identity=cert-manager"},
		{"explicit alb-cert over cert-manager's", chain.IdentityALBCert, byCertManager, false, "", "Certificate alb-certs"},
		{"explicit private-ca", chain.IdentityPrivateCA, byPlugin, true, chain.IdentityPrivateCA, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, err := ResolveMode(tc.want, tc.client, tc.served)
			if tc.errWith != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWith) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errWith)
				}
				return
			}
			if err != nil || mode != tc.mode {
				t.Fatalf("ResolveMode = %q, %v; want %q", mode, err, tc.mode)
			}
		})
	}
}

// TestCertManagerDecision: cert-manager mode plans no key and no
// certificate, needs neither the gateway's IKS secret nor the plugin's CA,
// and verifies the hop's own server certificate at depth 1.
func TestCertManagerDecision(t *testing.T) {
	w := newWorld(t, false)
	in := w.inputs(t, chain.IdentityCertManager)
	in.GatewaySecret = nil // not read in this mode
	d, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Material
	if d.Mode != chain.IdentityCertManager || !m.CertManager || m.Identity != nil || m.CA != nil {
		t.Fatalf("decision = %s, material %+v: want cert-manager with no identity or CA of the plugin's", d.Mode, m)
	}
	if d.GatewayVerifyDepth != 1 {
		t.Errorf("verify depth = %d, want 1 (the hop's CA signs the gateway's certificate)", d.GatewayVerifyDepth)
	}
	if m.ALBTLS == nil {
		t.Error("the ALB secret lives in default: the Ingress still needs a copy")
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), "istio-ingressgateway.istio-system.svc") {
		t.Errorf("the note should name the SNI the ALB sends: %q", d.Notes)
	}
}

// TestIKSManagedCopyIsUsed: a secret IKS keeps in the Istio namespace
// (cert-source: ibm) is renewed by IKS, so no copy is planned over it; one
// of the plugin's, or one for another host, is not IKS's to renew.
func TestIKSManagedCopyIsUsed(t *testing.T) {
	w := newWorld(t, false)
	iks := tlsSecret("istio-system", "alb", w.alb.ChainPEM, w.alb.KeyPEM)
	iks.Annotations = map[string]string{chain.AnnotationIKSCertSource: "ibm"}
	ours := iks.DeepCopy()
	ours.Annotations[chain.AnnotationSource] = "default/alb"
	other := tlsSecret("istio-system", "alb", w.gw.ChainPEM, w.gw.KeyPEM)
	other.Annotations = map[string]string{chain.AnnotationIKSCertSource: "ibm"}
	for _, mode := range []chain.IdentityMode{chain.IdentityPrivateCA, chain.IdentityCertManager} {
		for _, tc := range []struct {
			name     string
			existing *corev1.Secret
			copied   bool
		}{{"IKS's", iks, false}, {"the plugin's", ours, true}, {"IKS's for another host", other, true}, {"none", nil, true}} {
			in := w.inputs(t, mode)
			in.ALBTLSInIstio = tc.existing
			d, err := Decide(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Material.ALBTLS != nil; got != tc.copied {
				t.Errorf("%s, %s in istio-system: copy planned = %v, want %v", mode, tc.name, got, tc.copied)
			}
			said := strings.Contains(strings.Join(d.Notes, "\n"), "kept by IKS")
			if said == tc.copied {
				t.Errorf("%s, %s: the notes %q should say IKS keeps the secret exactly when no copy is planned", mode, tc.name, d.Notes)
			}
		}
	}
}
