package check

import (
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/certs"
)

// NewProbeMaterial takes what the ALB presents and trusts from the client
// secret in the snapshot. When it cannot, it returns an ALB0810 finding
// saying why (the static findings say more).
func NewProbeMaterial(in *Input) (*ProbeMaterial, *Finding) {
	s, p := in.Snapshot, in.Params
	obj := ObjectRef("Secret", p.IstioNamespace, p.ClientSecret)
	notRun := func(msg string) (*ProbeMaterial, *Finding) {
		f := NewFinding(ProbeNotRun, obj, "", msg, "fix the client secret first (see the other findings), usually by running kubectl albistio secrets")
		return nil, &f
	}
	if s.ClientSecret == nil {
		return notRun("the probe needs the ALB's client secret, which does not exist")
	}
	certKey, keyKey, _ := in.ClientKeys()
	cert, err := tls.X509KeyPair(s.ClientSecret.Data[certKey], s.ClientSecret.Data[keyKey])
	if err != nil {
		return notRun(fmt.Sprintf("the client secret's %s and %s do not make a key pair: %v", certKey, keyKey, err))
	}
	chainCerts, err := certs.ParseCertificates(s.ClientSecret.Data[certKey])
	if err != nil {
		return notRun(err.Error())
	}
	roots := in.ALBTrust()
	if len(roots) == 0 {
		return notRun("the client secret holds no CA certificates to verify the gateway with")
	}
	if len(p.Paths) == 0 || p.Host == "" || in.GatewaySNI() == "" {
		return notRun("the probe needs --host, --gateway-domain and a --path")
	}
	return &ProbeMaterial{
		ClientCert: cert, ClientChain: chainCerts, Roots: roots,
		ServerName: in.GatewaySNI(), Host: p.Host, Path: p.Paths[0],
	}, nil
}

// NotRun is the finding for a probe that could not start.
func NotRun(object string, err error) Finding {
	return NewFinding(ProbeNotRun, object, "", err.Error(), "pass --probe-address host:port, or --port-forward to reach a gateway pod through the API server")
}

// gatewayServiceRef names the gateway Service in findings.
func gatewayServiceRef(in *Input) string {
	return ObjectRef("Service", in.Params.IstioNamespace, in.Params.GatewayService)
}

// AddressTarget is a probe target the user named with --probe-address.
func AddressTarget(in *Input, address string) ProbeTarget {
	return ProbeTarget{Address: address, Object: gatewayServiceRef(in), Via: "--probe-address"}
}

// LoadBalancerTarget is the gateway Service's LoadBalancer address on the
// HTTPS port: where the ALB connects on IKS.
func LoadBalancerTarget(in *Input) (ProbeTarget, error) {
	svc := in.Snapshot.GatewayService
	obj := gatewayServiceRef(in)
	if svc == nil {
		return ProbeTarget{}, fmt.Errorf("the gateway Service %s does not exist, so it has no address to probe", obj)
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		host := ing.IP
		if host == "" {
			host = ing.Hostname
		}
		if host != "" {
			return ProbeTarget{
				Address: net.JoinHostPort(host, strconv.Itoa(int(in.Params.GatewayServicePort))),
				Object:  obj, Via: "the gateway Service's LoadBalancer address",
			}, nil
		}
	}
	return ProbeTarget{}, fmt.Errorf("%s (type %s) has no LoadBalancer address yet", obj, svc.Spec.Type)
}

// PortForwardTarget picks the gateway pod and container port a
// port-forward reaches the gateway's HTTPS listener at: a ready pod
// --gateway-selector selects (the first by name, for repeatable runs) and
// the gateway Service's target port for --gateway-service-port.
func PortForwardTarget(in *Input) (pod string, port int, err error) {
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

// readyPods returns the ready pods sorted by name.
func readyPods(pods []corev1.Pod) []corev1.Pod {
	var ready []corev1.Pod
	for _, pod := range pods {
		if anyReady([]corev1.Pod{pod}) {
			ready = append(ready, pod)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	return ready
}

// PortForwardObject names a gateway pod in probe findings.
func PortForwardObject(in *Input, pod string) string {
	return ObjectRef("Pod", in.Params.IstioNamespace, pod)
}
