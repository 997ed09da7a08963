package check

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// checkPrivateCA: the private CA the plugin issues the ALB's client
// certificates from is one the gateway trusts. The client certificate in use
// may still verify (it was issued by an earlier CA that -cacert holds) while
// the stored CA differs, as after two setups raced to create it: then the
// next renewal, issued from the stored CA, is refused at the handshake. The
// copies rule compares recorded fingerprints; this one compares the
// certificates themselves.
//
// In cert-manager mode the hop's CA issues both leaves, and each side
// verifies the other with the ca.crt cert-manager put next to its own leaf
// at issuance: the CA must be in both, or the next leaf cert-manager issues
// is refused by the other side (after the CA Secret was re-created, say).
// There a renewed CA certificate with the same key and name counts as the
// same CA: leaves it signed still verify.
func checkPrivateCA(in *Input) []Finding {
	ca := in.caCert()
	if ca == nil {
		return nil // not in private-ca mode, or the secrets rule reports it
	}
	if in.clientCAElsewhere() {
		return nil // a caCertCredentialName nothing keeps in step: the gateway rule says so
	}
	s := in.Snapshot
	trusted, from := in.gatewayClientCAs()
	if in.certManager() {
		var refused []string
		if from != "" && len(trusted) > 0 && !sameCA(trusted, ca) {
			refused = append(refused, fmt.Sprintf("the CAs the gateway verifies client certificates with (%s), so the next client certificate cert-manager issues from it will be refused", from))
		}
		if albTrust := in.ALBTrust(); len(albTrust) > 0 && !sameCA(albTrust, ca) {
			refused = append(refused, fmt.Sprintf("the CAs the ALB verifies the gateway with (%s's ca.crt), so the next gateway certificate cert-manager issues from it will be refused", secretRef(s.ClientSecret)))
		}
		if len(refused) == 0 {
			return nil
		}
		p := in.Params
		return []Finding{NewFinding(PrivateCAUntrusted, secretRef(s.CASecret), dataField(corev1.TLSCertKey),
			fmt.Sprintf("the hop's CA %s (serial %s) is not among %s", quote(ca.Subject.String()), ca.SerialNumber.Text(16), strings.Join(refused, ", nor among ")),
			fmt.Sprintf("delete the Secrets %s and %s: cert-manager issues both again from the CA in %s, and each then trusts the other", p.ClientSecret, p.HopServerSecret(), p.CASecret))}
	}
	if from == "" || len(trusted) == 0 {
		return nil // the secrets and client-trust rules report a missing client CA
	}
	for _, c := range trusted {
		if c.Equal(ca) {
			return nil
		}
	}
	return []Finding{NewFinding(PrivateCAUntrusted, secretRef(s.CASecret), dataField(corev1.TLSCertKey),
		fmt.Sprintf("the private CA %s (serial %s) is not among the CAs the gateway verifies client certificates with (%s): the next client certificate issued from it will be refused", quote(ca.Subject.String()), ca.SerialNumber.Text(16), from),
		"re-run kubectl albistio secrets: it writes the stored CA into the gateway's -cacert")}
}

// sameCA says whether trusted holds ca, or a certificate with its name and
// key (a renewal cert-manager made without rotating the key).
func sameCA(trusted []*x509.Certificate, ca *x509.Certificate) bool {
	for _, c := range trusted {
		if c.Equal(ca) || bytes.Equal(c.RawSubject, ca.RawSubject) && bytes.Equal(c.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}
