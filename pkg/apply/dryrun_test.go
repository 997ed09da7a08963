package apply

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// stored is how the API server keeps an object the plugin applied: the
// rendered fields, what the server adds (metadata, defaults) and the
// plugin's apply entry owning fields (FieldsV1).
func stored(rendered *unstructured.Unstructured, fields string) *unstructured.Unstructured {
	u := rendered.DeepCopy()
	u.SetResourceVersion("7")
	u.SetUID("u-1")
	u.SetCreationTimestamp(metav1.Now())
	u.Object["type"] = "Opaque" // a default the rendered object leaves out
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: chain.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}})
	return u
}

const renderedFields = `{"f:data":{".":{},"f:tls.crt":{}},"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/managed-by":{}}}}`

func labelled(name, data string) *unstructured.Unstructured {
	u := secret(name, data)
	u.SetManagedFields(nil)
	u.SetLabels(map[string]string{chain.LabelManagedBy: chain.FieldManager})
	return u
}

// A client dry run with a cluster says, object by object, what the apply
// would do, and writes nothing: created when absent, unchanged when the
// stored object already holds every rendered field (server defaults and
// metadata aside), configured when a value differs, a field is missing, or
// a field the plugin applied before would be dropped. Without a cluster it
// claims neither: rendered, not compared.
func TestClientDryRunSaysWhatWouldChange(t *testing.T) {
	same := stored(labelled("same", "A"), renderedFields)
	changed := stored(labelled("changed", "A"), renderedFields)
	unlabelled := stored(labelled("unlabelled", "A"), renderedFields)
	unlabelled.SetLabels(nil)
	dropped := stored(labelled("dropped", "A"), `{"f:data":{"f:tls.crt":{},"f:ca.crt":{}},"f:metadata":{"f:labels":{}}}`)
	dropped.Object["data"].(map[string]any)["ca.crt"] = "old"
	number := stored(labelled("number", "A"), renderedFields)
	number.Object["spec"] = map[string]any{"port": float64(443)}

	s := newFakeServer(t, []runtime.Object{same, changed, unlabelled, dropped, number}...)
	s.client.ClearActions()
	numberRendered := labelled("number", "A")
	numberRendered.Object["spec"] = map[string]any{"port": int64(443)}
	a := &Applier{Clients: s.clients(), DryRun: DryRunClient}
	res, err := a.Apply(context.Background(), render.Objects{
		labelled("new", "A"), labelled("same", "A"), labelled("changed", "B"), labelled("unlabelled", "A"), labelled("dropped", "A"), numberRendered,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Op{Created, Unchanged, Configured, Configured, Configured, Unchanged}
	for i, r := range res {
		if r.Op != want[i] {
			t.Errorf("%s: %s, want %s", r.Object.GetName(), r.Op, want[i])
		}
	}
	if len(s.writes) != 0 {
		t.Errorf("a client dry run wrote %v", s.writes)
	}
	for _, act := range s.client.Actions() {
		if act.GetVerb() != "get" {
			t.Errorf("a client dry run may only read, sent %s %s", act.GetVerb(), act.GetResource().Resource)
		}
	}

	// A foreign object is refused as a real run would refuse it.
	foreign := secret("theirs", "X", "kubectl-create:Update")
	s = newFakeServer(t, foreign)
	_, err = (&Applier{Clients: s.clients(), DryRun: DryRunClient}).Apply(context.Background(), render.Objects{labelled("theirs", "A")})
	var ke *kube.Error
	if !errors.As(err, &ke) || ke.Code != kube.ExitConflict {
		t.Errorf("a client dry run over a foreign object: %v, want exit %d", err, kube.ExitConflict)
	}

	// No cluster: nothing is known about the objects.
	res, err = (&Applier{DryRun: DryRunClient}).Apply(context.Background(), render.Objects{labelled("x", "A")})
	if err != nil || len(res) != 1 || res[0].Op != NotCompared || res[0].Op == Configured || res[0].Op == Created {
		t.Fatalf("without a cluster: %v %+v, want %s", err, res, NotCompared)
	}
}

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		have, want any
		ok         bool
	}{
		{map[string]any{"a": "1", "b": "2"}, map[string]any{"a": "1"}, true},
		{map[string]any{"a": "1"}, map[string]any{"a": "2"}, false},
		{map[string]any{"a": "1"}, map[string]any{"b": "1"}, false},
		{map[string]any{}, map[string]any{"status": map[string]any{}}, true},
		{map[string]any{}, map[string]any{"creationTimestamp": nil}, true},
		{[]any{"x", "y"}, []any{"x"}, false},
		{[]any{map[string]any{"port": int64(443), "protocol": "TCP"}}, []any{map[string]any{"port": float64(443)}}, true},
		{int64(1), "1", false},
		{true, true, true},
	} {
		if got := contains(tc.have, tc.want); got != tc.ok {
			t.Errorf("contains(%v, %v) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}
