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
	// IdentityCertManager has cert-manager issue and renew every certificate
	// of the hop from a private CA it keeps itself: the ALB's client
	// certificate, and the gateway's certificate for the name the ALB sends
	// as SNI (HopServerName). Nobody has to re-run the plugin to renew them,
	// and no private key is ever made outside the cluster.
	IdentityCertManager IdentityMode = "cert-manager"
)

// IdentityModes lists the modes a user may name.
var IdentityModes = []IdentityMode{IdentityAuto, IdentityALBCert, IdentityPrivateCA, IdentityCertManager}

// Labels and annotations the plugin puts on what it writes.
const (
	// FieldManager is the server-side apply manager of every object the plugin writes.
	FieldManager = "kubectl-albistio"
	// LabelManagedBy marks objects the plugin created, so cleanup never touches anything else.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelChain names the chain an object belongs to; cleanup selects on it
	// together with LabelChainNamespace. The hop's shared objects carry neither.
	LabelChain = "albistio.io/chain"
	// LabelChainNamespace is the app namespace of the chain an object belongs
	// to: two apps may share a service name in different namespaces, and their
	// Ingresses both live in the Istio namespace.
	LabelChainNamespace = "albistio.io/chain-namespace"
	// AnnotationChains, on the hop's Gateway, lists the chains that use the
	// hop ("namespace/chain" → host, as JSON). It is the hop's reference count:
	// every setup adds its chain and every cleanup removes it, each with an
	// update conditioned on the Gateway's resourceVersion, and the shared
	// objects go only when no chain is left.
	AnnotationChains = "albistio.io/chains"
	// AnnotationAdopted records that the plugin took an object over from
	// other field managers with --force-conflicts, naming them. cleanup never
	// deletes such an object: someone else made it.
	AnnotationAdopted = "albistio.io/adopted-from"
	// AnnotationSource records where a copied certificate came from ("namespace/name"),
	// so check can tell when IKS renewed the source and the copy went stale.
	AnnotationSource = "albistio.io/source"
	// AnnotationSourceHash is the SHA-256 of the source certificate chain at copy time.
	AnnotationSourceHash = "albistio.io/source-sha256"
	// AnnotationIdentity records which client identity mode produced the ALB's client secret.
	AnnotationIdentity = "albistio.io/client-identity"

	// AnnotationCertManagerCertificate is how cert-manager marks a Secret it
	// writes: the name of its Certificate, in the Secret's namespace.
	AnnotationCertManagerCertificate = "cert-manager.io/certificate-name"
	// AnnotationIKSCertSource marks a secret IKS manages (and renews): the
	// default Ingress secret and the copies IKS keeps in other namespaces.
	AnnotationIKSCertSource = "ingress.cloud.ibm.com/cert-source"
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
	// Flavors, when there are two, are the ALBs that serve the chain at once:
	// IKS runs its nginx and Traefik ALBs side by side while it moves to
	// Traefik, and a request may reach either. Each gets an Ingress of its
	// own (ForFlavor); Flavor is then the first of them.
	Flavors []Flavor
	// FlavorClasses are the IngressClasses the cluster shows for Flavors.
	FlavorClasses map[Flavor]string
	// Identity is the requested client identity mode (IdentityAuto allowed: decided by `secrets`).
	Identity IdentityMode
	// IngressClass is the ALB's IngressClass; empty means the flavor's IKS default.
	IngressClass string
	// GatewayAPI puts the gateway side on the Kubernetes Gateway API
	// (gateway.networking.k8s.io/v1, gatewayClassName istio) instead of
	// Istio's own networking.istio.io Gateway and VirtualService: the hop's
	// Gateway is a Gateway API Gateway named GatewayName, each chain an
	// HTTPRoute named VirtualServiceName, and the client CA a ConfigMap
	// (ClientCAConfigMap) instead of <gateway-secret>-cacert.
	GatewayAPI bool
	// GatewayServiceNamed says the user named the gateway's Service
	// (--gateway-service). In Gateway API mode the Gateway then carries
	// spec.addresses with that Service's name, so Istio uses it instead of
	// deploying one of its own (GatewayAddress).
	GatewayServiceNamed bool

	// Names of what the plugin writes. The hop's (shared by every chain
	// behind this ALB and gateway): ClientSecret, CASecret, GatewayName, the
	// -cacert, the ALB TLS copy and Traefik's transport. The chain's own:
	// VirtualServiceName and IngressName.
	Name               string // the chain's name, the value of LabelChain
	ClientSecret       string // the secret the ALB presents to the gateway (alb-certs)
	CASecret           string // the private CA's secret
	GatewayName        string // the hop's Gateway, in IstioNamespace
	VirtualServiceName string // the chain's VirtualService, in AppNamespace
	IngressName        string // the chain's Ingress, in IstioNamespace

	// unparsed are the flags ResolveDefaults could not parse, for Validate.
	unparsed ParamErrors
}

// GatewayClassName is the GatewayClass of the hop's Gateway in Gateway API
// mode: the one Istio installs and implements.
const GatewayClassName = "istio"

// GatewayAPIListener is the name of the one listener of the hop's Gateway
// API Gateway, the sectionName every chain's HTTPRoute binds to. It has no
// hostname: the ALB always sends GatewaySNI as SNI and the app's host as
// the Host header, and Istio builds one filter chain (with its own route
// table) per listener, matched by the listener's hostname. A listener per
// host would put the app's routes in a filter chain the ALB's SNI never
// selects (seen in Istio's own translation: the gateway-domain listener
// gets an empty route table and answers 404), so the hop has one listener
// that takes any SNI and routes by Host, as the classic Gateway's one
// server with every host does.
const GatewayAPIListener = "https"

// DefaultGatewayAPIService is the Service Istio deploys for a Gateway API
// Gateway: <gateway-name>-<gatewayClassName>.
func DefaultGatewayAPIService(gatewayName string) string {
	return gatewayName + "-" + GatewayClassName
}

// ClientCAConfigMap is, in Gateway API mode, the ConfigMap (key ca.crt) in
// IstioNamespace the hop's Gateway names in
// spec.tls.frontend.default.validation.caCertificateRefs: the CA that
// issued the ALB's client certificate. A ConfigMap and not a Secret,
// because Istio 1.28-1.30's SDS rejects Secret refs there (istio#60277).
func (p *Params) ClientCAConfigMap() string { return p.GatewayName + "-client-ca" }

// GatewayAddress is, in Gateway API mode with a Service the user named,
// that Service's cluster-local name, which the Gateway carries as a
// Hostname address so that Istio uses the Service instead of deploying
// one; "" when Istio deploys the Gateway's own Service.
func (p *Params) GatewayAddress() string {
	if !p.GatewayAPI || !p.GatewayServiceNamed {
		return ""
	}
	return p.GatewayService + "." + p.IstioNamespace + ".svc.cluster.local"
}

// DefaultGatewayAPISelector is the label of the pods Istio deploys for a
// Gateway API Gateway.
func DefaultGatewayAPISelector(gatewayName string) map[string]string {
	return map[string]string{"gateway.networking.k8s.io/gateway-name": gatewayName}
}

// OtherMode is the chain as the other gateway mode writes it: the classic
// API for a Gateway API chain and the other way round. The names that
// depend on the mode follow that mode's defaults: the gateway Service
// (istio-ingressgateway, or the <gateway-name>-istio Istio deploys) unless
// one was named, and with it Traefik's Service and transport and, in
// cert-manager mode, the gateway's certificate for the ALB. setup and
// cleanup retire what a chain has in the other mode, and the roles name it.
func (p *Params) OtherMode() *Params {
	o := *p
	o.GatewayAPI = !p.GatewayAPI
	if !p.GatewayServiceNamed {
		if o.GatewayAPI {
			o.GatewayService = DefaultGatewayAPIService(p.GatewayName)
		} else {
			o.GatewayService = NewFlags().GatewayService
		}
	}
	return &o
}

// ChainKey identifies the chain within its hop: "<app-namespace>/<chain-name>".
func (p *Params) ChainKey() string { return p.AppNamespace + "/" + p.Name }

// DefaultGatewayName is the hop's Gateway when --gateway-name is not given:
// one per gateway secret, since the -cacert Istio reads is named after it.
func DefaultGatewayName(gatewaySecret string) string { return "albistio-" + gatewaySecret }

// DefaultIngressName is a chain's Ingress when --ingress-name is not given.
// Every chain's Ingress lives in the Istio namespace, so the name carries the
// app namespace as well as the chain.
func DefaultIngressName(appNamespace, chainName string) string {
	return "albistio-" + appNamespace + "-" + chainName
}

// DefaultVirtualServiceName is a chain's VirtualService when
// --virtualservice-name is not given; it lives in the app namespace.
func DefaultVirtualServiceName(chainName string) string { return "albistio-" + chainName }

// ClientCASecret is the secret Istio reads the client CA of a MUTUAL gateway
// from: <credentialName>-cacert. (Not the private CA's own secret, CASecret,
// which holds its key.)
func (p *Params) ClientCASecret() string { return p.GatewaySecret + "-cacert" }

// ClientCertName is the name in the ALB's client certificate, whoever
// issues it (the plugin's private CA or cert-manager). The certificate
// belongs to the hop, not to one app, so it names the ALB's Ingress
// subdomain: every chain's setup then finds it current instead of issuing
// it again for its own host.
func (p *Params) ClientCertName() string {
	if p.ALBDomain != "" {
		return p.ALBDomain
	}
	return p.Host
}

// HopServerName is the name the ALB sends as SNI and verifies in cert-manager
// mode: the gateway Service's cluster-local name. It never needs public DNS
// (the ALB connects to the Service, not to that name), and a certificate for
// it comes from the hop's own CA, so the gateway's IKS certificate for
// --gateway-domain keeps serving everyone else.
func (p *Params) HopServerName() string { return p.GatewayService + "." + p.IstioNamespace + ".svc" }

// HopServerSecret is the Secret (and the cert-manager Certificate that
// writes it) holding the gateway's certificate for HopServerName. It is the
// hop Gateway's credential in cert-manager mode; no <name>-cacert exists for
// it, so Istio verifies clients with its ca.crt, the hop's CA.
func (p *Params) HopServerSecret() string { return "albistio-" + p.GatewayService + "-server" }

// SelfSignedIssuer is the cert-manager Issuer that signs the hop's CA itself.
func (p *Params) SelfSignedIssuer() string { return "albistio-selfsigned" }

// CertManager reports whether the chain runs in cert-manager mode.
func (p *Params) CertManager() bool { return p.Identity == IdentityCertManager }

// GatewaySNI is the name the ALB sends as SNI and checks in the gateway's
// certificate, and the first host of the hop Gateway's server.
func (p *Params) GatewaySNI() string {
	if p.CertManager() {
		return p.HopServerName()
	}
	return p.GatewayDomain
}

// GatewayCredential is the hop Gateway's credentialName: the IKS secret for
// the gateway domain, or in cert-manager mode the hop's own server secret.
func (p *Params) GatewayCredential() string {
	if p.CertManager() {
		return p.HopServerSecret()
	}
	return p.GatewaySecret
}

// ServiceHost is the in-mesh name the VirtualService routes to.
func (p *Params) ServiceHost() string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", p.Service, p.AppNamespace)
}

// GatewayHosts are the hosts the hop's Gateway server accepts for the
// chains in registry (ChainKey → host): the gateway's own domain first (the
// SNI every ALB connection sends, so exactly one server may carry it), then
// every chain's host (the Host headers the ALB forwards; Istio routes a
// VirtualService only through a server that lists its host), sorted, once each.
func GatewayHosts(gatewayDomain string, registry map[string]string) []string {
	hosts := []string{gatewayDomain}
	seen := map[string]bool{gatewayDomain: true}
	var rest []string
	for _, h := range registry {
		if !seen[h] {
			seen[h] = true
			rest = append(rest, h)
		}
	}
	sort.Strings(rest)
	return append(hosts, rest...)
}

// TransportName is the Traefik ServersTransport that carries the client
// certificate. It belongs to the hop, like the Service that names it.
func (p *Params) TransportName() string { return p.GatewayService + "-albistio" }

// ALBFlavors are the flavors of the ALBs that serve the chain: Flavors when
// two ALBs do, else Flavor alone.
func (p *Params) ALBFlavors() []Flavor {
	if len(p.Flavors) > 1 {
		return p.Flavors
	}
	return []Flavor{p.Flavor}
}

// ALBPair are the flavors of IKS's two ALBs while it moves to Traefik, the
// only ALBs that serve one chain together; the first is the Flavor of a
// chain on both.
func ALBPair() []Flavor { return []Flavor{FlavorNginx, FlavorTraefik} }

// OnBothALBs puts the chain on both of IKS's ALBs at once, on the
// IngressClasses the cluster shows for them: while IKS moves to Traefik a
// request for the host may reach either (ForFlavor gives each one's side).
func (p *Params) OnBothALBs(classes map[Flavor]string) {
	p.Flavors, p.FlavorClasses = ALBPair(), classes
	p.Flavor = p.Flavors[0]
}

// ServesFlavor says whether an ALB of flavor f serves the chain.
func (p *Params) ServesFlavor(f Flavor) bool {
	for _, have := range p.ALBFlavors() {
		if have == f {
			return true
		}
	}
	return false
}

// ForFlavor is the chain as one of its ALBs serves it: with two ALBs, its
// own Ingress (the chain's Ingress name with the flavor appended, so the two
// never collide) on that ALB's class; with one, the chain as it is.
func (p *Params) ForFlavor(f Flavor) *Params {
	c := *p
	c.Flavor = f
	if len(p.Flavors) > 1 {
		c.Flavors, c.FlavorClasses = nil, nil
		c.IngressName = p.IngressName + "-" + string(f)
		c.IngressClass = p.FlavorClasses[f]
	}
	return &c
}

// BackendService is the Service the ALB's Ingress routes to. Traefik picks its
// upstream TLS settings from annotations on the Service, and Istio's installer
// owns istio-ingressgateway, so for Traefik the plugin routes through a Service
// of its own with the same selector.
func (p *Params) BackendService() string {
	if p.Flavor == FlavorTraefik && len(p.Flavors) < 2 {
		return p.TraefikService()
	}
	return p.GatewayService
}

// TraefikService is the hop's Service in front of the gateway pods that
// carries Traefik's transport annotations.
func (p *Params) TraefikService() string { return p.GatewayService + "-albistio" }

// Labels are put on the chain's own objects (its VirtualService and Ingress).
func (p *Params) Labels() map[string]string {
	return map[string]string{LabelManagedBy: FieldManager, LabelChain: p.Name, LabelChainNamespace: p.AppNamespace}
}

// HopLabels are put on the hop's shared objects: they belong to no single
// chain, so a second chain's setup never relabels them and a chain's cleanup
// never selects them.
func (p *Params) HopLabels() map[string]string {
	return map[string]string{LabelManagedBy: FieldManager}
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
