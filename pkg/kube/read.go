package kube

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// resource is gvr in namespace, or cluster-wide when namespace is empty.
func (c *Clients) resource(gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return c.Dynamic.Resource(gvr)
	}
	return c.Dynamic.Resource(gvr).Namespace(namespace)
}

// List reads the objects of a resource in namespace (all namespaces, or a
// cluster-scoped resource, when empty) that match labelSelector. Callers pass
// a selector for namespaced resources so that what is read stays bounded by
// what they look for, not by the size of the cluster.
func (c *Clients) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	list, err := c.resource(gvr, namespace).List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, c.Explain(err, "list", gvr, namespace, "")
	}
	c.memory.rememberList(gvr, namespace, labelSelector, list.Items)
	return list.Items, nil
}

// GetServed reads one object (nil when missing) and also says whether the
// server serves the resource at all. Asking for an object at a version the cluster
// may not serve (Istio's v1) and learning both answers from one request
// saves the discovery round trip in the common case; only a "not served"
// answer needs discovery to learn what is served instead.
func (c *Clients) GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	u, err := c.resource(gvr, namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		c.memory.rememberObject(gvr, namespace, name, u)
		return u, true, nil
	case IsNotServed(err):
		return nil, false, nil
	case apierrors.IsNotFound(err):
		c.memory.rememberObject(gvr, namespace, name, nil)
		return nil, true, nil
	}
	return nil, false, c.Explain(err, "get", gvr, namespace, name)
}

// IsNotServed tells a 404 for a resource the server does not serve from one
// for a missing object. The API server answers a missing object with a
// Status naming it; a path nothing serves falls through to its mux, which
// answers "404 page not found" as plain text, and client-go records the
// unexpected body as the error's cause.
func IsNotServed(err error) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	if d == nil || d.Name == "" {
		return true
	}
	for _, c := range d.Causes {
		if c.Type == metav1.CauseTypeUnexpectedServerResponse {
			return true
		}
	}
	return false
}
