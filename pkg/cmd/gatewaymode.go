package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/plan"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// retireOtherMode removes what the chain has in the other gateway mode, so
// that switching a chain between Istio's API and the Gateway API (setup
// with or without --gateway-api) leaves nothing stale: the chain's route of
// that mode (VirtualService or HTTPRoute, found by the chain's labels), the
// chain's entry in that mode's hop Gateway, and, when no chain is left in
// that Gateway's registry, the Gateway and the hop objects only that mode
// uses (the -cacert Secret or the client-CA ConfigMap, and the objects
// named after that mode's gateway Service). What the current mode also
// uses is kept (the client secret, the CA, the ALB TLS copy, the Ingress),
// and so is the private CA always. Every deletion follows cleanup's
// ownership rule. A resource the cluster does not serve (no Gateway API
// CRDs) has nothing to retire.
func (o *CleanupOptions) retireOtherMode(ctx context.Context, c *kube.Clients, current *chain.Params, istioVersion string, done *[]string) error {
	p := current.OtherMode()
	if p.GatewayAPI {
		// Without the Gateway API served there is nothing of it to retire,
		// and nothing to ask for (or be forbidden) about it.
		if g, err := c.APIGroup(ctx, chain.GatewayAPIGroup); err != nil || g == nil {
			return err
		}
	}
	keep := map[string]bool{}
	for _, e := range current.Manifest() {
		keep[e.Group+"|"+e.Kind+"|"+e.Namespace+"|"+e.Name] = true
	}
	routes := plan.RouteResource(p, istioVersion)
	items, err := listServed(ctx, c, routes, p.AppNamespace, labels.SelectorFromSet(p.Labels()).String())
	if err != nil {
		return err
	}
	for i := range items {
		u := &items[i]
		if ok, why := apply.Deletable(u); !ok {
			say(o.ErrOut, "keeping %s: %s", apply.Ref(u), why)
			continue
		}
		if err := o.delete(ctx, c, target{gvr: routes, obj: u}, nil, *done); err != nil {
			return err
		}
		*done = append(*done, apply.Ref(u))
	}
	return untilNoRace(o.ErrOut, "reading the other mode's Gateway again", func() error {
		return o.retireOtherHop(ctx, c, p, istioVersion, keep, done)
	})
}

// retireOtherHop takes the chain off the other mode's Gateway, or removes
// that mode's hop objects when no chain is left in its registry.
func (o *CleanupOptions) retireOtherHop(ctx context.Context, c *kube.Clients, p *chain.Params, istioVersion string, keep map[string]bool, done *[]string) error {
	hop, err := plan.ReadHop(ctx, c, p, istioVersion)
	if err != nil {
		return err
	}
	gvr := plan.GatewayResource(p, istioVersion)
	rest := hop.Without(p)
	if len(rest) > 0 {
		if _, registered := hop.Registry[p.ChainKey()]; registered && apply.HasOurManager(hop.Gateway) {
			if err := o.updateGateway(ctx, c, plan.GatewayWithout(hop.Gateway, p, rest), hop.Gateway); err != nil {
				return err
			}
			*done = append(*done, apply.Ref(hop.Gateway))
		}
		return nil
	}
	return o.deleteHop(ctx, c, p, hop.Gateway, gvr, done, func(e chain.Entry) bool {
		return e.Role == chain.RolePrivateCA || keep[e.Group+"|"+e.Kind+"|"+e.Namespace+"|"+e.Name]
	})
}

// clientCAConfigMap is, in Gateway API mode with cert-manager, the
// Gateway's client-CA ConfigMap from the hop's CA Secret as cert-manager
// issued it; nil while it is not issued yet.
func clientCAConfigMap(ctx context.Context, c *kube.Clients, p *chain.Params) (*render.HopCA, error) {
	s, err := c.GetSecret(ctx, p.IstioNamespace, p.CASecret)
	if err != nil || s == nil {
		return nil, err
	}
	pem := s.Data["tls.crt"]
	if len(pem) == 0 {
		return nil, nil
	}
	if ca := s.Data["ca.crt"]; len(ca) > 0 {
		// A self-signed CA's ca.crt is itself; prefer it as cert-manager's
		// statement of the chain's root.
		pem = ca
	}
	return &render.HopCA{CertPEM: pem, Source: p.IstioNamespace + "/" + p.CASecret, SourceHash: fingerprintPEM(pem)}, nil
}

// gatewayBackend reads the gateway Service for the ALB's Ingress. In
// Gateway API mode the Service Istio deploys for the Gateway appears only
// once the Gateway is written, so its absence is no error then: the ALB
// is pointed at the name Istio will give it, with the defaults Istio
// deploys it with.
func gatewayBackend(ctx context.Context, c *kube.Clients, p *chain.Params) (render.Backend, error) {
	if p.GatewayAPI && !p.GatewayServiceNamed {
		u, err := c.Get(ctx, kube.Services, p.IstioNamespace, p.GatewayService)
		if err != nil {
			return render.Backend{}, err
		}
		if u == nil {
			return render.DefaultBackend(p), nil
		}
	}
	_, b, err := c.GatewayBackend(ctx, p)
	return b, err
}

// requireGatewayAPI, in Gateway API mode, fails before anything is
// written unless the cluster serves the Gateway API.
func requireGatewayAPI(ctx context.Context, c *kube.Clients, p *chain.Params) error {
	if !p.GatewayAPI {
		return nil
	}
	return c.RequireGatewayAPI(ctx)
}

// fingerprintPEM is the SHA-256 of a PEM copy's bytes, recorded on the
// ConfigMap so that a later run (and check) can tell it from its source.
func fingerprintPEM(pem []byte) string {
	sum := sha256.Sum256(pem)
	return hex.EncodeToString(sum[:])
}

// listServed lists objects by label; a resource the cluster does not serve
// (the Gateway API's, or Istio's, CRDs not installed) has none.
func listServed(ctx context.Context, c *kube.Clients, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	list, err := c.Dynamic.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.Explain(err, "list", gvr, namespace, "")
	}
	return list.Items, nil
}
