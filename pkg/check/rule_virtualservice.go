package check

import (
	"fmt"
	"regexp"
	"strings"

	istionet "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
)

// checkVirtualService: the VirtualService is bound to the Gateway, takes the
// host the ALB forwards, routes every chain path, and sends it to a Service
// and port that exist.
func checkVirtualService(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if s.IstioVersion == "" {
		return nil // the istio-api rule reports it
	}
	obj := ObjectRef("VirtualService", p.AppNamespace, p.VirtualServiceName)
	vs := s.VirtualService
	if vs == nil {
		return []Finding{NewFinding(VirtualServiceMissing, obj, "",
			"the VirtualService that routes the chain's paths to the service was not found: the gateway answers 404",
			fmt.Sprintf("run kubectl albistio gateway -n %s, or set --virtualservice-name", p.AppNamespace))}
	}
	var fs []Finding
	if !boundTo(vs.Spec.GetGateways(), vs.Namespace, p.IstioNamespace, p.GatewayName) {
		fs = append(fs, NewFinding(VirtualServiceUnbound, obj, "spec.gateways",
			fmt.Sprintf("spec.gateways is %s and does not name the Gateway %s/%s, so the VirtualService does not apply to the gateway's traffic", joinQuoted(vs.Spec.GetGateways()), p.IstioNamespace, p.GatewayName),
			fmt.Sprintf("add %q to spec.gateways (re-run kubectl albistio gateway)", p.IstioNamespace+"/"+p.GatewayName)))
	}

	hosts := vs.Spec.GetHosts()
	if s.Gateway != nil {
		if server, _ := chainServer(s.Gateway, in); server != nil {
			gwHosts := gatewayHosts(server.GetHosts())
			for i, h := range hosts {
				// The chain's own names are the gateway rule's to report.
				if hostMatches(h, p.Host) || hostMatches(h, in.GatewaySNI()) {
					continue
				}
				if !intersectsAny(h, gwHosts) {
					fs = append(fs, NewFinding(VirtualServiceHostOff, obj, fmt.Sprintf("spec.hosts[%d]", i),
						fmt.Sprintf("the host %s is not among the Gateway's hosts %s, so Istio ignores it on that gateway (istioctl analyze: IST0132)", quote(h), joinQuoted(server.GetHosts())),
						"add the host to the Gateway, or remove it from the VirtualService"))
				}
			}
		}
	}
	if p.Host != "" && !hostListed(hosts, p.Host) {
		fs = append(fs, NewFinding(HostNotOnVirtualSvc, obj, "spec.hosts",
			fmt.Sprintf("the hosts %s do not include %s, the Host header the ALB forwards: requests get 404", joinQuoted(hosts), p.Host),
			"add --host to the VirtualService's hosts (re-run kubectl albistio gateway)"))
	}

	checked := map[string]bool{}
	for _, path := range p.Paths {
		route, i := routeFor(vs.Spec.GetHttp(), path)
		if route == nil {
			fs = append(fs, NewFinding(PathNotRouted, obj, "spec.http",
				fmt.Sprintf("no HTTP route matches %s: the gateway answers 404 for it", path),
				"add a route with a uri prefix match for the path (re-run kubectl albistio gateway with --path)"))
			continue
		}
		for j, d := range route.GetRoute() {
			key := fmt.Sprintf("%d/%d", i, j)
			if checked[key] {
				continue
			}
			checked[key] = true
			fs = append(fs, checkDestination(in, obj, fmt.Sprintf("spec.http[%d].route[%d].destination", i, j), d.GetDestination())...)
		}
	}
	return fs
}

// checkDestination checks one route destination against the app's Service.
func checkDestination(in *Input, obj, field string, d *istionet.Destination) []Finding {
	s, p := in.Snapshot, in.Params
	if d == nil {
		return nil
	}
	if !namesService(d.GetHost(), p.Service, p.AppNamespace) {
		return []Finding{NewFinding(DestinationNotService, obj, field+".host",
			fmt.Sprintf("the route sends the chain's path to %s, not to --service %s.%s, so check did not verify that destination", quote(d.GetHost()), p.Service, p.AppNamespace),
			"pass --service and -n for the service the chain routes to, or fix the destination")}
	}
	if s.AppService == nil {
		return []Finding{NewFinding(DestinationMissing, obj, field+".host",
			fmt.Sprintf("the Service %s/%s the route sends to does not exist: the gateway answers 503", p.AppNamespace, p.Service),
			"deploy the service, or set --service and -n to it")}
	}
	port := d.GetPort().GetNumber()
	switch {
	case port != 0 && servicePort(s.AppService, int32(port)) == nil:
		return []Finding{NewFinding(DestinationPortMissing, obj, field+".port.number",
			fmt.Sprintf("the route sends to port %d, which Service %s/%s does not have (it has %s): the gateway answers 503", port, p.AppNamespace, p.Service, servicePorts(s.AppService)),
			"set --port to one of the Service's ports (re-run kubectl albistio gateway)")}
	case port == 0 && len(s.AppService.Spec.Ports) > 1:
		return []Finding{NewFinding(DestinationPortMissing, obj, field+".port",
			fmt.Sprintf("the route names no port, and Service %s/%s has several (%s): Istio cannot pick one", p.AppNamespace, p.Service, servicePorts(s.AppService)),
			"set the destination port (re-run kubectl albistio gateway with --port)")}
	}
	return nil
}

// boundTo reports whether a VirtualService in vsNamespace listing gateways
// applies to the Gateway namespace/name.
func boundTo(gateways []string, vsNamespace, namespace, name string) bool {
	for _, g := range gateways {
		ns, n, ok := strings.Cut(g, "/")
		if !ok {
			ns, n = vsNamespace, g
		}
		if ns == namespace && n == name {
			return true
		}
	}
	return false
}

// routeFor returns the first HTTP route that matches a request for path, as
// Envoy evaluates them in order. Only the URI is considered: the ALB
// forwards the client's other headers unchanged.
func routeFor(routes []*istionet.HTTPRoute, path string) (*istionet.HTTPRoute, int) {
	for i, r := range routes {
		if len(r.GetMatch()) == 0 {
			return r, i
		}
		for _, m := range r.GetMatch() {
			if uriMatches(m.GetUri(), path) {
				return r, i
			}
		}
	}
	return nil, -1
}

func uriMatches(m *istionet.StringMatch, path string) bool {
	switch {
	case m == nil:
		return true
	case m.GetPrefix() != "":
		return strings.HasPrefix(path, m.GetPrefix())
	case m.GetExact() != "":
		return path == m.GetExact()
	case m.GetRegex() != "":
		re, err := regexp.Compile("^(?:" + m.GetRegex() + ")$")
		return err == nil && re.MatchString(path)
	}
	return true
}

// namesService reports whether a destination host names service in
// namespace, in any of the forms Istio resolves from the VirtualService's
// namespace.
func namesService(host, service, namespace string) bool {
	for _, form := range []string{service, service + "." + namespace, service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"} {
		if strings.EqualFold(host, form) {
			return true
		}
	}
	return false
}

func intersectsAny(host string, patterns []string) bool {
	for _, p := range patterns {
		if hostsIntersect(host, p) {
			return true
		}
	}
	return false
}

// servicePorts lists a Service's port numbers for messages.
func servicePorts(svc *corev1.Service) string {
	ports := make([]string, len(svc.Spec.Ports))
	for i, sp := range svc.Spec.Ports {
		ports[i] = fmt.Sprint(sp.Port)
	}
	return joinQuoted(ports)
}
