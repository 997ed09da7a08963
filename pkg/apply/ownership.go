package apply

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// The ownership rule, one for apply and cleanup alike: an object is the
// plugin's when the plugin's field manager owns fields in it, and cleanup may
// delete it only when, besides, no other manager owns fields in it and the
// plugin did not take it over from someone with --force-conflicts. Labels
// are not proof: anyone can copy them, and a takeover keeps the other
// manager's labels and fields.

// ignoredManagers own fields without making an object theirs: the API
// server's own bookkeeping entry for objects first written by Update and then
// applied.
var ignoredManagers = map[string]bool{"before-first-apply": true}

// HasOurManager reports whether the plugin's field manager owns fields in u,
// by apply or by create.
func HasOurManager(u *unstructured.Unstructured) bool {
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == chain.FieldManager {
			return true
		}
	}
	return false
}

// OtherManagers lists, sorted, the managers other than the plugin that own
// fields of u outside its status (controllers that only report status, like
// Istio's, do not make an object theirs).
func OtherManagers(u *unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var names []string
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == chain.FieldManager || ignoredManagers[mf.Manager] || mf.Subresource == "status" || seen[mf.Manager] {
			continue
		}
		seen[mf.Manager] = true
		names = append(names, mf.Manager)
	}
	sort.Strings(names)
	return names
}

// Deletable says whether cleanup may delete u, and if not, why (one clause
// that completes "keeping <object>: ").
func Deletable(u *unstructured.Unstructured) (bool, string) {
	if from, ok := u.GetAnnotations()[chain.AnnotationAdopted]; ok {
		return false, "the plugin took it over from " + from + " with --force-conflicts; delete it yourself if nothing needs it"
	}
	if !HasOurManager(u) {
		return false, "it carries the plugin's labels but the plugin does not manage it (managers: " + Managers(u) + ")"
	}
	if others := OtherManagers(u); len(others) > 0 {
		return false, "other managers own fields in it too (" + strings.Join(others, ", ") + "); delete it yourself if nothing needs it"
	}
	return true, ""
}

// adopt returns the object to apply over existing: when existing is not the
// plugin's (a takeover with --force-conflicts) or was taken over before, obj
// carries the adoption record, so that cleanup leaves the object to whoever
// made it. Applying obj without the annotation would remove it: the plugin
// owns that field after the first takeover.
func adopt(obj, existing *unstructured.Unstructured) *unstructured.Unstructured {
	if existing == nil {
		return obj
	}
	from, ok := existing.GetAnnotations()[chain.AnnotationAdopted]
	if !ok {
		if HasOurManager(existing) {
			return obj
		}
		from = Managers(existing)
	}
	out := obj.DeepCopy()
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[chain.AnnotationAdopted] = from
	out.SetAnnotations(ann)
	return out
}
