package check

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// TestHopIsCertManager: check judges the hop as setup resolves
// --client-identity: the client secret's writer first, then the flag, then
// (auto, client secret gone) a cert-manager mark on the hop's CA or server
// secret.
func TestHopIsCertManager(t *testing.T) {
	p := testParams(t, chain.FlavorNginx, chain.IdentityAuto, 0)
	sec := func(name string, annotations map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: name, Annotations: annotations}}
	}
	byCertManager := map[string]string{chain.AnnotationCertManagerCertificate: "x"}
	byPlugin := map[string]string{chain.AnnotationIdentity: string(chain.IdentityPrivateCA)}
	for _, tc := range []struct {
		name   string
		flag   chain.IdentityMode
		client *corev1.Secret
		owned  map[string]*corev1.Secret
		want   bool
	}{
		{"auto, cert-manager's client secret", chain.IdentityAuto, sec(p.ClientSecret, byCertManager), nil, true},
		{"private-ca flag, cert-manager's client secret", chain.IdentityPrivateCA, sec(p.ClientSecret, byCertManager), nil, true},
		{"auto, the plugin's client secret", chain.IdentityAuto, sec(p.ClientSecret, byPlugin), nil, false},
		{"cert-manager flag, the plugin's client secret", chain.IdentityCertManager, sec(p.ClientSecret, byPlugin), nil, false},
		{"cert-manager flag, a hand-made client secret", chain.IdentityCertManager, sec(p.ClientSecret, nil), nil, true},
		{"auto, a hand-made client secret", chain.IdentityAuto, sec(p.ClientSecret, nil), nil, false},
		{"cert-manager flag, no client secret", chain.IdentityCertManager, nil, nil, true},
		{"auto, no client secret, cert-manager's CA", chain.IdentityAuto, nil, map[string]*corev1.Secret{p.CASecret: sec(p.CASecret, byCertManager)}, true},
		{"auto, no client secret, cert-manager's server secret", chain.IdentityAuto, nil, map[string]*corev1.Secret{p.HopServerSecret(): sec(p.HopServerSecret(), byCertManager)}, true},
		{"auto, no client secret, the plugin's CA", chain.IdentityAuto, nil, map[string]*corev1.Secret{p.CASecret: sec(p.CASecret, nil)}, false},
		{"private-ca flag, no client secret, cert-manager's CA", chain.IdentityPrivateCA, nil, map[string]*corev1.Secret{p.CASecret: sec(p.CASecret, byCertManager)}, false},
		{"auto, nothing", chain.IdentityAuto, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := *p
			q.Identity = tc.flag
			if got := hopIsCertManager(&q, tc.client, tc.owned); got != tc.want {
				t.Errorf("hopIsCertManager = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadSetsCertManagerMode: Read settles the mode on the parameters, as
// setup does, so what runs after it (the probe) uses the hop's names.
func TestReadSetsCertManagerMode(t *testing.T) {
	in := inputOf(t, newWorld(t, worldOptions{Identity: chain.IdentityCertManager}))
	if !in.Snapshot.CertManager || !in.Snapshot.CertManagerServed || in.Params.Identity != chain.IdentityCertManager {
		t.Fatalf("cert-manager world read as CertManager=%v served=%v identity %s", in.Snapshot.CertManager, in.Snapshot.CertManagerServed, in.Params.Identity)
	}
	for name, o := range map[string]*CertManagerObject{"self-signed Issuer": in.Snapshot.SelfSignedIssuer, "CA Issuer": in.Snapshot.CAIssuer,
		"CA Certificate": in.Snapshot.CACertificate, "client Certificate": in.Snapshot.ClientCertificate, "server Certificate": in.Snapshot.ServerCertificate} {
		if o == nil || o.Generation != 1 {
			t.Errorf("%s not read: %+v", name, o)
		}
	}
	if c := in.Snapshot.ClientCertificate; c != nil && (c.Spec.SecretName != "alb-certs" || c.Spec.IssuerRef == nil || c.Spec.IssuerRef.Name != "albistio-client-ca" || c.Status.RenewalTime == "") {
		t.Errorf("client Certificate read as %+v", c)
	}
	if in.Snapshot.HopServerSecret == nil || in.Snapshot.CASecret == nil || in.Snapshot.CACert != nil {
		t.Errorf("secrets: server %v, CA %v, -cacert %v", in.Snapshot.HopServerSecret != nil, in.Snapshot.CASecret != nil, in.Snapshot.CACert != nil)
	}
	if sni := in.GatewaySNI(); sni != hopServerName {
		t.Errorf("the probe would send SNI %q, want the hop's server name %q", sni, hopServerName)
	}

	plain := inputOf(t, newWorld(t, worldOptions{}))
	if plain.Snapshot.CertManager || plain.Params.Identity != chain.IdentityAuto || plain.Snapshot.ClientCertificate != nil {
		t.Errorf("private-ca world read as cert-manager's")
	}
	if sni := plain.GatewaySNI(); sni != gwDomain {
		t.Errorf("the private-ca probe would send SNI %q, want %q", sni, gwDomain)
	}
}

// TestCertificatesEscapeClusterValues: the certificates table shows a
// crafted common name escaped and shortened, in every format.
func TestCertificatesEscapeClusterValues(t *testing.T) {
	r := NewReport(nil)
	r.Certificates = []CertificateStatus{{Role: "alb-client", Object: "Secret istio-system/alb-certs", Field: "data[tls.crt]",
		Subject: clip(evilValue), NotAfter: "2027-01-01T00:00:00Z", DaysLeft: 3, RenewedBy: RenewedBySetup, Note: "note\x1b[2J\nforged"}}
	for _, format := range []string{FormatText, FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := r.Write(&buf, format, false); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if i := rawControl(out); i >= 0 {
			t.Errorf("%s: raw control at byte %d: %q", format, i, out[max(i-40, 0):min(i+40, len(out))])
		}
		if len(out) > 3000 {
			t.Errorf("%s: %d bytes for one certificate", format, len(out))
		}
		if format == FormatText && strings.Contains(out, "\nforged") {
			t.Errorf("a newline in a note starts a line of its own:\n%s", out)
		}
	}
	if r.Certificates[0].Note != "note\x1b[2J\nforged" {
		t.Error("Write changed the report it was given")
	}
}
