package certs

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckValidity(t *testing.T) {
	pki := newTestPKI(t, "V", serverOnly())
	leaf := pki.leaf.cert
	tests := []struct {
		name    string
		now     time.Time
		wantIs  error
		wantErr []string
	}{
		{name: "valid", now: testNow()},
		{name: "first second", now: leaf.NotBefore},
		{name: "last second", now: leaf.NotAfter},
		{name: "expired", now: leaf.NotAfter.Add(5 * 24 * time.Hour), wantIs: ErrExpired,
			wantErr: []string{"expired at " + leaf.NotAfter.UTC().Format(time.RFC3339), "5 days ago", "renew or replace", "kubectl albistio secrets"}},
		{name: "expired a second ago", now: leaf.NotAfter.Add(time.Second), wantIs: ErrExpired, wantErr: []string{"expired", "(1s ago)"}},
		{name: "not yet valid", now: leaf.NotBefore.Add(-2 * time.Hour), wantIs: ErrNotYetValid,
			wantErr: []string{"not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339), "2h0m0s from now", "clock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckValidity(leaf, tt.now)
			checkErr(t, err, tt.wantErr)
			if tt.wantIs == nil {
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %q", err, tt.wantIs)
			}
			for _, other := range []error{ErrExpired, ErrNotYetValid} {
				if other != tt.wantIs && errors.Is(err, other) {
					t.Errorf("error %q also matches %q", err, other)
				}
			}
			var ve *ValidityError
			if !errors.As(err, &ve) || ve.Cert != leaf {
				t.Errorf("error is not a *ValidityError for the leaf")
			}
		})
	}
	if CheckValidity(nil, testNow()) == nil {
		t.Errorf("CheckValidity(nil) succeeded")
	}
}

func TestCheckCovers(t *testing.T) {
	pki := newTestPKI(t, "C", serverOnly())
	noSAN := issue(t, certSpec{cn: testGatewayHost}, pki.intermediate)
	tests := []struct {
		name    string
		cert    *x509.Certificate
		host    string
		wantErr []string
	}{
		{name: "exact name", cert: pki.leaf.cert, host: testGatewayHost},
		{name: "case-insensitive", cert: pki.leaf.cert, host: "GW.Example.TEST"},
		{name: "wildcard covers one label", cert: pki.leaf.cert, host: "bookinfo.apps.example.test"},
		{name: "wildcard does not cover two labels", cert: pki.leaf.cert, host: "a.b.apps.example.test",
			wantErr: []string{`does not cover "a.b.apps.example.test"`, testGatewayHost + ", " + testWildcard}},
		{name: "wildcard does not cover the apex", cert: pki.leaf.cert, host: "apps.example.test", wantErr: []string{"does not cover"}},
		{name: "other domain", cert: pki.leaf.cert, host: "alb.example.test", wantErr: []string{"valid for " + testGatewayHost, `issued for "alb.example.test"`}},
		{name: "common name only", cert: noSAN.cert, host: testGatewayHost, wantErr: []string{"no names in its subjectAltName", "Common Name"}},
		{name: "no name", cert: pki.leaf.cert, host: "", wantErr: []string{"no DNS name"}},
		{name: "no certificate", cert: nil, host: testGatewayHost, wantErr: []string{"no certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCovers(tt.cert, tt.host)
			checkErr(t, err, tt.wantErr)
			var he x509.HostnameError
			if err != nil && tt.cert != nil && tt.host != "" && !errors.As(err, &he) {
				t.Errorf("error does not wrap x509.HostnameError")
			}
		})
	}
}

func TestHasUsage(t *testing.T) {
	pki := newTestPKI(t, "U", serverOnly())
	both := newTestPKI(t, "U2", serverAndClient())
	anyEKU := issue(t, certSpec{cn: "any", ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, pki.intermediate)
	codeOnly := issue(t, certSpec{cn: "code", ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}, pki.intermediate)
	tests := []struct {
		name  string
		cert  *x509.Certificate
		usage x509.ExtKeyUsage
		want  bool
	}{
		{name: "serverAuth only, want serverAuth", cert: pki.leaf.cert, usage: x509.ExtKeyUsageServerAuth, want: true},
		{name: "serverAuth only, want clientAuth", cert: pki.leaf.cert, usage: x509.ExtKeyUsageClientAuth, want: false},
		{name: "both, want clientAuth", cert: both.leaf.cert, usage: x509.ExtKeyUsageClientAuth, want: true},
		{name: "no EKU extension", cert: pki.root.cert, usage: x509.ExtKeyUsageClientAuth, want: true},
		{name: "anyExtendedKeyUsage", cert: anyEKU.cert, usage: x509.ExtKeyUsageClientAuth, want: true},
		{name: "codeSigning, want serverAuth", cert: codeOnly.cert, usage: x509.ExtKeyUsageServerAuth, want: false},
		{name: "asking for any", cert: codeOnly.cert, usage: x509.ExtKeyUsageAny, want: true},
		{name: "nil certificate", cert: nil, usage: x509.ExtKeyUsageServerAuth, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasUsage(tt.cert, tt.usage); got != tt.want {
				t.Errorf("HasUsage = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	le := newTestPKI(t, "LE2026", serverOnly())
	old := newTestPKI(t, "LE2025", serverAndClient())
	// A leaf that asks for clientAuth under an intermediate that does not
	// allow it: the chain, not the leaf, is at fault.
	clientUnderServerOnly := issue(t, certSpec{cn: "client.example.test", ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, le.intermediate)
	notACA := issue(t, certSpec{cn: "not a CA"}, le.intermediate)
	underLeaf := issue(t, certSpec{cn: "under.example.test"}, notACA)
	roots := []*x509.Certificate{le.root.cert, old.root.cert}
	expiredInter := issue(t, certSpec{cn: "Expired Intermediate", isCA: true, notBefore: testNow().Add(-400 * 24 * time.Hour), notAfter: testNow().Add(-24 * time.Hour)}, le.root)
	deadRoot := issue(t, certSpec{cn: "DST Root CA X3 (test)", isCA: true, notBefore: testNow().Add(-20 * 365 * 24 * time.Hour), notAfter: testNow().Add(-4 * 365 * 24 * time.Hour)}, nil)
	underExpired := issue(t, certSpec{cn: "under-expired.example.test", notBefore: testNow().Add(-300 * 24 * time.Hour)}, expiredInter)

	tests := []struct {
		name      string
		chain     []*x509.Certificate
		roots     []*x509.Certificate
		usage     x509.ExtKeyUsage
		dns       string
		now       time.Time
		wantPath  []*x509.Certificate
		wantErr   []string
		wantUsage *x509.Certificate // the certificate a *UsageError must blame
		wantAs    any               // a pointer errors.As must fill
		wantIs    error
	}{
		{name: "serverAuth chain for serverAuth", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, dns: testGatewayHost, wantPath: le.fullChain()},
		{name: "full chain including root", chain: le.fullChain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, wantPath: le.fullChain()},
		{name: "wildcard name", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, dns: "x.apps.example.test", wantPath: le.fullChain()},
		{name: "serverAuth-only chain for clientAuth", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageClientAuth,
			wantUsage: le.leaf.cert,
			wantErr:   []string{"does not allow clientAuth", "[serverAuth]", "Envoy", "ssl_client", "2026-02-11", "private CA"}},
		{name: "serverAuth-only chain for clientAuth, with name", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageClientAuth, dns: testGatewayHost,
			wantUsage: le.leaf.cert, wantErr: []string{"ssl_client"}},
		{name: "serverAuth+clientAuth chain for clientAuth", chain: old.chain(), roots: roots, usage: x509.ExtKeyUsageClientAuth, wantPath: old.fullChain()},
		{name: "clientAuth leaf under serverAuth-only intermediate", chain: []*x509.Certificate{clientUnderServerOnly.cert, le.intermediate.cert}, roots: roots, usage: x509.ExtKeyUsageClientAuth,
			wantUsage: le.intermediate.cert, wantErr: []string{"issuing certificate", "Test Intermediate LE2026", "every certificate of a chain"}},
		{name: "clientAuth leaf for serverAuth", chain: []*x509.Certificate{clientUnderServerOnly.cert, le.intermediate.cert}, roots: roots, usage: x509.ExtKeyUsageServerAuth,
			wantUsage: clientUnderServerOnly.cert, wantErr: []string{"does not allow serverAuth", "TLS server"}},
		{name: "missing intermediate", chain: le.chain()[:1], roots: roots, usage: x509.ExtKeyUsageServerAuth,
			wantAs: new(x509.UnknownAuthorityError), wantErr: []string{"Test Intermediate LE2026", "missing", "leaf first, then intermediates", "--ca-file"}},
		{name: "expired intermediate", chain: []*x509.Certificate{underExpired.cert, expiredInter.cert}, roots: roots, usage: x509.ExtKeyUsageServerAuth,
			wantIs: ErrExpired, wantAs: new(x509.CertificateInvalidError),
			wantErr: []string{`cannot verify certificate "under-expired.example.test"`, `certificate "Expired Intermediate" expired at`}},
		{name: "only an expired root in --ca-file", chain: le.chain(), roots: []*x509.Certificate{deadRoot.cert}, usage: x509.ExtKeyUsageServerAuth,
			wantAs: new(x509.UnknownAuthorityError), wantErr: []string{"--ca-file", `Also: certificate "DST Root CA X3 (test)" expired at`}},
		{name: "root not trusted", chain: le.chain(), roots: []*x509.Certificate{old.root.cert}, usage: x509.ExtKeyUsageServerAuth,
			wantAs: new(x509.UnknownAuthorityError), wantErr: []string{"Test Root LE2026", "--ca-file"}},
		{name: "wrong name", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, dns: "alb.example.test",
			wantAs: new(x509.HostnameError), wantErr: []string{`does not cover "alb.example.test"`}},
		{name: "expired leaf", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, now: le.leaf.cert.NotAfter.Add(time.Hour),
			wantIs: ErrExpired, wantAs: new(x509.CertificateInvalidError), wantErr: []string{"expired at"}},
		{name: "leaf not yet valid", chain: le.chain(), roots: roots, usage: x509.ExtKeyUsageServerAuth, now: le.leaf.cert.NotBefore.Add(-time.Hour),
			wantIs: ErrNotYetValid, wantErr: []string{"not valid before"}},
		{name: "issuer is not a CA", chain: []*x509.Certificate{underLeaf.cert, notACA.cert, le.intermediate.cert}, roots: roots, usage: x509.ExtKeyUsageServerAuth,
			wantErr: []string{"cannot verify certificate"}},
		{name: "empty chain", chain: nil, roots: roots, usage: x509.ExtKeyUsageServerAuth, wantErr: []string{"chain is empty"}},
		{name: "no roots", chain: le.chain(), roots: nil, usage: x509.ExtKeyUsageServerAuth, wantErr: []string{"no trusted root", "--ca-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow()
			}
			path, err := VerifyChain(tt.chain, tt.roots, tt.usage, tt.dns, now)
			if tt.wantUsage != nil {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("error %v is not a *UsageError", err)
				}
				if ue.Usage != tt.usage || ue.Leaf != tt.chain[0] || ue.Cert != tt.wantUsage {
					t.Errorf("UsageError{Usage: %s, Leaf: %s, Cert: %s}, want usage %s blaming %s",
						UsageName(ue.Usage), certName(ue.Leaf), certName(ue.Cert), UsageName(tt.usage), certName(tt.wantUsage))
				}
				var invalid x509.CertificateInvalidError
				if !errors.As(err, &invalid) || invalid.Reason != x509.IncompatibleUsage {
					t.Errorf("UsageError does not unwrap to x509 IncompatibleUsage")
				}
			}
			checkErr(t, err, tt.wantErr)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %q", err, tt.wantIs)
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("error %q does not wrap a %T", err, tt.wantAs)
			}
			if tt.wantErr == nil && !SameCertificates(path, tt.wantPath) {
				t.Errorf("verified path has %d certificates, want %d (leaf to root)", len(path), len(tt.wantPath))
			}
		})
	}
}

func TestBundledRoots(t *testing.T) {
	roots := BundledRoots()
	if len(roots) != 2 {
		t.Fatalf("BundledRoots returned %d certificates, want 2", len(roots))
	}
	for i, want := range []string{"ISRG Root X1", "ISRG Root X2"} {
		r := roots[i]
		if r.Subject.CommonName != want {
			t.Errorf("root %d is %q, want %q", i, r.Subject.CommonName, want)
		}
		if !r.IsCA || !isSelfSigned(r) {
			t.Errorf("root %q is not a self-signed CA", want)
		}
		if err := CheckValidity(r, testNow()); err != nil {
			t.Errorf("bundled root: %v", err)
		}
	}
	roots[0] = nil
	if BundledRoots()[0] == nil {
		t.Errorf("changing the returned slice changed the bundled roots")
	}

	// Real Let's Encrypt intermediates verify against them.
	for _, tc := range []struct{ file, root string }{
		{"lets-encrypt-r12.pem", "ISRG Root X1"},
		{"lets-encrypt-e7.pem", "ISRG Root X2"},
	} {
		inter := readTestCert(t, tc.file)
		path, err := VerifyChain([]*x509.Certificate{inter}, BundledRoots(), x509.ExtKeyUsageAny, "", testNow())
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(path) != 2 || path[1].Subject.CommonName != tc.root {
			t.Errorf("%s: verified path ends at %s, want %q", tc.file, certName(path[len(path)-1]), tc.root)
		}
	}
}

func TestTrustAnchor(t *testing.T) {
	pki := newTestPKI(t, "T", serverOnly())
	other := newTestPKI(t, "O", serverOnly())
	selfSignedLeaf := issue(t, certSpec{cn: "self.example.test", dns: []string{"self.example.test"}}, nil)
	r12 := readTestCert(t, "lets-encrypt-r12.pem")
	e7 := readTestCert(t, "lets-encrypt-e7.pem")
	tests := []struct {
		name    string
		chain   []*x509.Certificate
		extra   []*x509.Certificate
		want    string // CN of the expected anchor
		wantErr []string
	}{
		{name: "self-signed last certificate", chain: pki.fullChain(), want: "Test Root T"},
		{name: "self-signed leaf alone", chain: []*x509.Certificate{selfSignedLeaf.cert}, want: "self.example.test"},
		{name: "root from --ca-file", chain: pki.chain(), extra: []*x509.Certificate{other.root.cert, pki.root.cert}, want: "Test Root T"},
		{name: "intermediate and root from --ca-file", chain: pki.chain()[:1], extra: []*x509.Certificate{pki.intermediate.cert, pki.root.cert}, want: "Test Root T"},
		{name: "only the intermediate in --ca-file", chain: pki.chain()[:1], extra: []*x509.Certificate{pki.intermediate.cert}, want: "Test Intermediate T"},
		{name: "bundled ISRG Root X1", chain: []*x509.Certificate{r12}, want: "ISRG Root X1"},
		{name: "bundled ISRG Root X2", chain: []*x509.Certificate{e7}, want: "ISRG Root X2"},
		{name: "same subject, other key is not the issuer", chain: pki.chain(), extra: []*x509.Certificate{issue(t, certSpec{cn: "Test Root T", isCA: true}, nil).cert},
			wantErr: []string{"unknown"}},
		{name: "unknown root", chain: pki.chain(), extra: []*x509.Certificate{other.root.cert},
			wantErr: []string{"root certificate of \"Test Intermediate T\" is unknown", `issuer "Test Root T"`, "ISRG Root X1", "--ca-file"}},
		{name: "empty chain", chain: nil, wantErr: []string{"no certificate chain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TrustAnchor(tt.chain, tt.extra)
			checkErr(t, err, tt.wantErr)
			if err != nil {
				if len(tt.chain) > 0 {
					var ua x509.UnknownAuthorityError
					if !errors.As(err, &ua) {
						t.Errorf("error does not wrap x509.UnknownAuthorityError")
					}
				}
				return
			}
			if got.Subject.CommonName != tt.want {
				t.Errorf("TrustAnchor = %s, want %q", certName(got), tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	pki := newTestPKI(t, "D", serverOnly())
	got := Describe(pki.leaf.cert)
	for _, want := range []string{
		`subject="` + testGatewayHost + `"`,
		`issuer="Test Intermediate D"`,
		"sans=[" + testGatewayHost + "," + testWildcard + "]",
		"eku=[serverAuth]",
		"notAfter=" + pki.leaf.cert.NotAfter.UTC().Format(time.RFC3339),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe = %q, missing %q", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("Describe spans lines: %q", got)
	}
	if got := Describe(pki.root.cert); !strings.Contains(got, "eku=[any]") {
		t.Errorf("Describe(root) = %q, want eku=[any]", got)
	}
	if got := Describe(nil); got == "" {
		t.Errorf("Describe(nil) is empty")
	}
}

func TestUsageName(t *testing.T) {
	tests := []struct {
		usage x509.ExtKeyUsage
		want  string
	}{
		{x509.ExtKeyUsageServerAuth, "serverAuth"},
		{x509.ExtKeyUsageClientAuth, "clientAuth"},
		{x509.ExtKeyUsageAny, "anyExtendedKeyUsage"},
		{x509.ExtKeyUsageOCSPSigning, "OCSPSigning"},
		{x509.ExtKeyUsage(999), "ExtKeyUsage(999)"},
	}
	for _, tt := range tests {
		if got := UsageName(tt.usage); got != tt.want {
			t.Errorf("UsageName(%d) = %q, want %q", tt.usage, got, tt.want)
		}
	}
}
