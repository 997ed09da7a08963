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
	var names []string
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
		names = append(names, obj.GetName())
		if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", obj.GetName(), err)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no CustomResourceDefinition found in %s", file)
	}

	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if !established(crd) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d Istio CRDs to be Established: %w", len(names), err)
	}

	disc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		list, err := disc.ServerResourcesForGroupVersion(IstioGroupVersion)
		if err != nil {
			return false, nil
		}
		return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "gateways" }), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for discovery to serve %s gateways: %w", IstioGroupVersion, err)
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
