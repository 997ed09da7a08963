package render

import (
	"encoding/json"
	"fmt"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// IstioGroup is the API group of Istio's networking objects.
const IstioGroup = "networking.istio.io"

// IstioVersions are the versions of IstioGroup the plugin writes, preferred
// first: v1 is served since Istio 1.22; older meshes only serve v1beta1.
var IstioVersions = []string{"v1", "v1beta1"}

// Gateway is the hop's Istio Gateway, shared by every chain behind this ALB
// and gateway: one MUTUAL server on the gateway's HTTPS port that presents
// the IKS NLB certificate (credentialName) and requires a client certificate
// signed by the CA in <credentialName>-cacert. Its hosts are the gateway
// domain (the SNI the ALB sends; Envoy picks the filter chain by it, so only
// one server may carry it) and every chain's host in registry (ChainKey →
// host; Istio routes a VirtualService only through a server listing its
// host). The registry itself is kept in an annotation, so the next setup or
// cleanup knows which chains use the hop.
// In cert-manager mode the server's first host is the hop's own SNI name and
// its credential the hop's server certificate (chain.GatewaySNI,
// GatewayCredential): the IKS certificate for the gateway domain is then
// left to serve everyone else.
// istioVersion is "v1" or "v1beta1"; the spec is the same in both.
func Gateway(p *chain.Params, istioVersion string, registry map[string]string) *unstructured.Unstructured {
	gw := &istiov1.Gateway{
		TypeMeta: metav1.TypeMeta{APIVersion: IstioGroup + "/" + istioVersion, Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{
			Name: p.GatewayName, Namespace: p.IstioNamespace, Labels: p.HopLabels(),
			Annotations: map[string]string{chain.AnnotationChains: EncodeRegistry(registry)},
		},
		Spec: istionet.Gateway{
			Selector: p.GatewaySelector,
			Servers: []*istionet.Server{{
				Port:  &istionet.Port{Number: uint32(p.GatewayServicePort), Name: "https", Protocol: "HTTPS"},
				Hosts: chain.GatewayHosts(p.GatewaySNI(), registry),
				Tls: &istionet.ServerTLSSettings{
					Mode:           istionet.ServerTLSSettings_MUTUAL,
					CredentialName: p.GatewayCredential(),
				},
			}},
		},
	}
	return toUnstructured(gw)
}

// EncodeRegistry renders the hop's chains (ChainKey → host) as the value of
// AnnotationChains: JSON with sorted keys, so the same chains always give
// the same annotation and a re-run changes nothing.
func EncodeRegistry(registry map[string]string) string {
	if registry == nil {
		registry = map[string]string{}
	}
	data, err := json.Marshal(registry)
	if err != nil {
		panic(fmt.Sprintf("render: registry: %v", err)) // a map of strings always marshals
	}
	return string(data)
}

// DecodeRegistry reads AnnotationChains from the hop's Gateway; a missing
// or unreadable annotation is an empty registry plus, for the latter, an error.
func DecodeRegistry(annotations map[string]string) (map[string]string, error) {
	registry := map[string]string{}
	v, ok := annotations[chain.AnnotationChains]
	if !ok || v == "" {
		return registry, nil
	}
	if err := json.Unmarshal([]byte(v), &registry); err != nil {
		return map[string]string{}, fmt.Errorf("annotation %s is not a JSON object of chain to host: %w", chain.AnnotationChains, err)
	}
	return registry, nil
}

// SingleChain is the registry of a hop that serves only p's chain: what
// the gateway slice renders without a cluster to read the others from.
func SingleChain(p *chain.Params) map[string]string {
	return map[string]string{p.ChainKey(): p.Host}
}

// VirtualService routes the chain's paths from the hop's Gateway to the mesh
// service, for the chain's host only (the Host header the ALB forwards): the
// gateway domain is every chain's SNI, and routing it to one app would take
// it from the others.
func VirtualService(p *chain.Params, istioVersion string) *unstructured.Unstructured {
	matches := make([]*istionet.HTTPMatchRequest, len(p.Paths))
	for i, path := range p.Paths {
		matches[i] = &istionet.HTTPMatchRequest{
			Uri: &istionet.StringMatch{MatchType: &istionet.StringMatch_Prefix{Prefix: path}},
		}
	}
	vs := &istiov1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: IstioGroup + "/" + istioVersion, Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Name: p.VirtualServiceName, Namespace: p.AppNamespace, Labels: labels(p)},
		Spec: istionet.VirtualService{
			Hosts:    []string{p.Host},
			Gateways: []string{p.IstioNamespace + "/" + p.GatewayName},
			Http: []*istionet.HTTPRoute{{
				Match: matches,
				Route: []*istionet.HTTPRouteDestination{{
					Destination: &istionet.Destination{
						Host: p.ServiceHost(),
						Port: &istionet.PortSelector{Number: uint32(p.Port)},
					},
				}},
			}},
		},
	}
	return toUnstructured(vs)
}
