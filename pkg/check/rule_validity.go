package check

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// ExpiryWarning is how long before its expiry a certificate is reported:
// three weeks leaves time to notice that IKS did not renew (it renews well
// before) or that nobody re-ran `secrets`.
const ExpiryWarning = 21 * 24 * time.Hour

// presented is a certificate chain some party presents during the chain's
// handshakes, and what to do when it is outside its validity.
type presented struct {
	secret *corev1.Secret
	key    string
	fix    string
}

// presentedChains lists the chains that are presented to someone: the ALB's
// and the gateway's server certificates, the ALB's client certificate, the
// Ingress's copy, and the private CA (which issues the client certificate).
// Trust bundles (ca.crt) are judged by the trust rules instead: an expired
// extra root in a bundle is harmless.
func (in *Input) presentedChains() []presented {
	s := in.Snapshot
	if in.certManager() {
		list := []presented{{s.ALBSecret, corev1.TLSCertKey, fixALBSource(in)}}
		for _, is := range in.issuedSecrets() {
			list = append(list, presented{is.secret, corev1.TLSCertKey, in.fixCertManagerRenewal(is.certificateName)})
		}
		if in.separateIngressTLS() {
			list = append(list, presented{s.IngressTLSSecret, corev1.TLSCertKey, in.fixIngressTLSCopy()})
		}
		return list
	}
	certKey, _, _ := in.ClientKeys()
	list := []presented{
		{s.ALBSecret, corev1.TLSCertKey, fixALBSource(in)},
		{s.GatewaySecret, corev1.TLSCertKey, fixGatewaySource(in)},
		{s.ClientSecret, certKey, "re-run kubectl albistio secrets: it renews the client certificate, or copies the renewed ALB certificate"},
	}
	if in.separateIngressTLS() {
		list = append(list, presented{s.IngressTLSSecret, corev1.TLSCertKey, in.fixIngressTLSCopy()})
	}
	if s.CASecret != nil {
		list = append(list, presented{s.CASecret, corev1.TLSCertKey, fixPrivateCA})
	}
	return list
}

// fixIngressTLSCopy is the fix line for a certificate problem of the
// Ingress's TLS secret: IKS's own copy is IKS's to renew; the plugin's
// copy is renewed by setup, or better by IKS.
func (in *Input) fixIngressTLSCopy() string {
	if sec := in.Snapshot.IngressTLSSecret; sec != nil && identity.IKSManaged(sec) {
		return fmt.Sprintf("IKS keeps this copy (%s): see its state with ibmcloud ks ingress secret get --cluster <cluster> --name %s --namespace %s", chain.AnnotationIKSCertSource, sec.Name, sec.Namespace)
	}
	return "re-run kubectl albistio secrets: it copies the ALB's current certificate; to stop the copy going stale, " + in.iksCopyAdvice()
}

// iksCopyAdvice says how to have IKS keep the ALB's TLS secret in the
// Istio namespace, renewing it with its source.
func (in *Input) iksCopyAdvice() string {
	p := in.Params
	return fmt.Sprintf("have IKS keep it: register a Secrets Manager instance with the cluster, delete the plugin's copy and run ibmcloud ks ingress secret create --cluster <cluster> --cert-crn <crn> --name %s --namespace %s (ibmcloud ks ingress secret get --cluster <cluster> --name %s --namespace %s shows the CRN); setup then uses it and writes no copy",
		p.ALBSecret, p.IstioNamespace, p.ALBSecret, p.ALBSecretNamespace)
}

// fixCertManagerRenewal is the fix line for a cert-manager certificate
// near or past its expiry: cert-manager should have renewed it already.
func (in *Input) fixCertManagerRenewal(name string) string {
	ns := in.Params.IstioNamespace
	return fmt.Sprintf("cert-manager renews this secret from Certificate %s/%s before it expires, and has not: kubectl describe certificate -n %s %s says why (is cert-manager running?); cmctl renew -n %s %s renews it at once", ns, name, ns, name, ns, name)
}

// checkValidity: every presented certificate is within its validity period,
// and none expires within ExpiryWarning.
func checkValidity(in *Input) []Finding {
	var fs []Finding
	for _, pc := range in.presentedChains() {
		if pc.secret == nil {
			continue
		}
		chain, _ := parseCerts(pc.secret, pc.key, "")
		// One finding per code and chain, about its first certificate
		// with the problem: that is the one to replace.
		reported := map[Code]int{}
		for i, c := range chain {
			what := fmt.Sprintf("certificate %s (%s)", quote(c.Subject.CommonName), position(i, len(chain)))
			var f Finding
			switch {
			case in.Now.After(c.NotAfter):
				f = NewFinding(CertExpired, secretRef(pc.secret), dataField(pc.key),
					fmt.Sprintf("%s expired at %s, %s ago: TLS peers refuse it", what, c.NotAfter.UTC().Format(time.RFC3339), days(in.Now.Sub(c.NotAfter))), pc.fix)
			case in.Now.Before(c.NotBefore):
				f = NewFinding(CertNotYetValid, secretRef(pc.secret), dataField(pc.key),
					fmt.Sprintf("%s is not valid before %s, %s from now", what, c.NotBefore.UTC().Format(time.RFC3339), days(c.NotBefore.Sub(in.Now))),
					"check the clocks of this machine and of the issuer, or wait until the certificate is valid")
			case c.NotAfter.Sub(in.Now) < ExpiryWarning:
				f = NewFinding(CertExpiresSoon, secretRef(pc.secret), dataField(pc.key),
					fmt.Sprintf("%s expires at %s, in %s", what, c.NotAfter.UTC().Format(time.RFC3339), days(c.NotAfter.Sub(in.Now))), pc.fix)
			default:
				continue
			}
			if n, ok := reported[f.Code]; ok {
				fs[n].Message += fmt.Sprintf("; the same holds for certificate %s", quote(c.Subject.CommonName))
				continue
			}
			reported[f.Code] = len(fs)
			fs = append(fs, f)
		}
	}
	return fs
}

// position names a certificate's place in a chain.
func position(i, n int) string {
	switch {
	case n == 1:
		return "the only certificate"
	case i == 0:
		return "the leaf"
	}
	return fmt.Sprintf("certificate %d of %d, an issuer", i+1, n)
}

// days renders a duration for humans: days from two days up, else hours,
// else minutes.
func days(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Round(time.Hour).Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Round(time.Minute).Minutes()))
}
