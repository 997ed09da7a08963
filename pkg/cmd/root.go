// Package cmd wires flags to the chain's packages. Each command is an Options
// struct with Complete, Validate and Run, as kubectl's own commands are; the
// work itself lives in chain, certs, identity, render, apply and check.
package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	// IKS kubeconfigs authenticate with OIDC or an exec plugin.
	_ "k8s.io/client-go/plugin/pkg/client/auth/oidc"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// NewRootCmd builds `kubectl albistio` and its subcommands. Nothing here
// reads the kubeconfig or builds a client: that happens when a command runs.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "albistio",
		Short: "Chain the IKS Ingress ALB to the Istio ingress gateway over mutual TLS",
		Long: longDesc(`
			Chain the IBM Cloud Kubernetes Service Ingress ALB to the Istio ingress gateway
			over mutual TLS: the ALB keeps serving its domain and re-encrypts requests for
			mesh services to the gateway, presenting a client certificate the gateway trusts.

			Every app behind one ALB and one gateway is a chain; the chains share a hop
			(the ALB's client identity, the gateway's client CA, one Gateway).

			  setup     the whole chain, validated first, then written (start here)
			  cleanup   removes one chain, and the hop with the last chain
			  check     finds what would make the chain fail (--probe: a live handshake)
			  rbac      prints least-privilege roles for setup or check

			Or one slice of setup at a time:
			  secrets   the ALB's client certificate and the gateway's -cacert
			  gateway   the hop's Gateway (MUTUAL TLS) and the chain's VirtualService
			  ingress   the chain's Ingress that re-encrypts to the gateway`),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl albistio"},
		PersistentPreRun: func(*cobra.Command, []string) {
			// klog writes to stderr only; nothing goes to a log file on disk.
			klog.LogToStderr(true)
		},
	}
	// A bad flag names the command's help, as kubectl's errors do.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage(fmt.Errorf("%w\nSee '%s --help' for usage.", err, c.CommandPath()))
	})
	flags := root.PersistentFlags()
	configFlags.AddFlags(flags)
	registerNamespaceCompletion(root, configFlags)
	goflags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goflags)
	for _, name := range []string{"v", "vmodule"} {
		flags.AddGoFlag(goflags.Lookup(name))
	}
	flags.Lookup("v").Usage = "number for the log level verbosity; request and response bodies are never logged, since Secrets carry private keys"

	root.AddCommand(
		NewCmdVersion(streams),
		NewCmdSecrets(configFlags, streams),
		NewCmdGateway(configFlags, streams),
		NewCmdIngress(configFlags, streams),
		NewCmdCheck(configFlags, streams),
		NewCmdSetup(configFlags, streams),
		NewCmdCleanup(configFlags, streams),
		NewCmdRBAC(configFlags, streams),
	)
	return root
}

// Execute runs the root command and returns the process's exit code.
func Execute(args []string, streams genericiooptions.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal cancels the context: the run stops at its next
	// request and reports what it wrote. Then signals get their default
	// action back, so that a second Ctrl-C ends the process at once if it
	// waits where the context does not reach.
	context.AfterFunc(ctx, stop)
	root := NewRootCmd(streams)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	err := root.ExecuteContext(kube.WithRedactedRequestLogs(ctx))
	if err == nil {
		return 0
	}
	var ke *kube.Error
	if ctx.Err() != nil && errors.Is(err, context.Canceled) && !errors.As(err, &ke) {
		// Cut short by the signal somewhere pkg/kube did not explain.
		err = fmt.Errorf("interrupted: %w", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	// Errors quote the values they echo, but one that embeds raw input
	// (a flag name, a parser's message) must not reach the terminal as
	// escape sequences either.
	fmt.Fprintln(streams.ErrOut, safetext.Clean(msg))
	return exitCode(err)
}

func exitCode(err error) int {
	var ke *kube.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return kube.ExitUsage
	}
	return kube.ExitError
}

// usageError marks bad flags and parameters: nothing was read or written.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// isCobraUsage recognises cobra's own flag and argument errors, which it
// returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
