package check

import (
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// Snapshot is what check read from the cluster: the objects of one chain and
// the few cluster facts they depend on. A nil object was not found (or, for
// flavor-specific objects, not read because the flavor does not use it).
// Rules read nothing else, so a Snapshot built by hand checks the same as one
// read from a cluster.
type Snapshot struct {
	// IstioServed are the versions of networking.istio.io the cluster serves;
	// nil when the group is not served at all (Istio not installed).
	IstioServed []string
	// IstioVersion is the version the Gateway and VirtualService were read
	// at ("v1" or "v1beta1"); empty when neither is served.
	IstioVersion string

	// IngressClasses are all the cluster's IngressClasses (a handful).
	IngressClasses []networkingv1.IngressClass
	// FlavorError says why --alb-flavor=auto could not be resolved; empty
	// when the flavor was given or detected.
	FlavorError string

	// ALBSecret and GatewaySecret are IKS's, the sources of the chain.
	ALBSecret     *corev1.Secret
	GatewaySecret *corev1.Secret
	// ClientSecret is what the ALB presents to the gateway (--client-secret).
	ClientSecret *corev1.Secret
	// CACert is <credential>-cacert, the CA the gateway verifies the ALB
	// with when it exists: <gateway-secret>-cacert, or in cert-manager mode
	// <hop server secret>-cacert, which should not exist (Istio would read
	// it instead of the credential's ca.crt).
	CACert *corev1.Secret
	// NamedClientCA is the secret the Gateway server's caCertCredentialName
	// names, in the Istio namespace, when that name ends in -cacert (the
	// only names Istio reads as a CA) and is not CACert's; nil otherwise or
	// when absent.
	NamedClientCA *corev1.Secret
	// CASecret is the plugin's private CA, or in cert-manager mode the
	// hop's CA cert-manager keeps; read only when the client secret says it
	// was issued by it.
	CASecret *corev1.Secret
	// IngressTLSSecret is the secret the Ingress's spec.tls names for the
	// host, in the Ingress's namespace: the plugin's copy of the ALB secret
	// (or the ALB secret itself when it lives there).
	IngressTLSSecret *corev1.Secret

	Gateway        *istiov1.Gateway
	VirtualService *istiov1.VirtualService
	// GatewayAPI holds the Gateway API objects read in Gateway API mode
	// (chain.Params.GatewayAPI), where Gateway and VirtualService stay nil.
	GatewayAPI *GatewayAPISnapshot
	Ingress    *networkingv1.Ingress

	// GatewayService is the Istio ingress gateway's Service.
	GatewayService *corev1.Service
	// BackendService is the Service the plugin owns in front of the gateway
	// for Traefik (nil for the other flavors).
	BackendService *corev1.Service
	// ServersTransport is Traefik's upstream TLS settings (nil for the other flavors).
	ServersTransport *ServersTransport
	// GatewayPods are the pods --gateway-selector selects in the Istio namespace.
	GatewayPods []corev1.Pod

	// TraefikCompat is IKS's Traefik compatibility layer as read; nil when
	// not looked for (not the nginx flavor, or no Traefik IngressClass).
	TraefikCompat *TraefikCompat
	// NginxALBs are the ingress-nginx ALBs of the Ingress class's
	// visibility with their releases; nil unless proxy-ssl-secret has a
	// value that releases read differently (nginxversion.go).
	NginxALBs *NginxALBs

	// AppNamespace and AppService are the mesh service's namespace and Service.
	AppNamespace *corev1.Namespace
	AppService   *corev1.Service

	// CertManager says the hop was judged as cert-manager's: cert-manager
	// wrote its client secret (or, with that secret gone and
	// --client-identity=auto, another of its secrets), or
	// --client-identity=cert-manager. Only then are the fields below read.
	CertManager bool
	// CertManagerServed says cert-manager.io/v1 answered the GETs of the
	// hop's Issuers and Certificates.
	CertManagerServed bool
	// The hop's cert-manager objects, by role (nil: absent or not served).
	SelfSignedIssuer  *CertManagerObject
	CAIssuer          *CertManagerObject
	CACertificate     *CertManagerObject
	ClientCertificate *CertManagerObject
	ServerCertificate *CertManagerObject
	// HopServerSecret is the gateway's certificate for the hop's own SNI
	// name (chain.Params.HopServerName), the Gateway's credential in
	// cert-manager mode.
	HopServerSecret *corev1.Secret
}

// ServersTransport is the part of Traefik's ServersTransport that check
// reads; the type is the Traefik flavor's (flavor.ServersTransport).
type ServersTransport = flavor.ServersTransport

// ServersTransportSpec holds the TLS settings of a ServersTransport.
type ServersTransportSpec = flavor.ServersTransportSpec

// RootCA names a Secret or a ConfigMap holding CA certificates.
type RootCA = flavor.RootCA
