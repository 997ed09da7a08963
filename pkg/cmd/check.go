package cmd

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/fleet"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/probe"
)

// CheckOptions are the options of `kubectl albistio check`.
type CheckOptions struct {
	ChainOptions
	genericiooptions.IOStreams
	Output           string
	FailureThreshold string
	OutputThreshold  string
	Suppress         []string
	ListChecks       bool
	Probe            bool
	ProbeAddress     string
	PortForward      bool
	ProbeTimeout     time.Duration
	// AllNamespaces, Contexts and AllContexts check many chains in one run
	// (check_fleet.go).
	AllNamespaces bool
	Contexts      []string
	AllContexts   bool

	threshold       check.Level
	outputThreshold check.Level
	suppressions    []check.Suppression
	format          string
	color           bool
	extraRoots      []*x509.Certificate
	now             func() time.Time
	// api and portForward reach the cluster; tests replace them.
	api         check.API
	portForward probe.PortForwarder
	// fleet is the state of -A and --contexts runs.
	fleet fleetState
}

var checkExample = templates.Examples(`
	# Check the chain set up with the walkthrough's environment variables
	kubectl albistio check -n httptools

	# Also make the ALB's mutual-TLS handshake with the gateway at its LoadBalancer address
	kubectl albistio check -n httptools --probe

	# From outside the cluster's network: probe through a port-forward to a gateway pod
	kubectl albistio check -n httptools --port-forward

	# Fail a CI job on warnings too, and keep the report
	kubectl albistio check -n httptools --failure-threshold warning -o json > check.json

	# Accept a known finding: everywhere, or on one object (* matches any run of characters)
	kubectl albistio check -n httptools --suppress ALB0510
	kubectl albistio check -n httptools --suppress 'ALB0304=Secret istio-system/*'

	# Print errors only (warnings still fail the run with --failure-threshold warning)
	kubectl albistio check -n httptools --output-threshold error

	# Check every chain of the cluster: the plugin's and the walkthrough's
	kubectl albistio check -A --ca-file roots.pem

	# Check one chain in three clusters, or every chain in every context
	kubectl albistio check -n httptools --contexts prod-eu,prod-us,staging
	kubectl albistio check -A --all-contexts -o json

	# List every check with its code, level and description
	kubectl albistio check --list-checks`)

// NewCmdCheck builds `kubectl albistio check`.
func NewCmdCheck(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CheckOptions{
		ChainOptions: newChainOptions(cf), IOStreams: streams,
		FailureThreshold: string(check.LevelError), OutputThreshold: string(check.LevelInfo),
		ProbeTimeout: 10 * time.Second, now: time.Now,
	}
	o.portForward = func(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
		return kube.PortForward(ctx, o.ConfigFlags, namespace, pod, port)
	}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find what would make the ALB → gateway chain fail, and optionally probe it",
		Long: longDesc(`
			Read the chain's objects and report every way it can fail, each as a finding with
			a stable code (--list-checks prints them all), a level, the object and field
			involved, and one line on how to fix it:

			  01xx  secrets exist, parse, match their keys, cover their names, are not
			        expired (warning 21 days before)
			  02xx  trust both ways: the ALB's client chain allows TLS client auth and leads
			        to the gateway's -cacert; the gateway's chain leads to the ALB's ca.crt
			        within the ALB's verify depth
			  03xx  copies made by "secrets" still match their renewed sources
			  04xx  Gateway, gateway pods and Service; 05xx  VirtualService and the service
			  06xx  the ALB's Ingress and its flavor's annotations, as the controller parses
			        them; 07xx  the Istio API the cluster serves
			  09xx  renewal: cert-manager's Issuers and Certificates Ready and renewing,
			        copies nothing renews (the ALB TLS copy), a leftover -cacert

			The text report starts with the chain drawn hop by hop: client, ALB (flavor,
			class, Ingress, the certificate it serves), mutual TLS (client certificate,
			client auth, SNI, verification), gateway (Gateway, server certificate, pods),
			VirtualService and app Service, each marked OK, WARNING, ERROR or UNKNOWN with
			the codes found there (in colour on a terminal, unless NO_COLOR is set); -o
			json|yaml carry the same as "hops". It ends with every certificate of the
			chain: its days left and who renews it (IKS, cert-manager, or "run setup").

			A fix that re-runs the plugin over a field another field manager owns (after
			kubectl annotate, edit or patch) adds --force-conflicts and names that manager.

			check only reads (get and list), with a fixed number of requests however large
			the cluster is. Of the Istio namespace's secrets it lists only the plugin's own
			(by label) and reads the gateway secret by name. Private keys stay in memory.

			--probe also makes the handshake the ALB makes: it presents the client
			certificate from --client-secret, sends the gateway domain as SNI, verifies the
			gateway against the secret's ca.crt, and requests the first --path with Host
			--host. It connects to the gateway Service's LoadBalancer address, to
			--probe-address, or with --port-forward to a gateway pod through the API server
			(which needs permission to create pods/portforward). Either flag implies --probe.

			--suppress CODE silences a code; --suppress 'CODE=Kind namespace/name' only on
			that object, named as findings name it, where * matches any run of characters
			('ALB0304=Secret istio-system/*'). Suppressed findings are not printed and do
			not count for the exit code; the summary says how many there were. Findings
			below --output-threshold are not printed either, but --failure-threshold still
			judges them.

			Each code's cause, how to see it and its fix are in the reference, which
			-o json|yaml links every finding to:
			  ` + check.DocsURL + `

			-A (--all-namespaces) checks every chain of the cluster instead of the one
			the flags name: the plugin's (Ingresses labelled albistio.io/chain and
			albistio.io/chain-namespace) and the walkthrough's (unlabelled Ingresses in an
			Istio ingress gateway's namespace whose proxy-ssl-secret, ssl-services or
			Traefik transport send them to the gateway), each with the parameters read
			from its objects. It prints one line per chain, then each chain's report. Its
			requests grow with the chains and gateways, not with the cluster: every LIST
			across namespaces is label-selected (only where a walkthrough-shaped Ingress
			exists are the VirtualServices, which carry no label, listed once), and the
			chains of one hop share its reads. The flags that name one chain (--service,
			--host, --istio-namespace, ...) do not go with -A and -n is ignored;
			--alb-secret-namespace, --gateway-selector, --ca-file and the thresholds apply.

			--contexts a,b,c (or --all-contexts: every context of the kubeconfig) checks
			each context, 20 at once and at most 8 of one API server: the chain the
			flags name (-n, else each context's namespace), or with -A every chain of
			each. One line per context (clean, findings, forbidden, unreachable, ...),
			then each context's report; a context that fails does not hide the
			others. Contexts that reach one API server as one user (one per
			namespace, say) read what their chains share once.

			Exit codes: 0 when no finding reaches --failure-threshold, 8 when one does,
			2 for usage errors, 3 when the cluster holds something check cannot read as a
			chain, 5 when RBAC forbids a read, 6 when the API server cannot be reached, 1
			for anything else. With -A or --contexts, the worst outcome of all chains and
			contexts, in this order: 6, 5, 1, 2, 3, 8, 0.`),
		Example: checkExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ListChecks {
				if err := o.validateOutput(); err != nil {
					return err
				}
				if o.format == check.FormatText {
					// The table keeps its one line per code; json and yaml
					// carry each code's link instead.
					fmt.Fprintf(o.ErrOut, "Each code's cause, how to see it and fix: %s#<code in lower case>\n", check.DocsURL)
				}
				return check.WriteCatalogDocs(o.Out, o.format)
			}
			o.fleet.changed = cmd.Flags().Changed
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if o.fleetMode() {
				return o.RunFleet(cmd.Context())
			}
			return o.Run(cmd.Context())
		},
	}
	o.addChainFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "Output format: text (default), json or yaml")
	f.StringVar(&o.FailureThreshold, "failure-threshold", o.FailureThreshold, "Exit with code 8 when a finding of this level or worse is reported: error, warning or info")
	f.StringVar(&o.OutputThreshold, "output-threshold", o.OutputThreshold, "Print only findings of this level or worse: error, warning or info (the summary counts the others)")
	f.StringArrayVar(&o.Suppress, "suppress", nil, "Silence findings of a code, on every object (CODE) or on one (CODE='Kind namespace/name', * matches any run of characters); repeatable")
	f.BoolVar(&o.ListChecks, "list-checks", false, "Print every check's code, level and description, and exit (no cluster needed)")
	f.BoolVar(&o.Probe, "probe", false, "Also perform the ALB's mutual-TLS handshake and an HTTPS request against the gateway")
	f.StringVar(&o.ProbeAddress, "probe-address", "", "host:port to probe instead of the gateway Service's LoadBalancer address (implies --probe)")
	f.BoolVar(&o.PortForward, "port-forward", false, "Probe through a port-forward to a gateway pod (implies --probe)")
	f.DurationVar(&o.ProbeTimeout, "probe-timeout", o.ProbeTimeout, "How long the probe may take")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Check every chain of the cluster (the plugin's and the walkthrough's), with parameters read from their objects")
	f.StringSliceVar(&o.Contexts, "contexts", nil, fmt.Sprintf("Check these kubeconfig contexts (comma-separated), %d at once (%d of one API server); the worst outcome is the exit code", fleet.ContextParallelism, fleet.ServerParallelism))
	f.BoolVar(&o.AllContexts, "all-contexts", false, fmt.Sprintf("Check every context of the kubeconfig, %d at once (%d of one API server)", fleet.ContextParallelism, fleet.ServerParallelism))
	return cmd
}

// Complete resolves the chain's parameters (all of them are needed: check
// says which are missing), --ca-file and the output settings.
func (o *CheckOptions) Complete() error {
	if err := o.validateOutput(); err != nil {
		return err
	}
	if o.fleetMode() {
		// The chains' parameters are resolved per context, or read from
		// the cluster (-A): see check_fleet.go.
		if err := o.completeFleet(); err != nil {
			return err
		}
	} else if err := o.ChainOptions.complete(chain.NeedAll); err != nil {
		return err
	}
	var err error
	if o.threshold, err = check.ParseLevel(o.FailureThreshold); err != nil {
		return usage(fmt.Errorf("--failure-threshold: %w", err))
	}
	// Options built in code (setup's closing check, tests) leave it empty:
	// print everything, as the flag's default does.
	o.outputThreshold = check.LevelInfo
	if o.OutputThreshold != "" {
		if o.outputThreshold, err = check.ParseLevel(o.OutputThreshold); err != nil {
			return usage(fmt.Errorf("--output-threshold: %w", err))
		}
	}
	o.suppressions = nil
	for _, s := range o.Suppress {
		sup, err := check.ParseSuppression(s)
		if err != nil {
			return usage(fmt.Errorf("--suppress: %w", err))
		}
		o.suppressions = append(o.suppressions, sup)
	}
	if o.extraRoots, err = readCAFile(o.CAFile); err != nil {
		return err
	}
	o.color = o.format == check.FormatText && printers.AllowsColorOutput(o.Out)
	if o.ProbeAddress != "" || o.PortForward {
		o.Probe = true
	}
	return nil
}

func (o *CheckOptions) validateOutput() error {
	switch o.Output {
	case "", check.FormatText:
		o.format = check.FormatText
	case check.FormatJSON, check.FormatYAML:
		o.format = o.Output
	default:
		return usage(fmt.Errorf("--output %q is not supported: use text, json or yaml", o.Output))
	}
	return nil
}

// Validate reports missing or malformed parameters (one chain's; with -A
// or --contexts they are checked per context) and rejects flag
// combinations that cannot work.
func (o *CheckOptions) Validate() error {
	if !o.fleetMode() {
		if err := o.ChainOptions.validate(); err != nil {
			return err
		}
	}
	if o.ProbeAddress != "" && o.PortForward {
		return usage(fmt.Errorf("--probe-address and --port-forward name two different ways to reach the gateway: pass one"))
	}
	if o.ProbeAddress != "" {
		if _, _, err := net.SplitHostPort(o.ProbeAddress); err != nil {
			return usage(fmt.Errorf("--probe-address %q is not host:port: %w", o.ProbeAddress, err))
		}
	}
	if o.ProbeTimeout <= 0 {
		return usage(fmt.Errorf("--probe-timeout must be positive, got %s", o.ProbeTimeout))
	}
	return o.validateFleet()
}

// Run reads the chain, applies the rules, probes if asked, prints the
// report, and turns findings at the threshold into exit code 8.
func (o *CheckOptions) Run(ctx context.Context) error {
	api := o.api
	if api == nil {
		c, err := o.Clients()
		if err != nil {
			return err
		}
		api = c
	}
	params := o.Params
	if params.Flavor == chain.FlavorAuto {
		// Both of IKS's ALBs in the cluster: the chain is checked on each.
		// The IngressClasses are read once, for this and for check's reader.
		once := &classesOnce{API: api}
		api = once
		params = withBothALBs(ctx, once, params)
	}
	if len(params.ALBFlavors()) > 1 {
		return o.runPerALB(ctx, api, params)
	}
	report, err := o.evaluate(ctx, api, params, o.portForward)
	if report == nil {
		return err
	}
	if werr := report.Write(o.Out, o.format, o.color); werr != nil {
		return werr
	}
	return err
}

// classesOnce answers the LIST of IngressClasses from its first answer, so
// that deciding whether both ALBs serve the chain costs no request of its own.
type classesOnce struct {
	check.API
	done  bool
	items []unstructured.Unstructured
	err   error
}

func (c *classesOnce) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	if gvr != kube.IngressClasses || namespace != "" || selector != "" {
		return c.API.List(ctx, gvr, namespace, selector)
	}
	if !c.done {
		c.items, c.err = c.API.List(ctx, gvr, namespace, selector)
		c.done = true
	}
	return c.items, c.err
}

// withBothALBs is p with both flavors when the cluster's IngressClasses show
// both of IKS's ALBs, else p as it is: check's reader resolves auto then,
// and lists the classes again to report what went wrong reading them.
func withBothALBs(ctx context.Context, api check.API, p *chain.Params) *chain.Params {
	items, err := api.List(ctx, kube.IngressClasses, "", "")
	if err != nil {
		return p
	}
	classes, err := kube.IngressClassesOf(items)
	if err != nil {
		return p
	}
	pair := kube.BothALBs(classes)
	if pair == nil {
		return p
	}
	c := *p
	c.OnBothALBs(pair)
	return &c
}

// albReport is one ALB's side of a chain that two ALBs serve.
type albReport struct {
	Flavor  chain.Flavor  `json:"flavor"`
	Ingress string        `json:"ingress"`
	Report  *check.Report `json:"report,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// runPerALB checks a chain that both ALBs serve, each ALB's side on its own
// (its Ingress, its flavor's annotations or transport), and prints one
// report per ALB; the exit code is the worse of the two.
func (o *CheckOptions) runPerALB(ctx context.Context, api check.API, p *chain.Params) error {
	var reports []albReport
	var errs []error
	for _, f := range p.ALBFlavors() {
		pf := p.ForFlavor(f)
		report, err := o.evaluate(ctx, api, pf, o.portForward)
		r := albReport{Flavor: f, Ingress: pf.IstioNamespace + "/" + pf.IngressName, Report: report}
		if err != nil && report == nil {
			r.Error = err.Error()
		}
		reports = append(reports, r)
		errs = append(errs, err)
	}
	switch o.format {
	case check.FormatJSON, check.FormatYAML:
		data, err := json.MarshalIndent(map[string]any{"albs": reports}, "", "  ")
		if err != nil {
			return err
		}
		if o.format == check.FormatYAML {
			if data, err = yaml.JSONToYAML(data); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(o.Out, "%s\n", bytes.TrimRight(data, "\n")); err != nil {
			return err
		}
	default:
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(o.Out)
			}
			say(o.Out, "ALB %s (Ingress %s):", r.Flavor, r.Ingress)
			if r.Report == nil {
				say(o.Out, "  could not be checked: %s", r.Error)
				continue
			}
			if err := r.Report.Write(o.Out, o.format, o.color); err != nil {
				return err
			}
		}
	}
	return worstError(errs)
}

// worstError is the error of the worst outcome, ranked as for --contexts
// (nil when every side is clean).
func worstError(errs []error) error {
	var worst error
	worstCode := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		_, code := fleet.Classify(err)
		if worst == nil || code != worstCode && fleet.Worst(worstCode, code) == code {
			worst, worstCode = err, code
		}
	}
	return worst
}

// evaluate checks the chain p describes through api: it reads the chain,
// applies the rules, probes if asked (through portForward for
// --port-forward), and returns the report to print (nil when nothing could
// be read) with findingsError's verdict, or the read's error.
func (o *CheckOptions) evaluate(ctx context.Context, api check.API, p *chain.Params, portForward probe.PortForwarder) (*check.Report, error) {
	snap, err := check.Read(ctx, api, p)
	if err != nil {
		return nil, err
	}
	in := &check.Input{Params: p, Snapshot: snap, Now: o.now(), ExtraRoots: o.extraRoots}
	fs := check.Run(in)
	if o.Probe {
		fs = append(fs, o.probeWith(ctx, in, portForward)...)
		check.Sort(fs)
	}
	// Suppressed findings are gone for good; those below the output
	// threshold are only not printed, and still fail the run (as with
	// istioctl analyze, what is shown and what fails stay separate knobs).
	fs, suppressed := check.Suppress(fs, o.suppressions)
	shown, below := check.AtOrAbove(fs, o.outputThreshold)
	report := check.NewReport(shown)
	report.Summary.Suppressed, report.Summary.BelowOutputThreshold = suppressed, below
	report.Certificates = check.Certificates(in)
	// The chain is drawn from the findings that count; those below
	// --output-threshold are counted at their hop, not shown.
	report.Hops = check.Hops(in, fs, o.outputThreshold)
	return &report, findingsError(fs, o.threshold)
}

// findingsError is nil unless a finding reaches threshold.
func findingsError(fs []check.Finding, threshold check.Level) error {
	n := check.Reaching(fs, threshold)
	if n == 0 {
		return nil
	}
	what := "findings"
	if n == 1 {
		what = "finding"
	}
	return kube.WithCode(kube.ExitFindings, fmt.Errorf("check reported %d %s at or above level %s (--failure-threshold)", n, what, threshold))
}

// probe makes the ALB's handshake with the gateway at the address the flags
// choose, with the client identity from the cluster, held in memory only.
func (o *CheckOptions) probe(ctx context.Context, in *check.Input) []check.Finding {
	return o.probeWith(ctx, in, o.portForward)
}

// probeWith is probe for the chain in describes, port-forwarding (when
// --port-forward asks) through portForward: with --contexts each context
// forwards through its own API server.
func (o *CheckOptions) probeWith(ctx context.Context, in *check.Input, portForward probe.PortForwarder) []check.Finding {
	return probe.Run(ctx, in, probe.Options{Address: o.ProbeAddress, PortForward: o.PortForward, Timeout: o.ProbeTimeout}, portForward)
}
