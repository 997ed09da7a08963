package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// CertManagerGroupVersion is the cert-manager API the plugin writes.
const CertManagerGroupVersion = "cert-manager.io/v1"

// Lifetimes of the certificates cert-manager keeps for the hop. The leaves
// match the plugin's own issuance (90 days, renewed with 30 left), so a
// check reads the same days left in either mode. The CA lives ten years and
// keeps its key when renewed: leaves issued before a renewal still chain to
// the renewed CA, so the gateway never rejects the ALB in between.
const (
	CertManagerLeafDuration    = "2160h"
	CertManagerLeafRenewBefore = "720h"
	CertManagerCADuration      = "87600h"
	CertManagerCARenewBefore   = "8760h"
)

// Usages of the two leaves, as cert-manager spells them. Envoy verifies the
// ALB's chain for client auth; nginx and Traefik verify the gateway's for
// server auth.
var (
	ClientUsages = []string{"client auth", "digital signature"}
	ServerUsages = []string{"server auth", "digital signature"}
)

// CertManagerObjects are the hop's certificates in cert-manager mode, in
// write order: a self-signed Issuer that signs the hop's CA, the CA's
// Certificate (its Secret is the private CA, --ca-secret), a CA Issuer on
// that Secret, and the two leaves it issues: the ALB's client certificate
// (--client-secret: tls.crt and tls.key are what the ALB presents, ca.crt the
// CA it verifies the gateway with) and the gateway's server certificate for
// the name the ALB sends as SNI (its ca.crt is the CA Istio verifies the ALB
// with, since no <secret>-cacert exists for it). Every private key is made
// by cert-manager in the cluster; these objects hold none.
func CertManagerObjects(p *chain.Params) Objects {
	caIssuer := issuerRef(p.CASecret)
	return Objects{
		certManagerObject(p, "Issuer", p.SelfSignedIssuer(), map[string]any{"selfSigned": map[string]any{}}),
		certManagerObject(p, "Certificate", p.CASecret, map[string]any{
			"isCA":           true,
			"commonName":     "kubectl-albistio hop CA " + p.IstioNamespace,
			"secretName":     p.CASecret,
			"duration":       CertManagerCADuration,
			"renewBefore":    CertManagerCARenewBefore,
			"privateKey":     privateKey("Never"),
			"issuerRef":      issuerRef(p.SelfSignedIssuer()),
			"secretTemplate": secretTemplate(p),
		}),
		certManagerObject(p, "Issuer", p.CASecret, map[string]any{"ca": map[string]any{"secretName": p.CASecret}}),
		leaf(p, p.ClientSecret, p.ClientCertName(), ClientUsages, caIssuer),
		leaf(p, p.HopServerSecret(), p.HopServerName(), ServerUsages, caIssuer),
	}
}

func leaf(p *chain.Params, name, dnsName string, usages []string, issuer map[string]any) *unstructured.Unstructured {
	return certManagerObject(p, "Certificate", name, map[string]any{
		"secretName":     name,
		"commonName":     dnsName,
		"dnsNames":       []any{dnsName},
		"usages":         toAnySlice(usages),
		"duration":       CertManagerLeafDuration,
		"renewBefore":    CertManagerLeafRenewBefore,
		"privateKey":     privateKey("Always"),
		"issuerRef":      issuer,
		"secretTemplate": secretTemplate(p),
	})
}

func privateKey(rotation string) map[string]any {
	return map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": rotation}
}

func issuerRef(name string) map[string]any {
	return map[string]any{"name": name, "kind": "Issuer", "group": "cert-manager.io"}
}

// secretTemplate labels the Secrets cert-manager writes as the hop's, so
// check and cleanup know them.
func secretTemplate(p *chain.Params) map[string]any {
	return map[string]any{"labels": toAnyMap(p.HopLabels())}
}

func certManagerObject(p *chain.Params, kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": CertManagerGroupVersion,
		"kind":       kind,
		"metadata": map[string]any{
			"name":      name,
			"namespace": p.IstioNamespace,
			"labels":    toAnyMap(p.HopLabels()),
		},
		"spec": spec,
	}}
}

func toAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
