package plan

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

func params(t *testing.T, ns, service string) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.ALBDomain = "c-0000.jp-tok.containers.appdomain.cloud"
	f.ALBSecret = "c-0000"
	f.GatewayDomain = "c-0001.jp-tok.containers.appdomain.cloud"
	f.GatewaySecret = "c-0001"
	f.Service = service
	p, err := f.Resolve(ns, func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeAPI answers Get and List from a fixed set of objects.
type fakeAPI struct{ objs []*unstructured.Unstructured }

func (f *fakeAPI) Get(_ context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	for _, o := range f.objs {
		if o.GetNamespace() == ns && o.GetName() == name && o.GetKind() == map[string]string{"gateways": "Gateway", "ingresses": "Ingress"}[gvr.Resource] {
			return o.DeepCopy(), nil
		}
	}
	return nil, nil
}

func (f *fakeAPI) List(_ context.Context, gvr schema.GroupVersionResource, ns, _ string) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	for _, o := range f.objs {
		if o.GetNamespace() == ns && gvr.Resource == "ingresses" && o.GetKind() == "Ingress" {
			out = append(out, *o.DeepCopy())
		}
	}
	return out, nil
}

// TestSecondChainAddsToTheHop: the hop's Gateway as a second chain's setup
// renders it lists both chains and both hosts, and the first chain's
// registry entry is untouched.
func TestSecondChainAddsToTheHop(t *testing.T) {
	a, b := params(t, "httptools", "httpbin"), params(t, "otherns", "other")
	api := &fakeAPI{objs: []*unstructured.Unstructured{render.Gateway(a, "v1", render.SingleChain(a))}}
	hop, err := ReadHop(context.Background(), api, b, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if hop.Gateway == nil || !reflect.DeepEqual(hop.Registry, map[string]string{a.ChainKey(): a.Host}) {
		t.Fatalf("read registry %v", hop.Registry)
	}
	gw := render.Gateway(b, "v1", hop.With(b))
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	hosts, _, _ := unstructured.NestedStringSlice(servers[0].(map[string]any), "hosts")
	want := []string{b.GatewayDomain, a.Host, b.Host}
	if a.Host > b.Host {
		want = []string{b.GatewayDomain, b.Host, a.Host}
	}
	if !reflect.DeepEqual(hosts, want) {
		t.Errorf("hosts %v, want %v", hosts, want)
	}
	reg, _ := render.DecodeRegistry(gw.GetAnnotations())
	if !reflect.DeepEqual(reg, map[string]string{a.ChainKey(): a.Host, b.ChainKey(): b.Host}) {
		t.Errorf("registry %v", reg)
	}
	if got := Chains(hop.Without(a)); len(got) != 0 {
		t.Errorf("without the only chain: %v", got)
	}
}

// TestGatewayWithoutKeepsOtherChains: cleanup of one chain takes its host
// off the Gateway and leaves the other chain's host, the gateway domain, and
// everything else of the Gateway as read (even settings cleanup's own flags
// would render differently).
func TestGatewayWithoutKeepsOtherChains(t *testing.T) {
	a, b := params(t, "httptools", "httpbin"), params(t, "otherns", "other")
	both := map[string]string{a.ChainKey(): a.Host, b.ChainKey(): b.Host}
	read := render.Gateway(a, "v1", both)
	if err := unstructured.SetNestedStringMap(read.Object, map[string]string{"istio": "custom"}, "spec", "selector"); err != nil {
		t.Fatal(err)
	}
	hop := &Hop{Gateway: read, Registry: both}
	out := GatewayWithout(read, a, hop.Without(a))
	servers, _, _ := unstructured.NestedSlice(out.Object, "spec", "servers")
	hosts, _, _ := unstructured.NestedStringSlice(servers[0].(map[string]any), "hosts")
	if !reflect.DeepEqual(hosts, []string{a.GatewayDomain, b.Host}) {
		t.Errorf("hosts %v: want the gateway domain and the other chain's host", hosts)
	}
	if sel, _, _ := unstructured.NestedStringMap(out.Object, "spec", "selector"); sel["istio"] != "custom" {
		t.Errorf("the selector as read must stay: %v", sel)
	}
	reg, _ := render.DecodeRegistry(out.GetAnnotations())
	if !reflect.DeepEqual(reg, map[string]string{b.ChainKey(): b.Host}) {
		t.Errorf("registry %v", reg)
	}
	// A host two chains share stays while either does.
	shared := params(t, "thirdns", "httpbin")
	shared.Host = a.Host
	three := map[string]string{a.ChainKey(): a.Host, shared.ChainKey(): a.Host}
	out = GatewayWithout(render.Gateway(a, "v1", three), a, (&Hop{Registry: three}).Without(a))
	servers, _, _ = unstructured.NestedSlice(out.Object, "spec", "servers")
	hosts, _, _ = unstructured.NestedStringSlice(servers[0].(map[string]any), "hosts")
	if !reflect.DeepEqual(hosts, []string{a.GatewayDomain, a.Host}) {
		t.Errorf("hosts %v: a host another chain serves must stay", hosts)
	}
}

func TestOtherChainIngresses(t *testing.T) {
	a, b := params(t, "httptools", "httpbin"), params(t, "otherns", "other")
	ing := func(p *chain.Params) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}}
		u.SetNamespace(p.IstioNamespace)
		u.SetName(p.IngressName)
		u.SetLabels(p.Labels())
		return u
	}
	api := &fakeAPI{objs: []*unstructured.Unstructured{ing(a), ing(b)}}
	got, err := OtherChainIngresses(context.Background(), api, a)
	if err != nil || !reflect.DeepEqual(got, []string{b.ChainKey()}) {
		t.Errorf("OtherChainIngresses = %v, %v; want [%s]", got, err, b.ChainKey())
	}
}

func TestReadHopRefusesAGarbledRegistry(t *testing.T) {
	a := params(t, "httptools", "httpbin")
	gw := render.Gateway(a, "v1", nil)
	gw.SetAnnotations(map[string]string{chain.AnnotationChains: "not json"})
	if _, err := ReadHop(context.Background(), &fakeAPI{objs: []*unstructured.Unstructured{gw}}, a, "v1"); err == nil {
		t.Error("a registry that cannot be read must stop setup and cleanup: guessing could delete what another chain uses")
	}
}
