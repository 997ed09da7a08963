package check

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// clutter is a cluster's worth of objects that have nothing to do with the
// chain: secrets, services, pods (some in the Istio namespace) and Ingresses.
func clutter(n int) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for i := range n {
		ns := fmt.Sprintf("team-%d", i%7)
		if i%3 == 0 {
			ns = istioNS
		}
		objs = append(objs,
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": fmt.Sprintf("s-%d", i), "namespace": ns}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
				"metadata": map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": ns}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": fmt.Sprintf("pod-%d", i), "namespace": ns, "labels": map[string]any{"app": "other"}}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
				"metadata": map[string]any{"name": fmt.Sprintf("ing-%d", i), "namespace": ns}}},
		)
	}
	return objs
}

// TestReadRequests counts the API requests a check makes: a fixed number
// per flavor and identity, at most MaxRequests, the same however many other
// objects the cluster holds; only get and list, lists only with a label
// selector (IngressClasses, cluster-scoped and few, excepted), and secrets
// only by name.
func TestReadRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts worldOptions
		want int
	}{
		{"nginx private-ca", worldOptions{}, 15},
		{"nginx alb-cert", worldOptions{ALBClientAuth: true}, 14},
		{"traefik private-ca", worldOptions{Flavor: chain.FlavorTraefik}, MaxRequests},
		{"traefik alb-cert", worldOptions{Flavor: chain.FlavorTraefik, ALBClientAuth: true}, MaxRequests - 1},
		{"classic private-ca", worldOptions{Flavor: chain.FlavorClassic}, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.opts)
			for _, extra := range []int{0, 300} {
				api := newFakeAPI(t, w, clutter(extra)...)
				p := *w.params
				if _, err := Read(context.Background(), api, &p); err != nil {
					t.Fatal(err)
				}
				if got := api.requests(); got != tc.want {
					t.Errorf("with %d unrelated objects: %d requests, want %d", extra*4, got, tc.want)
				}
				for _, a := range api.Fake.Actions() {
					verb, res := a.GetVerb(), a.GetResource()
					switch {
					case verb != "get" && verb != "list":
						t.Errorf("%s %s: check must only read", verb, res)
					case verb == "list" && res == kube.Secrets:
						t.Errorf("check listed secrets; it must read them by name")
					case verb == "list" && res != kube.IngressClasses:
						la := a.(k8stesting.ListAction)
						if la.GetListRestrictions().Labels.Empty() || a.GetNamespace() == "" {
							t.Errorf("list %s without a label selector or namespace", res)
						}
					}
				}
			}
		})
	}
}

// TestReadForbidden: an RBAC denial stops the check with the plugin's
// forbidden exit code and a sentence naming what could not be read.
func TestReadForbidden(t *testing.T) {
	w := newWorld(t, worldOptions{})
	api := newFakeAPI(t, w)
	api.Fake.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "alb", errors.New("RBAC: no"))
	})
	p := *w.params
	_, err := Read(context.Background(), api, &p)
	var ke *kube.Error
	if !errors.As(err, &ke) || ke.Code != kube.ExitForbidden {
		t.Fatalf("got %v, want a forbidden error with exit code %d", err, kube.ExitForbidden)
	}
}

// TestReadResolvesFlavor: auto becomes the flavor of the cluster's ALB
// classes, and its class; an ambiguous cluster leaves a reason instead.
func TestReadResolvesFlavor(t *testing.T) {
	w := newWorld(t, worldOptions{Flavor: chain.FlavorTraefik})
	p := *w.params
	snap, err := Read(context.Background(), newFakeAPI(t, w), &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Flavor != chain.FlavorTraefik || p.IngressClass != "public-iks-traefik" || snap.FlavorError != "" {
		t.Fatalf("flavor %s, class %s, error %q; want traefik, public-iks-traefik", p.Flavor, p.IngressClass, snap.FlavorError)
	}
	if snap.ServersTransport == nil || snap.ServersTransport.Spec.ServerName != gwDomain || snap.BackendService == nil {
		t.Fatalf("the Traefik objects were not read: %+v", snap.ServersTransport)
	}
}
