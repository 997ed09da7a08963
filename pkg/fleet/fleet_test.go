package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// countingAPI answers from a map and counts what it was asked, optionally
// taking delay per request (to make concurrent askers overlap).
type countingAPI struct {
	objects map[string]*unstructured.Unstructured
	lists   map[string][]unstructured.Unstructured
	err     error
	delay   time.Duration
	calls   atomic.Int64
}

func (c *countingAPI) wait() {
	c.calls.Add(1)
	time.Sleep(c.delay)
}

func (c *countingAPI) GetServed(_ context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, bool, error) {
	c.wait()
	if c.err != nil {
		return nil, false, c.err
	}
	u := c.objects[objectKey(gvr, ns, name)]
	if u == nil {
		return nil, true, nil
	}
	return u.DeepCopy(), true, nil
}

func (c *countingAPI) Get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	u, _, err := c.GetServed(ctx, gvr, ns, name)
	return u, err
}

func (c *countingAPI) List(_ context.Context, gvr schema.GroupVersionResource, ns, sel string) ([]unstructured.Unstructured, error) {
	c.wait()
	if c.err != nil {
		return nil, c.err
	}
	return c.lists[objectKey(gvr, ns, sel)], nil
}

func (c *countingAPI) APIGroup(context.Context, string) (*metav1.APIGroup, error) {
	c.wait()
	return &metav1.APIGroup{Name: "networking.istio.io"}, c.err
}

func named(ns, name string) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service"}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// TestMemoAsksOnce: concurrent askers of one question share one request;
// objects a LIST brought answer GETs; absence is never inferred from a
// LIST; errors are answers too.
func TestMemoAsksOnce(t *testing.T) {
	svc := named("istio-system", "istio-ingressgateway")
	api := &countingAPI{
		delay:   20 * time.Millisecond,
		objects: map[string]*unstructured.Unstructured{objectKey(kube.Secrets, "default", "alb"): {Object: map[string]any{"kind": "Secret"}}},
		lists:   map[string][]unstructured.Unstructured{objectKey(kube.Services, "", "istio=ingressgateway"): {svc}},
	}
	m := NewMemo(api)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if u, err := m.Get(ctx, kube.Secrets, "default", "alb"); err != nil || u == nil {
				t.Errorf("Get: %v, %v", u, err)
			}
			if items, err := m.List(ctx, kube.Services, "", "istio=ingressgateway"); err != nil || len(items) != 1 {
				t.Errorf("List: %v, %v", items, err)
			}
		})
	}
	wg.Wait()
	if n := api.calls.Load(); n != 2 || m.Requests() != 2 {
		t.Fatalf("10 askers of 2 questions made %d requests (memo counted %d), want 2", n, m.Requests())
	}
	// The listed Service answers a GET without a request.
	u, served, err := m.GetServed(ctx, kube.Services, "istio-system", "istio-ingressgateway")
	if err != nil || u == nil || !served || api.calls.Load() != 2 {
		t.Errorf("a listed object should answer a GET from memory: %v %v %v, %d requests", u, served, err, api.calls.Load())
	}
	// What a caller does with an answer never reaches the next caller.
	u.SetName("changed")
	if again, _ := m.Get(ctx, kube.Services, "istio-system", "istio-ingressgateway"); again.GetName() != "istio-ingressgateway" {
		t.Errorf("the memo handed out its own copy: %s", again.GetName())
	}
	// A label-selected LIST says nothing about objects it did not bring.
	if u, _ := m.Get(ctx, kube.Services, "istio-system", "other"); u != nil || api.calls.Load() != 3 {
		t.Errorf("an object no LIST brought must be asked for: %v, %d requests", u, api.calls.Load())
	}
	// Errors are answers: asked once.
	failing := &countingAPI{err: kube.WithCode(kube.ExitForbidden, errors.New("forbidden"))}
	fm := NewMemo(failing)
	for range 3 {
		if _, err := fm.List(ctx, kube.Secrets, "istio-system", "a=b"); !kube.IsForbidden(err) {
			t.Errorf("want the forbidden error, got %v", err)
		}
	}
	if failing.calls.Load() != 1 {
		t.Errorf("a failed request was repeated: %d", failing.calls.Load())
	}
}

func TestWorstAndClassify(t *testing.T) {
	for _, tc := range []struct {
		codes []int
		want  int
	}{
		{nil, 0},
		{[]int{0, 0}, 0},
		{[]int{0, 8}, 8},
		{[]int{8, 3}, 3},
		{[]int{3, 5, 8}, 5},
		{[]int{5, 6, 0}, 6},
		{[]int{1, 5}, 5},
		{[]int{1, 2, 8}, 1},
		{[]int{6, 1, 5, 8, 0}, 6},
	} {
		if got := Worst(tc.codes...); got != tc.want {
			t.Errorf("Worst(%v) = %d, want %d", tc.codes, got, tc.want)
		}
	}
	for _, tc := range []struct {
		err  error
		want Outcome
		code int
	}{
		{nil, OutcomeClean, 0},
		{kube.WithCode(kube.ExitFindings, errors.New("x")), OutcomeFindings, 8},
		{kube.WithCode(kube.ExitUnreachable, errors.New("x")), OutcomeUnreachable, 6},
		{fmt.Errorf("wrapped: %w", kube.WithCode(kube.ExitForbidden, errors.New("x"))), OutcomeForbidden, 5},
		{kube.WithCode(kube.ExitInvalidInput, errors.New("x")), OutcomeInvalid, 3},
		{errors.New("x"), OutcomeError, 1},
		{kube.WithCode(kube.ExitUsage, errors.New("x")), OutcomeError, 2},
	} {
		if o, c := Classify(tc.err); o != tc.want || c != tc.code {
			t.Errorf("Classify(%v) = %s %d, want %s %d", tc.err, o, c, tc.want, tc.code)
		}
	}
}

func cleanReport() *check.Report {
	r := check.NewReport(nil)
	return &r
}

func errorReport() *check.Report {
	r := check.NewReport([]check.Finding{{Code: "ALB0101", Level: check.LevelError, Object: "Secret istio-system/alb-certs", Message: "missing"}})
	return &r
}

// TestCheckContextsFansOut: every context is checked, at most
// ServerParallelism at once when they share an API server, results in the
// order given; a context that
// fails (down, denied) is its own result and the others are checked all the
// same; the exit code is the worst outcome.
func TestCheckContextsFansOut(t *testing.T) {
	var running, peak atomic.Int64
	names := []string{"c00", "down", "c02", "denied", "c04", "c05", "c06", "c07", "c08", "findings", "c10", "c11"}
	start := time.Now()
	oneServer := func(string) string { return "https://10.0.0.1:6443" }
	rs := CheckContexts(context.Background(), names, oneServer, func(ctx context.Context, name string) ContextResult {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		switch name {
		case "down":
			return SingleChain(nil, kube.WithCode(kube.ExitUnreachable, errors.New("cannot reach the API server at https://127.0.0.1:1")))
		case "denied":
			return SingleChain(nil, kube.WithCode(kube.ExitForbidden, errors.New("forbidden: cannot list ingressclasses")))
		case "findings":
			time.Sleep(30 * time.Millisecond)
			return SingleChain(errorReport(), kube.WithCode(kube.ExitFindings, errors.New("1 finding")))
		}
		time.Sleep(30 * time.Millisecond)
		return SingleChain(cleanReport(), nil)
	})
	if p := peak.Load(); p > ServerParallelism || p < 2 {
		t.Errorf("at most %d contexts of one server should be checked at once, and more than one: peak %d", ServerParallelism, p)
	}
	if len(rs) != len(names) {
		t.Fatalf("%d results for %d contexts", len(rs), len(names))
	}
	for i, r := range rs {
		if r.Context != names[i] {
			t.Errorf("result %d is context %s, want %s", i, r.Context, names[i])
		}
		want := map[string]Outcome{"down": OutcomeUnreachable, "denied": OutcomeForbidden, "findings": OutcomeFindings}[r.Context]
		if want == "" {
			want = OutcomeClean
		}
		if r.Outcome != want {
			t.Errorf("context %s: outcome %s, want %s", r.Context, r.Outcome, want)
		}
	}
	if code := ContextsExitCode(rs); code != kube.ExitUnreachable {
		t.Errorf("exit code %d, want %d (unreachable is the worst)", code, kube.ExitUnreachable)
	}
	t.Logf("12 contexts of 30 ms on one server, %d at once: %s", ServerParallelism, time.Since(start).Round(time.Millisecond))

	var out bytes.Buffer
	if err := WriteContexts(&out, rs, check.FormatText, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	if !strings.HasPrefix(lines[0], "CONTEXT") {
		t.Fatalf("the summary table comes first:\n%s", text)
	}
	for i, n := range names {
		l := lines[i+1]
		want := map[string]string{"down": "unreachable", "denied": "forbidden", "findings": "findings"}[n]
		if want == "" {
			want = "clean"
		}
		if !strings.HasPrefix(l, n+" ") || !strings.Contains(l, " "+want+" ") {
			t.Errorf("summary line %d is %q, want context %s %s", i+1, l, n, want)
		}
	}
	for _, w := range []string{"=== context down ===\nerror: cannot reach", "=== context findings ===\nERROR   ALB0101", "12 contexts: 9 clean, 1 with findings, 1 forbidden, 1 unreachable"} {
		if !strings.Contains(text, w) {
			t.Errorf("the text lacks %q:\n%s", w, text)
		}
	}
}

// TestWriteContextsJSONAndYAML: the machine-readable forms carry each
// context's outcome, exit code, error and report, and escape what a
// terminal would act on in errors read from a cluster.
func TestWriteContextsJSONAndYAML(t *testing.T) {
	rs := []ContextResult{
		{Context: "a", Outcome: OutcomeClean, Report: cleanReport()},
		{Context: "b", Outcome: OutcomeFindings, ExitCode: 8, Report: errorReport()},
		{Context: "c", Outcome: OutcomeError, ExitCode: 1, Error: "bad \x1b[31mred\x1b[0m\u202e"},
		{Context: "d", Outcome: OutcomeClean, Cluster: &ClusterResult{Chains: []ChainResult{{Chain: "ns/app", Shape: "plugin", Ingress: "istio-system/x", Outcome: OutcomeClean, Report: cleanReport()}}, Requests: 12}},
	}
	var out bytes.Buffer
	if err := WriteContexts(&out, rs, check.FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\u202e") {
		t.Errorf("raw control characters in the JSON:\n%q", out.String())
	}
	var doc struct {
		Contexts []struct {
			Context  string
			Outcome  string
			ExitCode int
			Error    string
			Report   *check.Report
			Chains   []struct{ Chain, Outcome string }
		}
		Summary map[string]int
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(doc.Contexts) != 4 || doc.Contexts[1].ExitCode != 8 || len(doc.Contexts[1].Report.Findings) != 1 || doc.Contexts[2].Report != nil ||
		!strings.Contains(doc.Contexts[2].Error, `\x1b[31m`) || len(doc.Contexts[3].Chains) != 1 || doc.Contexts[3].Chains[0].Chain != "ns/app" {
		t.Errorf("unexpected document:\n%s", out.String())
	}
	if doc.Summary["contexts"] != 4 || doc.Summary["clean"] != 2 || doc.Summary["findings"] != 1 || doc.Summary["error"] != 1 {
		t.Errorf("summary %v", doc.Summary)
	}
	out.Reset()
	if err := WriteContexts(&out, rs, check.FormatYAML, false); err != nil {
		t.Fatal(err)
	}
	var y map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &y); err != nil || !strings.Contains(out.String(), "context: b") {
		t.Errorf("not the YAML of the same document: %v\n%s", err, out.String())
	}
}

// fakeCluster is a dynamic fake client behind kube.Clients, with Istio's v1.
type fakeCluster struct{ *kube.Clients }

func (fakeCluster) APIGroup(context.Context, string) (*metav1.APIGroup, error) {
	return &metav1.APIGroup{Name: render.IstioGroup, Versions: []metav1.GroupVersionForDiscovery{{GroupVersion: "networking.istio.io/v1", Version: "v1"}}}, nil
}

func chainOn(t *testing.T, appNS, service string) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.ALBDomain, f.ALBSecret = "c-0000.jp-tok.containers.appdomain.cloud", "c-0000"
	f.GatewayDomain, f.GatewaySecret = "c-0001.jp-tok.containers.appdomain.cloud", "c-0001"
	f.Service, f.Flavor = service, "nginx"
	p, err := f.Resolve(appNS, func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckClusterSharesTheHop: -A checks every chain through one Memo, so
// chains of one hop cost the hop's reads once: each further chain adds its
// own two (the app namespace and Service), whatever check's read makes.
func TestCheckClusterSharesTheHop(t *testing.T) {
	requests := func(n int) (int, *ClusterResult) {
		var ps []*chain.Params
		registry := map[string]string{}
		for i := range n {
			p := chainOn(t, fmt.Sprintf("app-%d", i), "httpbin")
			ps = append(ps, p)
			registry[p.ChainKey()] = p.Host
		}
		var objs []*unstructured.Unstructured
		objs = append(objs, render.Gateway(ps[0], "v1", registry))
		for _, p := range ps {
			ing, err := render.Ingress(p, render.DefaultBackend(p))
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, ing...)
			objs = append(objs, render.VirtualService(p, "v1"))
		}
		svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"selector": map[string]any{"istio": "ingressgateway"}}}}
		svc.SetNamespace("istio-system")
		svc.SetName("istio-ingressgateway")
		svc.SetLabels(map[string]string{"istio": "ingressgateway"})
		objs = append(objs, svc)
		listKinds := map[schema.GroupVersionResource]string{
			kube.IngressClasses: "IngressClassList", kube.Ingresses: "IngressList", kube.Services: "ServiceList", kube.Secrets: "SecretList", kube.Pods: "PodList",
			kube.IstioResource("v1", "gateways"): "GatewayList", kube.IstioResource("v1", "virtualservices"): "VirtualServiceList",
			kube.GatewayAPIGateways: "GatewayList", kube.HTTPRoutes: "HTTPRouteList",
		}
		fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
		for _, u := range objs {
			gvr, err := kube.ResourceFor(u.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			if err := fake.Tracker().Create(gvr, u, u.GetNamespace()); err != nil {
				t.Fatal(err)
			}
		}
		api := fakeCluster{&kube.Clients{Dynamic: fake, Host: "https://fake"}}
		res, err := CheckCluster(context.Background(), api, chainOn(t, "default", "httpbin"), func(ctx context.Context, api check.API, p *chain.Params) (*check.Report, error) {
			if _, err := check.Read(ctx, api, p); err != nil {
				return nil, err
			}
			return cleanReport(), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chains) != n {
			t.Fatalf("%d chains found, want %d", len(res.Chains), n)
		}
		if len(fake.Actions()) != res.Requests {
			t.Errorf("the memo counted %d requests, the fake saw %d", res.Requests, len(fake.Actions()))
		}
		return len(fake.Actions()), res
	}
	one, res := requests(1)
	five, _ := requests(5)
	if five-one != 4*2 {
		t.Errorf("1 chain cost %d requests and 5 chains %d: want 2 more per chain", one, five)
	}
	t.Logf("-A: %d requests for 1 chain, %d for 5 on one hop", one, five)
	if res.ExitCode() != 0 || res.Chains[0].Outcome != OutcomeClean || res.Summary() != "1 chain: 1 clean" {
		t.Errorf("unexpected result %+v (%s)", res.Chains, res.Summary())
	}
	var out bytes.Buffer
	if err := WriteCluster(&out, res, check.FormatText, false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"CHAIN", "app-0/httpbin", "plugin", "istio-system/albistio-app-0-httpbin", "clean", "\nchain app-0/httpbin (plugin; Ingress istio-system/albistio-app-0-httpbin; host httpbin.c-0000.jp-tok.containers.appdomain.cloud):\nNo problems found.", "1 chain: 1 clean ("} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the text lacks %q:\n%s", w, out.String())
		}
	}
}

// TestIdentity: contexts that reach one API server as one user share a
// Memo; another server, user or impersonation does not; a custom dialer
// shares nothing.
func TestIdentity(t *testing.T) {
	base := &rest.Config{Host: "https://10.0.0.1:6443", BearerToken: "t", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca")}}
	key := func(edit func(*rest.Config)) string {
		c := rest.CopyConfig(base)
		if edit != nil {
			edit(c)
		}
		k, ok := Identity(c)
		if !ok {
			return "unshareable"
		}
		return k
	}
	same := key(func(c *rest.Config) { c.Timeout, c.QPS, c.UserAgent = time.Second, 5, "other" })
	if same != key(nil) {
		t.Errorf("timeouts, rate limits and user agents do not change who the client is")
	}
	for name, edit := range map[string]func(*rest.Config){
		"server":      func(c *rest.Config) { c.Host = "https://10.0.0.2:6443" },
		"token":       func(c *rest.Config) { c.BearerToken = "u" },
		"impersonate": func(c *rest.Config) { c.Impersonate.UserName = "jane" },
		"client cert": func(c *rest.Config) { c.CertData = []byte("cert") },
		"CA":          func(c *rest.Config) { c.CAData = []byte("other ca") },
	} {
		if key(edit) == key(nil) {
			t.Errorf("another %s must be another identity", name)
		}
	}
	if key(func(c *rest.Config) { c.Dial = (&net.Dialer{}).DialContext }) != "unshareable" {
		t.Errorf("a custom dialer cannot be compared: nothing may be shared")
	}
	var ms Memos
	api := &countingAPI{}
	if ms.For("a", api) != ms.For("a", api) || ms.For("a", api) == ms.For("b", api) || ms.For("", api) == ms.For("", api) {
		t.Errorf("Memos: one Memo per identity, none shared for the empty one")
	}
}

// TestCheckContextsBounds: contexts of different API servers are checked
// together up to ContextParallelism, those of one server up to
// ServerParallelism, and every context once.
func TestCheckContextsBounds(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		servers                []string
		wantPeak, wantPerGroup int64
	}{
		// 30 clusters: 20 at once, not 8.
		{"distinct servers", spread(30, 30), ContextParallelism, 1},
		// 2 clusters of 15 contexts each: 8 of each at once.
		{"two servers", spread(30, 2), 2 * ServerParallelism, ServerParallelism},
		// one cluster: 8 at once.
		{"one server", spread(30, 1), ServerParallelism, ServerParallelism},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			running, peakOf := map[string]int64{}, map[string]int64{}
			var all, peak int64
			calls := make([]int, len(tc.servers))
			var names []string
			for i := range tc.servers {
				names = append(names, strconv.Itoa(i))
			}
			serverOf := func(name string) string { i, _ := strconv.Atoi(name); return tc.servers[i] }
			CheckContexts(context.Background(), names, serverOf, func(_ context.Context, name string) ContextResult {
				i, _ := strconv.Atoi(name)
				g := tc.servers[i]
				mu.Lock()
				calls[i]++
				running[g]++
				all++
				peakOf[g] = max(peakOf[g], running[g])
				peak = max(peak, all)
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				mu.Lock()
				running[g]--
				all--
				mu.Unlock()
				return ContextResult{}
			})
			for i, n := range calls {
				if n != 1 {
					t.Errorf("call %d made %d times", i, n)
				}
			}
			if peak != tc.wantPeak {
				t.Errorf("peak of calls at once %d, want %d", peak, tc.wantPeak)
			}
			for g, p := range peakOf {
				if p > ServerParallelism {
					t.Errorf("server %s: %d calls at once, want at most %d", g, p, ServerParallelism)
				}
				if p < tc.wantPerGroup {
					t.Errorf("server %s: only %d calls at once, want %d", g, p, tc.wantPerGroup)
				}
			}
		})
	}
}

// spread assigns n contexts to servers round robin.
func spread(n, servers int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://10.0.0.%d:6443", i%servers)
	}
	return out
}
