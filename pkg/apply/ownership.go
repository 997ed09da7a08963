package apply

import (
	"encoding/json"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
func HasOurManager(u *unstructured.Unstructured) bool { return ManagedByPlugin(u.GetManagedFields()) }

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

// ManagedByPlugin reports whether the plugin's field manager owns fields in
// an object with these managedFields (HasOurManager for typed objects).
func ManagedByPlugin(entries []metav1.ManagedFieldsEntry) bool {
	for _, mf := range entries {
		if mf.Manager == chain.FieldManager {
			return true
		}
	}
	return false
}

// ManagerNames lists, sorted and once each, the managers of these
// managedFields other than the plugin, the API server's bookkeeping entry
// and status writers: whoever made or edited the object.
func ManagerNames(entries []metav1.ManagedFieldsEntry) []string {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetManagedFields(entries)
	return OtherManagers(u)
}

// FieldOwners lists, sorted, the managers other than the plugin (and the
// API server's bookkeeping entry, and status writers) that own the field at
// path, or a field within it: the managers a server-side apply of another
// value there conflicts with. path is written as check's findings write
// fields: dots between field names, a map key or list index in brackets
// ("metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-verify]",
// "spec.servers[0].tls.mode", "data[tls.crt]"). A list index matches the
// item of that index in a list of positions, and in a list keyed by its
// items' fields (whose keys check does not know) any item: then a manager
// owning some item is named. An atomic list (or any field owned as a
// whole) is owned, with everything in it, by whoever owns the list.
func FieldOwners(entries []metav1.ManagedFieldsEntry, path string) []string {
	elems, ok := parseFieldPath(path)
	if !ok || len(elems) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, mf := range entries {
		if mf.Manager == chain.FieldManager || ignoredManagers[mf.Manager] || mf.Subresource == "status" || seen[mf.Manager] || mf.FieldsV1 == nil {
			continue
		}
		var root map[string]any
		if err := json.Unmarshal(mf.FieldsV1.Raw, &root); err != nil {
			continue
		}
		if ownsPath(root, elems) {
			seen[mf.Manager] = true
			names = append(names, mf.Manager)
		}
	}
	sort.Strings(names)
	return names
}

// fieldElem is one step of a field path: a field or map key ("f:" in
// managedFields), or a list index.
type fieldElem struct {
	name  string
	index string // digits, for a list item
}

// parseFieldPath splits a findings-style field path; ok is false for text
// that is not one (a space, an unclosed bracket).
func parseFieldPath(path string) ([]fieldElem, bool) {
	var out []fieldElem
	for i := 0; i < len(path); {
		switch c := path[i]; {
		case c == '.':
			i++
		case c == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 2 {
				return nil, false
			}
			key := path[i+1 : i+end]
			if strings.Trim(key, "0123456789") == "" {
				out = append(out, fieldElem{index: key})
			} else {
				out = append(out, fieldElem{name: key})
			}
			i += end + 1
		default:
			end := strings.IndexAny(path[i:], ".[")
			if end < 0 {
				end = len(path) - i
			}
			name := path[i : i+end]
			if strings.ContainsAny(name, " ]") {
				return nil, false
			}
			out = append(out, fieldElem{name: name})
			i += end
		}
	}
	return out, true
}

// ownsPath walks a managedFields set (FieldsV1) along elems.
func ownsPath(node map[string]any, elems []fieldElem) bool {
	if len(elems) == 0 {
		return true
	}
	e := elems[0]
	var children []map[string]any
	if e.index == "" {
		child, ok := node["f:"+e.name].(map[string]any)
		if !ok {
			return false
		}
		children = append(children, child)
	} else if child, ok := node["i:"+e.index].(map[string]any); ok {
		children = append(children, child)
	} else {
		for k, v := range node {
			if child, ok := v.(map[string]any); ok && (strings.HasPrefix(k, "k:") || strings.HasPrefix(k, "v:")) {
				children = append(children, child)
			}
		}
	}
	for _, child := range children {
		// An empty set is a field owned whole: everything within it too.
		if len(child) == 0 || ownsPath(child, elems[1:]) {
			return true
		}
	}
	return false
}
