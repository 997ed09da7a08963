package render

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// Annotation keys the ALB flavors read. They are facts of each controller.
const (
	NginxPrefix                = "nginx.ingress.kubernetes.io/"
	NginxBackendProtocol       = NginxPrefix + "backend-protocol"
	NginxProxySSLSecret        = NginxPrefix + "proxy-ssl-secret"
	NginxProxySSLVerify        = NginxPrefix + "proxy-ssl-verify"
	NginxProxySSLVerifyDepth   = NginxPrefix + "proxy-ssl-verify-depth"
	NginxProxySSLName          = NginxPrefix + "proxy-ssl-name"
	NginxProxySSLServerName    = NginxPrefix + "proxy-ssl-server-name"
	TraefikRouterTLS           = "traefik.ingress.kubernetes.io/router.tls"
	TraefikRouterEntryPoints   = "traefik.ingress.kubernetes.io/router.entrypoints"
	TraefikServiceTransport    = "traefik.ingress.kubernetes.io/service.serverstransport"
	TraefikServiceServerScheme = "traefik.ingress.kubernetes.io/service.serversscheme"
	ClassicSSLServices         = "ingress.bluemix.net/ssl-services"
)

// TraefikGroupVersion is the API of Traefik's ServersTransport.
const TraefikGroupVersion = "traefik.io/v1alpha1"

// Backend is what the ALB needs to know about the gateway beyond the chain's
// parameters; with a cluster it is read from there, without one it defaults.
type Backend struct {
	// VerifyDepth is how many CA certificates may follow the gateway's server
	// certificate when the ALB verifies it (nginx and classic).
	VerifyDepth int
	// Selector and TargetPort are the gateway Service's, copied onto the
	// Service the plugin owns for Traefik.
	Selector   map[string]string
	TargetPort intstr.IntOrString
}

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
// gateway over mutual TLS, for the chain's flavor: the Ingress itself and, for
// Traefik, the ServersTransport and the Service that carries its annotation.
func Ingress(p *chain.Params, b Backend) (Objects, error) {
	switch p.Flavor {
	case chain.FlavorNginx:
		return Objects{ingress(p, p.GatewayService, nginxAnnotations(p, b))}, nil
	case chain.FlavorTraefik:
		return Objects{serversTransport(p), traefikService(p, b), ingress(p, p.BackendService(), map[string]string{
			TraefikRouterTLS:         "true",
			TraefikRouterEntryPoints: "websecure",
		})}, nil
	case chain.FlavorClassic:
		return Objects{ingress(p, p.GatewayService, map[string]string{
			ClassicSSLServices: fmt.Sprintf("ssl-service=%s ssl-secret=%s proxy-ssl-verify-depth=%d proxy-ssl-name=%s",
				p.GatewayService, p.ClientSecret, b.VerifyDepth, p.GatewayDomain),
		})}, nil
	}
	return nil, fmt.Errorf("cannot render an Ingress for ALB flavor %q: resolve the flavor first (nginx, traefik or classic)", p.Flavor)
}

// nginxAnnotations are ingress-nginx's re-encryption settings. Each value is
// spelled as ingress-nginx parses it: "on" (not "true") enables verification
// and SNI, and without proxy-ssl-server-name nginx would send the SNI
// "upstream_balancer", which matches no filter chain on the gateway.
func nginxAnnotations(p *chain.Params, b Backend) map[string]string {
	return map[string]string{
		NginxBackendProtocol:     "HTTPS",
		NginxProxySSLSecret:      p.IstioNamespace + "/" + p.ClientSecret,
		NginxProxySSLVerify:      "on",
		NginxProxySSLVerifyDepth: strconv.Itoa(b.VerifyDepth),
		NginxProxySSLName:        p.GatewaySNI(),
		NginxProxySSLServerName:  "on",
	}
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
	if class := p.IngressClassName(); class != "" {
		ing.Spec.IngressClassName = &class
	}
	return toUnstructured(ing)
}

// serversTransport tells Traefik how to reach the gateway: SNI and verified
// name = the gateway domain, the gateway's roots from the client secret's
// ca.crt, and the client certificate from its tls.crt/tls.key.
func serversTransport(p *chain.Params) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": TraefikGroupVersion,
		"kind":       "ServersTransport",
		"metadata": map[string]any{
			"name":      p.TransportName(),
			"namespace": p.IstioNamespace,
			"labels":    toAnyMap(p.HopLabels()),
		},
		"spec": map[string]any{
			"serverName":          p.GatewaySNI(),
			"rootCAs":             []any{map[string]any{"secret": p.ClientSecret}},
			"certificatesSecrets": []any{p.ClientSecret},
		},
	}}
	return u
}

// traefikService is a Service of the plugin's own in front of the gateway
// pods: Traefik reads the transport and scheme from annotations on the
// Service, and istio-ingressgateway belongs to Istio's installer.
func traefikService(p *chain.Params, b Backend) *unstructured.Unstructured {
	return toUnstructured(&corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name: p.BackendService(), Namespace: p.IstioNamespace, Labels: p.HopLabels(),
			Annotations: map[string]string{
				TraefikServiceTransport:    p.IstioNamespace + "-" + p.TransportName() + "@kubernetescrd",
				TraefikServiceServerScheme: "https",
			},
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: b.Selector,
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP,
				Port: p.GatewayServicePort, TargetPort: b.TargetPort,
			}},
		},
	})
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
