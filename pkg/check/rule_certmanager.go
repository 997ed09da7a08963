package check

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// renewalGrace is how long past its renewal time a certificate may stay
// unrenewed before check says so: cert-manager renews within seconds, but
// a check run at that very moment should not cry wolf.
const renewalGrace = time.Hour

// certManagerGroup is cert-manager's API group, as findings name it.
const certManagerGroup = "cert-manager.io"

// checkCertManager: in cert-manager mode, cert-manager is served, the
// hop's two Issuers and three Certificates exist and are Ready, each
// Certificate writes the Secret the hop reads from the Issuer the hop
// trusts, each of those Secrets exists and was renewed when due, and no
// <credential>-cacert overrides the ca.crt cert-manager keeps current.
func checkCertManager(in *Input) []Finding {
	if !in.certManager() {
		return nil
	}
	s, p := in.Snapshot, in.Params
	var fs []Finding
	rerun := fmt.Sprintf("re-run kubectl albistio setup -n %s: it writes the hop's Issuers and Certificates, and cert-manager issues the secrets", p.AppNamespace)
	if !s.CertManagerServed {
		fs = append(fs, NewFinding(CertManagerNotServed, ObjectRef("APIGroup", "", certManagerGroup), "",
			fmt.Sprintf("the hop is cert-manager's (%s), but the cluster does not serve %s/v1: nothing issues or renews the ALB's client certificate, the gateway's certificate for %s or their CA", in.certManagerWhy(), certManagerGroup, p.HopServerName()),
			"install cert-manager (https://cert-manager.io/docs/installation/) and re-run kubectl albistio setup; or move the hop to --client-identity=private-ca: kubectl albistio cleanup for every chain on it, then setup"))
	} else {
		for _, iss := range []struct {
			obj           *CertManagerObject
			name, is, fix string
		}{
			{s.SelfSignedIssuer, p.SelfSignedIssuer(), "the hop's CA", ""},
			{s.CAIssuer, p.CASecret, "the ALB's client certificate and the gateway's certificate for " + p.HopServerName(),
				fmt.Sprintf("; its Secret %s must hold the hop's CA and key (Certificate %s issues it)", p.CASecret, p.CASecret)},
		} {
			if iss.obj == nil {
				fs = append(fs, NewFinding(CertManagerObjectMissing, ObjectRef("Issuer", p.IstioNamespace, iss.name), "",
					fmt.Sprintf("the Issuer of %s does not exist: cert-manager cannot renew them, and what it issued keeps working only until it expires", iss.is), rerun))
				continue
			}
			if ok, why := iss.obj.ready(); !ok {
				fs = append(fs, NewFinding(IssuerNotReady, iss.obj.ref(), "status.conditions[Ready]",
					fmt.Sprintf("the Issuer of %s is not ready, so cert-manager cannot issue or renew from it: %s", iss.is, why),
					fmt.Sprintf("kubectl describe issuer -n %s %s says why%s", p.IstioNamespace, iss.name, iss.fix)))
			}
		}
	}

	for _, is := range in.issuedSecrets() {
		cert := is.certificate
		secRef := ObjectRef("Secret", p.IstioNamespace, is.certificateName)
		if is.secret == nil {
			why, fix := "", fmt.Sprintf("kubectl describe certificate -n %s %s says why cert-manager has not issued it (is cert-manager running?)", p.IstioNamespace, is.certificateName)
			switch {
			case !s.CertManagerServed:
				why, fix = "cert-manager is not installed", "install cert-manager, then re-run kubectl albistio setup"
			case cert == nil:
				why, fix = fmt.Sprintf("its Certificate %s/%s does not exist either", p.IstioNamespace, is.certificateName), rerun
			default:
				if ok, msg := cert.ready(); ok {
					why = "its Certificate still says Ready: a running cert-manager writes the Secret again at once"
				} else {
					why = "its Certificate is not ready: " + msg
				}
			}
			fs = append(fs, NewFinding(CertificateSecretMissing, secRef, "",
				fmt.Sprintf("%s was not found, %s; %s", is.role, secretConsequence(in, is.certificateName), why), fix))
			continue
		}
		if !s.CertManagerServed {
			continue
		}
		certRef := ObjectRef("Certificate", p.IstioNamespace, is.certificateName)
		if cert == nil {
			fs = append(fs, NewFinding(CertManagerObjectMissing, certRef, "",
				fmt.Sprintf("the Certificate that writes %s (%s) does not exist: nothing renews that secret, which keeps working only until it expires%s", is.role, secRef, expiresIn(in, is.secret)), rerun))
			continue
		}
		if ref := cert.Spec.IssuerRef; cert.Spec.SecretName != is.certificateName || ref == nil || ref.Name != is.issuer || ref.Kind != "" && ref.Kind != "Issuer" {
			field, what := "spec.secretName", fmt.Sprintf("writes Secret %s", quote(cert.Spec.SecretName))
			if cert.Spec.SecretName == is.certificateName {
				field, what = "spec.issuerRef", fmt.Sprintf("is issued by %s", issuerName(ref))
			}
			fs = append(fs, NewFinding(CertificateSpecOther, certRef, field,
				fmt.Sprintf("the Certificate %s, but the hop reads %s from %s issued by Issuer %q: %s", what, is.role, secRef, is.issuer, specConsequence(field)),
				rerun))
			continue
		}
		ready, why := cert.ready()
		if !ready {
			fs = append(fs, NewFinding(CertificateNotReady, certRef, "status.conditions[Ready]",
				fmt.Sprintf("cert-manager has not issued %s as the Certificate asks: %s", is.role, why),
				fmt.Sprintf("kubectl describe certificate -n %s %s and its CertificateRequests say why; fix that, or delete the Secret %s to have it issued again", p.IstioNamespace, is.certificateName, is.certificateName)))
			continue
		}
		leaf := firstCert(is.secret, corev1.TLSCertKey)
		if leaf == nil || in.validityReported(is.secret, corev1.TLSCertKey) {
			continue // the secrets and validity rules report it
		}
		if due := cert.renewalTime(leaf); in.Now.After(due.Add(renewalGrace)) {
			msg := fmt.Sprintf("cert-manager renews %s at %s, %s ago, and has not: the certificate has %s left", is.role, due.UTC().Format(time.RFC3339), days(in.Now.Sub(due)), days(leaf.NotAfter.Sub(in.Now)))
			if iss := cert.condition("Issuing"); iss != nil && iss.Message != "" {
				msg += "; its Issuing condition says " + quote(iss.Message)
			}
			fs = append(fs, NewFinding(CertManagerRenewalOverdue, secretRef(is.secret), dataField(corev1.TLSCertKey), msg,
				in.fixCertManagerRenewal(is.certificateName)))
		}
	}

	if s.CACert != nil {
		fs = append(fs, NewFinding(CredentialCACertLeftover, secretRef(s.CACert), "",
			fmt.Sprintf("Istio verifies client certificates with the CA in this secret, the Gateway credential's -cacert, and not with the ca.crt that cert-manager keeps current in %s; nothing keeps this one current, so the gateway refuses the ALB once the hop's CA changes", in.credentialName()),
			fmt.Sprintf("delete it (kubectl delete secret -n %s %s): the gateway then verifies the ALB with the hop's CA", s.CACert.Namespace, s.CACert.Name)))
	}
	return fs
}

// certManagerWhy says why check judged the hop as cert-manager's.
func (in *Input) certManagerWhy() string {
	if c := in.Snapshot.ClientSecret; c != nil {
		return fmt.Sprintf("cert-manager wrote its client secret %s/%s", c.Namespace, c.Name)
	}
	return "--client-identity=cert-manager, or cert-manager wrote its secrets"
}

// secretConsequence says what a missing cert-manager Secret breaks.
func secretConsequence(in *Input, name string) string {
	p := in.Params
	switch name {
	case p.ClientSecret:
		return "so the ALB presents no client certificate and the MUTUAL gateway refuses it (\"certificate required\")"
	case p.HopServerSecret():
		return "so the gateway has no certificate for " + p.HopServerName() + " and does not serve the ALB's listener"
	}
	return "so cert-manager's CA Issuer cannot issue or renew the hop's certificates"
}

// specConsequence says what a Certificate's other secretName or issuer does.
func specConsequence(field string) string {
	if field == "spec.secretName" {
		return "cert-manager does not renew the secret the hop reads"
	}
	return "what it issues does not chain to the hop's CA, which both sides verify each other with"
}

// issuerName renders an issuerRef for messages.
func issuerName(ref *IssuerRef) string {
	if ref == nil {
		return "no issuer"
	}
	kind := ref.Kind
	if kind == "" {
		kind = "Issuer"
	}
	return fmt.Sprintf("%s %s", kind, quote(ref.Name))
}

// expiresIn says when sec's certificate expires, for messages.
func expiresIn(in *Input, sec *corev1.Secret) string {
	if leaf := firstCert(sec, corev1.TLSCertKey); leaf != nil && in.Now.Before(leaf.NotAfter) {
		return fmt.Sprintf(", in %s", days(leaf.NotAfter.Sub(in.Now)))
	}
	return ""
}

// condition returns the object's condition of type t, nil when absent.
func (o *CertManagerObject) condition(t string) *CertManagerCondition {
	for i := range o.Status.Conditions {
		if o.Status.Conditions[i].Type == t {
			return &o.Status.Conditions[i]
		}
	}
	return nil
}
