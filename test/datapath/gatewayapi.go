package datapath

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Gateway API resources the gateway stand-in reads.
var (
	GatewayClassGVR      = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	GatewayAPIGatewayGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	HTTPRouteGVR         = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	ReferenceGrantGVR    = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"}
)

// GatewayNameLabel is the label Istio puts on the pods (and the Service
// selector) it deploys for a Gateway API Gateway.
const GatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// IstioGatewayClass is the GatewayClass istio that istiod creates at start.
func IstioGatewayClass() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": "istio"},
		"spec":     map[string]any{"controllerName": "istio.io/gateway-controller"},
	}}
}

// DeployGatewayAPIGateway does for the Gateway API Gateway namespace/name
// what Istio's deployment controller does, which does not run against the
// test API server: the Service <name>-istio (each listener port on the
// same port of the pods) and a gateway Pod labelled for the Gateway,
// running as the ServiceAccount <name>-istio. Istio authorizes the
// Gateway's certificate for SDS only to that identity.
func DeployGatewayAPIGateway(ctx context.Context, kube kubernetes.Interface, namespace, name string, port int32) error {
	sel := map[string]string{GatewayNameLabel: name}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-istio", Namespace: namespace, Labels: sel},
		Spec: corev1.ServiceSpec{
			Selector: sel,
			Ports:    []corev1.ServicePort{{Name: fmt.Sprintf("https-%d", port), Port: port, TargetPort: intstr.FromInt32(port), AppProtocol: ptr("https")}},
		},
	}
	if _, err := kube.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the Gateway's Service as Istio would: %w", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name + "-istio", Namespace: namespace}}
	if _, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the Gateway's ServiceAccount as Istio would: %w", err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-istio-0", Namespace: namespace,
			Labels: map[string]string{GatewayNameLabel: name, "service.istio.io/canonical-name": name + "-istio", "gateway.istio.io/managed": "istio.io-gateway-controller"}},
		Spec: corev1.PodSpec{ServiceAccountName: name + "-istio", Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
	}
	if _, err := kube.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the Gateway's pod as Istio would: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// GatewayAPIObjects collects what Istio's pilot reads for the Gateway API
// Gateway namespace/name: the GatewayClasses, the Gateways of its
// namespace, every HTTPRoute and ReferenceGrant, the Namespaces (allowedRoutes
// select by their labels), the gateway Pod Istio deployed for it (the
// proxy), Services, Secrets and ConfigMaps of its namespace and the
// Services of the namespaces HTTPRoutes live in (their backends).
func GatewayAPIObjects(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, name string) (*IstioInput, error) {
	gw, err := dyn.Resource(GatewayAPIGatewayGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Gateway API Gateway %s/%s: %w", namespace, name, err)
	}
	// A Gateway whose spec.addresses names a Service as a Hostname is
	// "unmanaged": Istio deploys nothing and serves it on that Service's
	// pods. Otherwise the pods are the ones Istio deployed for it.
	sel := map[string]string{GatewayNameLabel: name}
	listenerPort := uint32(443)
	addrs, _, _ := unstructured.NestedSlice(gw.Object, "spec", "addresses")
	for _, a := range addrs {
		m, _ := a.(map[string]any)
		host, _ := m["value"].(string)
		if m["type"] != "Hostname" || !strings.HasSuffix(host, "."+namespace+".svc.cluster.local") {
			continue
		}
		svc, err := kube.CoreV1().Services(namespace).Get(ctx, strings.TrimSuffix(host, "."+namespace+".svc.cluster.local"), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("the Service the Gateway's address names: %w", err)
		}
		sel = svc.Spec.Selector
		for _, p := range svc.Spec.Ports {
			if p.Port == 443 && p.TargetPort.IntValue() > 0 {
				// Envoy listens on the pods' port behind the Service's 443.
				listenerPort = uint32(p.TargetPort.IntValue())
			}
		}
	}
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return nil, err
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("gateway %s/%s: no pod matches %v (DeployGatewayAPIGateway plays Istio's deployment controller)", namespace, name, sel)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	pod := pods.Items[0]
	in := &IstioInput{Proxy: namespace + "/" + pod.Name, Port: listenerPort, Gateway: gw}
	add := func(apiVersion, kind string, obj runtime.Object) {
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
		in.Objects = append(in.Objects, obj)
	}
	add("v1", "Pod", &pod)
	for _, gvr := range []struct {
		gvr schema.GroupVersionResource
		ns  string
	}{{GatewayClassGVR, ""}, {GatewayAPIGatewayGVR, namespace}, {HTTPRouteGVR, ""}, {ReferenceGrantGVR, ""}} {
		l, err := dyn.Resource(gvr.gvr).Namespace(gvr.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvr.gvr.Resource, err)
		}
		for i := range l.Items {
			u := &l.Items[i]
			unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
			in.Objects = append(in.Objects, u)
		}
	}
	routeNamespaces := map[string]bool{namespace: true}
	for _, o := range in.Objects {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetKind() == "HTTPRoute" {
			routeNamespaces[u.GetNamespace()] = true
		}
	}
	nss, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range nss.Items {
		add("v1", "Namespace", &nss.Items[i])
	}
	var names []string
	for ns := range routeNamespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		svcs, err := kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range svcs.Items {
			add("v1", "Service", &svcs.Items[i])
		}
	}
	secrets, err := kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range secrets.Items {
		add("v1", "Secret", &secrets.Items[i])
	}
	cms, err := kube.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range cms.Items {
		add("v1", "ConfigMap", &cms.Items[i])
	}
	return in, nil
}

// GatewayAPIFromIstio asks Istio's own pilot code (istio-xds) what the
// gateway Istio deploys for the Gateway API Gateway namespace/name serves,
// and returns it as the stand-in's configuration: the filter chains of its
// port-443 listener, with the certificate, the client CA (from the
// caCertificateRefs ConfigMap) and the routes Istio generates from the
// HTTPRoutes bound to it.
func GatewayAPIFromIstio(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, name string) (*GatewayConfig, error) {
	bin, err := IstioXDSPath()
	if err != nil {
		return nil, err
	}
	in, err := GatewayAPIObjects(ctx, dyn, kube, namespace, name)
	if err != nil {
		return nil, err
	}
	sum, err := RunIstioXDS(ctx, bin, in.Proxy, in.Objects)
	if err != nil {
		return nil, fmt.Errorf("gateway %s/%s: %w", namespace, name, err)
	}
	cfg := &GatewayConfig{Namespace: namespace, Name: name, WorkloadNamespace: namespace, Source: SourceIstio, Istio: sum, ListenerPort: in.Port}
	cfg.Chains = ChainsFromIstio(sum.Listener(in.Port))
	if len(cfg.Chains) == 0 {
		return nil, fmt.Errorf("gateway %s/%s: Istio generated no listener on port %d (warnings: %s)", namespace, name, in.Port, strings.Join(sum.Warnings, "; "))
	}
	cfg.fillLegacy()
	return cfg, nil
}
