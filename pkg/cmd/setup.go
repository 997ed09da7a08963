package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/plan"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// SetupOptions are the options of `kubectl albistio setup`.
type SetupOptions struct {
	ChainOptions
	WriteOptions
	genericiooptions.IOStreams
	CreateNamespace bool
	Wait            bool
	Timeout         time.Duration

	// Probe and ProbeAddress run check's live probe after writing.
	Probe        bool
	ProbeAddress string
	// FailureThreshold is the level of the closing check's findings that
	// makes setup exit 8; "none" reports them and exits 0.
	FailureThreshold string
	threshold        check.Level

	extraRoots   []*x509.Certificate
	now          func() time.Time
	istioVersion string
	// registered says the hop's Gateway of this mode listed the chain
	// before this run: then no run of the other mode has moved it since
	// (that run takes it off this mode's Gateway), and there is nothing
	// of the other mode to retire.
	registered bool
}

var setupExample = templates.Examples(`
	# Set up the whole chain for httpbin in httptools, with the walkthrough's environment variables set
	kubectl albistio setup -n httptools

	# Print every object in one stream for GitOps, validated by the API server, without writing
	kubectl albistio setup -n httptools --dry-run=server -o yaml

	# Right after "ibmcloud ks nlb-dns create": wait up to 10 minutes for IKS to create the gateway secret
	kubectl albistio setup -n httptools --create-namespace --wait --timeout 10m`)

// NewCmdSetup builds `kubectl albistio setup`.
func NewCmdSetup(cf *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SetupOptions{ChainOptions: newChainOptions(cf), WriteOptions: newWriteOptions(), IOStreams: streams, now: time.Now, Timeout: 5 * time.Minute}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set up the whole chain: secrets, gateway and ingress, validated before anything is written",
		Long: longDesc(`
			Run the secrets, gateway and ingress slices from one set of parameters. Everything is
			read and checked first (parameters, Istio's CRDs, namespaces, the ALB flavor, the
			gateway Service, the source secrets and their certificates), then every object is
			sent as a server-side dry run, and only when all of it holds are the objects that
			change written. The plan is printed before writing; a run with nothing to change
			writes nothing and says so. After IKS renews a certificate, setup updates exactly
			the copies that went stale.`),
		Example: setupExample,
		Args:    cobra.NoArgs,
		RunE:    runOptions(o),
	}
	o.addChainFlags(cmd)
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&o.CreateNamespace, "create-namespace", false, "Create the app namespace (-n) with istio-injection=enabled if it does not exist")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "Wait for IKS to create the gateway secret (it appears minutes after ibmcloud ks nlb-dns create)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits")
	cmd.Flags().BoolVar(&o.Probe, "probe", false, "After writing, make the ALB's mutual-TLS handshake with the gateway (at its LoadBalancer address) as check --probe does")
	cmd.Flags().StringVar(&o.ProbeAddress, "probe-address", "", "host:port to probe instead of the LoadBalancer address (implies --probe)")
	o.FailureThreshold = string(check.LevelError)
	cmd.Flags().StringVar(&o.FailureThreshold, "failure-threshold", o.FailureThreshold, "Exit with code 8 when the check that ends setup reports a finding of this level or worse: error, warning, info, or none (report, exit 0: e.g. while the gateway pods are still starting)")
	return cmd
}

// Complete resolves parameters, dry-run and printer.
func (o *SetupOptions) Complete() error {
	if err := o.WriteOptions.complete(); err != nil {
		return err
	}
	return o.ChainOptions.complete(chain.NeedAll)
}

// Validate reports missing or malformed parameters and flags, then reads
// and checks --ca-file.
func (o *SetupOptions) Validate() error {
	if err := o.ChainOptions.validate(); err != nil {
		return err
	}
	if o.FailureThreshold != "none" {
		var err error
		if o.threshold, err = check.ParseLevel(o.FailureThreshold); err != nil {
			return usage(fmt.Errorf("--failure-threshold: %w (or none)", err))
		}
	}
	if o.Timeout <= 0 {
		return usage(fmt.Errorf("--timeout %s must be positive", o.Timeout))
	}
	var err error
	o.extraRoots, err = readCAFile(o.CAFile)
	return err
}

// Run validates, plans, and writes the chain.
func (o *SetupOptions) Run(ctx context.Context) error {
	c, err := o.Clients()
	if err != nil {
		return err
	}
	// The check that ends setup answers from what setup read and wrote.
	c.RememberReads()
	return untilNoRace(o.ErrOut, "planning again", func() error { return o.runOnce(ctx, c) })
}

// runOnce is one round of read, plan, validate and write.
func (o *SetupOptions) runOnce(ctx context.Context, c *kube.Clients) error {
	objs, guards, newNamespace, err := o.render(ctx, c)
	if err != nil {
		return err
	}
	if o.DryRun == apply.DryRunClient {
		// setup has read the cluster to render: say, as kubectl apply
		// --dry-run=client does, what would be created, configured or left.
		return o.applyAndPrint(ctx, c, o.Out, objs)
	}

	// Validate every object with the API server before writing any.
	checked := objs
	if newNamespace != nil {
		// Objects in a namespace that does not exist yet cannot be dry-run.
		checked = withoutNamespace(objs, newNamespace.GetName())
	}
	dry := &apply.Applier{Clients: c, DryRun: apply.DryRunServer, Force: o.Force, Guards: guards}
	planned, err := dry.Apply(ctx, checked)
	if err != nil {
		return err
	}
	if newNamespace != nil {
		planned = mergeCreated(objs, planned)
	}
	if o.DryRun == apply.DryRunServer {
		return o.print(o.Out, planned)
	}
	var changing []apply.Result
	for _, r := range planned {
		if r.Op != apply.Unchanged {
			changing = append(changing, r)
		}
	}
	if len(changing) == 0 {
		say(o.ErrOut, "The chain %q is up to date: nothing to write.", o.Params.Name)
	} else {
		fmt.Fprintln(o.ErrOut, "Plan:")
		for _, r := range changing {
			verb := "create"
			if r.Op == apply.Configured {
				verb = "update"
			}
			say(o.ErrOut, "  %s %s", verb, apply.Ref(r.Object))
		}
		write := &apply.Applier{Clients: c, DryRun: apply.DryRunNone, Force: o.Force, Guards: guards}
		results, err := write.Apply(ctx, objectsOf(objs, changing))
		if perr := o.print(o.Out, results); perr != nil && err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
	}
	if o.Params.CertManager() {
		if err := o.waitForCertificates(ctx, c); err != nil {
			return err
		}
		if err := o.writeClientCAConfigMap(ctx, c, objs); err != nil {
			return err
		}
	}
	if err := o.retireOtherMode(ctx, c, planned); err != nil {
		return err
	}
	return o.check(ctx, planned)
}

// waitForCertificates waits, up to --timeout, until cert-manager has issued
// every Certificate of the hop: the Gateway and the Ingress name their
// Secrets, and the closing check would otherwise find them missing. A
// Certificate that does not get ready is named with what cert-manager said.
func (o *SetupOptions) waitForCertificates(ctx context.Context, c *kube.Clients) error {
	var names []string
	for _, e := range o.Params.Manifest() {
		if e.Kind == "Certificate" {
			names = append(names, e.Name)
		}
	}
	deadline := time.Now().Add(o.Timeout)
	for _, name := range names {
		for attempt := 0; ; attempt++ {
			u, err := c.Get(ctx, kube.Certificates, o.Params.IstioNamespace, name)
			if err != nil {
				return err
			}
			ready, why := certificateReady(u)
			if ready {
				if attempt > 0 {
					say(o.ErrOut, "certificate %s/%s is issued", o.Params.IstioNamespace, name)
				}
				break
			}
			left := time.Until(deadline)
			if left <= 0 {
				return kube.WithCode(kube.ExitPartial, fmt.Errorf("cert-manager has not issued certificate %s/%s after %s (%s): is cert-manager running? kubectl describe certificate -n %s %s shows its events; the rest of the chain is written, re-run setup once it is issued",
					o.Params.IstioNamespace, name, o.Timeout, why, o.Params.IstioNamespace, name))
			}
			if attempt == 0 || attempt%10 == 0 {
				say(o.ErrOut, "waiting for cert-manager to issue certificate %s/%s (%s; %s left)", o.Params.IstioNamespace, name, why, left.Round(time.Second))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(500*time.Millisecond, left)):
			}
		}
	}
	return nil
}

// certificateReady reads a cert-manager Certificate's Ready condition, and
// otherwise what it says instead. A Ready condition from before the latest
// spec change (its observedGeneration is older) does not count: the
// certificate is being issued again for the new spec.
func certificateReady(u *unstructured.Unstructured) (bool, string) {
	if u == nil {
		return false, "it does not exist"
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		if g, ok := m["observedGeneration"].(int64); ok && g < u.GetGeneration() {
			return false, "being issued again for its new spec"
		}
		if m["status"] == "True" {
			return true, ""
		}
		return false, fmt.Sprintf("Ready=%v: %v", m["status"], m["message"])
	}
	return false, "no Ready condition yet"
}

// check runs check's static rules (and the probe when asked) on what setup
// just wrote and prints the problems and the summary on stderr, so a
// script gets exit 8 when the chain it set up cannot work. planned is this
// round's plan, every change in it written by now: when the check itself
// fails (the API server went away after the writes), the error lists them
// and exits 7, as a failure after writing does; with nothing written it is
// the failure as it is (say 6, unreachable).
func (o *SetupOptions) check(ctx context.Context, planned []apply.Result) error {
	err := o.closingCheck(ctx)
	written := writtenOf(planned)
	var ke *kube.Error
	if err == nil || len(written) == 0 || errors.As(err, &ke) && ke.Code == kube.ExitFindings {
		return err
	}
	return kube.WithCode(kube.ExitPartial, fmt.Errorf("the closing check failed: %w\nwritten before the failure (all of the plan; only the check did not finish): %s. Re-run the same command to converge and check",
		err, strings.Join(written, ", ")))
}

func (o *SetupOptions) closingCheck(ctx context.Context) error {
	co := &CheckOptions{
		ChainOptions: o.ChainOptions, IOStreams: o.IOStreams,
		Probe: o.Probe || o.ProbeAddress != "", ProbeAddress: o.ProbeAddress, ProbeTimeout: 10 * time.Second,
		extraRoots: o.extraRoots, now: o.now,
	}
	// Each ALB's side on its own when both of IKS's ALBs serve the chain;
	// what the two share (the hop) is reported once.
	var fs []check.Finding
	seen := map[string]bool{}
	for _, flavor := range o.Params.ALBFlavors() {
		co.Params = o.Params.ForFlavor(flavor)
		// What setup just read or wrote is answered from memory: only what it
		// did not touch (IngressClasses, pods, the app Service, ...) is asked for.
		snap, err := check.Read(ctx, o.clients.Recall(), co.Params)
		if err != nil {
			return err
		}
		in := &check.Input{Params: co.Params, Snapshot: snap, Now: o.now(), ExtraRoots: o.extraRoots}
		got := check.Run(in)
		if co.Probe {
			got = append(got, co.probe(ctx, in)...)
		}
		for _, f := range got {
			if key := string(f.Code) + "|" + f.Object + "|" + f.Field + "|" + f.Message; !seen[key] {
				seen[key] = true
				fs = append(fs, f)
			}
		}
	}
	check.Sort(fs)
	var shown []check.Finding
	for _, f := range fs {
		if f.Level != check.LevelInfo || (co.Probe && strings.HasPrefix(string(f.Code), "ALB08")) {
			shown = append(shown, f)
		}
	}
	fmt.Fprintln(o.ErrOut, "check:")
	if err := check.NewReport(shown).Write(o.ErrOut, check.FormatText, false); err != nil {
		return err
	}
	if o.threshold == "" {
		return nil // --failure-threshold none: reported, not failed
	}
	return findingsError(fs, o.threshold)
}

// render reads and checks everything the chain needs and renders it in
// write order, with the guards that make its shared objects safe to write
// while other runs do the same. It writes nothing.
func (o *SetupOptions) render(ctx context.Context, c *kube.Clients) (render.Objects, map[string]apply.Guard, *corev1.Namespace, error) {
	p := o.Params
	istioVersion, err := c.IstioVersion(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := requireGatewayAPI(ctx, c, p); err != nil {
		return nil, nil, nil, err
	}
	o.istioVersion = istioVersion
	if err := requireNamespace(ctx, c, p.IstioNamespace, "--istio-namespace", "install Istio, or point --istio-namespace at where the ingress gateway runs"); err != nil {
		return nil, nil, nil, err
	}
	var newNamespace *corev1.Namespace
	if exists, err := namespaceExists(ctx, c, p.AppNamespace); err != nil {
		return nil, nil, nil, err
	} else if !exists {
		if !o.CreateNamespace {
			return nil, nil, nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("namespace %s (-n) does not exist: create it with sidecar injection on (kubectl create namespace %s; kubectl label namespace %s istio-injection=enabled), or pass --create-namespace", p.AppNamespace, p.AppNamespace, p.AppNamespace))
		}
		newNamespace = &corev1.Namespace{}
		newNamespace.Name = p.AppNamespace
	}
	if err := c.ResolveFlavor(ctx, p); err != nil {
		return nil, nil, nil, err
	}
	backend, err := gatewayBackend(ctx, c, p)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.Wait {
		if err := o.waitForGatewaySecret(ctx, c); err != nil {
			return nil, nil, nil, err
		}
	}
	secrets, err := planSecrets(ctx, c, p, o.extraRoots, o.now(), o.isDryRun())
	if err != nil {
		return nil, nil, nil, err
	}
	for _, n := range secrets.notes {
		say(o.ErrOut, "%s", n)
	}
	hop, err := plan.ReadHop(ctx, c, p, istioVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	_, o.registered = hop.Registry[p.ChainKey()]
	backend.VerifyDepth = secrets.depth
	ingress, err := albIngresses(p, backend)
	if err != nil {
		return nil, nil, nil, err
	}
	flavorNotice(o.ErrOut, p)
	var objs render.Objects
	if newNamespace != nil {
		objs = append(objs, render.Namespace(p))
	}
	gateway := render.GatewayObjects(p, istioVersion, hop.With(p))
	objs = append(objs, secrets.objects...)
	objs = append(objs, gateway...)
	objs = append(objs, ingress...)
	guards := secrets.guards
	guards[apply.Ref(gateway[0])] = apply.GuardFor(hop.Gateway)
	return objs, guards, newNamespace, nil
}

// waitForGatewaySecret polls for the secret IKS creates asynchronously after
// `ibmcloud ks nlb-dns create`, printing a progress line.
func (o *SetupOptions) waitForGatewaySecret(ctx context.Context, c *kube.Clients) error {
	p := o.Params
	deadline := time.Now().Add(o.Timeout)
	for attempt := 0; ; attempt++ {
		s, err := c.GetSecret(ctx, p.IstioNamespace, p.GatewaySecret)
		if err != nil {
			return err
		}
		if s != nil {
			if attempt > 0 {
				say(o.ErrOut, "gateway secret %s/%s is there", p.IstioNamespace, p.GatewaySecret)
			}
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("gave up after %s waiting for the gateway secret %s/%s: check ibmcloud ks nlb-dns ls --cluster <name> (the certificate status must be \"enabled\") and re-run", o.Timeout, p.IstioNamespace, p.GatewaySecret))
		}
		say(o.ErrOut, "waiting for IKS to create the gateway secret %s/%s (%s left)", p.IstioNamespace, p.GatewaySecret, left.Round(time.Second))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(5*time.Second, left)):
		}
	}
}

func namespaceExists(ctx context.Context, c *kube.Clients, name string) (bool, error) {
	u, err := c.Get(ctx, kube.Namespaces, "", name)
	return u != nil, err
}

func requireNamespace(ctx context.Context, c *kube.Clients, name, flag, fix string) error {
	ok, err := namespaceExists(ctx, c, name)
	if err != nil {
		return err
	}
	if !ok {
		return kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("namespace %s (%s) does not exist: %s", name, flag, fix))
	}
	return nil
}

func withoutNamespace(objs render.Objects, ns string) render.Objects {
	var out render.Objects
	for _, o := range objs {
		if o.GetNamespace() != ns && !(o.GetKind() == "Namespace" && o.GetName() == ns) {
			out = append(out, o)
		}
	}
	return out
}

// mergeCreated puts the objects that could not be dry-run (a namespace to
// be created and what goes into it) back into the plan, as creations.
func mergeCreated(all render.Objects, checked []apply.Result) []apply.Result {
	byRef := map[string]apply.Result{}
	for _, r := range checked {
		byRef[apply.Ref(r.Object)] = r
	}
	out := make([]apply.Result, 0, len(all))
	for _, o := range all {
		if r, ok := byRef[apply.Ref(o)]; ok {
			out = append(out, r)
		} else {
			out = append(out, apply.Result{Object: o, Op: apply.Created})
		}
	}
	return out
}

// objectsOf returns the rendered objects behind the changing results, in
// write order.
func objectsOf(all render.Objects, changing []apply.Result) render.Objects {
	want := map[string]bool{}
	for _, r := range changing {
		want[apply.Ref(r.Object)] = true
	}
	var out render.Objects
	for _, o := range all {
		if want[apply.Ref(o)] {
			out = append(out, o)
		}
	}
	return out
}

// writeClientCAConfigMap writes, in Gateway API mode with cert-manager, the
// Gateway's client-CA ConfigMap when cert-manager issued the hop's CA only
// during this run (the plan could not copy it yet), or renewed it.
func (o *SetupOptions) writeClientCAConfigMap(ctx context.Context, c *kube.Clients, planned render.Objects) error {
	p := o.Params
	if !p.GatewayAPI {
		return nil
	}
	ca, err := clientCAConfigMap(ctx, c, p)
	if err != nil {
		return err
	}
	if ca == nil {
		return kube.WithCode(kube.ExitPartial, fmt.Errorf("cert-manager reports certificate %s/%s issued, but secret %s/%s holds no tls.crt for the Gateway's client-CA ConfigMap %s: re-run setup",
			p.IstioNamespace, p.CASecret, p.IstioNamespace, p.CASecret, p.ClientCAConfigMap()))
	}
	cm := render.ClientCAConfigMap(p, ca.CertPEM, ca.Source, ca.SourceHash)
	for _, u := range planned {
		if apply.Ref(u) == apply.Ref(cm) && u.GetAnnotations()[chain.AnnotationSourceHash] == ca.SourceHash {
			return nil // planned and written with this very CA
		}
	}
	write := &apply.Applier{Clients: c, DryRun: apply.DryRunNone, Force: o.Force}
	results, err := write.Apply(ctx, render.Objects{cm})
	if perr := o.print(o.Out, results); perr != nil && err == nil {
		err = perr
	}
	return err
}

// retireOtherMode removes what the chain has in the other gateway mode (see
// CleanupOptions.retireOtherMode), after this mode's objects are written so
// that the chain keeps routing while it moves. Failing there, the error
// lists what this round wrote (planned), as a failed closing check does.
func (o *SetupOptions) retireOtherMode(ctx context.Context, c *kube.Clients, planned []apply.Result) error {
	if o.registered {
		return nil
	}
	co := &CleanupOptions{ChainOptions: o.ChainOptions, IOStreams: o.IOStreams, dryRun: apply.DryRunNone}
	var done []string
	err := co.retireOtherMode(ctx, c, o.Params, o.istioVersion, &done)
	var ke *kube.Error
	if err == nil || errors.As(err, &ke) && ke.Code == kube.ExitPartial {
		return err
	}
	return kube.WithCode(kube.ExitPartial, fmt.Errorf("the chain is written, but removing what it had in the other gateway mode failed: %w\nwritten before the failure (all of the plan%s): %s. Re-run the same command to finish and check",
		err, doneNote(done), strings.Join(writtenOf(planned), ", ")))
}

// writtenOf names the objects of a plan that were created or changed.
func writtenOf(planned []apply.Result) []string {
	var written []string
	for _, r := range planned {
		if r.Op != apply.Unchanged {
			written = append(written, apply.Ref(r.Object)+" ("+string(r.Op)+")")
		}
	}
	return written
}

// doneNote adds what was already removed of the other mode, if anything.
func doneNote(done []string) string {
	if len(done) == 0 {
		return ""
	}
	return "; of the other mode, already removed or updated: " + strings.Join(done, ", ")
}
