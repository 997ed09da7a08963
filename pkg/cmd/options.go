package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// ChainOptions are the parameters every chain command shares.
type ChainOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Flags       *chain.Flags
	Params      *chain.Params
	// Getenv reads the walkthrough's environment variables; tests replace it.
	Getenv func(string) string
	// CAFile is --ca-file: roots beyond the bundled ones.
	CAFile string

	clients *kube.Clients
	// need is what the command requires of the parameters (Validate).
	need chain.Requirement
}

func newChainOptions(cf *genericclioptions.ConfigFlags) ChainOptions {
	return ChainOptions{ConfigFlags: cf, Flags: chain.NewFlags(), Getenv: os.Getenv}
}

// addChainFlags registers the chain flags and --ca-file, which every chain
// command takes so that one command line fits every slice.
func (o *ChainOptions) addChainFlags(cmd *cobra.Command) {
	o.Flags.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.CAFile, "ca-file", "", "PEM file of root certificates the gateway's or the ALB's chain ends in, when not one of the bundled ISRG roots (nothing is ever downloaded)")
	o.registerChainCompletions(cmd)
}

// complete resolves the parameters: the app namespace as kubectl resolves
// -n, then flags, environment and defaults. It reads no cluster.
func (o *ChainOptions) complete(need chain.Requirement) error {
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return usage(fmt.Errorf("cannot resolve the namespace from the kubeconfig: %w (pass -n, or fix --kubeconfig/--context)", err))
	}
	o.Params, o.need = o.Flags.ResolveDefaults(ns, o.Getenv), need
	return nil
}

// validate reports every parameter the command needs that is missing or
// malformed, all at once (chain.Params.Validate).
func (o *ChainOptions) validate() error {
	if err := o.Params.Validate(o.need); err != nil {
		return usage(err)
	}
	return nil
}

// Clients builds the API clients on first use.
func (o *ChainOptions) Clients() (*kube.Clients, error) {
	if o.clients == nil {
		c, err := kube.NewClients(o.ConfigFlags)
		if err != nil {
			// A kubeconfig that cannot be loaded is a usage problem:
			// nothing was contacted.
			return nil, usage(err)
		}
		o.clients = c
	}
	return o.clients, nil
}

// WriteOptions are the flags of commands that write: --dry-run, -o,
// --force-conflicts, --show-private-keys.
type WriteOptions struct {
	PrintFlags *genericclioptions.PrintFlags
	DryRunFlag string
	Force      bool
	// ShowPrivateKeys prints Secrets' private keys with -o; without it the
	// printed copy leaves them out (see redactPrivateKeys).
	ShowPrivateKeys bool

	DryRun  apply.DryRun
	printer printers.ResourcePrinter
	format  string
}

func newWriteOptions() WriteOptions {
	return WriteOptions{PrintFlags: genericclioptions.NewPrintFlags(""), DryRunFlag: string(apply.DryRunNone)}
}

func (w *WriteOptions) addFlags(cmd *cobra.Command) {
	w.PrintFlags.AddFlags(cmd)
	cmd.Flags().StringVar(&w.DryRunFlag, "dry-run", w.DryRunFlag, `Must be "none", "server", or "client". If client strategy, only print the objects that would be sent, without sending them. If server strategy, submit server-side requests without persisting the objects.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "unchanged"
	cmd.Flags().BoolVar(&w.Force, "force-conflicts", false, "Take over objects and fields owned by other managers (kubectl apply --server-side --force-conflicts)")
	cmd.Flags().BoolVar(&w.ShowPrivateKeys, "show-private-keys", false, "With -o, print the private keys in Secrets (tls.key, client.key, any PEM PRIVATE KEY). Without it they are left out of the printed copy, which names them in the "+annotationRedacted+" annotation, so that output meant for git carries no key; what is written to the cluster always has them")
}

func (w *WriteOptions) complete() error {
	d, err := apply.ParseDryRun(w.DryRunFlag)
	if err != nil {
		return usage(err)
	}
	w.DryRun = d
	if w.PrintFlags.OutputFormat != nil && *w.PrintFlags.OutputFormat != "" {
		w.format = *w.PrintFlags.OutputFormat
		p, err := w.PrintFlags.ToPrinter()
		if err != nil {
			return usage(err)
		}
		w.printer = p
	}
	return nil
}

// applyAndPrint applies objs and prints what happened, including what was
// written before a failure. c nil means a client dry run with no cluster:
// each object is then "rendered (dry run, not compared with the cluster)";
// with c, a client dry run reads each object and says created, configured
// or unchanged, as kubectl apply --dry-run=client does.
func (w *WriteOptions) applyAndPrint(ctx context.Context, c *kube.Clients, out io.Writer, objs render.Objects) error {
	return w.applyGuarded(ctx, c, out, objs, nil)
}

// applyGuarded is applyAndPrint with guards on the objects that must not be
// written over a concurrent run's (see apply.Guard).
func (w *WriteOptions) applyGuarded(ctx context.Context, c *kube.Clients, out io.Writer, objs render.Objects, guards map[string]apply.Guard) error {
	a := &apply.Applier{Clients: c, DryRun: w.DryRun, Force: w.Force, Guards: guards}
	results, err := a.Apply(ctx, objs)
	if perr := w.print(out, results); perr != nil && err == nil {
		err = perr
	}
	return err
}

// print writes the results: objects in the chosen format (JSON as one List so
// the output is one document), or kubectl's "kind/name created" lines.
// Objects are printed without private keys unless --show-private-keys.
func (w *WriteOptions) print(out io.Writer, results []apply.Result) error {
	if w.printer == nil {
		for _, r := range results {
			suffix := dryRunSuffix(w.DryRun)
			if r.Op == apply.NotCompared {
				// No cluster was read: created or configured would be a guess.
				suffix = " (dry run, not compared with the cluster)"
			}
			if _, err := fmt.Fprintf(out, "%s %s%s\n", apply.Ref(r.Object), r.Op, suffix); err != nil {
				return err
			}
		}
		return nil
	}
	if w.format == "json" && len(results) != 1 {
		list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
		for _, r := range results {
			list.Items = append(list.Items, *w.printable(r.Object))
		}
		return w.printer.PrintObj(list, out)
	}
	for _, r := range results {
		if err := w.printer.PrintObj(w.printable(r.Object), out); err != nil {
			return err
		}
	}
	return nil
}

// printable is the copy of u to print: u itself with --show-private-keys,
// else u without its private keys. u is never changed: it may be the very
// object that is applied next.
func (w *WriteOptions) printable(u *unstructured.Unstructured) *unstructured.Unstructured {
	if w.ShowPrivateKeys {
		return u
	}
	return redactPrivateKeys(u)
}

// isDryRun says whether this run writes nothing (a client or a server dry
// run), so that notes say what would be done, not what is done.
func (w *WriteOptions) isDryRun() bool { return w.DryRun != apply.DryRunNone }

// dryRunSuffix marks kubectl-style "kind/name verb" lines of a dry run, as
// kubectl does.
func dryRunSuffix(d apply.DryRun) string {
	switch d {
	case apply.DryRunClient:
		return " (dry run)"
	case apply.DryRunServer:
		return " (server dry run)"
	}
	return ""
}

// commandOptions are a command's options in kubectl's shape: Complete
// resolves the flags without I/O, Validate reports every bad one at once,
// Run does the work.
type commandOptions interface {
	Complete() error
	Validate() error
	Run(ctx context.Context) error
}

// runOptions is the RunE of a command whose options are o: Complete,
// Validate, then Run with the command's context (cancelled on Ctrl-C).
func runOptions(o commandOptions) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Complete(); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}
