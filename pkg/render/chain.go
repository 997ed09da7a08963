package render

import "github.com/albistio/kubectl-albistio/pkg/chain"

// GatewayObjects renders the gateway slice: the hop's Gateway for the chains
// in registry, then the chain's VirtualService; in Gateway API mode the
// Gateway API Gateway and the chain's HTTPRoute (istioVersion unused).
func GatewayObjects(p *chain.Params, istioVersion string, registry map[string]string) Objects {
	if p.GatewayAPI {
		return Objects{GatewayAPIGateway(p, registry), HTTPRoute(p)}
	}
	return Objects{Gateway(p, istioVersion, registry), VirtualService(p, istioVersion)}
}

// Chain renders every object of the chain in write order: secrets first (the
// gateway and the ALB refer to them), then the gateway slice, then the ALB's.
func Chain(p *chain.Params, m *Material, b Backend, istioVersion string, registry map[string]string) (Objects, error) {
	ing, err := Ingress(p, b)
	if err != nil {
		return nil, err
	}
	objs := Secrets(p, m)
	objs = append(objs, GatewayObjects(p, istioVersion, registry)...)
	return append(objs, ing...), nil
}
