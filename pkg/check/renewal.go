package check

import (
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// Who renews a certificate of the chain, as the report says it.
const (
	// RenewedByIKS: IKS's own secrets (the ALB's and the gateway's) and the
	// copies IKS keeps (ingress.cloud.ibm.com/cert-source: ibm).
	RenewedByIKS = "IKS"
	// RenewedByCertManager: a Secret cert-manager writes from a Certificate
	// that exists.
	RenewedByCertManager = "cert-manager"
	// RenewedBySetup: what the plugin issued or copied; only a run of
	// kubectl albistio setup (or secrets) renews it.
	RenewedBySetup = "run setup"
	// RenewedByNobody: a Secret cert-manager wrote whose Certificate is gone
	// (or writes another Secret), and a leftover nothing writes any more.
	RenewedByNobody = "nobody"
)

// CertificateStatus is one certificate of the chain in the report: how
// long it has left and who renews it.
type CertificateStatus struct {
	// Role says which certificate of the chain it is: alb-tls (what the ALB
	// serves for --host), alb-tls-source (IKS's secret the plugin copied it
	// from), alb-client, gateway-server, ca (the private or hop CA), or
	// gateway-client-ca (the -cacert the gateway verifies the ALB with).
	Role   string `json:"role"`
	Object string `json:"object"`
	Field  string `json:"field"`
	// Subject is the certificate's common name.
	Subject  string `json:"subject"`
	NotAfter string `json:"notAfter"`
	// DaysLeft is the whole days until NotAfter; once expired, minus the
	// whole days since, at least -1.
	DaysLeft  int    `json:"daysLeft"`
	RenewedBy string `json:"renewedBy"`
	// Note says more about the renewal where it needs saying.
	Note string `json:"note,omitempty"`
}

// roleTitles are the roles as the text report names them.
var roleTitles = map[string]string{
	"alb-tls":           "ALB TLS (served for --host)",
	"alb-tls-source":    "ALB TLS (IKS's source of the copy)",
	"alb-client":        "ALB client certificate",
	"gateway-server":    "gateway server certificate",
	"ca":                "CA issuing the client certificate",
	"gateway-client-ca": "CA the gateway verifies the ALB with",
}

// Certificates lists every certificate of the chain that check could read,
// with its days left and who renews it: the ALB's TLS certificate as the
// Ingress serves it (and IKS's source, when that is a copy), the ALB's
// client certificate, the gateway's server certificate, the private or hop
// CA, and the -cacert where it exists. A missing or unusable secret is not
// listed: the findings say why.
func Certificates(in *Input) []CertificateStatus {
	s := in.Snapshot
	certKey, _, _ := in.ClientKeys()
	type entry struct {
		role string
		sec  *corev1.Secret
		key  string
	}
	var list []entry
	switch {
	case s.IngressTLSSecret != nil && in.separateIngressTLS():
		list = append(list, entry{"alb-tls", s.IngressTLSSecret, corev1.TLSCertKey}, entry{"alb-tls-source", s.ALBSecret, corev1.TLSCertKey})
	case s.IngressTLSSecret != nil:
		list = append(list, entry{"alb-tls", s.IngressTLSSecret, corev1.TLSCertKey})
	}
	list = append(list,
		entry{"alb-client", s.ClientSecret, certKey},
		entry{"gateway-server", in.credentialSecret(), corev1.TLSCertKey},
		entry{"ca", s.CASecret, corev1.TLSCertKey},
	)
	if !in.clientCAElsewhere() {
		list = append(list, entry{"gateway-client-ca", s.CACert, caKeyOf(s.CACert)})
	}
	out := []CertificateStatus{}
	for _, e := range list {
		leaf := firstCert(e.sec, e.key)
		if leaf == nil {
			continue
		}
		by, note := in.renewer(e.sec, e.role, leaf)
		out = append(out, CertificateStatus{
			Role: e.role, Object: secretRef(e.sec), Field: dataField(e.key),
			Subject: clip(leaf.Subject.CommonName), NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339),
			DaysLeft: daysLeft(leaf, in.Now), RenewedBy: by, Note: note,
		})
	}
	return out
}

// caKeyOf is the key Istio reads a -cacert's CA from.
func caKeyOf(s *corev1.Secret) string {
	if s != nil {
		for _, k := range caKeys() {
			if len(s.Data[k]) > 0 {
				return k
			}
		}
	}
	return caCertKey
}

// firstCert is the first certificate under key of sec, nil when there is none.
func firstCert(sec *corev1.Secret, key string) *x509.Certificate {
	cs, _ := parseCerts(sec, key, "")
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

// daysLeft is the whole days from now until c expires; once it has
// expired, minus the whole days since (at least -1, so that an expired
// certificate never shows 0).
func daysLeft(c *x509.Certificate, now time.Time) int {
	left := c.NotAfter.Sub(now)
	if left >= 0 {
		return int(left / (24 * time.Hour))
	}
	return -max(int(-left/(24*time.Hour)), 1)
}

// renewer says who renews sec, the secret of role whose first certificate
// is leaf, and a note where the answer needs one.
func (in *Input) renewer(sec *corev1.Secret, role string, leaf *x509.Certificate) (string, string) {
	s := in.Snapshot
	switch {
	case sameSecret(sec, s.ALBSecret) || sameSecret(sec, s.GatewaySecret):
		return RenewedByIKS, ""
	case identity.IKSManaged(sec):
		return RenewedByIKS, "a copy IKS keeps, marked " + chain.AnnotationIKSCertSource + ": ibm"
	}
	if name := sec.Annotations[chain.AnnotationCertManagerCertificate]; name != "" {
		cert, read := in.certificateFor(sec)
		switch {
		case !read:
			return RenewedByCertManager, fmt.Sprintf("from Certificate %s, which check did not read", quote(name))
		case cert == nil:
			return RenewedByNobody, fmt.Sprintf("cert-manager wrote it, and its Certificate %s/%s does not exist", sec.Namespace, name)
		case cert.Spec.SecretName != sec.Name:
			return RenewedByNobody, fmt.Sprintf("its Certificate %s/%s writes Secret %s instead", sec.Namespace, name, quote(cert.Spec.SecretName))
		}
		return RenewedByCertManager, "renews it at " + cert.renewalTime(leaf).UTC().Format(time.RFC3339)
	}
	if in.certManager() && sec == s.CACert {
		return RenewedByNobody, "a leftover: Istio reads it instead of the ca.crt cert-manager keeps current"
	}
	switch {
	case sec.Annotations[chain.AnnotationSource] == "" && sec.Labels[chain.LabelManagedBy] != chain.FieldManager:
		return RenewedBySetup, "not written by the plugin: setup takes it over"
	case role == "alb-tls":
		return RenewedBySetup, "the plugin's copy of Secret " + in.albRef() + ": IKS renews that one, not this copy"
	case role == "gateway-client-ca":
		return RenewedBySetup, "setup rewrites it with the CA that issues the client certificate"
	case sec.Annotations[chain.AnnotationIdentity] == string(chain.IdentityALBCert):
		return RenewedBySetup, "the plugin's copy of Secret " + in.albRef() + ": setup copies it again once IKS renewed that one"
	case certs.NeedsRenewal(leaf, in.Now):
		return RenewedBySetup, "due: setup renews it now"
	}
	return RenewedBySetup, "setup renews it from " + leaf.NotAfter.Add(-certs.RenewBefore).UTC().Format(time.RFC3339)
}

// sameSecret says whether a and b are one secret.
func sameSecret(a, b *corev1.Secret) bool {
	return a != nil && b != nil && (a == b || a.Namespace == b.Namespace && a.Name == b.Name)
}

// validityReported says whether the validity rule reports a certificate of
// the chain under key of sec (expired, not yet valid, or expiring within
// ExpiryWarning): the renewal rules then leave it to that finding.
func (in *Input) validityReported(sec *corev1.Secret, key string) bool {
	cs, _ := parseCerts(sec, key, "")
	for _, c := range cs {
		if in.Now.After(c.NotAfter) || in.Now.Before(c.NotBefore) || c.NotAfter.Sub(in.Now) < ExpiryWarning {
			return true
		}
	}
	return false
}
