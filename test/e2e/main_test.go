// Package e2e drives the built plugin through kubectl's own plugin lookup
// (`kubectl albistio …`) against a real kube-apiserver + etcd with Istio's
// CRDs, and proves the chain it writes carries traffic: nginx in the ALB's
// role and a Go TLS server in the gateway's, both configured from the objects
// read back from the API server.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// env is shared by the package's tests: one API server, one plugin build.
var env struct {
	cluster   *cluster.Cluster
	pluginDir string
	kube      kubernetes.Interface
	dyn       dynamic.Interface
}

// seq makes namespace and object names unique: without a controller-manager
// deleted namespaces never go away, so no test may reuse another's names.
var seq atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (they start an API server)")
		return 0
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: kubectl is not on PATH; the tests call the plugin through kubectl's plugin lookup")
		return 1
	}
	dir, err := os.MkdirTemp("", "albistio-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if env.pluginDir, err = pluginDir(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the test cluster:", err)
		return 1
	}
	defer c.Stop()
	env.cluster = c
	if env.kube, err = kubernetes.NewForConfig(c.RESTConfig()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.dyn, err = dynamic.NewForConfig(c.RESTConfig()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// pluginDir returns a directory holding kubectl-albistio: the one `make
// build` filled (ALBISTIO_PLUGIN_DIR), or a fresh build of the repository.
func pluginDir(tmp string) (string, error) {
	if d := os.Getenv("ALBISTIO_PLUGIN_DIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "kubectl-albistio")); err != nil {
			return "", fmt.Errorf("ALBISTIO_PLUGIN_DIR=%s holds no kubectl-albistio (run make build): %w", d, err)
		}
		return d, nil
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	out := filepath.Join(tmp, "bin")
	cmd := exec.Command("go", "build", "-o", filepath.Join(out, "kubectl-albistio"), "./cmd/kubectl-albistio")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the plugin: %v\n%s", err, b)
	}
	return out, nil
}

// result is one run of `kubectl albistio …`.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("kubectl albistio %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// albistio runs `kubectl albistio args…` as the admin user with a clean
// environment (none of the walkthrough's variables leak in).
func albistio(t *testing.T, args ...string) result {
	t.Helper()
	return albistioAs(t, env.cluster.Kubeconfig, nil, args...)
}

func albistioAs(t *testing.T, kubeconfig string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"albistio"}, args...)...)
	cmd.Env = append([]string{
		"PATH=" + env.pluginDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"KUBECONFIG=" + kubeconfig,
	}, extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kubectl albistio: %v", err)
	}
	return r
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want success:\n%s", r)
	}
	return r
}

// mustFail fails the test unless r exited with code and its stderr holds
// every one of wants.
func mustFail(t *testing.T, r result, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d:\n%s", code, r)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r)
		}
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Errorf("stderr shows a stack trace:\n%s", r)
	}
}
