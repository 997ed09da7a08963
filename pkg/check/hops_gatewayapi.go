package check

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The gateway and route hops in Gateway API mode: the Gateway API Gateway
// and the HTTPRoute stand where the Istio Gateway and the VirtualService
// stand in the classic mode.

// gatewayAPIUnjudged says which hops could not be judged: none of them
// when the API is not served, the app Service when no HTTPRoute names it.
func (in *Input) gatewayAPIUnjudged(out map[HopName]string) {
	g := in.Snapshot.GatewayAPI
	switch {
	case g == nil || !g.Served:
		out[HopGateway] = gatewayAPIGroup + " is not served: no Gateway was read"
		out[HopVirtualService] = gatewayAPIGroup + " is not served: no HTTPRoute was read"
		out[HopAppService] = "no HTTPRoute was read to route to the Service"
	case g.HTTPRoute == nil:
		out[HopAppService] = "the HTTPRoute that routes to the Service is missing"
	}
}

// gatewayAPIGatewayFact is the Gateway, its class, its readiness and the
// listeners on the gateway Service's port.
func (in *Input) gatewayAPIGatewayFact() string {
	p, g := in.Params, in.Snapshot.GatewayAPI
	ref := p.IstioNamespace + "/" + p.GatewayName + " (Gateway API)"
	switch {
	case g == nil || !g.Served:
		return ref + " not read"
	case g.Gateway == nil:
		return ref + " not found"
	}
	gw := g.Gateway
	programmed := "not programmed"
	if c := condition(gw.Status.Conditions, "Programmed"); c != nil && c.Status == metav1.ConditionTrue {
		programmed = "programmed"
	}
	var listeners []string
	for _, l := range gw.Spec.Listeners {
		if l.Port == p.GatewayServicePort {
			listeners = append(listeners, clip(l.hostname()))
		}
	}
	validation := "no frontend validation"
	if f, _ := gw.frontendFor(p.GatewayServicePort); f != nil && f.Validation != nil && len(f.Validation.CACertificateRefs) > 0 {
		r := f.Validation.CACertificateRefs[0]
		mode := f.Validation.Mode
		if mode == "" {
			mode = "AllowValidOnly"
		}
		validation = fmt.Sprintf("client CA %s %s, %s", r.kindOr("?"), clip(r.Name), mode)
	}
	return fmt.Sprintf("%s, class %s, %s, port %d listeners %s, %s", ref, clip(gw.Spec.GatewayClassName), programmed,
		p.GatewayServicePort, strings.Join(listeners, ", "), validation)
}

// httpRouteFacts are the HTTPRoute and where each chain path goes.
func (in *Input) httpRouteFacts() []HopFact {
	p, g := in.Params, in.Snapshot.GatewayAPI
	ref := p.AppNamespace + "/" + p.VirtualServiceName
	switch {
	case g == nil || !g.Served:
		return []HopFact{{"httpRoute", ref + " not read"}}
	case g.HTTPRoute == nil:
		return []HopFact{{"httpRoute", ref + " not found"}}
	}
	rt := g.HTTPRoute
	var routes []string
	for _, path := range p.Paths {
		dest := "no route"
		if i := routeRuleFor(rt, path); i >= 0 && len(rt.Spec.Rules[i].BackendRefs) > 0 {
			b := rt.Spec.Rules[i].BackendRefs[0]
			dest = clip(b.Name)
			if b.Port != nil {
				dest += fmt.Sprintf(":%d", *b.Port)
			}
		}
		routes = append(routes, path+" -> "+dest)
	}
	hostnames := "any host"
	if len(rt.Spec.Hostnames) > 0 {
		hostnames = "hostnames " + clip(strings.Join(rt.Spec.Hostnames, ", "))
	}
	return []HopFact{{"httpRoute", ref + ", " + hostnames}, {"routes", strings.Join(routes, ", ")}}
}
