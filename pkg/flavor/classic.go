package flavor

import (
	"fmt"
	"strconv"
	"strings"

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

// ClassicEntry parses an ssl-services annotation ("ssl-service=<svc>
// ssl-secret=<secret> ...; ssl-service=...") and returns the entry of
// service.
func ClassicEntry(annotation, service string) (map[string]string, bool) {
	for _, fields := range classicEntries(annotation) {
		if fields["ssl-service"] == service {
			return fields, true
		}
	}
	return nil, false
}

// classicEntries are the ";"-separated entries of an ssl-services
// annotation, each its "key=value" tokens (a token without '=' is
// skipped); an empty entry is an empty map.
func classicEntries(annotation string) []map[string]string {
	var entries []map[string]string
	for _, entry := range strings.Split(annotation, ";") {
		fields := map[string]string{}
		for _, tok := range strings.Fields(entry) {
			if k, v, ok := strings.Cut(tok, "="); ok {
				fields[k] = v
			}
		}
		entries = append(entries, fields)
	}
	return entries
}

// classicDiscoveredEntry is the ssl-services entry discovery reads for
// service. Unlike the legacy image (ClassicEntry), which re-encrypts only
// to the Service its entry names, discovery falls back to the first
// non-empty entry, so that an Ingress whose entry names the Service
// otherwise still gives the client secret and the gateway's name; empty
// when the annotation has no entry.
func classicDiscoveredEntry(annotation, service string) map[string]string {
	var first map[string]string
	for _, fields := range classicEntries(annotation) {
		if len(fields) == 0 {
			continue
		}
		if fields["ssl-service"] == service {
			return fields
		}
		if first == nil {
			first = fields
		}
	}
	if first == nil {
		return map[string]string{}
	}
	return first
}

// Discover: the client secret is the entry's ssl-secret and the gateway's
// name its proxy-ssl-name; the gateway Service is the one the Ingress
// routes to.
func (classic) Discover(r Route, _ Lookup) (Discovered, error) {
	entry := classicDiscoveredEntry(r.Ingress.Annotations[ClassicSSLServices], r.Service)
	d := Discovered{GatewayService: r.Service, SNI: entry["proxy-ssl-name"]}
	if s := entry["ssl-secret"]; s != "" {
		d.ClientSecret, d.SecretNamed = s, true
	}
	return d, nil
}

// ReachedGateway: the Ingress routes to a gateway Service that its
// ssl-services has an entry for (here strictly, as the legacy image reads
// it: an entry for another Service re-encrypts nothing to this one).
func (classic) ReachedGateway(r Route, gateways []GatewayService, _ Lookup) (string, error) {
	v := r.Ingress.Annotations[ClassicSSLServices]
	if v == "" || r.Service == "" || !namedGateway(gateways, r.Service) {
		return "", nil
	}
	if _, ok := ClassicEntry(v, r.Service); !ok {
		return "", nil
	}
	return r.Service, nil
}

// UpstreamTLS reads the gateway Service's ssl-services entry as the legacy
// image does: it always sends proxy-ssl-name as SNI and verifies the
// gateway for it, to proxy-ssl-verify-depth (1 unless a positive number),
// with ssl-secret's client.crt and trusted.crt.
func (classic) UpstreamTLS(p *chain.Params, st Stored) UpstreamTLS {
	ing := st.Ingress
	var entry map[string]string
	ok := false
	if ing != nil {
		entry, ok = ClassicEntry(ing.Annotations[ClassicSSLServices], p.GatewayService)
	}
	if !ok {
		return UpstreamTLS{Verify: Switch{Said: "unknown (no ssl-services entry for the gateway Service)"}}
	}
	u := UpstreamTLS{
		ServerName: ServerName{
			Where: ingressWhere(ing, ClassicSSLServices, "proxy-ssl-name in "+ClassicSSLServices),
			Known: true, Value: entry["proxy-ssl-name"],
			Missing: "ssl-services sets no proxy-ssl-name: the ALB does not send the gateway domain as SNI",
		},
		SNI:    Switch{Known: true, On: true},
		Verify: Switch{Known: true, On: true},
		Depth:  Depth{Where: ingressWhere(ing, ClassicSSLServices, "proxy-ssl-verify-depth in "+ClassicSSLServices), Known: true, Value: 1},
	}
	if n, err := strconv.Atoi(entry["proxy-ssl-verify-depth"]); err != nil || n <= 0 {
		u.Depth.Said = "proxy-ssl-verify-depth is not set to a positive number, so the ALB verifies to depth 1"
	} else {
		u.Depth.Value = n
		u.Depth.Said = fmt.Sprintf("the ALB verifies to depth %d", n)
	}
	if s := entry["ssl-secret"]; s != "" {
		ref := ObjectRef{"Secret", ing.Namespace, s}
		u.ClientCerts, u.TrustedCAs = []ObjectRef{ref}, []ObjectRef{ref}
	}
	return u
}
