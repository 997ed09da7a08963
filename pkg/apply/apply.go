// Package apply writes rendered objects with server-side apply under the
// plugin's field manager. It checks every object before writing any, so a run
// either writes nothing or says exactly what it wrote before it failed.
package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// DryRun is kubectl's --dry-run strategy.
type DryRun string

const (
	// DryRunNone writes.
	DryRunNone DryRun = "none"
	// DryRunClient prints what would be sent; the cluster is not contacted for writes.
	DryRunClient DryRun = "client"
	// DryRunServer sends the writes with dryRun=All: the server validates and persists nothing.
	DryRunServer DryRun = "server"
)

// ParseDryRun reads --dry-run as kubectl does, without its deprecated boolean forms.
func ParseDryRun(s string) (DryRun, error) {
	switch DryRun(s) {
	case DryRunNone, DryRunClient, DryRunServer:
		return DryRun(s), nil
	case "":
		return DryRunNone, nil
	case "unchanged":
		// kubectl's NoOptDefVal: a bare --dry-run, which kubectl refuses
		// since its boolean form was retired; so does the plugin, rather
		// than guess which dry run was meant.
		return "", fmt.Errorf("--dry-run needs a value: \"none\", \"server\", or \"client\" (--dry-run=client prints without contacting the cluster, --dry-run=server has the API server validate)")
	}
	return "", fmt.Errorf("invalid --dry-run %q: must be \"none\", \"server\", or \"client\"", s)
}

// Op says what applying an object did.
type Op string

const (
	Created    Op = "created"
	Configured Op = "configured"
	Unchanged  Op = "unchanged"
	// NotCompared is a client dry run's answer without a cluster to read:
	// the object was rendered, and whether it exists, or would change, is
	// not known.
	NotCompared Op = "rendered"
)

// Result is one applied object: as the server returned it (or as rendered,
// for a client dry run) and what happened to it.
type Result struct {
	Object *unstructured.Unstructured
	Op     Op
}

// Applier applies objects with server-side apply.
type Applier struct {
	Clients *kube.Clients
	DryRun  DryRun
	// Force takes over fields and objects owned by other managers.
	Force bool
	// Guards make writes conditional on the state the objects were rendered
	// from (by Ref): objects that must exist exactly once (the private CA)
	// or that several runs update (the hop's Gateway and its chain
	// registry). A write whose guard no longer holds fails with a *RaceError
	// instead of overwriting what a concurrent run wrote.
	Guards map[string]Guard
}

// Guard is the state an object was read in when it was rendered.
type Guard struct {
	// Exists false means it was absent: it is created, and the write fails
	// if someone created it meanwhile. Exists true means it is applied with
	// ResourceVersion as a precondition.
	Exists          bool
	ResourceVersion string
}

// GuardFor records the state of an object as read (nil: absent).
func GuardFor(existing *unstructured.Unstructured) Guard {
	if existing == nil {
		return Guard{}
	}
	return Guard{Exists: true, ResourceVersion: existing.GetResourceVersion()}
}

// RaceError says a concurrent writer changed an object between the read a
// plan was made from and the write: re-read and plan again.
type RaceError struct {
	Ref string
	Err error
}

func (e *RaceError) Error() string {
	return fmt.Sprintf("%s changed while this run was writing it (another run at the same time?): %v", e.Ref, e.Err)
}
func (e *RaceError) Unwrap() error { return e.Err }

type planned struct {
	obj      *unstructured.Unstructured
	gvr      schema.GroupVersionResource
	existing *unstructured.Unstructured
	// force is set when only the plugin owns the object: an object it
	// created (create, not apply: see Guard) is owned by its "Update" entry,
	// which server-side apply counts as another manager; forcing then takes
	// fields from no one but the plugin itself.
	force bool
}

// Conflict says why applying obj over existing must be refused without
// --force-conflicts, or "" when it may go ahead: an existing object is
// written over only when the plugin's field manager already owns fields in
// it (labels alone prove nothing).
func Conflict(obj, existing *unstructured.Unstructured) string {
	if existing == nil || HasOurManager(existing) {
		return ""
	}
	return fmt.Sprintf("%s %s/%s exists and was not created by this plugin (managed by %s)",
		strings.ToLower(obj.GetKind()), obj.GetNamespace(), obj.GetName(), Managers(existing))
}

// checkGuard compares what the plan phase read with the guard.
func checkGuard(g Guard, ok bool, existing *unstructured.Unstructured) error {
	if !ok {
		return nil
	}
	switch {
	case !g.Exists && existing != nil:
		return fmt.Errorf("it was absent when read and exists now")
	case g.Exists && existing == nil:
		return fmt.Errorf("it was deleted")
	case g.Exists && existing.GetResourceVersion() != g.ResourceVersion:
		return fmt.Errorf("its resourceVersion went from %s to %s", g.ResourceVersion, existing.GetResourceVersion())
	}
	return nil
}

// Plan reads the current state of every object and refuses, before any
// write, objects that exist but were not created by the plugin, and
// objects whose guard no longer holds.
func (a *Applier) plan(ctx context.Context, objs render.Objects) ([]planned, error) {
	plans := make([]planned, 0, len(objs))
	var conflicts []string
	for _, o := range objs {
		gvr, err := kube.ResourceFor(o.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		existing, err := a.Clients.Get(ctx, gvr, o.GetNamespace(), o.GetName())
		if err != nil {
			return nil, err
		}
		g, guarded := a.Guards[Ref(o)]
		if err := checkGuard(g, guarded, existing); err != nil {
			return nil, &RaceError{Ref: Ref(o), Err: err}
		}
		if c := Conflict(o, existing); c != "" && !a.Force {
			conflicts = append(conflicts, c)
		}
		onlyOurs := existing != nil && HasOurManager(existing) && len(OtherManagers(existing)) == 0
		plans = append(plans, planned{obj: adopt(o, existing), gvr: gvr, existing: existing, force: a.Force || onlyOurs})
	}
	if len(conflicts) > 0 {
		return nil, kube.WithCode(kube.ExitConflict, fmt.Errorf("refusing to take over objects owned by someone else; nothing was written:\n  %s\nname ours differently (the flag that names each object is in kubectl albistio setup --help), delete theirs, or re-run with --force-conflicts to take them over (cleanup will then leave them)",
			strings.Join(conflicts, "\n  ")))
	}
	return plans, nil
}

// Managers lists the field managers of an object, for conflict messages.
func Managers(u *unstructured.Unstructured) string {
	seen := map[string]bool{}
	var names []string
	for _, mf := range u.GetManagedFields() {
		if !seen[mf.Manager] {
			seen[mf.Manager] = true
			names = append(names, mf.Manager)
		}
	}
	if len(names) == 0 {
		return "an unknown manager"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Apply writes objs in order. A client dry run writes nothing and returns
// the rendered objects as they are: with Clients set it reads each one, as
// kubectl apply --dry-run=client does, to say whether it would be created,
// configured or left unchanged (clientOp); without, it says NotCompared,
// since it cannot know whether an object exists.
func (a *Applier) Apply(ctx context.Context, objs render.Objects) ([]Result, error) {
	if a.DryRun == DryRunClient && a.Clients == nil {
		results := make([]Result, len(objs))
		for i, o := range objs {
			results[i] = Result{Object: o, Op: NotCompared}
		}
		return results, nil
	}
	plans, err := a.plan(ctx, objs)
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(plans))
	for _, pl := range plans {
		if a.DryRun == DryRunClient {
			results = append(results, Result{Object: pl.obj, Op: clientOp(pl.existing, pl.obj)})
			continue
		}
		out, err := a.applyOne(ctx, pl)
		if err != nil {
			return results, a.partial(results, pl, err)
		}
		results = append(results, Result{Object: out, Op: opFor(pl.existing, out)})
	}
	return results, nil
}

func (a *Applier) applyOne(ctx context.Context, pl planned) (*unstructured.Unstructured, error) {
	var dryRun []string
	if a.DryRun == DryRunServer {
		dryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = a.Clients.Dynamic.Resource(pl.gvr).Namespace(pl.obj.GetNamespace())
	g, guarded := a.Guards[Ref(pl.obj)]
	var out *unstructured.Unstructured
	var err error
	verb := "apply"
	switch {
	case guarded && !g.Exists:
		verb = "create"
		// Create, not apply: apply would silently write over an object a
		// concurrent run created a moment ago (say, another private CA).
		out, err = ri.Create(ctx, pl.obj, metav1.CreateOptions{FieldManager: chain.FieldManager, DryRun: dryRun})
		if apierrors.IsAlreadyExists(err) {
			return nil, &RaceError{Ref: Ref(pl.obj), Err: err}
		}
	case guarded:
		obj := pl.obj.DeepCopy()
		obj.SetResourceVersion(g.ResourceVersion)
		out, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: chain.FieldManager, Force: pl.force, DryRun: dryRun})
		if apierrors.IsConflict(err) && !isFieldConflict(err) {
			return nil, &RaceError{Ref: Ref(pl.obj), Err: err}
		}
	default:
		out, err = ri.Apply(ctx, pl.obj.GetName(), pl.obj, metav1.ApplyOptions{FieldManager: chain.FieldManager, Force: pl.force, DryRun: dryRun})
	}
	if err == nil {
		if a.DryRun == DryRunNone {
			a.Clients.Remember(pl.gvr, out)
		}
		return out, nil
	}
	if apierrors.IsConflict(err) {
		return nil, kube.WithCode(kube.ExitConflict, fmt.Errorf("%s %s/%s: %v (re-run with --force-conflicts to take these fields over)",
			strings.ToLower(pl.obj.GetKind()), pl.obj.GetNamespace(), pl.obj.GetName(), err))
	}
	if apierrors.IsInvalid(err) {
		return nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("the API server rejected %s %s/%s: %v",
			strings.ToLower(pl.obj.GetKind()), pl.obj.GetNamespace(), pl.obj.GetName(), err))
	}
	if apierrors.IsNotFound(err) {
		return nil, kube.WithCode(kube.ExitInvalidInput, fmt.Errorf("cannot write %s %s/%s: %v (does namespace %s exist, and is the %s API installed?)",
			strings.ToLower(pl.obj.GetKind()), pl.obj.GetNamespace(), pl.obj.GetName(), err, pl.obj.GetNamespace(), pl.gvr.GroupVersion()))
	}
	return nil, a.Clients.Explain(err, verb, pl.gvr, pl.obj.GetNamespace(), pl.obj.GetName())
}

// isFieldConflict tells server-side apply's conflicts with other field
// managers from a failed resourceVersion precondition: both are 409s.
func isFieldConflict(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			return true
		}
	}
	return false
}

// partial reports a failure after some writes: which objects were written,
// which failed, and that re-running converges. A race is returned as it is:
// the caller plans again.
func (a *Applier) partial(done []Result, failed planned, err error) error {
	var race *RaceError
	if len(done) == 0 || a.DryRun != DryRunNone || errors.As(err, &race) {
		return err
	}
	var names []string
	for _, r := range done {
		if r.Op != Unchanged {
			names = append(names, Ref(r.Object)+" ("+string(r.Op)+")")
		}
	}
	if len(names) == 0 {
		return err
	}
	return kube.WithCode(kube.ExitPartial, fmt.Errorf("%w\nwritten before the failure: %s; not confirmed written: %s and what follows it. Re-run the same command to converge",
		err, strings.Join(names, ", "), Ref(failed.obj)))
}

// Ref names an object as kubectl does: kind/name, with its namespace.
func Ref(u *unstructured.Unstructured) string {
	s := strings.ToLower(u.GetKind()) + "/" + u.GetName()
	if u.GetNamespace() != "" {
		s += " -n " + u.GetNamespace()
	}
	return s
}

// opFor compares what was there with what is there now, ignoring fields the
// server maintains, so a re-run that changes nothing reports "unchanged".
func opFor(before, after *unstructured.Unstructured) Op {
	if before == nil {
		return Created
	}
	if equality.Semantic.DeepEqual(withoutServerFields(before), withoutServerFields(after)) {
		return Unchanged
	}
	return Configured
}

func withoutServerFields(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy().Object
	delete(c, "status")
	for _, f := range []string{"resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(c, "metadata", f)
	}
	return c
}

// clientOp is what applying obj over existing would do, judged without the
// server (a client dry run): created when it does not exist; unchanged when
// every field obj sets already holds that value and no field the plugin
// applied before would be dropped; configured otherwise. Comparing the
// rendered object with the stored one as a whole (opFor) would call every
// object configured: the stored one carries defaults, status and
// metadata the server adds. Where the client cannot tell (a list whose
// items others manage too), it errs towards configured, never towards
// unchanged.
func clientOp(existing, obj *unstructured.Unstructured) Op {
	if existing == nil {
		return Created
	}
	if !contains(existing.Object, obj.Object) {
		return Configured
	}
	for _, mf := range existing.GetManagedFields() {
		if mf.Manager != chain.FieldManager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(mf.FieldsV1.Raw, &set); err != nil || drops(set, obj.Object) {
			return Configured
		}
	}
	return Unchanged
}

// contains says whether have holds everything want sets, with the same
// values: maps may hold more keys, lists must match item by item, numbers
// compare by value. A nil or empty map in want sets nothing.
func contains(have, want any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		if len(w) == 0 {
			return true
		}
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if m, isMap := v.(map[string]any); v == nil || isMap && len(m) == 0 {
				continue // sets nothing
			}
			hv, ok := h[k]
			if !ok || !contains(hv, v) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	if a, ok := number(want); ok {
		b, ok := number(have)
		return ok && a == b
	}
	return equality.Semantic.DeepEqual(have, want)
}

// number reads the numeric types unstructured objects hold.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// drops says whether applying want removes a field of set, the fields the
// plugin's last apply owns (managedFields' FieldsV1): server-side apply
// removes the fields an applier owned and no longer sends. Map keys are
// followed; list items (k:, v:, i:) are left to contains, which compares
// lists whole.
func drops(set map[string]any, want any) bool {
	w, ok := want.(map[string]any)
	if !ok {
		return false
	}
	for k, sub := range set {
		name, ok := strings.CutPrefix(k, "f:")
		if !ok {
			continue
		}
		v, present := w[name]
		if !present || v == nil {
			return true
		}
		if child, ok := sub.(map[string]any); ok && len(child) > 0 && drops(child, v) {
			return true
		}
	}
	return false
}
