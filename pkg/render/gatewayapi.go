package render

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// GatewayAPIVersion is the version of gateway.networking.k8s.io the plugin
// writes: v1, where Gateway, HTTPRoute and (since v1.5.0)
// spec.tls.frontend are in the Standard channel.
const GatewayAPIVersion = "v1"

// GatewayAPIGroupVersion is apiVersion of the Gateway API objects written.
const GatewayAPIGroupVersion = chain.GatewayAPIGroup + "/" + GatewayAPIVersion

// Gateway API names the renderer and its readers share.
const (
	// FrontendValidationMode rejects a client without a certificate the
	// client CA verifies (GEP-91); Istio translates it to a MUTUAL server.
	FrontendValidationMode = "AllowValidOnly"
	// LabelNamespaceName is the label the API server puts on every
	// namespace with its own name; allowedRoutes selects app namespaces by it.
	LabelNamespaceName = "kubernetes.io/metadata.name"
)

// GatewayAPIGateway is the hop's Gateway in Gateway API mode, shared by
// every chain behind this ALB and gateway, as Istio (1.28+) turns it into a
// MUTUAL server: one HTTPS listener (chain.GatewayAPIListener) on the
// gateway Service's port that terminates TLS with the gateway's credential
// (GatewayCredential, a Secret next to the Gateway, so no ReferenceGrant
// is needed) and requires a client certificate the CA in the
// ClientCAConfigMap verifies. The listener has no hostname, so it takes the
// SNI the ALB sends (GatewaySNI) and routes by the Host header each chain's
// HTTPRoute names. Its allowedRoutes admit HTTPRoutes from the app
// namespaces of the chains in registry (ChainKey → host) only. The registry
// itself is the same annotation as on the classic Gateway.
// With a Service the user named, spec.addresses names it so that Istio uses
// it instead of deploying <gateway-name>-istio.
func GatewayAPIGateway(p *chain.Params, registry map[string]string) *unstructured.Unstructured {
	spec := map[string]any{
		"gatewayClassName": chain.GatewayClassName,
		"listeners": []any{map[string]any{
			"name":     chain.GatewayAPIListener,
			"port":     int64(p.GatewayServicePort),
			"protocol": "HTTPS",
			"tls": map[string]any{
				"mode":            "Terminate",
				"certificateRefs": []any{map[string]any{"group": "", "kind": "Secret", "name": p.GatewayCredential()}},
			},
			"allowedRoutes": map[string]any{
				"kinds": []any{map[string]any{"group": chain.GatewayAPIGroup, "kind": "HTTPRoute"}},
				"namespaces": map[string]any{
					"from": "Selector",
					"selector": map[string]any{"matchExpressions": []any{map[string]any{
						"key": LabelNamespaceName, "operator": "In", "values": toAnySlice(appNamespaces(registry)),
					}}},
				},
			},
		}},
		"tls": map[string]any{"frontend": map[string]any{"default": map[string]any{"validation": map[string]any{
			"caCertificateRefs": []any{map[string]any{"group": "", "kind": "ConfigMap", "name": p.ClientCAConfigMap()}},
			"mode":              FrontendValidationMode,
		}}}},
	}
	if addr := p.GatewayAddress(); addr != "" {
		spec["addresses"] = []any{map[string]any{"type": "Hostname", "value": addr}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GatewayAPIGroupVersion,
		"kind":       "Gateway",
		"metadata": map[string]any{
			"name":        p.GatewayName,
			"namespace":   p.IstioNamespace,
			"labels":      toAnyMap(p.HopLabels()),
			"annotations": map[string]any{chain.AnnotationChains: EncodeRegistry(registry)},
		},
		"spec": spec,
	}}
}

// appNamespaces are the app namespaces of the chains in registry, sorted,
// once each.
func appNamespaces(registry map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for key := range registry {
		ns, _, _ := strings.Cut(key, "/")
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// HTTPRoute is the chain's route in Gateway API mode: bound to the hop's
// Gateway listener, for the chain's host only (the Host header the ALB
// forwards), its paths as prefixes to the app Service's port, like the
// classic VirtualService.
func HTTPRoute(p *chain.Params) *unstructured.Unstructured {
	matches := make([]any, len(p.Paths))
	for i, path := range p.Paths {
		matches[i] = map[string]any{"path": map[string]any{"type": "PathPrefix", "value": path}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GatewayAPIGroupVersion,
		"kind":       "HTTPRoute",
		"metadata": map[string]any{
			"name":      p.VirtualServiceName,
			"namespace": p.AppNamespace,
			"labels":    toAnyMap(labels(p)),
		},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{
				"group": chain.GatewayAPIGroup, "kind": "Gateway",
				"namespace": p.IstioNamespace, "name": p.GatewayName, "sectionName": chain.GatewayAPIListener,
			}},
			"hostnames": []any{p.Host},
			"rules": []any{map[string]any{
				"matches": matches,
				"backendRefs": []any{map[string]any{
					"group": "", "kind": "Service", "name": p.Service, "port": int64(p.Port),
				}},
			}},
		},
	}}
}

// ClientCAConfigMap is the Gateway's client CA in Gateway API mode: ca.crt
// is the CA that issued the ALB's client certificate (the private CA, the
// ALB certificate's issuers, or the hop's cert-manager CA). The source
// annotations let check tell a stale copy, as on the classic -cacert.
func ClientCAConfigMap(p *chain.Params, caPEM []byte, source, sourceHash string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":      p.ClientCAConfigMap(),
			"namespace": p.IstioNamespace,
			"labels":    toAnyMap(p.HopLabels()),
			"annotations": map[string]any{
				chain.AnnotationSource:     source,
				chain.AnnotationSourceHash: sourceHash,
			},
		},
		"data": map[string]any{"ca.crt": string(caPEM)},
	}}
}
