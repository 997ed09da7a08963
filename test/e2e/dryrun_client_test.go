package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// expectDryRunLines fails unless r printed one kubectl-style line per
// object, each ending in suffix, and reports how many there were.
func expectDryRunLines(t *testing.T, what string, r result, suffix string) int {
	t.Helper()
	lines := nonEmptyLines(r.stdout)
	if len(lines) == 0 {
		t.Fatalf("%s printed no objects:\n%s", what, r)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, suffix) {
			t.Errorf("%s: %q does not end in %q:\n%s", what, l, suffix, r)
		}
	}
	return len(lines)
}

// A client dry run claims only what it knows. setup reads the cluster to
// render, so its client dry run says, object by object, what the apply
// would do: created on an empty hop, unchanged after setup, configured for
// exactly the object someone changed. gateway and ingress contact no
// cluster with --dry-run=client: they say the objects were rendered and
// not compared, never created or configured. No dry run writes.
//
// Along the way, the change is a kubectl annotate of an annotation the
// plugin set: check's fix then says to re-run with --force-conflicts and
// names kubectl annotate's field manager, and that command converges.
func TestDryRunClient(t *testing.T) {
	w := newWorld(t, false)
	before := snapshot(t, w)
	r := mustSucceed(t, w.setup(t, "--dry-run=client"))
	if n := expectDryRunLines(t, "setup --dry-run=client on an empty hop", r, " created (dry run)"); n != 7 {
		t.Errorf("setup --dry-run=client on an empty hop should list 7 objects to create:\n%s", r)
	}
	if after := snapshot(t, w); after != before {
		t.Fatalf("setup --dry-run=client wrote something:\nbefore %s\nafter  %s", before, after)
	}

	mustSucceed(t, w.setup(t))
	before = snapshot(t, w)
	r = mustSucceed(t, w.setup(t, "--dry-run=client"))
	expectDryRunLines(t, "setup --dry-run=client after setup", r, " unchanged (dry run)")

	ing := w.ingressName()
	kubectl(t, "annotate", "--overwrite", "-n", w.p.IstioNamespace, "ingress", ing, "nginx.ingress.kubernetes.io/proxy-ssl-server-name=off")
	before = snapshot(t, w)
	r = mustSucceed(t, w.setup(t, "--dry-run=client"))
	for _, l := range nonEmptyLines(r.stdout) {
		want := " unchanged (dry run)"
		if strings.HasPrefix(l, "ingress/"+ing+" ") {
			want = " configured (dry run)"
		}
		if !strings.HasSuffix(l, want) {
			t.Errorf("after kubectl annotate, %q should end in %q:\n%s", l, want, r)
		}
	}
	if after := snapshot(t, w); after != before {
		t.Fatalf("setup --dry-run=client wrote something:\nbefore %s\nafter  %s", before, after)
	}

	for _, s := range []string{"gateway", "ingress"} {
		args := append([]string{s}, dropFlag(w.flags("--dry-run=client"), "--ca-file")...)
		r := albistioAs(t, "/nonexistent/kubeconfig", nil, args...)
		if r.code != 0 {
			t.Fatalf("%s --dry-run=client must work without a cluster:\n%s", s, r)
		}
		expectDryRunLines(t, s+" --dry-run=client", r, " rendered (dry run, not compared with the cluster)")
	}

	r = albistio(t, append([]string{"check"}, w.flags("--alb-flavor", "nginx", "-o", "json")...)...)
	var rep struct {
		Findings []struct{ Code, Fix string }
		Hops     []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, r)
	}
	fixed := false
	for _, f := range rep.Findings {
		if f.Code == "ALB0616" {
			fixed = strings.Contains(f.Fix, "re-run kubectl albistio ingress --force-conflicts") && strings.Contains(f.Fix, `"kubectl-annotate"`)
			if !fixed {
				t.Errorf("ALB0616's fix should re-run with --force-conflicts and name kubectl-annotate: %q", f.Fix)
			}
		}
	}
	if !fixed {
		t.Fatalf("check did not report ALB0616 after kubectl annotate:\n%s", r)
	}
	for _, h := range rep.Hops {
		if want := map[bool]string{true: "error", false: "ok"}[h.Name == "mutual-tls"]; h.Status != want {
			t.Errorf("hop %s is %s, want %s:\n%s", h.Name, h.Status, want, r)
		}
	}
	// Without --force-conflicts the ingress stops at the conflict, as the
	// fix says; with it, the chain converges.
	r = w.slice(t, "ingress", "--alb-flavor", "nginx")
	mustFail(t, r, 4, "conflict")
	mustSucceed(t, w.slice(t, "ingress", "--alb-flavor", "nginx", "--force-conflicts"))
	if codes, code, _ := w.check(t); len(codes) != 0 || code != 0 {
		t.Errorf("after ingress --force-conflicts check should be clean: exit %d, %v", code, codes)
	}
	r = mustSucceed(t, w.setup(t, "--dry-run=client"))
	expectDryRunLines(t, "setup --dry-run=client after the fix", r, " unchanged (dry run)")

	// An annotation of someone else's that the plugin does not set is no
	// change either: server-side apply leaves it, and the real run agrees.
	kubectl(t, "annotate", "-n", w.p.IstioNamespace, "ingress", ing, "example.com/owner=team-a")
	r = mustSucceed(t, w.setup(t, "--dry-run=client"))
	expectDryRunLines(t, "setup --dry-run=client after an unrelated annotation", r, " unchanged (dry run)")
	if r = mustSucceed(t, w.setup(t)); strings.TrimSpace(r.stdout) != "" {
		t.Errorf("setup after an unrelated annotation should write nothing:\n%s", r)
	}
}
