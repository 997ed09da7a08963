package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// rawCountingAPI is countingAPI as a check.RawAPI that answers as the API
// server does: a list's items carry no apiVersion and kind.
type rawCountingAPI struct{ *countingAPI }

func (r rawCountingAPI) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) ([]byte, bool, error) {
	u, served, err := r.GetServed(ctx, gvr, ns, name)
	if err != nil || u == nil {
		return nil, served, err
	}
	data, err := u.MarshalJSON()
	return data, served, err
}

func (r rawCountingAPI) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, ns, sel string) ([]byte, error) {
	items, err := r.List(ctx, gvr, ns, sel)
	if err != nil {
		return nil, err
	}
	objs := []map[string]any{}
	for _, u := range items {
		obj := u.DeepCopy().Object
		delete(obj, "apiVersion")
		delete(obj, "kind")
		objs = append(objs, obj)
	}
	return json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ServiceList", "items": objs})
}

// TestMemoRaw: over a RawAPI the Memo asks each question once whichever
// form its askers want (the server's JSON or unstructured objects), and no
// asker sees what another did to its answer. Over an API
// that is not raw, raw askers are answered too.
func TestMemoRaw(t *testing.T) {
	ctx := context.Background()
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"namespace": "default", "name": "alb"}}}
	svc := named("istio-system", "istio-ingressgateway")
	api := &countingAPI{
		delay:   10 * time.Millisecond,
		objects: map[string]*unstructured.Unstructured{objectKey(kube.Secrets, "default", "alb"): secret},
		lists:   map[string][]unstructured.Unstructured{objectKey(kube.Services, "istio-system", "istio=ingressgateway"): {svc}},
	}
	m := NewMemo(rawCountingAPI{api})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if i%2 == 0 {
				data, served, err := m.GetServedRaw(ctx, kube.Secrets, "default", "alb")
				if err != nil || !served || data == nil {
					t.Errorf("GetServedRaw: %s, %v, %v", data, served, err)
				}
				data[0] = 'X' // the caller's copy
			} else if u, err := m.Get(ctx, kube.Secrets, "default", "alb"); err != nil || u.GetName() != "alb" || u.GetKind() != "Secret" {
				t.Errorf("Get: %v, %v", u, err)
			}
			if data, err := m.ListRaw(ctx, kube.Services, "istio-system", "istio=ingressgateway"); err != nil || data == nil {
				t.Errorf("ListRaw: %s, %v", data, err)
			}
		})
	}
	wg.Wait()
	if n := api.calls.Load(); n != 2 || m.Requests() != 2 {
		t.Fatalf("10 askers of 2 questions in both forms made %d requests (memo counted %d), want 2", n, m.Requests())
	}
	// What one asker does to its bytes never reaches the next (a fresh
	// Memo, so that the object is fetched raw).
	fresh := NewMemo(rawCountingAPI{&countingAPI{objects: api.objects}})
	first, _, _ := fresh.GetServedRaw(ctx, kube.Secrets, "default", "alb")
	want := string(first)
	first[0] = 'X'
	if again, _, _ := fresh.GetServedRaw(ctx, kube.Secrets, "default", "alb"); string(again) != want {
		t.Errorf("the memo handed out its own bytes: %s", again)
	}
	list, _ := m.ListRaw(ctx, kube.Services, "istio-system", "istio=ingressgateway")
	wantList := string(list)
	list[0] = 'X'
	if again, _ := m.ListRaw(ctx, kube.Services, "istio-system", "istio=ingressgateway"); string(again) != wantList {
		t.Errorf("the memo handed out its own list bytes: %s", again)
	}
	// The raw LIST answers an unstructured LIST of the same question
	// without a request, its items with their kind.
	items, err := m.List(ctx, kube.Services, "istio-system", "istio=ingressgateway")
	if err != nil || len(items) != 1 || items[0].GetKind() != "Service" || items[0].GetName() != "istio-ingressgateway" {
		t.Errorf("the raw LIST asked unstructured: %v, %v", items, err)
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("answers from memory made requests: %d, want 2", n)
	}
	// A raw LIST's items are not remembered by name (check, which LISTs
	// raw, never GETs what it listed): a GET of one asks.
	if u, err := m.Get(ctx, kube.Services, "istio-system", "istio-ingressgateway"); err != nil || api.calls.Load() != 3 {
		t.Errorf("a GET of a raw-listed object: %v, %v, %d requests, want 3", u, err, api.calls.Load())
	}

	// Over an API that is not raw.
	var got struct{ APIVersion, Kind string }
	plain := &countingAPI{objects: api.objects, lists: api.lists}
	pm := NewMemo(plain)
	var _ check.RawAPI = pm
	if data, _, err := pm.GetServedRaw(ctx, kube.Secrets, "default", "alb"); err != nil || json.Unmarshal(data, &got) != nil || got.Kind != "Secret" {
		t.Errorf("GetServedRaw over a plain API: %s, %v", data, err)
	}
	if data, err := pm.ListRaw(ctx, kube.Services, "istio-system", "istio=ingressgateway"); err != nil || len(data) == 0 {
		t.Errorf("ListRaw over a plain API: %s, %v", data, err)
	}
	if u, err := pm.Get(ctx, kube.Secrets, "default", "alb"); err != nil || u == nil || plain.calls.Load() != 2 {
		t.Errorf("Get after GetServedRaw over a plain API: %v, %v, %d requests", u, err, plain.calls.Load())
	}
}

// protoCountingAPI answers raw reads in protobuf (the envelope's prefix
// is all the Memo looks at).
type protoCountingAPI struct{ *countingAPI }

func (p protoCountingAPI) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) ([]byte, bool, error) {
	p.wait()
	return append(bytes.Clone(kube.ProtobufPrefix), "message"...), true, nil
}

func (p protoCountingAPI) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, ns, sel string) ([]byte, error) {
	p.wait()
	return append(bytes.Clone(kube.ProtobufPrefix), "list"...), nil
}

// TestMemoProtobuf: an answer in protobuf cannot become a map without its
// Go type, so an unstructured asker after a raw one asks once more, and
// once only; raw askers share the protobuf answer.
func TestMemoProtobuf(t *testing.T) {
	ctx := context.Background()
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"namespace": "default", "name": "alb"}}}
	api := &countingAPI{
		objects: map[string]*unstructured.Unstructured{objectKey(kube.Secrets, "default", "alb"): secret},
		lists:   map[string][]unstructured.Unstructured{objectKey(kube.Services, "", "a=b"): {named("ns", "svc")}},
	}
	m := NewMemo(protoCountingAPI{api})
	for range 2 {
		if data, _, err := m.GetServedRaw(ctx, kube.Secrets, "default", "alb"); err != nil || !bytes.HasPrefix(data, kube.ProtobufPrefix) {
			t.Fatalf("GetServedRaw: %q, %v", data, err)
		}
		if data, err := m.ListRaw(ctx, kube.Services, "", "a=b"); err != nil || !bytes.HasPrefix(data, kube.ProtobufPrefix) {
			t.Fatalf("ListRaw: %q, %v", data, err)
		}
	}
	for range 2 {
		if u, err := m.Get(ctx, kube.Secrets, "default", "alb"); err != nil || u.GetName() != "alb" {
			t.Errorf("Get after a protobuf answer: %v, %v", u, err)
		}
		if items, err := m.List(ctx, kube.Services, "", "a=b"); err != nil || len(items) != 1 || items[0].GetName() != "svc" {
			t.Errorf("List after a protobuf answer: %v, %v", items, err)
		}
	}
	if n := api.calls.Load(); n != 4 {
		t.Errorf("%d requests, want 4: each question once raw and once unstructured", n)
	}
}
