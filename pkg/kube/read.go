package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// List reads the objects of a resource in namespace (all namespaces, or a
// cluster-scoped resource, when empty) that match labelSelector. Callers pass
// a selector for namespaced resources so that what is read stays bounded by
// what they look for, not by the size of the cluster.
func (c *Clients) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(gvr)
	if namespace != "" {
		ri = c.Dynamic.Resource(gvr).Namespace(namespace)
	}
	list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, c.Explain(err, "list", gvr, namespace, "")
	}
	return list.Items, nil
}
