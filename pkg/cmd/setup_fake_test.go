package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// What setup writes for the walkthrough's chain on a fresh IKS cluster,
// by resource.
var setupWrites = map[string][]string{
	"secrets":         {"istio-system/alb-certs", "istio-system/albistio-client-ca", "istio-system/mycluster-a1b2c3-0000", "istio-system/mycluster-a1b2c3-0001-cacert"},
	"gateways":        {"istio-system/albistio-mycluster-a1b2c3-0001"},
	"virtualservices": {"httptools/albistio-httpbin"},
	"ingresses":       {"istio-system/albistio-httptools-httpbin"},
}

// plugin's lists what the fake holds of the resources setup writes,
// without the IKS inputs.
func (f *fakeIKS) plugins() map[string][]string {
	got := map[string][]string{}
	for res, group := range map[string]string{"secrets": "", "gateways": "networking.istio.io", "virtualservices": "networking.istio.io", "ingresses": "networking.k8s.io"} {
		for _, n := range f.names(group, res) {
			if n == "default/"+fakeALBSecret || n == "istio-system/"+fakeGatewaySecret {
				continue
			}
			got[res] = append(got[res], n)
		}
	}
	return got
}

func sameWrites(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for res, names := range want {
		if !slices.Equal(got[res], names) {
			t.Errorf("%s: %s are %v, want %v", what, res, got[res], names)
		}
	}
	for res, names := range got {
		if _, ok := want[res]; !ok && len(names) > 0 {
			t.Errorf("%s: unexpected %s %v", what, res, names)
		}
	}
}

// setup on a fresh cluster plans, validates (server-side dry run) and
// writes the chain, and its closing check passes; run again, it finds
// nothing to change and writes nothing.
func TestSetupWritesOnceThenNothing(t *testing.T) {
	f := newFakeIKS(t)
	code, out, errOut := f.run(t, "setup")
	if code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	sameWrites(t, "after setup", f.plugins(), setupWrites)
	for _, want := range []string{"Plan:", "create gateway/albistio-mycluster-a1b2c3-0001 -n istio-system", "check:", "No problems found."} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(out, " created\n"); n != 7 {
		t.Errorf("stdout reports %d objects created, want 7:\n%s", n, out)
	}
	// Every write was validated first: each object's dry run comes before
	// any real write.
	var dry, real int
	for _, r := range f.writes() {
		real++
		_ = r
	}
	for _, r := range strings.Split(f.fakeAPIRequests(), "\n") {
		if strings.Contains(r, "dryRun=All") {
			dry++
		}
	}
	if dry != 7 || real != 7 {
		t.Errorf("%d dry-run writes and %d writes, want 7 and 7", dry, real)
	}

	f.resetRequests()
	code, out, errOut = f.run(t, "setup")
	if code != 0 {
		t.Fatalf("second setup: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, `The chain "httpbin" is up to date: nothing to write.`) {
		t.Errorf("second setup does not say it has nothing to write:\n%s", errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("second setup wrote:\n%s", strings.Join(w, "\n"))
	}
	if out != "" {
		t.Errorf("second setup printed %q", out)
	}
}

// --dry-run=server prints what would be written, validated by the server,
// and writes nothing; --dry-run=client says what it would do, from reads.
func TestSetupDryRuns(t *testing.T) {
	f := newFakeIKS(t)
	code, out, errOut := f.run(t, "setup", "--dry-run=server", "-o", "yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("--dry-run=server wrote:\n%s", strings.Join(w, "\n"))
	}
	for _, want := range []string{"kind: Gateway", "kind: VirtualService", "kind: Ingress", "name: albistio-client-ca"} {
		if !strings.Contains(out, want) {
			t.Errorf("-o yaml lacks %q", want)
		}
	}
	if strings.Contains(out, "tls.key: ") && !strings.Contains(out, "redacted") {
		t.Errorf("-o yaml prints private keys without --show-private-keys")
	}
	code, out, errOut = f.run(t, "setup", "--dry-run=client")
	if code != 0 {
		t.Fatalf("--dry-run=client: exit %d\n%s", code, errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("--dry-run=client wrote:\n%s", strings.Join(w, "\n"))
	}
	if n := strings.Count(out, " created (dry run)\n"); n != 7 {
		t.Errorf("--dry-run=client reports %d objects to create, want 7:\n%s", n, out)
	}
}

// A missing app namespace is refused before anything is written, unless
// --create-namespace, which creates it first.
func TestSetupAppNamespace(t *testing.T) {
	f := newFakeIKS(t)
	f.remove("", "namespaces", "", "httptools")
	code, _, errOut := f.run(t, "setup")
	if code != kube.ExitInvalidInput || !strings.Contains(errOut, "--create-namespace") {
		t.Fatalf("exit %d, want %d naming --create-namespace:\n%s", code, kube.ExitInvalidInput, errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Fatalf("a refused setup wrote:\n%s", strings.Join(w, "\n"))
	}
	code, out, errOut := f.run(t, "setup", "--create-namespace")
	if code != 0 {
		t.Fatalf("--create-namespace: exit %d\n%s", code, errOut)
	}
	ns := f.get("", "namespaces", "", "httptools")
	if ns == nil || ns.GetLabels()["istio-injection"] != "enabled" {
		t.Fatalf("namespace httptools not created with sidecar injection: %v", ns)
	}
	if !strings.HasPrefix(out, "namespace/httptools created\n") {
		t.Errorf("the namespace is not written first:\n%s", out)
	}
	sameWrites(t, "after --create-namespace", f.plugins(), setupWrites)
	f.remove("", "namespaces", "", "istio-system")
	f.resetRequests()
	if code, _, errOut := f.run(t, "setup"); code != kube.ExitInvalidInput || !strings.Contains(errOut, "--istio-namespace") {
		t.Errorf("without the Istio namespace: exit %d, want %d naming --istio-namespace:\n%s", code, kube.ExitInvalidInput, errOut)
	}
}

// An object of the chain's name that someone else made is not written
// over: setup refuses before any write (exit 9), unless --force-conflicts.
func TestSetupRefusesOthersObject(t *testing.T) {
	f := newFakeIKS(t)
	theirs := obj("networking.istio.io/v1", "VirtualService", "httptools", "albistio-httpbin", map[string]any{
		"metadata": map[string]any{"managedFields": []any{map[string]any{"manager": "kubectl-client-side-apply", "operation": "Update"}}},
		"spec":     map[string]any{"hosts": []any{"elsewhere"}},
	})
	f.add(theirs)
	f.resetRequests()
	code, _, errOut := f.run(t, "setup")
	if code != kube.ExitConflict || !strings.Contains(errOut, "kubectl-client-side-apply") || !strings.Contains(errOut, "--force-conflicts") {
		t.Fatalf("exit %d, want %d naming the other manager and --force-conflicts:\n%s", code, kube.ExitConflict, errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Fatalf("a refused setup wrote:\n%s", strings.Join(w, "\n"))
	}
	if code, _, errOut := f.run(t, "setup", "--force-conflicts"); code != 0 {
		t.Fatalf("--force-conflicts: exit %d\n%s", code, errOut)
	}
	vs := f.get("networking.istio.io", "virtualservices", "httptools", "albistio-httpbin")
	if hosts, _, _ := nestedStrings(vs.Object, "spec", "hosts"); slices.Contains(hosts, "elsewhere") {
		t.Errorf("--force-conflicts left their spec: %v", hosts)
	}
}

// The closing check decides the exit code: a gateway with no ready pod is
// an error finding (exit 8) unless --failure-threshold none, which reports
// it and exits 0. Everything is written either way.
func TestSetupClosingCheckThreshold(t *testing.T) {
	f := newFakeIKS(t)
	for _, name := range f.names("", "pods") {
		ns, n, _ := strings.Cut(name, "/")
		f.remove("", "pods", ns, n)
	}
	code, _, errOut := f.run(t, "setup")
	if code != kube.ExitFindings {
		t.Fatalf("exit %d, want %d (findings):\n%s", code, kube.ExitFindings, errOut)
	}
	sameWrites(t, "despite the finding", f.plugins(), setupWrites)
	code, _, errOut = f.run(t, "setup", "--failure-threshold", "none")
	if code != 0 || !strings.Contains(errOut, "error") {
		t.Fatalf("--failure-threshold none: exit %d, want 0 with the finding reported:\n%s", code, errOut)
	}
	if code, _, errOut := f.run(t, "setup", "--failure-threshold", "fatal"); code != kube.ExitUsage {
		t.Errorf("--failure-threshold fatal: exit %d, want %d:\n%s", code, kube.ExitUsage, errOut)
	}
	if code, _, errOut := f.run(t, "setup", "--timeout", "0s"); code != kube.ExitUsage {
		t.Errorf("--timeout 0s: exit %d, want %d:\n%s", code, kube.ExitUsage, errOut)
	}
}

// When the closing check cannot read the cluster after the writes, setup
// says what it wrote and exits 7 (written in part: re-run).
func TestSetupCheckFailsAfterWriting(t *testing.T) {
	f := newFakeIKS(t)
	f.fail = "GET /api/v1/namespaces/istio-system/pods"
	code, _, errOut := f.run(t, "setup")
	if code != kube.ExitPartial {
		t.Fatalf("exit %d, want %d:\n%s", code, kube.ExitPartial, errOut)
	}
	for _, want := range []string{"the closing check failed", "gateway/albistio-mycluster-a1b2c3-0001 -n istio-system (created)", "Re-run the same command"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// --wait waits for the gateway secret IKS creates late, and gives up after
// --timeout with what to look at.
func TestSetupWaitGivesUp(t *testing.T) {
	f := newFakeIKS(t)
	f.remove("", "secrets", "istio-system", fakeGatewaySecret)
	code, _, errOut := f.run(t, "setup", "--wait", "--timeout", "200ms")
	if code != kube.ExitInvalidInput || !strings.Contains(errOut, "gave up after 200ms waiting for the gateway secret") {
		t.Fatalf("exit %d, want %d giving up:\n%s", code, kube.ExitInvalidInput, errOut)
	}
	if w := f.writes(); len(w) != 0 {
		t.Fatalf("setup wrote while the gateway secret was missing:\n%s", strings.Join(w, "\n"))
	}
}

func nestedStrings(o map[string]any, fields ...string) ([]string, bool, error) {
	var cur any = o
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[f]
	}
	list, _ := cur.([]any)
	var out []string
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out, cur != nil, nil
}
