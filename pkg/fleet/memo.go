package fleet

import (
	"bytes"
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// Memo is an API (check.API) that asks the server each distinct question
// once per run and answers every later asker from its first answer: the
// chains of one hop share most of what check reads (the IngressClasses, the
// hop's secrets, its Gateway, the gateway Service and pods), so checking N
// chains through one Memo costs the hop's requests once plus each chain's
// own. Concurrent askers of one question wait for the request in flight.
//
// Every object an unstructured LIST brings is also remembered by name, so a
// later GET of it (check reading the Ingress or the Gateway that discovery
// listed) is answered without a request. Absence is never inferred from a LIST: a
// label-selected LIST does not show unlabelled objects.
//
// A Memo is a check.RawAPI too: an answer is kept in the form its first
// asker wanted (an unstructured object or the server's JSON, which the
// wrapped API gives when it is a RawAPI) and handed to later askers in
// theirs. Every asker gets its own copy.
//
// Answers, errors included, hold for the Memo's lifetime: make one per run.
type Memo struct {
	api check.API

	mu       sync.Mutex
	calls    map[string]*memoCall
	objects  map[string]memoObject
	requests int
}

// memoObject is one object in either form; the other is nil.
type memoObject struct {
	u   *unstructured.Unstructured
	raw []byte
}

type memoCall struct {
	done   chan struct{}
	obj    memoObject
	served bool
	items  []unstructured.Unstructured
	list   []byte // a LIST's JSON, when it was asked for raw
	group  *metav1.APIGroup
	err    error
}

// NewMemo wraps api.
func NewMemo(api check.API) *Memo {
	return &Memo{api: api, calls: map[string]*memoCall{}, objects: map[string]memoObject{}}
}

var (
	_ check.API    = (*Memo)(nil)
	_ check.RawAPI = (*Memo)(nil)
)

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

// getObject is the remembered or fetched object (its zero value when
// missing), fetching it raw when raw asks and the API can.
func (m *Memo) getObject(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, raw bool) (memoObject, bool, error) {
	key := objectKey(gvr, namespace, name)
	m.mu.Lock()
	if o, ok := m.objects[key]; ok {
		m.mu.Unlock()
		return o, true, nil
	}
	m.mu.Unlock()
	c, err := m.do(ctx, "get|"+key, func(c *memoCall) {
		if ra, ok := m.api.(check.RawAPI); ok && raw {
			c.obj.raw, c.served, c.err = ra.GetServedRaw(ctx, gvr, namespace, name)
			return
		}
		c.obj.u, c.served, c.err = m.api.GetServed(ctx, gvr, namespace, name)
	})
	if err != nil {
		return memoObject{}, false, err
	}
	if c.err != nil {
		return memoObject{}, false, c.err
	}
	if !raw && c.obj.u == nil && isProtobuf(c.obj.raw) {
		// Protobuf needs the object's Go type to become a map, which the
		// Memo does not know: an unstructured asker after a raw one (rare:
		// check -A's discovery asks before its checks) asks once more.
		if c, err = m.do(ctx, "get-unstructured|"+key, func(c *memoCall) {
			c.obj.u, c.served, c.err = m.api.GetServed(ctx, gvr, namespace, name)
		}); err != nil {
			return memoObject{}, false, err
		}
		if c.err != nil {
			return memoObject{}, false, c.err
		}
	}
	return c.obj, c.served, nil
}

// isProtobuf says whether the server sent data as protobuf.
func isProtobuf(data []byte) bool { return bytes.HasPrefix(data, kube.ProtobufPrefix) }

// unstructured is a copy of the object, nil when missing.
func (o memoObject) unstructured() (*unstructured.Unstructured, error) {
	switch {
	case o.u != nil:
		return o.u.DeepCopy(), nil
	case o.raw != nil:
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(o.raw); err != nil {
			return nil, err
		}
		return u, nil
	}
	return nil, nil
}

// json is the object's JSON (a copy), nil when missing.
func (o memoObject) json() ([]byte, error) {
	switch {
	case o.raw != nil:
		return bytes.Clone(o.raw), nil
	case o.u != nil:
		return o.u.MarshalJSON()
	}
	return nil, nil
}

// GetServed is check.API's GetServed, once per object.
func (m *Memo) GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	o, served, err := m.getObject(ctx, gvr, namespace, name, false)
	if err != nil {
		return nil, false, err
	}
	u, err := o.unstructured()
	return u, served, err
}

// GetServedRaw is check.RawAPI's GetServedRaw, once per object.
func (m *Memo) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error) {
	o, served, err := m.getObject(ctx, gvr, namespace, name, true)
	if err != nil {
		return nil, false, err
	}
	data, err := o.json()
	return data, served, err
}

// Get is check.API's Get, once per object.
func (m *Memo) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	u, _, err := m.GetServed(ctx, gvr, namespace, name)
	return u, err
}

// listCall is the LIST's answer, fetched raw when raw asks and the API can.
// The objects of an unstructured LIST (discovery's) are remembered by name;
// a raw LIST's are not: finding their names would mean decoding every item
// once more, and its one asker, check's reader, takes what it listed from
// the list itself (the plugin's secrets, the gateway pods, the
// IngressClasses) and never GETs it.
func (m *Memo) listCall(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string, raw bool) (*memoCall, error) {
	c, err := m.do(ctx, "list|"+objectKey(gvr, namespace, labelSelector), func(c *memoCall) {
		if ra, ok := m.api.(check.RawAPI); ok && raw {
			c.list, c.err = ra.ListRaw(ctx, gvr, namespace, labelSelector)
			return
		}
		c.items, c.err = m.api.List(ctx, gvr, namespace, labelSelector)
		if c.err != nil {
			return
		}
		m.mu.Lock()
		for i := range c.items {
			u := &c.items[i]
			m.objects[objectKey(gvr, u.GetNamespace(), u.GetName())] = memoObject{u: u.DeepCopy()}
		}
		m.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// List is check.API's List, once per resource, namespace and selector.
func (m *Memo) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	c, err := m.listCall(ctx, gvr, namespace, labelSelector, false)
	if err != nil {
		return nil, err
	}
	if isProtobuf(c.list) {
		// As getObject: a raw LIST in protobuf is asked again as maps.
		if c, err = m.do(ctx, "list-unstructured|"+objectKey(gvr, namespace, labelSelector), func(c *memoCall) {
			c.items, c.err = m.api.List(ctx, gvr, namespace, labelSelector)
		}); err != nil {
			return nil, err
		}
		if c.err != nil {
			return nil, c.err
		}
	}
	if c.list != nil {
		var l unstructured.UnstructuredList
		if err := l.UnmarshalJSON(c.list); err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	out := make([]unstructured.Unstructured, len(c.items))
	for i := range c.items {
		out[i] = *c.items[i].DeepCopy()
	}
	return out, nil
}

// ListRaw is check.RawAPI's ListRaw, once per resource, namespace and
// selector.
func (m *Memo) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]byte, error) {
	c, err := m.listCall(ctx, gvr, namespace, labelSelector, true)
	if err != nil {
		return nil, err
	}
	if c.list != nil {
		return bytes.Clone(c.list), nil
	}
	return kube.ListJSON(gvr, c.items)
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
