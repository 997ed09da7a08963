package check

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// compatWorld is an nginx-flavored world served by the compatibility
// layer of one ALB at Traefik tag.
func compatWorld(t *testing.T, tag string) *world {
	t.Helper()
	w := newWorld(t, worldOptions{FlavorFlag: "nginx"})
	add := func(obj map[string]any) { w.objects = append(w.objects, &unstructured.Unstructured{Object: obj}) }
	add(map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
		"metadata": map[string]any{"name": "public-iks-traefik"}, "spec": map[string]any{"controller": "traefik.io/ingress-controller"}})
	add(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": iksDeployConfig, "namespace": iksNamespace},
		"data":     map[string]any{"public-crx-alb1": `{"ingressProvider":"ingress-nginx"}`, "public-crx-alb2": `{"ingressProvider":"ingress-nginx"}`}})
	for _, id := range []string{"public-crx-alb1", "public-crx-alb2"} {
		add(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": id, "namespace": iksNamespace},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "traefik", "image": "icr.io/ext/traefik:" + tag}}}}}})
	}
	w.patch(t, testIngress, map[string]any{"spec": map[string]any{"ingressClassName": "public-iks-traefik"}})
	return w
}

// TestTraefikNginxBoundaries runs the whole check at each version boundary
// with the plugin's own annotations (proxy-ssl-verify "on"): only
// v3.6.2 and before turn it into no verification. It also holds the
// request count: the ConfigMap and one Deployment per compat ALB.
func TestTraefikNginxBoundaries(t *testing.T) {
	for tag, inverted := range map[string]bool{
		"3.6.2_1_iks": true, "3.6.3_1_iks": false, "3.6.10_1_iks": false, "3.6.11_1_iks": false, "3.7.11_1_iks": false,
	} {
		t.Run(tag, func(t *testing.T) {
			fs, api := compatWorld(t, tag).check(t)
			var got []Code
			for _, f := range fs {
				got = append(got, f.Code)
			}
			if slices.Contains(got, TraefikNginxVerifyInverted) != inverted {
				t.Errorf("findings %v: ALB0652 expected %v", got, inverted)
			}
			if n := countCode(got, TraefikNginxCompat); n != 2 {
				t.Errorf("findings %v: want ALB0650 once per ALB", got)
			}
			if slices.Contains(got, IngressClassWrong) {
				t.Errorf("findings %v: the Traefik class is right for the compatibility layer", got)
			}
			if n := api.requests(); n != Requests+3 {
				t.Errorf("%d requests, want %d (the ConfigMap and two Deployments)", n, Requests+3)
			}
		})
	}
}

func countCode(cs []Code, c Code) int {
	n := 0
	for _, x := range cs {
		if x == c {
			n++
		}
	}
	return n
}

// TestTraefikNginxForbidden: a Role without the ConfigMap or the
// Deployments does not fail the check; the unknown is a finding.
func TestTraefikNginxForbidden(t *testing.T) {
	for _, resource := range []string{"configmaps", "deployments"} {
		t.Run(resource, func(t *testing.T) {
			w := compatWorld(t, "3.7.2_1_iks")
			api := newFakeAPI(t, w)
			api.Fake.PrependReactor("get", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "x", nil)
			})
			p := *w.params
			snap, err := Read(context.Background(), api, &p)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			fs := checkTraefikNginx(&Input{Params: &p, Snapshot: snap, Now: w.now})
			var got []Code
			for _, f := range fs {
				got = append(got, f.Code)
			}
			if !slices.Contains(got, TraefikNginxVersionUnknown) {
				t.Errorf("findings %v: want ALB0656", got)
			}
		})
	}
}

// TestTraefikNginxFallbackIsError: the server name Traefik falls back to
// ("on") guarantees a 502, an error; the same fallback to the gateway's
// name works behind Traefik, a warning.
func TestTraefikNginxFallbackIsError(t *testing.T) {
	for fixture, want := range map[string]struct {
		code  Code
		level Level
	}{
		"traefik-nginx-server-name-fallback":         {TraefikNginxServerName, LevelError},
		"traefik-nginx-server-name-fallback-gateway": {TraefikNginxSNIDiffers, LevelWarning},
		"traefik-nginx-sni-off":                      {TraefikNginxSNIDiffers, LevelWarning},
	} {
		_, fs := gridInput(t, fixture)
		i := slices.IndexFunc(fs, func(f Finding) bool { return f.Code == want.code })
		if i < 0 || fs[i].Level != want.level {
			t.Errorf("%s: want %s at level %s, got %v", fixture, want.code, want.level, fs)
		}
	}
}
