package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// The three slices, run one after the other as the walkthrough does, write
// what setup writes; run again, each reports its objects unchanged.
func TestSlicesWriteTheChain(t *testing.T) {
	f := newFakeIKS(t)
	for _, slice := range []string{"secrets", "gateway", "ingress"} {
		code, out, errOut := f.run(t, slice)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", slice, code, errOut)
		}
		if !strings.Contains(out, " created\n") {
			t.Errorf("%s created nothing:\n%s", slice, out)
		}
	}
	sameWrites(t, "after the slices", f.plugins(), setupWrites)
	for _, slice := range []string{"secrets", "gateway", "ingress"} {
		f.resetRequests()
		code, out, errOut := f.run(t, slice)
		if code != 0 {
			t.Fatalf("%s again: exit %d\n%s", slice, code, errOut)
		}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasSuffix(l, " unchanged") {
				t.Errorf("%s again: %q", slice, l)
			}
		}
	}
	// The ingress slice needs the gateway's -cacert to know the verify
	// depth; without the gateway slice it says which to run first.
	f.remove("networking.k8s.io", "ingresses", "istio-system", "albistio-httptools-httpbin")
	f.remove("networking.istio.io", "gateways", "istio-system", "albistio-mycluster-a1b2c3-0001")
	if code, _, errOut := f.run(t, "gateway", "--dry-run=server"); code != 0 {
		t.Errorf("gateway --dry-run=server: exit %d\n%s", code, errOut)
	}
	if f.get("networking.istio.io", "gateways", "istio-system", "albistio-mycluster-a1b2c3-0001") != nil {
		t.Error("gateway --dry-run=server wrote the Gateway")
	}
}

// check reads the chain setup wrote and finds nothing wrong.
func TestCheckCommandAfterSetup(t *testing.T) {
	f := newFakeIKS(t)
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	code, out, errOut := f.run(t, "check")
	if code != 0 || !strings.Contains(out, "No problems found.") {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	// The client secret gone is an error finding (exit 8) naming it.
	f.remove("", "secrets", "istio-system", "alb-certs")
	code, out, _ = f.run(t, "check", "-o", "json")
	if code != kube.ExitFindings || !strings.Contains(out, "alb-certs") {
		t.Errorf("check without the client secret: exit %d, want %d naming it:\n%s", code, kube.ExitFindings, out)
	}
}

// check --contexts checks each context on its own: one summary line each,
// an unreachable one does not hide the others, and the exit code is the
// worst outcome.
func TestCheckContextsCommand(t *testing.T) {
	f := newFakeIKS(t)
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	path := f.kubeconfig("httptools")
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts["same"] = &clientcmdapi.Context{Cluster: "fake", AuthInfo: "fake", Namespace: "httptools"}
	cfg.Clusters["down"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", CertificateAuthorityData: cfg.Clusters["fake"].CertificateAuthorityData}
	cfg.Contexts["down"] = &clientcmdapi.Context{Cluster: "down", AuthInfo: "fake", Namespace: "httptools"}
	path = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"check"}, chainArgs...), "--ca-file", f.caFile, "--kubeconfig", path)
	code, out, errOut := run(t, append(args, "--contexts", "fake,same")...)
	if code != 0 {
		t.Fatalf("--contexts fake,same: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, ctx := range []string{"fake", "same"} {
		if !strings.Contains(out, ctx) {
			t.Errorf("no line for context %s:\n%s", ctx, out)
		}
	}
	code, out, errOut = run(t, append(args, "--contexts", "fake,down", "--request-timeout", "5s")...)
	if code != kube.ExitUnreachable {
		t.Fatalf("--contexts fake,down: exit %d, want %d\n%s\n%s", code, kube.ExitUnreachable, out, errOut)
	}
	if !strings.Contains(out, "unreachable") || !strings.Contains(out, "clean") {
		t.Errorf("want one clean and one unreachable context:\n%s", out)
	}
	code, out, errOut = run(t, append(args, "--all-contexts", "-o", "json", "--request-timeout", "5s")...)
	if code != kube.ExitUnreachable || !strings.Contains(out, `"same"`) {
		t.Errorf("--all-contexts: exit %d, want %d with every context:\n%s\n%s", code, kube.ExitUnreachable, out, errOut)
	}
	if code, _, errOut := run(t, append(args, "--contexts", "fake,nowhere")...); code != kube.ExitUsage || !strings.Contains(errOut, `"nowhere"`) {
		t.Errorf("an unknown context: exit %d, want %d naming it:\n%s", code, kube.ExitUsage, errOut)
	}
}

// Shell completion of -n lists the cluster's namespaces.
func TestCompletionListsNamespaces(t *testing.T) {
	f := newFakeIKS(t)
	code, out, errOut := run(t, "__complete", "setup", "--kubeconfig", f.args[len(f.args)-1], "-n", "")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, ns := range []string{"default", "istio-system", "httptools"} {
		if !strings.Contains(out, ns+"\n") {
			t.Errorf("completion lacks namespace %s:\n%s", ns, out)
		}
	}
}
