package apply

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// fakeServer is a fake API server for Secrets that answers server-side
// apply the way the real one does for the Applier's purposes: the applied
// object is stored under the applying field manager, and every write is
// counted so a test can tell what was written.
type fakeServer struct {
	client *dynamicfake.FakeDynamicClient
	writes []string
	// failPatch makes the apply of this name fail.
	failPatch string
}

func newFakeServer(t *testing.T, objs ...runtime.Object) *fakeServer {
	t.Helper()
	scheme := runtime.NewScheme()
	s := &fakeServer{client: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{secretsGVR: "SecretList"}, objs...)}
	tracker := s.client.Tracker()
	s.client.PrependReactor("patch", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pa := a.(clienttesting.PatchAction)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		if pa.GetName() == s.failPatch {
			return true, nil, apierrors.NewInternalError(errors.New("the server fell over"))
		}
		obj := &unstructured.Unstructured{}
		if err := json.Unmarshal(pa.GetPatch(), &obj.Object); err != nil {
			return true, nil, err
		}
		obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: chain.FieldManager, Operation: metav1.ManagedFieldsOperationApply}})
		existing, err := tracker.Get(secretsGVR, pa.GetNamespace(), pa.GetName())
		if err == nil {
			obj.SetResourceVersion(existing.(*unstructured.Unstructured).GetResourceVersion())
			err = tracker.Update(secretsGVR, obj, pa.GetNamespace())
		} else {
			err = tracker.Create(secretsGVR, obj, pa.GetNamespace())
		}
		s.writes = append(s.writes, "apply "+pa.GetName())
		return true, obj, err
	})
	s.client.PrependReactor("create", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s.writes = append(s.writes, "create "+a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured).GetName())
		return false, nil, nil
	})
	return s
}

func (s *fakeServer) clients() *kube.Clients { return &kube.Clients{Dynamic: s.client} }

func secret(name, data string, managers ...string) *unstructured.Unstructured {
	u := object(data, managers, nil)
	u.SetName(name)
	return u
}

func TestApplierCreatesThenReportsUnchanged(t *testing.T) {
	s := newFakeServer(t)
	a := &Applier{Clients: s.clients(), DryRun: DryRunNone}
	res, err := a.Apply(context.Background(), render.Objects{secret("alb-certs", "A")})
	if err != nil || len(res) != 1 || res[0].Op != Created {
		t.Fatalf("first apply: %v %+v", err, res)
	}
	res, err = a.Apply(context.Background(), render.Objects{secret("alb-certs", "A")})
	if err != nil || res[0].Op != Unchanged {
		t.Fatalf("a second apply of the same object must report unchanged: %v %+v", err, res)
	}
	res, err = a.Apply(context.Background(), render.Objects{secret("alb-certs", "B")})
	if err != nil || res[0].Op != Configured {
		t.Fatalf("an apply that changes data must report configured: %v %+v", err, res)
	}
}

// TestApplierRefusesForeignObjectsBeforeWriting: one object of another
// manager stops the whole run before any write, exit 4, naming the manager.
func TestApplierRefusesForeignObjectsBeforeWriting(t *testing.T) {
	s := newFakeServer(t, secret("alb-certs", "theirs", "kubectl-create:Update"))
	s.client.ClearActions()
	a := &Applier{Clients: s.clients(), DryRun: DryRunNone}
	_, err := a.Apply(context.Background(), render.Objects{secret("first", "A"), secret("alb-certs", "ours")})
	var ke *kube.Error
	if !errors.As(err, &ke) || ke.Code != kube.ExitConflict || !strings.Contains(err.Error(), "kubectl-create") {
		t.Fatalf("want exit %d naming kubectl-create, got %v", kube.ExitConflict, err)
	}
	if len(s.writes) != 0 {
		t.Fatalf("nothing may be written before the refusal, wrote %v", s.writes)
	}
	// With --force-conflicts it is taken over, and the takeover recorded.
	a.Force = true
	res, err := a.Apply(context.Background(), render.Objects{secret("alb-certs", "ours")})
	if err != nil || res[0].Object.GetAnnotations()[chain.AnnotationAdopted] != "kubectl-create" {
		t.Fatalf("a forced takeover must record the previous manager: %v %+v", err, res)
	}
}

// TestApplierGuards: an object guarded as absent is created (never
// applied), and a guard that no longer holds is a race, before any write.
func TestApplierGuards(t *testing.T) {
	s := newFakeServer(t)
	ca := secret("albistio-client-ca", "CA")
	a := &Applier{Clients: s.clients(), DryRun: DryRunNone, Guards: map[string]Guard{Ref(ca): {}}}
	if _, err := a.Apply(context.Background(), render.Objects{ca}); err != nil {
		t.Fatal(err)
	}
	if len(s.writes) != 1 || s.writes[0] != "create albistio-client-ca" {
		t.Fatalf("a guarded absent object must be created, not applied: %v", s.writes)
	}
	// Another run planned from the same (absent) read: it loses the race.
	s.writes = nil
	_, err := a.Apply(context.Background(), render.Objects{secret("first", "A"), ca})
	var race *RaceError
	if !errors.As(err, &race) || len(s.writes) != 0 {
		t.Fatalf("want a race before any write, got %v after writing %v", err, s.writes)
	}
}

// TestApplierPartialFailure: a failure after some writes lists them (exit 7).
func TestApplierPartialFailure(t *testing.T) {
	s := newFakeServer(t)
	s.failPatch = "second"
	a := &Applier{Clients: s.clients(), DryRun: DryRunNone}
	_, err := a.Apply(context.Background(), render.Objects{secret("first", "A"), secret("second", "B")})
	var ke *kube.Error
	if !errors.As(err, &ke) || ke.Code != kube.ExitPartial || !strings.Contains(err.Error(), "secret/first -n istio-system (created)") {
		t.Fatalf("want exit %d listing secret/first, got %v", kube.ExitPartial, err)
	}
}

func TestApplierClientDryRunWithoutCluster(t *testing.T) {
	res, err := (&Applier{DryRun: DryRunClient}).Apply(context.Background(), render.Objects{secret("x", "A")})
	if err != nil || len(res) != 1 || res[0].Object.GetName() != "x" {
		t.Fatalf("%v %+v", err, res)
	}
}
