package check

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// checkGatewayWorkload: gateway pods run where --gateway-selector says, the
// Gateway's selector picks them, and every Service the ALB reaches them
// through (the gateway's own, and for Traefik the plugin's) has the HTTPS
// port and selects them.
func checkGatewayWorkload(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if s.IstioServed == nil && !in.Params.GatewayAPI {
		return nil // without Istio there is no gateway; the istio-api rule says so, once
	}
	var fs []Finding
	pods := s.GatewayPods
	if len(pods) == 0 {
		fs = append(fs, NewFinding(GatewayPodsMissing, ObjectRef("Namespace", "", p.IstioNamespace), "pods",
			fmt.Sprintf("no pod in namespace %s has the labels %s: the Istio ingress gateway does not run there", p.IstioNamespace, p.SelectorString()),
			fmt.Sprintf("set --gateway-selector to the gateway pods' labels and --istio-namespace to their namespace (kubectl get pods -A -l %s)", p.SelectorString())))
	} else {
		if s.Gateway != nil {
			if sel := s.Gateway.Spec.GetSelector(); len(sel) > 0 && !selectsAny(sel, pods) {
				fs = append(fs, NewFinding(GatewaySelectorNoMatch, ObjectRef("Gateway", s.Gateway.Namespace, s.Gateway.Name), "spec.selector",
					fmt.Sprintf("the selector %s matches none of the gateway pods (%s), so no Envoy serves this Gateway", quote(chain.FormatSelector(sel)), podNames(pods)),
					"set the Gateway's selector to the gateway pods' labels (re-run kubectl albistio gateway with --gateway-selector)"))
			}
		}
		if !anyReady(pods) {
			fs = append(fs, NewFinding(GatewayPodsNotReady, ObjectRef("Namespace", "", p.IstioNamespace), "pods",
				fmt.Sprintf("none of the gateway pods (%s) is ready: the gateway accepts no connections", podNames(pods)),
				fmt.Sprintf("see why with kubectl describe pods -n %s -l %s", p.IstioNamespace, p.SelectorString())))
		}
	}

	if s.GatewayService == nil {
		fs = append(fs, NewFinding(GatewayServiceMissing, ObjectRef("Service", p.IstioNamespace, p.GatewayService), "",
			"the Istio ingress gateway's Service was not found: the ALB has nothing to send requests to (it may have been deleted, or the gateway runs under another name or namespace)",
			"if it was deleted, re-apply the gateway with the installer that made it (IKS's managed add-on restores istio-ingressgateway itself; istioctl install or helm upgrade for your own); if it has another name, pass --gateway-service and --istio-namespace"))
	} else {
		fs = append(fs, serviceFronts(in, s.GatewayService)...)
	}
	if s.BackendService != nil {
		fs = append(fs, serviceFronts(in, s.BackendService)...)
	}
	return fs
}

// serviceFronts checks that svc exposes the HTTPS port and selects gateway pods.
func serviceFronts(in *Input, svc *corev1.Service) []Finding {
	p := in.Params
	obj := ObjectRef("Service", svc.Namespace, svc.Name)
	var fs []Finding
	if servicePort(svc, p.GatewayServicePort) == nil {
		fs = append(fs, NewFinding(ServicePortMissing, obj, "spec.ports",
			fmt.Sprintf("the Service has no port %d (it has %s): the ALB re-encrypts to that port", p.GatewayServicePort, servicePorts(svc)),
			"set --gateway-service-port to the gateway Service's HTTPS port"))
	}
	if len(in.Snapshot.GatewayPods) > 0 && len(svc.Spec.Selector) > 0 && !selectsAny(svc.Spec.Selector, in.Snapshot.GatewayPods) {
		fs = append(fs, NewFinding(ServiceSelectsNoPods, obj, "spec.selector",
			fmt.Sprintf("the selector %s matches none of the gateway pods (%s): connections to the Service go nowhere", chain.FormatSelector(svc.Spec.Selector), podNames(in.Snapshot.GatewayPods)),
			"make the Service select the gateway pods (for the plugin's own Service, re-run kubectl albistio ingress)"))
	}
	return fs
}

// servicePort returns the port of svc numbered port, or nil.
func servicePort(svc *corev1.Service, port int32) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
}

func selectsAny(selector map[string]string, pods []corev1.Pod) bool {
	sel := labels.SelectorFromSet(selector)
	for _, pod := range pods {
		if sel.Matches(labels.Set(pod.Labels)) {
			return true
		}
	}
	return false
}

func anyReady(pods []corev1.Pod) bool {
	for _, pod := range pods {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

func podNames(pods []corev1.Pod) string {
	names := make([]string, len(pods))
	for i, pod := range pods {
		names[i] = pod.Name
	}
	if len(names) > 3 {
		return strings.Join(quoteAll(names[:3]), ", ") + fmt.Sprintf(" and %d more", len(names)-3)
	}
	return joinQuoted(names)
}
