package probe

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
)

func TestLoadBalancerTarget(t *testing.T) {
	in := newInput(chain.FlavorNginx, alb{})
	if lb, err := loadBalancerTarget(in); err != nil || lb != (Target{Address: gatewayIP + ":443", Object: gatewaySvc, Via: "the gateway Service's LoadBalancer address"}) {
		t.Fatalf("loadBalancerTarget = %+v, %v; want %s:443", lb, err, gatewayIP)
	}
	in.Snapshot.GatewayService.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{}, {Hostname: "gw.example.com"}}
	if lb, err := loadBalancerTarget(in); err != nil || lb.Address != "gw.example.com:443" {
		t.Fatalf("loadBalancerTarget = %+v, %v; want the first address given, a hostname", lb, err)
	}
	in.Snapshot.GatewayService.Status.LoadBalancer.Ingress = nil
	if _, err := loadBalancerTarget(in); err == nil || !strings.Contains(err.Error(), "(type LoadBalancer) has no LoadBalancer address yet") {
		t.Fatalf("a Service without a LoadBalancer address must not give a target: %v", err)
	}
	in.Snapshot.GatewayService = nil
	if _, err := loadBalancerTarget(in); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no Service, no target: %v", err)
	}
}

// TestportForwardTarget: a port-forward goes to the first ready gateway pod
// by name, on the container port the Service's HTTPS port targets.
func TestPortForwardTarget(t *testing.T) {
	for _, c := range []struct {
		name     string
		edit     func(in *check.Input)
		pod      string
		port     int
		mentions string
	}{
		{name: "named target port", pod: gatewayPod, port: 8443},
		{name: "numbered target port", pod: gatewayPod, port: 9443,
			edit: func(in *check.Input) { httpsPort(in).TargetPort = intstr.FromInt32(9443) }},
		{name: "no target port: the Service's port", pod: gatewayPod, port: 443,
			edit: func(in *check.Input) { httpsPort(in).TargetPort = intstr.IntOrString{} }},
		{name: "the first ready pod by name", pod: "istio-ingressgateway-1", port: 8443,
			edit: func(in *check.Input) {
				in.Snapshot.GatewayPods = append(in.Snapshot.GatewayPods, gatewayPodNamed("istio-ingressgateway-0", false), gatewayPodNamed("istio-ingressgateway-1", true))
			}},
		{name: "no ready pod", mentions: "no ready gateway pod in namespace istio-system has the labels istio=ingressgateway",
			edit: func(in *check.Input) { in.Snapshot.GatewayPods = []corev1.Pod{gatewayPodNamed(gatewayPod, false)} }},
		{name: "no container port of that name", mentions: `has no container port named "https"`,
			edit: func(in *check.Input) { in.Snapshot.GatewayPods[0].Spec.Containers[0].Ports = nil }},
		{name: "no HTTPS port on the Service", mentions: "has no port 8443",
			edit: func(in *check.Input) { in.Params.GatewayServicePort = 8443 }},
		{name: "no Service", mentions: "does not exist",
			edit: func(in *check.Input) { in.Snapshot.GatewayService = nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newInput(chain.FlavorNginx, alb{})
			if c.edit != nil {
				c.edit(in)
			}
			pod, port, err := portForwardTarget(in)
			if c.mentions != "" {
				if err == nil || !strings.Contains(err.Error(), c.mentions) {
					t.Fatalf("got %s:%d, %v; want an error mentioning %q", pod, port, err, c.mentions)
				}
				return
			}
			if err != nil || pod != c.pod || port != c.port {
				t.Fatalf("portForwardTarget = %s, %d, %v; want %s on %d", pod, port, err, c.pod, c.port)
			}
		})
	}
}

// httpsPort is the gateway Service's port 443.
func httpsPort(in *check.Input) *corev1.ServicePort {
	return &in.Snapshot.GatewayService.Spec.Ports[1]
}
