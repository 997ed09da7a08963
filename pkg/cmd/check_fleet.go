package cmd

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/fleet"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/probe"
)

// check -A, --contexts and --all-contexts: the flags are wired here, the
// work is pkg/fleet's (fan-out, outcomes, output) and pkg/plan's (finding
// every chain of a cluster).

// fleetState is what Complete resolves for a run over many chains.
type fleetState struct {
	// changed says whether a flag was given (cobra's Flags().Changed); nil
	// when the options were built in code.
	changed func(name string) bool
	// contexts are the kubeconfig contexts to check, in order; nil for the
	// current one alone (-A without --contexts).
	contexts []string
	// params are each context's chain (not with -A), by context.
	params map[string]*chain.Params
	// paramErrs are the contexts whose chain could not be resolved (their
	// namespace, say), by context.
	paramErrs map[string]error
	// defaults are -A's fallbacks for what a chain's objects do not say.
	defaults *chain.Params
	// configs are the contexts' client configs, from one read of the
	// kubeconfig.
	configs map[string]*contextConfig
	// clientsFor builds a context's API, its port-forwarder and its
	// Identity (tests replace it).
	clientsFor func(context string) (check.API, probe.PortForwarder, string, error)
	// memos share reads between contexts of one Identity.
	memos fleet.Memos
}

// serverOf is the API server a context addresses, as kubectl would reach
// it (--server overrides), so that fleet bounds the checks one server
// answers at once; "" when the context's entry cannot be used (its check
// then fails without contacting anything) or is not known.
func (st *fleetState) serverOf(context string) string {
	c := st.configs[context]
	if c == nil {
		return ""
	}
	cfg, err := c.ToRESTConfig()
	if err != nil {
		return ""
	}
	return cfg.Host
}

// fleetMode reports whether the run checks more than the one chain the
// flags name in the current context.
func (o *CheckOptions) fleetMode() bool {
	return o.AllNamespaces || len(o.Contexts) > 0 || o.AllContexts
}

// chainNamingFlags name one chain; -A reads them from each chain's objects.
var chainNamingFlags = []string{
	"service", "port", "path", "host", "chain-name", "istio-namespace", "gateway-service", "gateway-service-port",
	"gateway-name", "virtualservice-name", "ingress-name",
}

func (o *CheckOptions) flagChanged(name string) bool {
	return o.fleet.changed != nil && o.fleet.changed(name)
}

// validateFleet refuses combinations that cannot mean one thing.
func (o *CheckOptions) validateFleet() error {
	if len(o.Contexts) > 0 && o.AllContexts {
		return usage(fmt.Errorf("--contexts and --all-contexts both say which contexts to check: pass one"))
	}
	if (len(o.Contexts) > 0 || o.AllContexts) && o.ConfigFlags != nil && o.ConfigFlags.Context != nil && *o.ConfigFlags.Context != "" {
		return usage(fmt.Errorf("--context names one context and --contexts/--all-contexts the ones to check: pass one"))
	}
	if o.fleetMode() && o.ProbeAddress != "" {
		return usage(fmt.Errorf("--probe-address names one gateway, and -A, --contexts and --all-contexts check chains behind many: use --probe (each gateway's LoadBalancer address) or --port-forward"))
	}
	if o.AllNamespaces {
		var given []string
		for _, name := range chainNamingFlags {
			if o.flagChanged(name) {
				given = append(given, "--"+name)
			}
		}
		if len(given) > 0 {
			return usage(fmt.Errorf("-A reads each chain's parameters from its objects, so %s cannot go with it: drop %s, or check one chain without -A", strings.Join(given, ", "), map[bool]string{true: "it", false: "them"}[len(given) == 1]))
		}
	}
	return nil
}

// completeFleet resolves the contexts and each one's chain (or -A's
// defaults), reading the kubeconfig but contacting no cluster.
func (o *CheckOptions) completeFleet() error {
	if err := o.validateFleet(); err != nil {
		return err
	}
	st := &o.fleet
	if st.clientsFor == nil {
		st.clientsFor = o.contextClients
	}
	need := chain.NeedAll
	if o.AllNamespaces {
		need = chain.Requirement{}
	}
	// The flags are checked once, before any context is looked at: a bad
	// --port is the same mistake in every context.
	ns := "default"
	if len(o.Contexts) == 0 && !o.AllContexts {
		var err error
		if ns, _, err = o.ConfigFlags.ToRawKubeConfigLoader().Namespace(); err != nil {
			return usage(fmt.Errorf("cannot resolve the namespace from the kubeconfig: %w (pass -n, or fix --kubeconfig/--context)", err))
		}
	}
	p, err := o.Flags.Resolve(ns, o.Getenv, need)
	if err != nil {
		return usage(err)
	}
	o.Params = p
	if o.AllNamespaces {
		st.defaults = p
	}
	if len(o.Contexts) == 0 && !o.AllContexts {
		return nil // -A in the current context
	}
	if err := checkTimeoutFlag(o.ConfigFlags); err != nil {
		return err
	}
	// The kubeconfig is read once: each context's client config is made
	// from that copy (reading it per context would parse the whole file,
	// every context's entry in it, once per context).
	loader := o.ConfigFlags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return usage(fmt.Errorf("cannot load the kubeconfig: %w (check --kubeconfig and $KUBECONFIG)", err))
	}
	var known []string
	for name := range raw.Contexts {
		known = append(known, name)
	}
	slices.Sort(known)
	if o.AllContexts {
		if len(known) == 0 {
			return usage(fmt.Errorf("--all-contexts: the kubeconfig has no contexts"))
		}
		st.contexts = known
	} else {
		seen := map[string]bool{}
		var unknown []string
		for _, c := range o.Contexts {
			c = strings.TrimSpace(c)
			if c == "" || seen[c] {
				continue
			}
			seen[c] = true
			if _, ok := raw.Contexts[c]; !ok {
				unknown = append(unknown, fmt.Sprintf("%q", c))
			}
			st.contexts = append(st.contexts, c)
		}
		if len(unknown) > 0 {
			return usage(fmt.Errorf("--contexts: the kubeconfig has no context %s (it has: %s)", strings.Join(unknown, ", "), strings.Join(known, ", ")))
		}
		if len(st.contexts) == 0 {
			return usage(fmt.Errorf("--contexts names no context"))
		}
	}
	st.configs = map[string]*contextConfig{}
	for _, c := range st.contexts {
		st.configs[c] = &contextConfig{
			cc:   clientcmd.NewNonInteractiveClientConfig(raw, c, configOverrides(o.ConfigFlags), loader.ConfigAccess()),
			wrap: o.ConfigFlags.WrapConfigFn,
		}
	}
	if o.AllNamespaces {
		return nil
	}
	// Each context's chain: -n, else that context's namespace.
	st.params, st.paramErrs = map[string]*chain.Params{}, map[string]error{}
	for _, c := range st.contexts {
		ns, _, err := st.configs[c].cc.Namespace()
		if err == nil {
			var p *chain.Params
			if p, err = o.Flags.Resolve(ns, o.Getenv, need); err == nil {
				st.params[c] = p
				continue
			}
		}
		st.paramErrs[c] = kube.WithCode(kube.ExitUsage, fmt.Errorf("context %s: %w", c, err))
	}
	return nil
}

// checkTimeoutFlag refuses a --request-timeout client-go would misread, as
// kube.NewClients does for kubectl's own flags.
func checkTimeoutFlag(cf *genericclioptions.ConfigFlags) error {
	if cf.Timeout == nil || *cf.Timeout == "" {
		return nil
	}
	if d, err := clientcmd.ParseTimeout(*cf.Timeout); err == nil && d >= 0 {
		return nil
	}
	return usage(fmt.Errorf("invalid --request-timeout %q: want a duration such as 30s or 2m, or a whole number of seconds; 0 means no timeout", *cf.Timeout))
}

// configOverrides are kubectl's flags (--server, --token, --as, -n, ...) as
// overrides of every context's kubeconfig entry, as kubectl applies them to
// the one context it uses.
func configOverrides(f *genericclioptions.ConfigFlags) *clientcmd.ConfigOverrides {
	o := &clientcmd.ConfigOverrides{ClusterDefaults: clientcmd.ClusterDefaults}
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	str(&o.AuthInfo.ClientCertificate, f.CertFile)
	str(&o.AuthInfo.ClientKey, f.KeyFile)
	str(&o.AuthInfo.Token, f.BearerToken)
	str(&o.AuthInfo.Impersonate, f.Impersonate)
	str(&o.AuthInfo.ImpersonateUID, f.ImpersonateUID)
	str(&o.AuthInfo.Username, f.Username)
	str(&o.AuthInfo.Password, f.Password)
	if f.ImpersonateGroup != nil {
		o.AuthInfo.ImpersonateGroups = *f.ImpersonateGroup
	}
	if f.ImpersonateUserExtra != nil && len(*f.ImpersonateUserExtra) > 0 {
		extra := map[string][]string{}
		for _, kv := range *f.ImpersonateUserExtra {
			if k, v, ok := strings.Cut(kv, "="); ok {
				extra[k] = append(extra[k], v)
			}
		}
		o.AuthInfo.ImpersonateUserExtra = extra
	}
	str(&o.ClusterInfo.Server, f.APIServer)
	str(&o.ClusterInfo.TLSServerName, f.TLSServerName)
	str(&o.ClusterInfo.CertificateAuthority, f.CAFile)
	str(&o.ClusterInfo.ProxyURL, f.ProxyURL)
	if f.Insecure != nil {
		o.ClusterInfo.InsecureSkipTLSVerify = *f.Insecure
	}
	if f.DisableCompression != nil {
		o.ClusterInfo.DisableCompression = *f.DisableCompression
	}
	str(&o.Context.Cluster, f.ClusterName)
	str(&o.Context.AuthInfo, f.AuthInfoName)
	str(&o.Context.Namespace, f.Namespace)
	str(&o.Timeout, f.Timeout)
	return o
}

// contextConfig is one context's client config; it serves kube.NewClients
// and kube.PortForward as kubectl's flags would for that context.
type contextConfig struct {
	cc   clientcmd.ClientConfig
	wrap func(*rest.Config) *rest.Config

	once sync.Once
	cfg  *rest.Config
	err  error
}

var _ genericclioptions.RESTClientGetter = (*contextConfig)(nil)

func (c *contextConfig) ToRESTConfig() (*rest.Config, error) {
	c.once.Do(func() {
		c.cfg, c.err = c.cc.ClientConfig()
		if c.err == nil && c.wrap != nil {
			c.cfg = c.wrap(c.cfg)
		}
	})
	if c.err != nil {
		return nil, c.err
	}
	return rest.CopyConfig(c.cfg), nil
}

func (c *contextConfig) ToRawKubeConfigLoader() clientcmd.ClientConfig { return c.cc }

func (c *contextConfig) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return nil, errors.New("check --contexts builds no discovery client")
}

func (c *contextConfig) ToRESTMapper() (meta.RESTMapper, error) {
	return nil, errors.New("check --contexts builds no REST mapper")
}

// contextClients builds a context's API clients, port-forwarder and
// Identity.
func (o *CheckOptions) contextClients(name string) (check.API, probe.PortForwarder, string, error) {
	cc := o.fleet.configs[name]
	cfg, err := cc.ToRESTConfig()
	if err != nil {
		// A context whose entry cannot be used: nothing was contacted.
		return nil, nil, "", kube.WithCode(kube.ExitUsage, fmt.Errorf("cannot load the kubeconfig for context %s: %w", name, err))
	}
	identity, _ := fleet.Identity(cfg)
	c, err := kube.NewClients(cc)
	if err != nil {
		var ke *kube.Error
		if errors.As(err, &ke) {
			return nil, nil, "", err
		}
		return nil, nil, "", kube.WithCode(kube.ExitUsage, err)
	}
	pf := func(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
		return kube.PortForward(ctx, cc, namespace, pod, port)
	}
	return c, pf, identity, nil
}

// RunFleet checks every chain of the cluster (-A), or each context
// (--contexts, --all-contexts), prints the summary lines and reports, and
// returns the worst outcome as the error's exit code.
func (o *CheckOptions) RunFleet(ctx context.Context) error {
	// Many checks allocate much and live briefly: collecting garbage less
	// often saves a fifth of the CPU for the price of a few more MB.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	st := &o.fleet
	if st.contexts == nil {
		api := o.api
		if api == nil {
			c, err := o.Clients()
			if err != nil {
				return err
			}
			api = c
		}
		res, err := fleet.CheckCluster(ctx, api, st.defaults, o.chainCheck(o.portForward))
		if err != nil {
			return err
		}
		if err := fleet.WriteCluster(o.Out, res, o.format, o.color); err != nil {
			return err
		}
		return fleetError(res.ExitCode(), "chain", res.Summary())
	}
	results := fleet.CheckContexts(ctx, st.contexts, st.serverOf, o.checkContext)
	if err := fleet.WriteContexts(o.Out, results, o.format, o.color); err != nil {
		return err
	}
	return fleetError(fleet.ContextsExitCode(results), "context", fmt.Sprintf("%d contexts: %s", len(results), fleet.ContextsTally(results)))
}

// checkContext checks one context: its chain, or with -A all of them.
func (o *CheckOptions) checkContext(ctx context.Context, name string) fleet.ContextResult {
	st := &o.fleet
	if err := st.paramErrs[name]; err != nil {
		return fleet.SingleChain(nil, err)
	}
	api, pf, identity, err := st.clientsFor(name)
	if err != nil {
		return fleet.SingleChain(nil, err)
	}
	// Contexts that reach one API server as one user (one per namespace,
	// say) read what they share once.
	memo := st.memos.For(identity, api)
	if o.AllNamespaces {
		return fleet.AllChains(fleet.CheckCluster(ctx, memo, st.defaults, o.chainCheck(pf)))
	}
	// Each context's check gets its own parameters: Read settles the
	// flavor in them from that cluster's IngressClasses.
	p := *st.params[name]
	return fleet.SingleChain(o.evaluate(ctx, memo, &p, pf))
}

// chainCheck is evaluate as fleet's CheckFunc.
func (o *CheckOptions) chainCheck(pf probe.PortForwarder) fleet.CheckFunc {
	return func(ctx context.Context, api check.API, p *chain.Params) (*check.Report, error) {
		return o.evaluate(ctx, api, p, pf)
	}
}

// fleetError is the run's error for the worst exit code: nil when every
// target is clean, else a one-line summary carrying the code.
func fleetError(code int, what, summary string) error {
	switch code {
	case 0:
		return nil
	case kube.ExitFindings:
		return kube.WithCode(code, fmt.Errorf("check found problems: %s (findings count at or above --failure-threshold)", summary))
	}
	return kube.WithCode(code, fmt.Errorf("not every %s could be checked: %s (exit code %d, the worst outcome)", what, summary, code))
}
