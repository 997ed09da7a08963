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
	if ns, secret, ok := nginxSecretRef(a[NginxProxySSLSecret]); ok {
		s := ObjectRef{"Secret", ns, secret}
		u.ClientCerts, u.TrustedCAs = []ObjectRef{s}, []ObjectRef{s}
	}
	return u
}

// nginxSecretRef reads proxy-ssl-secret as ingress-nginx does: spaces
// around it removed, exactly "namespace/name", both non-empty; not ok for
// anything else, a pasted key=value included.
func nginxSecretRef(v string) (ns, name string, ok bool) {
	ref := strings.TrimSpace(v)
	if PastedKV(ref) {
		return "", "", false
	}
	ns, name, ok = strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return ns, name, true
}

// nginxDiscoveredSecret reads proxy-ssl-secret as discovery does, more
// leniently than ingress-nginx (nginxSecretRef): nothing is trimmed or
// refused, everything after the first '/' is the name, and a value
// without '/' is a secret of the Ingress's namespace, so that a chain
// built by hand with a value ingress-nginx cannot read is still found and
// check judges the value.
func nginxDiscoveredSecret(v, ingressNamespace string) (ns, name string) {
	ns, name, ok := strings.Cut(v, "/")
	if !ok {
		return ingressNamespace, v
	}
	return ns, name
}

// Discover: the client secret is proxy-ssl-secret's, the gateway's name
// proxy-ssl-name as it stands (UpstreamTLS trims it; discovery keeps the
// value, as it keeps proxy-ssl-secret's), and the gateway Service the one
// the Ingress routes to.
func (nginx) Discover(r Route, _ Lookup) (Discovered, error) {
	ing := r.Ingress
	a := ing.Annotations
	d := Discovered{GatewayService: r.Service, SNI: a[NginxProxySSLName]}
	if ref := a[NginxProxySSLSecret]; ref != "" {
		ns, name := nginxDiscoveredSecret(ref, ing.Namespace)
		d.ClientSecret, d.SecretNamed = name, true
		if ns != ing.Namespace {
			d.note("proxy-ssl-secret names %s, outside the Ingress's namespace; check reads the client secret %s in %s", quote(ref), quote(name), ing.Namespace)
		}
	}
	return d, nil
}

// ReachedGateway: the Ingress routes to a gateway Service and names a
// proxy-ssl-secret, whatever its class (Traefik's ingress-nginx provider
// reads the same annotations).
func (nginx) ReachedGateway(r Route, gateways []GatewayService, _ Lookup) (string, error) {
	if r.Ingress.Annotations[NginxProxySSLSecret] == "" || r.Service == "" || !namedGateway(gateways, r.Service) {
		return "", nil
	}
	return r.Service, nil
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
