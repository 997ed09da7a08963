package flavor

import (
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// IKS's Traefik ALB (Traefik v3 with its Kubernetes Ingress provider), the
// ALB IKS is moving to: it reads the upstream TLS settings from a
// ServersTransport that an annotation on the backend Service names, the
// client certificate from certificatesSecrets and the gateway's roots from
// rootCAs.

// TraefikController is the IngressClass controller of IKS's Traefik ALBs.
const TraefikController = "traefik.io/ingress-controller"

// Annotation keys Traefik's Kubernetes Ingress provider reads.
const (
	TraefikRouterTLS           = "traefik.ingress.kubernetes.io/router.tls"
	TraefikRouterEntryPoints   = "traefik.ingress.kubernetes.io/router.entrypoints"
	TraefikServiceTransport    = "traefik.ingress.kubernetes.io/service.serverstransport"
	TraefikServiceServerScheme = "traefik.ingress.kubernetes.io/service.serversscheme"
)

// TraefikGroupVersion is the API of Traefik's ServersTransport.
const TraefikGroupVersion = "traefik.io/v1alpha1"

type traefik struct{}

func (traefik) Name() chain.Flavor          { return chain.FlavorTraefik }
func (traefik) Controllers() []string       { return []string{TraefikController} }
func (traefik) DefaultIngressClass() string { return "public-iks-traefik" }

// ClientSecretKeys: certificatesSecrets reads tls.crt/tls.key, rootCAs ca.crt.
func (traefik) ClientSecretKeys() SecretKeys { return tlsKeys }

func (traefik) Marks(a map[string]string) bool {
	return a[TraefikRouterTLS] != "" || a[TraefikRouterEntryPoints] != ""
}

// ALBSide: Traefik takes its upstream TLS settings from a ServersTransport
// that the Service the Ingress routes to names, so the Ingress only turns
// TLS on for its router, and the transport and that Service (the plugin's
// own, in front of the gateway pods) are written before it.
func (traefik) ALBSide(p *chain.Params, b Backend) ALBSide {
	return ALBSide{
		BackendService: p.BackendService(),
		Annotations: map[string]string{
			TraefikRouterTLS:         "true",
			TraefikRouterEntryPoints: "websecure",
		},
		Before: []*unstructured.Unstructured{serversTransport(p), traefikService(p, b)},
	}
}

// serversTransport tells Traefik how to reach the gateway: SNI and verified
// name = the gateway domain, the gateway's roots from the client secret's
// ca.crt, and the client certificate from its tls.crt/tls.key.
func serversTransport(p *chain.Params) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
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

func (traefik) Notice() string { return "" }

// UpstreamTLS reads the ServersTransport as Traefik does: serverName is
// sent as SNI and verified; insecureSkipVerify turns verification off; Go's
// verifier has no depth limit; certificatesSecrets are the client
// certificates and rootCAs (and the deprecated rootCAsSecrets) the roots.
func (traefik) UpstreamTLS(p *chain.Params, st Stored) UpstreamTLS {
	t := st.Transport
	if t == nil {
		return UpstreamTLS{Verify: Switch{Said: "unknown (no ServersTransport)"}}
	}
	obj := ObjectRef{"ServersTransport", t.Namespace, t.Name}
	u := UpstreamTLS{
		ServerName: ServerName{
			Where: Where{Object: obj, Field: "spec.serverName", Setting: "the ServersTransport's serverName"},
			Known: true, Value: strings.TrimSpace(t.Spec.ServerName),
			Missing: "serverName is not set: Traefik connects to a pod address and sends no SNI the gateway knows, so Envoy has no filter chain for the connection",
		},
		SNI:    Switch{Known: true, On: true},
		Verify: Switch{Known: true, On: !t.Spec.InsecureSkipVerify},
		Depth:  Depth{Unlimited: true},
	}
	if t.Spec.InsecureSkipVerify {
		u.Verify.Said = "off (insecureSkipVerify)"
	}
	for _, s := range t.Spec.CertificatesSecrets {
		u.ClientCerts = append(u.ClientCerts, ObjectRef{"Secret", t.Namespace, s})
	}
	for _, s := range t.Spec.RootCAsSecrets {
		u.TrustedCAs = append(u.TrustedCAs, ObjectRef{"Secret", t.Namespace, s})
	}
	for _, r := range t.Spec.RootCAs {
		switch {
		case r.Secret != "":
			u.TrustedCAs = append(u.TrustedCAs, ObjectRef{"Secret", t.Namespace, r.Secret})
		case r.ConfigMap != "":
			u.TrustedCAs = append(u.TrustedCAs, ObjectRef{"ConfigMap", t.Namespace, r.ConfigMap})
		}
	}
	return u
}

// Discover: the Ingress routes to the plugin's Service in front of the
// gateway (chain.Params.TraefikService, the gateway Service's name and
// "-albistio"), whose ServersTransport gives the gateway's name
// (serverName) and the client secret (the first certificatesSecrets).
// serverName is taken as it is stored, where UpstreamTLS trims it, so
// that check judges the stored value; a missing transport says nothing.
func (traefik) Discover(r Route, get Lookup) (Discovered, error) {
	p := &chain.Params{GatewayService: strings.TrimSuffix(r.Service, "-albistio")}
	d := Discovered{GatewayService: p.GatewayService}
	if p.GatewayService == r.Service {
		d.note("the Ingress routes to Service %s; check reads Traefik's transport from the plugin's Service %s", quote(r.Service), quote(p.TraefikService()))
	}
	t, err := get.ServersTransport(r.Ingress.Namespace, p.TransportName())
	if err != nil || t == nil {
		return d, err
	}
	if n := t.Spec.ServerName; n != "" {
		d.SNI = n
	}
	if u := (traefik{}).UpstreamTLS(p, Stored{Transport: t}); len(u.ClientCerts) > 0 {
		d.ClientSecret, d.SecretNamed = u.ClientCerts[0].Name, true
	}
	return d, nil
}

// ReachedGateway: for an Ingress written for Traefik, the Service it
// routes to names a ServersTransport and is a gateway Service or selects
// the pods one does (the plugin's Service, or one built by hand). Only
// then is that Service read, so an Ingress of another ALB costs no GET.
func (traefik) ReachedGateway(r Route, gateways []GatewayService, get Lookup) (string, error) {
	if r.Flavor != chain.FlavorTraefik || r.Service == "" {
		return "", nil
	}
	svc, err := get.Service(r.Ingress.Namespace, r.Service)
	if err != nil || svc == nil {
		return "", err
	}
	if svc.Annotations[TraefikServiceTransport] == "" {
		return "", nil
	}
	sel := svc.Spec.Selector
	for _, g := range gateways {
		if g.Name == r.Service || (len(sel) > 0 && maps.Equal(sel, g.Selector)) {
			return g.Name, nil
		}
	}
	return "", nil
}
