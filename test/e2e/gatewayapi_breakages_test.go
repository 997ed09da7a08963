package e2e

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/albistio/kubectl-albistio/test/datapath"
)

// gwBreaks is a healthy Gateway API chain in the real API server, the
// state it was in when healthy (to put back after each breakage), and
// check run on it.
type gwBreaks struct {
	ctx context.Context
	w   *world
	// saved are the Gateway API objects (and the Gateway CRD) as they
	// were when check found the chain healthy; status says the object's
	// status is Istio's (written through the status subresource), not
	// the API server's own.
	saved []gwSaved
	// clientCA is the client-CA ConfigMap's data, image the gateway
	// pod's istio-proxy image, both when healthy.
	clientCA map[string]string
	image    string
}

// gwSaved is one object as it was when the chain was healthy.
type gwSaved struct {
	gvr    schema.GroupVersionResource
	obj    *unstructured.Unstructured
	status bool
}

// gwLevels are the levels docs/checks.md gives the codes the breakages
// bring: they say what check's exit code must be.
var gwLevels = map[string]string{
	"ALB1001": "error", "ALB1002": "info", "ALB1003": "error", "ALB1004": "error", "ALB1005": "error", "ALB1006": "error",
	"ALB1007": "error", "ALB1008": "error", "ALB1009": "error", "ALB1010": "error", "ALB1011": "error",
	"ALB1012": "warning", "ALB1013": "error", "ALB1014": "warning", "ALB1015": "error", "ALB1016": "error",
	"ALB1017": "info", "ALB1018": "warning", "ALB1019": "info", "ALB1020": "error", "ALB1021": "error",
	"ALB1022": "error", "ALB1023": "error", "ALB1024": "error", "ALB1025": "error", "ALB1026": "error",
	"ALB1027": "error",
}

// gwCRDGVR is where the Gateway CRD (and its release annotations) lives.
var gwCRDGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// gwCond is a condition as Istio writes them.
func gwCond(gen int64, ty, status, reason, message string) map[string]any {
	return map[string]any{"type": ty, "status": status, "reason": reason, "message": message, "observedGeneration": gen,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
}

// gwConds are conditions of the types, each True.
func gwConds(gen int64, types ...string) []any {
	var out []any
	for _, ty := range types {
		out = append(out, gwCond(gen, ty, "True", ty, ""))
	}
	return out
}

// gwSetCond replaces the condition of c's type in conds (or adds it).
func gwSetCond(conds []any, c map[string]any) []any {
	for i, old := range conds {
		if old.(map[string]any)["type"] == c["type"] {
			conds[i] = c
			return conds
		}
	}
	return append(conds, c)
}

// gwField walks u's object along keys (a map key, or an int index into a
// list) to a map, which the caller may change in place.
func gwField(t *testing.T, u *unstructured.Unstructured, keys ...any) map[string]any {
	t.Helper()
	var cur any = u.Object
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%s %s: no map at %v", u.GetKind(), u.GetName(), keys)
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%s %s: no list item at %v", u.GetKind(), u.GetName(), keys)
			}
			cur = l[k]
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("%s %s: %v is not a map", u.GetKind(), u.GetName(), keys)
	}
	return m
}

func (b *gwBreaks) res(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	return dynResource(gvr, ns)
}

// edit changes an object's spec or metadata as a user would (kubectl
// edit): read, change, update; the API server validates it (the CRDs'
// schemas and CEL rules) and refuses what they forbid.
func (b *gwBreaks) edit(t *testing.T, gvr schema.GroupVersionResource, ns, name string, change func(u *unstructured.Unstructured)) {
	t.Helper()
	res := b.res(gvr, ns)
	u, err := res.Get(b.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(u)
	if _, err := res.Update(b.ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("the API server refused the breakage of %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
}

// status changes an object's status as Istio would (gwWriteStatus).
func (b *gwBreaks) status(t *testing.T, gvr schema.GroupVersionResource, ns, name string, change func(u *unstructured.Unstructured, status map[string]any)) {
	t.Helper()
	gwWriteStatus(t, b.ctx, gvr, ns, name, change)
}

// remove deletes an object (gone already is fine: undo runs after a
// failed breakage too).
func (b *gwBreaks) remove(t *testing.T, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	if err := b.res(gvr, ns).Delete(b.ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
}

// save records the object as it is now, to put back after each breakage.
func (b *gwBreaks) save(t *testing.T, gvr schema.GroupVersionResource, ns, name string, status bool) {
	t.Helper()
	u, err := b.res(gvr, ns).Get(b.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.saved = append(b.saved, gwSaved{gvr: gvr, obj: u, status: status})
}

// restore puts every saved object back as it was when healthy: its spec,
// labels and annotations, and the status Istio had written, recreating
// what a breakage deleted; the client-CA ConfigMap's data and the gateway
// pod's image likewise.
func (b *gwBreaks) restore(t *testing.T) {
	t.Helper()
	for _, s := range b.saved {
		res := b.res(s.gvr, s.obj.GetNamespace())
		cur, err := res.Get(b.ctx, s.obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			fresh := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": s.obj.GetAPIVersion(), "kind": s.obj.GetKind(),
				"metadata": map[string]any{"name": s.obj.GetName(), "namespace": s.obj.GetNamespace()},
				"spec":     runtime.DeepCopyJSONValue(s.obj.Object["spec"]),
			}}
			fresh.SetLabels(s.obj.GetLabels())
			fresh.SetAnnotations(s.obj.GetAnnotations())
			if cur, err = res.Create(b.ctx, fresh, metav1.CreateOptions{}); err != nil {
				t.Fatalf("recreating %s %s: %v", s.gvr.Resource, s.obj.GetName(), err)
			}
		case err != nil:
			t.Fatal(err)
		default:
			cur.Object["spec"] = runtime.DeepCopyJSONValue(s.obj.Object["spec"])
			cur.SetLabels(s.obj.GetLabels())
			cur.SetAnnotations(s.obj.GetAnnotations())
			if cur, err = res.Update(b.ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("restoring %s %s: %v", s.gvr.Resource, s.obj.GetName(), err)
			}
		}
		if s.status {
			cur.Object["status"] = runtime.DeepCopyJSONValue(s.obj.Object["status"])
			if _, err := res.UpdateStatus(b.ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("restoring %s %s's status: %v", s.gvr.Resource, s.obj.GetName(), err)
			}
		}
	}
	ns, name := b.w.p.IstioNamespace, b.w.gatewayName()+"-client-ca"
	cms := env.kube.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(b.ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: b.clientCA}
		_, err = cms.Create(b.ctx, cm, metav1.CreateOptions{})
	case err == nil:
		cm.Data = b.clientCA
		_, err = cms.Update(b.ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("restoring the client-CA ConfigMap: %v", err)
	}
	b.setImage(t, b.image)
}

// setImage sets the gateway pod's istio-proxy image: the Istio release
// istiod injects, which check reads.
func (b *gwBreaks) setImage(t *testing.T, image string) {
	t.Helper()
	pods := env.kube.CoreV1().Pods(b.w.p.IstioNamespace)
	pod, err := pods.Get(b.ctx, b.w.gatewayName()+"-istio-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[0].Image == image {
		return
	}
	pod.Spec.Containers[0].Image = image
	if _, err := pods.Update(b.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// check runs check --gateway-api -o json and returns the codes it found
// (each once, sorted).
func (b *gwBreaks) check(t *testing.T, extra ...string) ([]string, result) {
	t.Helper()
	return gatewayAPICheckCodes(t, b.w, extra...)
}

// expectHealthy: check finds nothing but the Gateway API's release (info).
func (b *gwBreaks) expectHealthy(t *testing.T, when string) {
	t.Helper()
	if got, r := b.check(t); r.code != 0 || !slices.Equal(got, []string{"ALB1002"}) {
		t.Fatalf("%s, check should find the chain healthy (exit 0, ALB1002 only); exit %d, codes %v\n%s", when, r.code, got, r)
	}
}

// TestGatewayAPICheckBreakages: from a healthy Gateway API chain in the
// real API server (the standard CRDs v1.6.3, the status Istio 1.28 writes),
// each case breaks one thing as a user, Istio or an upgrade would, through
// the API server (spec edits it validates, status subresource writes,
// deletions), and check --gateway-api names it with its code and exits as
// the code's level says at the default --failure-threshold (error); the
// chain is then put back and check finds it healthy before the next case.
// Every code of the Gateway API rules but ALB1002 (the healthy state's
// own finding) is broken for real. ALB1009 is broken by a certificateRef
// to another Secret: the Gateway CRD's CEL rules refuse a listener of
// protocol HTTP that keeps its tls, and tls.mode Passthrough on HTTPS. ALB1001
// (the CRDs uninstalled) runs last, being the slowest to put back.
func TestGatewayAPICheckBreakages(t *testing.T) {
	w, ctx, _ := gatewayAPIChainToCheck(t)
	ns, app, gwName, route := w.p.IstioNamespace, w.p.AppNamespace, w.gatewayName(), "albistio-httpbin"
	b := &gwBreaks{ctx: ctx, w: w, image: "docker.io/istio/proxyv2:1.28.1"}

	playIstio(t, ctx, w, b.image)
	b.save(t, gwCRDGVR, "", "gateways.gateway.networking.k8s.io", false)
	b.save(t, datapath.GatewayClassGVR, "", "istio", true)
	b.save(t, datapath.GatewayAPIGatewayGVR, ns, gwName, true)
	b.save(t, datapath.HTTPRouteGVR, app, route, true)
	cm, err := env.kube.CoreV1().ConfigMaps(ns).Get(ctx, gwName+"-client-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.clientCA = cm.Data
	caPEM := cm.Data["ca.crt"]
	b.expectHealthy(t, "before any breakage")

	secrets := gvrOf("", "v1", "secrets")
	configMaps := gvrOf("", "v1", "configmaps")
	gateway := func(t *testing.T, change func(u *unstructured.Unstructured)) {
		t.Helper()
		b.edit(t, datapath.GatewayAPIGatewayGVR, ns, gwName, change)
	}
	httpRoute := func(t *testing.T, change func(u *unstructured.Unstructured)) {
		t.Helper()
		b.edit(t, datapath.HTTPRouteGVR, app, route, change)
	}
	listener := func(t *testing.T, u *unstructured.Unstructured) map[string]any {
		t.Helper()
		return gwField(t, u, "spec", "listeners", 0)
	}
	caRef := func(t *testing.T, u *unstructured.Unstructured) map[string]any {
		t.Helper()
		return gwField(t, u, "spec", "tls", "frontend", "default", "validation", "caCertificateRefs", 0)
	}
	// createSecret writes a Secret holding the client CA, as a user (or
	// the plugin, with its label) would.
	createSecret := func(t *testing.T, name string, labels map[string]string) {
		t.Helper()
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Data: map[string][]byte{"ca.crt": []byte(caPEM)}}
		if _, err := env.kube.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		name string
		// code is the finding the breakage must bring; also are codes
		// that come with it (the same rule's, or a second consequence of
		// the same edit).
		code    string
		also    []string
		breakIt func(t *testing.T)
		// undo removes what the breakage added beside the saved objects.
		undo func(t *testing.T)
		// after runs more of the case once its finding was seen.
		after func(t *testing.T)
	}{
		{
			name: "Gateway CRD bundle older than v1.5.0", code: "ALB1003",
			breakIt: func(t *testing.T) {
				b.edit(t, gwCRDGVR, "", "gateways.gateway.networking.k8s.io", func(u *unstructured.Unstructured) {
					a := u.GetAnnotations()
					a["gateway.networking.k8s.io/bundle-version"] = "v1.4.1"
					u.SetAnnotations(a)
				})
			},
		},
		{
			name: "GatewayClass not Accepted", code: "ALB1004",
			breakIt: func(t *testing.T) {
				b.status(t, datapath.GatewayClassGVR, "", "istio", func(u *unstructured.Unstructured, s map[string]any) {
					s["conditions"] = gwSetCond(s["conditions"].([]any), gwCond(u.GetGeneration(), "Accepted", "False", "InvalidParameters", "parametersRef not found"))
				})
			},
		},
		{
			name: "GatewayClass deleted", code: "ALB1004",
			breakIt: func(t *testing.T) { b.remove(t, datapath.GatewayClassGVR, "", "istio") },
		},
		{
			name: "Gateway deleted", code: "ALB1005",
			breakIt: func(t *testing.T) { b.remove(t, datapath.GatewayAPIGatewayGVR, ns, gwName) },
		},
		{
			name: "gatewayClassName changed", code: "ALB1006", also: []string{"ALB1004"},
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) { gwField(t, u, "spec")["gatewayClassName"] = "other" })
			},
		},
		{
			name: "Gateway Programmed False", code: "ALB1007",
			breakIt: func(t *testing.T) {
				b.status(t, datapath.GatewayAPIGatewayGVR, ns, gwName, func(u *unstructured.Unstructured, s map[string]any) {
					s["conditions"] = gwSetCond(s["conditions"].([]any), gwCond(u.GetGeneration(), "Programmed", "False", "AddressNotAssigned", "no address"))
				})
			},
		},
		{
			name: "listener hostname elsewhere", code: "ALB1008",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) { listener(t, u)["hostname"] = "elsewhere.example.com" })
			},
		},
		{
			name: "listener certificateRef another Secret", code: "ALB1009",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "listeners", 0, "tls", "certificateRefs", 0)["name"] = "another-certificate"
				})
			},
		},
		{
			name: "listener ResolvedRefs False InvalidCACertificateRef", code: "ALB1010",
			breakIt: func(t *testing.T) {
				b.status(t, datapath.GatewayAPIGatewayGVR, ns, gwName, func(u *unstructured.Unstructured, s map[string]any) {
					l := s["listeners"].([]any)[0].(map[string]any)
					l["conditions"] = gwSetCond(l["conditions"].([]any), gwCond(u.GetGeneration(), "ResolvedRefs", "False", "InvalidCACertificateRef", "CA ConfigMap not found"))
				})
			},
		},
		{
			name: "allowedRoutes from Same", code: "ALB1011",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "listeners", 0, "allowedRoutes")["namespaces"] = map[string]any{"from": "Same"}
				})
			},
		},
		{
			name: "frontend validation AllowInsecureFallback", code: "ALB1012",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "tls", "frontend", "default", "validation")["mode"] = "AllowInsecureFallback"
				})
			},
		},
		{
			name: "caCertificateRef kind Secret", code: "ALB1013",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) { caRef(t, u)["kind"] = "Secret" })
			},
		},
		{
			name: "caCertificateRef another ConfigMap", code: "ALB1014",
			breakIt: func(t *testing.T) {
				other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses-ca", Namespace: ns}, Data: map[string]string{"ca.crt": caPEM}}
				if _, err := env.kube.CoreV1().ConfigMaps(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				gateway(t, func(u *unstructured.Unstructured) { caRef(t, u)["name"] = "someone-elses-ca" })
			},
			undo: func(t *testing.T) { b.remove(t, configMaps, ns, "someone-elses-ca") },
		},
		{
			name: "client-CA ConfigMap ca.crt garbled", code: "ALB1015",
			breakIt: func(t *testing.T) {
				b.edit(t, configMaps, ns, gwName+"-client-ca", func(u *unstructured.Unstructured) {
					gwField(t, u, "data")["ca.crt"] = "not a certificate"
				})
			},
		},
		{
			name: "Istio 1.27 ignores frontend", code: "ALB1016",
			breakIt: func(t *testing.T) { b.setImage(t, "docker.io/istio/proxyv2:1.27.3") },
		},
		{
			name: "Istio release unknown", code: "ALB1017",
			breakIt: func(t *testing.T) { b.setImage(t, "docker.io/istio/proxyv2:latest") },
		},
		{
			name: "-cacert beside a Secret caCertificateRef", code: "ALB1018", also: []string{"ALB1013"},
			breakIt: func(t *testing.T) {
				createSecret(t, "gateway-client-ca", nil)
				createSecret(t, "gateway-client-ca-cacert", nil)
				gateway(t, func(u *unstructured.Unstructured) {
					ref := caRef(t, u)
					ref["kind"], ref["name"] = "Secret", "gateway-client-ca"
				})
			},
			undo: func(t *testing.T) {
				b.remove(t, secrets, ns, "gateway-client-ca")
				b.remove(t, secrets, ns, "gateway-client-ca-cacert")
			},
		},
		{
			name: "classic -cacert left", code: "ALB1019",
			breakIt: func(t *testing.T) {
				createSecret(t, w.p.GatewaySecretName+"-cacert", map[string]string{"app.kubernetes.io/managed-by": "kubectl-albistio"})
			},
			undo: func(t *testing.T) { b.remove(t, secrets, ns, w.p.GatewaySecretName+"-cacert") },
		},
		{
			name: "HTTPRoute deleted", code: "ALB1020",
			breakIt: func(t *testing.T) { b.remove(t, datapath.HTTPRouteGVR, app, route) },
		},
		{
			name: "parentRef sectionName wrong", code: "ALB1021",
			breakIt: func(t *testing.T) {
				httpRoute(t, func(u *unstructured.Unstructured) { gwField(t, u, "spec", "parentRefs", 0)["sectionName"] = "http" })
			},
		},
		{
			name: "HTTPRoute not Accepted", code: "ALB1022",
			breakIt: func(t *testing.T) {
				b.status(t, datapath.HTTPRouteGVR, app, route, func(u *unstructured.Unstructured, s map[string]any) {
					p := s["parents"].([]any)[0].(map[string]any)
					p["conditions"] = gwSetCond(p["conditions"].([]any), gwCond(u.GetGeneration(), "Accepted", "False", "NotAllowedByListeners", "no listener admits it"))
				})
			},
		},
		{
			name: "hostnames without the host", code: "ALB1023",
			breakIt: func(t *testing.T) {
				httpRoute(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec")["hostnames"] = []any{"other." + w.p.ALBDomain}
				})
			},
		},
		{
			name: "path prefix changed", code: "ALB1024",
			breakIt: func(t *testing.T) {
				httpRoute(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "rules", 0, "matches", 0, "path")["value"] = "/statusz"
				})
			},
		},
		{
			name: "backendRef port wrong", code: "ALB1025",
			breakIt: func(t *testing.T) {
				httpRoute(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "rules", 0, "backendRefs", 0)["port"] = int64(8080)
				})
			},
		},
		{
			name: "certificateRef into another namespace without ReferenceGrant", code: "ALB1026", also: []string{"ALB1009"},
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) {
					gwField(t, u, "spec", "listeners", 0, "tls", "certificateRefs", 0)["namespace"] = app
				})
			},
			// A ReferenceGrant in the app's namespace that lets the
			// Gateway's namespace refer to its Secrets answers ALB1026
			// (the certificate is still not the gateway's: ALB1009).
			after: func(t *testing.T) {
				grant := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
					"metadata": map[string]any{"name": "gateway-certificates", "namespace": app},
					"spec": map[string]any{
						"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": ns}},
						"to":   []any{map[string]any{"group": "", "kind": "Secret"}},
					},
				}}
				if _, err := env.dyn.Resource(datapath.ReferenceGrantGVR).Namespace(app).Create(ctx, grant, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				if got, r := b.check(t); slices.Contains(got, "ALB1026") || !slices.Contains(got, "ALB1009") {
					t.Errorf("with the ReferenceGrant, check should find ALB1009 and not ALB1026; codes %v\n%s", got, r)
				}
			},
			undo: func(t *testing.T) { b.remove(t, datapath.ReferenceGrantGVR, app, "gateway-certificates") },
		},
		{
			name: "SNI and Host on different listeners", code: "ALB1027",
			breakIt: func(t *testing.T) {
				gateway(t, func(u *unstructured.Unstructured) {
					spec := gwField(t, u, "spec")
					l := runtime.DeepCopyJSONValue(listener(t, u)).(map[string]any)
					l["name"], l["hostname"] = "host", w.host
					spec["listeners"] = append(spec["listeners"].([]any), l)
				})
				// Istio serves the new listener too: only the split is wrong.
				b.status(t, datapath.GatewayAPIGatewayGVR, ns, gwName, func(u *unstructured.Unstructured, s map[string]any) {
					l := runtime.DeepCopyJSONValue(s["listeners"].([]any)[0]).(map[string]any)
					l["name"] = "host"
					s["listeners"] = append(s["listeners"].([]any), l)
				})
			},
		},
		{
			name: "Gateway API not served", code: "ALB1001",
			breakIt: func(t *testing.T) {
				if err := env.cluster.UninstallGatewayAPI(ctx); err != nil {
					t.Fatal(err)
				}
			},
			undo: func(t *testing.T) {
				if err := env.cluster.InstallGatewayAPI(ctx); err != nil {
					t.Fatal(err)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() {
				if c.undo != nil {
					c.undo(t)
				}
				b.restore(t)
				b.expectHealthy(t, "restored")
			})
			c.breakIt(t)
			got, r := b.check(t)
			t.Logf("codes %v, exit %d", got, r.code)
			// Exactly the expected codes, and ALB1002 (the release),
			// which check reports whenever the Gateway API is served: a
			// breakage that also set off an unrelated rule would be a
			// false finding. The worst level among them sets the exit
			// code: 8 for an error at the default --failure-threshold
			// (error), 0 for warnings and info.
			want := append([]string{c.code}, c.also...)
			if c.code != "ALB1001" {
				want = append(want, "ALB1002")
			}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("check should find %v; found %v\n%s", want, got, r)
			}
			worst := "info"
			for _, code := range want {
				if l := gwLevels[code]; l == "error" || l == "warning" && worst == "info" {
					worst = l
				}
			}
			wantExit := 0
			if worst == "error" {
				wantExit = 8
			}
			if r.code != wantExit {
				t.Errorf("check should exit %d for a finding of level %s at the default --failure-threshold; exit %d, codes %v\n%s", wantExit, worst, r.code, got, r)
			}
			if worst == "warning" {
				// A warning counts with --failure-threshold warning.
				if _, r := b.check(t, "--failure-threshold", "warning"); r.code != 8 {
					t.Errorf("with --failure-threshold warning, check should exit 8; exit %d\n%s", r.code, r)
				}
			}
			if c.after != nil {
				c.after(t)
			}
		})
	}
}
