package check

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// managed is a managedFields entry: manager, operation, subresource and
// the fields it owns (FieldsV1, as JSON).
func managed(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

// pluginApply is the plugin's own apply entry, owning some annotations.
var pluginApply = managed(chain.FieldManager, metav1.ManagedFieldsOperationApply, "",
	`{"f:metadata":{"f:annotations":{".":{},"f:nginx.ingress.kubernetes.io/backend-protocol":{}},"f:labels":{".":{}}},"f:spec":{"f:rules":{},"f:tls":{}}}`)

// annotated is what `kubectl annotate --overwrite` leaves: it owns the
// annotation it changed.
func annotated(key string) metav1.ManagedFieldsEntry {
	return managed("kubectl-annotate", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:annotations":{"f:`+key+`":{}}}}`)
}

// withManagers sets the managedFields of the world's object named target.
func (w *world) withManagers(t *testing.T, target string, entries ...metav1.ManagedFieldsEntry) {
	t.Helper()
	_, u := w.find(target)
	if u == nil {
		t.Fatalf("no object %q in the world", target)
	}
	u.SetManagedFields(entries)
}

func (w *world) patch(t *testing.T, target string, patch map[string]any) {
	t.Helper()
	_, u := w.find(target)
	if u == nil {
		t.Fatalf("no object %q in the world", target)
	}
	u.Object = mergePatch(u.Object, roundTrip(t, patch))
}

const (
	testIngress = "Ingress istio-system/albistio-httptools-httpbin"
	testGateway = "Gateway istio-system/albistio-mycluster-a1b2c3-0001"
)

func findingOf(t *testing.T, fs []Finding, code Code) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no %s among %v", code, codesInOrder(fs))
	return Finding{}
}

// After kubectl annotate changed an annotation the plugin set, the fix
// that re-runs the plugin says --force-conflicts and names the manager
// that owns the field now; a fix is left as it was when nobody else owns
// the field, when the other manager only writes status, when managedFields
// are unknown, and when the fix does not run the plugin.
func TestConflictFixNamesTheOtherManager(t *testing.T) {
	sniOff := map[string]any{"metadata": map[string]any{"annotations": map[string]string{render.NginxProxySSLServerName: "off"}}}
	for _, tc := range []struct {
		name     string
		managers []metav1.ManagedFieldsEntry
		forced   bool
	}{
		{"kubectl annotate owns the annotation", []metav1.ManagedFieldsEntry{pluginApply, annotated(render.NginxProxySSLServerName)}, true},
		{"another annotation is theirs", []metav1.ManagedFieldsEntry{pluginApply, annotated("example.com/note")}, false},
		{"status only", []metav1.ManagedFieldsEntry{pluginApply,
			managed("nginx-ingress-controller", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:loadBalancer":{}}}`)}, false},
		{"the API server's own entry", []metav1.ManagedFieldsEntry{pluginApply,
			managed("before-first-apply", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:annotations":{"f:`+render.NginxProxySSLServerName+`":{}}}}`)}, false},
		{"no managedFields", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			w.patch(t, testIngress, sniOff)
			w.withManagers(t, testIngress, tc.managers...)
			f := findingOf(t, Run(inputOf(t, w)), NginxSNIOff)
			forced := strings.Contains(f.Fix, "re-run kubectl albistio ingress --force-conflicts)")
			if forced != tc.forced {
				t.Fatalf("fix %q: --force-conflicts %v, want %v", f.Fix, forced, tc.forced)
			}
			if tc.forced && !strings.Contains(f.Fix, `field manager "kubectl-annotate" owns metadata.annotations[`+render.NginxProxySSLServerName+`] now`) {
				t.Errorf("the fix does not name the manager and the field: %q", f.Fix)
			}
			if !tc.forced && f.Fix != `set it to "on" (re-run kubectl albistio ingress)` {
				t.Errorf("the fix changed: %q", f.Fix)
			}
		})
	}

	// A fix that does not run the plugin is never rewritten, whoever owns
	// the field (the namespace's labels are the user's).
	w := newWorld(t, worldOptions{})
	w.patch(t, "Namespace httptools", map[string]any{"metadata": map[string]any{"labels": map[string]any{"istio-injection": nil}}})
	w.withManagers(t, "Namespace httptools", managed("kubectl-label", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{}}}`))
	if f := findingOf(t, Run(inputOf(t, w)), SidecarInjectionOff); strings.Contains(f.Fix, "--force-conflicts") {
		t.Errorf("a kubectl fix got --force-conflicts: %q", f.Fix)
	}
	// Nor is one on an object the plugin writes, when the fix is not to run
	// the plugin: a host someone added to the VirtualService with kubectl edit.
	w = newWorld(t, worldOptions{})
	w.patch(t, "VirtualService httptools/albistio-httpbin", map[string]any{"spec": map[string]any{"hosts": []string{
		"mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud", "httpbin.mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud", "www.example.com"}}})
	w.withManagers(t, "VirtualService httptools/albistio-httpbin", pluginApply,
		managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:hosts":{}}}`))
	if f := findingOf(t, Run(inputOf(t, w)), VirtualServiceHostOff); f.Fix != "add the host to the Gateway, or remove it from the VirtualService" {
		t.Errorf("a fix that runs no plugin command changed: %q", f.Fix)
	}
}

// The same holds beyond annotations: a Gateway server edited with kubectl
// edit (the servers list is atomic: its editor owns all of it), and an
// Ingress the plugin never wrote (the walkthrough's, made with kubectl
// apply), which it takes over only with --force-conflicts.
func TestConflictFixOtherObjects(t *testing.T) {
	w := newWorld(t, worldOptions{})
	_, gw := w.find(testGateway)
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	server := servers[0].(map[string]any)
	server["tls"].(map[string]any)["mode"] = "SIMPLE"
	if err := unstructured.SetNestedSlice(gw.Object, servers, "spec", "servers"); err != nil {
		t.Fatal(err)
	}
	w.withManagers(t, testGateway,
		managed(chain.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:metadata":{"f:labels":{}},"f:spec":{"f:selector":{}}}`),
		managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:servers":{}}}`))
	f := findingOf(t, Run(inputOf(t, w)), GatewayNotMutual)
	if !strings.Contains(f.Fix, "(re-run kubectl albistio gateway --force-conflicts)") || !strings.Contains(f.Fix, `"kubectl-edit" owns spec.servers[0].tls.mode`) {
		t.Errorf("Gateway fix: %q", f.Fix)
	}

	w = newWorld(t, worldOptions{})
	w.patch(t, testIngress, map[string]any{"metadata": map[string]any{"annotations": map[string]string{render.NginxProxySSLVerify: "off"}}})
	w.withManagers(t, testIngress, managed("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:annotations":{}},"f:spec":{}}`))
	f = findingOf(t, Run(inputOf(t, w)), NginxVerifyOff)
	if !strings.Contains(f.Fix, "re-run kubectl albistio ingress --force-conflicts") ||
		!strings.Contains(f.Fix, `the Ingress is not the plugin's (field manager "kubectl-client-side-apply" made it)`) ||
		!strings.Contains(f.Fix, "cleanup then leaves it") {
		t.Errorf("a foreign Ingress's fix must say the plugin takes it over with --force-conflicts: %q", f.Fix)
	}
	// The report stays one line a finding, and JSON keeps the rewritten fix.
	data, _ := json.Marshal(f)
	if strings.Contains(f.Fix, "\n") || !strings.Contains(string(data), "--force-conflicts") {
		t.Errorf("fix %q / %s", f.Fix, data)
	}
}
