package apply

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// object is a Secret with the given managers (manager:operation[:subresource])
// and annotations.
func object(data string, managers []string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "alb-certs", "namespace": "istio-system"},
		"data":     map[string]any{"tls.crt": data},
	}}
	var mfs []metav1.ManagedFieldsEntry
	for _, m := range managers {
		parts := strings.Split(m, ":")
		e := metav1.ManagedFieldsEntry{Manager: parts[0], Operation: metav1.ManagedFieldsOperationType(parts[1])}
		if len(parts) > 2 {
			e.Subresource = parts[2]
		}
		mfs = append(mfs, e)
	}
	u.SetManagedFields(mfs)
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	return u
}

func TestOpFor(t *testing.T) {
	rendered := object("A", nil, nil)
	same := object("A", []string{"kubectl-albistio:Apply"}, nil)
	same.SetResourceVersion("42")
	same.SetUID("u-1")
	same.SetGeneration(3)
	same.SetCreationTimestamp(metav1.Now())
	changed := object("B", []string{"kubectl-albistio:Apply"}, nil)
	if op := opFor(nil, rendered); op != Created {
		t.Errorf("absent before: %s, want created", op)
	}
	if op := opFor(same, rendered); op != Unchanged {
		t.Errorf("only server-maintained fields differ: %s, want unchanged (a re-run must write nothing)", op)
	}
	if op := opFor(changed, rendered); op != Configured {
		t.Errorf("data differs: %s, want configured", op)
	}
}

func TestConflict(t *testing.T) {
	obj := object("A", nil, nil)
	cases := []struct {
		name     string
		existing *unstructured.Unstructured
		refuse   bool
	}{
		{"absent", nil, false},
		{"ours by apply", object("A", []string{"kubectl-albistio:Apply"}, nil), false},
		{"ours by create (a guarded first write)", object("A", []string{"kubectl-albistio:Update"}, nil), false},
		{"ours and someone's annotation", object("A", []string{"kubectl-albistio:Apply", "kubectl-annotate:Update"}, nil), false},
		{"the walkthrough's kubectl create", object("A", []string{"kubectl-create:Update"}, nil), true},
		{"labels copied by hand, no manager of ours", object("A", []string{"kubectl-edit:Update"}, map[string]string{}), true},
	}
	for _, c := range cases {
		got := Conflict(obj, c.existing)
		if (got != "") != c.refuse {
			t.Errorf("%s: Conflict = %q, want refused=%v", c.name, got, c.refuse)
		}
		if c.refuse && !strings.Contains(got, "kubectl-") {
			t.Errorf("%s: the refusal should name the other manager: %q", c.name, got)
		}
	}
}

func TestDeletable(t *testing.T) {
	cases := []struct {
		name     string
		u        *unstructured.Unstructured
		ok       bool
		whyHints string
	}{
		{"ours alone", object("A", []string{"kubectl-albistio:Apply"}, nil), true, ""},
		{"ours, created then applied", object("A", []string{"kubectl-albistio:Update", "kubectl-albistio:Apply", "before-first-apply:Update"}, nil), true, ""},
		{"ours, a controller writes status", object("A", []string{"kubectl-albistio:Apply", "pilot-discovery:Update:status"}, nil), true, ""},
		{"another manager owns fields", object("A", []string{"kubectl-albistio:Apply", "kubectl-create:Update"}, nil), false, "kubectl-create"},
		{"not ours at all", object("A", []string{"kubectl-create:Update"}, nil), false, "does not manage it"},
		{"taken over with --force-conflicts", object("A", []string{"kubectl-albistio:Apply"}, map[string]string{chain.AnnotationAdopted: "kubectl-create"}), false, "--force-conflicts"},
	}
	for _, c := range cases {
		ok, why := Deletable(c.u)
		if ok != c.ok || !strings.Contains(why, c.whyHints) {
			t.Errorf("%s: Deletable = %v %q, want %v and a reason mentioning %q", c.name, ok, why, c.ok, c.whyHints)
		}
	}
}

// TestAdoptRecordsTakeover: a takeover records the previous managers, and
// later applies keep the record (dropping it from the applied object would
// remove the annotation, which the plugin owns after the first takeover).
func TestAdoptRecordsTakeover(t *testing.T) {
	obj := object("A", nil, nil)
	if got := adopt(obj, nil); got.GetAnnotations()[chain.AnnotationAdopted] != "" {
		t.Errorf("a new object is not adopted: %v", got.GetAnnotations())
	}
	if got := adopt(obj, object("A", []string{"kubectl-albistio:Apply"}, nil)); got.GetAnnotations()[chain.AnnotationAdopted] != "" {
		t.Errorf("an object of ours is not adopted: %v", got.GetAnnotations())
	}
	foreign := object("A", []string{"kubectl-create:Update"}, nil)
	got := adopt(obj, foreign)
	if got.GetAnnotations()[chain.AnnotationAdopted] != "kubectl-create" {
		t.Errorf("a takeover must record kubectl-create: %v", got.GetAnnotations())
	}
	if obj.GetAnnotations() != nil {
		t.Errorf("adopt must not change the rendered object: %v", obj.GetAnnotations())
	}
	later := object("A", []string{"kubectl-albistio:Apply"}, map[string]string{chain.AnnotationAdopted: "kubectl-create"})
	if got := adopt(obj, later); got.GetAnnotations()[chain.AnnotationAdopted] != "kubectl-create" {
		t.Errorf("a later apply must keep the record: %v", got.GetAnnotations())
	}
}

func TestCheckGuard(t *testing.T) {
	at := func(rv string) *unstructured.Unstructured {
		u := object("A", nil, nil)
		u.SetResourceVersion(rv)
		return u
	}
	cases := []struct {
		name     string
		g        Guard
		guarded  bool
		existing *unstructured.Unstructured
		race     bool
	}{
		{"unguarded", Guard{}, false, at("9"), false},
		{"absent and still absent", Guard{}, true, nil, false},
		{"absent, then created by another run", Guard{}, true, at("1"), true},
		{"read at 5, still 5", Guard{Exists: true, ResourceVersion: "5"}, true, at("5"), false},
		{"read at 5, now 6", Guard{Exists: true, ResourceVersion: "5"}, true, at("6"), true},
		{"read, then deleted", Guard{Exists: true, ResourceVersion: "5"}, true, nil, true},
	}
	for _, c := range cases {
		err := checkGuard(c.g, c.guarded, c.existing)
		if (err != nil) != c.race {
			t.Errorf("%s: checkGuard = %v, want race=%v", c.name, err, c.race)
		}
	}
	if g := GuardFor(at("7")); !g.Exists || g.ResourceVersion != "7" {
		t.Errorf("GuardFor = %+v", g)
	}
	if g := GuardFor(nil); g.Exists {
		t.Errorf("GuardFor(nil) = %+v", g)
	}
}

// TestFieldConflictVsPrecondition: both are 409s; only the first is a
// takeover question, the second a race to plan again for.
func TestFieldConflictVsPrecondition(t *testing.T) {
	gr := schema.GroupResource{Resource: "secrets"}
	precondition := apierrors.NewConflict(gr, "alb-certs", errors.New("the object has been modified"))
	if isFieldConflict(precondition) {
		t.Error("a resourceVersion precondition failure is not a field conflict")
	}
	field := apierrors.NewApplyConflict([]metav1.StatusCause{{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-create"`, Field: ".data"}}, "Apply failed with 1 conflict")
	if !isFieldConflict(field) {
		t.Error("server-side apply's conflict with another manager is a field conflict")
	}
	var race *RaceError
	err := (&Applier{DryRun: DryRunNone}).partial([]Result{{Object: object("A", nil, nil), Op: Created}}, planned{obj: object("A", nil, nil)}, &RaceError{Ref: "x", Err: precondition})
	if !errors.As(err, &race) {
		t.Errorf("a race after some writes must stay a race (the caller plans again), got %v", err)
	}
}

func TestParseDryRun(t *testing.T) {
	for in, want := range map[string]DryRun{"": DryRunNone, "none": DryRunNone, "client": DryRunClient, "server": DryRunServer} {
		if got, err := ParseDryRun(in); err != nil || got != want {
			t.Errorf("ParseDryRun(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseDryRun("true"); err == nil {
		t.Error("--dry-run=true must be refused")
	}
	if _, err := ParseDryRun("unchanged"); err == nil || !strings.Contains(err.Error(), "needs a value") {
		t.Errorf("a bare --dry-run must be refused, as kubectl does: %v", err)
	}
}
