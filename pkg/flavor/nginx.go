package flavor

import (
	"strconv"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// ingress-nginx (the Kubernetes project's controller), which IKS's ALBs have
// run since 2021: it reads the re-encryption settings from the Ingress's
// nginx.ingress.kubernetes.io annotations and the client certificate from
// the proxy-ssl-secret in the Ingress's namespace.

// NginxController is the IngressClass controller of ingress-nginx ALBs.
const NginxController = "k8s.io/ingress-nginx"

// Annotation keys ingress-nginx reads (internal/ingress/annotations).
const (
	NginxPrefix              = "nginx.ingress.kubernetes.io/"
	NginxBackendProtocol     = NginxPrefix + "backend-protocol"
	NginxProxySSLSecret      = NginxPrefix + "proxy-ssl-secret"
	NginxProxySSLVerify      = NginxPrefix + "proxy-ssl-verify"
	NginxProxySSLVerifyDepth = NginxPrefix + "proxy-ssl-verify-depth"
	NginxProxySSLName        = NginxPrefix + "proxy-ssl-name"
	NginxProxySSLServerName  = NginxPrefix + "proxy-ssl-server-name"
)

type nginx struct{}

func (nginx) Name() chain.Flavor           { return chain.FlavorNginx }
func (nginx) Controllers() []string        { return []string{NginxController} }
func (nginx) DefaultIngressClass() string  { return "public-iks-k8s-nginx" }
func (nginx) ClientSecretKeys() SecretKeys { return tlsKeys }

func (nginx) Marks(a map[string]string) bool {
	return a[NginxProxySSLSecret] != "" || a[NginxBackendProtocol] != ""
}

// ALBSide: ingress-nginx re-encrypts from the Ingress's annotations alone
// and routes to the gateway Service itself. Each value is spelled as
// ingress-nginx parses it: "on" (not "true") enables verification and SNI,
// and without proxy-ssl-server-name nginx would send the SNI
// "upstream_balancer", which matches no filter chain on the gateway.
func (nginx) ALBSide(p *chain.Params, b Backend) ALBSide {
	return ALBSide{
		BackendService: p.GatewayService,
		Annotations: map[string]string{
			NginxBackendProtocol:     "HTTPS",
			NginxProxySSLSecret:      p.IstioNamespace + "/" + p.ClientSecret,
			NginxProxySSLVerify:      "on",
			NginxProxySSLVerifyDepth: strconv.Itoa(b.VerifyDepth),
			NginxProxySSLName:        p.GatewaySNI(),
			NginxProxySSLServerName:  "on",
		},
	}
}

func (nginx) Notice() string { return "" }
