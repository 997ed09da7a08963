// Package identity decides how the ALB proves itself to the gateway and what
// each side trusts, from the certificates IKS provisioned. It is the
// `secrets` slice's logic, kept free of API calls: given the source secrets
// and the plugin's earlier output, it returns the material to write.
//
// Since 2026-02-11 Let's Encrypt certificates carry no TLS client-auth usage,
// and Envoy verifies client chains for that usage, so the walkthrough's design
// (the ALB presents its own certificate) fails at the handshake on a current
// cluster. Decide checks for that and falls back to a private CA whose client
// certificate has the usage.
package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// Inputs are what Decide reads: the IKS-owned sources and what the plugin
// wrote before (nil when absent).
type Inputs struct {
	Params        *chain.Params
	ALBSecret     *corev1.Secret
	GatewaySecret *corev1.Secret
	// CASecret and ClientSecret are the plugin's own earlier output, reused
	// so that a re-run with nothing changed writes nothing.
	CASecret     *corev1.Secret
	ClientSecret *corev1.Secret
	// ALBTLSInIstio is the secret named like the ALB's in the Istio
	// namespace (nil when absent): the plugin's copy, or one IKS keeps and
	// renews itself, which the Ingress then uses as it is.
	ALBTLSInIstio *corev1.Secret
	// ExtraRoots come from --ca-file: roots not in the bundled set.
	ExtraRoots []*x509.Certificate
	Now        time.Time
	// DryRun words the Notes for a run that writes nothing: "would create
	// private CA …" instead of "creating private CA …". What is decided does
	// not depend on it: a dry run plans (and prints) the same objects.
	DryRun bool
}

// Decision is the outcome: the material to write and why.
type Decision struct {
	Material *render.Material
	// Mode is the resolved identity mode (never auto).
	Mode chain.IdentityMode
	// Notes explain the decision to the user, one line each.
	Notes []string
	// GatewayVerifyDepth is how many CA certificates follow the gateway's
	// server certificate up to and including its anchor.
	GatewayVerifyDepth int
}

// Error is a problem with a source certificate; nothing may be written.
type Error struct {
	// Secret is "namespace/name" of the secret at fault.
	Secret string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("secret %s: %v", e.Secret, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Source is a parsed TLS secret.
type Source struct {
	Ref     string
	CertPEM []byte
	KeyPEM  []byte
	Pair    *certs.KeyPair
}

// ParseTLSSecret reads tls.crt and tls.key of a secret and checks that they
// parse, match, and are valid now.
func ParseTLSSecret(s *corev1.Secret, now time.Time) (*Source, error) {
	ref := s.Namespace + "/" + s.Name
	var missing []string
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Secret: ref, Err: fmt.Errorf("has no %v: it must be a TLS secret with keys tls.crt and tls.key (kubectl get secret -n %s %s -o jsonpath='{.data}' shows its keys)", missing, s.Namespace, s.Name)}
	}
	pair, err := certs.ParseKeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, &Error{Secret: ref, Err: err}
	}
	if err := certs.CheckValidity(pair.Leaf(), now); err != nil {
		return nil, &Error{Secret: ref, Err: err}
	}
	return &Source{Ref: ref, CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey], Pair: pair}, nil
}

// Fingerprint is the SHA-256 of a chain's DER, recorded on copies so that
// `check` can tell a copy from a renewed source.
func Fingerprint(chain []*x509.Certificate) string {
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Decide works out the chain's secrets. It returns an *Error (or an error
// wrapping one) for any problem with the sources, before anything is written.
func Decide(in Inputs) (*Decision, error) {
	p := in.Params
	alb, err := ParseTLSSecret(in.ALBSecret, in.Now)
	if err != nil {
		return nil, err
	}
	if err := certs.CheckCovers(alb.Pair.Leaf(), p.Host); err != nil {
		return nil, &Error{Secret: alb.Ref, Err: fmt.Errorf("cannot serve --host: %w (set --host to a name the ALB certificate covers)", err)}
	}
	if p.Identity == chain.IdentityCertManager {
		return certManager(in, alb), nil
	}
	gw, err := ParseTLSSecret(in.GatewaySecret, in.Now)
	if err != nil {
		return nil, err
	}
	if err := certs.CheckCovers(gw.Pair.Leaf(), p.GatewayDomain); err != nil {
		return nil, &Error{Secret: gw.Ref, Err: fmt.Errorf("cannot serve --gateway-domain: %w", err)}
	}

	// What the ALB trusts for the gateway: the anchor of the gateway's chain.
	gwAnchor, err := certs.TrustAnchor(gw.Pair.Chain, in.ExtraRoots)
	if err != nil {
		return nil, &Error{Secret: gw.Ref, Err: err}
	}
	gwPath, err := certs.VerifyChain(gw.Pair.Chain, []*x509.Certificate{gwAnchor}, x509.ExtKeyUsageServerAuth, p.GatewayDomain, in.Now)
	if err != nil {
		return nil, &Error{Secret: gw.Ref, Err: fmt.Errorf("the gateway's certificate does not verify as a server certificate for %s: %w", p.GatewayDomain, err)}
	}
	d := &Decision{GatewayVerifyDepth: max(len(gwPath)-1, 1)}
	gatewayTrust := certs.EncodeCertificates(gwAnchor)

	mode, albAnchor, reason, err := decideMode(p.Identity, alb, in)
	if err != nil {
		return nil, err
	}
	d.Mode = mode
	d.Notes = append(d.Notes, reason)

	m := &render.Material{}
	if note := albTLSCopy(in, alb, m); note != "" {
		d.Notes = append(d.Notes, note)
	}
	switch mode {
	case chain.IdentityALBCert:
		m.Identity = &render.ClientIdentity{
			Mode: mode, CertChainPEM: alb.CertPEM, KeyPEM: alb.KeyPEM,
			ClientCAPEM: certs.EncodeCertificates(albAnchor), GatewayTrustPEM: gatewayTrust,
			Source: alb.Ref, SourceHash: Fingerprint(alb.Pair.Chain),
		}
	case chain.IdentityPrivateCA:
		notes, err := privateCA(in, m, gatewayTrust)
		if err != nil {
			return nil, err
		}
		d.Notes = append(d.Notes, notes...)
	}
	d.Material = m
	return d, nil
}

// certManager plans the hop for cert-manager: its objects carry no key and
// no certificate, so all that is decided here is the ALB TLS copy. The
// gateway's IKS secret plays no part (the ALB verifies the hop's own server
// certificate), and the verify depth is 1: that certificate is signed by the
// hop's CA directly.
func certManager(in Inputs, alb *Source) *Decision {
	p := in.Params
	d := &Decision{Mode: chain.IdentityCertManager, GatewayVerifyDepth: 1, Material: &render.Material{CertManager: true}}
	d.Notes = append(d.Notes, fmt.Sprintf("client identity: cert-manager: it issues and renews the ALB's client certificate (%s/%s) and the gateway's certificate for %s (%s/%s) from the hop's CA (%s/%s); nobody needs to re-run the plugin for them",
		p.IstioNamespace, p.ClientSecret, p.HopServerName(), p.IstioNamespace, p.HopServerSecret(), p.IstioNamespace, p.CASecret))
	if note := albTLSCopy(in, alb, d.Material); note != "" {
		d.Notes = append(d.Notes, note)
	}
	return d
}

// albTLSCopy decides the ALB TLS copy the Ingress names. None is needed when
// the ALB secret already lives in the Istio namespace, or when IKS keeps a
// copy there itself (ibmcloud ks ingress secret create --namespace): IKS
// renews that one, while a copy of the plugin's goes stale at the next
// renewal unless setup runs again. The note says which it is.
func albTLSCopy(in Inputs, alb *Source, m *render.Material) string {
	p := in.Params
	if !render.NeedsALBTLSCopy(p) {
		return ""
	}
	if s := in.ALBTLSInIstio; s != nil && IKSManaged(s) {
		if src, err := ParseTLSSecret(s, in.Now); err == nil && certs.CheckCovers(src.Pair.Leaf(), p.Host) == nil {
			return fmt.Sprintf("the ALB's TLS secret %s/%s is kept by IKS (%s), which renews it: the Ingress uses it, no copy is written", s.Namespace, s.Name, chain.AnnotationIKSCertSource)
		}
	}
	m.ALBTLS = &render.KeyPairPEM{CertPEM: alb.CertPEM, KeyPEM: alb.KeyPEM}
	m.ALBTLSHash = Fingerprint(alb.Pair.Chain)
	return ""
}

// IKSManaged says whether IKS manages (and renews) a secret: it marks them
// with ingress.cloud.ibm.com/cert-source, and a secret the plugin wrote
// carries the plugin's source annotation instead.
func IKSManaged(s *corev1.Secret) bool {
	_, ours := s.Annotations[chain.AnnotationSource]
	return s.Annotations[chain.AnnotationIKSCertSource] == "ibm" && !ours
}

// HopMode is the client identity mode an existing client secret was made
// in: cert-manager when cert-manager wrote it, the plugin's recorded mode
// otherwise, "" when there is none or someone else made it.
func HopMode(client *corev1.Secret) chain.IdentityMode {
	if client == nil {
		return ""
	}
	if client.Annotations[chain.AnnotationCertManagerCertificate] != "" {
		return chain.IdentityCertManager
	}
	return chain.IdentityMode(client.Annotations[chain.AnnotationIdentity])
}

// ResolveMode settles --client-identity against the hop as it is and
// whether the cluster serves cert-manager.io/v1. auto keeps an existing
// hop's mode, so a re-run never moves a working hop; a new hop takes
// cert-manager where it is served. It returns IdentityAuto when Decide must
// still choose between alb-cert and private-ca from the ALB certificate. A
// hop is never moved between cert-manager and the plugin's own issuance in
// place: the client secret's type and writer differ (cert-manager writes a
// kubernetes.io/tls secret, the plugin an Opaque one), so the error says how
// to move it.
func ResolveMode(want chain.IdentityMode, client *corev1.Secret, certManagerServed bool) (chain.IdentityMode, error) {
	have := HopMode(client)
	ref := ""
	if client != nil {
		ref = client.Namespace + "/" + client.Name
	}
	switch want {
	case chain.IdentityAuto:
		switch {
		case have == chain.IdentityCertManager:
			return chain.IdentityCertManager, nil
		case have != "" || client != nil:
			return chain.IdentityAuto, nil
		case certManagerServed:
			return chain.IdentityCertManager, nil
		}
		return chain.IdentityAuto, nil
	case chain.IdentityCertManager:
		if !certManagerServed {
			return "", errors.New("--client-identity=cert-manager: the cluster does not serve cert-manager.io/v1: install cert-manager (https://cert-manager.io/docs/installation/), or use --client-identity=private-ca")
		}
		if have == chain.IdentityALBCert || have == chain.IdentityPrivateCA {
			return "", fmt.Errorf("--client-identity=cert-manager: the hop's client secret %s was written by the plugin in %s mode, and cert-manager cannot take it over in place (it writes a kubernetes.io/tls secret); keep --client-identity=%s, or move the hop: run kubectl albistio cleanup for every chain that uses it, then setup with --client-identity=cert-manager", ref, have, have)
		}
		return chain.IdentityCertManager, nil
	}
	if have == chain.IdentityCertManager {
		return "", fmt.Errorf("--client-identity=%s: the hop's client secret %s is cert-manager's (Certificate %s), which would write over anything the plugin wrote there; keep --client-identity=cert-manager (or auto), or move the hop: run kubectl albistio cleanup for every chain that uses it, then setup with --client-identity=%s", want, ref, client.Annotations[chain.AnnotationCertManagerCertificate], want)
	}
	return want, nil
}

// decideMode applies --client-identity: the ALB certificate may be the
// client certificate only if its chain verifies for client auth, the check
// Envoy makes. In alb-cert mode it also returns the chain's anchor, which the
// gateway must trust.
func decideMode(want chain.IdentityMode, alb *Source, in Inputs) (chain.IdentityMode, *x509.Certificate, string, error) {
	if want == chain.IdentityPrivateCA {
		return chain.IdentityPrivateCA, nil, "client identity: private-ca (as requested): the ALB presents a client certificate from the plugin's CA", nil
	}
	anchor, err := certs.TrustAnchor(alb.Pair.Chain, in.ExtraRoots)
	if err == nil {
		_, err = certs.VerifyChain(alb.Pair.Chain, []*x509.Certificate{anchor}, x509.ExtKeyUsageClientAuth, "", in.Now)
	}
	if err == nil {
		return chain.IdentityALBCert, anchor, "client identity: alb-cert: the ALB certificate's chain allows TLS client authentication, so the ALB presents it to the gateway", nil
	}
	if want == chain.IdentityALBCert {
		var ue *certs.UsageError
		if errors.As(err, &ue) {
			return "", nil, "", &Error{Secret: alb.Ref, Err: fmt.Errorf("cannot be the ALB's client certificate: %w. Use --client-identity=private-ca (or auto)", err)}
		}
		return "", nil, "", &Error{Secret: alb.Ref, Err: fmt.Errorf("cannot be the ALB's client certificate: %w", err)}
	}
	if in.ClientSecret != nil && in.ClientSecret.Annotations[chain.AnnotationIdentity] == string(chain.IdentityPrivateCA) {
		// The hop already runs on the private CA: the long explanation was
		// given when it was set up, and repeating it on every run buries
		// what changed.
		return chain.IdentityPrivateCA, nil, "client identity: private-ca, as before (the ALB certificate still cannot authenticate a TLS client)", nil
	}
	return chain.IdentityPrivateCA, nil, fmt.Sprintf("client identity: private-ca: the ALB certificate cannot authenticate a TLS client (%v)", err), nil
}

// privateCA reuses the plugin's CA and client certificate when they are still
// good, and issues what is missing or due for renewal.
func privateCA(in Inputs, m *render.Material, gatewayTrust []byte) ([]string, error) {
	p := in.Params
	var notes []string
	var ca *certs.CA
	caRef := p.IstioNamespace + "/" + p.CASecret
	if in.CASecret != nil {
		existing, err := certs.ParseCA(in.CASecret.Data[corev1.TLSCertKey], in.CASecret.Data[corev1.TLSPrivateKeyKey])
		switch {
		case err != nil:
			return nil, &Error{Secret: caRef, Err: fmt.Errorf("holds no usable CA: %w (delete it to have a new CA created; the gateway's -cacert will follow)", err)}
		case certs.NeedsRenewal(existing.Cert, in.Now):
			notes = append(notes, fmt.Sprintf("private CA %s expires %s: %s", caRef, existing.Cert.NotAfter.Format(time.RFC3339), in.word("replacing it with a new one", "would replace it with a new one")))
		default:
			ca = existing
			m.CA = &render.KeyPairPEM{CertPEM: in.CASecret.Data[corev1.TLSCertKey], KeyPEM: in.CASecret.Data[corev1.TLSPrivateKeyKey]}
		}
	}
	if ca == nil {
		created, err := certs.NewCA("kubectl-albistio client CA "+p.IstioNamespace, in.Now, certs.DefaultCALifetime)
		if err != nil {
			return nil, err
		}
		keyPEM, err := certs.EncodePrivateKey(created.Key)
		if err != nil {
			return nil, err
		}
		ca = created
		m.CA = &render.KeyPairPEM{CertPEM: certs.EncodeCertificates(created.Cert), KeyPEM: keyPEM}
		notes = append(notes, in.word("creating", "would create")+" private CA "+caRef)
	}

	id := &render.ClientIdentity{
		Mode: chain.IdentityPrivateCA, ClientCAPEM: certs.EncodeCertificates(ca.Cert), GatewayTrustPEM: gatewayTrust,
		Source: caRef, SourceHash: Fingerprint([]*x509.Certificate{ca.Cert}),
	}
	if certPEM, keyPEM, ok := reusableClientCert(in, ca); ok {
		id.CertChainPEM, id.KeyPEM = certPEM, keyPEM
	} else {
		name := p.ClientCertName()
		kp, err := ca.Issue(certs.ClientCertRequest{CommonName: name, DNSNames: []string{name}}, in.Now)
		if err != nil {
			return nil, err
		}
		keyPEM, err := certs.EncodePrivateKey(kp.Key)
		if err != nil {
			return nil, err
		}
		id.CertChainPEM, id.KeyPEM = certs.EncodeCertificates(kp.Leaf()), keyPEM
		notes = append(notes, fmt.Sprintf("%s the ALB a client certificate for %s, valid until %s; re-run secrets (or setup) within %d days of that to renew it",
			in.word("issuing", "would issue"), name, kp.Leaf().NotAfter.Format(time.RFC3339), int(certs.RenewBefore.Hours()/24)))
	}
	m.Identity = id
	return notes, nil
}

// word picks a note's verb: what is about to be written (notes are printed
// before the write, which may still fail, hence not "created"), or, in a dry
// run, what would be.
func (in Inputs) word(writing, dryRun string) string {
	if in.DryRun {
		return dryRun
	}
	return writing
}

// reusableClientCert returns the existing client certificate and key when
// they were issued by ca for the ALB, are not due for renewal, and sit under
// the key names of the current flavor.
func reusableClientCert(in Inputs, ca *certs.CA) ([]byte, []byte, bool) {
	if in.ClientSecret == nil || in.ClientSecret.Annotations[chain.AnnotationIdentity] != string(chain.IdentityPrivateCA) {
		return nil, nil, false
	}
	certKey, keyKey, _ := render.ClientSecretKeys(in.Params.Flavor)
	certPEM, keyPEM := in.ClientSecret.Data[certKey], in.ClientSecret.Data[keyKey]
	kp, err := certs.ParseKeyPair(certPEM, keyPEM)
	if err != nil || certs.NeedsRenewal(kp.Leaf(), in.Now) || certs.CheckCovers(kp.Leaf(), in.Params.ClientCertName()) != nil {
		return nil, nil, false
	}
	if _, err := certs.VerifyChain(kp.Chain, []*x509.Certificate{ca.Cert}, x509.ExtKeyUsageClientAuth, "", in.Now); err != nil {
		return nil, nil, false
	}
	return certPEM, keyPEM, true
}

// GatewayVerifyDepth is the verify depth the ALB needs for the gateway's
// server chain in s: the CA certificates after the leaf, anchor included.
func GatewayVerifyDepth(s *corev1.Secret, domain string, extra []*x509.Certificate, now time.Time) (int, error) {
	src, err := ParseTLSSecret(s, now)
	if err != nil {
		return 0, err
	}
	anchor, err := certs.TrustAnchor(src.Pair.Chain, extra)
	if err != nil {
		return 0, &Error{Secret: src.Ref, Err: err}
	}
	path, err := certs.VerifyChain(src.Pair.Chain, []*x509.Certificate{anchor}, x509.ExtKeyUsageServerAuth, domain, now)
	if err != nil {
		return 0, &Error{Secret: src.Ref, Err: err}
	}
	return max(len(path)-1, 1), nil
}
