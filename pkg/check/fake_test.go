package check

import (
	"context"
	"net/http"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8stesting "k8s.io/client-go/testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// fakeAPI is a cluster for unit tests: a dynamic fake client holding the
// world's objects, behind the real kube.Clients Get and List, plus the
// discovery answer for Istio's group. It counts discovery requests; the
// fake client records the others as actions.
type fakeAPI struct {
	*kube.Clients
	Fake      *dynamicfake.FakeDynamicClient
	served    []string
	discovery int
	// discovered, when set, is what discovery answers instead of served
	// (a stale discovery cache).
	discovered []string
}

func (f *fakeAPI) APIGroup(_ context.Context, group string) (*metav1.APIGroup, error) {
	f.discovery++
	versions := f.served
	if f.discovered != nil {
		versions = f.discovered
	}
	if versions == nil {
		return nil, nil
	}
	g := &metav1.APIGroup{Name: group}
	for _, v := range versions {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
	}
	return g, nil
}

// requests is every API request made so far.
func (f *fakeAPI) requests() int { return f.discovery + len(f.Fake.Actions()) }

func newFakeAPI(t *testing.T, w *world, extra ...*unstructured.Unstructured) *fakeAPI {
	t.Helper()
	listKinds := map[schema.GroupVersionResource]string{
		kube.IngressClasses: "IngressClassList",
		kube.Pods:           "PodList",
		kube.Secrets:        "SecretList",
		kube.Services:       "ServiceList",
		gwReferenceGrants:   "ReferenceGrantList",
	}
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	// Objects go in under their real resource names: the fake's own guess
	// from the kind turns Gateway into "gatewaies".
	for _, u := range append(slices.Clone(w.objects), extra...) {
		gvk := u.GroupVersionKind()
		gvr, err := kube.ResourceFor(gvk)
		switch gvk.Kind {
		case "Pod":
			gvr, err = kube.Pods, nil
		case "IngressClass":
			gvr, err = kube.IngressClasses, nil
		case "ConfigMap":
			gvr, err = configMaps, nil
		case "Deployment":
			gvr, err = deployments, nil
		case "HTTPRoute":
			gvr, err = gwHTTPRoutes, nil
		case "GatewayClass":
			gvr, err = gwGatewayClasses, nil
		case "ReferenceGrant":
			gvr, err = gwReferenceGrants, nil
		case "CustomResourceDefinition":
			gvr, err = crdResource, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := fake.Tracker().Create(gvr, u.DeepCopy(), u.GetNamespace()); err != nil {
			t.Fatalf("adding %s: %v", key(u), err)
		}
	}
	// Istio's resources at a version the world does not serve (and
	// cert-manager's, where it is not installed) answer as the API server's
	// mux does: a plain-text 404, which client-go turns into a
	// NotFound whose cause is the unexpected body.
	for _, res := range []string{"gateways", "virtualservices", "issuers", "certificates", "httproutes", "gatewayclasses", "referencegrants"} {
		fake.PrependReactor("*", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			gvr := a.GetResource()
			unserved := !slices.Contains(w.served, gvr.Version)
			if gvr.Group == kube.Issuers.Group {
				unserved = w.certManagerUnserved
			}
			if gvr.Group == gatewayAPIGroup {
				unserved = w.gatewayAPIUnserved
			}
			if unserved {
				name := ""
				if g, ok := a.(k8stesting.GetAction); ok {
					name = g.GetName()
				}
				return true, nil, apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", gvr.GroupResource(), name, "404 page not found", 0, true)
			}
			return false, nil, nil
		})
	}
	return &fakeAPI{Clients: &kube.Clients{Dynamic: fake, Host: "https://fake"}, Fake: fake, served: w.served}
}
