package check

import (
	"context"
	"errors"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// TestGatewayAPIClusterScopedForbidden: a Role in the chain's namespaces
// (kubectl albistio rbac --for=check) grants no get on the cluster-scoped
// GatewayClass and CRD. check then still reads the chain, says the
// release is unknown, and leaves the class to the Gateway's own
// conditions instead of failing as forbidden.
func TestGatewayAPIClusterScopedForbidden(t *testing.T) {
	w := newWorld(t, worldOptions{GatewayAPI: &gatewayAPIOptions{}})
	api := newFakeAPI(t, w)
	for _, res := range []string{"gatewayclasses", "customresourcedefinitions"} {
		api.Fake.PrependReactor("get", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: a.GetResource().Group, Resource: res}, "", errors.New("RBAC"))
		})
	}
	p := *w.params
	snap, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if g := snap.GatewayAPI; !g.CRDForbidden || !g.GatewayClassForbidden || g.Gateway == nil || g.HTTPRoute == nil {
		t.Fatalf("Gateway API snapshot = %+v, want the CRD and class forbidden and the chain's objects read", g)
	}
	var got []string
	for _, f := range Run(&Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots}) {
		got = append(got, expectation(f))
	}
	if want := []string{"ALB1002 APIGroup gateway.networking.k8s.io"}; !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}
