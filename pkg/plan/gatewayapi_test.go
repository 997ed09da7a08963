package plan

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

func gatewayAPIParams(t *testing.T, ns, service string) *chain.Params {
	t.Helper()
	p := params(t, ns, service)
	p.GatewayAPI = true
	return p
}

func admitted(t *testing.T, gw *unstructured.Unstructured) []string {
	t.Helper()
	ls, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	exprs, _, _ := unstructured.NestedSlice(ls[0].(map[string]any), "allowedRoutes", "namespaces", "selector", "matchExpressions")
	values, _, _ := unstructured.NestedStringSlice(exprs[0].(map[string]any), "values")
	return values
}

// TestGatewayAPIHop: in Gateway API mode the hop is the Gateway API
// Gateway, read from its own resource; a second chain adds its namespace to
// what the listener admits, and taking a chain off keeps the others'
// namespaces and everything else as read.
func TestGatewayAPIHop(t *testing.T) {
	a, b := gatewayAPIParams(t, "httptools", "httpbin"), gatewayAPIParams(t, "otherns", "other")
	if GatewayResource(a, "v1") != kube.GatewayAPIGateways || RouteResource(a, "v1") != kube.HTTPRoutes {
		t.Fatalf("Gateway API mode reads %v and %v", GatewayResource(a, "v1"), RouteResource(a, "v1"))
	}
	classic := params(t, "httptools", "httpbin")
	if GatewayResource(classic, "v1") != kube.IstioResource("v1", "gateways") {
		t.Fatalf("classic mode reads %v", GatewayResource(classic, "v1"))
	}
	both := map[string]string{a.ChainKey(): a.Host, b.ChainKey(): b.Host}
	read := render.GatewayAPIGateway(a, both)
	if got := admitted(t, read); !reflect.DeepEqual(got, []string{"httptools", "otherns"}) {
		t.Fatalf("admits %v", got)
	}
	// A port someone set by hand stays: cleanup changes only what it must.
	ls, _, _ := unstructured.NestedSlice(read.Object, "spec", "listeners")
	ls[0].(map[string]any)["port"] = int64(8443)
	_ = unstructured.SetNestedSlice(read.Object, ls, "spec", "listeners")
	out := GatewayWithout(read, a, (&Hop{Registry: both}).Without(a))
	if got := admitted(t, out); !reflect.DeepEqual(got, []string{"otherns"}) {
		t.Errorf("after a's cleanup the listener admits %v, want the other chain's namespace only", got)
	}
	ls, _, _ = unstructured.NestedSlice(out.Object, "spec", "listeners")
	if ls[0].(map[string]any)["port"] != int64(8443) {
		t.Errorf("the listener as read must stay: %v", ls[0])
	}
	if out.GetAPIVersion() != render.GatewayAPIGroupVersion {
		t.Errorf("apiVersion %s", out.GetAPIVersion())
	}
	reg, _ := render.DecodeRegistry(out.GetAnnotations())
	if !reflect.DeepEqual(reg, map[string]string{b.ChainKey(): b.Host}) {
		t.Errorf("registry %v", reg)
	}
	api := &fakeAPI{objs: []*unstructured.Unstructured{read}}
	hop, err := ReadHop(context.Background(), api, b, "v1")
	if err != nil || hop.Gateway == nil || len(hop.Registry) != 2 {
		t.Fatalf("ReadHop in Gateway API mode: %v %v", hop, err)
	}
}
