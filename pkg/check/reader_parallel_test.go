package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// Read issues its requests concurrently; readSequential (reader_seq_test.go)
// is the one-after-the-other Read it replaced. These tests hold the two to
// the same requests, the same Snapshot and the same error, and Read to its
// bound on requests in flight.

// readCase is a cluster to read and a way to break it.
type readCase struct {
	name  string
	world *world
	// prepare changes the fake API (reactors, a stale discovery cache).
	prepare func(*fakeAPI)
}

// readCases are every grid fixture's world plus the fallbacks the grid
// does not exercise: a Role that forbids listing secrets, an unlabelled
// secret, a stale discovery cache, and unrelated objects.
func readCases(t *testing.T) []readCase {
	t.Helper()
	var cases []readCase
	for _, path := range gridFiles(t) {
		c, ops := loadCase(t, path)
		w := newWorld(t, c.World)
		w.apply(t, ops)
		cases = append(cases, readCase{name: "grid/" + strings.TrimSuffix(filepath.Base(path), ".yaml"), world: w})
	}
	forbidList := func(api *fakeAPI) {
		api.Fake.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("RBAC: list not allowed"))
		})
	}
	for _, o := range []worldOptions{{}, {Flavor: chain.FlavorTraefik}, {Flavor: chain.FlavorClassic}, {Identity: chain.IdentityCertManager}} {
		cases = append(cases, readCase{name: "list forbidden/" + string(o.Flavor) + string(o.Identity), world: newWorld(t, o), prepare: forbidList})
	}
	unlabelled := newWorld(t, worldOptions{})
	for _, u := range unlabelled.objects {
		if u.GetKind() == "Secret" && u.GetNamespace() == istioNS {
			u.SetLabels(nil)
		}
	}
	cases = append(cases, readCase{name: "unlabelled secrets", world: unlabelled})
	cases = append(cases, readCase{name: "stale discovery cache", world: newWorld(t, worldOptions{Istio: &[]string{"v1beta1"}}),
		prepare: func(api *fakeAPI) { api.discovered = []string{"v1", "v1beta1"} }})
	cluttered := newWorld(t, worldOptions{Flavor: chain.FlavorTraefik})
	cluttered.objects = append(cluttered.objects, clutter(50)...)
	cases = append(cases, readCase{name: "clutter", world: cluttered})
	return cases
}

// readResult is what one read did: its answer, the parameters it resolved,
// and the requests it made, sorted.
type readResult struct {
	snap     *Snapshot
	err      error
	params   chain.Params
	requests []string
}

type readFunc func(context.Context, API, *chain.Params) (*Snapshot, error)

func readWith(t *testing.T, c readCase, read readFunc, wrap func(*fakeAPI) API) readResult {
	t.Helper()
	api := newFakeAPI(t, c.world)
	if c.prepare != nil {
		c.prepare(api)
	}
	var a API = api
	if wrap != nil {
		a = wrap(api)
	}
	p := *c.world.params
	snap, err := read(context.Background(), a, &p)
	return readResult{snap: snap, err: err, params: p, requests: requestSignatures(api)}
}

// requestSignatures lists the requests a fake API answered, sorted:
// "verb resource namespace name-or-selector", and one "discover" per
// discovery request.
func requestSignatures(api *fakeAPI) []string {
	var out []string
	for _, a := range api.Fake.Actions() {
		sig := fmt.Sprintf("%s %s %s", a.GetVerb(), a.GetResource(), a.GetNamespace())
		switch a := a.(type) {
		case k8stesting.GetAction:
			sig += " " + a.GetName()
		case k8stesting.ListAction:
			sig += " ?" + a.GetListRestrictions().Labels.String()
		}
		out = append(out, sig)
	}
	for range api.discovery {
		out = append(out, "discover")
	}
	slices.Sort(out)
	return out
}

// sameSecrets says which of a snapshot's secret fields are one object:
// the rules tell the Ingress's own TLS secret from the ALB secret that way.
func sameSecrets(s *Snapshot) []bool {
	if s == nil {
		return nil
	}
	secs := []*corev1.Secret{s.ALBSecret, s.GatewaySecret, s.ClientSecret, s.CACert, s.CASecret, s.IngressTLSSecret}
	var same []bool
	for i := range secs {
		for j := i + 1; j < len(secs); j++ {
			same = append(same, secs[i] != nil && secs[i] == secs[j])
		}
	}
	return same
}

func compareReads(t *testing.T, want, got readResult) {
	t.Helper()
	compareReadsBy(t, want, got, reflect.DeepEqual)
}

// compareReadsBy is compareReads with the Snapshots compared by equal.
func compareReadsBy(t *testing.T, want, got readResult, equal func(a, b any) bool) {
	t.Helper()
	switch {
	case (want.err == nil) != (got.err == nil) || want.err != nil && want.err.Error() != got.err.Error():
		t.Errorf("error %v, the sequential read's %v", got.err, want.err)
	case !equal(got.snap, want.snap):
		t.Errorf("the Snapshot differs from the sequential read's:\n got %+v\nwant %+v", got.snap, want.snap)
	case !reflect.DeepEqual(sameSecrets(got.snap), sameSecrets(want.snap)):
		t.Errorf("the Snapshot shares other secret objects than the sequential read's: %v, want %v", sameSecrets(got.snap), sameSecrets(want.snap))
	}
	if !reflect.DeepEqual(got.params, want.params) {
		t.Errorf("resolved parameters %+v, the sequential read's %+v", got.params, want.params)
	}
	if !slices.Equal(got.requests, want.requests) {
		t.Errorf("requests differ from the sequential read's:\n got %s\nwant %s", strings.Join(got.requests, "\n     "), strings.Join(want.requests, "\n     "))
	}
}

// TestReadSameAsSequential: on every grid world and every fallback, Read
// makes exactly the requests the sequential read made and returns the same
// Snapshot and resolved parameters, run after run.
func TestReadSameAsSequential(t *testing.T) {
	for _, c := range readCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want := readWith(t, c, readSequential, nil)
			if want.err != nil {
				t.Fatalf("the sequential read failed: %v", want.err)
			}
			for range 3 {
				compareReads(t, want, readWith(t, c, Read, nil))
			}
			// Through a RawAPI, decoding the server's JSON straight
			// into the types: the same Snapshot and requests.
			compareReads(t, want, readWith(t, c, Read, asRaw))
			// Built-in objects in protobuf, as the API server sends
			// them to the plugin. Protobuf has no empty list or map
			// apart from none, so those compare as Kubernetes' own
			// semantic equality compares them.
			compareReadsBy(t, want, readWith(t, c, Read, asProto), semanticSnapshots)
		})
	}
}

// rawAPI is an API that is also a RawAPI, answering as the API server
// does: an object's JSON, a list's JSON whose items carry no apiVersion
// and kind.
type rawAPI struct{ API }

func asRaw(api *fakeAPI) API { return rawAPI{api} }

func (r rawAPI) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error) {
	u, served, err := r.GetServed(ctx, gvr, namespace, name)
	if err != nil || u == nil {
		return nil, served, err
	}
	data, err := u.MarshalJSON()
	return data, served, err
}

func (r rawAPI) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]byte, error) {
	items, err := r.List(ctx, gvr, namespace, selector)
	if err != nil {
		return nil, err
	}
	list := map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": "List", "items": []any{}}
	var objs []any
	for _, u := range items {
		obj := u.DeepCopy().Object
		if len(items) > 0 {
			list["kind"] = u.GetKind() + "List"
		}
		delete(obj, "apiVersion")
		delete(obj, "kind")
		objs = append(objs, obj)
	}
	if objs != nil {
		list["items"] = objs
	}
	return json.Marshal(list)
}

// failing is an API whose requests fail when their signature is in fail
// (discovery as "discover"), each with an error naming the request.
type failing struct {
	*fakeAPI
	fail map[string]bool
}

func (f *failing) APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error) {
	if f.fail["discover"] {
		f.discovery++
		return nil, errors.New("injected failure of discovery")
	}
	return f.fakeAPI.APIGroup(ctx, group)
}

func failRequests(api *fakeAPI, fail map[string]bool) API {
	api.Fake.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sig := fmt.Sprintf("%s %s %s", a.GetVerb(), a.GetResource(), a.GetNamespace())
		switch a := a.(type) {
		case k8stesting.GetAction:
			sig += " " + a.GetName()
		case k8stesting.ListAction:
			sig += " ?" + a.GetListRestrictions().Labels.String()
		}
		if fail[sig] {
			return true, nil, apierrors.NewInternalError(fmt.Errorf("injected failure of %s", sig))
		}
		return false, nil, nil
	})
	return &failing{api, fail}
}

// TestReadFirstErrorAsSequential: whichever of Read's requests fail, alone,
// in pairs or all together, Read returns the error the sequential read
// returned (the one it met first), however the concurrent requests raced.
func TestReadFirstErrorAsSequential(t *testing.T) {
	for _, c := range []readCase{
		{name: "nginx", world: newWorld(t, worldOptions{})},
		{name: "traefik", world: newWorld(t, worldOptions{Flavor: chain.FlavorTraefik})},
		{name: "istio v1beta1", world: newWorld(t, worldOptions{Istio: &[]string{"v1beta1"}})},
		{name: "cert-manager", world: newWorld(t, worldOptions{Identity: chain.IdentityCertManager})},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := readWith(t, c, readSequential, nil).requests
			var sets [][]string
			for i := range all {
				sets = append(sets, all[i:i+1])
				for j := i + 1; j < len(all); j++ {
					sets = append(sets, []string{all[i], all[j]})
				}
			}
			sets = append(sets, all)
			for _, set := range sets {
				fail := map[string]bool{}
				for _, s := range set {
					fail[s] = true
				}
				wrap := func(api *fakeAPI) API { return failRequests(api, fail) }
				want := readWith(t, c, readSequential, wrap)
				if want.err == nil {
					t.Fatalf("failing %q: the sequential read did not fail", set)
				}
				for range 3 {
					got := readWith(t, c, Read, wrap)
					if got.err == nil || got.err.Error() != want.err.Error() {
						t.Errorf("failing %q: error %v, the sequential read's %v", set, got.err, want.err)
					}
				}
			}
		})
	}

	// Objects that do not decode fail the read as their requests do.
	w := newWorld(t, worldOptions{})
	for _, target := range []string{"Service " + appNS + "/httpbin", "Ingress " + istioNS + "/" + w.params.IngressName} {
		_, u := w.find(target)
		if u == nil {
			t.Fatalf("the world has no %s", target)
		}
		u.Object["spec"] = "not an object"
	}
	cm := newWorld(t, worldOptions{Identity: chain.IdentityCertManager})
	for _, target := range []string{"Certificate " + istioNS + "/alb-certs", "Issuer " + istioNS + "/albistio-client-ca"} {
		_, u := cm.find(target)
		if u == nil {
			t.Fatalf("the world has no %s", target)
		}
		u.Object["status"] = "not an object"
	}
	for _, c := range []readCase{{name: "malformed", world: w}, {name: "malformed cert-manager objects", world: cm}} {
		want := readWith(t, c, readSequential, nil)
		if want.err == nil || !strings.Contains(want.err.Error(), "malformed") {
			t.Fatalf("%s: the sequential read: %v", c.name, want.err)
		}
		for range 3 {
			if got := readWith(t, c, Read, nil); got.err == nil || got.err.Error() != want.err.Error() {
				t.Errorf("%s: error %v, the sequential read's %v", c.name, got.err, want.err)
			}
		}
		if got := readWith(t, c, Read, asRaw); got.err == nil || got.err.Error() != want.err.Error() {
			t.Errorf("%s, through a RawAPI: error %v, the sequential read's %v", c.name, got.err, want.err)
		}
	}
}

// gated is an API whose requests each wait until the test lets them
// through, so that the test sees every request in flight at once.
type gated struct {
	api     API
	mu      sync.Mutex
	waiting []chan struct{}
}

func (g *gated) enter() {
	ch := make(chan struct{})
	g.mu.Lock()
	g.waiting = append(g.waiting, ch)
	g.mu.Unlock()
	<-ch
}

// release lets every waiting request through and says how many there were.
func (g *gated) release() int {
	g.mu.Lock()
	batch := g.waiting
	g.waiting = nil
	g.mu.Unlock()
	for _, ch := range batch {
		close(ch)
	}
	return len(batch)
}

func (g *gated) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	g.enter()
	return g.api.Get(ctx, gvr, namespace, name)
}

func (g *gated) GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	g.enter()
	return g.api.GetServed(ctx, gvr, namespace, name)
}

func (g *gated) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	g.enter()
	return g.api.List(ctx, gvr, namespace, selector)
}

func (g *gated) APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error) {
	g.enter()
	return g.api.APIGroup(ctx, group)
}

// rounds reads w through a gated API with the given parallelism and
// returns how many requests were in flight in each round: synctest.Wait
// returns once every goroutine of the read is blocked, which is when every
// request that does not wait for another's answer has been issued.
func rounds(t *testing.T, w *world, parallelism int) (inFlight []int, requests int) {
	t.Helper()
	api := newFakeAPI(t, w)
	synctest.Test(t, func(t *testing.T) {
		g := &gated{api: api}
		p := *w.params
		errc := make(chan error, 1)
		go func() {
			_, err := read(context.Background(), g, &p, parallelism)
			errc <- err
		}()
		for {
			synctest.Wait()
			n := g.release()
			if n == 0 {
				break
			}
			inFlight = append(inFlight, n)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
	return inFlight, api.requests()
}

// TestReadInFlight: Read has more than one request in flight at once, never
// more than readParallelism, and reads a chain in a few round trips where
// the sequential read took one per request (11, or 13 for Traefik).
// Nothing is timed: a round is every request the read can issue before any
// answer comes. The longest wait is the Istio fallback's: Gateway at v1,
// discovery, Gateway at v1beta1, VirtualService, one after the other.
func TestReadInFlight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      worldOptions
		maxRounds int
	}{
		{"nginx", worldOptions{}, 3},
		{"traefik", worldOptions{Flavor: chain.FlavorTraefik}, 3},
		{"istio v1beta1", worldOptions{Istio: &[]string{"v1beta1"}}, 5},
		{"cert-manager", worldOptions{Identity: chain.IdentityCertManager}, 3},
	} {
		w := newWorld(t, tc.opts)
		t.Run(tc.name, func(t *testing.T) {
			inFlight, requests := rounds(t, w, readParallelism)
			most := slices.Max(inFlight)
			if most <= 1 || most > readParallelism {
				t.Errorf("at most %d requests in flight at once (rounds %v); want more than 1 and at most %d", most, inFlight, readParallelism)
			}
			if len(inFlight) > tc.maxRounds {
				t.Errorf("%d round trips for %d requests (in flight per round: %v); want at most %d", len(inFlight), requests, inFlight, tc.maxRounds)
			}
			// The bound is exact, and one slot is the sequential read's pace.
			for _, limit := range []int{1, 3} {
				inFlight, requests := rounds(t, w, limit)
				if most := slices.Max(inFlight); most != limit {
					t.Errorf("parallelism %d: at most %d requests in flight (rounds %v)", limit, most, inFlight)
				}
				if limit == 1 && len(inFlight) != requests {
					t.Errorf("parallelism 1: %d rounds for %d requests", len(inFlight), requests)
				}
			}
		})
	}
}

// protoAPI is rawAPI answering built-in objects in protobuf, encoded by
// Kubernetes' own serializer as the API server encodes them; objects that
// do not convert to their Go type (the malformed cases) stay JSON.
type protoAPI struct{ rawAPI }

func asProto(api *fakeAPI) API { return protoAPI{rawAPI{api}} }

var protoSerializer = protobuf.NewSerializer(clientscheme.Scheme, clientscheme.Scheme)

func builtinGroup(group string) bool {
	return group == "" || group == "apps" || group == "networking.k8s.io"
}

// toProto encodes u in protobuf; ok is false when it is not a built-in
// object or does not convert.
func toProto(u *unstructured.Unstructured) (runtime.Object, bool) {
	obj, err := clientscheme.Scheme.New(u.GroupVersionKind())
	if err != nil || runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj) != nil {
		return nil, false
	}
	return obj, true
}

func (p protoAPI) GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error) {
	if !builtinGroup(gvr.Group) {
		return p.rawAPI.GetServedRaw(ctx, gvr, namespace, name)
	}
	u, served, err := p.GetServed(ctx, gvr, namespace, name)
	if err != nil || u == nil {
		return nil, served, err
	}
	obj, ok := toProto(u)
	if !ok {
		data, err := u.MarshalJSON()
		return data, served, err
	}
	var buf bytes.Buffer
	err = protoSerializer.Encode(obj, &buf)
	return buf.Bytes(), served, err
}

// listKinds are the kinds of the built-in resources check lists.
var listKinds = map[string]string{"secrets": "Secret", "pods": "Pod", "ingressclasses": "IngressClass"}

func (p protoAPI) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]byte, error) {
	kind, known := listKinds[gvr.Resource]
	if !builtinGroup(gvr.Group) || !known {
		return p.rawAPI.ListRaw(ctx, gvr, namespace, selector)
	}
	items, err := p.List(ctx, gvr, namespace, selector)
	if err != nil {
		return nil, err
	}
	listGVK := gvr.GroupVersion().WithKind(kind + "List")
	list, err := clientscheme.Scheme.New(listGVK)
	if err != nil {
		return nil, err
	}
	var objs []runtime.Object
	for i := range items {
		obj, ok := toProto(&items[i])
		if !ok {
			return p.rawAPI.ListRaw(ctx, gvr, namespace, selector)
		}
		objs = append(objs, obj)
	}
	if err := meta.SetList(list, objs); err != nil {
		return nil, err
	}
	list.GetObjectKind().SetGroupVersionKind(listGVK)
	var buf bytes.Buffer
	err = protoSerializer.Encode(list, &buf)
	return buf.Bytes(), err
}

// semanticSnapshots compares two *Snapshots field by field: Kubernetes'
// objects by its semantic equality (an empty list or map equals none),
// the rest (Istio's messages, which it cannot walk) exactly.
func semanticSnapshots(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.IsNil() || vb.IsNil() {
		return va.IsNil() == vb.IsNil()
	}
	va, vb = va.Elem(), vb.Elem()
	for i := range va.NumField() {
		if !semanticField(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func semanticField(a, b any) (equal bool) {
	defer func() {
		if recover() != nil {
			equal = reflect.DeepEqual(a, b)
		}
	}()
	return equality.Semantic.DeepEqual(a, b)
}
