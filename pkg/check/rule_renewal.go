package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// checkRenewal: what only a run of setup renews is named before it goes
// stale. The plugin's copy of the ALB's TLS secret is renewed by nobody:
// IKS renews its own secret in place, and the copy keeps the old
// certificate until setup runs again. In cert-manager mode it is the one
// certificate of the chain that still needs a person, so it is reported at
// once; otherwise (setup has to run anyway for the client certificate) once
// it is within certs.RenewBefore of its expiry, when IKS renews its
// source. The plugin's own client certificate and CA are reported within
// that window too, when setup would renew them. A certificate the validity
// rule already reports (expired, not yet valid, expiring within
// ExpiryWarning), or a copy the copies rule reports stale, is left to that
// finding, whose fix says the same.
func checkRenewal(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	var fs []Finding
	if sec := s.IngressTLSSecret; in.separateIngressTLS() && plugins(sec) && !identity.IKSManaged(sec) {
		leaf := firstCert(sec, corev1.TLSCertKey)
		if leaf != nil && !in.validityReported(sec, corev1.TLSCertKey) && !in.staleCopy(sec, in.albRef()) &&
			(in.certManager() || certs.NeedsRenewal(leaf, in.Now)) {
			also := ""
			if in.certManager() {
				also = ", while cert-manager renews the rest of the hop by itself"
			}
			fs = append(fs, NewFinding(ALBTLSCopyUnrenewed, secretRef(sec), dataField(corev1.TLSCertKey),
				fmt.Sprintf("the ALB serves %s with this copy of %s, which kubectl albistio made and nothing renews; it has %s left: IKS renews its own secret, not this copy, so after IKS's next renewal the ALB keeps serving the old certificate until it expires%s",
					p.Host, in.albRef(), days(leaf.NotAfter.Sub(in.Now)), also),
				in.iksCopyAdvice()+"; or re-run kubectl albistio setup after each IKS renewal"))
		}
	}
	if in.certManager() {
		return fs // cert-manager renews the client certificate and the CA; the cert-manager rule judges that
	}
	certKey, _, _ := in.ClientKeys()
	for _, own := range []struct {
		sec       *corev1.Secret
		key, what string
	}{
		{s.ClientSecret, certKey, "the ALB's client certificate"},
		{s.CASecret, corev1.TLSCertKey, "the private CA"},
	} {
		sec := own.sec
		if !plugins(sec) || in.staleCopy(sec, in.albRef(), p.IstioNamespace+"/"+p.CASecret) {
			continue
		}
		leaf := firstCert(sec, own.key)
		if leaf == nil || in.validityReported(sec, own.key) || !certs.NeedsRenewal(leaf, in.Now) {
			continue
		}
		how := "re-issues"
		if sec.Annotations[chain.AnnotationIdentity] == string(chain.IdentityALBCert) {
			how = "copies IKS's renewed ALB certificate into"
		}
		fs = append(fs, NewFinding(RenewalDue, secretRef(sec), dataField(own.key),
			fmt.Sprintf("%s has %s left, less than the %d days at which setup renews it; nothing renews it until kubectl albistio setup (or secrets) runs",
				own.what, days(leaf.NotAfter.Sub(in.Now)), int(certs.RenewBefore.Hours()/24)),
			fmt.Sprintf("run kubectl albistio setup -n %s: it %s it (use --client-identity=cert-manager where cert-manager is installed, and it renews itself)", p.AppNamespace, how)))
	}
	return fs
}

// plugins says whether the plugin wrote sec (its label, and no
// cert-manager mark: cert-manager copies the label onto what it writes).
func plugins(sec *corev1.Secret) bool {
	return sec != nil && sec.Labels[chain.LabelManagedBy] == chain.FieldManager && sec.Annotations[chain.AnnotationCertManagerCertificate] == ""
}
