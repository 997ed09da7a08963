package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/albistio/kubectl-albistio/test/bench"
	"github.com/albistio/kubectl-albistio/test/cluster"
)

// fleetChain is one chain of `check -A -o json`.
type fleetChain struct {
	Chain    string            `json:"chain"`
	ALB      string            `json:"alb"`
	Shape    string            `json:"shape"`
	Ingress  string            `json:"ingress"`
	Host     string            `json:"host"`
	Params   map[string]string `json:"params"`
	Outcome  string            `json:"outcome"`
	ExitCode int               `json:"exitCode"`
	Error    string            `json:"error"`
	Notes    []string          `json:"notes"`
	Report   *struct {
		Findings []struct {
			Code, Level, Object, Message string
		} `json:"findings"`
	} `json:"report"`
}

type fleetCluster struct {
	Chains  []fleetChain `json:"chains"`
	Summary struct {
		Chains   int `json:"chains"`
		Checks   int `json:"checks"`
		Clean    int `json:"clean"`
		Requests int `json:"requests"`
	} `json:"summary"`
}

type fleetContexts struct {
	Contexts []struct {
		Context  string          `json:"context"`
		Outcome  string          `json:"outcome"`
		ExitCode int             `json:"exitCode"`
		Error    string          `json:"error"`
		Report   json.RawMessage `json:"report"`
		Chains   []fleetChain    `json:"chains"`
	} `json:"contexts"`
	Summary struct {
		Contexts, Clean, Unreachable, Forbidden int
	} `json:"summary"`
}

func (c fleetCluster) chain(key string) *fleetChain {
	for i := range c.Chains {
		if c.Chains[i].Chain == key {
			return &c.Chains[i]
		}
	}
	return nil
}

// worstOf is the exit code -A must end with for chains: the worst of theirs
// (as fleet ranks them; only 0, 3 and 8 occur on a reachable cluster).
func worstOf(chains []fleetChain) int {
	worst := 0
	for _, c := range chains {
		switch {
		case c.ExitCode == 3 || worst == 3:
			worst = 3
		case c.ExitCode == 8:
			worst = 8
		}
	}
	return worst
}

// expectCleanChain fails unless the chain was found as a plugin chain with
// the app's parameters and checked clean.
func expectCleanChain(t *testing.T, res fleetCluster, w *world, a app, raw string) {
	t.Helper()
	c := res.chain(a.namespace + "/" + a.service)
	if c == nil {
		t.Fatalf("check -A did not find the chain %s/%s:\n%s", a.namespace, a.service, raw)
	}
	want := map[string]string{
		"service": a.service, "namespace": a.namespace, "host": a.host, "istio-namespace": w.p.IstioNamespace,
		"gateway-secret": w.p.GatewaySecretName, "gateway-domain": w.p.GatewayDomain, "alb-secret": w.p.ALBSecretName,
		"alb-secret-namespace": w.p.ALBSecretNamespace, "port": "8000", "path[0]": "/status", "alb-flavor": "nginx",
		"gateway-name": w.gatewayName(), "ingress-name": "albistio-" + a.namespace + "-" + a.service,
	}
	for k, v := range want {
		if c.Params[k] != v {
			t.Errorf("chain %s: %s is %q, want %q (params %v)", c.Chain, k, c.Params[k], v, c.Params)
		}
	}
	if c.Shape != "plugin" || c.Outcome != "clean" || c.ExitCode != 0 || c.Report == nil || len(c.Report.Findings) != 0 {
		t.Errorf("chain %s: want a clean plugin chain, got shape %s, outcome %s (exit %d), error %q, report %+v", c.Chain, c.Shape, c.Outcome, c.ExitCode, c.Error, c.Report)
	}
}

// TestCheckFleetAllNamespaces: check -A finds the chains two `setup` runs
// made on one hop, reconstructs each one's parameters from its objects and
// checks each clean, in text and JSON; its requests grow by each chain's
// own two (the app namespace and Service) when a chain is added, and not at
// all when thousands of objects are loaded into other namespaces; and a
// chain shaped like the walkthrough's (no labels) is found too.
func TestCheckFleetAllNamespaces(t *testing.T) {
	w := newWorld(t, false)
	first := app{namespace: w.p.AppNamespace, service: "httpbin", host: w.host}
	second := w.addApp(t, "other")
	mustSucceed(t, w.setup(t))
	mustSucceed(t, w.setup(t, second.flags()...))

	// -A takes none of the flags that name one chain, only the fallbacks.
	base := []string{"check", "-A", "--ca-file", w.caFile}
	r := albistio(t, append(base, "-o", "json")...)
	var res fleetCluster
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("check -A -o json is not JSON: %v\n%s", err, r)
	}
	expectCleanChain(t, res, w, first, r.stdout)
	expectCleanChain(t, res, w, second, r.stdout)
	// The cluster is shared with other tests' worlds (other PKIs, broken
	// on purpose): the exit code is the worst of every chain found.
	if want := worstOf(res.Chains); r.code != want {
		t.Errorf("check -A exited %d, want %d, the worst of its chains:\n%s", r.code, want, r)
	}

	// Text: one summary line per chain, then each chain's report.
	r = albistio(t, base...)
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[0], "CHAIN") || !strings.Contains(lines[0], "RESULT") {
		t.Fatalf("check -A should start with its summary table:\n%s", r)
	}
	table := strings.Join(lines[:len(res.Chains)+1], "\n")
	for _, a := range []app{first, second} {
		key := a.namespace + "/" + a.service
		if !strings.Contains(table, key) || !containsLine(table, key, "clean") {
			t.Errorf("the summary table lacks a clean line for %s:\n%s", key, table)
		}
		if !strings.Contains(r.stdout, "\nchain "+key+" (plugin; Ingress "+w.p.IstioNamespace+"/albistio-"+a.namespace+"-"+a.service) {
			t.Errorf("no report section for %s:\n%s", key, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "API requests)") {
		t.Errorf("check -A should end with the totals and its request count:\n%s", r.stdout)
	}

	// Requests: a third chain on the hop costs its own two reads (app
	// namespace and Service); the hop's reads are shared.
	countArgs := append(append([]string(nil), base...), "-v=6")
	before := requestLog(t, []int{0, 3, 8}, countArgs...)
	third := w.addApp(t, "third")
	mustSucceed(t, w.setup(t, third.flags()...))
	after := requestLog(t, []int{0, 3, 8}, countArgs...)
	t.Logf("check -A: %d requests with two chains on the hop, %d with three", len(before), len(after))
	if len(after)-len(before) != 2 {
		t.Errorf("a third chain on the hop should cost 2 more requests (its app namespace and Service), got %d → %d:\nbefore:\n%safter:\n%s", len(before), len(after), before, after)
	}
	if bad := unselectedLists(after); len(bad) > 0 {
		t.Errorf("check -A listed a namespaced resource across all namespaces without a label selector:\n%s", bad)
	}

	// Load other namespaces: the same requests, none of them reaching there.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("fleetload-%d", seq.Add(1))
	opts := bench.LoadOptions{Prefix: prefix, Namespaces: 5, Ingresses: 500, VirtualServices: 500, Secrets: 500, Workers: 8}
	loaded, err := bench.Load(ctx, env.cluster.RESTConfig(), opts)
	if err != nil {
		t.Fatalf("loading the cluster: %v", err)
	}
	t.Logf("loaded %s", loaded)
	loadedRun := requestLog(t, []int{0, 3, 8}, countArgs...)
	if strings.Join(loadedRun.Signatures(), "\n") != strings.Join(after.Signatures(), "\n") {
		t.Errorf("check -A made other requests after %d objects were loaded into other namespaces:\nbefore:\n%safter:\n%s", loaded.Total(), after, loadedRun)
	}
	for _, q := range loadedRun {
		if strings.HasPrefix(q.Target().Namespace, prefix) {
			t.Errorf("check -A read in a loaded namespace: %s", q.Signature())
		}
	}

	// A chain built by hand as the walkthrough builds it: an unlabelled
	// Ingress in the gateway's namespace whose proxy-ssl-secret sends its
	// host to the gateway, and an unlabelled VirtualService bound to the
	// hop's Gateway. -A finds it and reads its app from the VirtualService.
	hand := w.addApp(t, "byhand")
	handIngress := fmt.Sprintf("alb-ingress-%d", seq.Add(1))
	copyAsWalkthrough(t, w, second, hand, handIngress)
	r = albistio(t, append(base, "-o", "json")...)
	res = fleetCluster{}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("check -A -o json is not JSON: %v\n%s", err, r)
	}
	c := res.chain(hand.namespace + "/" + hand.service)
	if c == nil {
		t.Fatalf("check -A did not find the walkthrough-shaped chain of %s:\n%s", hand.namespace, r.stdout)
	}
	if c.Shape != "walkthrough" || c.Ingress != w.p.IstioNamespace+"/"+handIngress || c.Params["service"] != hand.service ||
		c.Params["host"] != hand.host || c.Params["gateway-secret"] != w.p.GatewaySecretName || c.Params["client-secret"] != "alb-certs" {
		t.Errorf("the walkthrough-shaped chain was reconstructed wrong: %+v", *c)
	}
	if c.Report == nil {
		t.Errorf("the walkthrough-shaped chain was not checked: %+v", *c)
	}
	for _, a := range []app{first, second, third} {
		expectCleanChain(t, res, w, a, r.stdout)
	}
	if want := worstOf(res.Chains); r.code != want {
		t.Errorf("check -A exited %d, want %d, the worst of its chains:\n%s", r.code, want, r)
	}
	// YAML carries the same.
	r = albistio(t, append(base, "-o", "yaml")...)
	if !strings.Contains(r.stdout, "chain: "+hand.namespace+"/"+hand.service) || !strings.Contains(r.stdout, "shape: walkthrough") {
		t.Errorf("check -A -o yaml lacks the walkthrough-shaped chain:\n%s", r.stdout)
	}

	// -A refuses the flags that name one chain.
	mustFail(t, albistio(t, "check", "-A", "--service", "httpbin"), 2, "--service", "-A")
}

// containsLine reports whether one line of text holds every one of parts.
func containsLine(text string, parts ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// unselectedLists are the LISTs of namespaced resources across all
// namespaces without a label selector (cluster-scoped IngressClasses are
// a handful and allowed).
func unselectedLists(rs bench.Requests) bench.Requests {
	var out bench.Requests
	for _, q := range rs {
		tg := q.Target()
		if !q.IsCollectionRead() || tg.Namespace != "" || tg.Resource == "ingressclasses" {
			continue
		}
		if !strings.Contains(q.URL, "labelSelector=") {
			out = append(out, q)
		}
	}
	return out
}

// copyAsWalkthrough makes, for app to, the objects the walkthrough makes by
// hand: a copy of from's Ingress without the plugin's labels (its own host,
// named name) and a VirtualService without them, bound to the hop's
// Gateway, whose server then lists the new host (as the walkthrough's
// Gateway lists its hosts).
func copyAsWalkthrough(t *testing.T, w *world, from, to app, name string) {
	t.Helper()
	ctx := context.Background()
	ing, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, from.ingressName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hand := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.p.IstioNamespace, Annotations: ing.Annotations},
		Spec:       *ing.Spec.DeepCopy(),
	}
	hand.Spec.TLS[0].Hosts = []string{to.host}
	hand.Spec.Rules[0].Host = to.host
	if _, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Create(ctx, hand, metav1.CreateOptions{FieldManager: "walkthrough"}); err != nil {
		t.Fatal(err)
	}
	vsGVR := gvrOf("networking.istio.io", "v1", "virtualservices")
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "default-ingress", "namespace": to.namespace},
		"spec": map[string]any{
			"hosts":    []any{to.host},
			"gateways": []any{w.p.IstioNamespace + "/" + w.gatewayName()},
			"http": []any{map[string]any{
				"match": []any{map[string]any{"uri": map[string]any{"prefix": "/status"}}},
				"route": []any{map[string]any{"destination": map[string]any{
					"host": to.service + "." + to.namespace + ".svc.cluster.local",
					"port": map[string]any{"number": int64(8000)},
				}}},
			}},
		},
	}}
	if _, err := env.dyn.Resource(vsGVR).Namespace(to.namespace).Create(ctx, vs, metav1.CreateOptions{FieldManager: "walkthrough"}); err != nil {
		t.Fatal(err)
	}
	gwGVR := gvrOf("networking.istio.io", "v1", "gateways")
	gw, err := env.dyn.Resource(gwGVR).Namespace(w.p.IstioNamespace).Get(ctx, w.gatewayName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	srv := servers[0].(map[string]any)
	srv["hosts"] = append(srv["hosts"].([]any), to.host)
	if err := unstructured.SetNestedSlice(gw.Object, servers, "spec", "servers"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dyn.Resource(gwGVR).Namespace(w.p.IstioNamespace).Update(ctx, gw, metav1.UpdateOptions{FieldManager: "walkthrough"}); err != nil {
		t.Fatal(err)
	}
}

// fleetKubeconfig writes a kubeconfig with one context per entry of
// contexts (name → namespace) for the admin, a context "down" whose API
// server refuses connections, and a context "denied" whose user RBAC
// denies everything.
func fleetKubeconfig(t *testing.T, contexts map[string]string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	live := cfg.Clusters[cluster.ContextName]
	for name, ns := range contexts {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: cluster.ContextName, AuthInfo: cluster.Admin, Namespace: ns}
	}
	// A port that was free a moment ago and that nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "https://" + l.Addr().String()
	l.Close()
	cfg.Clusters["down"] = &clientcmdapi.Cluster{Server: downURL, CertificateAuthorityData: live.CertificateAuthorityData}
	cfg.Contexts["down"] = &clientcmdapi.Context{Cluster: "down", AuthInfo: cluster.Admin, Namespace: "default"}
	cfg.AuthInfos[cluster.OtherUser] = &clientcmdapi.AuthInfo{Token: env.cluster.Token(cluster.OtherUser)}
	cfg.Contexts["denied"] = &clientcmdapi.Context{Cluster: cluster.ContextName, AuthInfo: cluster.OtherUser, Namespace: "default"}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckFleetContexts: check --contexts checks each context (20 at once, 8 of one API server):
// two live ones (the same API server, each context's namespace naming its
// app), one whose API server is down and one RBAC denies. One summary line
// each, then each report; the unreachable context hides nothing and the
// exit code is the worst outcome. With -A, each context's chains.
func TestCheckFleetContexts(t *testing.T) {
	w := newWorld(t, false)
	second := w.addApp(t, "httpbin") // a second namespace with its own httpbin
	mustSucceed(t, w.setup(t))
	mustSucceed(t, w.setup(t, second.flags()...))
	kc := fleetKubeconfig(t, map[string]string{"live-a": w.p.AppNamespace, "live-b": second.namespace})
	// The chain's flags without -n: each context's namespace names its app.
	flags := append(dropFlag(w.flags(), "-n"), "--alb-flavor", "nginx")
	run := func(args ...string) result {
		t.Helper()
		return albistioAs(t, kc, nil, append(append([]string{"check"}, args...), flags...)...)
	}

	r := run("--contexts", "live-a,live-b,down,denied")
	if r.code != 6 {
		t.Fatalf("want exit 6 (the worst outcome: an unreachable context):\n%s", r)
	}
	table := strings.SplitN(r.stdout, "\n\n", 2)[0]
	for _, want := range [][]string{{"CONTEXT", "RESULT"}, {"live-a", "clean"}, {"live-b", "clean"}, {"down", "unreachable"}, {"denied", "forbidden"}} {
		if !containsLine(table, want...) {
			t.Errorf("the summary lacks a line with %q:\n%s", want, table)
		}
	}
	for _, c := range []string{"live-a", "live-b", "down", "denied"} {
		if !strings.Contains(r.stdout, "=== context "+c+" ===") {
			t.Errorf("no report section for context %s:\n%s", c, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "No problems found.") || !strings.Contains(r.stdout, "4 contexts: 2 clean, 1 forbidden, 1 unreachable") {
		t.Errorf("want the live contexts' reports and the totals:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "error: ") || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("stderr should sum the run up:\n%s", r.stderr)
	}

	r = run("--contexts", "live-a,live-b,down,denied", "-o", "json")
	var doc fleetContexts
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	got := map[string]string{}
	for _, c := range doc.Contexts {
		got[c.Context] = fmt.Sprintf("%s/%d", c.Outcome, c.ExitCode)
		if (c.Outcome == "clean") != (len(c.Report) > 0) {
			t.Errorf("context %s: a report only for the checked contexts: %+v", c.Context, c)
		}
	}
	want := map[string]string{"live-a": "clean/0", "live-b": "clean/0", "down": "unreachable/6", "denied": "forbidden/5"}
	if fmt.Sprint(got) != fmt.Sprint(want) || r.code != 6 || doc.Summary.Contexts != 4 || doc.Summary.Unreachable != 1 {
		t.Errorf("check --contexts -o json: got %v (exit %d), want %v (exit 6):\n%s", got, r.code, want, r.stdout)
	}

	// Only live contexts: clean. They reach one API server as one user, so
	// what their chains share (the hop) is read once.
	r = mustSucceed(t, run("--contexts", "live-a,live-b", "-v=6"))
	if n := len(bench.ParseRequests(r.stderr)); n == 0 || n >= 2*checkRequests {
		t.Errorf("two contexts of one API server and user made %d requests; sharing the hop's reads, they should cost less than two checks (%d)", n, 2*checkRequests)
	} else {
		t.Logf("two contexts of one identity: %d requests (one check: %d)", n, checkRequests)
	}
	// Without the unreachable context, forbidden decides the code.
	if r := run("--contexts", "live-a,denied"); r.code != 5 {
		t.Errorf("want exit 5 (forbidden):\n%s", r)
	}
	// A finding in one context: exit 8, and the clean one still says clean.
	if r := run("--contexts", "live-a,live-b", "--service", "nosuch"); r.code != 8 || !containsLine(r.stdout, "live-a", "findings") {
		t.Errorf("want exit 8 with findings in both contexts (no Service nosuch):\n%s", r)
	}

	// -A in each context: the live one holds both chains.
	r = albistioAs(t, kc, nil, "check", "-A", "--ca-file", w.caFile, "--contexts", "live-a,down", "-o", "json")
	doc = fleetContexts{}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if r.code != 6 || len(doc.Contexts) != 2 || doc.Contexts[0].Context != "live-a" || doc.Contexts[1].Outcome != "unreachable" {
		t.Fatalf("check -A --contexts live-a,down: want live-a checked and down unreachable (exit 6):\n%s", r)
	}
	res := fleetCluster{Chains: doc.Contexts[0].Chains}
	expectCleanChain(t, res, w, app{namespace: w.p.AppNamespace, service: "httpbin", host: w.host}, r.stdout)
	expectCleanChain(t, res, w, app{namespace: second.namespace, service: "httpbin", host: second.host}, r.stdout)

	// Usage errors, before any context is contacted.
	mustFail(t, run("--contexts", "live-a,nosuch"), 2, "nosuch")
	mustFail(t, run("--contexts", "live-a", "--all-contexts"), 2, "--all-contexts")
	mustFail(t, run("--contexts", "live-a", "--context", "live-b"), 2, "--context")
}
