package flavor

import "github.com/albistio/kubectl-albistio/pkg/chain"

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
