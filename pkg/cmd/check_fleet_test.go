package cmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/probe"
)

// fleetKubeconfig is a kubeconfig with contexts a, b and c (each its own
// namespace) that no test contacts: the tests replace the clients.
func fleetKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: x
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: x, user: u, namespace: ns-a}
- name: b
  context: {cluster: x, user: u, namespace: ns-b}
- name: c
  context: {cluster: x, user: u}
current-context: a
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckFleetUsageErrors(t *testing.T) {
	isolate(t)
	t.Setenv("KUBECONFIG", fleetKubeconfig(t))
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"-A with a chain's flags", []string{"check", "-A", "--service", "x", "--host", "x.example.com"}, []string{"--service, --host", "-A"}},
		{"-A with --istio-namespace", []string{"check", "--all-namespaces", "--istio-namespace", "x"}, []string{"--istio-namespace"}},
		{"both context lists", append([]string{"check", "--contexts", "a", "--all-contexts"}, chainArgs...), []string{"pass one"}},
		{"--context with --contexts", append([]string{"check", "--contexts", "a,b", "--context", "a"}, chainArgs...), []string{"--context"}},
		{"unknown context", append([]string{"check", "--contexts", "a,nosuch"}, chainArgs...), []string{`"nosuch"`, "a, b, c"}},
		{"probe address with -A", []string{"check", "-A", "--probe-address", "192.0.2.10:443"}, []string{"--probe-address", "--port-forward"}},
		{"contexts without the chain", []string{"check", "--contexts", "a,b"}, []string{"--alb-domain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			if code != kube.ExitUsage {
				t.Fatalf("exit %d, want %d: %s", code, kube.ExitUsage, errOut)
			}
			for _, m := range tc.mention {
				if !strings.Contains(errOut, m) {
					t.Errorf("the error does not mention %q: %s", m, errOut)
				}
			}
		})
	}
}

// newFleetOptions are check's options for a run over the contexts of
// fleetKubeconfig, each context answered by api(context).
func newFleetOptions(t *testing.T, out *bytes.Buffer, api func(string) (check.API, error), edit func(*CheckOptions)) *CheckOptions {
	t.Helper()
	isolate(t)
	kc := fleetKubeconfig(t)
	cf := genericclioptions.NewConfigFlags(false)
	cf.KubeConfig = &kc
	o := &CheckOptions{
		ChainOptions: newChainOptions(cf), IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: &bytes.Buffer{}},
		FailureThreshold: "error", ProbeTimeout: time.Second, now: time.Now,
	}
	o.Getenv = func(string) string { return "" }
	o.Flags.ALBDomain, o.Flags.ALBSecret = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0000"
	o.Flags.GatewayDomain, o.Flags.GatewaySecret = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0001"
	o.fleet.clientsFor = func(name string) (check.API, probe.PortForwarder, string, error) {
		a, err := api(name)
		return a, nil, "", err
	}
	edit(o)
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// recordingCluster is emptyCluster that records the namespaces it was
// asked about, for the per-context namespace.
type recordingCluster struct {
	emptyCluster
	namespaces chan string
}

func (r recordingCluster) Get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	u, _, err := r.GetServed(ctx, gvr, ns, name)
	return u, err
}

func (r recordingCluster) GetServed(_ context.Context, gvr schema.GroupVersionResource, _, name string) (*unstructured.Unstructured, bool, error) {
	if gvr.Resource == "namespaces" {
		r.namespaces <- name
	}
	return nil, false, nil
}

// TestCheckContextsWiring: --all-contexts checks every context with its own
// namespace as the app's, a context that cannot be reached does not hide
// the others, and the exit code is the worst outcome.
func TestCheckContextsWiring(t *testing.T) {
	var out bytes.Buffer
	asked := make(chan string, 10)
	o := newFleetOptions(t, &out, func(name string) (check.API, error) {
		if name == "b" {
			return nil, kube.WithCode(kube.ExitUnreachable, errors.New("cannot reach the API server at https://127.0.0.1:1"))
		}
		return recordingCluster{namespaces: asked}, nil
	}, func(o *CheckOptions) { o.AllContexts = true })
	err := o.RunFleet(context.Background())
	if code := exitCode(err); code != kube.ExitUnreachable {
		t.Fatalf("exit %d (%v), want %d", code, err, kube.ExitUnreachable)
	}
	close(asked)
	var nss []string
	for ns := range asked {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	if strings.Join(nss, ",") != "default,ns-a" {
		t.Errorf("the app namespaces asked about were %v, want each context's (ns-a for a, default for c)", nss)
	}
	text := out.String()
	for _, w := range []string{"CONTEXT", "\na ", "\nb ", "unreachable", "\nc ", "findings", "=== context b ===\nerror: cannot reach", "3 contexts: 2 with findings, 1 unreachable"} {
		if !strings.Contains(text, w) {
			t.Errorf("the output lacks %q:\n%s", w, text)
		}
	}

	// -n names the app namespace in every context.
	out.Reset()
	asked = make(chan string, 10)
	o = newFleetOptions(t, &out, func(string) (check.API, error) { return recordingCluster{namespaces: asked}, nil }, func(o *CheckOptions) {
		ns := "shop"
		o.ConfigFlags.Namespace = &ns
		o.Contexts = []string{"c", "a"}
	})
	if code := exitCode(o.RunFleet(context.Background())); code != kube.ExitFindings {
		t.Errorf("exit %d, want %d (the empty clusters have findings)", code, kube.ExitFindings)
	}
	close(asked)
	for ns := range asked {
		if ns != "shop" {
			t.Errorf("-n shop: the app namespace asked about was %s", ns)
		}
	}
	if i, j := strings.Index(out.String(), "\nc "), strings.Index(out.String(), "\na "); i < 0 || j < i {
		t.Errorf("contexts should be listed in the order given (c, a):\n%s", out.String())
	}
}

// TestCheckAllNamespacesEmpty: -A on a cluster without chains says so and
// exits 0.
func TestCheckAllNamespacesEmpty(t *testing.T) {
	var out bytes.Buffer
	o := newCheckOptions(t, &out, func(o *CheckOptions) { o.AllNamespaces = true })
	if err := o.RunFleet(context.Background()); err != nil {
		t.Fatalf("want success on a cluster without chains: %v", err)
	}
	if !strings.Contains(out.String(), "No chains found") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

// TestFleetServerOf: fleet bounds the checks per API server by the address
// each context reaches, --server overriding the kubeconfig's, as kubectl
// would connect.
func TestFleetServerOf(t *testing.T) {
	none := func(string) (check.API, error) { return emptyCluster{}, nil }
	o := newFleetOptions(t, &bytes.Buffer{}, none, func(o *CheckOptions) { o.AllContexts = true })
	for _, c := range []string{"a", "b", "c"} {
		if got := o.fleet.serverOf(c); got != "https://127.0.0.1:1" {
			t.Errorf("context %s: server %q, want the kubeconfig's https://127.0.0.1:1", c, got)
		}
	}
	if got := o.fleet.serverOf("nope"); got != "" {
		t.Errorf("an unknown context's server is %q, want \"\"", got)
	}
	server := "https://10.1.2.3:6443"
	o = newFleetOptions(t, &bytes.Buffer{}, none, func(o *CheckOptions) { o.AllContexts = true; o.ConfigFlags.APIServer = &server })
	if got := o.fleet.serverOf("a"); got != server {
		t.Errorf("with --server, context a's server is %q, want %s", got, server)
	}
}
