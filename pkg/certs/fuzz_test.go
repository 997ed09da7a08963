package certs

import (
	"crypto/x509"
	"testing"
)

// FuzzParseCertificates checks that no input makes ParseCertificates panic,
// and that whatever it accepts survives encoding and describing. It is the
// one to run with -fuzz: its seeds hold no private keys, so the corpus that
// go test -fuzz writes to disk holds none either.
func FuzzParseCertificates(f *testing.F) {
	pki := newTestPKI(f, "F", serverOnly())
	chain := EncodeCertificates(pki.fullChain()...)
	leaf := EncodeCertificates(pki.leaf.cert)
	for _, seed := range [][]byte{
		chain,
		leaf,
		crlf(chain),
		bom(leaf),
		// No key material here: go test -fuzz stores interesting inputs on disk.
		cat(leaf, pemBlock("X509 CRL", nil, []byte{1, 2, 3})),
		leaf[:len(leaf)/2],
		pki.leaf.cert.Raw,
		pemBlock("CERTIFICATE", nil, []byte{0x30, 0x03, 0x02, 0x01, 0x01}),
		[]byte("-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("error %v returned together with certificates", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		for _, c := range certs {
			_ = Describe(c)
			_ = HasUsage(c, x509.ExtKeyUsageClientAuth)
			_ = CheckValidity(c, testNow())
		}
		back, err := ParseCertificates(EncodeCertificates(certs...))
		if err != nil || !SameCertificates(back, certs) {
			t.Fatalf("re-encoded certificates do not parse back the same: %v", err)
		}
	})
}

// FuzzParsePrivateKey checks that no input makes ParsePrivateKey panic, and
// that every key it accepts can be encoded again. Failure messages never
// include the input, which may be a key. Its seeds are keys generated in
// memory; running it with -fuzz would store mutated keys in the fuzz cache,
// so plain go test (seeds only) is how it is meant to run.
func FuzzParsePrivateKey(f *testing.F) {
	keys := newTestKeys(f)
	pki := newTestPKI(f, "FK", serverOnly())
	for _, seed := range [][]byte{
		pemBlock("RSA PRIVATE KEY", nil, mustPKCS1(keys)),
		pemBlock("PRIVATE KEY", nil, mustPKCS8(f, keys.rsa)),
		pemBlock("EC PRIVATE KEY", nil, mustSEC1(f, keys.ec)),
		pemBlock("PRIVATE KEY", nil, mustPKCS8(f, keys.ec)),
		pemBlock("PRIVATE KEY", nil, mustPKCS8(f, keys.ed)),
		crlf(pemBlock("EC PRIVATE KEY", nil, mustSEC1(f, keys.ec))),
		bom(pemBlock("PRIVATE KEY", nil, mustPKCS8(f, keys.ed))),
		pemBlock("RSA PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, []byte{1, 2, 3}),
		pemBlock("ENCRYPTED PRIVATE KEY", nil, []byte{1, 2, 3}),
		EncodeCertificates(pki.leaf.cert),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		if err != nil {
			if key != nil {
				t.Fatal("a key returned together with an error")
			}
			return
		}
		if key == nil {
			t.Fatal("no error and no key")
		}
		_ = keyDescription(key.Public())
		encoded, err := EncodePrivateKey(key)
		if err != nil {
			t.Fatalf("an accepted %T key does not encode: %v", key, err)
		}
		if _, err := ParsePrivateKey(encoded); err != nil {
			t.Fatalf("a re-encoded %T key does not parse back: %v", key, err)
		}
	})
}

// mustPKCS1 marshals the RSA key as PKCS#1 DER.
func mustPKCS1(keys testKeys) []byte { return x509.MarshalPKCS1PrivateKey(keys.rsa) }
