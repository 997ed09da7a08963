package cmd

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/metadata"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// completionTimeout bounds the API call behind a <TAB>: a slow cluster must
// not hang the shell.
const completionTimeout = 3 * time.Second

// registerChainCompletions completes the chain flags: fixed choices from
// the domain, secret names from the namespace the flag refers to.
func (o *ChainOptions) registerChainCompletions(cmd *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	var flavors, modes []string
	for _, f := range chain.Flavors {
		flavors = append(flavors, string(f))
	}
	for _, m := range chain.IdentityModes {
		modes = append(modes, string(m))
	}
	_ = cmd.RegisterFlagCompletionFunc("alb-flavor", fixed(flavors...))
	_ = cmd.RegisterFlagCompletionFunc("client-identity", fixed(modes...))
	_ = cmd.RegisterFlagCompletionFunc("alb-secret", o.completeNames(kube.Secrets, func() string { return o.Flags.ALBSecretNamespace }))
	_ = cmd.RegisterFlagCompletionFunc("gateway-secret", o.completeNames(kube.Secrets, func() string { return o.Flags.IstioNamespace }))
	_ = cmd.RegisterFlagCompletionFunc("service", o.completeNames(kube.Services, func() string { return o.namespace() }))
	_ = cmd.RegisterFlagCompletionFunc("gateway-service", o.completeNames(kube.Services, func() string { return o.Flags.IstioNamespace }))
	for _, flag := range []string{"istio-namespace", "alb-secret-namespace"} {
		_ = cmd.RegisterFlagCompletionFunc(flag, o.completeNames(kube.Namespaces, func() string { return "" }))
	}
}

func (o *ChainOptions) namespace() string {
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return ""
	}
	return ns
}

// completeNames lists the names of a resource in the namespace ns returns.
func (o *ChainOptions) completeNames(gvr schema.GroupVersionResource, ns func() string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return listNames(cmd.Context(), o.ConfigFlags, gvr, ns()), cobra.ShellCompDirectiveNoFileComp
	}
}

// listNames lists names through the metadata API: completing a Secret's
// name must not download every key in the namespace.
func listNames(ctx context.Context, cf *genericclioptions.ConfigFlags, gvr schema.GroupVersionResource, ns string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		return nil
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	list, err := mc.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(list.Items))
	for _, item := range list.Items {
		names = append(names, item.Name)
	}
	return names
}

// registerNamespaceCompletion completes -n/--namespace with the cluster's namespaces.
func registerNamespaceCompletion(root *cobra.Command, cf *genericclioptions.ConfigFlags) {
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return listNames(cmd.Context(), cf, kube.Namespaces, ""), cobra.ShellCompDirectiveNoFileComp
	})
}
