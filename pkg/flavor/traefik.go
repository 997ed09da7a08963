package flavor

import "github.com/albistio/kubectl-albistio/pkg/chain"

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
