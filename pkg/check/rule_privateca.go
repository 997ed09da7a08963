package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// checkPrivateCA: the private CA the plugin issues the ALB's client
// certificates from is one the gateway trusts. The client certificate in use
// may still verify (it was issued by an earlier CA that -cacert holds) while
// the stored CA differs, as after two setups raced to create it: then the
// next renewal, issued from the stored CA, is refused at the handshake. The
// copies rule compares recorded fingerprints; this one compares the
// certificates themselves.
func checkPrivateCA(in *Input) []Finding {
	ca := in.caCert()
	if ca == nil {
		return nil // not in private-ca mode, or the secrets rule reports it
	}
	trusted, from := in.gatewayClientCAs()
	if from == nil || len(trusted) == 0 {
		return nil // the secrets and client-trust rules report a missing client CA
	}
	for _, c := range trusted {
		if c.Equal(ca) {
			return nil
		}
	}
	s := in.Snapshot
	return []Finding{newFinding(PrivateCAUntrusted, secretRef(s.CASecret), dataField(corev1.TLSCertKey),
		fmt.Sprintf("the private CA %s (serial %s) is not among the CAs the gateway verifies client certificates with (%s): the next client certificate issued from it will be refused", quote(ca.Subject.String()), ca.SerialNumber.Text(16), secretRef(from)),
		"re-run kubectl albistio secrets: it writes the stored CA into the gateway's -cacert")}
}
