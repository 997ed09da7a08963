package check

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// Input is what the rules judge: a snapshot, the chain's parameters, and
// the time. Rules are pure functions of it.
type Input struct {
	// Params are the chain's parameters; Flavor is resolved unless
	// Snapshot.FlavorError says why it could not be.
	Params   *chain.Params
	Snapshot *Snapshot
	Now      time.Time
	// ExtraRoots come from --ca-file: roots a chain may end in when no
	// secret in the cluster holds them.
	ExtraRoots []*x509.Certificate
}

// caKeys are the keys Istio reads the CA of a MUTUAL gateway from, in this
// order (istio pilot/pkg/credentials/kube/secrets.go).
func caKeys() []string { return []string{"cacert", "ca.crt"} }

// ClientKeys are the data keys of the client secret for the chain's flavor:
// the ALB's client certificate chain, its key, and the CA certificates the
// ALB verifies the gateway with. An undetected flavor reads the nginx and
// Traefik keys, which IKS ALBs use.
func (in *Input) ClientKeys() (cert, key, trust string) {
	k := flavor.SecretKeysFor(in.Params.Flavor)
	return k.Cert, k.Key, k.Trust
}

// albPair is the ALB's certificate and key, nil when missing or unusable.
func (in *Input) albPair() *certs.KeyPair {
	kp, _ := parsePair(in.Snapshot.ALBSecret, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "")
	return kp
}

// gatewayPair is the certificate and key the gateway presents to the ALB
// (its credential), nil when missing or unusable.
func (in *Input) gatewayPair() *certs.KeyPair {
	kp, _ := parsePair(in.credentialSecret(), corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "")
	return kp
}

// certManager says the hop is judged as cert-manager's (Snapshot.CertManager).
func (in *Input) certManager() bool { return in.Snapshot.CertManager }

// GatewaySNI is the name the ALB sends as SNI and verifies the gateway's
// certificate for: the gateway domain, or in cert-manager mode the hop's
// own server name.
func (in *Input) GatewaySNI() string {
	if in.certManager() {
		return in.Params.HopServerName()
	}
	return in.Params.GatewayDomain
}

// credentialName is the Gateway's credentialName the plugin writes.
func (in *Input) credentialName() string {
	if in.certManager() {
		return in.Params.HopServerSecret()
	}
	return in.Params.GatewaySecret
}

// credentialSecret is the secret credentialName names, as read.
func (in *Input) credentialSecret() *corev1.Secret {
	if in.certManager() {
		return in.Snapshot.HopServerSecret
	}
	return in.Snapshot.GatewaySecret
}

// clientCAName is <credentialName>-cacert, which Istio reads the client CA
// from before the credential's own ca.crt.
func (in *Input) clientCAName() string { return clientCAName(in.Params, in.certManager()) }

// clientPair is the certificate and key the ALB presents to the gateway.
func (in *Input) clientPair() *certs.KeyPair {
	c, k, _ := in.ClientKeys()
	kp, _ := parsePair(in.Snapshot.ClientSecret, c, k, "")
	return kp
}

// ALBTrust are the CA certificates the ALB verifies the gateway with: those
// under the client secret's trust key (ClientKeys), nil when missing or
// unparsable (the secret rules say why).
func (in *Input) ALBTrust() []*x509.Certificate {
	_, _, t := in.ClientKeys()
	cs, _ := parseCerts(in.Snapshot.ClientSecret, t, "")
	return cs
}

// gatewayClientCAs are the CA certificates the gateway verifies the ALB
// with, and the object they come from as findings name it ("" when none):
// <credential>-cacert first, then the credential secret itself, as Istio
// looks them up. In Gateway API mode they come from what the Gateway's
// frontend validation names instead (gatewayAPIClientCAs).
//
// When the Gateway's server names its client CA with caCertCredentialName,
// they come from that secret alone (read only when the name ends in -cacert;
// Istio reads any other name as a certificate and key, and verifies nothing
// with it), in the same key order.
func (in *Input) gatewayClientCAs() ([]*x509.Certificate, string) {
	if in.Params.GatewayAPI {
		return in.gatewayAPIClientCAs()
	}
	sources := []*corev1.Secret{in.Snapshot.CACert, in.credentialSecret()}
	if in.clientCAElsewhere() {
		sources = []*corev1.Secret{in.Snapshot.NamedClientCA}
	}
	for _, s := range sources {
		if s == nil {
			continue
		}
		for _, k := range caKeys() {
			if len(s.Data[k]) > 0 {
				cs, _ := parseCerts(s, k, "")
				return cs, secretRef(s)
			}
		}
	}
	return nil, ""
}

// caCert is the private CA's certificate, nil when not read or unusable.
func (in *Input) caCert() *x509.Certificate {
	cs, _ := parseCerts(in.Snapshot.CASecret, corev1.TLSCertKey, "")
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

// separateIngressTLS reports whether the Ingress's TLS secret is an object
// of its own (the plugin's copy) rather than the ALB secret itself.
func (in *Input) separateIngressTLS() bool {
	s := in.Snapshot
	return s.IngressTLSSecret != nil && s.IngressTLSSecret != s.ALBSecret &&
		!(s.ALBSecret != nil && s.IngressTLSSecret.Namespace == s.ALBSecret.Namespace && s.IngressTLSSecret.Name == s.ALBSecret.Name)
}

// secretRef names a secret as findings do.
func secretRef(s *corev1.Secret) string { return ObjectRef("Secret", s.Namespace, s.Name) }

// dataField names a data key as findings do.
func dataField(key string) string { return "data[" + key + "]" }

// parsePair reads a certificate chain and its private key from two data
// keys of s. It returns the pair, or nil with findings saying why not:
// missing keys (ALB0105), data that does not parse (ALB0106), a key that
// belongs to another certificate (ALB0107). fix is the findings' fix line.
func parsePair(s *corev1.Secret, certKey, keyKey, fix string) (*certs.KeyPair, []Finding) {
	if s == nil {
		return nil, nil
	}
	chainCerts, fs := parseCerts(s, certKey, fix)
	var keyErr error
	if len(s.Data[keyKey]) == 0 {
		fs = append(fs, NewFinding(SecretKeyMissing, secretRef(s), dataField(keyKey),
			fmt.Sprintf("the secret has no %s: its reader needs the private key there", keyKey), fix))
		keyErr = fmt.Errorf("missing")
	} else if _, err := certs.ParsePrivateKey(s.Data[keyKey]); err != nil {
		fs = append(fs, NewFinding(SecretUnparsable, secretRef(s), dataField(keyKey), err.Error(), fix))
		keyErr = err
	}
	if len(fs) > 0 || keyErr != nil || chainCerts == nil {
		return nil, fs
	}
	kp, err := certs.ParseKeyPair(s.Data[certKey], s.Data[keyKey])
	if err != nil {
		return nil, []Finding{NewFinding(KeyMismatch, secretRef(s), dataField(keyKey), err.Error(), fix)}
	}
	return kp, nil
}

// parseCerts reads the certificates under key of s, or nil with a finding
// saying the key is missing (ALB0105) or does not parse (ALB0106).
func parseCerts(s *corev1.Secret, key, fix string) ([]*x509.Certificate, []Finding) {
	if s == nil {
		return nil, nil
	}
	data := s.Data[key]
	if len(data) == 0 {
		return nil, []Finding{NewFinding(SecretKeyMissing, secretRef(s), dataField(key),
			fmt.Sprintf("the secret has no %s: its reader needs the certificate there (it has %s)", key, dataKeys(s)), fix)}
	}
	cs, err := certs.ParseCertificates(data)
	if err != nil {
		return nil, []Finding{NewFinding(SecretUnparsable, secretRef(s), dataField(key), err.Error(), fix)}
	}
	return cs, nil
}

// dataKeys lists a secret's data keys for messages.
func dataKeys(s *corev1.Secret) string {
	if len(s.Data) == 0 {
		return "no data"
	}
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "keys " + joinQuoted(keys)
}

// clientCAElsewhere reports whether the Gateway's server for the chain
// names its client CA with caCertCredentialName (recent Istio releases; istio.io/api has it in 1.30, not in 1.26),
// which takes precedence over <credential>-cacert, and names another
// one: then the -cacert is not what the gateway verifies the ALB with, and
// the gateway rule judges the named one (Snapshot.NamedClientCA).
func (in *Input) clientCAElsewhere() bool {
	server, _ := chainServer(in.Snapshot.Gateway, in)
	ca := server.GetTls().GetCaCertCredentialName()
	return ca != "" && ca != in.clientCAName()
}

// namedClientCA is the caCertCredentialName of the chain's Gateway server
// when it names another client CA than <credential>-cacert (else ""), and
// whether Istio reads that name as a CA at all: only a name ending in
// -cacert; any other it reads as a certificate and key.
func (in *Input) namedClientCA() (name string, readAsCA bool) {
	if !in.clientCAElsewhere() {
		return "", false
	}
	server, _ := chainServer(in.Snapshot.Gateway, in)
	name = server.GetTls().GetCaCertCredentialName()
	return name, strings.HasSuffix(name, clientCASuffix)
}
