package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// IstioGroupVersion is the Istio API the plugin prefers; Start waits until
// discovery serves it, since the plugin decides between v1 and v1beta1 there.
const IstioGroupVersion = "networking.istio.io/v1"

// installCRDs creates every CRD in file (keeping ones that exist, so a restarted
// or reused cluster is fine) and waits until all are Established and
// discovery serves the Istio networking API.
func (c *Cluster) installCRDs(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("opening Istio CRDs: %w", err)
	}
	defer f.Close()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	crds := dyn.Resource(crdGVR)
	var installed []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(f, 64*1024)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("reading %s: %w", file, err)
		}
		if len(obj.Object) == 0 || obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		installed = append(installed, obj)
		if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", obj.GetName(), err)
		}
	}
	if len(installed) == 0 {
		return fmt.Errorf("no CustomResourceDefinition found in %s", file)
	}

	return c.waitCRDsReady(ctx, "Istio", installed, IstioGroupVersion, "gateways")
}

// waitCRDsReady waits until the installed CRDs are Established, each one's
// storage answers a LIST, and discovery serves the resources want in gv.
// The LIST matters for the uninstall after a short test: until a
// resource's storage is initialised, deleting its CRD fails ("storage is
// (re)initializing") and the API server retries the deletion only after a
// long backoff, past the uninstall's wait on a loaded machine.
func (c *Cluster) waitCRDsReady(ctx context.Context, what string, installed []*unstructured.Unstructured, gv string, want ...string) error {
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	crds := dyn.Resource(crdGVR)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 100*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, obj := range installed {
			crd, err := crds.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil || !established(crd) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d %s CRDs to be Established: %w", len(installed), what, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, obj := range installed {
			if _, err := dyn.Resource(storageResource(obj)).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the %s CRDs' storage: %w", what, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		list, err := disc.ServerResourcesForGroupVersion(gv)
		if err != nil {
			return false, nil
		}
		for _, w := range want {
			if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == w }) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for discovery to serve %s %v: %w", gv, want, err)
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
