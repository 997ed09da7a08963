package kube

import (
	"context"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestRecall: reads through Recall are answered from what the run already
// read or wrote (including "not found"), everything else goes to the
// server, and Clients itself always asks the server.
func TestRecall(t *testing.T) {
	ctx := context.Background()
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "gw", "namespace": "istio", "labels": map[string]any{"app": "gw"}}}}
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{Services: "ServiceList"})
	if err := fake.Tracker().Create(Services, svc, "istio"); err != nil {
		t.Fatal(err)
	}
	c := &Clients{Dynamic: fake, Host: "https://fake", memory: &memory{}}
	served := func(u *unstructured.Unstructured, ok bool, err error) *unstructured.Unstructured {
		t.Helper()
		if err != nil || !ok {
			t.Fatalf("served %v, err %v", ok, err)
		}
		return u
	}
	requests := func() int { return len(fake.Actions()) }

	// The run reads: an object, a missing one, a LIST.
	if u, err := c.Get(ctx, Services, "istio", "gw"); err != nil || u == nil {
		t.Fatal(u, err)
	}
	if u, err := c.Get(ctx, Services, "istio", "nope"); err != nil || u != nil {
		t.Fatal(u, err)
	}
	if _, err := c.List(ctx, Services, "istio", "app=gw"); err != nil {
		t.Fatal(err)
	}
	n := requests()

	r := c.Recall()
	if u, err := r.Get(ctx, Services, "istio", "gw"); err != nil || u.GetName() != "gw" {
		t.Fatal(u, err)
	}
	if u, err := r.Get(ctx, Services, "istio", "nope"); err != nil || u != nil {
		t.Fatal("a recorded absence must stay absent", u, err)
	}
	if u := served(r.GetServed(ctx, Services, "istio", "gw")); u == nil {
		t.Fatal("recorded object not returned by GetServed")
	}
	if items, err := r.List(ctx, Services, "istio", "app=gw"); err != nil || len(items) != 1 {
		t.Fatal(items, err)
	}
	if got := requests(); got != n {
		t.Fatalf("Recall asked the server %d times for what the run had read", got-n)
	}

	// A copy is returned: changing it does not change what is remembered.
	u, _ := r.Get(ctx, Services, "istio", "gw")
	u.SetName("changed")
	if u, _ := r.Get(ctx, Services, "istio", "gw"); u.GetName() != "gw" {
		t.Fatal("memory was changed through a returned object")
	}

	// What the run wrote replaces what it read.
	written := svc.DeepCopy()
	written.SetLabels(map[string]string{"app": "new"})
	c.Remember(Services, written)
	if u, _ := r.Get(ctx, Services, "istio", "gw"); u.GetLabels()["app"] != "new" {
		t.Fatal("Recall did not see the written state")
	}

	// Anything else goes to the server; Clients always does.
	if _, err := r.List(ctx, Services, "istio", "app=other"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, Services, "istio", "gw"); err != nil {
		t.Fatal(err)
	}
	if got := requests(); got != n+2 {
		t.Fatalf("want 2 more requests (a new LIST, a Clients.Get), got %d", got-n)
	}

	// A resource the server does not serve is not remembered as absent.
	gvr := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	fake.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", gvr.GroupResource(), "gw", "404 page not found", 0, true)
	})
	if u, err := c.Get(ctx, gvr, "app", "gw"); err != nil || u != nil {
		t.Fatal(u, err)
	}
	if _, ok, err := r.GetServed(ctx, gvr, "app", "gw"); err != nil || ok {
		t.Fatalf("an unserved resource was remembered as served: %v %v", ok, err)
	}
}
