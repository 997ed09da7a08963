package check

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/albistio/kubectl-albistio/pkg/certs"
)

// checkClientTrust: the ALB's client chain is one the gateway accepts, which
// takes two things Envoy checks separately: every certificate of the chain
// allows TLS client authentication (Envoy verifies with purpose ssl_client),
// and the chain leads to a CA in <gateway-secret>-cacert (in cert-manager
// mode, in the ca.crt of the gateway's credential, unless a -cacert of it
// exists, which Istio reads instead).
func checkClientTrust(in *Input) []Finding {
	s := in.Snapshot
	client := in.clientPair()
	if client == nil {
		return nil
	}
	certKey, _, _ := in.ClientKeys()
	obj, field := secretRef(s.ClientSecret), dataField(certKey)
	var fs []Finding

	noClientAuthFix := "run kubectl albistio secrets --client-identity=private-ca (auto does the same): the ALB then presents a client certificate from a private CA that the gateway's -cacert trusts"
	untrustedFix := "re-run kubectl albistio secrets: it writes the client certificate and the gateway's -cacert from the same source"
	if in.certManager() {
		p := in.Params
		noClientAuthFix = fmt.Sprintf("the Certificate %s/%s must list usages [client auth, digital signature]: re-run kubectl albistio setup, and cert-manager re-issues the secret", p.IstioNamespace, p.ClientSecret)
		untrustedFix = fmt.Sprintf("the Certificates %s and %s must both be issued by the CA Issuer %s: re-run kubectl albistio setup (and delete a leftover %s)", p.ClientSecret, p.HopServerSecret(), p.CASecret, in.clientCAName())
	}
	for _, c := range client.Chain {
		if !certs.HasUsage(c, x509.ExtKeyUsageClientAuth) {
			ue := &certs.UsageError{Usage: x509.ExtKeyUsageClientAuth, Leaf: client.Leaf(), Cert: c}
			fs = append(fs, NewFinding(ClientCertNoClientAuth, obj, field, ue.Error(), noClientAuthFix))
			break
		}
	}

	roots, from := in.gatewayClientCAs()
	if len(roots) == 0 {
		return fs // the secrets rule reports the missing or broken CA
	}
	_, err := certs.VerifyChain(client.Chain, roots, x509.ExtKeyUsageAny, "", in.Now)
	if err == nil || presentedInvalid(err, client.Chain) {
		return fs
	}
	fs = append(fs, NewFinding(ClientCertUntrusted, obj, field,
		fmt.Sprintf("the gateway verifies client certificates with the CA in %s, and the ALB's chain does not lead to it, so the gateway answers \"unknown ca\": %v", from, err),
		untrustedFix))
	return fs
}

// presentedInvalid reports whether err is a validity failure of a
// certificate in chain: the validity rule reports those, once.
func presentedInvalid(err error, chain []*x509.Certificate) bool {
	var ve *certs.ValidityError
	if !errors.As(err, &ve) {
		return false
	}
	for _, c := range chain {
		if c == ve.Cert {
			return true
		}
	}
	return false
}
