// Package fleet checks many chains in one run: every chain of a cluster
// (check -A) and the chains of many kubeconfig contexts (check --contexts,
// --all-contexts), each with check's own engine. It fans the work out with
// bounded parallelism, keeps one target's failure from hiding the others,
// sums each target up in one line and turns the worst outcome into the exit
// code.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/plan"
)

// ContextParallelism is how many kubeconfig contexts are checked at once.
// A remote cluster's check is mostly waiting (a TLS handshake and two or
// three round trips), so the contexts of a fleet of 20 clusters all wait
// at once: their check takes about one context's waits, not three or five.
const ContextParallelism = 20

// ServerParallelism is how many of those contexts may address one API
// server at once (contexts of one cluster, per namespace or per user).
// Their checks share that server's CPU, and the plugin's: past 8 at once a
// local server answers no sooner and the plugin spends more (measured with
// `make bench`'s CheckContexts, 20 users of one server: 4.8× one context's
// time at 8, 5.9× at 20). Each check issues at most 8 requests at once, so
// one server sees at most 64 from this process.
const ServerParallelism = 8

// ChainParallelism is how many chains of one cluster are checked at once;
// their reads share one Memo, so a hop's objects are read once whichever
// chain asks first.
const ChainParallelism = 4

// Outcome is how checking one target (a chain or a context) ended.
type Outcome string

const (
	// OutcomeClean: checked, and no finding reaches --failure-threshold.
	OutcomeClean Outcome = "clean"
	// OutcomeFindings: checked, and a finding reaches --failure-threshold (exit 8).
	OutcomeFindings Outcome = "findings"
	// OutcomeInvalid: what the cluster holds cannot be checked as a chain (exit 3).
	OutcomeInvalid Outcome = "invalid"
	// OutcomeForbidden: RBAC forbids a read check needs (exit 5).
	OutcomeForbidden Outcome = "forbidden"
	// OutcomeUnreachable: the API server cannot be reached, or timed out (exit 6).
	OutcomeUnreachable Outcome = "unreachable"
	// OutcomeError: anything else (exit 1; 2 for a context whose kubeconfig
	// entry cannot be used).
	OutcomeError Outcome = "error"
)

// worstFirst orders exit codes from the worst outcome to the best: a target
// that could not be checked at all is worse than one with findings, and of
// those, the one the operator knows least about comes first.
var worstFirst = []int{kube.ExitUnreachable, kube.ExitForbidden, kube.ExitError, kube.ExitUsage, kube.ExitInvalidInput, kube.ExitFindings, 0}

func rank(code int) int {
	for i, c := range worstFirst {
		if c == code {
			return len(worstFirst) - i
		}
	}
	return len(worstFirst) // unknown codes count as errors
}

// Worst is the exit code of the worst outcome among codes (0 for none).
func Worst(codes ...int) int {
	worst := 0
	for _, c := range codes {
		if rank(c) > rank(worst) {
			worst = c
		}
	}
	return worst
}

// Classify turns a check's error into its outcome and exit code: nil is
// clean, kube.ExitFindings findings, and the others by their exit code.
func Classify(err error) (Outcome, int) {
	if err == nil {
		return OutcomeClean, 0
	}
	code := kube.ExitError
	var ke *kube.Error
	if errors.As(err, &ke) {
		code = ke.Code
	}
	switch code {
	case kube.ExitFindings:
		return OutcomeFindings, code
	case kube.ExitInvalidInput:
		return OutcomeInvalid, code
	case kube.ExitForbidden:
		return OutcomeForbidden, code
	case kube.ExitUnreachable:
		return OutcomeUnreachable, code
	}
	return OutcomeError, code
}

// Each calls fn(ctx, i) for i in [0, n), at most parallelism at once, and
// returns when every call has returned. Calls not yet started when ctx is
// done are still made (fn sees ctx's error on its first request), so every
// index gets its result.
func Each(ctx context.Context, n, parallelism int, fn func(ctx context.Context, i int)) {
	eachGrouped(ctx, make([]string, n), parallelism, parallelism, fn)
}

// CheckFunc checks one chain through api and returns its report (nil when
// nothing could be read) and check's error: nil when no finding reaches
// --failure-threshold, one with kube.ExitFindings when one does, else the
// failure.
type CheckFunc func(ctx context.Context, api check.API, p *chain.Params) (*check.Report, error)

// ChainResult is one chain of a cluster, checked.
type ChainResult struct {
	// Chain is "<app-namespace>/<chain-name>" (the Ingress's name when the
	// app could not be told).
	Chain string `json:"chain"`
	// Shape is "plugin" (the plugin's labels) or "walkthrough" (unlabelled).
	Shape plan.Shape `json:"shape"`
	// Ingress is "namespace/name".
	Ingress string `json:"ingress"`
	// ALB names the ALB whose side of the chain this is, when two ALBs
	// serve the chain (an Ingress each); another result is the other side.
	ALB  chain.Flavor `json:"alb,omitempty"`
	Host string       `json:"host,omitempty"`
	// Params are the parameters the chain was checked with, as flags.
	Params   map[string]string `json:"params,omitempty"`
	Outcome  Outcome           `json:"outcome"`
	ExitCode int               `json:"exitCode"`
	Error    string            `json:"error,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Report   *check.Report     `json:"-"`
}

// ClusterResult is every chain of one cluster, checked (check -A).
type ClusterResult struct {
	Chains []ChainResult
	// Requests is how many API requests discovery and the checks made.
	Requests int
}

// ExitCode is the worst outcome of the chains (0 when there are none).
func (c *ClusterResult) ExitCode() int {
	codes := make([]int, len(c.Chains))
	for i, ch := range c.Chains {
		codes[i] = ch.ExitCode
	}
	return Worst(codes...)
}

// CheckCluster finds every chain of the cluster behind api (plan.Discover,
// with defaults for what the objects do not say) and checks each with fn,
// ChainParallelism at once, all through one Memo. The error is discovery's:
// a chain whose check fails is a ChainResult with that outcome.
func CheckCluster(ctx context.Context, api check.API, defaults *chain.Params, fn CheckFunc) (*ClusterResult, error) {
	memo := NewMemo(api)
	found, err := plan.Discover(ctx, memo, defaults)
	if err != nil {
		return nil, err
	}
	res := &ClusterResult{Chains: make([]ChainResult, len(found))}
	Each(ctx, len(found), ChainParallelism, func(ctx context.Context, i int) {
		f := found[i]
		r := ChainResult{Chain: f.Key(), Shape: f.Shape, Ingress: f.Ingress, ALB: f.ALB, Notes: f.Notes}
		if f.Params != nil {
			r.Host = f.Params.Host
			r.Params = paramFlags(f.Params)
		}
		if f.Problem != "" {
			r.Outcome, r.ExitCode, r.Error = OutcomeInvalid, kube.ExitInvalidInput, "cannot check this chain: "+f.Problem
			if f.Err != nil {
				// Reading it failed: forbidden, unreachable, ... as for a check.
				r.Outcome, r.ExitCode = Classify(f.Err)
			}
			res.Chains[i] = r
			return
		}
		report, err := fn(ctx, memo, f.Params)
		r.Report = report
		r.Outcome, r.ExitCode = Classify(err)
		if err != nil && r.Outcome != OutcomeFindings {
			r.Error = err.Error()
		}
		res.Chains[i] = r
	})
	res.Requests = memo.Requests()
	return res, nil
}

// paramFlags are the chain's parameters as the flags that would check it
// alone, so that a user can re-run one chain of an -A report.
func paramFlags(p *chain.Params) map[string]string {
	m := map[string]string{
		"namespace":            p.AppNamespace,
		"service":              p.Service,
		"port":                 fmt.Sprint(p.Port),
		"host":                 p.Host,
		"chain-name":           p.Name,
		"istio-namespace":      p.IstioNamespace,
		"alb-secret":           p.ALBSecret,
		"alb-secret-namespace": p.ALBSecretNamespace,
		"gateway-domain":       p.GatewayDomain,
		"gateway-secret":       p.GatewaySecret,
		"gateway-name":         p.GatewayName,
		"gateway-service":      p.GatewayService,
		"gateway-service-port": fmt.Sprint(p.GatewayServicePort),
		"gateway-selector":     p.SelectorString(),
		"alb-flavor":           string(p.Flavor),
		"ingress-class":        p.IngressClass,
		"client-secret":        p.ClientSecret,
		"ingress-name":         p.IngressName,
		"virtualservice-name":  p.VirtualServiceName,
	}
	for i, path := range p.Paths {
		m[fmt.Sprintf("path[%d]", i)] = path
	}
	for k, v := range m {
		if v == "" || v == "0" {
			delete(m, k)
		}
	}
	return m
}

// ContextResult is one kubeconfig context, checked: its one chain (Report)
// or, with -A, every chain it holds (Cluster).
type ContextResult struct {
	Context  string
	Outcome  Outcome
	ExitCode int
	Error    string
	Report   *check.Report
	Cluster  *ClusterResult
}

// ContextFunc checks one context. The result's Context is filled in by
// CheckContexts.
type ContextFunc func(ctx context.Context, name string) ContextResult

// CheckContexts runs fn for every context, ContextParallelism at once and
// ServerParallelism at once per API server (serverOf names a context's;
// contexts it cannot tell share ""), and returns the results in the order
// of names. One context's failure (an API server down, a denial) is its own
// result and never stops the others.
func CheckContexts(ctx context.Context, names []string, serverOf func(name string) string, fn ContextFunc) []ContextResult {
	out := make([]ContextResult, len(names))
	groups := make([]string, len(names))
	for i, n := range names {
		groups[i] = serverOf(n)
	}
	eachGrouped(ctx, groups, ContextParallelism, ServerParallelism, func(ctx context.Context, i int) {
		r := fn(ctx, names[i])
		r.Context = names[i]
		out[i] = r
	})
	return out
}

// eachGrouped is Each over len(groups) calls, at most parallelism at once
// and at most perGroup at once among the calls of one group. Each call
// takes its group's slot before a global one, so calls waiting for a busy
// group never hold a slot another group could use.
func eachGrouped(ctx context.Context, groups []string, parallelism, perGroup int, fn func(ctx context.Context, i int)) {
	parallelism, perGroup = max(parallelism, 1), max(perGroup, 1)
	slots := make(chan struct{}, parallelism)
	groupSlots := map[string]chan struct{}{}
	for _, g := range groups {
		if groupSlots[g] == nil {
			groupSlots[g] = make(chan struct{}, perGroup)
		}
	}
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			gs := groupSlots[g]
			gs <- struct{}{}
			defer func() { <-gs }()
			slots <- struct{}{}
			defer func() { <-slots }()
			fn(ctx, i)
		})
	}
	wg.Wait()
}

// SingleChain is a ContextResult of one chain's check: its report and
// check's error.
func SingleChain(report *check.Report, err error) ContextResult {
	r := ContextResult{Report: report}
	r.Outcome, r.ExitCode = Classify(err)
	if err != nil && r.Outcome != OutcomeFindings {
		r.Error = err.Error()
	}
	return r
}

// AllChains is a ContextResult of -A in one context: the cluster's result,
// or discovery's error.
func AllChains(c *ClusterResult, err error) ContextResult {
	if err != nil {
		r := ContextResult{}
		r.Outcome, r.ExitCode = Classify(err)
		r.Error = err.Error()
		return r
	}
	code := c.ExitCode()
	r := ContextResult{Cluster: c, ExitCode: code, Outcome: outcomeOfCode(code)}
	return r
}

func outcomeOfCode(code int) Outcome {
	switch code {
	case 0:
		return OutcomeClean
	case kube.ExitFindings:
		return OutcomeFindings
	case kube.ExitInvalidInput:
		return OutcomeInvalid
	case kube.ExitForbidden:
		return OutcomeForbidden
	case kube.ExitUnreachable:
		return OutcomeUnreachable
	}
	return OutcomeError
}
