package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// skipOrFailCertManager skips a cert-manager test for a missing
// prerequisite, or fails it when ALBISTIO_REQUIRE_CERTMANAGER=1 (CI, where
// skipping would hide it).
func skipOrFailCertManager(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("ALBISTIO_REQUIRE_CERTMANAGER") == "1" {
		t.Fatalf("%s (ALBISTIO_REQUIRE_CERTMANAGER=1)", why)
	}
	t.Skip(why)
}

// requireCertManager runs cert-manager's real controllers against the
// package's API server for one test: its CRDs installed and
// cert-manager-controller (test/certmanager) started; when the test ends the
// controller stops and the CRDs go, so later tests see no cert-manager.io
// API (the plugin's choices depend on it). Tests skip when the binary is not
// built, unless ALBISTIO_REQUIRE_CERTMANAGER=1. The controller's log is
// env.cluster.CertManagerLog(). It returns how long the start took.
func requireCertManager(t *testing.T) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	err := env.cluster.StartCertManager(ctx)
	took := time.Since(start)
	if errors.Is(err, cluster.ErrCertManagerNotBuilt) {
		skipOrFailCertManager(t, err.Error())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := env.cluster.UninstallCertManager(ctx); err != nil {
			t.Errorf("uninstalling cert-manager: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("starting cert-manager: %v", err)
	}
	return took
}

// certManagerNamespace is a fresh namespace for a cert-manager test.
func certManagerNamespace(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, seq.Add(1))
	if _, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestCertManagerIssuesAndRenews is the smoke test of the real controllers:
// a selfSigned Issuer issues a CA Certificate, a CA Issuer signs with its
// Secret, and a client-auth-only Certificate is issued as ingress-nginx's
// proxy-ssl-secret needs it (tls.crt, tls.key, ca.crt). A Certificate whose
// renewBefore is 10 s short of its duration is renewed by cert-manager on its
// own, and `cmctl renew` (RenewCertificate) renews on demand.
func TestCertManagerIssuesAndRenews(t *testing.T) {
	took := requireCertManager(t)
	t.Logf("cert-manager started in %s (CRDs, process, informer caches)", took.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel) // not defer: the parallel subtests run after this function returns
	ns := certManagerNamespace(t, ctx, "cert-manager-smoke")

	start := time.Now()
	if err := cluster.CreateCertManagerCA(ctx, env.dyn, ns, "smoke-ca"); err != nil {
		t.Fatalf("%v\ncert-manager log (%s):\n%s", err, env.cluster.CertManagerLog(), env.cluster.CertManagerLogTail(60))
	}
	t.Logf("selfSigned Issuer → CA Certificate → CA Issuer Ready in %s", time.Since(start).Round(time.Millisecond))
	caSecret, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "smoke-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := cluster.SecretLeaf(caSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("the CA Certificate's secret should hold a CA (isCA %v, key usage %v)", ca.IsCA, ca.KeyUsage)
	}

	t.Run("client auth certificate", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		if err := cluster.CreateCertManagerObjects(ctx, env.dyn, cluster.Certificate(ns, "client", cluster.CertificateSpec{
			Issuer: "smoke-ca", SecretName: "client-tls", CommonName: "alb-client",
			Usages: []string{"client auth", "digital signature"},
		})); err != nil {
			t.Fatal(err)
		}
		if _, err := cluster.WaitCertManagerReady(ctx, env.dyn, cluster.CertificateGVR, ns, "client"); err != nil {
			t.Fatalf("%v\ncert-manager log (%s):\n%s", err, env.cluster.CertManagerLog(), env.cluster.CertManagerLogTail(60))
		}
		t.Logf("issued in %s", time.Since(start).Round(time.Millisecond))
		s, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "client-tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt"} {
			if len(s.Data[k]) == 0 {
				t.Errorf("secret %s/client-tls lacks %s (has %v)", ns, k, cmSecretKeys(s.Data))
			}
		}
		leaf, err := cluster.SecretLeaf(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("want ExtKeyUsage [clientAuth] only, got %v", leaf.ExtKeyUsage)
		}
		if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("want KeyUsage digitalSignature only, got %v", leaf.KeyUsage)
		}
		if !bytes.Equal(bytes.TrimSpace(s.Data["ca.crt"]), bytes.TrimSpace(caSecret.Data[corev1.TLSCertKey])) {
			t.Errorf("ca.crt should be the CA Issuer's certificate")
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the client certificate does not verify for client auth against ca.crt: %v", err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
			t.Errorf("the client certificate verifies for server auth too")
		}

		// Renewal on demand, as `cmctl renew`.
		start = time.Now()
		if err := cluster.RenewCertificate(ctx, env.dyn, ns, "client"); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		renewed, err := cluster.WaitSecretLeaf(wctx, env.kube, ns, "client-tls", leaf.SerialNumber)
		if err != nil {
			t.Fatalf("%v\ncert-manager log (%s):\n%s", err, env.cluster.CertManagerLog(), env.cluster.CertManagerLogTail(60))
		}
		t.Logf("renewed on demand in %s: serial %x → %x", time.Since(start).Round(time.Millisecond), leaf.SerialNumber, renewed.SerialNumber)
	})

	t.Run("renewBefore", func(t *testing.T) {
		t.Parallel()
		// Renewal is due 10 s after issuance: notAfter - renewBefore.
		if err := cluster.CreateCertManagerObjects(ctx, env.dyn, cluster.Certificate(ns, "short", cluster.CertificateSpec{
			Issuer: "smoke-ca", SecretName: "short-tls", CommonName: "short-lived",
			Usages:   []string{"client auth", "digital signature"},
			Duration: time.Hour, RenewBefore: 59*time.Minute + 50*time.Second,
		})); err != nil {
			t.Fatal(err)
		}
		if _, err := cluster.WaitCertManagerReady(ctx, env.dyn, cluster.CertificateGVR, ns, "short"); err != nil {
			t.Fatalf("%v\ncert-manager log (%s):\n%s", err, env.cluster.CertManagerLog(), env.cluster.CertManagerLogTail(60))
		}
		first, err := cluster.WaitSecretLeaf(ctx, env.kube, ns, "short-tls", nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		renewed, err := cluster.WaitSecretLeaf(wctx, env.kube, ns, "short-tls", first.SerialNumber)
		if err != nil {
			t.Fatalf("cert-manager did not renew by renewBefore: %v\ncert-manager log (%s):\n%s", err, env.cluster.CertManagerLog(), env.cluster.CertManagerLogTail(60))
		}
		t.Logf("renewed %s after the first issuance (notBefore %s → %s): serial %x → %x",
			time.Since(start).Round(time.Millisecond), first.NotBefore.Format(time.TimeOnly), renewed.NotBefore.Format(time.TimeOnly), first.SerialNumber, renewed.SerialNumber)
	})
}

func cmSecretKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
