package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

func (w *world) setup(t *testing.T, extra ...string) result {
	t.Helper()
	return albistio(t, append([]string{"setup"}, w.flags(append([]string{"--alb-flavor", "nginx"}, extra...)...)...)...)
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// setup → setup again (no writes) → IKS renews the ALB certificate → setup
// (only the stale copy) → traffic → cleanup (only owned objects go).
func TestSetupLifecycle(t *testing.T) {
	w := newWorld(t, false)
	r := mustSucceed(t, w.setup(t))
	if !strings.Contains(r.stderr, "Plan:") || len(nonEmptyLines(r.stdout)) != 7 {
		t.Fatalf("the first setup should print a plan and write 7 objects (CA, ALB TLS copy, alb-certs, -cacert, Gateway, VirtualService, Ingress):\n%s", r)
	}
	if !strings.Contains(r.stderr, "check:") || !strings.Contains(r.stderr, "0 errors") {
		t.Errorf("setup should end with check's summary, clean:\n%s", r)
	}

	before := snapshot(t, w)
	r = mustSucceed(t, w.setup(t))
	if !strings.Contains(r.stderr, "up to date") || strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("a second setup must write nothing and say so:\n%s", r)
	}
	if after := snapshot(t, w); after != before {
		t.Fatalf("the second setup changed objects:\nbefore %s\nafter  %s", before, after)
	}

	if err := w.iks.RotateALBCert(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = mustSucceed(t, w.setup(t))
	lines := nonEmptyLines(r.stdout)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "secret/"+w.p.ALBSecretName+" -n "+w.p.IstioNamespace+" configured") {
		t.Fatalf("after the ALB renewal exactly the copy of the ALB TLS secret should be updated:\n%s", r)
	}
	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)

	// cleanup: a dry run first, which must change nothing.
	before = snapshot(t, w)
	r = mustSucceed(t, albistio(t, "cleanup", "-n", w.p.AppNamespace, "--istio-namespace", w.p.IstioNamespace,
		"--gateway-secret", w.p.GatewaySecretName, "--alb-secret", w.p.ALBSecretName, "--dry-run=client"))
	if len(nonEmptyLines(r.stdout)) != 6 {
		t.Errorf("cleanup --dry-run should list 6 objects (all but the CA):\n%s", r)
	}
	if after := snapshot(t, w); after != before {
		t.Fatal("cleanup --dry-run deleted something")
	}
	mustSucceed(t, albistio(t, "cleanup", "-n", w.p.AppNamespace, "--istio-namespace", w.p.IstioNamespace,
		"--gateway-secret", w.p.GatewaySecretName, "--alb-secret", w.p.ALBSecretName))
	ctx := context.Background()
	left := map[string]bool{}
	secrets, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		left[s.Name] = true
	}
	if !left[w.p.GatewaySecretName] || !left["albistio-client-ca"] || len(left) != 2 {
		t.Errorf("after cleanup the Istio namespace should hold only the IKS gateway secret and the kept CA: %v", left)
	}
	if _, err := env.kube.CoreV1().Secrets("default").Get(ctx, w.p.ALBSecretName, metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup must never touch the IKS ALB secret: %v", err)
	}
	if _, err := env.kube.CoreV1().Services(w.p.IstioNamespace).Get(ctx, "istio-ingressgateway", metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup must not delete Istio's Service: %v", err)
	}
	if _, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, w.ingressName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Ingress should be gone: %v", err)
	}
	r = mustSucceed(t, albistio(t, "cleanup", "-n", w.p.AppNamespace, "--istio-namespace", w.p.IstioNamespace, "--include-ca",
		"--gateway-secret", w.p.GatewaySecretName, "--alb-secret", w.p.ALBSecretName))
	if !strings.Contains(r.stdout, "secret/albistio-client-ca") {
		t.Errorf("--include-ca should delete the CA:\n%s", r)
	}
}

// A labelled object the plugin's field manager never wrote is not deleted.
func TestCleanupKeepsWhatItDidNotCreate(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	// An Ingress labelled as the httpbin chain's, written by someone else.
	foreign := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "lookalike", Namespace: w.p.IstioNamespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-albistio", "albistio.io/chain": "httpbin", "albistio.io/chain-namespace": w.p.AppNamespace}},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "x", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
	if _, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Create(ctx, foreign, metav1.CreateOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	r := mustSucceed(t, albistio(t, "cleanup", "-n", w.p.AppNamespace, "--istio-namespace", w.p.IstioNamespace,
		"--gateway-secret", w.p.GatewaySecretName, "--alb-secret", w.p.ALBSecretName))
	if !strings.Contains(r.stderr, "keeping ingress/lookalike") {
		t.Errorf("cleanup should say it keeps the look-alike:\n%s", r)
	}
	if _, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, "lookalike", metav1.GetOptions{}); err != nil {
		t.Fatalf("cleanup deleted an object it did not create: %v", err)
	}
}

// setup refuses a missing app namespace, prints one stream with
// --create-namespace --dry-run=server -o yaml, and creates it labelled.
func TestSetupCreateNamespace(t *testing.T) {
	w := newWorld(t, false)
	w.p.AppNamespace += "-new"
	r := w.setup(t)
	mustFail(t, r, 3, "--create-namespace", "istio-injection=enabled")

	before := snapshot(t, w)
	r = mustSucceed(t, w.setup(t, "--create-namespace", "--dry-run=server", "-o", "yaml"))
	kinds := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "kind: ") {
			kinds++
		}
	}
	if kinds != 8 || !strings.Contains(r.stdout, "kind: Namespace") {
		t.Errorf("want 8 objects (Namespace + 7) in one YAML stream, got %d:\n%s", kinds, r.stdout)
	}
	if after := snapshot(t, w); after != before {
		t.Fatal("--dry-run=server wrote something")
	}
	if _, err := env.kube.CoreV1().Namespaces().Get(context.Background(), w.p.AppNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("--dry-run=server created the namespace: %v", err)
	}
	// Everything is written; the check setup ends with finds that httpbin is
	// not deployed in the new namespace yet, and says so with exit 8.
	r = w.setup(t, "--create-namespace")
	mustFail(t, r, 8, "ALB0507", "httpbin")
	if !strings.Contains(r.stdout, "namespace/"+w.p.AppNamespace+" created") {
		t.Errorf("setup should have written everything before checking:\n%s", r)
	}
	// A pipeline that deploys the app after the chain reports the finding
	// and goes on.
	r = mustSucceed(t, w.setup(t, "--failure-threshold", "none"))
	if !strings.Contains(r.stderr, "ALB0507") {
		t.Errorf("--failure-threshold none still reports the findings:\n%s", r)
	}
	mustFail(t, w.setup(t, "--failure-threshold", "fatal"), 2, "--failure-threshold")
	ns, err := env.kube.CoreV1().Namespaces().Get(context.Background(), w.p.AppNamespace, metav1.GetOptions{})
	if err != nil || ns.Labels["istio-injection"] != "enabled" {
		t.Fatalf("namespace %s should exist with istio-injection=enabled: %v %v", w.p.AppNamespace, ns.Labels, err)
	}
	// cleanup leaves the namespace (the app's workloads live there) and says so.
	r = mustSucceed(t, albistio(t, append([]string{"cleanup"}, w.flags()...)...))
	if !strings.Contains(r.stderr, "keeping namespace "+w.p.AppNamespace) {
		t.Errorf("cleanup should say it keeps the namespace setup created:\n%s", r)
	}
}

// --wait polls for the gateway secret IKS creates asynchronously.
func TestSetupWaitsForGatewaySecret(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	gwSecret, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(ctx, w.p.GatewaySecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Delete(ctx, w.p.GatewaySecretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(3 * time.Second)
		gwSecret.ResourceVersion = ""
		env.kube.CoreV1().Secrets(w.p.IstioNamespace).Create(ctx, gwSecret, metav1.CreateOptions{})
	}()
	r := mustSucceed(t, w.setup(t, "--wait", "--timeout", "60s"))
	if !strings.Contains(r.stderr, "waiting for IKS to create the gateway secret") {
		t.Errorf("--wait should show progress:\n%s", r)
	}
	r = w.setup(t, "--wait", "--timeout", "2s", "--gateway-secret", "never-0001")
	mustFail(t, r, 3, "gave up after 2s", "nlb-dns")
}

// The API server dies in the middle of setup's writes: the error names what
// was written, and re-running converges to the same end state.
func TestSetupInterrupted(t *testing.T) {
	w := newWorld(t, false)
	var applies atomic.Int64
	var once sync.Once
	const killAt = 3
	proxy := newAPIProxy(t, func(_ http.ResponseWriter, r *http.Request) bool {
		// A write: an apply, or the create that makes the private CA and the
		// hop's Gateway exactly once.
		if (r.Method == http.MethodPatch || r.Method == http.MethodPost) && !strings.Contains(r.URL.RawQuery, "dryRun") {
			if applies.Add(1) == killAt {
				once.Do(func() {
					if err := env.cluster.KillAPIServer(); err != nil {
						t.Errorf("killing the API server: %v", err)
					}
				})
			}
		}
		return false
	})
	r := albistioAs(t, proxy, nil, append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--request-timeout", "10s")...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.cluster.RestartAPIServer(ctx); err != nil {
		t.Fatalf("restarting the API server: %v", err)
	}
	if r.code != 7 || !strings.Contains(r.stderr, "written before the failure") || !strings.Contains(r.stderr, "Re-run") {
		t.Fatalf("an interrupted setup should exit 7 and list what it wrote:\n%s", r)
	}
	written := strings.Count(r.stderr[strings.Index(r.stderr, "written before the failure"):], "(created)")
	if written != killAt-1 {
		t.Errorf("the error should name the %d objects written before the failure:\n%s", killAt-1, r)
	}
	mustSucceed(t, w.setup(t))
	r = mustSucceed(t, w.setup(t))
	if !strings.Contains(r.stderr, "up to date") {
		t.Fatalf("after re-running, setup should have converged:\n%s", r)
	}
	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
}

// newAPIProxy puts an HTTPS reverse proxy in front of the API server that
// calls hook on every request (a hook returning true has answered it
// itself), and returns a kubeconfig pointing at it.
func newAPIProxy(t *testing.T, hook func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(env.cluster.Server)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := rest.TLSConfigFor(env.cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !hook(rw, r) {
			rp.ServeHTTP(rw, r)
		}
	}))
	srv.TLS = &tls.Config{}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster.ContextName] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos[cluster.ContextName] = &clientcmdapi.AuthInfo{Token: env.cluster.Token(cluster.Admin)}
	cfg.Contexts[cluster.ContextName] = &clientcmdapi.Context{Cluster: cluster.ContextName, AuthInfo: cluster.ContextName}
	cfg.CurrentContext = cluster.ContextName
	path := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	return path
}
