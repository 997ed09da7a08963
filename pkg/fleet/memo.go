package fleet

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/check"
)

// Memo is an API (check.API) that asks the server each distinct question
// once per run and answers every later asker from its first answer: the
// chains of one hop share most of what check reads (the IngressClasses, the
// hop's secrets, its Gateway, the gateway Service and pods), so checking N
// chains through one Memo costs the hop's requests once plus each chain's
// own. Concurrent askers of one question wait for the request in flight.
//
// Every object a LIST brings is also remembered by name, so a later GET of
// it (check reading the Ingress or the Gateway that discovery listed) is
// answered without a request. Absence is never inferred from a LIST: a
// label-selected LIST does not show unlabelled objects.
//
// Answers, errors included, hold for the Memo's lifetime: make one per run.
type Memo struct {
	api check.API

	mu       sync.Mutex
	calls    map[string]*memoCall
	objects  map[string]*unstructured.Unstructured
	requests int
}

type memoCall struct {
	done   chan struct{}
	u      *unstructured.Unstructured
	served bool
	items  []unstructured.Unstructured
	group  *metav1.APIGroup
	err    error
}

// NewMemo wraps api.
func NewMemo(api check.API) *Memo {
	return &Memo{api: api, calls: map[string]*memoCall{}, objects: map[string]*unstructured.Unstructured{}}
}

var _ check.API = (*Memo)(nil)

// Requests is how many requests the Memo passed on to the API.
func (m *Memo) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

func objectKey(gvr schema.GroupVersionResource, namespace, name string) string {
	return gvr.String() + "|" + namespace + "|" + name
}

// do runs fetch once for key; every caller gets its outcome.
func (m *Memo) do(ctx context.Context, key string, fetch func(c *memoCall)) (*memoCall, error) {
	m.mu.Lock()
	c, ok := m.calls[key]
	if !ok {
		c = &memoCall{done: make(chan struct{})}
		m.calls[key] = c
		m.requests++
		m.mu.Unlock()
		fetch(c)
		close(c.done)
		return c, nil
	}
	m.mu.Unlock()
	select {
	case <-c.done:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// GetServed is check.API's GetServed, once per object.
func (m *Memo) GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	key := objectKey(gvr, namespace, name)
	m.mu.Lock()
	if u, ok := m.objects[key]; ok {
		m.mu.Unlock()
		return u.DeepCopy(), true, nil
	}
	m.mu.Unlock()
	c, err := m.do(ctx, "get|"+key, func(c *memoCall) {
		c.u, c.served, c.err = m.api.GetServed(ctx, gvr, namespace, name)
	})
	if err != nil {
		return nil, false, err
	}
	if c.err != nil {
		return nil, false, c.err
	}
	if c.u == nil {
		return nil, c.served, nil
	}
	return c.u.DeepCopy(), c.served, nil
}

// Get is check.API's Get, once per object.
func (m *Memo) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	u, _, err := m.GetServed(ctx, gvr, namespace, name)
	return u, err
}

// List is check.API's List, once per resource, namespace and selector.
func (m *Memo) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	c, err := m.do(ctx, "list|"+objectKey(gvr, namespace, labelSelector), func(c *memoCall) {
		c.items, c.err = m.api.List(ctx, gvr, namespace, labelSelector)
		if c.err != nil {
			return
		}
		m.mu.Lock()
		for i := range c.items {
			u := &c.items[i]
			m.objects[objectKey(gvr, u.GetNamespace(), u.GetName())] = u.DeepCopy()
		}
		m.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if c.err != nil {
		return nil, c.err
	}
	out := make([]unstructured.Unstructured, len(c.items))
	for i := range c.items {
		out[i] = *c.items[i].DeepCopy()
	}
	return out, nil
}

// APIGroup is check.API's APIGroup, once per group.
func (m *Memo) APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error) {
	c, err := m.do(ctx, "group|"+group, func(c *memoCall) {
		c.group, c.err = m.api.APIGroup(ctx, group)
	})
	if err != nil {
		return nil, err
	}
	if c.err != nil || c.group == nil {
		return nil, c.err
	}
	return c.group.DeepCopy(), nil
}
