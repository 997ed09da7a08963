package certs

import (
	"crypto/x509"
	_ "embed" // for the bundled root certificates
	"fmt"
)

// ISRG Root X1 (RSA) and ISRG Root X2 (ECDSA), the roots Let's Encrypt
// chains to since DST Root CA X3 expired on 2021-09-30. They are bundled so
// that chains of public certificates can be verified without downloading
// anything; copied from Mozilla's CA store (ca-certificates). The PEM
// text is held in strings, which are immutable, and never reassigned.
var (
	//go:embed roots/isrg-root-x1.pem
	isrgRootX1PEM string
	//go:embed roots/isrg-root-x2.pem
	isrgRootX2PEM string
)

// BundledRoots returns ISRG Root X1 and ISRG Root X2, copies of their own on
// every call (ParseCertificates parses them once) so that no caller can
// alter another's.
func BundledRoots() []*x509.Certificate {
	var roots []*x509.Certificate
	for _, pemText := range []string{isrgRootX1PEM, isrgRootX2PEM} {
		certs, err := ParseCertificates([]byte(pemText))
		if err != nil {
			// The files are compiled in and covered by tests; failing
			// here means the source tree is corrupt.
			panic(fmt.Sprintf("certs: bundled root certificate does not parse: %v", err))
		}
		roots = append(roots, certs...)
	}
	return roots
}
