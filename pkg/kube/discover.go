package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// IstioVersion returns the version of networking.istio.io to write: v1 where
// served (Istio ≥ 1.22), else v1beta1. Without the group at all, Istio is not
// installed and nothing the plugin writes would mean anything.
func (c *Clients) IstioVersion(ctx context.Context) (string, error) {
	g, err := c.APIGroup(ctx, render.IstioGroup)
	if err != nil {
		return "", err
	}
	if g == nil {
		return "", WithCode(ExitInvalidInput, fmt.Errorf("the cluster at %s does not serve %s: Istio's CRDs are not installed (install Istio, e.g. the IKS managed Istio add-on, then re-run)", c.Host, render.IstioGroup))
	}
	var served []string
	for _, v := range g.Versions {
		served = append(served, v.Version)
	}
	if v := PreferredIstioVersion(served); v != "" {
		return v, nil
	}
	return "", WithCode(ExitInvalidInput, fmt.Errorf("%s serves only %s; this plugin needs v1 or v1beta1 (Istio 1.5 or later)", render.IstioGroup, strings.Join(served, ", ")))
}

// PreferredIstioVersion is the version of networking.istio.io the plugin
// uses among the served ones: the first of render.IstioVersions served, ""
// when none is.
func PreferredIstioVersion(served []string) string {
	for _, want := range render.IstioVersions {
		if slices.Contains(served, want) {
			return want
		}
	}
	return ""
}

// IKS ALB controllers, as their IngressClasses name them (the flavors'
// own facts, kept here for kube's callers).
const (
	NginxController   = flavor.NginxController
	TraefikController = flavor.TraefikController
)

// flavorsByClass groups the IngressClasses by the flavor whose controller
// serves them.
func flavorsByClass(classes []networkingv1.IngressClass) map[chain.Flavor][]string {
	byFlavor := map[chain.Flavor][]string{}
	for _, ic := range classes {
		if fl := flavor.ByController(ic.Spec.Controller); fl != nil {
			byFlavor[fl.Name()] = append(byFlavor[fl.Name()], ic.Name)
		}
	}
	return byFlavor
}

// FlavorFromClasses picks the ALB flavor from the cluster's IngressClasses.
// Public classes win over private ones (the chain's host is public); a cluster
// running both nginx and Traefik ALBs (mid-migration) is ambiguous and the
// user must say which ALB serves the host.
func FlavorFromClasses(classes []networkingv1.IngressClass) (chain.Flavor, string, error) {
	byFlavor := flavorsByClass(classes)
	switch len(byFlavor) {
	case 0:
		var names []string
		for _, ic := range classes {
			names = append(names, ic.Name+" ("+ic.Spec.Controller+")")
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		return "", "", fmt.Errorf("no IngressClass of an IKS ALB (controller %s) found; the cluster has: %s. Pass --alb-flavor=nginx, traefik or classic", strings.Join(flavor.Controllers(), " or "), strings.Join(names, ", "))
	case 1:
		for f, names := range byFlavor {
			return f, preferPublic(names), nil
		}
	}
	var all []string
	for f, names := range byFlavor {
		all = append(all, fmt.Sprintf("%s: %s", f, strings.Join(names, ", ")))
	}
	sort.Strings(all)
	return "", "", fmt.Errorf("the cluster runs ALBs of more than one flavor (%s); pass --alb-flavor (and --ingress-class) for the ALB that serves the host", strings.Join(all, "; "))
}

// BothALBs is, for a cluster whose IngressClasses show both ALBs of
// chain.ALBPair (nginx and Traefik), the class of each (public ones
// preferred); nil otherwise.
func BothALBs(classes []networkingv1.IngressClass) map[chain.Flavor]string {
	byFlavor := flavorsByClass(classes)
	pair := map[chain.Flavor]string{}
	for _, f := range chain.ALBPair() {
		if len(byFlavor[f]) == 0 {
			return nil
		}
		pair[f] = preferPublic(byFlavor[f])
	}
	return pair
}

func preferPublic(names []string) string {
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, "public-") {
			return n
		}
	}
	return names[0]
}

// IngressClassesOf converts listed IngressClasses.
func IngressClassesOf(items []unstructured.Unstructured) ([]networkingv1.IngressClass, error) {
	classes := make([]networkingv1.IngressClass, len(items))
	for i := range items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &classes[i]); err != nil {
			return nil, fmt.Errorf("IngressClass %s is malformed: %w", items[i].GetName(), err)
		}
	}
	return classes, nil
}

// ResolveFlavor settles FlavorAuto from the cluster's IngressClasses.
func (c *Clients) ResolveFlavor(ctx context.Context, p *chain.Params) error {
	if p.Flavor != chain.FlavorAuto {
		return nil
	}
	items, err := c.List(ctx, IngressClasses, "", "")
	if err != nil {
		return err
	}
	classes, err := IngressClassesOf(items)
	if err != nil {
		return err
	}
	if pair := BothALBs(classes); pair != nil {
		// Mid-migration: both of IKS's ALBs serve Ingresses, and a request
		// for the host may reach either, so the chain goes through both.
		p.OnBothALBs(pair)
		return nil
	}
	f, class, err := FlavorFromClasses(classes)
	if err != nil {
		return WithCode(ExitInvalidInput, err)
	}
	p.Flavor = f
	if p.IngressClass == "" {
		p.IngressClass = class
	}
	return nil
}

// GatewayBackend reads the gateway Service: the ALB must reach its HTTPS port,
// and the Traefik flavor copies its selector and target port.
func (c *Clients) GatewayBackend(ctx context.Context, p *chain.Params) (*corev1.Service, render.Backend, error) {
	b := render.DefaultBackend(p)
	u, err := c.Get(ctx, Services, p.IstioNamespace, p.GatewayService)
	if err != nil {
		return nil, b, err
	}
	if u == nil {
		return nil, b, WithCode(ExitInvalidInput, fmt.Errorf("service %s/%s not found: it is the Istio ingress gateway's Service (set --gateway-service and --istio-namespace to where the gateway runs)", p.IstioNamespace, p.GatewayService))
	}
	svc := &corev1.Service{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, svc); err != nil {
		return nil, b, fmt.Errorf("service %s/%s is malformed: %w", p.IstioNamespace, p.GatewayService, err)
	}
	for _, port := range svc.Spec.Ports {
		if port.Port == p.GatewayServicePort {
			b.Selector = svc.Spec.Selector
			b.TargetPort = port.TargetPort
			if b.TargetPort == (intstr.IntOrString{}) {
				b.TargetPort = intstr.FromInt32(port.Port)
			}
			return svc, b, nil
		}
	}
	return svc, b, WithCode(ExitInvalidInput, fmt.Errorf("service %s/%s has no port %d: the ALB re-encrypts to the gateway's HTTPS port (set --gateway-service-port)", p.IstioNamespace, p.GatewayService, p.GatewayServicePort))
}
