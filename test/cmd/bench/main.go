// Command bench measures kubectl-albistio against kubectl on a real
// kube-apiserver + etcd (the end-to-end tests' cluster) and prints one table:
// start-up, binary size, API requests on an empty and on a loaded cluster,
// wall time at scale, and discovery with and without kubectl's disk cache.
// Every timing is a ratio of paired, interleaved runs made in this one run,
// since the machines it runs on are shared and noisy. `make bench` runs it:
//
//	cd test && go run ./cmd/bench -plugin-dir ../bin -repo .. -out ../bench/RESULTS.md
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/test/bench"
	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

type config struct {
	pluginDir string
	repo      string
	out       string
	startupN  int
	scaleN    int
	perKind   int
	workers   int
	skipSize  bool
	strict    bool
}

func main() {
	var c config
	flag.StringVar(&c.pluginDir, "plugin-dir", os.Getenv("ALBISTIO_PLUGIN_DIR"), "directory holding the kubectl-albistio to measure (make build puts it in bin/)")
	flag.StringVar(&c.repo, "repo", "..", "root of the plugin's module, for the size builds")
	flag.StringVar(&c.out, "out", "", "write the results as Markdown to this file too (bench/RESULTS.md)")
	flag.IntVar(&c.startupN, "n", 21, "paired rounds for start-up (median of these)")
	flag.IntVar(&c.scaleN, "scale-n", 11, "paired rounds for the timings on the loaded cluster")
	flag.IntVar(&c.perKind, "objects", 5000, "Ingresses, VirtualServices and Secrets each to load into other namespaces")
	flag.IntVar(&c.workers, "workers", 16, "parallel creates while loading")
	flag.BoolVar(&c.skipSize, "skip-size", false, "skip the binary size builds")
	flag.BoolVar(&c.strict, "strict", false, "exit 1 when a figure misses its target")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the results table.
type row struct {
	figure, ours, theirs, ratio, target, result string
}

type report struct {
	machineBefore, machineAfter string
	versions                    string
	rows                        []row
	sections                    []string // Markdown sections after the table
	commands                    []string
	notes                       []string
}

func (r *report) add(figure, ours, theirs, ratio, target string, pass *bool) {
	res := "info"
	if pass != nil {
		res = "FAIL"
		if *pass {
			res = "pass"
		}
	}
	r.rows = append(r.rows, row{figure, ours, theirs, ratio, target, res})
	fmt.Printf("  %-58s %-22s %-22s %-8s %-12s %s\n", figure, ours, theirs, ratio, target, res)
}

func ptr(b bool) *bool { return &b }

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

// bench is everything the steps share.
type benchEnv struct {
	cfg     config
	ctx     context.Context
	cl      *cluster.Cluster
	kube    kubernetes.Interface
	p       fixtures.Params
	caFile  string
	warm    bench.Env // HOME with a warm kubectl disk cache, shared by every timed run
	tmp     string
	plugin  string    // path of the plugin binary
	noop    bench.Env // runs kubectl-noop, a plugin that is true(1): the floor of kubectl's plugin lookup
	hasChk  bool
	refs    string // kubectl get -f file of the objects check reads
	render  string // setup --dry-run=client -o yaml output
	rep     *report
	homeSeq int
}

func run(cfg config) error {
	if cfg.pluginDir == "" {
		return errors.New("no plugin: pass -plugin-dir (make bench builds bin/kubectl-albistio)")
	}
	var err error
	if cfg.pluginDir, err = filepath.Abs(cfg.pluginDir); err != nil {
		return err
	}
	if cfg.repo, err = filepath.Abs(cfg.repo); err != nil {
		return err
	}
	b := &benchEnv{cfg: cfg, rep: &report{}, plugin: filepath.Join(cfg.pluginDir, "kubectl-albistio")}
	if _, err := os.Stat(b.plugin); err != nil {
		return fmt.Errorf("%s: %w (run make build)", b.plugin, err)
	}
	b.rep.machineBefore = machine()
	fmt.Println(b.rep.machineBefore)

	b.tmp, err = os.MkdirTemp("", "albistio-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	b.ctx = ctx

	fmt.Println("\n  figure                                                     ours                   kubectl's              ratio    target       result")
	if !cfg.skipSize {
		step("binary size")
		if err := b.size(); err != nil {
			return err
		}
	}

	step("starting the test cluster (etcd + kube-apiserver with Istio's CRDs)")
	start := time.Now()
	b.cl, err = cluster.Start(ctx, cluster.Options{Dir: filepath.Join(b.tmp, "cluster")})
	if err != nil {
		return err
	}
	defer b.cl.Stop()
	fmt.Printf("ready in %s at %s\n", time.Since(start).Round(100*time.Millisecond), b.cl.Server)
	if b.kube, err = kubernetes.NewForConfig(b.cl.RESTConfig()); err != nil {
		return err
	}
	b.warm = bench.Env{PluginDir: cfg.pluginDir, Kubeconfig: b.cl.Kubeconfig, Home: filepath.Join(b.tmp, "home-warm")}
	if err := os.MkdirAll(b.warm.Home, 0o700); err != nil {
		return err
	}
	if err := b.world(); err != nil {
		return err
	}
	b.rep.versions = b.versions()

	step("start-up: %d paired, interleaved rounds", cfg.startupN)
	if err := b.startup(); err != nil {
		return err
	}

	step("API requests and discovery on the empty cluster")
	empty, err := b.requests()
	if err != nil {
		return err
	}

	step("loading %d Ingresses, %d VirtualServices, %d Secrets into other namespaces", cfg.perKind, cfg.perKind, cfg.perKind)
	opts := bench.DefaultLoad("load")
	opts.Ingresses, opts.VirtualServices, opts.Secrets, opts.Workers = cfg.perKind, cfg.perKind, cfg.perKind, cfg.workers
	loaded, err := bench.Load(ctx, b.cl.RESTConfig(), opts)
	if err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	fmt.Println(loaded)
	b.rep.add("loading the cluster (client-go, "+strconv.Itoa(cfg.workers)+" parallel creates)", fmt.Sprintf("%d objects", loaded.Total()), "", "", "", nil)
	b.rep.notes = append(b.rep.notes, "Loaded "+loaded.String()+".")

	step("API requests and discovery on the loaded cluster")
	full, err := b.requests()
	if err != nil {
		return err
	}
	b.compareRequests(empty, full)

	step("wall time on the loaded cluster: %d paired, interleaved rounds", cfg.scaleN)
	if err := b.scale(); err != nil {
		return err
	}

	b.rep.machineAfter = machine()
	fmt.Println("\n" + b.rep.machineAfter)
	md := b.rep.markdown()
	fmt.Println("\n" + md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return err
		}
		fmt.Println("written to", cfg.out)
	}
	failed := 0
	for _, r := range b.rep.rows {
		if r.result == "FAIL" {
			failed++
		}
	}
	fmt.Printf("%d of the figures with a target missed it\n", failed)
	if failed > 0 && cfg.strict {
		return fmt.Errorf("%d figures missed their targets", failed)
	}
	return nil
}

// machine describes the machine and how busy it is right now.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	load := "?"
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(data))
		if len(f) >= 3 {
			load = strings.Join(f[:3], ", ")
		}
	}
	return fmt.Sprintf("%s: %d CPUs (nproc), %s, %s/%s, load average %s (1, 5, 15 min)",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, load)
}

func (b *benchEnv) versions() string {
	var parts []string
	if r, err := b.warm.Run(b.ctx, b.plugin, "version"); err == nil {
		parts = append(parts, strings.TrimSpace(r.Stdout))
	}
	if r, err := b.warm.Run(b.ctx, "kubectl", "version", "--client"); err == nil {
		parts = append(parts, "kubectl "+strings.Join(strings.Fields(r.Stdout), " "))
	}
	if kc, err := exec.LookPath("kubectl"); err == nil {
		if real, err := filepath.EvalSymlinks(kc); err == nil {
			parts = append(parts, "kubectl binary "+real)
		}
	}
	parts = append(parts, "API server v1.37.2 (test cluster)", "bench built with "+runtime.Version())
	return strings.Join(parts, "; ")
}

// freshHome is a HOME with no kubectl cache.
func (b *benchEnv) freshHome() bench.Env {
	b.homeSeq++
	e := b.warm
	e.Home = filepath.Join(b.tmp, fmt.Sprintf("home-cold-%d", b.homeSeq))
	_ = os.MkdirAll(e.Home, 0o700)
	return e
}

// flags are the chain's parameters for the plugin.
func (b *benchEnv) flags(extra ...string) []string {
	return append(append(b.p.PluginFlags(b.caFile), "--alb-flavor", "nginx"), extra...)
}

func (b *benchEnv) albistio(e bench.Env, args ...string) (bench.Result, error) {
	return e.Run(b.ctx, "kubectl", append([]string{"albistio"}, args...)...)
}

// world creates the IKS fixtures, runs setup once (it writes the chain),
// and renders what check reads and setup writes for the kubectl commands
// they are compared with.
func (b *benchEnv) world() error {
	step("IKS fixtures and a first setup")
	p := fixtures.Params{
		ALBSecretName:     "bench-a1b2c3-0000",
		IstioNamespace:    "istio-system",
		AppNamespace:      "httptools",
		ALBDomain:         "bench-a1b2c3-0000.jp-tok.containers.appdomain.cloud",
		GatewayDomain:     "bench-a1b2c3-0001.jp-tok.containers.appdomain.cloud",
		GatewaySecretName: "bench-a1b2c3-0001",
	}
	iks, err := fixtures.NewIKS(b.ctx, b.kube, p)
	if err != nil {
		return err
	}
	b.p = iks.Params
	b.caFile = filepath.Join(b.tmp, "root.pem")
	if err := os.WriteFile(b.caFile, iks.RootPEM, 0o644); err != nil {
		return err
	}
	r, err := b.albistio(b.warm, append([]string{"setup"}, b.flags()...)...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("the first setup failed:\n%s", r)
	}
	fmt.Print(r.Stdout)
	h, err := b.albistio(b.warm, "check", "--help")
	if err != nil {
		return err
	}
	b.hasChk = h.Code == 0
	if !b.hasChk {
		fmt.Println("this build has no check command: measuring setup only")
		b.rep.notes = append(b.rep.notes, "The measured build has no `check` command (`kubectl albistio check --help` failed): the check rows are n/a and only setup was measured.")
	}

	// What setup writes, as setup renders it: with the private keys, which
	// setup leaves out of printed Secrets by default (a kubernetes.io/tls
	// Secret without tls.key is refused), so that kubectl applies the same
	// objects the plugin does. The file is deleted with b.tmp.
	r, err = b.albistio(b.warm, append([]string{"setup"}, b.flags("--dry-run=client", "-o", "yaml", "--show-private-keys")...)...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("setup --dry-run=client -o yaml failed:\n%s", r)
	}
	b.render = filepath.Join(b.tmp, "rendered.yaml")
	if err := os.WriteFile(b.render, []byte(r.Stdout), 0o644); err != nil {
		return err
	}
	rendered, err := splitYAML(r.Stdout)
	if err != nil {
		return err
	}
	// What check reads (pkg/check/reader.go): the rendered objects and the
	// inputs IKS and Istio own. check LISTs IngressClasses and the gateway
	// pods by selector; kubectl gets the same objects by name.
	refs := []string{}
	for _, u := range rendered {
		refs = append(refs, ref(u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName()))
	}
	refs = append(refs,
		ref("v1", "Secret", p.ALBSecretNamespace, p.ALBSecretName),
		ref("v1", "Secret", p.IstioNamespace, p.GatewaySecretName),
		ref("v1", "Service", p.IstioNamespace, fixtures.GatewayServiceName),
		ref("v1", "Namespace", "", p.AppNamespace),
		ref("v1", "Service", p.AppNamespace, fixtures.AppServiceName),
		ref("networking.k8s.io/v1", "IngressClass", "", fixtures.NginxClass().Name),
	)
	pods, err := b.kube.CoreV1().Pods(p.IstioNamespace).List(b.ctx, metav1.ListOptions{LabelSelector: "istio=ingressgateway"})
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		refs = append(refs, ref("v1", "Pod", pod.Namespace, pod.Name))
	}
	b.refs = filepath.Join(b.tmp, "check-objects.yaml")
	if err := os.WriteFile(b.refs, []byte(strings.Join(refs, "---\n")), 0o644); err != nil {
		return err
	}
	b.rep.notes = append(b.rep.notes, fmt.Sprintf("`kubectl get -f check-objects.yaml` reads by name the %d objects check reads (the 7 setup writes, the IKS ALB and gateway secrets, the gateway Service and its pods, the app namespace and Service, the IngressClass); check itself LISTs the IngressClasses, the plugin's own secrets in the Istio namespace (by its managed-by label, filtered by the API server) and the gateway pods (by --gateway-selector), and learns the Istio API version from its Gateway GET instead of discovery.", len(refs)))
	return nil
}

func ref(apiVersion, kind, ns, name string) string {
	s := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)
	if ns != "" {
		s += "  namespace: " + ns + "\n"
	}
	return s
}

func splitYAML(s string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(s, "\n---\n") {
		doc = strings.TrimPrefix(strings.TrimSpace(doc), "---")
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return nil, fmt.Errorf("parsing setup's YAML: %w", err)
		}
		if u.GetKind() != "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// timed runs a command in env and returns its wall time; a failure (an exit
// code not in ok) stops the measurement.
func (b *benchEnv) timed(e bench.Env, ok []int, name string, args ...string) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		r, err := e.Run(b.ctx, name, args...)
		if err != nil {
			return 0, err
		}
		for _, c := range ok {
			if r.Code == c {
				return r.Took, nil
			}
		}
		return 0, fmt.Errorf("unexpected exit:\n%s", r)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (b *benchEnv) startup() error {
	e := b.warm
	// The floor: kubectl running a plugin that does nothing at all (a link
	// to true(1) named kubectl-noop). No plugin can start faster through
	// kubectl's plugin lookup than this.
	noop := e
	noop.PluginDir = filepath.Join(b.tmp, "noop-plugin")
	truePath, err := exec.LookPath("true")
	if err != nil {
		return fmt.Errorf("the start-up floor needs true(1): %w", err)
	}
	if err := os.MkdirAll(noop.PluginDir, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(truePath, filepath.Join(noop.PluginDir, "kubectl-noop")); err != nil && !os.IsExist(err) {
		return err
	}
	b.noop = noop
	rounds, err := bench.Rounds(b.cfg.startupN,
		b.timed(e, []int{0}, "kubectl", "version", "--client"),
		b.timed(e, []int{0}, "kubectl", "albistio", "version"),
		b.timed(e, []int{0}, b.plugin, "version"),
		b.timed(noop, []int{0}, "kubectl", "noop"),
	)
	if err != nil {
		return err
	}
	lookup := bench.PairOf(rounds, 1, 0)
	direct := bench.PairOf(rounds, 2, 0)
	floor := bench.PairOf(rounds, 3, 0)
	b.rep.add("start-up: `kubectl albistio version` vs `kubectl version --client`",
		ms(lookup.MedianA()), ms(lookup.MedianB()), fmt.Sprintf("%.2f×", lookup.Ratio()), "≤ 0.5×", ptr(lookup.Ratio() <= 0.5))
	b.rep.add("start-up floor: `kubectl noop`, a plugin that is true(1), vs `kubectl version --client`",
		ms(floor.MedianA()), ms(floor.MedianB()), fmt.Sprintf("%.2f×", floor.Ratio()), "", nil)
	b.rep.add("start-up: the plugin binary alone, `kubectl-albistio version`",
		ms(direct.MedianA()), ms(direct.MedianB()), fmt.Sprintf("%.2f×", direct.Ratio()), "≤ 0.5×", ptr(direct.Ratio() <= 0.5))
	// What the plugin adds to the floor, per round, as a share of kubectl's start-up.
	added := make([]float64, len(rounds))
	for i, r := range rounds {
		added[i] = float64(r[1]-r[3]) / float64(r[0])
	}
	sort.Float64s(added)
	b.rep.notes = append(b.rep.notes, fmt.Sprintf(
		"Start-up, %d rounds, each running `kubectl version --client`, `kubectl albistio version`, `kubectl-albistio version` and `kubectl noop` back to back in rotating order (warm page cache, no cluster contacted). "+
			"`kubectl albistio` is kubectl's plugin lookup: kubectl starts (initialising all its packages and building its whole command tree), finds `kubectl-albistio` on PATH and execs it. "+
			"The floor row measures that lookup with a plugin that does nothing (true(1)): %.2f× `kubectl version --client`, so the ≤ 0.5× target cannot be met by any plugin run as `kubectl <name>`. "+
			"The plugin's own share is the third row; per round, `kubectl albistio version` took a median %.2f× `kubectl version --client` more than the floor.",
		b.cfg.startupN, floor.Ratio(), added[len(added)/2]))
	b.rep.commands = append(b.rep.commands, "kubectl version --client", "kubectl albistio version", "bin/kubectl-albistio version", "kubectl noop   # kubectl-noop -> true(1) on PATH")
	return nil
}

// counts are the request logs of one round of measurements.
type counts struct {
	setup, setupWarm, check, checkWarm          bench.Requests
	kubectlApply, kubectlGetRefs                bench.Requests
	kubectlIngCold, kubectlIngWarm, kubectlAllI bench.Requests
}

func (b *benchEnv) requests() (*counts, error) {
	c := &counts{}
	log := func(e bench.Env, args ...string) (bench.Requests, error) {
		r, err := e.Run(b.ctx, "kubectl", args...)
		if err != nil {
			return nil, err
		}
		if r.Code != 0 && !(len(args) > 1 && args[1] == "check" && r.Code == 8) {
			return nil, fmt.Errorf("unexpected exit:\n%s", r)
		}
		rs := r.Requests()
		if len(rs) == 0 {
			return nil, fmt.Errorf("no request in the -v=6 log (has the log format changed?):\n%s", r)
		}
		return rs, nil
	}
	var err error
	setupArgs := append([]string{"albistio", "setup", "-v=6"}, b.flags()...)
	if c.setup, err = log(b.freshHome(), setupArgs...); err != nil {
		return nil, err
	}
	if c.setupWarm, err = log(b.warm, setupArgs...); err != nil {
		return nil, err
	}
	if b.hasChk {
		checkArgs := append([]string{"albistio", "check", "-v=6"}, b.flags()...)
		if c.check, err = log(b.freshHome(), checkArgs...); err != nil {
			return nil, err
		}
		if c.checkWarm, err = log(b.warm, checkArgs...); err != nil {
			return nil, err
		}
	}
	if c.kubectlApply, err = log(b.warm, "apply", "--dry-run=server", "-f", b.render, "-v=6"); err != nil {
		return nil, err
	}
	if c.kubectlGetRefs, err = log(b.warm, "get", "-f", b.refs, "-v=6"); err != nil {
		return nil, err
	}
	ing := []string{"get", "ingress", "-n", b.p.IstioNamespace, "-v=6"}
	if c.kubectlIngCold, err = log(b.freshHome(), ing...); err != nil {
		return nil, err
	}
	if c.kubectlIngWarm, err = log(b.warm, ing...); err != nil {
		return nil, err
	}
	if c.kubectlAllI, err = log(b.warm, "get", "ingress", "-A", "-v=6", "-o", "name"); err != nil {
		return nil, err
	}
	fmt.Printf("setup (nothing to change): %d requests (%d discovery), with a warm kubectl cache %d\n", len(c.setup), c.setup.Discovery(), len(c.setupWarm))
	if b.hasChk {
		fmt.Printf("check: %d requests (%d discovery), with a warm kubectl cache %d\n", len(c.check), c.check.Discovery(), len(c.checkWarm))
	}
	fmt.Printf("kubectl get ingress: cold cache %d requests (%d discovery), warm %d (%d discovery); kubectl get ingress -A: %d\n",
		len(c.kubectlIngCold), c.kubectlIngCold.Discovery(), len(c.kubectlIngWarm), c.kubectlIngWarm.Discovery(), len(c.kubectlAllI))
	return c, nil
}

func (b *benchEnv) compareRequests(empty, full *counts) {
	chain := []string{b.p.IstioNamespace, b.p.AppNamespace, b.p.ALBSecretNamespace}
	bounded := func(rs bench.Requests) bool {
		return len(rs.Unbounded(chain, []string{"ingressclasses"}, []string{"load-"})) == 0
	}
	same := func(a, z bench.Requests) bool {
		return strings.Join(a.Signatures(), "\n") == strings.Join(z.Signatures(), "\n")
	}
	n := func(a, z bench.Requests) string { return fmt.Sprintf("%d → %d", len(a), len(z)) }

	ok := same(empty.setup, full.setup) && bounded(full.setup)
	b.rep.add("API requests: `setup` (nothing to change), empty → loaded", n(empty.setup, full.setup),
		"apply: "+n(empty.kubectlApply, full.kubectlApply), fmt.Sprintf("%.2f×", float64(len(full.setup))/float64(len(full.kubectlApply))),
		"equal", ptr(ok))
	if b.hasChk {
		ok := same(empty.check, full.check) && bounded(full.check) && len(full.check) <= 10
		b.rep.add("API requests: `check`, empty → loaded", n(empty.check, full.check),
			"get -f: "+n(empty.kubectlGetRefs, full.kubectlGetRefs), fmt.Sprintf("%.2f×", float64(len(full.check))/float64(len(full.kubectlGetRefs))),
			"equal, ≤ 10", ptr(ok))
	} else {
		b.rep.add("API requests: `check`, empty → loaded", "n/a (no check)", "get -f: "+n(empty.kubectlGetRefs, full.kubectlGetRefs), "", "equal, ≤ 10", nil)
	}
	b.rep.add("control: `kubectl get ingress -A` (pages of 500), empty → loaded", "", n(empty.kubectlAllI, full.kubectlAllI), "", "grows", nil)

	// Discovery, on the loaded cluster (it does not change with the load).
	d := func(rs bench.Requests) string { return fmt.Sprintf("%d of %d", rs.Discovery(), len(rs)) }
	rootSweep := func(rs bench.Requests) bool {
		for _, r := range rs {
			if t := r.Target(); t.Discovery {
				p := r.Signature()
				if strings.HasPrefix(p, "GET /api?") || p == "GET /api" || strings.HasPrefix(p, "GET /apis?") || p == "GET /apis" || strings.HasPrefix(p, "GET /openapi") {
					return true
				}
			}
		}
		return false
	}
	discOK := !rootSweep(full.setup) && !rootSweep(full.setupWarm) && full.setup.Discovery() <= 1 && full.setupWarm.Discovery() <= full.setup.Discovery()
	b.rep.add("discovery requests: `setup`, cold cache / warm cache", d(full.setup)+" / "+d(full.setupWarm),
		"get ingress: "+d(full.kubectlIngCold)+" / "+d(full.kubectlIngWarm), "", "no /api, /apis sweep; ≤ 1", ptr(discOK))
	if b.hasChk {
		ok := !rootSweep(full.check) && !rootSweep(full.checkWarm) && full.check.Discovery() <= 1 && full.checkWarm.Discovery() <= full.check.Discovery()
		b.rep.add("discovery requests: `check`, cold cache / warm cache", d(full.check)+" / "+d(full.checkWarm),
			"get -f (warm): "+d(full.kubectlGetRefs), "", "no /api, /apis sweep; ≤ 1", ptr(ok))
	}

	b.rep.notes = append(b.rep.notes,
		"API requests are counted from the client side: the `\"Response\"` lines client-go logs at -v=6, one per request (kubectl 1.32 logs `GET <url> 200 OK in N milliseconds` instead). "+
			"\"equal\" means the same requests (verb, path, query) before and after loading, none of them in the loaded namespaces or reading a collection outside the chain's namespaces (IngressClasses excepted); test/e2e/requests_test.go asserts the same. "+
			"kubectl's column: for setup `kubectl apply --dry-run=server -f rendered.yaml` (a GET and a PATCH per object, plus OpenAPI documents for validation), for check `kubectl get -f check-objects.yaml`.",
		"Discovery: \"cold\" runs with an empty HOME (no ~/.kube/cache), \"warm\" with the cache kubectl filled in the earlier runs (kubectl's own row shows what its cache saves). Target: no /api or /apis sweep, at most one group lookup cold, and no more warm than cold.")
	sec := "### Requests on the loaded cluster\n\n"
	sec += fmt.Sprintf("`kubectl albistio setup` with nothing to change (%d; the same %d on the empty cluster):\n\n```\n%s```\n\n", len(full.setup), len(empty.setup), full.setup)
	if b.hasChk {
		sec += fmt.Sprintf("`kubectl albistio check` (%d; %d on the empty cluster):\n\n```\n%s```\n\n", len(full.check), len(empty.check), full.check)
	}
	sec += fmt.Sprintf("`kubectl get -f check-objects.yaml` (%d, warm cache):\n\n```\n%s```\n\n", len(full.kubectlGetRefs), full.kubectlGetRefs)
	sec += fmt.Sprintf("`kubectl apply --dry-run=server -f rendered.yaml` (%d, warm cache):\n\n```\n%s```\n\n", len(full.kubectlApply), full.kubectlApply)
	sec += fmt.Sprintf("`kubectl get ingress -n %s`, cold cache (%d):\n\n```\n%s```\n", b.p.IstioNamespace, len(full.kubectlIngCold), full.kubectlIngCold)
	b.rep.sections = append(b.rep.sections, sec)
	b.rep.commands = append(b.rep.commands,
		"kubectl albistio setup -v=6 <chain flags>   # HOME fresh (cold) and shared (warm); count the \"Response\" lines",
		"kubectl albistio check -v=6 <chain flags>",
		"kubectl apply --dry-run=server -f rendered.yaml -v=6   # rendered.yaml = kubectl albistio setup --dry-run=client -o yaml",
		"kubectl get -f check-objects.yaml -v=6",
		"kubectl get ingress -n istio-system -v=6   # cold and warm cache",
		"kubectl get ingress -A -o name -v=6")
}

func (b *benchEnv) scale() error {
	e := b.warm
	if b.hasChk {
		// The plugin binary alone and the plugin-lookup floor run in the
		// same rounds: through kubectl, check pays kubectl's start-up
		// before its first request, as every plugin does.
		rounds, err := bench.Rounds(b.cfg.scaleN,
			b.timed(e, []int{0, 8}, "kubectl", append([]string{"albistio", "check"}, b.flags()...)...),
			b.timed(e, []int{0}, "kubectl", "get", "-f", b.refs),
			b.timed(e, []int{0, 8}, b.plugin, append([]string{"check"}, b.flags()...)...),
			b.timed(b.noop, []int{0}, "kubectl", "noop"),
		)
		if err != nil {
			return err
		}
		p, direct, floor := bench.PairOf(rounds, 0, 1), bench.PairOf(rounds, 2, 1), bench.PairOf(rounds, 3, 1)
		b.rep.add("loaded cluster: `check` vs `kubectl get -f` of the objects it reads",
			ms(p.MedianA()), ms(p.MedianB()), fmt.Sprintf("%.2f×", p.Ratio()), "≤ 0.5×", ptr(p.Ratio() <= 0.5))
		b.rep.add("loaded cluster: the plugin binary alone, `kubectl-albistio check` vs `kubectl get -f`",
			ms(direct.MedianA()), ms(direct.MedianB()), fmt.Sprintf("%.2f×", direct.Ratio()), "≤ 0.5×", ptr(direct.Ratio() <= 0.5))
		b.rep.add("loaded-cluster floor: `kubectl noop` vs `kubectl get -f`",
			ms(floor.MedianA()), ms(floor.MedianB()), fmt.Sprintf("%.2f×", floor.Ratio()), "", nil)
		b.rep.notes = append(b.rep.notes, fmt.Sprintf(
			"check on the loaded cluster, %d rounds, each running `kubectl albistio check`, `kubectl get -f check-objects.yaml`, `kubectl-albistio check` and `kubectl noop` in rotating order. "+
				"check issues its independent reads concurrently (at most 8 in flight), so its requests take about two round trips instead of one each; "+
				"through kubectl's plugin lookup it also pays kubectl's own start-up, which the floor row measures alone (%.2f× `kubectl get -f`).",
			b.cfg.scaleN, floor.Ratio()))
	} else {
		b.rep.add("loaded cluster: `check` vs `kubectl get -f` of the objects it reads", "n/a (no check)", "", "", "≤ 0.5×", nil)
	}
	p, err := bench.Paired(b.cfg.scaleN,
		b.timed(e, []int{0}, "kubectl", append([]string{"albistio", "setup", "--dry-run=server"}, b.flags()...)...),
		b.timed(e, []int{0}, "kubectl", "apply", "--dry-run=server", "-f", b.render),
	)
	if err != nil {
		return err
	}
	b.rep.add("loaded cluster: `setup --dry-run=server` vs `kubectl apply --dry-run=server -f`",
		ms(p.MedianA()), ms(p.MedianB()), fmt.Sprintf("%.2f×", p.Ratio()), "≤ 1.0×", ptr(p.Ratio() <= 1.0))
	b.rep.commands = append(b.rep.commands,
		"kubectl albistio check <chain flags>   vs   kubectl get -f check-objects.yaml   (and bin/kubectl-albistio check <chain flags>, kubectl noop)",
		"kubectl albistio setup --dry-run=server <chain flags>   vs   kubectl apply --dry-run=server -f rendered.yaml")
	return nil
}

func (b *benchEnv) size() error {
	dir := filepath.Join(b.tmp, "size")
	build := func(out string, ldflags string) error {
		cmd := exec.CommandContext(b.ctx, "go", "build", "-ldflags", ldflags, "-o", out, "./cmd/kubectl-albistio")
		cmd.Dir = b.cfg.repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build -ldflags %q: %v\n%s", ldflags, err, out)
		}
		return nil
	}
	stripped, full := filepath.Join(dir, "stripped"), filepath.Join(dir, "full")
	if err := build(stripped, "-s -w"); err != nil {
		return err
	}
	if err := build(full, ""); err != nil {
		return err
	}
	st, err := os.Stat(stripped)
	if err != nil {
		return err
	}
	var kubectlSize int64
	if kc, err := exec.LookPath("kubectl"); err == nil {
		if fi, err := os.Stat(kc); err == nil {
			kubectlSize = fi.Size()
		}
	}
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	b.rep.add("binary size: stripped linux/amd64 (`-ldflags '-s -w'`)", mb(st.Size()), mb(kubectlSize),
		fmt.Sprintf("%.2f×", float64(st.Size())/float64(kubectlSize)), "≤ 50 MB", ptr(st.Size() <= 50e6))
	bd, err := bench.Breakdown(full)
	if err != nil {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "### What the binary is made of\n\nSymbol sizes of the unstripped build, summed by module (`go tool nm -size` equivalent, file-backed sections only). "+
		"They cover code and data (%.1f MB); the stripped binary adds about as much again in pclntab (function tables), which grows with the code, "+
		"so the last column scales each module's share to the stripped size.\n\n| module | symbols | ≈ in the stripped binary |\n|---|---:|---:|\n", float64(bd.Attributed)/1e6)
	for i, m := range bd.Modules {
		if i == 15 {
			break
		}
		fmt.Fprintf(&s, "| %s | %.2f MB | %.1f MB |\n", m.Name, float64(m.Bytes)/1e6, float64(m.Bytes)/float64(bd.Attributed)*float64(st.Size())/1e6)
	}
	fmt.Fprintf(&s, "\nLargest packages:\n\n| package | symbols |\n|---|---:|\n")
	for i, m := range bd.Packages {
		if i == 15 {
			break
		}
		fmt.Fprintf(&s, "| %s | %.2f MB |\n", m.Name, float64(m.Bytes)/1e6)
	}
	if chains, err := importChains(b.cfg.repo, "./cmd/kubectl-albistio", []string{
		"k8s.io/client-go/kubernetes/scheme", "sigs.k8s.io/kustomize/api/krusty", "github.com/google/gnostic-models/openapiv2",
		"github.com/russross/blackfriday/v2", "k8s.io/client-go/transport/spdy",
	}); err == nil && len(chains) > 0 {
		fmt.Fprintf(&s, "\nWhy the big ones are linked (shortest import chain from main; `k8s.io/client-go/kubernetes/scheme` registers every built-in API group, which links all of k8s.io/api):\n\n")
		for _, c := range chains {
			fmt.Fprintf(&s, "- %s\n", c)
		}
	}
	fmt.Fprintf(&s, "\nWhat was done about it: the plugin links no typed clientset (neither client-go's `kubernetes` nor Istio's, which alone would add every Istio API group and its informers): "+
		"it reads and writes through the dynamic client and uses Istio's Go types only for networking/v1; it does not link kubectl's command packages, only `templates` for help text; "+
		"releases are built with `-trimpath -ldflags '-s -w'`. What is left is mostly k8s.io/api, which cli-runtime's `genericclioptions` → `resource` links through "+
		"`client-go/kubernetes/scheme` (with kustomize and gnostic); building without cli-runtime's flags and printers would roughly halve the binary, "+
		"but kubectl's own flags (--kubeconfig, --context, -n, --as, ...) and printers (-o yaml|json|name) are what users of a kubectl plugin expect, so it stays.\n")
	b.rep.sections = append(b.rep.sections, s.String())
	for i, m := range bd.Modules {
		if i == 6 {
			break
		}
		fmt.Printf("    %-40s %6.2f MB of symbols\n", m.Name, float64(m.Bytes)/1e6)
	}
	b.rep.commands = append(b.rep.commands, "CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags '-s -w' ./cmd/kubectl-albistio   (and without -s -w for the symbol table)")
	return nil
}

// importChains finds, for each target package linked into pkg, the
// shortest chain of imports from pkg to it.
func importChains(repo, pkg string, targets []string) ([]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	imports := map[string][]string{}
	var root string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		imports[f[0]] = f[1:]
		root = f[0] // go list -deps prints the named package last
	}
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	var chains []string
	for _, t := range targets {
		if _, ok := prev[t]; !ok {
			continue
		}
		var path []string
		for p := t; p != ""; p = prev[p] {
			path = append([]string{p}, path...)
		}
		chains = append(chains, "`"+strings.Join(path, "` → `")+"`")
	}
	return chains, nil
}

func (r *report) markdown() string {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks: kubectl-albistio vs kubectl\n\n")
	w("Written by `make bench` (test/cmd/bench). Timings are ratios of paired, interleaved runs made in the same run; ")
	w("the machine is shared, so compare ratios, not absolute times.\n\n")
	w("- Machine at the start: %s\n- Machine at the end: %s\n- Versions: %s\n\n", r.machineBefore, r.machineAfter, r.versions)
	w("| figure | ours | kubectl's | ratio | target | result |\n|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		w("| %s | %s | %s | %s | %s | %s |\n", x.figure, x.ours, x.theirs, x.ratio, x.target, x.result)
	}
	if len(r.notes) > 0 {
		w("\n")
		for _, n := range r.notes {
			w("- %s\n", n)
		}
	}
	for _, s := range r.sections {
		w("\n%s", s)
	}
	w("\n### Commands\n\n```\n")
	for _, c := range r.commands {
		w("%s\n", c)
	}
	w("```\n")
	return b.String()
}
