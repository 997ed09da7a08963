package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// TestRawReads: GetServedRaw and ListRaw make the dynamic client's requests
// (same paths, the label selector as its query) and hand over the server's
// answer unchanged, asking for protobuf for built-in resources only; a
// missing object (its Status in protobuf, as the server sends it) is (nil, served), a resource the server
// does not serve (nil, not served), a denial the plugin's forbidden error.
// What a run remembered (RememberReads) Recall answers raw without asking.
func TestRawReads(t *testing.T) {
	const secret = `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","namespace":"ns"},"data":{"tls.crt":"Y2VydA=="}}`
	const list = `{"kind":"SecretList","apiVersion":"v1","items":[{"metadata":{"name":"s","namespace":"ns"}}]}`
	var hits atomic.Int32
	var selector atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/namespaces/ns/secrets/s":
			_, _ = w.Write([]byte(secret))
		case "/api/v1/namespaces/ns/secrets":
			selector.Store(r.URL.Query().Get("labelSelector"))
			_, _ = w.Write([]byte(list))
		case "/api/v1/namespaces/ns/secrets/absent":
			// As the API server does for a client that accepts
			// protobuf: the Status in protobuf.
			if !strings.Contains(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
				t.Errorf("a raw read of a built-in resource accepts %q, want protobuf first", r.Header.Get("Accept"))
			}
			w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
			w.WriteHeader(http.StatusNotFound)
			st := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "absent").Status()
			st.APIVersion, st.Kind = "v1", "Status"
			if err := statusProtobuf().Encode(&st, w); err != nil {
				t.Error(err)
			}
		case "/api/v1/namespaces/ns/secrets/denied":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"secrets \"denied\" is forbidden"}`))
		default:
			if strings.Contains(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
				t.Errorf("a raw read of %s (a custom resource) accepts %q, want JSON only", r.URL.Path, r.Header.Get("Accept"))
			}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("404 page not found\n"))
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClients(flagsFor(t, srv, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data, served, err := c.GetServedRaw(ctx, Secrets, "ns", "s")
	if err != nil || !served || string(data) != secret {
		t.Errorf("an object: %s, %v, %v; want the server's JSON", data, served, err)
	}
	if data, served, err := c.GetServedRaw(ctx, Secrets, "ns", "absent"); data != nil || !served || err != nil {
		t.Errorf("a missing object: %s, %v, %v; want nil, served", data, served, err)
	}
	gateways := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	if data, served, err := c.GetServedRaw(ctx, gateways, "ns", "g"); data != nil || served || err != nil {
		t.Errorf("a resource not served: %s, %v, %v; want nil, not served", data, served, err)
	}
	var ke *Error
	if _, _, err := c.GetServedRaw(ctx, Secrets, "ns", "denied"); !errors.As(err, &ke) || ke.Code != ExitForbidden || !strings.Contains(err.Error(), "cannot get secrets denied") {
		t.Errorf("a denial: %v, want the forbidden error", err)
	}
	data, err = c.ListRaw(ctx, Secrets, "ns", "a=b")
	if err != nil || string(data) != list || selector.Load() != "a=b" {
		t.Errorf("a LIST: %s, %v (selector %v); want the server's JSON for labelSelector=a=b", data, err, selector.Load())
	}

	// Recall answers raw from what the run remembered.
	c.RememberReads()
	if _, err := c.Get(ctx, Secrets, "ns", "s"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, Secrets, "ns", "a=b"); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	r := c.Recall()
	if data, served, err := r.GetServedRaw(ctx, Secrets, "ns", "s"); err != nil || !served || !strings.Contains(string(data), `"tls.crt":"Y2VydA=="`) {
		t.Errorf("Recall's raw GET: %s, %v, %v", data, served, err)
	}
	if data, err := r.ListRaw(ctx, Secrets, "ns", "a=b"); err != nil || !strings.Contains(string(data), `"name":"s"`) {
		t.Errorf("Recall's raw LIST: %s, %v", data, err)
	}
	if n := hits.Load() - before; n != 0 {
		t.Errorf("Recall's raw reads of remembered objects made %d requests, want 0", n)
	}
	if _, _, err := r.GetServedRaw(ctx, Secrets, "ns", "absent"); err != nil || hits.Load()-before != 1 {
		t.Errorf("Recall's raw read of an object not remembered should ask the server: %v, %d requests", err, hits.Load()-before)
	}
}

// statusProtobuf encodes a Status as the API server does in protobuf.
func statusProtobuf() runtime.Encoder {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	return protobuf.NewSerializer(scheme, scheme)
}
