package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/rbac"
)

// RBACOptions are the options of `kubectl albistio rbac`.
type RBACOptions struct {
	ChainOptions
	genericiooptions.IOStreams
	For             string
	PortForward     bool
	CreateNamespace bool
	AllNamespaces   bool
	User            string
	Group           string
	ServiceAccount  string
	Output          string

	opts rbac.Options
}

var rbacExample = templates.Examples(`
	# Let jane run setup and cleanup of httpbin's chain in httptools, and nothing else
	# (with the walkthrough's environment variables set, or --alb-secret and --gateway-secret)
	kubectl albistio rbac --for=setup --user jane@example.com -n httptools | kubectl apply -f -

	# A CI service account that runs check, with the probe's port-forward
	kubectl albistio rbac --for=check --port-forward --serviceaccount ci:albistio -n httptools | kubectl apply -f -

	# Review what a group would get for a second app on the same ALB and gateway
	kubectl albistio rbac --for=setup --group shop-admins -n shop --service storefront`)

// NewCmdRBAC builds `kubectl albistio rbac`.
func NewCmdRBAC(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RBACOptions{ChainOptions: newChainOptions(cf), IOStreams: streams, Output: "yaml"}
	cmd := &cobra.Command{
		Use:   "rbac --for=setup|check (--user U | --group G | --serviceaccount NS:NAME)",
		Short: "Print the least-privilege Roles and bindings for setup/cleanup or check of one chain",
		Long: longDesc(`
			Print, for kubectl apply -f -, the RBAC one subject needs to run the plugin for exactly
			this chain (the same chain flags the commands take) and nothing else: a Role in each
			namespace the commands touch (the Istio namespace, the app namespace, the ALB secret's
			namespace), a ClusterRole for what has no namespace (listing IngressClasses, reading
			the two namespaces by name), and a binding for each. The cluster is not contacted.

			--for=setup covers secrets, gateway, ingress, setup and cleanup; --for=check covers check
			(read-only; --port-forward adds the probe's port-forward). The objects are named after
			the chain (albistio-<for>-<namespace>-<chain-name>), so every app behind one ALB and
			gateway gets roles of its own: the roles of one chain allow nothing on another chain's
			VirtualService or Ingress, only on the hop they share.

			Every rule names its objects with resourceNames where the API server checks a name.
			It cannot for:
			  list        a LIST names no object and returns every object of its resource in the
			              namespace, whatever the label selector: setup and cleanup list pods,
			              Ingresses (Istio namespace) and VirtualServices (app namespace); check
			              lists pods. No role lists or watches secrets: check's reader falls back
			              to reading each secret by name when its LIST is denied, and no other
			              secret of the Istio namespace (istio-ca-secret, the mesh's root key) is
			              readable.
			  create      a POST names no object. The private CA and the hop's Gateway are created
			              by POST (so that concurrent runs make exactly one), so create on secrets
			              and gateways is bounded by the Istio namespace only (by name for secrets
			              with --client-identity=alb-cert). Server-side apply of an object that does
			              not exist yet is a PATCH that creates: the API server authorizes it as
			              patch and as create, both of that name, so the chain's VirtualService and
			              Ingress, Traefik's objects and the other secrets are created by name.
			  portforward gateway pods have generated names: --port-forward allows create on
			              pods/portforward in the whole Istio namespace.

			Namespaces are read by name and never created or changed by the subject. A Role can
			only be applied in a namespace that exists, so for a new app namespace pass
			--create-namespace: the stream then creates it first (istio-injection=enabled, as
			setup --create-namespace would), applied by whoever applies the roles.

			Generate the roles with the flags you pass to the commands: with --alb-flavor=auto
			(the default) Traefik's Service and ServersTransport are included, since cleanup
			reads them by name whatever the flavor; pass the flavor your ALB runs to leave
			them out. Whoever may create a Secret in a namespace and read it back by name may
			ask for a token of any service account there (type kubernetes.io/service-account-token):
			grant setup's roles accordingly.`),
		Example: rbacExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.For, "for", "", "What the roles are for: setup (secrets, gateway, ingress, setup, cleanup) or check")
	f.BoolVar(&o.PortForward, "port-forward", false, "With --for=check: also allow check --port-forward (create on pods/portforward in the Istio namespace)")
	f.BoolVar(&o.AllNamespaces, "all-namespaces", false, "With --for=check: also allow check -A to find every chain (cluster-wide list of Ingresses, Services, Gateways and VirtualServices); bind each chain's own check Role too")
	f.BoolVar(&o.CreateNamespace, "create-namespace", false, "With --for=setup: also create the app namespace (-n) in the stream, before its Role, as setup --create-namespace would")
	// --user, --group and --serviceaccount are kubectl create rolebinding's
	// subject flags; like it, this command shadows kubectl's --user
	// (kubeconfig user), which a command that contacts no cluster never needs.
	f.StringVar(&o.User, "user", "", "User to bind the roles to")
	f.StringVar(&o.Group, "group", "", "Group to bind the roles to")
	f.StringVar(&o.ServiceAccount, "serviceaccount", "", "Service account to bind the roles to, as namespace:name")
	f.StringVarP(&o.Output, "output", "o", o.Output, "Output format: yaml (a stream with comments on every rule) or json (a List)")
	_ = cmd.RegisterFlagCompletionFunc("for", cobra.FixedCompletions([]string{string(rbac.ForSetup), string(rbac.ForCheck)}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the chain's parameters and the subject. The roles name
// the secrets and the Gateway, so the ALB and gateway secrets are needed;
// the domains are not.
func (o *RBACOptions) Complete() error {
	return o.ChainOptions.complete(chain.Requirement{ALBSecret: true, GatewaySecret: true})
}

// Validate checks the output, --for and the subject, then the parameters
// the roles name.
func (o *RBACOptions) Validate() error {
	if o.Output != "yaml" && o.Output != "json" {
		return usage(fmt.Errorf("--output %q is not supported: use yaml or json", o.Output))
	}
	if o.For == "" {
		return usage(fmt.Errorf("--for is required: setup (secrets, gateway, ingress, setup, cleanup) or check"))
	}
	subject, err := o.subject()
	if err != nil {
		return usage(err)
	}
	if err := o.ChainOptions.validate(); err != nil {
		return err
	}
	o.opts = rbac.Options{For: rbac.For(o.For), PortForward: o.PortForward, CreateNamespace: o.CreateNamespace, AllNamespaces: o.AllNamespaces, Subject: subject}
	return nil
}

// subject reads the one subject flag given.
func (o *RBACOptions) subject() (rbacv1.Subject, error) {
	var given []string
	var s rbacv1.Subject
	if o.User != "" {
		given, s = append(given, "--user"), rbac.UserSubject(o.User)
	}
	if o.Group != "" {
		given, s = append(given, "--group"), rbac.GroupSubject(o.Group)
	}
	if o.ServiceAccount != "" {
		ns, name, ok := strings.Cut(o.ServiceAccount, ":")
		if !ok || ns == "" || name == "" {
			return s, fmt.Errorf("--serviceaccount %q must be namespace:name", o.ServiceAccount)
		}
		given, s = append(given, "--serviceaccount"), rbac.ServiceAccountSubject(ns, name)
	}
	switch len(given) {
	case 0:
		return s, fmt.Errorf("give whom to bind the roles to: --user, --group or --serviceaccount")
	case 1:
		return s, nil
	}
	return s, fmt.Errorf("%s: give one subject per run (each run prints its own bindings)", strings.Join(given, " and "))
}

// Run renders and prints the roles. It contacts no cluster, so the context
// goes unused.
func (o *RBACOptions) Run(context.Context) error {
	set, err := rbac.Render(o.Params, o.opts)
	if err != nil {
		return usage(err)
	}
	if o.Output == "json" {
		return set.WriteJSON(o.Out)
	}
	return set.WriteYAML(o.Out)
}
