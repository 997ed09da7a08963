package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// The hop of a cert-manager world: what cert-manager writes once setup
// wrote its Issuers and Certificates. Its CA issues the ALB's client
// certificate (client auth) and the gateway's certificate for the hop's
// server name (server auth), 90 days each; cert-manager's CA issuer puts
// the leaf alone in tls.crt and the CA in ca.crt.

// hopServerName is chain.Params.HopServerName for the world's gateway Service.
const hopServerName = "istio-ingressgateway." + istioNS + ".svc"

// addHopPKI adds the hop's material to the shared test PKI: "hop.ca",
// "hop.client", "hop.server", and for fixtures a second CA ("hop2.ca",
// as after the CA Secret was re-created) with a server certificate of its
// own ("hop2.server"), a server certificate for another name
// ("hop.server.othername") and a client certificate without client auth
// ("hop.client.serverauth").
func (k *pki) addHopPKI(t *testing.T, now time.Time) {
	t.Helper()
	hop := newHopCA(t, "kubectl-albistio hop CA "+istioNS, now)
	hop2 := newHopCA(t, "kubectl-albistio hop CA "+istioNS, now)
	k.putCA("hop.ca", hop)
	k.putCA("hop2.ca", hop2)
	day := 24 * time.Hour
	k.putLeaf("hop.client", hop, albDomain, x509.ExtKeyUsageClientAuth, now.Add(-time.Hour), now.Add(90*day))
	k.putLeaf("hop.server", hop, hopServerName, x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(90*day))
	k.putLeaf("hop2.server", hop2, hopServerName, x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(90*day))
	k.putLeaf("hop.server.othername", hop, gwDomain, x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(90*day))
	k.putLeaf("hop.client.serverauth", hop, albDomain, x509.ExtKeyUsageServerAuth, now.Add(-time.Hour), now.Add(90*day))
}

func newHopCA(t *testing.T, name string, now time.Time) *certs.CA {
	t.Helper()
	ca, err := certs.NewCA(name, now, 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func (k *pki) putCA(name string, ca *certs.CA) {
	key, err := certs.EncodePrivateKey(ca.Key)
	if err != nil {
		panic(err)
	}
	k.pem[name+".crt"], k.pem[name+".key"] = certs.EncodeCertificates(ca.Cert), key
	k.pem[name+".chain"] = k.pem[name+".crt"]
}

// putLeaf issues a leaf from ca as cert-manager's CA issuer does.
func (k *pki) putLeaf(name string, ca *certs.CA, dnsName string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		panic(err)
	}
	keyPEM, err := certs.EncodePrivateKey(key)
	if err != nil {
		panic(err)
	}
	k.pem[name+".chain"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k.pem[name+".key"] = keyPEM
}

// issueCertManager plays cert-manager on the world's rendered objects:
// it writes the Secret of every Certificate (from the shared hop PKI),
// and marks every Issuer and Certificate Ready, as cert-manager reports an
// issued hop.
func (w *world) issueCertManager(t *testing.T, p *chain.Params) {
	t.Helper()
	k := testPKI(t)
	material := map[string]string{p.CASecret: "hop.ca", p.ClientSecret: "hop.client", p.HopServerSecret(): "hop.server"}
	for _, u := range w.objects {
		if u.GetAPIVersion() != "cert-manager.io/v1" {
			continue
		}
		u.SetGeneration(1)
		ready := map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(1)}
		if u.GetKind() == "Issuer" {
			ready["reason"], ready["message"] = "KeyPairVerified", "Signing CA verified"
			_ = unstructured.SetNestedSlice(u.Object, []any{ready}, "status", "conditions")
			continue
		}
		name := u.GetName()
		m := material[name]
		if m == "" {
			t.Fatalf("no test material for Certificate %s", name)
		}
		leaf, err := certs.ParseCertificates(k.pem[m+".chain"])
		if err != nil {
			t.Fatal(err)
		}
		renewBefore, _, _ := unstructured.NestedString(u.Object, "spec", "renewBefore")
		d, err := time.ParseDuration(renewBefore)
		if err != nil {
			t.Fatalf("Certificate %s: renewBefore %q: %v", name, renewBefore, err)
		}
		ready["reason"], ready["message"] = "Ready", "Certificate is up to date and has not expired"
		_ = unstructured.SetNestedSlice(u.Object, []any{ready}, "status", "conditions")
		_ = unstructured.SetNestedField(u.Object, leaf[0].NotBefore.UTC().Format(time.RFC3339), "status", "notBefore")
		_ = unstructured.SetNestedField(u.Object, leaf[0].NotAfter.UTC().Format(time.RFC3339), "status", "notAfter")
		_ = unstructured.SetNestedField(u.Object, leaf[0].NotAfter.Add(-d).UTC().Format(time.RFC3339), "status", "renewalTime")
		issuer, _, _ := unstructured.NestedString(u.Object, "spec", "issuerRef", "name")
		ca := k.pem["hop.ca.crt"]
		w.objects = append(w.objects, toUnstructured(t, &corev1.Secret{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{
				Namespace: p.IstioNamespace, Name: name, Labels: p.HopLabels(),
				Annotations: map[string]string{
					chain.AnnotationCertManagerCertificate: name,
					"cert-manager.io/issuer-name":          issuer,
					"cert-manager.io/issuer-kind":          "Issuer",
				},
			},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: k.pem[m+".chain"], corev1.TLSPrivateKeyKey: k.pem[m+".key"], caCertKey: ca},
		}))
	}
}

// withoutCertManager drops cert-manager's objects from the world: their
// CRDs are not installed (the Secrets cert-manager wrote stay).
func (w *world) withoutCertManager() {
	var keep []*unstructured.Unstructured
	for _, u := range w.objects {
		if u.GetAPIVersion() != "cert-manager.io/v1" {
			keep = append(keep, u)
		}
	}
	w.objects = keep
	w.certManagerUnserved = true
}

// secret is the world's Secret name in the Istio namespace, decoded.
func (w *world) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	_, u := w.find("Secret " + istioNS + "/" + name)
	if u == nil {
		t.Fatalf("the world has no secret %s/%s", istioNS, name)
	}
	var s corev1.Secret
	if err := fromUnstructured(u, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}
