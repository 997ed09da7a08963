package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/bench"
	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// badSecret stores a source secret with the given data in default, under a
// fresh name, and returns the name.
func badSecret(t *testing.T, data map[string][]byte) string {
	t.Helper()
	name := fmt.Sprintf("bad-%d", seq.Add(1))
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: data}
	if _, err := env.kube.CoreV1().Secrets("default").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func issue(t *testing.T, pki *fixtures.PKI, opts fixtures.LeafOptions) *fixtures.Leaf {
	t.Helper()
	l, err := pki.Issue(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Every bad input gets one clear line, a documented exit code, no stack
// trace, and leaves the cluster exactly as it was.
func TestBadInput(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	pki := w.iks.PKI
	alb := w.iks.ALBCert
	albNames := []string{"*." + w.p.ALBDomain, w.p.ALBDomain}
	gwNames := []string{w.p.GatewayDomain}
	tlsData := func(cert, key []byte) map[string][]byte { return map[string][]byte{"tls.crt": cert, "tls.key": key} }

	expired := issue(t, pki, fixtures.LeafOptions{DNSNames: albNames, NotBefore: time.Now().Add(-100 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	future := issue(t, pki, fixtures.LeafOptions{DNSNames: gwNames, NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)})
	other := issue(t, pki, fixtures.LeafOptions{DNSNames: albNames})
	keyBlock, _ := pem.Decode(alb.KeyPEM)
	//nolint:staticcheck // an encrypted PEM key, as old tools write them, is the input under test
	encBlock, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", keyBlock.Bytes, []byte("secret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	crlf := bytes.ReplaceAll(alb.ChainPEM, []byte("\n"), []byte("\r\n"))
	bom := append([]byte("\xef\xbb\xbf"), alb.ChainPEM...)

	secrets := map[string]string{
		"malformed": badSecret(t, tlsData([]byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), alb.KeyPEM)),
		"crlf":      badSecret(t, tlsData(crlf, alb.KeyPEM)),
		"bom":       badSecret(t, tlsData(bom, alb.KeyPEM)),
		"mismatch":  badSecret(t, tlsData(alb.ChainPEM, other.KeyPEM)),
		"encrypted": badSecret(t, tlsData(alb.ChainPEM, pem.EncodeToMemory(encBlock))),
		"expired":   badSecret(t, tlsData(expired.ChainPEM, expired.KeyPEM)),
		"leafonly":  badSecret(t, tlsData(alb.CertPEM, alb.KeyPEM)),
		"nokeys":    badSecret(t, map[string][]byte{"cert.pem": alb.ChainPEM}),
		"future-gw": "",
		"wrongcert": badSecret(t, tlsData(w.iks.GatewayCert.ChainPEM, w.iks.GatewayCert.KeyPEM)),
	}
	// A gateway secret lives in the Istio namespace.
	secrets["future-gw"] = fmt.Sprintf("future-%d", seq.Add(1))
	if _, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secrets["future-gw"], Namespace: w.p.IstioNamespace}, Data: tlsData(future.ChainPEM, future.KeyPEM),
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	noIstio := newAPIProxy(t, func(rw http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/apis/networking.istio.io") {
			// What kube-apiserver answers for a group nothing serves.
			http.Error(rw, "404 page not found", http.StatusNotFound)
			return true
		}
		return false
	})
	slow := newAPIProxy(t, func(rw http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/secrets/") {
			time.Sleep(4 * time.Second)
		}
		return false
	})
	unreachable := writeKubeconfig(t, "https://127.0.0.1:1", "x")
	other2 := env.cluster.KubeconfigFor(cluster.OtherUser)

	ns := func(extra ...string) []string { return w.flags(append([]string{"--alb-flavor", "nginx"}, extra...)...) }
	type tc struct {
		name       string
		kubeconfig string
		args       []string
		code       int
		want       []string
	}
	cases := []tc{
		{"malformed PEM", "", append([]string{"secrets"}, ns("--alb-secret", secrets["malformed"])...), 3, []string{"default/" + secrets["malformed"]}},
		{"PEM with CRLF is accepted", "", append([]string{"secrets"}, ns("--alb-secret", secrets["crlf"], "--dry-run=server")...), 0, nil},
		{"PEM with a BOM is accepted", "", append([]string{"secrets"}, ns("--alb-secret", secrets["bom"], "--dry-run=server")...), 0, nil},
		{"key does not match", "", append([]string{"secrets"}, ns("--alb-secret", secrets["mismatch"])...), 3, []string{"does not belong"}},
		{"encrypted key", "", append([]string{"secrets"}, ns("--alb-secret", secrets["encrypted"])...), 3, []string{"encrypted"}},
		{"expired certificate", "", append([]string{"secrets"}, ns("--alb-secret", secrets["expired"])...), 3, []string{"expired"}},
		{"not yet valid certificate", "", append([]string{"secrets"}, ns("--gateway-secret", secrets["future-gw"])...), 3, []string{"not valid"}},
		{"SANs do not cover the host", "", append([]string{"secrets"}, ns("--alb-secret", secrets["wrongcert"])...), 3, []string{"--host"}},
		{"chain missing its intermediate", "", append([]string{"secrets"}, ns("--alb-secret", secrets["leafonly"], "--client-identity", "alb-cert")...), 3, []string{"intermediate"}},
		{"secret without tls.crt/tls.key", "", append([]string{"secrets"}, ns("--alb-secret", secrets["nokeys"])...), 3, []string{"tls.crt"}},
		{"source secret in another namespace", "", append([]string{"secrets"}, ns("--alb-secret-namespace", "kube-system")...), 3, []string{"not found", "--alb-secret-namespace"}},
		{"missing gateway secret", "", append([]string{"secrets"}, ns("--gateway-secret", "nope-0001")...), 3, []string{"nlb-dns create", "--secret-namespace"}},
		{"Istio CRDs not installed", noIstio, append([]string{"setup"}, ns()...), 3, []string{"Istio", "not installed"}},
		{"Istio namespace missing", "", append([]string{"setup"}, ns("--istio-namespace", "no-istio-here")...), 3, []string{"no-istio-here", "does not exist"}},
		{"app namespace missing", "", append([]string{"setup"}, ns("-n", "no-app-here")...), 3, []string{"--create-namespace"}},
		{"gateway Service missing", "", append([]string{"setup"}, ns("--gateway-service", "nogw")...), 3, []string{"nogw", "--gateway-service"}},
		{"domain not a DNS name", "", append([]string{"secrets"}, ns("--alb-domain", "my_cluster!")...), 2, []string{"--alb-domain", "not a DNS name"}},
		{"wildcard where none is allowed", "", append([]string{"gateway"}, ns("--gateway-domain", "*."+w.p.GatewayDomain)...), 2, []string{"wildcard"}},
		{"path without leading slash", "", append([]string{"gateway"}, ns("--path", "status")...), 2, []string{"--path", "must start with '/'"}},
		{"port out of range", "", append([]string{"gateway"}, ns("--port", "70000")...), 2, []string{"--port", "1-65535"}},
		{"unknown flavor", "", append([]string{"ingress"}, ns("--alb-flavor", "haproxy")...), 2, []string{"--alb-flavor", "nginx, traefik or classic"}},
		{"unknown client identity", "", append([]string{"secrets"}, ns("--client-identity", "self-signed")...), 2, []string{"--client-identity"}},
		{"conflicting flags: client secret is the IKS secret", "", append([]string{"secrets"}, ns("--client-secret", w.p.GatewaySecretName)...), 2, []string{"--client-secret", "IKS-owned"}},
		{"conflicting flags: same domain twice", "", append([]string{"gateway"}, ns("--gateway-domain", w.p.ALBDomain)...), 2, []string{"must differ"}},
		{"invalid object name", "", append([]string{"secrets"}, ns("--alb-secret", "Bad_Name")...), 2, []string{"--alb-secret"}},
		{"bad --dry-run value", "", append([]string{"gateway"}, ns("--dry-run=maybe")...), 2, []string{"--dry-run"}},
		{"bad -o value", "", append([]string{"gateway"}, ns("-o", "toml")...), 2, []string{"toml"}},
		{"unknown flag", "", []string{"secrets", "--albdomain", "x"}, 2, []string{"unknown flag", "See 'kubectl albistio secrets --help'"}},
		{"bare --dry-run, which kubectl refuses too", "", append([]string{"setup"}, ns("--dry-run")...), 2, []string{"--dry-run needs a value"}},
		{"--ca-file missing", "", append([]string{"secrets"}, ns("--ca-file", "/nonexistent/root.pem")...), 2, []string{"--ca-file"}},
		{"--ca-file not PEM", "", append([]string{"secrets"}, ns("--ca-file", notPEM)...), 2, []string{"--ca-file"}},
		{"required parameter missing", "", []string{"secrets", "-n", w.p.AppNamespace}, 2, []string{"--alb-domain", "ALB_INGRESS_DOMAIN", "--gateway-secret"}},
		{"setup --timeout 0", "", append([]string{"setup"}, ns("--timeout", "0s")...), 2, []string{"--timeout"}},
		{"RBAC forbidden", other2, append([]string{"secrets"}, ns()...), 5, []string{"forbidden", "get", "secrets", "kubectl albistio rbac"}},
		{"API server unreachable", unreachable, append([]string{"secrets"}, ns()...), 6, []string{"cannot reach the API server"}},
		{"API server timing out", slow, append([]string{"secrets"}, ns("--request-timeout", "1s")...), 6, []string{"timed out", "--request-timeout"}},
		{"kubeconfig context that does not exist", "", append([]string{"secrets"}, ns("--context", "no-such-context")...), 2, []string{"no-such-context"}},
	}
	// A --path that the API server, ingress-nginx or Traefik would read as
	// something other than a plain prefix, and a DNS label over 63
	// characters, are refused before anything is read. gateway used to
	// write them; setup's server-side dry run caught only some.
	for _, cmd := range []string{"gateway", "setup"} {
		for _, bad := range []struct{ name, path, want string }{
			{"a '..' segment", "/../etc", "'..'"},
			{"an empty segment", "//x", "'//'"},
			{"an escaped slash", "/a%2fb", "'%'"},
			{"a regular expression", "/a.*", "'*'"},
			{"a fragment", "/status#x", "'#'"},
		} {
			cases = append(cases, tc{cmd + ": path with " + bad.name, "", append([]string{cmd}, ns("--path", bad.path)...), 2, []string{"--path", bad.want}})
		}
		cases = append(cases,
			// pflag used to keep "/status" and drop the rest without a word.
			tc{cmd + ": path with a line break", "", append([]string{cmd}, ns("--path", "/status\n/x")...), 2, []string{"--path", "line break"}},
			tc{cmd + ": host with a 64-character label", "", append([]string{cmd}, ns("--host", strings.Repeat("a", 64)+"."+w.p.ALBDomain)...), 2, []string{"--host", "at most 63"}},
		)
	}
	// /dev/zero never ends; it used to be read until the kernel killed the process.
	cases = append(cases, tc{"--ca-file that is a device", "", append([]string{"secrets"}, ns("--ca-file", "/dev/zero")...), 2, []string{"--ca-file", "character device"}})

	before := snapshotAll(t, w)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kc := c.kubeconfig
			if kc == "" {
				kc = env.cluster.Kubeconfig
			}
			r := albistioAs(t, kc, nil, c.args...)
			if c.code == 0 {
				mustSucceed(t, r)
			} else {
				mustFail(t, r, c.code, c.want...)
				if lines := nonEmptyLines(r.stderr); !strings.HasPrefix(r.stderr, "error: ") || len(lines) > 8 {
					t.Errorf("want one clear error (a few lines at most) starting with \"error: \":\n%s", r)
				}
			}
			if after := snapshotAll(t, w); after != before {
				t.Fatalf("the cluster changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if len(cases) < 30 {
		t.Errorf("only %d cases", len(cases))
	}
}

// snapshotAll adds the ALB secrets' namespace to snapshot.
func snapshotAll(t *testing.T, w *world) string {
	t.Helper()
	list, err := env.kube.CoreV1().Secrets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range list.Items {
		b.WriteString(s.Name + "@" + s.ResourceVersion + " ")
	}
	nsList, err := env.kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(fmt.Sprintf("namespaces=%d ", len(nsList.Items)))
	return b.String() + snapshot(t, w)
}

func writeKubeconfig(t *testing.T, server, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, server, token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// No private key byte reaches stderr, stdout or local disk at -v=10.
func TestNoKeyMaterialInLogs(t *testing.T) {
	w := newWorld(t, false)
	home := t.TempDir()
	// setup reads and writes every secret; check also LISTs the plugin's own.
	var r result
	for _, cmd := range []string{"setup", "check"} {
		args := append([]string{cmd, "-v=10"}, w.flags("--alb-flavor", "nginx")...)
		rc := albistioAs(t, env.cluster.Kubeconfig, []string{"HOME=" + home}, args...)
		mustSucceed(t, rc)
		if !strings.Contains(rc.stderr, `url="https://`) || (cmd == "check" && !strings.Contains(rc.stderr, "/secrets?labelSelector=")) {
			t.Fatalf("%s -v=10 should log its requests, check its LIST of secrets (else this test proves nothing):\n%s", cmd, rc.stderr[:min(len(rc.stderr), 2000)])
		}
		r.stdout += rc.stdout
		r.stderr += rc.stderr
	}
	ctx := context.Background()
	var keys [][]byte
	for _, ref := range [][2]string{{w.p.IstioNamespace, "alb-certs"}, {w.p.IstioNamespace, "albistio-client-ca"}, {w.p.IstioNamespace, w.p.ALBSecretName}, {"default", w.p.ALBSecretName}, {w.p.IstioNamespace, w.p.GatewaySecretName}} {
		s, err := env.kube.CoreV1().Secrets(ref[0]).Get(ctx, ref[1], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.Data["tls.key"])
	}
	for _, key := range keys {
		block, _ := pem.Decode(key)
		if block == nil {
			t.Fatal("a key in the cluster is not PEM")
		}
		needles := map[string]string{
			"PEM":            string(key[30:90]),
			"base64 of PEM":  base64.StdEncoding.EncodeToString(key)[40:100],
			"base64 of DER":  base64.StdEncoding.EncodeToString(block.Bytes)[8:48],
			"PRIVATE KEY---": "PRIVATE KEY-----",
		}
		for what, n := range needles {
			if strings.Contains(r.stderr, n) || strings.Contains(r.stdout, n) {
				t.Errorf("the output at -v=10 contains a private key (%s)", what)
			}
		}
		filepath.Walk(home, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				data, _ := os.ReadFile(p)
				if bytes.Contains(data, key[30:90]) || bytes.Contains(data, []byte("PRIVATE KEY")) {
					t.Errorf("%s holds private key material", p)
				}
			}
			return nil
		})
	}
}

// The roles kubectl albistio rbac prints (deploy/rbac has them for the
// README's names) are enough for setup, cleanup and check, and check's
// role cannot write.
func TestLeastPrivilege(t *testing.T) {
	w := newWorld(t, false)
	applyRBAC(t, append([]string{"--for=setup", "--user", cluster.SetupUser}, w.flags()...)...)
	checkCluster := applyRBAC(t, append([]string{"--for=check", "--user", cluster.CheckUser}, w.flags()...)...)

	setupKC := env.cluster.KubeconfigFor(cluster.SetupUser)
	checkKC := env.cluster.KubeconfigFor(cluster.CheckUser)
	args := append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)

	before := snapshot(t, w)
	r := albistioAs(t, checkKC, nil, args...)
	// The first request refused is reading the Istio namespace, which
	// check never reads.
	mustFail(t, r, 5, "forbidden", "cannot get namespaces")
	if after := snapshot(t, w); after != before {
		t.Fatal("a forbidden setup wrote something")
	}
	mustSucceed(t, albistioAs(t, setupKC, nil, args...))
	if hasCommand(t, "check") {
		r := albistioAs(t, checkKC, nil, append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)...)
		if r.code != 0 {
			t.Errorf("check should work with the read-only role:\n%s", r)
		}
	}
	if hasCommand(t, "check") {
		checkWithNamedSecrets(t, w, checkCluster)
	}
	mustSucceed(t, albistioAs(t, setupKC, nil, "cleanup", "-n", w.p.AppNamespace, "--istio-namespace", w.p.IstioNamespace,
		"--gateway-secret", w.p.GatewaySecretName, "--alb-secret", w.p.ALBSecretName))
}

// bindRole binds user to a ClusterRole or Role (kind) in namespace ns.
func bindRole(t *testing.T, user, kind, role, ns string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s", role, user), Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}},
	}
	if _, err := env.kube.RbacV1().RoleBindings(ns).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// bindClusterRole binds user to a ClusterRole cluster-wide and returns the
// binding's name.
func bindClusterRole(t *testing.T, user, role string) string {
	t.Helper()
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s-%d", role, user, seq.Add(1))},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}},
	}
	if _, err := env.kube.RbacV1().ClusterRoleBindings().Create(context.Background(), crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return crb.Name
}

// checkWithNamedSecrets: a Role that grants get on the chain's secrets by
// resourceNames, and no list, still gets a clean check. check's LIST of the
// plugin's own secrets is denied, and it reads each secret by name instead.
// The user is impersonated (kubectl's --as) by the admin.
func checkWithNamedSecrets(t *testing.T, w *world, clusterRole string) {
	t.Helper()
	ctx := context.Background()
	user := fmt.Sprintf("named-secrets-%d", seq.Add(1))
	reads := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get"}},
		{APIGroups: []string{"networking.istio.io"}, Resources: []string{"gateways", "virtualservices"}, Verbs: []string{"get"}},
	}
	grant := func(ns string, rules []rbacv1.PolicyRule) {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns}, Rules: rules}
		if _, err := env.kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bindRole(t, user, "Role", user, ns)
	}
	p := w.p
	grant(p.IstioNamespace, append(reads, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"},
		// The plugin's default names: the client secret, the CA, -cacert and the ALB TLS copy.
		ResourceNames: []string{p.GatewaySecretName, p.GatewaySecretName + "-cacert", "alb-certs", "albistio-client-ca", p.ALBSecretName}}))
	grant(p.AppNamespace, reads)
	grant(p.ALBSecretNamespace, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{p.ALBSecretName}}})
	crb := bindClusterRole(t, user, clusterRole)
	defer env.kube.RbacV1().ClusterRoleBindings().Delete(ctx, crb, metav1.DeleteOptions{})

	r := albistio(t, append([]string{"check", "--as", user, "-v=6"}, w.flags("--alb-flavor", "nginx")...)...)
	if r.code != 0 {
		t.Fatalf("check with secrets granted by name should pass:\n%s", r)
	}
	var denied, byName int
	for _, q := range bench.ParseRequests(r.stderr) {
		t := q.Target()
		switch {
		case t.Resource != "secrets" || t.Namespace != p.IstioNamespace:
		case t.Name == "" && strings.HasPrefix(q.Status, "403"):
			denied++
		case t.Name != "":
			byName++
		}
	}
	if denied != 1 || byName < 4 {
		t.Errorf("want the LIST of secrets denied once and the Istio namespace's secrets read by name; got %d denied LISTs, %d GETs:\n%s", denied, byName, r.stderr)
	}
}

// hasCommand says whether the built plugin has a subcommand.
func hasCommand(t *testing.T, name string) bool {
	t.Helper()
	return albistio(t, name, "--help").code == 0
}
