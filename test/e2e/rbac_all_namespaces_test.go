package e2e

import (
	"encoding/json"
	"testing"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// TestRBACCheckAllNamespaces: check -A as a least-privilege user: the
// ClusterRole from `rbac --for=check --all-namespaces` lets it find every
// chain, and each chain's own check Role lets it check that chain; both of
// this world's chains come out clean, and a chain whose Role the user lacks
// (another world's, in the shared cluster) is reported as forbidden, not
// read some other way.
func TestRBACCheckAllNamespaces(t *testing.T) {
	w := newWorld(t, false)
	first := app{namespace: w.p.AppNamespace, service: "httpbin", host: w.host}
	second := w.addApp(t, "other")
	mustSucceed(t, w.setup(t))
	mustSucceed(t, w.setup(t, second.flags()...))
	stranger := newWorld(t, false) // a chain the user has no Role for
	mustSucceed(t, stranger.setup(t))
	flags := w.flags("--alb-flavor", "nginx")
	applyRBAC(t, append([]string{"--for=check", "--all-namespaces", "--user", cluster.CheckUser}, flags...)...)
	applyRBAC(t, append([]string{"--for=check", "--user", cluster.CheckUser}, append(flags, second.flags()...)...)...)

	r := albistioAs(t, env.cluster.KubeconfigFor(cluster.CheckUser), nil, "check", "-A", "--ca-file", w.caFile, "-o", "json")
	var res fleetCluster
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("check -A -o json is not JSON: %v\n%s", err, r)
	}
	expectCleanChain(t, res, w, first, r.stdout)
	expectCleanChain(t, res, w, second, r.stdout)
	if c := res.chain(stranger.p.AppNamespace + "/httpbin"); c == nil || c.Outcome != "forbidden" {
		t.Errorf("the chain the user has no Role for should be found and reported as forbidden, got %+v:\n%s", c, r.stdout)
	}
}
