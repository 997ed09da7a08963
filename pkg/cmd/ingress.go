package cmd

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/identity"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// IngressOptions are the options of `kubectl albistio ingress`.
type IngressOptions struct {
	ChainOptions
	WriteOptions
	genericiooptions.IOStreams

	backend    render.Backend
	extraRoots []*x509.Certificate
	now        func() time.Time
}

var ingressExample = templates.Examples(`
	# Print the ingress-nginx Ingress without a cluster
	kubectl albistio ingress -n httptools --alb-flavor nginx --alb-domain $ALB_INGRESS_DOMAIN \
	  --alb-secret $ALB_SECRET --gateway-domain $INGRESS_GATEWAY_DOMAIN --dry-run=client -o yaml

	# Apply it for whichever ALB flavor the cluster runs
	kubectl albistio ingress -n httptools`)

// NewCmdIngress builds `kubectl albistio ingress`.
func NewCmdIngress(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &IngressOptions{ChainOptions: newChainOptions(cf), WriteOptions: newWriteOptions(), IOStreams: streams, now: time.Now}
	cmd := &cobra.Command{
		Use:   "ingress",
		Short: "Apply the ALB's Ingress that re-encrypts to the gateway with the client certificate",
		Long: longDesc(`
			Apply a networking.k8s.io/v1 Ingress in the Istio namespace that serves --host with
			the ALB's certificate and sends the chain's paths to the gateway's HTTPS port over
			mutual TLS, in the ALB flavor's own terms:

			  nginx    ingress-nginx annotations: backend-protocol HTTPS, proxy-ssl-secret,
			           proxy-ssl-verify "on", a verify depth that fits the gateway's chain,
			           proxy-ssl-name and proxy-ssl-server-name "on" (without SNI the gateway
			           has no filter chain for the request)
			  traefik  a ServersTransport (serverName, rootCAs, certificatesSecrets) and a
			           Service of the plugin's own that selects the gateway pods and names it
			  classic  the legacy ingress.bluemix.net/ssl-services annotation

			--alb-flavor=auto reads the cluster's IngressClasses; with --dry-run=client no
			cluster is contacted and auto means nginx.`),
		Example: ingressExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	o.addFlags(cmd)
	return cmd
}

// Complete resolves the parameters, dry-run and printer. It reads no cluster.
func (o *IngressOptions) Complete() error {
	if err := o.WriteOptions.complete(); err != nil {
		return err
	}
	return o.ChainOptions.complete(chain.Requirement{Host: true, ALBSecret: true, GatewayDomain: true})
}

// Validate reports missing or malformed parameters, then reads and checks
// --ca-file.
func (o *IngressOptions) Validate() error {
	if err := o.ChainOptions.validate(); err != nil {
		return err
	}
	var err error
	o.extraRoots, err = readCAFile(o.CAFile)
	return err
}

// resolve reads, unless this is a client dry run, the flavor, the gateway
// Service and the gateway's chain (for the verify depth).
func (o *IngressOptions) resolve(ctx context.Context) error {
	o.backend = render.DefaultBackend(o.Params)
	if o.DryRun == apply.DryRunClient {
		if o.Params.Flavor == chain.FlavorAuto {
			o.Params.Flavor = flavor.Default().Name()
		}
		return nil
	}
	c, err := o.Clients()
	if err != nil {
		return err
	}
	if err := c.ResolveFlavor(ctx, o.Params); err != nil {
		return err
	}
	if _, err := resolveIdentity(ctx, c, o.Params); err != nil {
		return err
	}
	if o.backend, err = gatewayBackend(ctx, c, o.Params); err != nil {
		return err
	}
	depth, err := gatewayDepth(ctx, c, o.Params, o.extraRoots, o.now())
	if err != nil {
		return err
	}
	if depth > 0 {
		o.backend.VerifyDepth = depth
	}
	return nil
}

// gatewayDepth reads the gateway's chain for the verify depth; without
// --gateway-secret the default depth stands. In cert-manager mode the ALB
// verifies the hop's own server certificate, which its CA signs directly.
func gatewayDepth(ctx context.Context, c *kube.Clients, p *chain.Params, extra []*x509.Certificate, now time.Time) (int, error) {
	if p.CertManager() {
		return 1, nil
	}
	if p.GatewaySecret == "" {
		return 0, nil
	}
	s, err := c.GetSecret(ctx, p.IstioNamespace, p.GatewaySecret)
	if err != nil || s == nil {
		return 0, err
	}
	depth, err := identity.GatewayVerifyDepth(s, p.GatewayDomain, extra, now)
	if err != nil {
		return 0, kube.WithCode(kube.ExitInvalidInput, err)
	}
	return depth, nil
}

// Run applies the ingress slice.
func (o *IngressOptions) Run(ctx context.Context) error {
	if err := o.resolve(ctx); err != nil {
		return err
	}
	objs, err := albIngresses(o.Params, o.backend)
	if err != nil {
		return err
	}
	flavorNotice(o.ErrOut, o.Params)
	return o.applyAndPrint(ctx, o.clients, o.Out, objs)
}

// albIngresses renders the ingress slice for every ALB that serves the
// chain: with both of IKS's ALBs, nginx's Ingress and Traefik's objects.
func albIngresses(p *chain.Params, b render.Backend) (render.Objects, error) {
	var objs render.Objects
	for _, f := range p.ALBFlavors() {
		o, err := render.Ingress(p.ForFlavor(f), b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// flavorNotice prints the flavor's notice: for the classic flavor, that
// today's ALBs ignore it.
func flavorNotice(w io.Writer, p *chain.Params) {
	if fl := flavor.For(p.Flavor); fl != nil && fl.Notice() != "" {
		fmt.Fprintln(w, "Warning: "+fl.Notice())
	}
}
