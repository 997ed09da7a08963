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
	requireGatewayAPI(t)
	w := newWorld(t, false)
	setupArgs := append([]string{"setup", "--gateway-api", "--failure-threshold", "none"}, w.flags("--alb-flavor", "nginx", "--client-identity", "private-ca")...)
	mustSucceed(t, albistio(t, setupArgs...))
	w.deployGatewayAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, gwName := w.p.IstioNamespace, w.gatewayName()

	// Istio's part: the pod it deploys runs its release and is ready;
	// the class, the Gateway and the route carry its status.
	pod, err := env.kube.CoreV1().Pods(ns).Get(ctx, gwName+"-istio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0].Image = "docker.io/istio/proxyv2:1.28.1"
	if pod, err = env.kube.CoreV1().Pods(ns).Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := env.kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	conds := func(gen int64, types ...string) []any {
		var out []any
		for _, ty := range types {
			out = append(out, map[string]any{"type": ty, "status": "True", "reason": ty, "message": "", "observedGeneration": gen,
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)})
		}
		return out
	}
	setStatus := func(gvr schema.GroupVersionResource, namespace, name string, status func(u *unstructured.Unstructured) map[string]any) {
		t.Helper()
		res := env.dyn.Resource(gvr).Namespace(namespace)
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u.Object["status"] = status(u)
		if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("writing %s %s/%s's status as Istio would: %v", gvr.Resource, namespace, name, err)
		}
	}
	setStatus(datapath.GatewayClassGVR, "", "istio", func(u *unstructured.Unstructured) map[string]any {
		return map[string]any{"conditions": conds(u.GetGeneration(), "Accepted")}
	})
	setStatus(datapath.GatewayAPIGatewayGVR, ns, gwName, func(u *unstructured.Unstructured) map[string]any {
		listeners, _, _ := unstructured.NestedSlice(u.Object, "spec", "listeners")
		var ls []any
		for _, l := range listeners {
			ls = append(ls, map[string]any{"name": l.(map[string]any)["name"], "attachedRoutes": int64(1),
				"supportedKinds": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}},
				"conditions":     conds(u.GetGeneration(), "Accepted", "Programmed", "ResolvedRefs")})
		}
		return map[string]any{"conditions": conds(u.GetGeneration(), "Accepted", "Programmed"), "listeners": ls}
	})
	routeStatus := func(types ...string) func(u *unstructured.Unstructured) map[string]any {
		return func(u *unstructured.Unstructured) map[string]any {
			refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
			return map[string]any{"parents": []any{map[string]any{"parentRef": refs[0], "controllerName": "istio.io/gateway-controller",
				"conditions": conds(u.GetGeneration(), types...)}}}
		}
	}
	setStatus(datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", routeStatus("Accepted", "ResolvedRefs"))

	checkCodes := func(wantExit int, want ...string) {
		t.Helper()
		r := albistio(t, append([]string{"check", "--gateway-api", "-o", "json"}, w.flags("--alb-flavor", "nginx")...)...)
		var report struct {
			Findings []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
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
	setStatus(datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", func(u *unstructured.Unstructured) map[string]any {
		s := routeStatus("ResolvedRefs")(u)
		p := s["parents"].([]any)[0].(map[string]any)
		p["conditions"] = append(p["conditions"].([]any), map[string]any{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners",
			"message": "no listener admits it", "observedGeneration": u.GetGeneration(), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)})
		return s
	})
	checkCodes(8, "ALB1002", "ALB1022")
	setStatus(datapath.HTTPRouteGVR, w.p.AppNamespace, "albistio-httpbin", routeStatus("Accepted", "ResolvedRefs"))

	// The client-CA ConfigMap gone.
	if err := env.kube.CoreV1().ConfigMaps(ns).Delete(ctx, gwName+"-client-ca", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCodes(8, "ALB1002", "ALB1015")
	mustSucceed(t, albistio(t, setupArgs...))

	// An Istio that ignores spec.tls.frontend.
	pod, err = env.kube.CoreV1().Pods(ns).Get(ctx, gwName+"-istio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0].Image = "docker.io/istio/proxyv2:1.27.3"
	if _, err := env.kube.CoreV1().Pods(ns).Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCodes(8, "ALB1002", "ALB1016")
}
