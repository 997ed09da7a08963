package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/plan"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// GatewayOptions are the options of `kubectl albistio gateway`.
type GatewayOptions struct {
	ChainOptions
	WriteOptions
	genericiooptions.IOStreams

	istioVersion string
}

var gatewayExample = templates.Examples(`
	# Print the Gateway and VirtualService without a cluster
	kubectl albistio gateway -n httptools --alb-domain $ALB_INGRESS_DOMAIN \
	  --gateway-domain $INGRESS_GATEWAY_DOMAIN --gateway-secret $INGRESS_GATEWAY_SECRET --dry-run=client -o yaml

	# Apply them, with the walkthrough's environment variables set
	kubectl albistio gateway -n httptools`)

// NewCmdGateway builds `kubectl albistio gateway`.
func NewCmdGateway(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GatewayOptions{ChainOptions: newChainOptions(cf), WriteOptions: newWriteOptions(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Apply the Istio Gateway (mutual TLS) and VirtualService of the chain",
		Long: longDesc(`
			Apply the Istio Gateway that terminates mutual TLS on port 443 with the gateway's
			IKS certificate (credentialName) and requires a client certificate signed by the
			CA in <gateway-secret>-cacert, and a VirtualService routing the chain's paths to
			the service. The Gateway, in --istio-namespace, is shared by every chain behind
			this ALB and gateway: it lists the gateway domain and each chain's host, and this
			command adds the chain's host to it without touching the others'. Written as
			networking.istio.io/v1, or v1beta1 where v1 is not served. With --dry-run=client
			no cluster is contacted and v1 is printed.

			With --gateway-api the same chain is written on the Kubernetes Gateway API instead:
			a gateway.networking.k8s.io/v1 Gateway (gatewayClassName istio) with one HTTPS
			listener "https" that terminates TLS with the gateway's certificate and verifies
			client certificates with the CA in the ConfigMap <gateway-name>-client-ca
			(spec.tls.frontend, AllowValidOnly; Istio 1.28 or later), and an HTTPRoute for the
			chain's host and paths. Istio deploys the Gateway's Service <gateway-name>-istio,
			unless --gateway-service names one (the Gateway then uses it through spec.addresses).`),
		Example: gatewayExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	o.addFlags(cmd)
	return cmd
}

// Complete resolves parameters, dry-run and printer. It reads no cluster.
func (o *GatewayOptions) Complete() error {
	if err := o.WriteOptions.complete(); err != nil {
		return err
	}
	return o.ChainOptions.complete(chain.Requirement{Host: true, GatewayDomain: true, GatewaySecret: true})
}

// Validate reports the parameters the gateway slice needs that are missing
// or malformed.
func (o *GatewayOptions) Validate() error { return o.ChainOptions.validate() }

// resolve reads the Istio version the cluster serves; a client dry run
// contacts no cluster and writes v1.
func (o *GatewayOptions) resolve(ctx context.Context) error {
	o.istioVersion = render.IstioVersions[0]
	if o.DryRun == apply.DryRunClient {
		return nil
	}
	c, err := o.Clients()
	if err != nil {
		return err
	}
	if o.istioVersion, err = c.IstioVersion(ctx); err != nil {
		return err
	}
	if err := requireGatewayAPI(ctx, c, o.Params); err != nil {
		return err
	}
	_, err = resolveIdentity(ctx, c, o.Params)
	return err
}

// Run applies the gateway slice: the hop's Gateway with this chain added to
// the chains it lists, and the chain's VirtualService. Without a cluster
// (client dry run) the Gateway lists this chain alone.
func (o *GatewayOptions) Run(ctx context.Context) error {
	if err := o.resolve(ctx); err != nil {
		return err
	}
	if o.clients == nil {
		return o.applyAndPrint(ctx, nil, o.Out, render.GatewayObjects(o.Params, o.istioVersion, render.SingleChain(o.Params)))
	}
	return untilNoRace(o.ErrOut, "planning again", func() error {
		hop, err := plan.ReadHop(ctx, o.clients, o.Params, o.istioVersion)
		if err != nil {
			return err
		}
		objs := render.GatewayObjects(o.Params, o.istioVersion, hop.With(o.Params))
		guards := map[string]apply.Guard{apply.Ref(objs[0]): apply.GuardFor(hop.Gateway)}
		return o.applyGuarded(ctx, o.clients, o.Out, objs, guards)
	})
}
