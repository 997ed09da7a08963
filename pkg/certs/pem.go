package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// constError is an error that can be a constant, so sentinel errors need no
// package-level variables.
type constError string

// Error returns the message.
func (e constError) Error() string { return string(e) }

// ErrEncryptedKey reports a password-protected private key; callers can test
// for it with errors.Is to tell the user to decrypt the key first.
const ErrEncryptedKey = constError("the private key is encrypted (password-protected), and encrypted keys are not supported")

// PEM block types this package reads and writes.
const (
	blockCertificate = "CERTIFICATE"
	blockPKCS8       = "PRIVATE KEY"
	blockPKCS1       = "RSA PRIVATE KEY"
	blockSEC1        = "EC PRIVATE KEY"
	blockEncrypted   = "ENCRYPTED PRIVATE KEY"
	blockECParams    = "EC PARAMETERS"
	blockOpenSSH     = "OPENSSH PRIVATE KEY"
)

// numberedBlock is a decoded PEM block and its 1-based position in the input,
// so errors can say which block is wrong.
type numberedBlock struct {
	n int
	*pem.Block
}

// normalizePEM strips a leading UTF-8 byte order mark and turns CRLF into LF:
// files saved by Windows editors carry both, and encoding/pem skips a first
// block that does not start at the beginning of a line.
func normalizePEM(data []byte) []byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.Contains(data, []byte("\r\n")) {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	return data
}

// decodePEM decodes every PEM block in data. Unlike a bare pem.Decode loop,
// it does not silently skip a block that is truncated or has bad base64: it
// reports that block by number, because a certificate bundle missing one
// certificate fails much later and far less clearly.
func decodePEM(data []byte) ([]numberedBlock, error) {
	data = normalizePEM(data)
	begin := []byte("-----BEGIN ")
	var blocks []numberedBlock
	seen := 0 // BEGIN lines consumed so far
	rest := data
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			if i := bytes.Index(rest, begin); i >= 0 {
				return nil, fmt.Errorf("PEM block %d (%s) is malformed: it has no matching END line, bad base64 or bad headers; the data looks truncated or damaged, so export it again", seen+1, beginType(rest[i:]))
			}
			return blocks, nil
		}
		consumed := rest[:len(rest)-len(next)]
		// pem.Decode skips over a damaged block and returns the next good
		// one; more than one BEGIN line in what it consumed means that
		// happened.
		if k := bytes.Count(consumed, begin); k > 1 {
			i := bytes.Index(consumed, begin)
			return nil, fmt.Errorf("PEM block %d (%s) is malformed: it has no matching END line, bad base64 or bad headers; the data looks truncated or damaged, so export it again", seen+1, beginType(consumed[i:]))
		}
		seen++
		blocks = append(blocks, numberedBlock{n: seen, Block: block})
		rest = next
	}
}

// maxTypeShown is how much of a PEM type an error message shows: real types
// are at most a few words ("ENCRYPTED PRIVATE KEY"), and the input can come
// from a Secret anyone with write access crafted.
const maxTypeShown = 64

// beginType returns the type named on the BEGIN line at the start of b,
// quoted and shortened, for error messages about a block that did not
// decode: the line is input, and may carry terminal escapes.
func beginType(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimPrefix(line, []byte("-----BEGIN "))
	typ, _, _ := bytes.Cut(line, []byte("-----"))
	return safetext.Quote(string(typ), maxTypeShown)
}

// blockTypes lists the distinct types of blocks, for messages that say what
// was found instead of what was expected.
func blockTypes(blocks []numberedBlock) []string {
	var types []string
	for _, b := range blocks {
		if !slices.Contains(types, b.Type) {
			types = append(types, b.Type)
		}
	}
	return types
}

// maxTypesShown is how many distinct block types an error message lists; a
// crafted input can have thousands.
const maxTypesShown = 5

// describeTypes lists block types for messages, each quoted and shortened,
// since the types are input and may carry terminal escapes.
func describeTypes(types []string) string {
	shown := make([]string, 0, min(len(types), maxTypesShown))
	for _, t := range types[:min(len(types), maxTypesShown)] {
		shown = append(shown, safetext.Quote(t, maxTypeShown))
	}
	s := strings.Join(shown, ", ")
	if n := len(types) - len(shown); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// noPEMError explains input without any PEM block; the usual cause is data
// copied from a Secret that is still base64-encoded, or a DER file.
func noPEMError(data []byte, want string) error {
	if len(bytes.TrimSpace(normalizePEM(data))) == 0 {
		return fmt.Errorf("no PEM data: the input is empty; expected a -----BEGIN %s----- block", want)
	}
	return fmt.Errorf("no PEM block found: expected a -----BEGIN %s----- block; if the data comes from a Secret's .data field, base64-decode it first, and convert DER files with `openssl x509 -inform der` or `openssl pkey -inform der`", want)
}

// ParseCertificates returns every certificate in pemBytes, in order. Blocks of
// other types (a private key in a combined file, for example) are skipped, as
// crypto/tls does; a leading UTF-8 BOM and CRLF line endings are accepted.
// Input parsed before is answered from memory (memo.go); each caller gets
// certificates of its own, whose fields it may change without affecting
// another's (the slices and maps in them are shared: do not modify their
// contents).
func ParseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	return parsed.certificates(pemBytes)
}

func parseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	blocks, err := decodePEM(pemBytes)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, noPEMError(pemBytes, blockCertificate)
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != blockCertificate {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d is a CERTIFICATE that does not parse as X.509 (%w); export the certificate again", b.n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		types := blockTypes(blocks)
		hint := "pass a PEM file with -----BEGIN CERTIFICATE----- blocks"
		for _, t := range types {
			if strings.Contains(t, "PRIVATE KEY") {
				hint = "this looks like a private key: were the certificate and the key swapped?"
			}
		}
		return nil, fmt.Errorf("no CERTIFICATE block found, only %s; %s", describeTypes(types), hint)
	}
	return certs, nil
}

// ParsePrivateKey returns the one private key in pemBytes: PKCS#1 RSA, SEC1
// EC or PKCS#8 (RSA, ECDSA, Ed25519). Certificates and EC PARAMETERS blocks
// next to the key are ignored; encrypted keys yield an error wrapping
// ErrEncryptedKey, because the plugin has no business asking for passwords.
// Input parsed before is answered from memory (memo.go): callers share the
// key, which nothing in the plugin modifies.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	return parsed.privateKey(pemBytes)
}

func parsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	blocks, err := decodePEM(pemBytes)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, noPEMError(pemBytes, blockPKCS8)
	}
	var keys []crypto.Signer
	var others []numberedBlock
	for _, b := range blocks {
		switch b.Type {
		case blockEncrypted:
			return nil, encryptedKeyError(b.n)
		case blockPKCS8, blockPKCS1, blockSEC1:
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, encryptedKeyError(b.n)
			}
			key, err := parseKeyDER(b.Type, b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (%s) is not a usable private key: %w", b.n, b.Type, err)
			}
			keys = append(keys, key)
		case blockECParams:
			// openssl ecparam -genkey writes the curve before the key.
		default:
			others = append(others, b)
		}
	}
	switch {
	case len(keys) == 1:
		return keys[0], nil
	case len(keys) > 1:
		return nil, fmt.Errorf("found %d private keys; pass a file with exactly one", len(keys))
	}
	types := blockTypes(others)
	hint := "pass a PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
	switch {
	case slices.Contains(types, blockOpenSSH):
		hint = "OpenSSH-format keys are not supported; convert the key to PKCS#8 PEM (`ssh-keygen -p -m PKCS8` rewrites a key file in place, so run it on a copy)"
	case slices.Contains(types, blockCertificate):
		hint = "this looks like a certificate: were the certificate and the key swapped?"
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("no private key found; %s", hint)
	}
	return nil, fmt.Errorf("no private key found, only %s; %s", describeTypes(types), hint)
}

// encryptedKeyError says which block is encrypted and how to decrypt it.
func encryptedKeyError(n int) error {
	return fmt.Errorf("%w (PEM block %d): decrypt it first, e.g. with `openssl pkey -in key.pem -out key-plain.pem` (it asks for the password), pass the decrypted key instead, and keep that file private", ErrEncryptedKey, n)
}

// parseKeyDER parses DER as the format its PEM type names and, failing that,
// as the other formats: some tools label PKCS#8 keys "RSA PRIVATE KEY".
func parseKeyDER(typ string, der []byte) (crypto.Signer, error) {
	type parser func([]byte) (any, error)
	pkcs8 := x509.ParsePKCS8PrivateKey
	pkcs1 := func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) }
	sec1 := func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) }
	var order []parser
	switch typ {
	case blockPKCS1:
		order = []parser{pkcs1, pkcs8, sec1}
	case blockSEC1:
		order = []parser{sec1, pkcs8, pkcs1}
	default:
		order = []parser{pkcs8, pkcs1, sec1}
	}
	var firstErr error
	for _, parse := range order {
		key, err := parse(der)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		switch k := key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("keys of type %T cannot sign TLS handshakes; use an RSA, ECDSA or Ed25519 key", key)
		}
	}
	return nil, firstErr
}

// KeyPair is a certificate chain and the private key of its first
// certificate, the unit a TLS endpoint presents.
type KeyPair struct {
	// Chain holds the leaf first, then the intermediates (and possibly the root).
	Chain []*x509.Certificate
	// Key is the private key of Chain[0], held in memory only.
	Key crypto.Signer
}

// Leaf returns the first certificate of the chain, or nil when the chain is
// empty, so callers need not index into Chain.
func (kp *KeyPair) Leaf() *x509.Certificate {
	if kp == nil || len(kp.Chain) == 0 {
		return nil
	}
	return kp.Chain[0]
}

// ParseKeyPair parses a chain and its key (as in a kubernetes.io/tls Secret's
// tls.crt and tls.key) and checks that the key belongs to the first
// certificate, because a mismatch only shows up as a failed handshake.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	chain, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate chain: %w", err)
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	if err := KeyMatches(key, chain[0]); err != nil {
		for i, c := range chain[1:] {
			if KeyMatches(key, c) == nil {
				return nil, fmt.Errorf("the private key belongs to certificate %d (%s) of the chain, not to the first one; put the certificate that matches the key first, followed by its intermediates", i+2, certName(c))
			}
		}
		return nil, err
	}
	return &KeyPair{Chain: chain, Key: key}, nil
}

// KeyMatches reports whether key is the private half of cert's public key; a
// certificate and key from different renewals look alike but cannot
// complete a handshake.
func KeyMatches(key crypto.Signer, cert *x509.Certificate) error {
	if key == nil {
		return errors.New("no private key given")
	}
	if cert == nil {
		return errors.New("no certificate given to match the private key against")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("cannot compare a %T private key with certificate %s; use an RSA, ECDSA or Ed25519 key", key, certName(cert))
	}
	if !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("the private key (%s) does not belong to certificate %s (public key %s); take the key and the certificate from the same Secret or the same renewal", keyDescription(key.Public()), certName(cert), keyDescription(cert.PublicKey))
	}
	return nil
}

// keyDescription names a public key's algorithm and size, for messages about
// mismatched keys; it never includes key material.
func keyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil {
			return "RSA"
		}
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "ECDSA"
		}
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// EncodeCertificates returns certs as concatenated PEM CERTIFICATE blocks, in
// the order given (leaf first for a chain); nil entries are skipped.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		if c == nil {
			continue
		}
		// Writing to a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: blockCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// EncodePrivateKey returns key as a PKCS#8 "PRIVATE KEY" PEM block, the one
// format every consumer in the chain (Envoy, nginx, Traefik, Go) reads.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no private key given to encode")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cannot encode a %T private key as PKCS#8 (%w); only in-memory RSA, ECDSA and Ed25519 keys can be stored in a Secret", key, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockPKCS8, Bytes: der}), nil
}

// SameCertificates reports whether a and b hold byte-identical certificates
// in the same order; it is how a stale copy of a renewed certificate is found.
func SameCertificates(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool {
		if x == nil || y == nil {
			return x == y
		}
		return bytes.Equal(x.Raw, y.Raw)
	})
}
