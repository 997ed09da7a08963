// Package plan decides what setup and cleanup do to a hop and its chains,
// from what they read: which chains use the hop, what its Gateway must list,
// and what a chain's cleanup may delete. It reads through small interfaces
// and writes nothing itself, so its decisions are unit-tested without a
// cluster.
package plan

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// Getter reads one object; nil, nil when it does not exist.
type Getter interface {
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
}

// Lister lists objects by label selector.
type Lister interface {
	List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error)
}

// Hop is the hop's Gateway as read, with the chains it lists.
type Hop struct {
	// Gateway is the hop's Gateway; nil when it does not exist yet.
	Gateway *unstructured.Unstructured
	// Registry maps ChainKey to host for every chain that uses the hop.
	Registry map[string]string
}

// GatewayResource is the resource of the hop's Gateway: Istio's at
// istioVersion, or the Gateway API's in Gateway API mode.
func GatewayResource(p *chain.Params, istioVersion string) schema.GroupVersionResource {
	if p.GatewayAPI {
		return kube.GatewayAPIGateways
	}
	return kube.IstioResource(istioVersion, "gateways")
}

// RouteResource is the resource of a chain's route: Istio's VirtualService
// at istioVersion, or the Gateway API's HTTPRoute in Gateway API mode.
func RouteResource(p *chain.Params, istioVersion string) schema.GroupVersionResource {
	if p.GatewayAPI {
		return kube.HTTPRoutes
	}
	return kube.IstioResource(istioVersion, "virtualservices")
}

// ReadHop reads the hop's Gateway (GatewayResource) and its chain registry.
func ReadHop(ctx context.Context, api Getter, p *chain.Params, istioVersion string) (*Hop, error) {
	u, err := api.Get(ctx, GatewayResource(p, istioVersion), p.IstioNamespace, p.GatewayName)
	if err != nil {
		return nil, err
	}
	h := &Hop{Gateway: u, Registry: map[string]string{}}
	if u == nil {
		return h, nil
	}
	if h.Registry, err = render.DecodeRegistry(u.GetAnnotations()); err != nil {
		return nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("Gateway %s/%s: %w; fix or remove the annotation (it lists the chains that use this gateway)", p.IstioNamespace, p.GatewayName, err))
	}
	return h, nil
}

// With is the registry with p's chain in it (for its current host).
func (h *Hop) With(p *chain.Params) map[string]string {
	r := maps.Clone(h.Registry)
	r[p.ChainKey()] = p.Host
	return r
}

// Without is the registry with p's chain gone.
func (h *Hop) Without(p *chain.Params) map[string]string {
	r := maps.Clone(h.Registry)
	delete(r, p.ChainKey())
	return r
}

// Chains lists the chains the registry holds, sorted.
func Chains(registry map[string]string) []string {
	keys := make([]string, 0, len(registry))
	for k := range registry {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// OtherChainIngresses lists the chains other than p's whose Ingresses the
// plugin wrote in the Istio namespace, as ChainKeys. cleanup counts them as
// users of the hop even when the registry lost them (a Gateway deleted or
// edited by hand), so a chain that still routes through the hop's secrets
// keeps them.
func OtherChainIngresses(ctx context.Context, api Lister, p *chain.Params) ([]string, error) {
	items, err := api.List(ctx, kube.Ingresses, p.IstioNamespace, chain.LabelManagedBy+"="+chain.FieldManager)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var keys []string
	for _, u := range items {
		l := u.GetLabels()
		name, ns := l[chain.LabelChain], l[chain.LabelChainNamespace]
		if name == "" {
			continue
		}
		key := ns + "/" + name
		if key == p.ChainKey() || seen[key] {
			continue
		}
		seen[key] = true
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys, nil
}

// GatewayWithout is the hop's Gateway as cleanup applies it when p's chain
// goes and others stay: the registry without p's chain, and p's host off the
// server hosts unless another chain still serves it. It is built from the
// Gateway as read, not rendered from cleanup's flags, so a cleanup run with
// other --gateway-selector or --gateway-service-port values than setup's
// changes nothing else for the chains that stay.
func GatewayWithout(existing *unstructured.Unstructured, p *chain.Params, registry map[string]string) *unstructured.Unstructured {
	stillServed := map[string]bool{p.GatewayDomain: true}
	for _, h := range registry {
		stillServed[h] = true
	}
	spec, _, _ := unstructured.NestedMap(existing.Object, "spec")
	if strings.HasPrefix(existing.GetAPIVersion(), chain.GatewayAPIGroup+"/") {
		// A Gateway API Gateway lists no hosts (its one listener routes by
		// the HTTPRoutes' hostnames): what changes is which app namespaces
		// its listener admits routes from.
		admitOnly(spec, render.GatewayAPIGateway(p, registry))
	} else if servers, ok := spec["servers"].([]any); ok {
		for _, s := range servers {
			srv, ok := s.(map[string]any)
			if !ok {
				continue
			}
			hosts, _, _ := unstructured.NestedStringSlice(srv, "hosts")
			kept := make([]any, 0, len(hosts))
			for _, h := range hosts {
				if h != p.Host || stillServed[h] {
					kept = append(kept, h)
				}
			}
			srv["hosts"] = kept
		}
	}
	labels := map[string]any{}
	for k, v := range p.HopLabels() {
		labels[k] = v
	}
	out := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": existing.GetAPIVersion(),
		"kind":       existing.GetKind(),
		"metadata": map[string]any{
			"name":        existing.GetName(),
			"namespace":   existing.GetNamespace(),
			"labels":      labels,
			"annotations": map[string]any{chain.AnnotationChains: render.EncodeRegistry(registry)},
		},
		"spec": spec,
	}}
	return out
}

// admitOnly sets, on each listener of spec named like one of want's, the
// allowedRoutes want renders for it; nothing else of spec changes.
func admitOnly(spec map[string]any, want *unstructured.Unstructured) {
	wantListeners, _, _ := unstructured.NestedSlice(want.Object, "spec", "listeners")
	allowed := map[string]any{}
	for _, l := range wantListeners {
		if m, ok := l.(map[string]any); ok {
			allowed[fmt.Sprint(m["name"])] = m["allowedRoutes"]
		}
	}
	listeners, _ := spec["listeners"].([]any)
	for _, l := range listeners {
		m, ok := l.(map[string]any)
		if !ok {
			continue
		}
		if a, ok := allowed[fmt.Sprint(m["name"])]; ok {
			m["allowedRoutes"] = a
		}
	}
}
