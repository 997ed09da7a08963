// Package render turns a chain's parameters into the Kubernetes objects that
// implement it. Every function here is pure: the same inputs give the same
// objects, so `--dry-run=client`, server dry-run and a real apply all print and
// write exactly what these functions return, and golden files pin them down.
package render

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// Objects are rendered objects in the order they must be written: what an
// object refers to is written before it.
type Objects []*unstructured.Unstructured

// toUnstructured converts a typed object through its JSON form, which is how
// the API server will see it. Fields that only the server sets are dropped so
// that printed manifests are clean and apply cannot fight over them.
func toUnstructured(obj any) *unstructured.Unstructured {
	data, err := json.Marshal(obj)
	if err != nil {
		// The inputs are our own typed structs; failing here is a programming error.
		panic(fmt.Sprintf("render: marshal %T: %v", obj, err))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		panic(fmt.Sprintf("render: unmarshal %T: %v", obj, err))
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

func labels(p *chain.Params) map[string]string { return p.Labels() }
