package kube

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memory is what one command run has read from the API server or written
// to it: objects by resource, namespace and name (nil for one the server
// said does not exist) and LIST answers by resource, namespace and selector.
// Commands that read and then verify the same objects (setup ends with
// check) answer the second read from here instead of asking again.
type memory struct {
	mu      sync.Mutex
	objects map[string]*unstructured.Unstructured
	lists   map[string][]unstructured.Unstructured
}

func objectKey(gvr schema.GroupVersionResource, namespace, name string) string {
	return gvr.String() + "|" + namespace + "|" + name
}

func (m *memory) rememberObject(gvr schema.GroupVersionResource, namespace, name string, u *unstructured.Unstructured) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objects == nil {
		m.objects = map[string]*unstructured.Unstructured{}
	}
	if u != nil {
		u = u.DeepCopy()
	}
	m.objects[objectKey(gvr, namespace, name)] = u
}

func (m *memory) object(gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.objects[objectKey(gvr, namespace, name)]
	if u != nil {
		u = u.DeepCopy()
	}
	return u, ok
}

func (m *memory) rememberList(gvr schema.GroupVersionResource, namespace, selector string, items []unstructured.Unstructured) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lists == nil {
		m.lists = map[string][]unstructured.Unstructured{}
	}
	kept := make([]unstructured.Unstructured, len(items))
	for i := range items {
		kept[i] = *items[i].DeepCopy()
	}
	m.lists[objectKey(gvr, namespace, selector)] = kept
}

func (m *memory) list(gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	items, ok := m.lists[objectKey(gvr, namespace, selector)]
	if !ok {
		return nil, false
	}
	out := make([]unstructured.Unstructured, len(items))
	for i := range items {
		out[i] = *items[i].DeepCopy()
	}
	return out, true
}

// Remember records an object as the server returned it after a write, so
// a later Recall read sees the written state.
func (c *Clients) Remember(gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
	c.memory.rememberObject(gvr, u.GetNamespace(), u.GetName(), u)
}

// RememberReads makes c keep, from now on, a copy of what it reads and
// writes, for Recall. Only a command that verifies what it wrote needs it
// (setup); the copies would cost every check about a twentieth of its CPU.
// Call it before the reads to remember.
func (c *Clients) RememberReads() {
	if c.memory == nil {
		c.memory = &memory{}
	}
}

// Recall reads like c but answers from what this run already read or
// wrote since RememberReads, asking the server only for the rest. Use it to verify what a
// command just wrote; writes and the reads that guard them (ownership
// checks) use c itself, which always asks the server.
func (c *Clients) Recall() *Recalled { return &Recalled{c} }

// Recalled is Clients answering reads from the run's memory first.
type Recalled struct{ *Clients }

// Get is Clients.Get, from memory when this run has read or written the object.
func (r *Recalled) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if u, ok := r.memory.object(gvr, namespace, name); ok {
		return u, nil
	}
	return r.Clients.Get(ctx, gvr, namespace, name)
}

// GetServed is Clients.GetServed, from memory when this run has read the
// object at that version (which the server therefore serves).
func (r *Recalled) GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	if u, ok := r.memory.object(gvr, namespace, name); ok {
		return u, true, nil
	}
	return r.Clients.GetServed(ctx, gvr, namespace, name)
}

// List is Clients.List, from memory when this run has made the same LIST.
func (r *Recalled) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	if items, ok := r.memory.list(gvr, namespace, labelSelector); ok {
		return items, nil
	}
	return r.Clients.List(ctx, gvr, namespace, labelSelector)
}

// GetServedRaw is Clients.GetServedRaw, from memory when this run has read
// the object.
func (r *Recalled) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error) {
	if u, ok := r.memory.object(gvr, namespace, name); ok {
		if u == nil {
			return nil, true, nil
		}
		raw, err := u.MarshalJSON()
		return raw, true, err
	}
	return r.Clients.GetServedRaw(ctx, gvr, namespace, name)
}

// ListRaw is Clients.ListRaw, from memory when this run has made the same
// LIST.
func (r *Recalled) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]byte, error) {
	if items, ok := r.memory.list(gvr, namespace, labelSelector); ok {
		return ListJSON(gvr, items)
	}
	return r.Clients.ListRaw(ctx, gvr, namespace, labelSelector)
}
