package cmd

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/apply"
)

// gateway and ingress --dry-run=client read no cluster: they cannot know
// whether an object exists or would change, and say so instead of
// "configured" (or "created").
func TestClientDryRunWithoutClusterClaimsNothing(t *testing.T) {
	isolate(t)
	for _, slice := range []string{"gateway", "ingress"} {
		code, out, errOut := run(t, append([]string{slice, "--dry-run=client"}, chainArgs...)...)
		if code != 0 {
			t.Fatalf("%s --dry-run=client: exit %d: %s", slice, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines {
			if !strings.HasSuffix(l, " rendered (dry run, not compared with the cluster)") {
				t.Errorf("%s --dry-run=client printed %q", slice, l)
			}
		}
		if strings.Contains(out, "configured") || strings.Contains(out, "created") {
			t.Errorf("%s --dry-run=client claims what it does not know:\n%s", slice, out)
		}
	}
}

// What a client dry run that read the cluster found is printed as it is,
// marked as a dry run.
func TestPrintClientDryRunResults(t *testing.T) {
	obj := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}
		u.SetName(name)
		u.SetNamespace("istio-system")
		return u
	}
	w := &WriteOptions{DryRun: apply.DryRunClient}
	var out bytes.Buffer
	if err := w.print(&out, []apply.Result{{Object: obj("a"), Op: apply.Created}, {Object: obj("b"), Op: apply.Unchanged},
		{Object: obj("c"), Op: apply.Configured}, {Object: obj("d"), Op: apply.NotCompared}}); err != nil {
		t.Fatal(err)
	}
	want := "secret/a -n istio-system created (dry run)\nsecret/b -n istio-system unchanged (dry run)\n" +
		"secret/c -n istio-system configured (dry run)\nsecret/d -n istio-system rendered (dry run, not compared with the cluster)\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// ingress --dry-run=client without --alb-flavor reads no IngressClass: it
// writes the default flavor's Ingress (ingress-nginx's annotations, no
// Traefik transport).
func TestClientDryRunIngressIsTheDefaultFlavors(t *testing.T) {
	isolate(t)
	code, out, errOut := run(t, append([]string{"ingress", "--dry-run=client", "-o", "yaml"}, chainArgs...)...)
	if code != 0 {
		t.Fatalf("ingress --dry-run=client: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "nginx.ingress.kubernetes.io/proxy-ssl-secret:") || strings.Contains(out, "ServersTransport") {
		t.Errorf("want ingress-nginx's Ingress, got:\n%s", out)
	}
}
