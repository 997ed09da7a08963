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
	"github.com/albistio/kubectl-albistio/pkg/plan"
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
		Short: "Remove exactly what the plugin created for one chain, and the shared hop when no chain is left",
		Long: longDesc(`
			Delete one chain's own objects (--chain-name, default --service, in the namespace
			given by -n): its Ingress and its VirtualService. Then take the chain off the
			Gateway that every chain behind this ALB and gateway shares. When no other chain
			is left, remove the hop's shared objects too: the Gateway, the Traefik
			ServersTransport and Service, the gateway's -cacert, the ALB's client secret and
			the copy of the ALB's TLS secret; the private CA only with --include-ca.

			An object is deleted only when the plugin's field manager owns it and no other
			manager owns fields in it, and never when the plugin took it over from someone
			with --force-conflicts. The IKS-owned secrets, namespaces, and anything the plugin
			did not create are never deleted.`),
		Example: cleanupExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	cmd.Flags().StringVar(&o.DryRunFlag, "dry-run", o.DryRunFlag, `Must be "none", "server", or "client". client lists what would be deleted; server also sends the deletions as a dry run.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "unchanged"
	cmd.Flags().BoolVar(&o.IncludeCA, "include-ca", false, "Also delete the private CA secret (--ca-secret)")
	return cmd
}

// Complete resolves the dry-run strategy and the parameters. cleanup needs
// the gateway secret (or --gateway-name) to find the hop's Gateway, and the
// ALB secret to name the hop's copy of it; no domains.
func (o *CleanupOptions) Complete() error {
	d, err := apply.ParseDryRun(o.DryRunFlag)
	if err != nil {
		return usage(err)
	}
	o.dryRun = d
	return o.ChainOptions.complete(chain.Requirement{ALBSecret: true})
}

// Validate reports missing or malformed parameters; cleanup also needs the
// hop's Gateway named.
func (o *CleanupOptions) Validate() error {
	if err := o.ChainOptions.validate(); err != nil {
		return err
	}
	if o.Params.GatewayName == "" {
		return usage(fmt.Errorf("invalid parameter: --gateway-secret is required: give the gateway's TLS secret with --gateway-secret or $%s (cleanup finds the Gateway the chains share by it), or name that Gateway with --gateway-name", chain.EnvGatewaySecret))
	}
	return nil
}

// target is one object cleanup may delete or update.
type target struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

// Run deletes the chain's own objects (its Ingress first, so the ALB stops
// routing before anything it uses goes), then takes the chain off the hop's
// Gateway. The hop's shared objects go only when no other chain uses them.
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
	chainObjs, err := o.findChain(ctx, c, istioVersion)
	if err != nil {
		return err
	}
	var done []string
	for _, t := range chainObjs {
		if err := o.delete(ctx, c, t, nil, done); err != nil {
			return err
		}
		done = append(done, apply.Ref(t.obj))
	}
	if err := untilNoRace(o.ErrOut, "reading the hop again", func() error { return o.leaveHop(ctx, c, istioVersion, &done) }); err != nil {
		return err
	}
	// The chain may have been set up in the other gateway mode too (setup
	// with and without --gateway-api): cleanup removes what it wrote in
	// either, whichever mode it is told.
	if err := o.retireOtherMode(ctx, c, p, istioVersion, &done); err != nil {
		return err
	}
	if len(done) == 0 {
		say(o.ErrOut, "No objects of chain %q found in namespaces %s and %s.", p.ChainKey(), p.IstioNamespace, p.AppNamespace)
	}
	o.noteNamespace(ctx, c)
	return nil
}

// noteNamespace says so when setup --create-namespace made the app
// namespace: cleanup never deletes namespaces (the app's workloads live
// there), but should not leave one behind without a word.
func (o *CleanupOptions) noteNamespace(ctx context.Context, c *kube.Clients) {
	p := o.Params
	ns, err := c.Get(ctx, kube.Namespaces, "", p.AppNamespace)
	if err != nil || ns == nil || ns.GetLabels()[chain.LabelManagedBy] != chain.FieldManager {
		return
	}
	say(o.ErrOut, "keeping namespace %s, which setup --create-namespace created: delete it with kubectl delete namespace %s once nothing else runs there", p.AppNamespace, p.AppNamespace)
}

// findChain lists the chain's own objects by its labels: the Ingress in the
// Istio namespace and the VirtualService in the app namespace, keeping what
// the ownership rule protects.
func (o *CleanupOptions) findChain(ctx context.Context, c *kube.Clients, istioVersion string) ([]target, error) {
	p := o.Params
	selector := labels.SelectorFromSet(p.Labels()).String()
	var found []target
	for _, t := range []struct {
		gvr schema.GroupVersionResource
		ns  string
	}{
		{kube.Ingresses, p.IstioNamespace},
		{plan.RouteResource(p, istioVersion), p.AppNamespace},
	} {
		items, err := c.List(ctx, t.gvr, t.ns, selector)
		if err != nil && t.gvr == kube.HTTPRoutes {
			// Without the Gateway API's CRDs there is no HTTPRoute to find.
			items, err = listServed(ctx, c, t.gvr, t.ns, selector)
		}
		if err != nil {
			return nil, c.Explain(err, "list", t.gvr, t.ns, "")
		}
		for i := range items {
			u := &items[i]
			if ok, why := apply.Deletable(u); !ok {
				say(o.ErrOut, "keeping %s: %s", apply.Ref(u), why)
				continue
			}
			found = append(found, target{gvr: t.gvr, obj: u})
		}
	}
	return found, nil
}

// leaveHop takes the chain off the hop's Gateway, or removes the hop when
// no chain is left: the Gateway (conditioned on the resourceVersion the
// registry was read at, so a setup registering meanwhile wins), then the
// shared objects in the reverse of setup's write order.
func (o *CleanupOptions) leaveHop(ctx context.Context, c *kube.Clients, istioVersion string, done *[]string) error {
	p := o.Params
	hop, err := plan.ReadHop(ctx, c, p, istioVersion)
	if err != nil {
		return err
	}
	_, registered := hop.Registry[p.ChainKey()]
	rest := hop.Without(p)
	others, err := plan.OtherChainIngresses(ctx, c, p)
	if err != nil {
		return c.Explain(err, "list", kube.Ingresses, p.IstioNamespace, "")
	}
	users := plan.Chains(rest)
	for _, k := range others {
		if _, ok := rest[k]; !ok {
			users = append(users, k)
		}
	}
	gvr := plan.GatewayResource(p, istioVersion)
	if len(users) > 0 {
		if hop.Gateway != nil && registered {
			if !apply.HasOurManager(hop.Gateway) {
				say(o.ErrOut, "keeping %s as it is: the plugin does not manage it (managers: %s)", apply.Ref(hop.Gateway), apply.Managers(hop.Gateway))
			} else if err := o.updateGateway(ctx, c, plan.GatewayWithout(hop.Gateway, p, rest), hop.Gateway); err != nil {
				return err
			} else {
				*done = append(*done, apply.Ref(hop.Gateway))
			}
		}
		say(o.ErrOut, "keeping the hop's shared objects (Gateway, client certificate, CA, copies): chains %s still use them", strings.Join(users, ", "))
		return nil
	}
	var keptCA chain.Entry
	err = o.deleteHop(ctx, c, p, hop.Gateway, gvr, done, func(e chain.Entry) bool {
		if e.Role == chain.RolePrivateCA && !o.IncludeCA {
			keptCA = e
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	if keptCA.Name != "" {
		if u, err := c.Get(ctx, kube.Secrets, keptCA.Namespace, keptCA.Name); err == nil && u != nil {
			say(o.ErrOut, "keeping the private CA %s/%s (pass --include-ca to delete it)", keptCA.Namespace, keptCA.Name)
		}
	}
	return nil
}

// deleteHop deletes a hop no chain uses any more: its Gateway (guarded by
// the resourceVersion it was read at, so a chain registered meanwhile
// stops the deletion) and its shared objects in cleanup order, all but
// those keep says to leave. Objects the plugin does not own stay, said.
func (o *CleanupOptions) deleteHop(ctx context.Context, c *kube.Clients, p *chain.Params, gateway *unstructured.Unstructured, gvr schema.GroupVersionResource, done *[]string, keep func(chain.Entry) bool) error {
	var hopObjs []target
	if gateway != nil {
		if ok, why := apply.Deletable(gateway); ok {
			hopObjs = append(hopObjs, target{gvr: gvr, obj: gateway})
		} else {
			say(o.ErrOut, "keeping %s: %s", apply.Ref(gateway), why)
		}
	}
	for _, e := range cleanupOrder(p.Manifest()) {
		if e.Level != chain.LevelHop || e.Role == chain.RoleGateway || e.Role == chain.RoleGatewayAPIGateway || keep(e) {
			continue
		}
		t, err := o.findHopObject(ctx, c, e)
		if err != nil {
			return err
		}
		if t != nil {
			hopObjs = append(hopObjs, *t)
		}
	}
	for _, t := range hopObjs {
		var rv *string
		if t.gvr == gvr {
			rv = ptr(t.obj.GetResourceVersion())
		}
		if err := o.delete(ctx, c, t, rv, *done); err != nil {
			return err
		}
		*done = append(*done, apply.Ref(t.obj))
	}
	return nil
}

// cleanupOrder is the reverse of the manifest's write order, with the
// Secrets cert-manager may write (those named like one of the hop's
// Certificates) last: deleted before their Certificate, they would be
// issued again at once. Each such entry gets IssuedBy set, so that
// findHopObject knows what to look for even while the mode is auto.
func cleanupOrder(m []chain.Entry) []chain.Entry {
	certificates := map[string]bool{}
	for _, e := range m {
		if e.Kind == "Certificate" {
			certificates[e.Name] = true
		}
	}
	var first, last []chain.Entry
	for i := len(m) - 1; i >= 0; i-- {
		e := m[i]
		if e.Kind == "Secret" && certificates[e.Name] {
			e.IssuedBy = e.Name
			last = append(last, e)
		} else {
			first = append(first, e)
		}
	}
	return append(first, last...)
}

// findHopObject reads one of the hop's shared objects by name; nil when it
// is absent or protected (reported).
func (o *CleanupOptions) findHopObject(ctx context.Context, c *kube.Clients, e chain.Entry) (*target, error) {
	p := o.Params
	gvr := map[string]schema.GroupVersionResource{
		"Secret": kube.Secrets, "Service": kube.Services, "ServersTransport": kube.ServersTransport,
		"Issuer": kube.Issuers, "Certificate": kube.Certificates, "ConfigMap": kube.ConfigMaps,
	}[e.Kind]
	if e.Name == "" || gvr.Resource == "" {
		return nil, nil
	}
	// The IKS-owned inputs are never deleted, whatever they are labelled.
	for _, in := range p.Inputs() {
		if in.Kind == e.Kind && in.Namespace == e.Namespace && in.Name == e.Name {
			return nil, nil
		}
	}
	u, err := c.Get(ctx, gvr, e.Namespace, e.Name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil // Traefik's CRDs are not installed: nothing of ours can be there
		}
		return nil, err
	}
	if u == nil {
		return nil, nil
	}
	if u.GetLabels()[chain.LabelManagedBy] != chain.FieldManager {
		return nil, nil // not the plugin's at all: not even worth a word
	}
	if e.IssuedBy != "" && u.GetAnnotations()[chain.AnnotationCertManagerCertificate] == e.IssuedBy {
		// cert-manager wrote it (its field manager, not ours) from the
		// plugin's Certificate, which was deleted before it.
		return &target{gvr: gvr, obj: u}, nil
	}
	if ok, why := apply.Deletable(u); !ok {
		say(o.ErrOut, "keeping %s: %s", apply.Ref(u), why)
		return nil, nil
	}
	return &target{gvr: gvr, obj: u}, nil
}

// updateGateway applies the hop's Gateway without the chain, conditioned on
// the resourceVersion it was read at.
func (o *CleanupOptions) updateGateway(ctx context.Context, c *kube.Clients, gw, read *unstructured.Unstructured) error {
	if o.dryRun == apply.DryRunClient {
		fmt.Fprintf(o.Out, "%s configured (dry run)\n", apply.Ref(gw))
		return nil
	}
	a := &apply.Applier{Clients: c, DryRun: o.dryRun, Guards: map[string]apply.Guard{apply.Ref(gw): apply.GuardFor(read)}}
	if _, err := a.Apply(ctx, render.Objects{gw}); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s configured%s\n", apply.Ref(gw), dryRunSuffix(o.dryRun))
	return nil
}

// delete deletes one object, conditioned on its UID (and resourceVersion,
// when given), and prints it. done lists what was deleted before, for the
// partial-failure message.
func (o *CleanupOptions) delete(ctx context.Context, c *kube.Clients, t target, resourceVersion *string, done []string) error {
	if o.dryRun != apply.DryRunClient {
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(t.obj.GetUID()), ResourceVersion: resourceVersion}}
		if o.dryRun == apply.DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		err := c.Dynamic.Resource(t.gvr).Namespace(t.obj.GetNamespace()).Delete(ctx, t.obj.GetName(), opts)
		if apierrors.IsConflict(err) && resourceVersion != nil {
			return &apply.RaceError{Ref: apply.Ref(t.obj), Err: err}
		}
		if err != nil && !apierrors.IsNotFound(err) {
			err = c.Explain(err, "delete", t.gvr, t.obj.GetNamespace(), t.obj.GetName())
			if len(done) > 0 && o.dryRun == apply.DryRunNone {
				return kube.WithCode(kube.ExitPartial, fmt.Errorf("%w\ndeleted before the failure: %s; re-run cleanup to finish", err, strings.Join(done, ", ")))
			}
			return err
		}
	}
	fmt.Fprintf(o.Out, "%s deleted%s\n", apply.Ref(t.obj), dryRunSuffix(o.dryRun))
	return nil
}

func ptr[T any](v T) *T { return &v }
