package flavor

import (
	"fmt"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

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

// UpstreamTLS reads the annotations as ingress-nginx does
// (internal/ingress/annotations/proxyssl): only "on" turns verification and
// SNI on; the server name is proxy-ssl-name; the depth counts only while
// verification is on, and a depth that is not a positive number is 1; the
// client certificate and the CA come from proxy-ssl-secret.
func (nginx) UpstreamTLS(p *chain.Params, st Stored) UpstreamTLS {
	ing := st.Ingress
	if ing == nil {
		return UpstreamTLS{Verify: Switch{Said: "unknown (no Ingress)"}}
	}
	a := ing.Annotations
	var u UpstreamTLS
	name := strings.TrimSpace(a[NginxProxySSLName])
	u.ServerName = ServerName{
		Where: ingressWhere(ing, NginxProxySSLName, NginxProxySSLName),
		Known: !PastedKV(name), Value: name,
		Missing: "proxy-ssl-name is not set: nginx verifies the gateway's certificate for, and sends as SNI, its upstream name \"upstream_balancer\", which neither the certificate nor the Gateway knows",
	}
	u.SNI = Switch{Known: true, On: a[NginxProxySSLServerName] == "on"}
	if !u.SNI.On {
		u.SNI.Said = `off: nginx sends "upstream_balancer"`
	}
	verify := strings.TrimSpace(a[NginxProxySSLVerify])
	u.Verify = Switch{Known: true, On: verify == "on"}
	if !u.Verify.On {
		shown := verify
		if shown == "" {
			shown = "not set"
		}
		u.Verify.Said = fmt.Sprintf("off (proxy-ssl-verify %s)", quote(shown))
	}
	u.Depth = nginxDepth(ing, verify)
	if ref := strings.TrimSpace(a[NginxProxySSLSecret]); !PastedKV(ref) {
		if ns, secret, ok := strings.Cut(ref, "/"); ok && ns != "" && secret != "" && !strings.Contains(secret, "/") {
			s := ObjectRef{"Secret", ns, secret}
			u.ClientCerts, u.TrustedCAs = []ObjectRef{s}, []ObjectRef{s}
		}
	}
	return u
}

// nginxDepth is proxy-ssl-verify-depth as ingress-nginx reads it; not
// known while verification is off or unreadable, where it is moot (the
// nginx rule reports that).
func nginxDepth(ing *networkingv1.Ingress, verify string) Depth {
	if verify == "" || verify == "off" || PastedKV(verify) {
		return Depth{}
	}
	raw, set := ing.Annotations[NginxProxySSLVerifyDepth]
	d := Depth{Where: ingressWhere(ing, NginxProxySSLVerifyDepth, NginxProxySSLVerifyDepth), Known: true, Value: 1}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case !set:
		d.Said = "the annotation is not set, so ingress-nginx verifies to depth 1"
	case PastedKV(raw):
		return Depth{}
	case err != nil || n == 0:
		d.Said = fmt.Sprintf("%s is not a positive number, so ingress-nginx verifies to depth 1", quote(raw))
	default:
		d.Value = n
		d.Said = fmt.Sprintf("the ALB verifies to depth %d", n)
	}
	return d
}
