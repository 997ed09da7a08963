package check

import (
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// caCertKey is where a cert-manager Secret holds the issuing CA, and where
// ingress-nginx and Istio look for a CA.
const caCertKey = "ca.crt"

// CertManagerObject is the part of a cert-manager.io/v1 Issuer or
// Certificate that check reads (cert-manager's Go types are not a
// dependency of the plugin).
type CertManagerObject struct {
	Kind       string
	Namespace  string
	Name       string
	Generation int64
	Spec       CertManagerSpec
	Status     CertManagerStatus
	// ManagedFields say who owns which of its fields (conflictFixes).
	ManagedFields []metav1.ManagedFieldsEntry
}

// CertManagerSpec holds the fields of a Certificate's spec check judges.
// An Issuer's spec decodes into it too, leaving them empty.
type CertManagerSpec struct {
	SecretName  string     `json:"secretName,omitempty"`
	IssuerRef   *IssuerRef `json:"issuerRef,omitempty"`
	IsCA        bool       `json:"isCA,omitempty"`
	DNSNames    []string   `json:"dnsNames,omitempty"`
	Usages      []string   `json:"usages,omitempty"`
	Duration    string     `json:"duration,omitempty"`
	RenewBefore string     `json:"renewBefore,omitempty"`
}

// IssuerRef names the issuer of a Certificate.
type IssuerRef struct {
	Name  string `json:"name,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Group string `json:"group,omitempty"`
}

// CertManagerStatus is what cert-manager reports about an object.
type CertManagerStatus struct {
	Conditions  []CertManagerCondition `json:"conditions,omitempty"`
	NotAfter    string                 `json:"notAfter,omitempty"`
	RenewalTime string                 `json:"renewalTime,omitempty"`
}

// CertManagerCondition is one status condition.
type CertManagerCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
}

// ref names the object as findings do.
func (o *CertManagerObject) ref() string { return ObjectRef(o.Kind, o.Namespace, o.Name) }

// ready reads the Ready condition: whether it is True for the object's
// current generation, and otherwise what cert-manager says instead.
func (o *CertManagerObject) ready() (bool, string) {
	for _, c := range o.Status.Conditions {
		if c.Type != "Ready" {
			continue
		}
		if c.ObservedGeneration != 0 && c.ObservedGeneration < o.Generation {
			return false, fmt.Sprintf("its Ready condition is for generation %d and the object is at generation %d: cert-manager has not acted on its latest spec", c.ObservedGeneration, o.Generation)
		}
		if c.Status == "True" {
			return true, ""
		}
		why := fmt.Sprintf("Ready is %s", quote(c.Status))
		if c.Reason != "" {
			why += fmt.Sprintf(" (%s)", quote(c.Reason))
		}
		if c.Message != "" {
			why += ": " + quote(c.Message)
		}
		return false, why
	}
	return false, "it has no Ready condition: cert-manager has not processed it (is cert-manager running?)"
}

// renewalTime is when cert-manager renews the certificate in leaf: the
// Certificate's status.renewalTime, else its spec.renewBefore before the
// leaf's expiry, else cert-manager's default of a third of the lifetime.
func (o *CertManagerObject) renewalTime(leaf *x509.Certificate) time.Time {
	if t, err := time.Parse(time.RFC3339, o.Status.RenewalTime); err == nil {
		return t
	}
	if d, err := time.ParseDuration(o.Spec.RenewBefore); err == nil && d > 0 {
		return leaf.NotAfter.Add(-d)
	}
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
}

// hopIsCertManager decides whether check judges the hop as cert-manager's,
// as setup resolves --client-identity: the writer of the client secret
// decides (cert-manager marks what it writes, the plugin records its mode);
// with no such mark, --client-identity=cert-manager does; and with the
// client secret gone under auto, a cert-manager mark on the hop's CA or
// server secret (owned are the plugin-labelled secrets of the Istio
// namespace, from the LIST; nil when it was not allowed).
func hopIsCertManager(p *chain.Params, client *corev1.Secret, owned map[string]*corev1.Secret) bool {
	switch identity.HopMode(client) {
	case chain.IdentityCertManager:
		return true
	case "":
	default:
		return false // the plugin wrote it in its own mode
	}
	if p.Identity == chain.IdentityCertManager {
		return true
	}
	if client != nil || p.Identity != chain.IdentityAuto {
		return false
	}
	for _, name := range []string{p.CASecret, p.HopServerSecret()} {
		if sec := owned[name]; sec != nil && sec.Annotations[chain.AnnotationCertManagerCertificate] != "" {
			return true
		}
	}
	return false
}

// issuedSecret is a Secret cert-manager writes for the hop, with the
// Certificate that writes it and the Issuer that Certificate names.
type issuedSecret struct {
	role        string
	certificate *CertManagerObject
	// certificateName is the Certificate's (and the Secret's) name.
	certificateName string
	issuer          string
	secret          *corev1.Secret
}

// issuedSecrets are the hop's cert-manager Secrets: the CA, the ALB's
// client certificate and the gateway's server certificate.
func (in *Input) issuedSecrets() []issuedSecret {
	s, p := in.Snapshot, in.Params
	return []issuedSecret{
		{"the hop's CA", s.CACertificate, p.CASecret, p.SelfSignedIssuer(), s.CASecret},
		{"the ALB's client certificate", s.ClientCertificate, p.ClientSecret, p.CASecret, s.ClientSecret},
		{"the gateway's certificate for " + p.HopServerName(), s.ServerCertificate, p.HopServerSecret(), p.CASecret, s.HopServerSecret},
	}
}

// certificateFor is the hop Certificate that writes sec, nil when sec is
// not one of the hop's cert-manager Secrets or its Certificate is absent.
func (in *Input) certificateFor(sec *corev1.Secret) (*CertManagerObject, bool) {
	if !in.Snapshot.CertManager || sec == nil {
		return nil, false
	}
	for _, is := range in.issuedSecrets() {
		if is.secret == sec {
			return is.certificate, true
		}
	}
	return nil, false
}

// fixCertManagerSecret is the fix line for a Secret cert-manager writes.
func (in *Input) fixCertManagerSecret(name string) string {
	ns := in.Params.IstioNamespace
	return fmt.Sprintf("cert-manager writes this secret from Certificate %s/%s: delete the secret and cert-manager issues it again; kubectl describe certificate -n %s %s shows why it did not", ns, name, ns, name)
}
