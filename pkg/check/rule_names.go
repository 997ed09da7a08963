package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
)

// checkNames: each server certificate covers the name it is served for: the
// ALB's (and the Ingress's copy) --host, the gateway's --gateway-domain (in
// cert-manager mode, the hop's server certificate its HopServerName).
func checkNames(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	var fs []Finding
	covers := func(sec *corev1.Secret, name, fix string) {
		if sec == nil || name == "" {
			return
		}
		kp, _ := parsePair(sec, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "")
		if kp == nil {
			return
		}
		if err := certs.CheckCovers(kp.Leaf(), name); err != nil {
			fs = append(fs, NewFinding(CertNameNotCovered, secretRef(sec), dataField(corev1.TLSCertKey), err.Error(), fix))
		}
	}
	albFix := "set --host to a name under the ALB's Ingress subdomain, which the IKS certificate covers"
	covers(s.ALBSecret, p.Host, albFix)
	if in.separateIngressTLS() {
		covers(s.IngressTLSSecret, p.Host, albFix)
	}
	if in.certManager() {
		covers(s.HopServerSecret, p.HopServerName(), fmt.Sprintf("the Certificate %s/%s must list dnsNames [%s]: re-run kubectl albistio setup, and cert-manager re-issues the secret", p.IstioNamespace, p.HopServerSecret(), p.HopServerName()))
		return fs
	}
	covers(s.GatewaySecret, p.GatewayDomain, "set --gateway-domain to the NLB subdomain this certificate was issued for (ibmcloud ks nlb-dns ls --cluster <name>)")
	return fs
}
