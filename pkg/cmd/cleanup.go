package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// CleanupOptions are the options of `kubectl albistio cleanup`.
type CleanupOptions struct {
	ChainOptions
	genericiooptions.IOStreams
	DryRunFlag string
	IncludeCA  bool

	dryRun apply.DryRun
}

var cleanupExample = templates.Examples(`
	# See what would be removed
	kubectl albistio cleanup -n httptools --dry-run=client

	# Remove the chain for httpbin, keeping the private CA for the next setup
	kubectl albistio cleanup -n httptools

	# Remove the private CA too (the next setup creates a new one)
	kubectl albistio cleanup -n httptools --include-ca`)

// NewCmdCleanup builds `kubectl albistio cleanup`.
func NewCmdCleanup(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CleanupOptions{ChainOptions: newChainOptions(cf), IOStreams: streams, DryRunFlag: string(apply.DryRunNone)}
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove exactly what the plugin created for one chain",
		Long: longDesc(`
			Delete the objects of one chain (--chain-name, default --service) that carry the
			plugin's ownership labels and whose fields the plugin's field manager owns: the
			Ingress, the Traefik ServersTransport and Service, the VirtualService, the Gateway,
			the ALB's client secret, the gateway's -cacert and the copy of the ALB's TLS
			secret. The private CA secret goes only with --include-ca. The IKS-owned secrets,
			namespaces, and anything the plugin did not create are never deleted.`),
		Example: cleanupExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.addChainFlags(cmd)
	cmd.Flags().StringVar(&o.DryRunFlag, "dry-run", o.DryRunFlag, `Must be "none", "server", or "client". client lists what would be deleted; server also sends the deletions as a dry run.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "unchanged"
	cmd.Flags().BoolVar(&o.IncludeCA, "include-ca", false, "Also delete the private CA secret (--ca-secret)")
	return cmd
}

// Complete resolves the dry-run strategy and the parameters; cleanup needs
// no domains, only names and namespaces.
func (o *CleanupOptions) Complete() error {
	d, err := apply.ParseDryRun(o.DryRunFlag)
	if err != nil {
		return usage(err)
	}
	o.dryRun = d
	return o.ChainOptions.complete(chain.Requirement{})
}

// owned is one object cleanup may delete.
type owned struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

// Run finds the chain's objects and deletes them, the Ingress first so the
// ALB stops routing before the secrets it uses go.
func (o *CleanupOptions) Run(ctx context.Context) error {
	c, err := o.Clients()
	if err != nil {
		return err
	}
	p := o.Params
	istioVersion, err := c.IstioVersion(ctx)
	if err != nil {
		return err
	}
	targets := []struct {
		gvr schema.GroupVersionResource
		ns  string
	}{
		{kube.Ingresses, p.IstioNamespace},
		{kube.ServersTransport, p.IstioNamespace},
		{kube.Services, p.IstioNamespace},
		{kube.IstioResource(istioVersion, "virtualservices"), p.AppNamespace},
		{kube.IstioResource(istioVersion, "gateways"), p.AppNamespace},
		{kube.Secrets, p.IstioNamespace},
	}
	selector := labels.SelectorFromSet(p.Labels()).String()
	var found []owned
	for _, t := range targets {
		list, err := c.Dynamic.Resource(t.gvr).Namespace(t.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if apierrors.IsNotFound(err) && t.gvr == kube.ServersTransport {
			continue // Traefik's CRDs are not installed: nothing of ours can be there
		}
		if err != nil {
			return c.Explain(err, "list", t.gvr, t.ns, "")
		}
		for i := range list.Items {
			u := &list.Items[i]
			if o.keep(u) {
				continue
			}
			found = append(found, owned{gvr: t.gvr, obj: u})
		}
	}
	if len(found) == 0 {
		fmt.Fprintf(o.ErrOut, "No objects of chain %q found in namespaces %s and %s.\n", p.Name, p.IstioNamespace, p.AppNamespace)
		return nil
	}
	suffix := dryRunSuffix(o.dryRun)
	var deleted []string
	for _, f := range found {
		if o.dryRun != apply.DryRunClient {
			opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(f.obj.GetUID())}}
			if o.dryRun == apply.DryRunServer {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			err := c.Dynamic.Resource(f.gvr).Namespace(f.obj.GetNamespace()).Delete(ctx, f.obj.GetName(), opts)
			if err != nil && !apierrors.IsNotFound(err) {
				err = c.Explain(err, "delete", f.gvr, f.obj.GetNamespace(), f.obj.GetName())
				if len(deleted) > 0 && o.dryRun == apply.DryRunNone {
					return kube.WithCode(kube.ExitPartial, fmt.Errorf("%w\ndeleted before the failure: %s; re-run cleanup to finish", err, strings.Join(deleted, ", ")))
				}
				return err
			}
		}
		deleted = append(deleted, apply.Ref(f.obj))
		fmt.Fprintf(o.Out, "%s deleted%s\n", apply.Ref(f.obj), suffix)
	}
	return nil
}

// keep protects what cleanup must never delete even if it carries our
// labels: the IKS-owned secrets, the private CA unless asked, and objects
// whose fields our field manager does not own (labels copied by hand).
func (o *CleanupOptions) keep(u *unstructured.Unstructured) bool {
	p := o.Params
	if u.GetKind() == "Secret" {
		if (u.GetNamespace() == p.IstioNamespace && u.GetName() == p.GatewaySecret) ||
			(u.GetNamespace() == p.ALBSecretNamespace && u.GetName() == p.ALBSecret && !render.NeedsALBTLSCopy(p)) {
			return true
		}
		if u.GetName() == p.CASecret && !o.IncludeCA {
			fmt.Fprintf(o.ErrOut, "keeping the private CA %s/%s (pass --include-ca to delete it)\n", u.GetNamespace(), u.GetName())
			return true
		}
	}
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == chain.FieldManager {
			return false
		}
	}
	fmt.Fprintf(o.ErrOut, "keeping %s: it carries the plugin's labels but the plugin does not manage it (managers: %s)\n", apply.Ref(u), apply.Managers(u))
	return true
}

func ptr[T any](v T) *T { return &v }
