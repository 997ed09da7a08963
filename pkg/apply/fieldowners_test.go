package apply

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

// FieldOwners names the other managers that own a field, or a field
// within it, as server-side apply would conflict with them: map keys with
// dots and slashes, an atomic list owned whole, a keyed list's items, not
// the plugin, the API server's bookkeeping entry or a status writer.
func TestFieldOwners(t *testing.T) {
	entries := []metav1.ManagedFieldsEntry{
		entry(chain.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:metadata":{"f:annotations":{".":{},"f:a.example.com/x":{}}},"f:spec":{"f:selector":{}}}`),
		entry("kubectl-annotate", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:annotations":{"f:nginx.ingress.kubernetes.io/proxy-ssl-verify":{}}}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:servers":{}},"f:data":{"f:tls.crt":{}}}`),
		entry("helm", metav1.ManagedFieldsOperationApply, "", `{"f:spec":{"f:ports":{"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{}}}}}`),
		entry("before-first-apply", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:selector":{}}}`),
		entry("istio", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:conditions":{}}}`),
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-verify]", []string{"kubectl-annotate"}},
		{"metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-name]", nil},
		{"metadata.annotations[a.example.com/x]", nil}, // the plugin's own
		{"metadata.annotations", []string{"kubectl-annotate"}},
		{"spec.servers[0].tls.mode", []string{"kubectl-edit"}},
		{"spec.servers", []string{"kubectl-edit"}},
		{"data[tls.crt]", []string{"kubectl-edit"}},
		{"data[ca.crt]", nil},
		{"spec.ports[0].name", []string{"helm"}},
		{"spec.ports[0].targetPort", nil},
		{"spec.selector", nil},
		{"status.conditions[Ready]", nil},
		{"", nil},
		{"not a path", nil},
		{"spec.servers[0", nil},
	} {
		if got := FieldOwners(entries, tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("FieldOwners(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if !ManagedByPlugin(entries) || ManagedByPlugin(entries[1:]) {
		t.Error("ManagedByPlugin")
	}
	if got := ManagerNames(entries); !slices.Equal(got, []string{"helm", "kubectl-annotate", "kubectl-edit"}) {
		t.Errorf("ManagerNames = %v", got)
	}
}
