package check

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// gatewayAPIOptions shape a Gateway API world: the chain after setup
// --gateway-api, with the status Istio 1.28 writes on a healthy Gateway
// and HTTPRoute. Until the Gateway API renderer lands in pkg/render (on
// another branch), the world is built here from what the plugin renders for
// the classic API: its Istio Gateway, VirtualService and -cacert give way
// to the Gateway API objects that renderer writes (one HTTPS listener
// "https" without hostname, certificateRefs to the gateway's credential,
// allowedRoutes selecting the app's namespace by name, frontend validation
// naming the ConfigMap <gateway>-client-ca; an HTTPRoute per chain bound
// to section "https"), and the gateway runs as Istio deploys it
// (<gateway>-istio).
type gatewayAPIOptions struct {
	// Unserved: the cluster does not serve gateway.networking.k8s.io.
	Unserved bool `json:"unserved"`
	// Bundle is the CRDs' bundle-version (default v1.6.0).
	Bundle string `json:"bundle"`
	// IstioImage is the gateway pod's istio-proxy image (default proxyv2:1.28.1).
	IstioImage string `json:"istioImage"`
	// KeepCACert keeps the classic <gateway-secret>-cacert, as a chain
	// switched from the classic API may have left it.
	KeepCACert bool `json:"keepCACert"`
}

// gatewayAPIParams turns the chain's parameters to Gateway API mode, with
// the gateway Service Istio deploys for the Gateway.
func gatewayAPIParams(p *chain.Params) {
	p.GatewayAPI = true
	p.GatewayService = p.GatewayName + "-" + gatewayClassIstio
}

func (w *world) toGatewayAPI(t *testing.T, p *chain.Params, o gatewayAPIOptions) {
	t.Helper()
	if o.Bundle == "" {
		o.Bundle = "v1.6.0"
	}
	if o.IstioImage == "" {
		o.IstioImage = "docker.io/istio/proxyv2:1.28.1"
	}
	// The classic API's objects give way; the Gateway API's ones, where
	// the renderer wrote them, stay as written and get the status Istio
	// writes. The client CA comes from the -cacert or the ConfigMap.
	var ca string
	var caAnnotations map[string]string
	var gateway, route, configMap *unstructured.Unstructured
	kept := w.objects[:0]
	for _, u := range w.objects {
		gk := u.GroupVersionKind().GroupKind()
		switch {
		case gk.Group == "networking.istio.io":
			continue
		case gk.Group == gatewayAPIGroup && gk.Kind == "Gateway":
			gateway = u
		case gk.Group == gatewayAPIGroup && gk.Kind == "HTTPRoute":
			route = u
		case gk.Kind == "ConfigMap" && u.GetName() == p.ClientCAConfigMap():
			configMap = u
			if v, _, _ := unstructured.NestedString(u.Object, "data", "ca.crt"); v != "" {
				ca = v
			}
		case gk.Kind == "Secret" && u.GetName() == p.ClientCASecret():
			var sec corev1.Secret
			if err := fromUnstructured(u, &sec); err != nil {
				t.Fatal(err)
			}
			for _, k := range caKeys() {
				if v := sec.Data[k]; len(v) > 0 && ca == "" {
					ca = string(v)
				}
			}
			caAnnotations = sec.Annotations
			if !o.KeepCACert {
				continue
			}
			o.KeepCACert = false // kept: nothing to add
		}
		kept = append(kept, u)
	}
	w.objects = kept
	if ca == "" {
		t.Fatal("the rendered world has no client CA")
	}
	if o.KeepCACert {
		// What the classic API's secrets left, as it wrote it.
		sec := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: p.IstioNamespace, Name: p.ClientCASecret(), Labels: p.HopLabels()},
			Data:       map[string][]byte{"ca.crt": []byte(ca)},
		}
		w.objects = append(w.objects, toUnstructured(t, sec))
	}
	w.gatewayAPIUnserved = o.Unserved
	add := func(m map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: m}
		w.objects = append(w.objects, u)
		return u
	}
	addTyped := func(obj any) { w.objects = append(w.objects, toUnstructured(t, obj)) }
	ns := p.IstioNamespace
	trueConds := func(types ...string) []any {
		var out []any
		for _, ty := range types {
			out = append(out, map[string]any{"type": ty, "status": "True", "reason": ty, "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z", "observedGeneration": int64(1)})
		}
		return out
	}
	add(map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": gatewayCRDName, "annotations": map[string]any{bundleVersionAnnotation: o.Bundle, channelAnnotation: "standard"}},
		"spec": map[string]any{"group": gatewayAPIGroup, "versions": []any{
			map[string]any{"name": "v1", "served": true, "storage": true},
			map[string]any{"name": "v1beta1", "served": true, "storage": false},
		}},
	})
	add(map[string]any{
		"apiVersion": gatewayAPIGroup + "/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": gatewayClassIstio},
		"spec":     map[string]any{"controllerName": "istio.io/gateway-controller"},
		"status":   map[string]any{"conditions": trueConds("Accepted")},
	})
	if gateway == nil {
		gateway = add(map[string]any{
			"apiVersion": gatewayAPIGroup + "/v1", "kind": "Gateway",
			"metadata": map[string]any{"namespace": ns, "name": p.GatewayName, "labels": anyMap(p.HopLabels())},
			"spec": map[string]any{
				"gatewayClassName": gatewayClassIstio,
				"listeners": []any{map[string]any{
					"name": "https", "port": int64(p.GatewayServicePort), "protocol": "HTTPS",
					"tls": map[string]any{"mode": "Terminate", "certificateRefs": []any{map[string]any{"group": "", "kind": "Secret", "name": p.GatewayCredential()}}},
					"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "Selector", "selector": map[string]any{
						"matchExpressions": []any{map[string]any{"key": namespaceNameLabel, "operator": "In", "values": []any{p.AppNamespace}}}}}},
				}},
				"tls": map[string]any{"frontend": map[string]any{"default": map[string]any{"validation": map[string]any{
					"caCertificateRefs": []any{map[string]any{"group": "", "kind": "ConfigMap", "name": p.ClientCAConfigMap()}},
					"mode":              "AllowValidOnly",
				}}}},
			},
		})
	}
	gateway.SetGeneration(1)
	listeners, _, _ := unstructured.NestedSlice(gateway.Object, "spec", "listeners")
	var listenerStatus []any
	for _, l := range listeners {
		name, _, _ := unstructured.NestedString(l.(map[string]any), "name")
		listenerStatus = append(listenerStatus, map[string]any{"name": name, "attachedRoutes": int64(1), "conditions": trueConds("Accepted", "Programmed", "ResolvedRefs"),
			"supportedKinds": []any{map[string]any{"group": gatewayAPIGroup, "kind": "HTTPRoute"}}})
	}
	gateway.Object["status"] = map[string]any{"conditions": trueConds("Accepted", "Programmed"), "listeners": listenerStatus}

	parent := map[string]any{"group": gatewayAPIGroup, "kind": "Gateway", "name": p.GatewayName, "namespace": ns, "sectionName": "https"}
	if route == nil {
		var rules []any
		for _, path := range p.Paths {
			rules = append(rules, map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": path}}},
				"backendRefs": []any{map[string]any{"name": p.Service, "port": int64(p.Port)}},
			})
		}
		route = add(map[string]any{
			"apiVersion": gatewayAPIGroup + "/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"namespace": p.AppNamespace, "name": p.VirtualServiceName, "labels": anyMap(p.Labels())},
			"spec":     map[string]any{"parentRefs": []any{parent}, "hostnames": []any{p.Host}, "rules": rules},
		})
	} else if refs, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs"); len(refs) > 0 {
		parent = refs[0].(map[string]any)
	}
	route.SetGeneration(1)
	route.Object["status"] = map[string]any{"parents": []any{map[string]any{
		"parentRef": parent, "controllerName": "istio.io/gateway-controller", "conditions": trueConds("Accepted", "ResolvedRefs"),
	}}}
	if configMap == nil {
		addTyped(&corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.ClientCAConfigMap(), Labels: p.HopLabels(), Annotations: caAnnotations},
			Data:       map[string]string{"ca.crt": ca},
		})
	}
	labels := map[string]string{gatewayNameLabel: p.GatewayName}
	addTyped(&corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.GatewayService, Labels: labels},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "https", Port: p.GatewayServicePort, TargetPort: intstr.FromInt32(p.GatewayServicePort)}}},
	})
	pod := gatewayPod(p.GatewayService + "-6c8f9-xyz12")
	pod.Labels = labels
	pod.Spec.Containers[0].Image = o.IstioImage
	addTyped(pod)
}

func anyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
