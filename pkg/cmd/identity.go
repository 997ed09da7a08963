package cmd

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// certManagerGroup is the API group whose v1 says cert-manager is installed.
const certManagerGroup = "cert-manager.io"

// resolveIdentity settles --client-identity between cert-manager and the
// plugin's own issuance, from the hop's client secret and, only when that
// decides nothing, whether the cluster serves cert-manager.io/v1. It sets
// p.Identity to cert-manager when that is the mode (the Gateway and the
// Ingress are rendered differently then) and returns the client secret it
// read (nil when absent).
func resolveIdentity(ctx context.Context, c *kube.Clients, p *chain.Params) (*corev1.Secret, error) {
	client, err := c.GetSecret(ctx, p.IstioNamespace, p.ClientSecret)
	if err != nil {
		return nil, err
	}
	served := false
	if p.Identity == chain.IdentityCertManager || p.Identity == chain.IdentityAuto && client == nil {
		if served, err = certManagerServed(ctx, c); err != nil {
			return nil, err
		}
	}
	mode, err := identity.ResolveMode(p.Identity, client, served)
	if err != nil {
		return nil, kube.WithCode(kube.ExitInvalidInput, err)
	}
	if mode == chain.IdentityCertManager {
		p.Identity = mode
	}
	return client, nil
}

func certManagerServed(ctx context.Context, c *kube.Clients) (bool, error) {
	g, err := c.APIGroup(ctx, certManagerGroup)
	if err != nil || g == nil {
		return false, err
	}
	for _, v := range g.Versions {
		if v.Version == "v1" {
			return true, nil
		}
	}
	return false, nil
}
