package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/albistio/kubectl-albistio/test/datapath"
)

// gatewayAPICheckRequests is what Gateway API mode adds to checkRequests
// (pkg/check GatewayAPIRequests): the Gateway CRD, GatewayClass, Gateway,
// HTTPRoute and client-CA ConfigMap instead of the Istio Gateway and
// VirtualService.
const gatewayAPICheckRequests = 3

// TestGatewayAPICheck: check --gateway-api on a chain setup --gateway-api
// wrote into the real API server (the standard CRDs v1.6.3 installed),
// with the status Istio 1.28 writes set through the status subresources:
// healthy, it reports only the Gateway API's release and channel as the
// CRD carries them; each breakage below is one the API server accepts,
// and check names it with its code.
func TestGatewayAPICheck(t *testing.T) {
	w, ctx, setupArgs := gatewayAPIChainToCheck(t)
	ns, gwName := w.p.IstioNamespace, w.gatewayName()

	playIstio(t, ctx, w, "docker.io/istio/proxyv2:1.28.1")
	routeStatus := func(types ...string) func(u *unstructured.Unstructured, s map[string]any) {
		return func(u *unstructured.Unstructured, s map[string]any) {
			refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
			s["parents"] = []any{map[string]any{"parentRef": refs[0], "controllerName": "istio.io/gateway-controller",
				"conditions": gwConds(u.GetGeneration(), types...)}}
		}
	}
	checkCodes := func(wantExit int, want ...string) {
		t.Helper()
		got, r := gatewayAPICheckCodes(t, w)
		sort.Strings(want)
		if r.code != wantExit || !slices.Equal(got, want) {
			t.Errorf("check: exit %d, codes %v; want exit %d, codes %v\n%s", r.code, got, wantExit, want, r)
		}
	}

	// Healthy: the release, read from the CRD the module cache installed,
	// at the classic check's cost plus the Gateway API's objects: the CRD,
	// the GatewayClass, the Gateway, the HTTPRoute and the ConfigMap
	// instead of the Istio Gateway and VirtualService.
	checkCodes(0, "ALB1002")
	rs := requestLog(t, []int{0}, append([]string{"check", "--gateway-api"}, w.flags("--alb-flavor", "nginx")...)...)
	if want := checkRequests + gatewayAPICheckRequests + compatReads(t); len(rs) != want {
		t.Errorf("check --gateway-api made %d API requests, want %d:\n%s", len(rs), want, rs)
	}

	// check -A finds the chain by its labels and its Gateway API hop, and
	// checks it in Gateway API mode: clean, with the same finding.
	r := albistio(t, "check", "-A", "--ca-file", w.caFile, "-o", "json")
	var all fleetCluster
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil {
		t.Fatalf("check -A -o json is not JSON: %v\n%s", err, r)
	}
	var mine *fleetChain
	for i, ch := range all.Chains {
		if ch.Chain == w.p.AppNamespace+"/httpbin" {
			mine = &all.Chains[i]
		}
	}
	if mine == nil || mine.Outcome != "clean" || mine.Report == nil || len(mine.Report.Findings) != 1 || mine.Report.Findings[0].Code != "ALB1002" {
		t.Errorf("check -A should find the Gateway API chain %s/httpbin clean (ALB1002 only), found %+v:\n%s", w.p.AppNamespace, mine, r)
	}

	// The route not attached (a listener admitting no route from the
	// app's namespace, as Istio reports it).
	gwWriteStatus(t, ctx, datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", func(u *unstructured.Unstructured, s map[string]any) {
		routeStatus("ResolvedRefs")(u, s)
		p := s["parents"].([]any)[0].(map[string]any)
		p["conditions"] = append(p["conditions"].([]any), gwCond(u.GetGeneration(), "Accepted", "False", "NotAllowedByListeners", "no listener admits it"))
	})
	checkCodes(8, "ALB1002", "ALB1022")
	gwWriteStatus(t, ctx, datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", routeStatus("Accepted", "ResolvedRefs"))

	// The client-CA ConfigMap gone.
	if err := env.kube.CoreV1().ConfigMaps(ns).Delete(ctx, gwName+"-client-ca", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCodes(8, "ALB1002", "ALB1015")
	mustSucceed(t, albistio(t, setupArgs...))

	// An Istio that ignores spec.tls.frontend.
	pod, err := env.kube.CoreV1().Pods(ns).Get(ctx, gwName+"-istio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0].Image = "docker.io/istio/proxyv2:1.27.3"
	if _, err := env.kube.CoreV1().Pods(ns).Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCodes(8, "ALB1002", "ALB1016")
}

// gatewayAPIChainToCheck is what both Gateway API check tests start from:
// an nginx chain in private-ca mode that setup --gateway-api wrote, the
// gateway's pods deployed, a context of three minutes for the test, and
// the setup command that puts the chain back.
func gatewayAPIChainToCheck(t *testing.T) (*world, context.Context, []string) {
	t.Helper()
	requireGatewayAPI(t)
	w := newWorld(t, false)
	setupArgs := append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)
	mustSucceed(t, albistio(t, setupArgs...))
	w.deployGatewayAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return w, ctx, setupArgs
}

// playIstio plays Istio's part for a Gateway API chain setup wrote (after
// w.deployGatewayAPI): the pod it deploys runs image and is ready, and the
// GatewayClass, the Gateway with its listeners and the HTTPRoute carry the
// status Istio 1.28 writes for them.
func playIstio(t *testing.T, ctx context.Context, w *world, image string) {
	t.Helper()
	ns, gwName := w.p.IstioNamespace, w.gatewayName()
	pods := env.kube.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx, gwName+"-istio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0].Image = image
	if pod, err = pods.Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gwWriteStatus(t, ctx, datapath.GatewayClassGVR, "", "istio", func(u *unstructured.Unstructured, s map[string]any) {
		s["conditions"] = gwConds(u.GetGeneration(), "Accepted")
	})
	gwWriteStatus(t, ctx, datapath.GatewayAPIGatewayGVR, ns, gwName, func(u *unstructured.Unstructured, s map[string]any) {
		listeners, _, _ := unstructured.NestedSlice(u.Object, "spec", "listeners")
		var ls []any
		for _, l := range listeners {
			ls = append(ls, map[string]any{"name": l.(map[string]any)["name"], "attachedRoutes": int64(1),
				"supportedKinds": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}},
				"conditions":     gwConds(u.GetGeneration(), "Accepted", "Programmed", "ResolvedRefs")})
		}
		s["conditions"], s["listeners"] = gwConds(u.GetGeneration(), "Accepted", "Programmed"), ls
	})
	gwWriteStatus(t, ctx, datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", func(u *unstructured.Unstructured, s map[string]any) {
		refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
		s["parents"] = []any{map[string]any{"parentRef": refs[0], "controllerName": "istio.io/gateway-controller",
			"conditions": gwConds(u.GetGeneration(), "Accepted", "ResolvedRefs")}}
	})
}

// gwWriteStatus changes an object's status as its controller (Istio)
// would, through the status subresource.
func gwWriteStatus(t *testing.T, ctx context.Context, gvr schema.GroupVersionResource, ns, name string, change func(u *unstructured.Unstructured, status map[string]any)) {
	t.Helper()
	res := dynResource(gvr, ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := u.Object["status"].(map[string]any)
	if s == nil {
		s = map[string]any{}
		u.Object["status"] = s
	}
	change(u, s)
	if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing %s %s/%s's status as Istio would: %v", gvr.Resource, ns, name, err)
	}
}

// dynResource is the resource's client, namespaced unless ns is "".
func dynResource(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return env.dyn.Resource(gvr)
	}
	return env.dyn.Resource(gvr).Namespace(ns)
}

// gatewayAPICheckCodes runs check --gateway-api -o json on w's chain and
// returns the codes it found (each once, sorted).
func gatewayAPICheckCodes(t *testing.T, w *world, extra ...string) ([]string, result) {
	t.Helper()
	r := albistio(t, append(append([]string{"check", "--gateway-api", "-o", "json"}, extra...), w.flags("--alb-flavor", "nginx")...)...)
	var report struct {
		Findings []struct {
			Code string `json:"code"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("check's JSON: %v\n%s", err, r)
	}
	var got []string
	for _, f := range report.Findings {
		if !slices.Contains(got, f.Code) {
			got = append(got, f.Code)
		}
	}
	sort.Strings(got)
	return got, r
}
