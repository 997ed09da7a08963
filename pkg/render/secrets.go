package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// ClientIdentity is what the ALB presents to the gateway and what it trusts
// in return. The secrets package decides it; render only lays it out.
type ClientIdentity struct {
	// Mode is the resolved mode: IdentityALBCert or IdentityPrivateCA.
	Mode chain.IdentityMode
	// CertChainPEM and KeyPEM are the ALB's client certificate (leaf first) and key.
	CertChainPEM, KeyPEM []byte
	// ClientCAPEM is the CA that issued CertChainPEM: the gateway trusts it.
	ClientCAPEM []byte
	// GatewayTrustPEM are the roots the ALB verifies the gateway's server certificate with.
	GatewayTrustPEM []byte
	// Source names where the client certificate comes from ("namespace/name").
	Source string
	// SourceHash fingerprints the source certificate, to detect stale copies.
	SourceHash string
}

// ClientSecretKeys returns the data keys of the ALB's client secret for a
// flavor: certificate, key and trusted CA (flavor.Flavor.ClientSecretKeys).
func ClientSecretKeys(f chain.Flavor) (cert, key, trust string) {
	k := flavor.SecretKeysFor(f)
	return k.Cert, k.Key, k.Trust
}

func secret(p *chain.Params, name string, typ corev1.SecretType, annotations map[string]string, data map[string][]byte) *unstructured.Unstructured {
	return toUnstructured(&corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: p.IstioNamespace,
			Labels: p.HopLabels(), Annotations: annotations,
		},
		Type: typ,
		Data: data,
	})
}

// ClientSecret is the secret the ALB presents to the gateway (alb-certs). It is
// Opaque, like the walkthrough's `kubectl create secret generic`, so that an
// existing alb-certs can be taken over without an immutable type change.
func ClientSecret(p *chain.Params, id *ClientIdentity) *unstructured.Unstructured {
	k := flavor.SecretKeysFor(p.Flavor)
	return secret(p, p.ClientSecret, corev1.SecretTypeOpaque,
		map[string]string{
			chain.AnnotationIdentity:   string(id.Mode),
			chain.AnnotationSource:     id.Source,
			chain.AnnotationSourceHash: id.SourceHash,
		},
		map[string][]byte{k.Cert: id.CertChainPEM, k.Key: id.KeyPEM, k.Trust: id.GatewayTrustPEM})
}

// CACertSecret is <gateway-secret>-cacert: the CA a MUTUAL gateway verifies
// client certificates with. Istio reads it before the credential secret
// itself, so the IKS-owned gateway secret is never touched.
func CACertSecret(p *chain.Params, id *ClientIdentity) *unstructured.Unstructured {
	return secret(p, p.ClientCASecret(), corev1.SecretTypeOpaque,
		map[string]string{chain.AnnotationSource: id.Source, chain.AnnotationSourceHash: id.SourceHash},
		map[string][]byte{"ca.crt": id.ClientCAPEM})
}

// CASecret keeps the private client CA, so later runs issue from the same CA
// and the gateway's -cacert stays valid across renewals of the client cert.
func CASecret(p *chain.Params, certPEM, keyPEM []byte) *unstructured.Unstructured {
	return secret(p, p.CASecret, corev1.SecretTypeTLS, nil,
		map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM})
}

// ALBTLSCopy copies the ALB's TLS secret into the Istio namespace: an
// Ingress's spec.tls can only name a secret in its own namespace, and without
// it the ALB would fall back to its default certificate. The source hash lets
// `check` notice when IKS renewed the source and the copy went stale.
func ALBTLSCopy(p *chain.Params, certPEM, keyPEM []byte, sourceHash string) *unstructured.Unstructured {
	return secret(p, p.ALBSecret, corev1.SecretTypeTLS,
		map[string]string{
			chain.AnnotationSource:     p.ALBSecretNamespace + "/" + p.ALBSecret,
			chain.AnnotationSourceHash: sourceHash,
		},
		map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM})
}

// NeedsALBTLSCopy says whether the ALB secret lives outside the namespace of
// the Ingress that must name it.
func NeedsALBTLSCopy(p *chain.Params) bool { return p.ALBSecretNamespace != p.IstioNamespace }

// KeyPairPEM is a certificate chain and its key, PEM-encoded.
type KeyPairPEM struct{ CertPEM, KeyPEM []byte }

// Material is everything the secrets slice writes, decided from the cluster.
type Material struct {
	// CertManager says cert-manager issues the hop's certificates: the
	// plugin writes CertManagerObjects instead of Identity and CA.
	CertManager bool
	Identity    *ClientIdentity
	// CA is the private client CA; nil unless Identity.Mode is private-ca.
	CA *KeyPairPEM
	// ALBTLS is the copy of the ALB's TLS secret for the Ingress's namespace;
	// nil when the ALB secret already lives there.
	ALBTLS *KeyPairPEM
	// ALBTLSHash fingerprints the ALB certificate the copy was made from.
	ALBTLSHash string
	// HopCA is, in cert-manager mode with the Gateway API, the hop's CA as
	// cert-manager issued it, for the Gateway's client-CA ConfigMap; nil
	// until cert-manager has issued it (setup writes the ConfigMap then).
	HopCA *HopCA
}

// HopCA is a CA certificate copied into the Gateway API client-CA
// ConfigMap, with where it came from.
type HopCA struct {
	CertPEM            []byte
	Source, SourceHash string
}

// Secrets renders the secrets slice: the private CA (when used), the copy of
// the ALB's TLS secret (when needed), the ALB's client secret and the
// gateway's -cacert, in that order. In cert-manager mode it is the
// cert-manager objects that make those certificates, then the copy.
func Secrets(p *chain.Params, m *Material) Objects {
	var objs Objects
	if m.CertManager {
		objs = CertManagerObjects(p)
		if m.ALBTLS != nil {
			objs = append(objs, ALBTLSCopy(p, m.ALBTLS.CertPEM, m.ALBTLS.KeyPEM, m.ALBTLSHash))
		}
		if p.GatewayAPI && m.HopCA != nil {
			objs = append(objs, ClientCAConfigMap(p, m.HopCA.CertPEM, m.HopCA.Source, m.HopCA.SourceHash))
		}
		return objs
	}
	if m.CA != nil {
		objs = append(objs, CASecret(p, m.CA.CertPEM, m.CA.KeyPEM))
	}
	if m.ALBTLS != nil {
		objs = append(objs, ALBTLSCopy(p, m.ALBTLS.CertPEM, m.ALBTLS.KeyPEM, m.ALBTLSHash))
	}
	if p.GatewayAPI {
		// The Gateway API Gateway names its client CA in
		// caCertificateRefs; Istio reads no <gateway-secret>-cacert for it.
		return append(objs, ClientSecret(p, m.Identity), ClientCAConfigMap(p, m.Identity.ClientCAPEM, m.Identity.Source, m.Identity.SourceHash))
	}
	return append(objs, ClientSecret(p, m.Identity), CACertSecret(p, m.Identity))
}

// Namespace is the app namespace `setup --create-namespace` creates, with
// sidecar injection on as the walkthrough labels it.
func Namespace(p *chain.Params) *unstructured.Unstructured {
	l := labels(p)
	l["istio-injection"] = "enabled"
	return toUnstructured(&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: p.AppNamespace, Labels: l},
	})
}
