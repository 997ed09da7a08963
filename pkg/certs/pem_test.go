package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"
)

// crlf turns LF line endings into CRLF, as a Windows editor saves them.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

// bom prefixes a UTF-8 byte order mark.
func bom(b []byte) []byte { return append([]byte("\xef\xbb\xbf"), b...) }

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pemBlock encodes one PEM block.
func pemBlock(typ string, headers map[string]string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

func TestParseCertificates(t *testing.T) {
	pki := newTestPKI(t, "P", serverOnly())
	leafPEM := EncodeCertificates(pki.leaf.cert)
	chainPEM := EncodeCertificates(pki.fullChain()...)
	keyPEM, err := EncodePrivateKey(pki.leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	goodBlock := EncodeCertificates(pki.intermediate.cert)
	truncated := leafPEM[:len(leafPEM)-30]
	badBase64 := []byte("-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n")
	badDER := pemBlock("CERTIFICATE", nil, []byte("not a certificate"))

	tests := []struct {
		name    string
		in      []byte
		want    []*x509.Certificate
		wantErr []string // substrings of the error; nil means success
	}{
		{name: "one certificate", in: leafPEM, want: []*x509.Certificate{pki.leaf.cert}},
		{name: "chain keeps order", in: chainPEM, want: pki.fullChain()},
		{name: "CRLF line endings", in: crlf(chainPEM), want: pki.fullChain()},
		{name: "leading BOM", in: bom(leafPEM), want: []*x509.Certificate{pki.leaf.cert}},
		{name: "BOM and CRLF", in: bom(crlf(chainPEM)), want: pki.fullChain()},
		{name: "text around blocks", in: cat([]byte("subject=CN = gw\nissuer=CN = x\n"), leafPEM, []byte("trailing note\n")), want: []*x509.Certificate{pki.leaf.cert}},
		{name: "key block in a combined file is skipped", in: cat(leafPEM, keyPEM), want: []*x509.Certificate{pki.leaf.cert}},
		{name: "empty", in: nil, wantErr: []string{"empty"}},
		{name: "only whitespace", in: []byte(" \n\t\r\n"), wantErr: []string{"empty"}},
		{name: "base64 from a Secret, not PEM", in: []byte("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="), wantErr: []string{"no PEM block", "base64-decode"}},
		{name: "DER instead of PEM", in: pki.leaf.cert.Raw, wantErr: []string{"no PEM block"}},
		{name: "non-certificate block only", in: keyPEM, wantErr: []string{"no CERTIFICATE block", "PRIVATE KEY", "swapped"}},
		{name: "other non-certificate block", in: pemBlock("X509 CRL", nil, []byte{1, 2, 3}), wantErr: []string{"no CERTIFICATE block", "X509 CRL"}},
		{name: "truncated block", in: truncated, wantErr: []string{"PEM block 1", "CERTIFICATE", "truncated"}},
		{name: "truncated second block", in: cat(goodBlock, truncated), wantErr: []string{"PEM block 2"}},
		{name: "bad base64 in second block", in: cat(goodBlock, badBase64, goodBlock), wantErr: []string{"PEM block 2", "malformed"}},
		{name: "second block is not X.509", in: cat(goodBlock, badDER), wantErr: []string{"PEM block 2", "does not parse as X.509"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCertificates(tt.in)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseCertificates succeeded with %d certificates, want an error", len(got))
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			if !SameCertificates(got, tt.want) {
				t.Errorf("got %d certificates, not the %d expected in order", len(got), len(tt.want))
			}
		})
	}
}

// testKeys holds one key of each supported algorithm.
type testKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// newTestKeys generates one key of each supported algorithm, in memory.
func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{rsa: rsaKey, ec: newECKey(t), ed: edKey}
}

// mustPKCS8 marshals key as PKCS#8 DER.
func mustPKCS8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// mustSEC1 marshals an EC key as SEC 1 DER.
func mustSEC1(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParsePrivateKey(t *testing.T) {
	keys := newTestKeys(t)
	pki := newTestPKI(t, "K", serverOnly())
	rsaPKCS1 := pemBlock("RSA PRIVATE KEY", nil, x509.MarshalPKCS1PrivateKey(keys.rsa))
	rsaPKCS8 := pemBlock("PRIVATE KEY", nil, mustPKCS8(t, keys.rsa))
	ecSEC1 := pemBlock("EC PRIVATE KEY", nil, mustSEC1(t, keys.ec))
	ecPKCS8 := pemBlock("PRIVATE KEY", nil, mustPKCS8(t, keys.ec))
	edPKCS8 := pemBlock("PRIVATE KEY", nil, mustPKCS8(t, keys.ed))
	ecParams := pemBlock("EC PARAMETERS", nil, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 64)
	if _, err := io.ReadFull(rand.Reader, random); err != nil {
		t.Fatal(err)
	}
	legacyEncrypted := pemBlock("RSA PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, random)
	legacyEncryptedEC := pemBlock("EC PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, random)
	pkcs8Encrypted := pemBlock("ENCRYPTED PRIVATE KEY", nil, random)
	certPEM := EncodeCertificates(pki.leaf.cert)

	tests := []struct {
		name    string
		in      []byte
		want    crypto.PublicKey
		wantErr []string
		wantIs  error
	}{
		{name: "PKCS#1 RSA", in: rsaPKCS1, want: keys.rsa.Public()},
		{name: "PKCS#8 RSA", in: rsaPKCS8, want: keys.rsa.Public()},
		{name: "SEC1 EC", in: ecSEC1, want: keys.ec.Public()},
		{name: "PKCS#8 ECDSA", in: ecPKCS8, want: keys.ec.Public()},
		{name: "PKCS#8 Ed25519", in: edPKCS8, want: keys.ed.Public()},
		{name: "EC PARAMETERS before SEC1 key", in: cat(ecParams, ecSEC1), want: keys.ec.Public()},
		{name: "PKCS#8 labelled RSA PRIVATE KEY", in: pemBlock("RSA PRIVATE KEY", nil, mustPKCS8(t, keys.rsa)), want: keys.rsa.Public()},
		{name: "CRLF line endings", in: crlf(ecPKCS8), want: keys.ec.Public()},
		{name: "leading BOM", in: bom(rsaPKCS1), want: keys.rsa.Public()},
		{name: "key after certificate in a combined file", in: cat(certPEM, ecSEC1), want: keys.ec.Public()},
		{name: "legacy encrypted RSA (Proc-Type)", in: legacyEncrypted, wantIs: ErrEncryptedKey, wantErr: []string{"encrypted", "openssl pkey", "PEM block 1"}},
		{name: "legacy encrypted EC (Proc-Type)", in: legacyEncryptedEC, wantIs: ErrEncryptedKey, wantErr: []string{"not supported", "decrypt"}},
		{name: "encrypted PKCS#8", in: pkcs8Encrypted, wantIs: ErrEncryptedKey, wantErr: []string{"encrypted", "openssl pkey"}},
		{name: "empty", in: nil, wantErr: []string{"empty"}},
		{name: "certificate instead of key", in: certPEM, wantErr: []string{"no private key", "CERTIFICATE", "swapped"}},
		{name: "two keys", in: cat(ecSEC1, rsaPKCS8), wantErr: []string{"2 private keys", "exactly one"}},
		{name: "garbage DER", in: pemBlock("PRIVATE KEY", nil, []byte("garbage")), wantErr: []string{"PEM block 1", "not a usable private key"}},
		{name: "X25519 cannot sign", in: pemBlock("PRIVATE KEY", nil, mustPKCS8(t, x25519)), wantErr: []string{"cannot sign", "ECDSA"}},
		{name: "OpenSSH format", in: pemBlock("OPENSSH PRIVATE KEY", nil, []byte("openssh-key-v1")), wantErr: []string{"OpenSSH", "PKCS#8"}},
		{name: "truncated", in: ecPKCS8[:len(ecPKCS8)-20], wantErr: []string{"PEM block 1", "truncated"}},
		{name: "not PEM", in: []byte("hello"), wantErr: []string{"no PEM block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tt.in)
			if tt.wantErr != nil || tt.wantIs != nil {
				if err == nil {
					t.Fatalf("ParsePrivateKey succeeded with a %T, want an error", got)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %q is not %q", err, tt.wantIs)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Errorf("parsed key's public half differs from the original")
			}
		})
	}
}

func TestKeyMatches(t *testing.T) {
	keys := newTestKeys(t)
	pki := newTestPKI(t, "M", serverOnly())
	edCert := issue(t, certSpec{cn: "ed25519.example.test", key: keys.ed}, pki.intermediate)
	tests := []struct {
		name    string
		key     crypto.Signer
		cert    *x509.Certificate
		wantErr []string
	}{
		{name: "ECDSA match", key: pki.leaf.key, cert: pki.leaf.cert},
		{name: "Ed25519 match", key: keys.ed, cert: edCert.cert},
		{name: "ECDSA mismatch", key: keys.ec, cert: pki.leaf.cert, wantErr: []string{"does not belong", testGatewayHost, "same Secret"}},
		{name: "RSA key, ECDSA certificate", key: keys.rsa, cert: pki.leaf.cert, wantErr: []string{"RSA 2048", "ECDSA P-256"}},
		{name: "Ed25519 key, ECDSA certificate", key: keys.ed, cert: pki.leaf.cert, wantErr: []string{"Ed25519"}},
		{name: "no key", key: nil, cert: pki.leaf.cert, wantErr: []string{"no private key"}},
		{name: "no certificate", key: keys.ec, cert: nil, wantErr: []string{"no certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := KeyMatches(tt.key, tt.cert)
			checkErr(t, err, tt.wantErr)
		})
	}
}

// checkErr fails unless err is nil when want is nil, or contains every
// substring of want.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestParseKeyPair(t *testing.T) {
	pki := newTestPKI(t, "KP", serverOnly())
	other := newECKey(t)
	leafKey, err := EncodePrivateKey(pki.leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := EncodePrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM := EncodeCertificates(pki.chain()...)
	tests := []struct {
		name      string
		cert, key []byte
		wantErr   []string
		wantIs    error
	}{
		{name: "matching chain and key", cert: chainPEM, key: leafKey},
		{name: "CRLF and BOM everywhere", cert: bom(crlf(chainPEM)), key: bom(crlf(leafKey))},
		{name: "key of another certificate", cert: chainPEM, key: otherKey, wantErr: []string{"does not belong", testGatewayHost}},
		{name: "leaf not first", cert: EncodeCertificates(pki.intermediate.cert, pki.leaf.cert), key: leafKey, wantErr: []string{"certificate 2", "first"}},
		{name: "bad certificate", cert: []byte("nope"), key: leafKey, wantErr: []string{"reading the certificate chain", "no PEM block"}},
		{name: "encrypted key", cert: chainPEM, key: pemBlock("ENCRYPTED PRIVATE KEY", nil, []byte{1, 2, 3}), wantIs: ErrEncryptedKey, wantErr: []string{"reading the private key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ParseKeyPair(tt.cert, tt.key)
			checkErr(t, err, tt.wantErr)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %q", err, tt.wantIs)
			}
			if err != nil {
				return
			}
			if !SameCertificates(kp.Chain, pki.chain()) || kp.Leaf() != kp.Chain[0] {
				t.Errorf("chain not returned leaf first in input order")
			}
			if KeyMatches(kp.Key, kp.Leaf()) != nil {
				t.Errorf("returned key does not match the leaf")
			}
		})
	}
	var empty *KeyPair
	if empty.Leaf() != nil || (&KeyPair{}).Leaf() != nil {
		t.Errorf("Leaf of an empty KeyPair is not nil")
	}
}

// hsmSigner stands for a key that lives outside memory and cannot be exported.
type hsmSigner struct{ crypto.Signer }

func TestEncodeRoundTrip(t *testing.T) {
	keys := newTestKeys(t)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"RSA", keys.rsa}, {"ECDSA", keys.ec}, {"Ed25519", keys.ed}} {
		key := tc.key
		t.Run(tc.name, func(t *testing.T) {
			encoded, err := EncodePrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(encoded, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("not a PKCS#8 PEM block")
			}
			back, err := ParsePrivateKey(encoded)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Errorf("round trip changed the key")
			}
		})
	}
	if _, err := EncodePrivateKey(nil); err == nil {
		t.Errorf("EncodePrivateKey(nil) succeeded")
	}
	if _, err := EncodePrivateKey(hsmSigner{keys.ec}); err == nil || !strings.Contains(err.Error(), "PKCS#8") {
		t.Errorf("EncodePrivateKey(non-exportable) = %v, want a PKCS#8 error", err)
	}

	pki := newTestPKI(t, "E", serverOnly())
	encoded := EncodeCertificates(pki.leaf.cert, nil, pki.intermediate.cert)
	back, err := ParseCertificates(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if !SameCertificates(back, pki.chain()) {
		t.Errorf("certificate round trip changed the chain")
	}
	if got := EncodeCertificates(); len(got) != 0 {
		t.Errorf("EncodeCertificates() = %q, want nothing", got)
	}
}

func TestSameCertificates(t *testing.T) {
	a := newTestPKI(t, "A", serverOnly())
	b := newTestPKI(t, "B", serverOnly())
	reparsed, err := ParseCertificates(EncodeCertificates(a.chain()...))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x, y []*x509.Certificate
		want bool
	}{
		{name: "same objects", x: a.chain(), y: a.chain(), want: true},
		{name: "same bytes, other objects", x: a.chain(), y: reparsed, want: true},
		{name: "both empty", x: nil, y: []*x509.Certificate{}, want: true},
		{name: "other order", x: a.chain(), y: []*x509.Certificate{a.intermediate.cert, a.leaf.cert}, want: false},
		{name: "renewed leaf", x: a.chain(), y: []*x509.Certificate{b.leaf.cert, a.intermediate.cert}, want: false},
		{name: "missing intermediate", x: a.chain(), y: a.chain()[:1], want: false},
		{name: "nil entry", x: []*x509.Certificate{nil}, y: []*x509.Certificate{a.leaf.cert}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameCertificates(tt.x, tt.y); got != tt.want {
				t.Errorf("SameCertificates = %v, want %v", got, tt.want)
			}
		})
	}
}
