// Package chain holds the parameters of one ALB → Istio ingress gateway chain:
// which domains, secrets, namespaces and routes it joins, and how the ALB
// presents itself to the gateway. Every command reads the same Params, so a
// value means the same thing in `secrets`, `gateway`, `ingress` and `check`.
package chain

import (
	"fmt"
	"sort"
	"strings"
)

// Flavor is the kind of Ingress controller the IKS ALB runs; each one is told
// to re-encrypt to the gateway in its own way.
type Flavor string

const (
	// FlavorAuto reads the flavor from the cluster's IngressClasses.
	FlavorAuto Flavor = "auto"
	// FlavorNginx is the Kubernetes ingress-nginx image IKS has run since 2021.
	FlavorNginx Flavor = "nginx"
	// FlavorTraefik is the Traefik ALB IKS is moving to.
	FlavorTraefik Flavor = "traefik"
	// FlavorClassic is the legacy IBM ALB image with ingress.bluemix.net annotations.
	FlavorClassic Flavor = "classic"
)

// Flavors lists the flavors a user may name, for help text and completion.
var Flavors = []Flavor{FlavorAuto, FlavorNginx, FlavorTraefik, FlavorClassic}

// IdentityMode says which certificate the ALB presents to the gateway.
type IdentityMode string

const (
	// IdentityAuto uses the ALB certificate when it may act as a client, else a private CA.
	IdentityAuto IdentityMode = "auto"
	// IdentityALBCert presents the IKS-issued ALB certificate (the walkthrough's way).
	IdentityALBCert IdentityMode = "alb-cert"
	// IdentityPrivateCA presents a client certificate issued by a CA the plugin keeps in the cluster.
	IdentityPrivateCA IdentityMode = "private-ca"
)

// IdentityModes lists the modes a user may name.
var IdentityModes = []IdentityMode{IdentityAuto, IdentityALBCert, IdentityPrivateCA}

// Labels and annotations the plugin puts on what it writes.
const (
	// FieldManager is the server-side apply manager of every object the plugin writes.
	FieldManager = "kubectl-albistio"
	// LabelManagedBy marks objects the plugin created, so cleanup never touches anything else.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelChain names the chain an object belongs to; cleanup selects on it.
	LabelChain = "albistio.io/chain"
	// AnnotationSource records where a copied certificate came from ("namespace/name"),
	// so check can tell when IKS renewed the source and the copy went stale.
	AnnotationSource = "albistio.io/source"
	// AnnotationSourceHash is the SHA-256 of the source certificate chain at copy time.
	AnnotationSourceHash = "albistio.io/source-sha256"
	// AnnotationIdentity records which client identity mode produced the ALB's client secret.
	AnnotationIdentity = "albistio.io/client-identity"
)

// Params are the resolved parameters of one chain. Zero values are not
// defaults: Resolve fills them and Validate rejects what is still wrong.
type Params struct {
	// ALBDomain is the IKS Ingress subdomain (ALB_INGRESS_DOMAIN).
	ALBDomain string
	// ALBSecret is the IKS-provided TLS secret for ALBDomain (ALB_SECRET).
	ALBSecret string
	// ALBSecretNamespace is where IKS keeps ALBSecret ("default").
	ALBSecretNamespace string
	// GatewayDomain is the NLB subdomain registered for the gateway (INGRESS_GATEWAY_DOMAIN).
	GatewayDomain string
	// GatewaySecret is the IKS-provided TLS secret for GatewayDomain (INGRESS_GATEWAY_SECRET).
	GatewaySecret string
	// IstioNamespace holds the gateway workload, its secrets, and the ALB's Ingress.
	IstioNamespace string

	// Service is the mesh service the chain routes to, in AppNamespace.
	Service      string
	AppNamespace string
	// Port is the service port the VirtualService routes to.
	Port int32
	// Paths are the URI prefixes routed through the chain.
	Paths []string
	// Host is the name clients use at the ALB (default <service>.<alb-domain>).
	Host string

	// GatewaySelector selects the gateway pods the Gateway binds to.
	GatewaySelector map[string]string
	// GatewayService is the gateway's Service; GatewayServicePort its HTTPS port.
	GatewayService     string
	GatewayServicePort int32

	// Flavor of the ALB; never FlavorAuto after Resolve.
	Flavor Flavor
	// Identity is the requested client identity mode (IdentityAuto allowed: decided by `secrets`).
	Identity IdentityMode
	// IngressClass is the ALB's IngressClass; empty means the flavor's IKS default.
	IngressClass string

	// Names of what the plugin writes.
	Name               string // the chain's name, the value of LabelChain
	ClientSecret       string // the secret the ALB presents to the gateway (alb-certs)
	CASecret           string // the private CA's secret
	GatewayName        string
	VirtualServiceName string
	IngressName        string
}

// CACertSecret is the secret Istio reads the client CA of a MUTUAL gateway
// from: <credentialName>-cacert.
func (p *Params) CACertSecret() string { return p.GatewaySecret + "-cacert" }

// ServiceHost is the in-mesh name the VirtualService routes to.
func (p *Params) ServiceHost() string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", p.Service, p.AppNamespace)
}

// GatewayHosts are the hosts the Gateway and VirtualService accept: the
// gateway's own domain (for direct clients) and the ALB host (for the chain).
func (p *Params) GatewayHosts() []string {
	if p.Host == p.GatewayDomain {
		return []string{p.GatewayDomain}
	}
	return []string{p.GatewayDomain, p.Host}
}

// TransportName is the Traefik ServersTransport that carries the client certificate.
func (p *Params) TransportName() string { return p.IngressName + "-gateway" }

// DefaultIngressClass is the IngressClass IKS creates for a flavor's public ALBs.
func DefaultIngressClass(f Flavor) string {
	switch f {
	case FlavorNginx:
		return "public-iks-k8s-nginx"
	case FlavorTraefik:
		return "public-iks-traefik"
	}
	// Classic ALBs predate IngressClasses and serve Ingresses without one.
	return ""
}

// IngressClassName is the class the ALB's Ingress names.
func (p *Params) IngressClassName() string {
	if p.IngressClass != "" {
		return p.IngressClass
	}
	return DefaultIngressClass(p.Flavor)
}

// BackendService is the Service the ALB's Ingress routes to. Traefik picks its
// upstream TLS settings from annotations on the Service, and Istio's installer
// owns istio-ingressgateway, so for Traefik the plugin routes through a Service
// of its own with the same selector.
func (p *Params) BackendService() string {
	if p.Flavor == FlavorTraefik {
		return p.GatewayService + "-albistio"
	}
	return p.GatewayService
}

// Labels are put on every object the plugin writes.
func (p *Params) Labels() map[string]string {
	return map[string]string{LabelManagedBy: FieldManager, LabelChain: p.Name}
}

// SelectorString renders GatewaySelector as key=value pairs, sorted.
func (p *Params) SelectorString() string { return FormatSelector(p.GatewaySelector) }

// FormatSelector renders a label map as "k=v,k2=v2" in key order.
func FormatSelector(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
