package render

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// Annotation keys the ALB flavors read: facts of each controller, kept in
// pkg/flavor with the flavor that reads them and named here for render's
// callers.
const (
	NginxPrefix                = flavor.NginxPrefix
	NginxBackendProtocol       = flavor.NginxBackendProtocol
	NginxProxySSLSecret        = flavor.NginxProxySSLSecret
	NginxProxySSLVerify        = flavor.NginxProxySSLVerify
	NginxProxySSLVerifyDepth   = flavor.NginxProxySSLVerifyDepth
	NginxProxySSLName          = flavor.NginxProxySSLName
	NginxProxySSLServerName    = flavor.NginxProxySSLServerName
	TraefikRouterTLS           = flavor.TraefikRouterTLS
	TraefikRouterEntryPoints   = flavor.TraefikRouterEntryPoints
	TraefikServiceTransport    = flavor.TraefikServiceTransport
	TraefikServiceServerScheme = flavor.TraefikServiceServerScheme
	ClassicSSLServices         = flavor.ClassicSSLServices
)

// TraefikGroupVersion is the API of Traefik's ServersTransport.
const TraefikGroupVersion = flavor.TraefikGroupVersion

// Backend is what the ALB needs to know about the gateway beyond the chain's
// parameters (flavor.Backend).
type Backend = flavor.Backend

// DefaultBackend is used when the cluster cannot be read (client dry run):
// Let's Encrypt's chain is leaf → intermediate → root, which depth 2 covers
// with the anchor; Istio's gateway Service maps 443 to 8443.
// In cert-manager mode the hop's CA signs the gateway's certificate itself.
func DefaultBackend(p *chain.Params) Backend {
	depth := 2
	if p.CertManager() {
		depth = 1
	}
	target := intstr.FromInt32(8443)
	if p.GatewayAPI && !p.GatewayServiceNamed {
		// The Service Istio deploys for a Gateway API Gateway serves each
		// listener port on the same port of its pods.
		target = intstr.FromInt32(p.GatewayServicePort)
	}
	return Backend{VerifyDepth: depth, Selector: p.GatewaySelector, TargetPort: target}
}

// Ingress renders what the ALB needs to send the chain's paths to the
// gateway over mutual TLS, for the chain's flavor: the objects the flavor
// needs first (for Traefik, the ServersTransport and the Service that
// carries its annotation), then the Ingress with the flavor's annotations.
func Ingress(p *chain.Params, b Backend) (Objects, error) {
	fl := flavor.For(p.Flavor)
	if fl == nil {
		return nil, fmt.Errorf("cannot render an Ingress for ALB flavor %q: resolve the flavor first (nginx, traefik or classic)", p.Flavor)
	}
	side := fl.ALBSide(p, b)
	return append(Objects(side.Before), ingress(p, side.BackendService, side.Annotations)), nil
}

func ingress(p *chain.Params, backendService string, annotations map[string]string) *unstructured.Unstructured {
	prefix := networkingv1.PathTypePrefix
	paths := make([]networkingv1.HTTPIngressPath, len(p.Paths))
	for i, path := range p.Paths {
		paths[i] = networkingv1.HTTPIngressPath{
			Path:     path,
			PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: backendService,
				Port: networkingv1.ServiceBackendPort{Number: p.GatewayServicePort},
			}},
		}
	}
	ing := &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{
			Name: p.IngressName, Namespace: p.IstioNamespace,
			Labels: labels(p), Annotations: annotations,
		},
		Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{{Hosts: []string{p.Host}, SecretName: p.ALBSecret}},
			Rules: []networkingv1.IngressRule{{
				Host:             p.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
			}},
		},
	}
	if class := flavor.IngressClassName(p); class != "" {
		ing.Spec.IngressClassName = &class
	}
	return toUnstructured(ing)
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
