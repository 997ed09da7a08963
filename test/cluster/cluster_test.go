package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// TestCluster starts a real control plane and checks what every end-to-end
// test relies on: readiness, the Istio API in discovery, RBAC for the
// static-token users, kubeconfigs, an API server restart, and a clean stop.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	started := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster ready (readyz ok, Istio CRDs served) in %s", time.Since(started).Round(10*time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})

	admin := kubernetes.NewForConfigOrDie(c.RESTConfig())
	body, err := admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		t.Fatalf("/readyz = %q, %v; want ok", body, err)
	}

	resources, err := admin.Discovery().ServerResourcesForGroupVersion(cluster.IstioGroupVersion)
	if err != nil {
		t.Fatalf("discovery of %s: %v", cluster.IstioGroupVersion, err)
	}
	var names []string
	for _, r := range resources.APIResources {
		names = append(names, r.Name)
	}
	for _, want := range []string{"gateways", "virtualservices", "destinationrules"} {
		if !slices.Contains(names, want) {
			t.Errorf("discovery of %s lacks %s: %v", cluster.IstioGroupVersion, want, names)
		}
	}

	// Every user's kubeconfig works and names the context tests pass to the plugin.
	for _, u := range cluster.Users() {
		cfg, err := clientcmd.LoadFromFile(c.KubeconfigFor(u))
		if err != nil {
			t.Fatalf("kubeconfig for %s: %v", u, err)
		}
		if cfg.CurrentContext != cluster.ContextName {
			t.Errorf("kubeconfig for %s: current context %q, want %q", u, cfg.CurrentContext, cluster.ContextName)
		}
		rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		review, err := kubernetes.NewForConfigOrDie(rc).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("whoami as %s: %v", u, err)
		}
		if got := review.Status.UserInfo.Username; got != u {
			t.Errorf("kubeconfig for %s authenticates as %q", u, got)
		}
	}

	// RBAC is on: a user without grants cannot read secrets, admin can.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"}, StringData: map[string]string{"k": "v"}}
	if _, err := admin.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := kubernetes.NewForConfigOrDie(c.RESTConfigFor(cluster.OtherUser))
	if _, err := other.CoreV1().Secrets("default").Get(ctx, "probe", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("other-user reading a secret: err = %v, want Forbidden", err)
	}

	// The API server can die and come back on the same address with the same data.
	if err := c.KillAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Secrets("default").Get(ctx, "probe", metav1.GetOptions{}); err == nil {
		t.Fatal("the API server still answers after KillAPIServer")
	}
	restarted := time.Now()
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server restarted in %s", time.Since(restarted).Round(10*time.Millisecond))
	if _, err := admin.CoreV1().Secrets("default").Get(ctx, "probe", metav1.GetOptions{}); err != nil {
		t.Fatalf("reading a secret after the restart: %v", err)
	}

	etcdPID, apiPID := c.PIDs()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for name, pid := range map[string]int{"etcd": etcdPID, "kube-apiserver": apiPID} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s (pid %d) still exists after Stop", name, pid)
		}
	}
	for _, f := range []string{"etcd.log", "kube-apiserver.log"} {
		if st, err := os.Stat(filepath.Join(c.Dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("log %s missing or empty: %v", f, err)
		}
	}
}

// TestStartReportsMissingBinaries keeps the error actionable when the
// binaries were not built.
func TestStartReportsMissingBinaries(t *testing.T) {
	_, err := cluster.Start(context.Background(), cluster.Options{BinDir: t.TempDir(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "go build") {
		t.Fatalf("err = %v, want a hint on how to build the binaries", err)
	}
}
