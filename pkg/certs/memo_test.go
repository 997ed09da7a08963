package certs

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The memory of parsed input answers the same bytes with the same
// certificates, but each caller's are its own: one caller's change to a
// field does not show in another's.
func TestParseCertificatesMemoCopies(t *testing.T) {
	pki := newTestPKI(t, "Memo", serverOnly())
	chainPEM := EncodeCertificates(pki.fullChain()...)
	a, err := ParseCertificates(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	want := a[0].NotAfter
	a[0].NotAfter = time.Unix(0, 0)
	a[1] = nil
	b, err := ParseCertificates(chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(pki.fullChain()) || b[1] == nil {
		t.Fatalf("second parse returned %d certificates (%v): the first caller's slice leaked into it", len(b), b)
	}
	if !b[0].NotAfter.Equal(want) {
		t.Errorf("second parse sees NotAfter %v, the first caller's change; want %v", b[0].NotAfter, want)
	}
	for i, c := range b {
		if !bytes.Equal(c.Raw, pki.fullChain()[i].Raw) {
			t.Errorf("certificate %d is not the one in the input", i)
		}
	}
}

// The same bytes read as certificates and as a private key (a combined PEM
// file) give each its own answer.
func TestParseMemoKindsApart(t *testing.T) {
	pki := newTestPKI(t, "Combined", serverOnly())
	keyPEM, err := EncodePrivateKey(pki.leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	combined := cat(EncodeCertificates(pki.leaf.cert), keyPEM)
	for range 2 { // the second round is answered from memory
		cs, err := ParseCertificates(combined)
		if err != nil || len(cs) != 1 {
			t.Fatalf("ParseCertificates(combined) = %d certs, %v", len(cs), err)
		}
		key, err := ParsePrivateKey(combined)
		if err != nil || key == nil {
			t.Fatalf("ParsePrivateKey(combined) = %v, %v", key, err)
		}
		if KeyMatches(key, cs[0]) != nil {
			t.Fatal("key and certificate of the combined file do not match")
		}
	}
}

// Errors are answered from memory too, with the same message.
func TestParseMemoErrors(t *testing.T) {
	bad := []byte("-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n")
	_, err1 := ParseCertificates(bad)
	_, err2 := ParseCertificates(bad)
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors %v and %v: want the same error twice", err1, err2)
	}
	if _, err := ParsePrivateKey(bad); err == nil {
		t.Fatal("a certificate block parsed as a private key")
	}
}

// The memory holds at most memoLimit answers, however many inputs a
// process parses (a fuzzer parses millions).
func TestParseMemoBounded(t *testing.T) {
	for i := range memoLimit*2 + 3 {
		_, _ = ParsePrivateKey(fmt.Appendf(nil, "not a key %d", i))
		parsed.mu.Lock()
		n := len(parsed.m)
		parsed.mu.Unlock()
		if n > memoLimit {
			t.Fatalf("after %d inputs the memory holds %d answers, more than %d", i+1, n, memoLimit)
		}
	}
}

// Concurrent callers (check's rules run per chain, check --contexts many
// chains at once) get correct answers (run with -race).
func TestParseMemoConcurrent(t *testing.T) {
	pki := newTestPKI(t, "Race", serverOnly())
	keyPEM, err := EncodePrivateKey(pki.leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := EncodeCertificates(pki.leaf.cert)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			kp, err := ParseKeyPair(certPEM, keyPEM)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(kp.Leaf().Raw, pki.leaf.cert.Raw) {
				errs <- fmt.Errorf("wrong leaf")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
