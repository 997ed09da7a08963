package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// SecretsOptions are the options of `kubectl albistio secrets`.
type SecretsOptions struct {
	ChainOptions
	WriteOptions
	genericiooptions.IOStreams

	extraRoots []*x509.Certificate
	now        func() time.Time
}

var secretsExample = templates.Examples(`
	# Write the ALB's client secret and the gateway's -cacert, choosing the client identity automatically
	kubectl albistio secrets -n httptools

	# See which identity would be used and what would be written, without writing
	kubectl albistio secrets -n httptools --dry-run=server

	# The gateway certificate chains to a root outside the bundled ISRG roots
	kubectl albistio secrets -n httptools --ca-file root.pem`)

// NewCmdSecrets builds `kubectl albistio secrets`.
func NewCmdSecrets(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SecretsOptions{ChainOptions: newChainOptions(cf), WriteOptions: newWriteOptions(), IOStreams: streams, now: time.Now}
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Write the ALB's client certificate secret and the gateway's -cacert",
		Long: longDesc(`
			Read the IKS-provided TLS secrets of the ALB and of the gateway, check them, and
			write the secrets the chain needs: the secret the ALB presents to the gateway
			(--client-secret, default alb-certs), <gateway-secret>-cacert with the CA the
			gateway verifies it with, and a copy of the ALB's TLS secret for the Ingress's
			namespace. The IKS-owned secrets are never written to.

			The ALB's own certificate can be its client certificate only if its chain allows
			TLS client authentication; Let's Encrypt certificates issued since 2026-02-11 do
			not, and Envoy rejects them. --client-identity=auto then uses a private CA kept
			in --ca-secret, issuing the ALB a client certificate (90 days, renewed by
			re-running this command when less than 30 days remain).

			--client-identity=cert-manager (auto picks it for a new hop where cert-manager.io/v1
			is served) writes no secret of its own: it writes cert-manager Issuers and
			Certificates, and cert-manager issues and renews the hop's CA, the ALB's client
			certificate and the gateway's certificate for the name the ALB sends as SNI
			(<gateway-service>.<istio-namespace>.svc), with nobody re-running the plugin.
			The gateway's IKS certificate then keeps serving the gateway domain as it is.

			Private keys stay in memory and in the cluster. -o yaml|json prints the Secrets
			with their certificates but without their private keys (tls.key, client.key,
			any PEM private key), which the albistio.io/redacted annotation names, so the
			output can go to git; --show-private-keys prints them too.`),
		Example: secretsExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	o.addFlags(cmd)
	return cmd
}

// Complete resolves the parameters and flags.
func (o *SecretsOptions) Complete() error {
	if err := o.WriteOptions.complete(); err != nil {
		return err
	}
	return o.ChainOptions.complete(chain.NeedAll)
}

// Validate reports missing or malformed parameters, then reads and checks
// --ca-file.
func (o *SecretsOptions) Validate() error {
	if err := o.ChainOptions.validate(); err != nil {
		return err
	}
	var err error
	o.extraRoots, err = readCAFile(o.CAFile)
	return err
}

// Run reads the sources, decides, and applies the secrets, planning again
// when a concurrent run created the private CA first.
func (o *SecretsOptions) Run(ctx context.Context) error {
	c, err := o.Clients()
	if err != nil {
		return err
	}
	return untilNoRace(o.ErrOut, "planning again", func() error {
		planned, err := planSecrets(ctx, c, o.Params, o.extraRoots, o.now(), o.isDryRun())
		if err != nil {
			return err
		}
		for _, n := range planned.notes {
			say(o.ErrOut, "%s", n)
		}
		return o.applyGuarded(ctx, c, o.Out, planned.objects, planned.guards)
	})
}

// secretsPlan is the secrets slice as planned from one read of the cluster.
type secretsPlan struct {
	objects render.Objects
	notes   []string
	// depth is the verify depth the ALB needs for the gateway's chain.
	depth int
	// guards hold the private CA to the state it was read in: it must be
	// created exactly once, however many runs start at the same time.
	guards map[string]apply.Guard
}

// planSecrets reads what the secrets slice needs and renders it, with the
// verify depth the ALB needs for the gateway's chain. Every source is checked
// before anything is returned, so a bad certificate writes nothing. dryRun
// words the notes for a run that writes nothing.
func planSecrets(ctx context.Context, c *kube.Clients, p *chain.Params, extraRoots []*x509.Certificate, now time.Time, dryRun bool) (*secretsPlan, error) {
	if err := c.ResolveFlavor(ctx, p); err != nil {
		return nil, err
	}
	in := identity.Inputs{Params: p, ExtraRoots: extraRoots, Now: now, DryRun: dryRun}
	var err error
	if in.ClientSecret, err = resolveIdentity(ctx, c, p); err != nil {
		return nil, err
	}
	if in.ALBSecret, err = c.GetSecret(ctx, p.ALBSecretNamespace, p.ALBSecret); err != nil {
		return nil, err
	}
	if in.ALBSecret == nil {
		return nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("the ALB secret %s/%s was not found: IKS keeps it in namespace default (ibmcloud ks cluster get --cluster <name> shows its name as \"Ingress Secret\"); set --alb-secret and --alb-secret-namespace", p.ALBSecretNamespace, p.ALBSecret))
	}
	if render.NeedsALBTLSCopy(p) {
		if in.ALBTLSInIstio, err = c.GetSecret(ctx, p.IstioNamespace, p.ALBSecret); err != nil {
			return nil, err
		}
	}
	// In cert-manager mode the gateway's IKS secret and the plugin's own CA
	// play no part: cert-manager keeps the hop's certificates.
	if !p.CertManager() {
		if in.GatewaySecret, err = c.GetSecret(ctx, p.IstioNamespace, p.GatewaySecret); err != nil {
			return nil, err
		}
		if in.GatewaySecret == nil {
			return nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("the gateway secret %s/%s was not found: IKS creates it when you register the gateway's address, with ibmcloud ks nlb-dns create classic --cluster <name> --ip <gateway IP> --secret-namespace %s (it appears a few minutes later; ibmcloud ks nlb-dns ls shows its name)", p.IstioNamespace, p.GatewaySecret, p.IstioNamespace))
		}
		if in.CASecret, err = c.GetSecret(ctx, p.IstioNamespace, p.CASecret); err != nil {
			return nil, err
		}
	}
	d, err := identity.Decide(in)
	if err != nil {
		var ie *identity.Error
		if errors.As(err, &ie) {
			return nil, kube.WithCode(kube.ExitInvalidInput, err)
		}
		return nil, err
	}
	if p.GatewayAPI && p.CertManager() {
		// The Gateway API Gateway reads its client CA from a ConfigMap:
		// a copy of the hop's CA once cert-manager has issued it.
		if d.Material.HopCA, err = clientCAConfigMap(ctx, c, p); err != nil {
			return nil, err
		}
	}
	objs := render.Secrets(p, d.Material)
	guards := map[string]apply.Guard{}
	if d.Material.CA != nil {
		ref := apply.Ref(objs[0])
		if in.CASecret == nil {
			guards[ref] = apply.Guard{}
		} else {
			guards[ref] = apply.Guard{Exists: true, ResourceVersion: in.CASecret.ResourceVersion}
		}
	}
	return &secretsPlan{objects: objs, notes: d.Notes, depth: d.GatewayVerifyDepth, guards: guards}, nil
}
