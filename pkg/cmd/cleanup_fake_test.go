package cmd

import (
	"strings"
	"testing"
)

// cleanup removes what setup made, never the IKS inputs, and the private
// CA only with --include-ca; run again, it finds nothing.
func TestCleanupRemovesWhatSetupMade(t *testing.T) {
	f := newFakeIKS(t)
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	code, out, errOut := f.run(t, "cleanup")
	if code != 0 {
		t.Fatalf("cleanup: exit %d\n%s", code, errOut)
	}
	sameWrites(t, "after cleanup", f.plugins(), map[string][]string{"secrets": {"istio-system/albistio-client-ca"}})
	if !strings.Contains(errOut, "keeping the private CA istio-system/albistio-client-ca (pass --include-ca to delete it)") {
		t.Errorf("cleanup does not say it kept the CA:\n%s", errOut)
	}
	// The chain's Ingress goes first: the ALB stops routing before what
	// it uses is removed.
	if !strings.HasPrefix(out, "ingress/albistio-httptools-httpbin -n istio-system deleted\n") {
		t.Errorf("the Ingress is not deleted first:\n%s", out)
	}
	for _, in := range []string{"default/" + fakeALBSecret, "istio-system/" + fakeGatewaySecret} {
		ns, name, _ := strings.Cut(in, "/")
		if f.get("", "secrets", ns, name) == nil {
			t.Errorf("cleanup deleted the IKS secret %s", in)
		}
	}
	if code, _, errOut := f.run(t, "cleanup", "--include-ca"); code != 0 || f.get("", "secrets", "istio-system", "albistio-client-ca") != nil {
		t.Fatalf("--include-ca: exit %d, CA left: %v\n%s", code, f.get("", "secrets", "istio-system", "albistio-client-ca") != nil, errOut)
	}
	code, out, errOut = f.run(t, "cleanup")
	if code != 0 || out != "" || !strings.Contains(errOut, `No objects of chain "httptools/httpbin" found`) {
		t.Errorf("cleanup of nothing: exit %d, stdout %q\n%s", code, out, errOut)
	}
}

// --dry-run=client and --dry-run=server delete nothing and say what they
// would delete.
func TestCleanupDryRuns(t *testing.T) {
	f := newFakeIKS(t)
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	for _, tc := range []struct{ flag, suffix string }{{"--dry-run=client", " deleted (dry run)"}, {"--dry-run=server", " deleted (server dry run)"}} {
		f.resetRequests()
		code, out, errOut := f.run(t, "cleanup", tc.flag)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.flag, code, errOut)
		}
		if w := f.writes(); len(w) != 0 {
			t.Errorf("%s deleted:\n%s", tc.flag, strings.Join(w, "\n"))
		}
		if n := strings.Count(out, tc.suffix+"\n"); n != 6 {
			t.Errorf("%s lists %d deletions, want 6 (all but the CA):\n%s", tc.flag, n, out)
		}
	}
	sameWrites(t, "after dry runs", f.plugins(), setupWrites)
	if code, _, _ := f.run(t, "cleanup", "--dry-run=maybe"); code != 2 {
		t.Errorf("--dry-run=maybe: exit %d, want 2", code)
	}
}

// An object another manager also edited (kubectl edit, say) is the
// user's as much as the plugin's: cleanup keeps it and says why.
func TestCleanupKeepsObjectsOthersEdited(t *testing.T) {
	f := newFakeIKS(t)
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s", code, errOut)
	}
	vs := f.get("networking.istio.io", "virtualservices", "httptools", "albistio-httpbin")
	mfs := vs.GetManagedFields()
	mfs = append(mfs, mfs[0])
	mfs[len(mfs)-1].Manager, mfs[len(mfs)-1].Operation = "kubectl-edit", "Update"
	vs.SetManagedFields(mfs)
	f.add(vs)
	code, out, errOut := f.run(t, "cleanup")
	if code != 0 {
		t.Fatalf("cleanup: exit %d\n%s", code, errOut)
	}
	if f.get("networking.istio.io", "virtualservices", "httptools", "albistio-httpbin") == nil {
		t.Fatal("cleanup deleted a VirtualService kubectl-edit also manages")
	}
	if !strings.Contains(errOut, "keeping virtualservice/albistio-httpbin -n httptools") || !strings.Contains(errOut, "kubectl-edit") {
		t.Errorf("cleanup does not say why it kept the VirtualService:\n%s", errOut)
	}
	if strings.Contains(out, "virtualservice/") {
		t.Errorf("cleanup reports the VirtualService deleted:\n%s", out)
	}
	if f.get("networking.k8s.io", "ingresses", "istio-system", "albistio-httptools-httpbin") != nil {
		t.Error("the Ingress, the plugin's alone, was kept")
	}
}

// With a second chain behind the same ALB and gateway, cleanup of one
// takes it off the shared Gateway and keeps the hop for the other.
func TestCleanupKeepsHopForOtherChains(t *testing.T) {
	f := newFakeIKS(t)
	f.add(obj("v1", "Service", "httptools", "echo", map[string]any{
		"spec": map[string]any{"ports": []any{map[string]any{"name": "http", "port": int64(8080)}}},
	}))
	if code, _, errOut := f.run(t, "setup"); code != 0 {
		t.Fatalf("setup httpbin: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := f.run(t, "setup", "--service", "echo", "--port", "8080", "--host", "echo."+fakeALBDomain); code != 0 {
		t.Fatalf("setup echo: exit %d\n%s", code, errOut)
	}
	code, out, errOut := f.run(t, "cleanup")
	if code != 0 {
		t.Fatalf("cleanup: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "gateway/albistio-mycluster-a1b2c3-0001 -n istio-system configured\n") {
		t.Errorf("the shared Gateway was not updated:\n%s", out)
	}
	if !strings.Contains(errOut, "keeping the hop's shared objects") || !strings.Contains(errOut, "httptools/echo") {
		t.Errorf("cleanup does not say the hop is kept for echo:\n%s", errOut)
	}
	for _, kept := range []string{"alb-certs", "mycluster-a1b2c3-0001-cacert", "mycluster-a1b2c3-0000"} {
		if f.get("", "secrets", "istio-system", kept) == nil {
			t.Errorf("cleanup deleted the hop's %s while echo uses it", kept)
		}
	}
	if f.get("networking.istio.io", "virtualservices", "httptools", "albistio-httpbin") != nil {
		t.Error("httpbin's VirtualService is still there")
	}
	if f.get("networking.istio.io", "virtualservices", "httptools", "albistio-echo") == nil {
		t.Error("echo's VirtualService was deleted")
	}
}
