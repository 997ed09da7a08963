package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels for the two ways a certificate can be outside its validity
// period; test with errors.Is.
const (
	// ErrExpired matches a *ValidityError for a certificate past its NotAfter.
	ErrExpired = constError("certificate has expired")
	// ErrNotYetValid matches a *ValidityError for a certificate before its NotBefore.
	ErrNotYetValid = constError("certificate is not yet valid")
)

// ValidityError reports a certificate used outside its validity period. It
// matches ErrExpired or ErrNotYetValid with errors.Is, so callers can tell a
// stale copy from a clock problem.
type ValidityError struct {
	// Cert is the certificate that is not valid at Now.
	Cert *x509.Certificate
	// Now is the time the certificate was checked at.
	Now time.Time
	// Err is the underlying x509 error, when the check came from chain verification.
	Err error
}

// Expired reports whether the certificate is past its NotAfter (rather than
// before its NotBefore).
func (e *ValidityError) Expired() bool { return e.Cert != nil && e.Now.After(e.Cert.NotAfter) }

// Error says when the certificate stopped or starts being valid and what to do.
func (e *ValidityError) Error() string {
	if e.Cert == nil {
		return "certificate outside its validity period"
	}
	if e.Expired() {
		return fmt.Sprintf("certificate %s expired at %s (%s ago); renew or replace it (re-running `kubectl albistio secrets` refreshes the copies it made)",
			certName(e.Cert), e.Cert.NotAfter.UTC().Format(time.RFC3339), approxDuration(e.Now.Sub(e.Cert.NotAfter)))
	}
	return fmt.Sprintf("certificate %s is not valid before %s (%s from now); check this machine's clock, or wait until then",
		certName(e.Cert), e.Cert.NotBefore.UTC().Format(time.RFC3339), approxDuration(e.Cert.NotBefore.Sub(e.Now)))
}

// Is makes errors.Is(err, ErrExpired) and errors.Is(err, ErrNotYetValid) work.
func (e *ValidityError) Is(target error) bool {
	switch target {
	case ErrExpired:
		return e.Expired()
	case ErrNotYetValid:
		return e.Cert != nil && !e.Expired()
	}
	return false
}

// Unwrap returns the underlying x509 error, if any.
func (e *ValidityError) Unwrap() error { return e.Err }

// CheckValidity returns a *ValidityError when now is outside
// [cert.NotBefore, cert.NotAfter], the same bounds crypto/x509 and OpenSSL use.
func CheckValidity(cert *x509.Certificate, now time.Time) error {
	if cert == nil {
		return errors.New("no certificate given to check")
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return &ValidityError{Cert: cert, Now: now}
	}
	return nil
}

// CheckCovers reports whether cert is valid for dnsName, with the rules TLS
// clients use (subjectAltName only, one-label wildcards, case-insensitive);
// the error lists the names the certificate does cover.
func CheckCovers(cert *x509.Certificate, dnsName string) error {
	if cert == nil {
		return errors.New("no certificate given to check")
	}
	if dnsName == "" {
		return fmt.Errorf("no DNS name given to check certificate %s against", certName(cert))
	}
	err := cert.VerifyHostname(dnsName)
	if err == nil {
		return nil
	}
	sans := subjectAltNames(cert)
	if len(sans) == 0 {
		return fmt.Errorf("certificate %s has no names in its subjectAltName extension, so it covers no host name (TLS clients ignore the Common Name); use a certificate issued for %q: %w", certName(cert), dnsName, err)
	}
	return fmt.Errorf("certificate %s does not cover %q: it is valid for %s only; use one of those names, or a certificate issued for %q: %w", certName(cert), dnsName, strings.Join(sans, ", "), dnsName, err)
}

// UsageError reports a chain that does not allow the extended key usage it is
// needed for. It exists as a type because "the ALB's certificate cannot be a
// TLS client certificate" is the failure this plugin most needs to explain.
type UsageError struct {
	// Usage is the extended key usage that was required.
	Usage x509.ExtKeyUsage
	// Leaf is the certificate that was verified.
	Leaf *x509.Certificate
	// Cert is the first certificate on the path from Leaf to the root whose
	// extended key usages exclude Usage (Leaf itself, or an intermediate).
	Cert *x509.Certificate
	// Err is the error crypto/x509 returned.
	Err error
}

// Error names the missing usage, the certificate that lacks it and, for client
// authentication, why Envoy refuses such a chain and what to use instead.
func (e *UsageError) Error() string {
	var b strings.Builder
	want := UsageName(e.Usage)
	culprit := e.Cert
	if culprit == nil {
		culprit = e.Leaf
	}
	if culprit == e.Leaf || e.Leaf == nil {
		fmt.Fprintf(&b, "certificate %s does not allow %s: its extended key usages are %s", certName(culprit), want, usageList(culprit))
	} else {
		fmt.Fprintf(&b, "certificate %s cannot be used for %s: its issuing certificate %s allows only %s, and every certificate of a chain must allow the usage", certName(e.Leaf), want, certName(culprit), usageList(culprit))
	}
	switch e.Usage {
	case x509.ExtKeyUsageClientAuth:
		b.WriteString(". Envoy (the Istio ingress gateway) verifies client certificate chains with purpose ssl_client and rejects certificates without the TLS client-auth extended key usage (\"unsupported certificate purpose\"); Let's Encrypt stopped including it on 2026-02-11, so a current public certificate cannot be the ALB's client certificate. Give the ALB a client certificate from a private CA instead (--client-identity=private-ca, or auto)")
	case x509.ExtKeyUsageServerAuth:
		b.WriteString("; a TLS server needs a certificate issued for TLS server authentication")
	}
	return b.String()
}

// Unwrap returns the underlying crypto/x509 error.
func (e *UsageError) Unwrap() error { return e.Err }

// HasUsage reports whether cert allows usage as crypto/x509 and OpenSSL judge
// it: its extended key usages list usage or anyExtendedKeyUsage, or it has no
// extended key usage extension at all (no restriction). Asking for
// x509.ExtKeyUsageAny is always satisfied.
func HasUsage(cert *x509.Certificate, usage x509.ExtKeyUsage) bool {
	if cert == nil {
		return false
	}
	if usage == x509.ExtKeyUsageAny {
		return true
	}
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range cert.ExtKeyUsage {
		if u == usage || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// VerifyChain verifies chain[0] for usage (and, if dnsName is not empty, for
// that DNS name) at now, using chain[1:] as intermediates and only roots as
// trust anchors, and returns the verified path from leaf to root. A usage
// failure is a *UsageError; a missing issuer wraps x509.UnknownAuthorityError
// with what to do; an expired or not yet valid certificate is (or, for an
// intermediate, wraps) a *ValidityError naming that certificate.
func VerifyChain(chain []*x509.Certificate, roots []*x509.Certificate, usage x509.ExtKeyUsage, dnsName string, now time.Time) ([]*x509.Certificate, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("no certificate to verify: the chain is empty")
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no trusted root certificate to verify %s against; pass the root with --ca-file", certName(chain[0]))
	}
	leaf := chain[0]
	opts := x509.VerifyOptions{
		Intermediates: x509.NewCertPool(),
		Roots:         x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	for _, c := range chain[1:] {
		if c != nil {
			opts.Intermediates.AddCert(c)
		}
	}
	for _, r := range roots {
		if r != nil {
			opts.Roots.AddCert(r)
		}
	}
	if dnsName != "" {
		// Checked here rather than through opts.DNSName for the message
		// that lists the names the certificate covers.
		if err := CheckCovers(leaf, dnsName); err != nil {
			return nil, err
		}
	}
	paths, err := leaf.Verify(opts)
	if err == nil {
		return paths[0], nil
	}

	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return nil, &UsageError{Usage: usage, Leaf: leaf, Cert: missingUsage(leaf, opts, usage), Err: err}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert == leaf:
		return nil, &ValidityError{Cert: leaf, Now: now, Err: err}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil:
		return nil, fmt.Errorf("cannot verify certificate %s: its issuing certificate is outside its validity period: %w", certName(leaf), &ValidityError{Cert: invalid.Cert, Now: now, Err: err})
	case errors.As(err, &unknown):
		issuer := leaf.Issuer.CommonName
		if unknown.Cert != nil {
			issuer = unknown.Cert.Issuer.CommonName
		}
		if issuer == "" {
			issuer = leaf.Issuer.String()
		}
		return nil, fmt.Errorf("cannot verify certificate %s: no path leads from it to a trusted root (last issuer looked for: %q). If that is an intermediate, the chain is missing it: put the full chain in the certificate (leaf first, then intermediates); if it is a private or unlisted root, pass it with --ca-file%s: %w", certName(leaf), issuer, expiredIssuers(chain[1:], roots, now), err)
	default:
		return nil, fmt.Errorf("cannot verify certificate %s: %w", certName(leaf), err)
	}
}

// expiredIssuers names the intermediates and roots that are outside their
// validity at now: an expired intermediate also leaves the leaf without a
// path to a root, and then "missing" is the wrong diagnosis.
func expiredIssuers(intermediates, roots []*x509.Certificate, now time.Time) string {
	var notes []string
	for _, c := range append(append([]*x509.Certificate{}, intermediates...), roots...) {
		if c == nil {
			continue
		}
		if err := CheckValidity(c, now); err != nil {
			notes = append(notes, err.Error())
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return ". Also: " + strings.Join(notes, "; ")
}

// missingUsage finds the certificate to blame for a usage failure: it builds
// the path again without the usage requirement and returns the first
// certificate on it, leaf first, that does not allow usage.
func missingUsage(leaf *x509.Certificate, opts x509.VerifyOptions, usage x509.ExtKeyUsage) *x509.Certificate {
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	paths, err := leaf.Verify(opts)
	if err != nil || len(paths) == 0 {
		return leaf
	}
	for _, c := range paths[0] {
		if !HasUsage(c, usage) {
			return c
		}
	}
	return leaf
}

// TrustAnchor returns the root certificate that anchors chain: the chain's
// own last certificate if it is self-signed, otherwise the certificate from
// extra (the user's --ca-file) or BundledRoots() that signed the chain's last
// certificate, followed up to a self-signed root when extra also holds the
// links above. It never downloads anything: an unknown root is an error that
// wraps x509.UnknownAuthorityError and says to pass the root with --ca-file.
func TrustAnchor(chain []*x509.Certificate, extra []*x509.Certificate) (*x509.Certificate, error) {
	if len(chain) == 0 || chain[len(chain)-1] == nil {
		return nil, errors.New("no certificate chain given to find the root of")
	}
	last := chain[len(chain)-1]
	if isSelfSigned(last) {
		return last, nil
	}
	candidates := append(append([]*x509.Certificate{}, extra...), BundledRoots()...)
	current := last
	var anchor *x509.Certificate
	// Each step moves to a different candidate; bounding the walk by their
	// number stops loops formed by cross-signed certificates.
	for range len(candidates) {
		issuer := issuerOf(current, candidates)
		if issuer == nil {
			break
		}
		anchor = issuer
		if isSelfSigned(issuer) {
			break
		}
		current = issuer
	}
	if anchor == nil {
		issuer := last.Issuer.CommonName
		if issuer == "" {
			issuer = last.Issuer.String()
		}
		hint := fmt.Sprintf("pass the root certificate of %q with --ca-file", issuer)
		if !last.IsCA {
			// A leaf alone: IKS stores leaf + intermediate, so the
			// intermediate was most likely dropped on the way.
			hint = fmt.Sprintf("the chain holds only the leaf: add the intermediate certificate %q after it in tls.crt, or pass its root with --ca-file", issuer)
		}
		return nil, fmt.Errorf("the root certificate of %s is unknown: its issuer %q is not in the chain, not in --ca-file and not one of the bundled roots (ISRG Root X1, ISRG Root X2); %s: %w",
			certName(last), issuer, hint, x509.UnknownAuthorityError{Cert: last})
	}
	return anchor, nil
}

// issuerOf returns the candidate whose subject is cert's issuer and whose key
// verifies cert's signature, or nil.
func issuerOf(cert *x509.Certificate, candidates []*x509.Certificate) *x509.Certificate {
	for _, c := range candidates {
		if c == nil || c == cert || string(c.RawSubject) != string(cert.RawIssuer) {
			continue
		}
		if cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

// isSelfSigned reports whether cert names itself as issuer and its signature
// verifies with its own key. The CA flag is not required: a self-signed leaf
// is its own trust anchor.
func isSelfSigned(cert *x509.Certificate) bool {
	if string(cert.RawSubject) != string(cert.RawIssuer) {
		return false
	}
	return cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// UsageName returns the OpenSSL short name of an extended key usage
// ("serverAuth", "clientAuth", ...), the spelling users see in
// `openssl x509 -text` and in Envoy's errors.
func UsageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageAny:
		return "anyExtendedKeyUsage"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageIPSECEndSystem:
		return "ipsecEndSystem"
	case x509.ExtKeyUsageIPSECTunnel:
		return "ipsecTunnel"
	case x509.ExtKeyUsageIPSECUser:
		return "ipsecUser"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	case x509.ExtKeyUsageMicrosoftServerGatedCrypto:
		return "msSGC"
	case x509.ExtKeyUsageNetscapeServerGatedCrypto:
		return "nsSGC"
	case x509.ExtKeyUsageMicrosoftCommercialCodeSigning:
		return "msCodeCom"
	case x509.ExtKeyUsageMicrosoftKernelCodeSigning:
		return "msKernelCodeSigning"
	default:
		return fmt.Sprintf("ExtKeyUsage(%d)", int(u))
	}
}

// usageNames lists cert's extended key usages by name, unknown ones by OID.
func usageNames(cert *x509.Certificate) []string {
	if cert == nil {
		return nil
	}
	var names []string
	for _, u := range cert.ExtKeyUsage {
		names = append(names, UsageName(u))
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	return names
}

// usageList formats cert's extended key usages for messages.
func usageList(cert *x509.Certificate) string {
	names := usageNames(cert)
	if len(names) == 0 {
		return "unrestricted (no extended key usage extension)"
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// subjectAltNames lists every subjectAltName of cert: DNS names, IP
// addresses, URIs and e-mail addresses.
func subjectAltNames(cert *x509.Certificate) []string {
	sans := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	return sans
}

// certName names a certificate in messages: its quoted Common Name, or its
// whole subject, or its serial number when the subject is empty.
func certName(cert *x509.Certificate) string {
	switch {
	case cert == nil:
		return "<none>"
	case cert.Subject.CommonName != "":
		return fmt.Sprintf("%q", cert.Subject.CommonName)
	case len(cert.Subject.Names) > 0:
		return fmt.Sprintf("%q", cert.Subject.String())
	case cert.SerialNumber != nil:
		return "with serial " + cert.SerialNumber.Text(16)
	default:
		return "<unnamed>"
	}
}

// approxDuration rounds d for humans: days beyond two days, else minutes,
// else seconds.
func approxDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	const day = 24 * time.Hour
	if d >= 2*day {
		return fmt.Sprintf("%d days", int(d/day))
	}
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// Describe summarizes cert on one line (subject, issuer, subjectAltNames,
// extended key usages by name, expiry in RFC 3339) for logs and `check`
// output, without anything secret.
func Describe(cert *x509.Certificate) string {
	if cert == nil {
		return "<no certificate>"
	}
	issuer := cert.Issuer.CommonName
	if issuer == "" {
		issuer = cert.Issuer.String()
	}
	usages := usageNames(cert)
	if len(usages) == 0 {
		usages = []string{"any"}
	}
	return fmt.Sprintf("subject=%s issuer=%q sans=[%s] eku=[%s] notAfter=%s",
		certName(cert), issuer, strings.Join(subjectAltNames(cert), ","), strings.Join(usages, ","), cert.NotAfter.UTC().Format(time.RFC3339))
}
