package flavor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// What discovery (check -A) reads of a chain's ALB side, per flavor. It
// reads more leniently than UpstreamTLS: it finds chains built by hand, as
// the walkthrough builds them (unlabelled), and takes what their settings
// say even where the controller could not read them, so that check, not
// discovery, judges those settings. Each flavor's file says where its
// reading differs from its UpstreamTLS.

// Route is an Ingress as discovery found it.
type Route struct {
	Ingress *networkingv1.Ingress
	// Service is the Service the Ingress's first path routes to.
	Service string
	// Flavor is the flavor the Ingress is written for (its class's
	// controller, else its annotations); "" when neither tells.
	Flavor chain.Flavor
}

// GatewayService is an Istio ingress gateway's Service in the Ingress's
// namespace, as discovery listed it.
type GatewayService struct {
	Name     string
	Selector map[string]string
}

// Lookup reads, for discovery, the objects an ALB's side names besides its
// Ingress; each returns nil, nil when the object does not exist.
type Lookup interface {
	ServersTransport(namespace, name string) (*ServersTransport, error)
	Service(namespace, name string) (*corev1.Service, error)
}

// Discovered is what discovery reads of a chain's ALB side.
type Discovered struct {
	// ClientSecret is the secret the ALB presents its client certificate
	// from, when SecretNamed says the flavor's settings name one (nginx's
	// proxy-ssl-secret can name an empty one, "ns/", which check then
	// reads as it is).
	ClientSecret string
	SecretNamed  bool
	// GatewayService is the gateway Service the ALB side reaches.
	GatewayService string
	// SNI is the name the ALB sends as SNI and verifies the gateway for,
	// "" when its settings do not say.
	SNI string
	// Notes say where the chain differs from what the plugin writes.
	Notes []string
}

func (d *Discovered) note(format string, args ...any) {
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
}

// namedGateway reports whether service is one of gateways.
func namedGateway(gateways []GatewayService, service string) bool {
	for _, g := range gateways {
		if g.Name == service {
			return true
		}
	}
	return false
}
