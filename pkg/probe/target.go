package probe

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/check"
)

// PortForwarder opens a port-forward through the API server to port of
// pod in namespace, and returns the local host:port it listens on and a
// function that closes it (kube.PortForward; with --contexts each context
// forwards through its own API server).
type PortForwarder func(ctx context.Context, namespace, pod string, port int) (addr string, stop func(), err error)

// Options say how Run reaches the gateway: check's --probe-address,
// --port-forward and --probe-timeout.
type Options struct {
	// Address is host:port to probe instead of the gateway Service's
	// LoadBalancer address (--probe-address); it wins over PortForward.
	Address string
	// PortForward reaches a ready gateway pod through the API server
	// instead (--port-forward), for a machine outside the cluster's network.
	PortForward bool
	// Timeout bounds the whole probe, the port-forward included
	// (--probe-timeout); zero leaves only ctx's own deadline.
	Timeout time.Duration
}

// Run makes the ALB's handshake and request to the gateway of the chain in
// describes, with the client identity from the snapshot, and reports it as
// findings. It connects to o.Address; else, with o.PortForward, to a ready
// gateway pod through a port-forward that forward opens (and Run closes);
// else to the gateway Service's LoadBalancer address, where the ALB
// connects on IKS. A probe that cannot start is one ALB0810 finding saying
// why.
func Run(ctx context.Context, in *check.Input, o Options, forward PortForwarder) []check.Finding {
	m, notRun := NewMaterial(in)
	if notRun != nil {
		return []check.Finding{*notRun}
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var target Target
	switch {
	case o.Address != "":
		target = addressTarget(in, o.Address)
	case o.PortForward:
		pod, port, err := portForwardTarget(in)
		if err != nil {
			return []check.Finding{notRunFinding(gatewayServiceRef(in), err)}
		}
		addr, stop, err := forward(ctx, in.Params.IstioNamespace, pod, port)
		if err != nil {
			return []check.Finding{notRunFinding(podRef(in, pod), err)}
		}
		defer stop()
		target = Target{Address: addr, Object: podRef(in, pod), Via: fmt.Sprintf("port-forward to pod %s port %d", pod, port)}
	default:
		var err error
		if target, err = loadBalancerTarget(in); err != nil {
			return []check.Finding{notRunFinding(gatewayServiceRef(in), err)}
		}
	}
	return Handshake(ctx, target, m)
}

// notRunFinding is the finding for a probe that found no target.
func notRunFinding(object string, err error) check.Finding {
	return check.NewFinding(check.ProbeNotRun, object, "", err.Error(), "pass --probe-address host:port, or --port-forward to reach a gateway pod through the API server")
}

// gatewayServiceRef names the gateway Service in findings.
func gatewayServiceRef(in *check.Input) string {
	return check.ObjectRef("Service", in.Params.IstioNamespace, in.Params.GatewayService)
}

// addressTarget is a probe target the user named with --probe-address.
func addressTarget(in *check.Input, address string) Target {
	return Target{Address: address, Object: gatewayServiceRef(in), Via: "--probe-address"}
}

// loadBalancerTarget is the gateway Service's LoadBalancer address on the
// HTTPS port: where the ALB connects on IKS.
func loadBalancerTarget(in *check.Input) (Target, error) {
	svc := in.Snapshot.GatewayService
	obj := gatewayServiceRef(in)
	if svc == nil {
		return Target{}, fmt.Errorf("the gateway Service %s does not exist, so it has no address to probe", obj)
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		host := ing.IP
		if host == "" {
			host = ing.Hostname
		}
		if host != "" {
			return Target{
				Address: net.JoinHostPort(host, strconv.Itoa(int(in.Params.GatewayServicePort))),
				Object:  obj, Via: "the gateway Service's LoadBalancer address",
			}, nil
		}
	}
	return Target{}, fmt.Errorf("%s (type %s) has no LoadBalancer address yet", obj, svc.Spec.Type)
}

// portForwardTarget picks the gateway pod and container port a
// port-forward reaches the gateway's HTTPS listener at: a ready pod
// --gateway-selector selects (the first by name, for repeatable runs) and
// the gateway Service's target port for --gateway-service-port.
func portForwardTarget(in *check.Input) (pod string, port int, err error) {
	s, p := in.Snapshot, in.Params
	if s.GatewayService == nil {
		return "", 0, fmt.Errorf("the gateway Service %s does not exist, so the gateway's HTTPS target port is unknown", gatewayServiceRef(in))
	}
	sp := servicePort(s.GatewayService, p.GatewayServicePort)
	if sp == nil {
		return "", 0, fmt.Errorf("the gateway Service %s has no port %d", gatewayServiceRef(in), p.GatewayServicePort)
	}
	pods := readyPods(s.GatewayPods)
	if len(pods) == 0 {
		return "", 0, fmt.Errorf("no ready gateway pod in namespace %s has the labels %s", p.IstioNamespace, p.SelectorString())
	}
	target := pods[0]
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range target.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return target.Name, int(cp.ContainerPort), nil
				}
			}
		}
		return "", 0, fmt.Errorf("pod %s/%s has no container port named %q, the gateway Service's target port", target.Namespace, target.Name, sp.TargetPort.StrVal)
	case sp.TargetPort.IntVal != 0:
		return target.Name, int(sp.TargetPort.IntVal), nil
	}
	return target.Name, int(sp.Port), nil
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

// readyPods returns the pods whose Ready condition is true (as check's
// gateway workload rule counts them), sorted by name.
func readyPods(pods []corev1.Pod) []corev1.Pod {
	var ready []corev1.Pod
	for _, pod := range pods {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, pod)
				break
			}
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	return ready
}

// podRef names a gateway pod in probe findings.
func podRef(in *check.Input, pod string) string {
	return check.ObjectRef("Pod", in.Params.IstioNamespace, pod)
}
