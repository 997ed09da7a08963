package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// clutter is a cluster's worth of objects that have nothing to do with the
// chain: secrets, services, pods (some in the Istio namespace) and Ingresses.
func clutter(n int) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for i := range n {
		ns := fmt.Sprintf("team-%d", i%7)
		if i%3 == 0 {
			ns = istioNS
		}
		objs = append(objs,
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": fmt.Sprintf("s-%d", i), "namespace": ns}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
				"metadata": map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": ns}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": fmt.Sprintf("pod-%d", i), "namespace": ns, "labels": map[string]any{"app": "other"}}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
				"metadata": map[string]any{"name": fmt.Sprintf("ing-%d", i), "namespace": ns}}},
		)
	}
	return objs
}

// TestReadRequests counts the API requests a check makes: a fixed number
// per flavor and identity, at most MaxRequests, the same however many other
// objects the cluster holds; only get and list, lists only with a label
// selector (IngressClasses, cluster-scoped and few, excepted), and secrets
// listed only in the Istio namespace by the plugin's own label.
func TestReadRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts worldOptions
		want int
	}{
		{"nginx private-ca", worldOptions{}, Requests},
		{"nginx alb-cert", worldOptions{ALBClientAuth: true}, Requests},
		{"traefik private-ca", worldOptions{Flavor: chain.FlavorTraefik}, MaxRequests},
		{"traefik alb-cert", worldOptions{Flavor: chain.FlavorTraefik, ALBClientAuth: true}, MaxRequests},
		{"classic private-ca", worldOptions{Flavor: chain.FlavorClassic}, Requests},
		// cert-manager adds its two Issuers, three Certificates and the
		// credential's -cacert (absent), and reads neither
		// <gateway-secret>-cacert nor anything else; its secrets come
		// with the LIST.
		{"nginx cert-manager", worldOptions{Identity: chain.IdentityCertManager}, Requests + CertManagerRequests},
		{"traefik cert-manager", worldOptions{Flavor: chain.FlavorTraefik, Identity: chain.IdentityCertManager}, MaxRequests + CertManagerRequests},
		// A copy IKS keeps is not the plugin's, so not in the LIST: one GET.
		{"nginx private-ca, IKS's copy", worldOptions{IKSCopy: true}, Requests + 1},
		{"nginx cert-manager, IKS's copy", worldOptions{Identity: chain.IdentityCertManager, IKSCopy: true}, Requests + CertManagerRequests + 1},
		{"cert-manager not served", worldOptions{Identity: chain.IdentityCertManager, NoCertManager: true}, Requests + CertManagerRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.opts)
			for _, extra := range []int{0, 300} {
				api := newFakeAPI(t, w, clutter(extra)...)
				p := *w.params
				if _, err := Read(context.Background(), api, &p); err != nil {
					t.Fatal(err)
				}
				if got := api.requests(); got != tc.want {
					t.Errorf("with %d unrelated objects: %d requests, want %d", extra*4, got, tc.want)
				}
				for _, a := range api.Fake.Actions() {
					verb, res := a.GetVerb(), a.GetResource()
					switch {
					case verb != "get" && verb != "list":
						t.Errorf("%s %s: check must only read", verb, res)
					case verb == "list" && res == kube.Secrets:
						la := a.(k8stesting.ListAction)
						if sel := la.GetListRestrictions().Labels.String(); sel != chain.LabelManagedBy+"="+chain.FieldManager || a.GetNamespace() != istioNS {
							t.Errorf("check listed secrets in %q selected by %q; only the plugin's own, in the Istio namespace", a.GetNamespace(), sel)
						}
					case verb == "list" && res != kube.IngressClasses:
						la := a.(k8stesting.ListAction)
						if la.GetListRestrictions().Labels.Empty() || a.GetNamespace() == "" {
							t.Errorf("list %s without a label selector or namespace", res)
						}
					}
				}
			}
		})
	}
}

// TestReadForbidden: an RBAC denial stops the check with the plugin's
// forbidden exit code and a sentence naming what could not be read.
func TestReadForbidden(t *testing.T) {
	w := newWorld(t, worldOptions{})
	api := newFakeAPI(t, w)
	api.Fake.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "alb", errors.New("RBAC: no"))
	})
	p := *w.params
	_, err := Read(context.Background(), api, &p)
	var ke *kube.Error
	if !errors.As(err, &ke) || ke.Code != kube.ExitForbidden {
		t.Fatalf("got %v, want a forbidden error with exit code %d", err, kube.ExitForbidden)
	}
}

// TestReadResolvesFlavor: auto becomes the flavor of the cluster's ALB
// classes, and its class; an ambiguous cluster leaves a reason instead.
func TestReadResolvesFlavor(t *testing.T) {
	w := newWorld(t, worldOptions{Flavor: chain.FlavorTraefik})
	p := *w.params
	snap, err := Read(context.Background(), newFakeAPI(t, w), &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Flavor != chain.FlavorTraefik || p.IngressClass != "public-iks-traefik" || snap.FlavorError != "" {
		t.Fatalf("flavor %s, class %s, error %q; want traefik, public-iks-traefik", p.Flavor, p.IngressClass, snap.FlavorError)
	}
	if snap.ServersTransport == nil || snap.ServersTransport.Spec.ServerName != gwDomain || snap.BackendService == nil {
		t.Fatalf("the Traefik objects were not read: %+v", snap.ServersTransport)
	}
}

// TestReadIstioFallback: a cluster without Istio's v1 costs one discovery
// request and the objects are read at v1beta1; a cluster without Istio at
// all costs the same and leaves them unread. A current cluster costs no
// discovery request at all.
func TestReadIstioFallback(t *testing.T) {
	for _, tc := range []struct {
		name        string
		served      []string
		wantVersion string
		discovery   int
	}{
		{"v1 served", []string{"v1", "v1beta1"}, "v1", 0},
		{"v1beta1 only", []string{"v1beta1", "v1alpha3"}, "v1beta1", 1},
		{"not installed", []string{}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{Istio: &tc.served})
			api := newFakeAPI(t, w)
			p := *w.params
			s, err := Read(context.Background(), api, &p)
			if err != nil {
				t.Fatal(err)
			}
			if s.IstioVersion != tc.wantVersion || api.discovery != tc.discovery {
				t.Fatalf("read Istio at %q with %d discovery requests; want %q with %d", s.IstioVersion, api.discovery, tc.wantVersion, tc.discovery)
			}
			if found := s.Gateway != nil && s.VirtualService != nil; found != (tc.wantVersion != "") {
				t.Errorf("Gateway read: %v, VirtualService read: %v", s.Gateway != nil, s.VirtualService != nil)
			}
			if tc.wantVersion == "" && s.IstioServed != nil {
				t.Errorf("Istio served %v, want nil (not installed)", s.IstioServed)
			}
		})
	}

	// A discovery cache from before a downgrade still lists v1: the
	// server's "not served" wins, and the objects are read at v1beta1.
	w := newWorld(t, worldOptions{Istio: &[]string{"v1beta1"}})
	api := newFakeAPI(t, w)
	api.discovered = []string{"v1", "v1beta1"}
	p := *w.params
	s, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatal(err)
	}
	if s.IstioVersion != "v1beta1" || s.Gateway == nil || slices.Contains(s.IstioServed, "v1") {
		t.Errorf("stale cache: read at %q (Gateway read: %v), served %v; want v1beta1 without v1", s.IstioVersion, s.Gateway != nil, s.IstioServed)
	}
}

// TestReadSecretsByNameWhenListForbidden: a Role that allows get but not
// list on secrets (resourceNames) still gets a full check, reading each
// secret by name after the denied LIST; any other LIST error stops it.
func TestReadSecretsByNameWhenListForbidden(t *testing.T) {
	w := newWorld(t, worldOptions{})
	want := snapshotSecrets(t, w, nil)

	api := newFakeAPI(t, w)
	api.Fake.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("RBAC: list not allowed"))
	})
	got := snapshotSecrets(t, w, api)
	if got != want {
		t.Fatalf("secrets read by name differ from the listed ones:\n got %s\nwant %s", got, want)
	}
	// Requests: the denied LIST, then one GET for each of the 4 secrets it would have brought.
	if n := api.requests(); n != Requests+4 {
		t.Errorf("%d requests, want %d", n, Requests+4)
	}

	api = newFakeAPI(t, w)
	api.Fake.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
	})
	p := *w.params
	if _, err := Read(context.Background(), api, &p); err == nil || !strings.Contains(err.Error(), "etcd is sad") {
		t.Fatalf("a failed LIST must stop the check, got %v", err)
	}
}

// TestReadUnlabelledSecret: a secret the plugin expects but that lacks its
// label (the walkthrough's kubectl create secret generic alb-certs) is not
// in the LIST, is read by name, and reaches the rules as it is.
func TestReadUnlabelledSecret(t *testing.T) {
	w := newWorld(t, worldOptions{})
	var client *unstructured.Unstructured
	for _, u := range w.objects {
		if u.GetKind() == "Secret" && u.GetName() == w.params.ClientSecret {
			client = u
		}
	}
	if client == nil {
		t.Fatal("the world has no client secret")
	}
	client.SetLabels(nil)
	api := newFakeAPI(t, w)
	p := *w.params
	s, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientSecret == nil || s.ClientSecret.Name != w.params.ClientSecret {
		t.Fatalf("the unlabelled client secret was not read")
	}
	if n := api.requests(); n != Requests+1 {
		t.Errorf("%d requests, want %d (one more GET for the unlabelled secret)", n, Requests+1)
	}
}

// snapshotSecrets reads w (through api, or a fresh fake when nil) and
// describes the secrets of the snapshot by name and resourceVersion.
func snapshotSecrets(t *testing.T, w *world, api *fakeAPI) string {
	t.Helper()
	if api == nil {
		api = newFakeAPI(t, w)
	}
	p := *w.params
	s, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sec := range []*corev1.Secret{s.ALBSecret, s.GatewaySecret, s.ClientSecret, s.CACert, s.CASecret, s.IngressTLSSecret} {
		if sec == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, fmt.Sprintf("%s/%s:%d", sec.Namespace, sec.Name, len(sec.Data)))
	}
	return strings.Join(out, " ")
}
