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

// TestIsNotServed: a missing object is not a missing resource. The API
// server names a missing object in a Status; for a path nothing serves its
// mux answers "404 page not found", which client-go wraps with the body as
// the cause (or, behind some proxies, a Status without details).
func TestIsNotServed(t *testing.T) {
	gr := schema.GroupResource{Group: "networking.istio.io", Resource: "gateways"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"object not found", apierrors.NewNotFound(gr, "web"), false},
		{"plain-text 404", apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", gr, "web", "404 page not found", 0, true), true},
		{"Status without details", &apierrors.StatusError{ErrStatus: apierrors.NewNotFound(gr, "").ErrStatus}, true},
		{"forbidden", apierrors.NewForbidden(gr, "web", nil), false},
		{"nil", nil, false},
	} {
		if got := IsNotServed(tc.err); got != tc.want {
			t.Errorf("%s: IsNotServed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGetServed(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	gw := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "web", "namespace": "app"}}}
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "GatewayList"})
	if err := fake.Tracker().Create(gvr, gw, "app"); err != nil {
		t.Fatal(err)
	}
	c := &Clients{Dynamic: fake, Host: "https://fake"}
	ctx := context.Background()
	if u, served, err := c.GetServed(ctx, gvr, "app", "web"); err != nil || !served || u == nil {
		t.Fatalf("existing object: %v %v %v", u, served, err)
	}
	if u, served, err := c.GetServed(ctx, gvr, "app", "nope"); err != nil || !served || u != nil {
		t.Fatalf("missing object: %v %v %v", u, served, err)
	}
	fake.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", gvr.GroupResource(), "web", "404 page not found", 0, true)
	})
	if u, served, err := c.GetServed(ctx, gvr, "app", "web"); err != nil || served || u != nil {
		t.Fatalf("unserved resource: %v %v %v", u, served, err)
	}
}
