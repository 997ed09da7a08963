package check

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// checkIngress: the ALB's Ingress routes every chain path for --host to the
// gateway's HTTPS port, serves the host with a certificate of its own
// namespace, and carries a class the cluster's ALB of the flavor serves.
func checkIngress(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	obj := ObjectRef("Ingress", p.IstioNamespace, p.IngressName)
	ing := s.Ingress
	if ing == nil {
		return []Finding{NewFinding(IngressMissing, obj, "",
			"the ALB's Ingress that re-encrypts to the gateway was not found: the ALB does not route the chain's paths",
			fmt.Sprintf("run kubectl albistio ingress -n %s, or set --ingress-name", p.AppNamespace))}
	}
	var fs []Finding
	backend := p.BackendService()
	for _, path := range p.Paths {
		ip, field := ingressPathFor(ing, p.Host, path)
		if ip == nil {
			fs = append(fs, NewFinding(IngressPathMissing, obj, "spec.rules",
				fmt.Sprintf("no rule for host %s routes %s, so the ALB does not send it to the gateway", p.Host, path),
				"re-run kubectl albistio ingress with the chain's --host and --path"))
			continue
		}
		svc := ip.Backend.Service
		switch {
		case svc == nil:
			fs = append(fs, NewFinding(IngressBackendWrong, obj, field+".backend",
				fmt.Sprintf("%s goes to a resource backend, not to the gateway Service %s/%s port %d", path, p.IstioNamespace, backend, p.GatewayServicePort),
				"re-run kubectl albistio ingress"))
		case svc.Name != backend || !backendPortIs(svc.Port, in):
			port := svc.Port.Name
			if port == "" {
				port = fmt.Sprint(svc.Port.Number)
			}
			fs = append(fs, NewFinding(IngressBackendWrong, obj, field+".backend.service",
				fmt.Sprintf("%s goes to Service %s port %s, not to %s port %d, the gateway's HTTPS port the ALB must re-encrypt to", path, svc.Name, port, backend, p.GatewayServicePort),
				"re-run kubectl albistio ingress (set --gateway-service and --gateway-service-port if the gateway's differ)"))
		}
	}

	switch {
	case !tlsCovers(ing, p.Host):
		fs = append(fs, NewFinding(IngressTLSSecretMissing, obj, "spec.tls",
			fmt.Sprintf("no spec.tls entry covers %s, so the ALB serves its default certificate for it", p.Host),
			"re-run kubectl albistio ingress"))
	case s.IngressTLSSecret == nil:
		name := ingressTLSSecretName(ing, p)
		fs = append(fs, NewFinding(IngressTLSSecretMissing, obj, "spec.tls",
			fmt.Sprintf("the TLS secret %s does not exist in the Ingress's namespace %s (an Ingress can only name secrets of its own namespace), so the ALB falls back to its default certificate", name, ing.Namespace),
			"run kubectl albistio secrets: it copies the ALB's secret into the Istio namespace"))
	}

	if f, ok := ingressClassFinding(in, ing, obj); ok {
		fs = append(fs, f)
	}
	return fs
}

// ingressPathFor finds the Ingress path that routes a request for host and
// path, as the controller matches them: exact paths equal, prefix paths by
// whole segments.
func ingressPathFor(ing *networkingv1.Ingress, host, path string) (*networkingv1.HTTPIngressPath, string) {
	for i, r := range ing.Spec.Rules {
		if r.HTTP == nil || (r.Host != "" && !hostMatches(r.Host, host)) {
			continue
		}
		for j := range r.HTTP.Paths {
			ip := &r.HTTP.Paths[j]
			exact := ip.PathType != nil && *ip.PathType == networkingv1.PathTypeExact
			if exact && ip.Path == path || !exact && prefixCovers(ip.Path, path) {
				return ip, fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
			}
		}
	}
	return nil, ""
}

// prefixCovers reports whether an Ingress Prefix path matches path by whole
// segments (/status covers /status and /status/418, not /statuses).
func prefixCovers(prefix, path string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// backendPortIs reports whether an Ingress backend port is the gateway
// Service's HTTPS port, by number or by the port's name.
func backendPortIs(port networkingv1.ServiceBackendPort, in *Input) bool {
	if port.Number != 0 {
		return port.Number == in.Params.GatewayServicePort
	}
	svc := in.Snapshot.GatewayService
	if in.Snapshot.BackendService != nil {
		svc = in.Snapshot.BackendService
	}
	if svc == nil {
		return false
	}
	sp := servicePort(svc, in.Params.GatewayServicePort)
	return sp != nil && sp.Name == port.Name
}

// tlsCovers reports whether a spec.tls entry covers host.
func tlsCovers(ing *networkingv1.Ingress, host string) bool {
	for _, t := range ing.Spec.TLS {
		if len(t.Hosts) == 0 || hostListed(t.Hosts, host) {
			return true
		}
	}
	return false
}

// controllerOf is the IngressClass controller of a flavor's ALBs, "" for
// classic (no IngressClass) and an undetected flavor.
func controllerOf(f chain.Flavor) string {
	if fl := flavor.For(f); fl != nil && len(fl.Controllers()) > 0 {
		return fl.Controllers()[0]
	}
	return ""
}

// ingressClassFinding checks that the Ingress's class belongs to the
// flavor's ALB. Classic ALBs predate IngressClasses and are not checked.
func ingressClassFinding(in *Input, ing *networkingv1.Ingress, obj string) (Finding, bool) {
	want := controllerOf(in.Params.Flavor)
	if want == "" || in.servedByCompat() {
		return Finding{}, false // the traefik-nginx rule judges the compatibility layer's class
	}
	name, field := "", "spec.ingressClassName"
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else if v := ing.Annotations["kubernetes.io/ingress.class"]; v != "" {
		name, field = v, annotationField("kubernetes.io/ingress.class")
	}
	var served []string
	for _, ic := range in.Snapshot.IngressClasses {
		if ic.Spec.Controller == want {
			served = append(served, ic.Name)
		}
	}
	fix := fmt.Sprintf("set --ingress-class to the class of the ALB that serves the host (%s serve %s) and re-run kubectl albistio ingress", joinQuoted(served), in.Params.Flavor)
	if name == "" {
		for _, ic := range in.Snapshot.IngressClasses {
			if ic.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true" && ic.Spec.Controller == want {
				return Finding{}, false
			}
		}
		return NewFinding(IngressClassWrong, obj, field,
			fmt.Sprintf("the Ingress names no class and no default IngressClass belongs to the %s ALB, so no ALB serves it", in.Params.Flavor), fix), true
	}
	for _, ic := range in.Snapshot.IngressClasses {
		if ic.Name != name {
			continue
		}
		if ic.Spec.Controller == want {
			return Finding{}, false
		}
		return NewFinding(IngressClassWrong, obj, field,
			fmt.Sprintf("the class %s belongs to controller %s, not to the %s ALB (%s) whose annotations the Ingress carries", quote(name), ic.Spec.Controller, in.Params.Flavor, want), fix), true
	}
	return NewFinding(IngressClassWrong, obj, field,
		fmt.Sprintf("no IngressClass %s exists, so no ALB serves the Ingress", quote(name)), fix), true
}
