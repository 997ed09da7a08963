package flavor

import (
	"fmt"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// The legacy IBM ALB image: it predates IngressClasses and reads its
// re-encryption settings from the ingress.bluemix.net/ssl-services
// annotation, one "ssl-service=<svc> ssl-secret=<secret> ..." entry per
// backend Service.

// ClassicSSLServices is the legacy image's re-encryption annotation.
const ClassicSSLServices = "ingress.bluemix.net/ssl-services"

type classic struct{}

func (classic) Name() chain.Flavor { return chain.FlavorClassic }

// Controllers: classic ALBs serve Ingresses without an IngressClass.
func (classic) Controllers() []string       { return nil }
func (classic) DefaultIngressClass() string { return "" }

// ClientSecretKeys: ssl-services's ssl-secret reads client.crt, client.key
// and trusted.crt.
func (classic) ClientSecretKeys() SecretKeys {
	return SecretKeys{Cert: "client.crt", Key: "client.key", Trust: "trusted.crt"}
}

func (classic) Marks(a map[string]string) bool { return a[ClassicSSLServices] != "" }

// ALBSide: the legacy image re-encrypts to the Service its ssl-services
// entry names, with the client secret as ssl-secret, and verifies the
// gateway for proxy-ssl-name to proxy-ssl-verify-depth.
func (classic) ALBSide(p *chain.Params, b Backend) ALBSide {
	return ALBSide{
		BackendService: p.GatewayService,
		Annotations: map[string]string{
			ClassicSSLServices: fmt.Sprintf("ssl-service=%s ssl-secret=%s proxy-ssl-verify-depth=%d proxy-ssl-name=%s",
				p.GatewayService, p.ClientSecret, b.VerifyDepth, p.GatewayDomain),
		},
	}
}

// Notice: today's IKS ALBs are ingress-nginx or Traefik, which ignore the
// legacy annotations.
func (classic) Notice() string {
	return "the classic flavor's ingress.bluemix.net annotations are ignored by IKS ALBs running ingress-nginx or Traefik; use it only on a legacy ALB"
}
