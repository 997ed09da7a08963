package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Fix lines shared by the rules about secrets, one per owner: IKS owns the
// sources, the plugin owns what `secrets` writes.
func fixALBSource(in *Input) string {
	return fmt.Sprintf("IKS owns this secret: see its state with ibmcloud ks ingress secret get --cluster <name> --name %s --namespace %s, then re-run kubectl albistio secrets", in.Params.ALBSecret, in.Params.ALBSecretNamespace)
}

func fixGatewaySource(in *Input) string {
	return fmt.Sprintf("IKS owns this secret: regenerate it with ibmcloud ks nlb-dns secret regenerate --cluster <name> --nlb-subdomain %s", in.Params.GatewayDomain)
}

const (
	fixRerunSecrets = "re-run kubectl albistio secrets: it rewrites this secret from its source"
	fixPrivateCA    = "delete this secret and re-run kubectl albistio secrets: it creates a new private CA, and the client secret and -cacert follow"
)

// checkSecrets: every secret the chain reads exists and holds, under the keys
// its reader uses, a certificate and key that parse and belong together.
func checkSecrets(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	var fs []Finding

	if s.ALBSecret == nil {
		fs = append(fs, NewFinding(ALBSecretMissing, ObjectRef("Secret", p.ALBSecretNamespace, p.ALBSecret), "",
			"the ALB's TLS secret was not found; IKS keeps it in namespace default, named after the cluster",
			"set --alb-secret and --alb-secret-namespace to the secret ibmcloud ks cluster get --cluster <name> shows as \"Ingress Secret\""))
	} else {
		_, f := parsePair(s.ALBSecret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, fixALBSource(in))
		fs = append(fs, f...)
	}

	switch {
	case in.certManager():
		// The hop's gateway certificate is cert-manager's; IKS's keeps
		// serving the gateway domain to everyone else, outside the chain.
	case s.GatewaySecret == nil:
		fs = append(fs, NewFinding(GatewaySecretMissing, ObjectRef("Secret", p.IstioNamespace, p.GatewaySecret), "",
			"the gateway's TLS secret was not found in the Istio namespace, where the gateway reads its credentialName",
			fmt.Sprintf("register the gateway's address with ibmcloud ks nlb-dns create classic --cluster <name> --ip <gateway IP> --secret-namespace %s, or set --gateway-secret to the name ibmcloud ks nlb-dns ls shows", p.IstioNamespace)))
	default:
		_, f := parsePair(s.GatewaySecret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, fixGatewaySource(in))
		fs = append(fs, f...)
	}

	switch {
	case in.certManager():
		// cert-manager writes the hop's secrets: the cert-manager rule
		// reports one that is missing, with what its Certificate says.
		for _, is := range in.issuedSecrets() {
			if is.secret == nil {
				continue
			}
			fix := in.fixCertManagerSecret(is.certificateName)
			_, f := parsePair(is.secret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, fix)
			fs = append(fs, f...)
			if is.secret == s.ClientSecret {
				_, f = parseCerts(is.secret, caCertKey, fix)
				fs = append(fs, f...)
			}
		}
	case s.ClientSecret == nil:
		fs = append(fs, NewFinding(ClientSecretMissing, ObjectRef("Secret", p.IstioNamespace, p.ClientSecret), "",
			"the secret the ALB presents to the gateway was not found: the ALB sends no client certificate and the MUTUAL gateway refuses it (\"certificate required\")",
			"run kubectl albistio secrets"))
	default:
		c, k, t := in.ClientKeys()
		_, f := parsePair(s.ClientSecret, c, k, fixRerunSecrets)
		fs = append(fs, f...)
		_, f = parseCerts(s.ClientSecret, t, fixRerunSecrets)
		fs = append(fs, f...)
	}

	fs = append(fs, checkCACertSecret(in)...)

	if !in.certManager() && usesPrivateCA(s.ClientSecret, p) {
		if s.CASecret == nil {
			fs = append(fs, NewFinding(PrivateCASecretAbsent, ObjectRef("Secret", p.IstioNamespace, p.CASecret), "",
				"the private CA that issued the ALB's client certificate is gone; the current certificate keeps working until it expires",
				"nothing to do now: the next kubectl albistio secrets run creates a new CA and re-issues the client certificate and -cacert together"))
		} else {
			_, f := parsePair(s.CASecret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, fixPrivateCA)
			fs = append(fs, f...)
		}
	}

	if in.separateIngressTLS() {
		_, f := parsePair(s.IngressTLSSecret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, fixRerunSecrets)
		fs = append(fs, f...)
	}
	return fs
}

// checkCACertSecret: Istio reads a MUTUAL gateway's CA from
// <credentialName>-cacert and, failing that, from the credential secret
// itself; one of them must hold it.
func checkCACertSecret(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if p.GatewayAPI {
		return nil // the client CA is what the frontend validation names: the gateway-api-gateway rule judges it
	}
	fix := fixRerunSecrets
	if in.certManager() {
		fix = fmt.Sprintf("delete this secret: cert-manager keeps the hop's CA in %s's ca.crt, which Istio reads when no -cacert exists", in.credentialName())
	}
	if s.CACert == nil && in.certManager() {
		cred := s.HopServerSecret
		if in.clientCAElsewhere() || cred == nil || hasAnyKey(cred, caKeys()) {
			return nil // the cert-manager rule reports a missing credential
		}
		return []Finding{NewFinding(SecretKeyMissing, secretRef(cred), dataField(caCertKey),
			fmt.Sprintf("the secret has no ca.crt (it has %s): with no %s, Istio reads the CA it verifies the ALB with from there, and without one it does not serve the listener", dataKeys(cred), in.clientCAName()),
			in.fixCertManagerSecret(cred.Name))}
	}
	if s.CACert == nil {
		if in.clientCAElsewhere() {
			return nil // the Gateway takes its client CA from elsewhere; the gateway rule says so
		}
		if s.GatewaySecret != nil && hasAnyKey(s.GatewaySecret, caKeys()) {
			return nil
		}
		return []Finding{NewFinding(CACertSecretMissing, ObjectRef("Secret", p.IstioNamespace, p.ClientCASecret()), "",
			"the secret was not found and the gateway secret holds no ca.crt either: the MUTUAL gateway has no CA to verify the ALB with, and Istio does not serve the listener",
			"run kubectl albistio secrets")}
	}
	for _, k := range caKeys() {
		if len(s.CACert.Data[k]) > 0 {
			_, f := parseCerts(s.CACert, k, fix)
			return f
		}
	}
	return []Finding{NewFinding(SecretKeyMissing, secretRef(s.CACert), dataField("ca.crt"),
		fmt.Sprintf("the secret has neither ca.crt nor cacert (it has %s): Istio reads the client CA from one of them", dataKeys(s.CACert)),
		fix)}
}

func hasAnyKey(s *corev1.Secret, keys []string) bool {
	for _, k := range keys {
		if len(s.Data[k]) > 0 {
			return true
		}
	}
	return false
}
