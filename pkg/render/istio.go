package render

import (
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

// Gateway is the Istio Gateway that terminates the ALB's mutual TLS: the
// gateway presents the IKS NLB certificate (credentialName) and requires a
// client certificate signed by the CA in <credentialName>-cacert.
// istioVersion is "v1" or "v1beta1"; the spec is the same in both.
func Gateway(p *chain.Params, istioVersion string) *unstructured.Unstructured {
	gw := &istiov1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: IstioGroup + "/" + istioVersion, Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: p.GatewayName, Namespace: p.AppNamespace, Labels: labels(p)},
		Spec: istionet.Gateway{
			Selector: p.GatewaySelector,
			Servers: []*istionet.Server{{
				Port:  &istionet.Port{Number: uint32(p.GatewayServicePort), Name: "https", Protocol: "HTTPS"},
				Hosts: p.GatewayHosts(),
				Tls: &istionet.ServerTLSSettings{
					Mode:           istionet.ServerTLSSettings_MUTUAL,
					CredentialName: p.GatewaySecret,
				},
			}},
		},
	}
	return toUnstructured(gw)
}

// VirtualService routes the chain's paths from the Gateway to the mesh
// service. Its hosts equal the Gateway's, so both the ALB host (the Host header
// the ALB forwards) and the gateway domain (direct clients) are routed.
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
			Hosts:    p.GatewayHosts(),
			Gateways: []string{p.GatewayName},
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
