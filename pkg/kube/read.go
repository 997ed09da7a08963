package kube

import (
	"context"
	"encoding/json"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
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

// GetServedRaw is GetServed with the object as the server sent it (nil
// when missing), for a caller that decodes it straight into its Go type:
// decoding into a map first and converting that to the type through JSON
// again was half of check's CPU. A built-in resource's object comes as
// protobuf (Kubernetes' envelope, starting with ProtobufPrefix) when the
// server offers it, anything else as JSON. The request's URL and its errors
// are the dynamic client's.
func (c *Clients) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error) {
	if c.objects == nil {
		u, served, err := c.GetServed(ctx, gvr, namespace, name)
		if err != nil || u == nil {
			return nil, served, err
		}
		raw, err := u.MarshalJSON()
		return raw, true, err
	}
	raw, err := rawBody(c.rawClient(gvr).Get().AbsPath(resourcePath(gvr, namespace, name)...).Do(ctx))
	switch {
	case err == nil:
		return raw, true, nil
	case IsNotServed(err):
		return nil, false, nil
	case apierrors.IsNotFound(err):
		return nil, true, nil
	}
	return nil, false, c.Explain(err, "get", gvr, namespace, name)
}

// ListRaw is List with the answer as the list the server sent.
func (c *Clients) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]byte, error) {
	if c.objects == nil {
		items, err := c.List(ctx, gvr, namespace, labelSelector)
		if err != nil {
			return nil, err
		}
		return ListJSON(gvr, items)
	}
	req := c.rawClient(gvr).Get().AbsPath(resourcePath(gvr, namespace, "")...)
	if labelSelector != "" {
		req = req.Param("labelSelector", labelSelector)
	}
	raw, err := rawBody(req.Do(ctx))
	if err != nil {
		return nil, c.Explain(err, "list", gvr, namespace, "")
	}
	return raw, nil
}

// rawBody is a response's body, or its error as the dynamic client gives
// it: Result.Error decodes the Status a failure carries (NotFound with the
// object's name, Forbidden), where Result.Raw alone reports any failure as
// an unexpected response.
func rawBody(res rest.Result) ([]byte, error) {
	if err := res.Error(); err != nil {
		return nil, err
	}
	return res.Raw()
}

// ListJSON is items, read from gvr, as the JSON of a list (each item keeps
// its own apiVersion and kind), for raw readers answered from unstructured
// objects.
func ListJSON(gvr schema.GroupVersionResource, items []unstructured.Unstructured) ([]byte, error) {
	objs := make([]map[string]any, len(items))
	for i := range items {
		objs[i] = items[i].Object
	}
	return json.Marshal(struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}{gvr.GroupVersion().String(), "List", objs})
}

// ProtobufPrefix starts an object or list the API server encoded as
// protobuf: the envelope (runtime.Unknown) follows, whose Raw is the
// object's own message.
var ProtobufPrefix = []byte("k8s\x00")

// rawClient is the client for raw reads of gvr: protobuf for the built-in
// groups the plugin reads, JSON for the rest (custom resources have no
// protobuf form).
func (c *Clients) rawClient(gvr schema.GroupVersionResource) rest.Interface {
	switch gvr.Group {
	case "", "apps", "networking.k8s.io":
		return c.builtins
	}
	return c.objects
}

// resourcePath is the path of gvr's objects in namespace, or of the object
// name when given, as the dynamic client builds it.
func resourcePath(gvr schema.GroupVersionResource, namespace, name string) []string {
	segs := []string{"api"}
	if gvr.Group != "" {
		segs = []string{"apis", gvr.Group}
	}
	segs = append(segs, gvr.Version)
	if namespace != "" {
		segs = append(segs, "namespaces", namespace)
	}
	segs = append(segs, gvr.Resource)
	if name != "" {
		segs = append(segs, name)
	}
	return segs
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
