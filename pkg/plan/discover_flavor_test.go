package plan

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// walkthroughOf is an unlabelled chain of one flavor in namespace ns, as
// built by hand: the gateway Service, a MUTUAL Gateway for "*" (so only
// the ALB's settings name the gateway domain), the VirtualService, the
// ALB secret, and an Ingress with class, annotations and backend Service.
func walkthroughOf(ns, class string, annotations map[string]string, backend string) []*unstructured.Unstructured {
	spec := map[string]any{
		"tls": []any{map[string]any{"hosts": []any{"app." + ns + ".example.com"}, "secretName": "c-0000"}},
		"rules": []any{map[string]any{"host": "app." + ns + ".example.com", "http": map[string]any{"paths": []any{map[string]any{
			"path": "/", "pathType": "Prefix", "backend": map[string]any{"service": map[string]any{"name": backend, "port": map[string]any{"number": int64(443)}}}}}}}},
	}
	if class != "" {
		spec["ingressClassName"] = class
	}
	return []*unstructured.Unstructured{
		gatewayService(ns),
		obj("networking.k8s.io/v1", "Ingress", ns, "alb-ingress", nil, annotations, map[string]any{"spec": spec}),
		obj("networking.istio.io/v1", "Gateway", ns, "default-ingress-gateway", nil, nil, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{map[string]any{"port": map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"}, "hosts": []any{"*"},
				"tls": map[string]any{"mode": "MUTUAL", "credentialName": "c-0001"}}},
		}}),
		obj("networking.istio.io/v1", "VirtualService", "app-"+ns, "default-ingress", nil, nil, map[string]any{"spec": map[string]any{
			"hosts": []any{"*"}, "gateways": []any{ns + "/default-ingress-gateway"},
			"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "httpbin.app-" + ns + ".svc.cluster.local"}}}}},
		}}),
		obj("v1", "Secret", ns, "c-0000", nil, nil, map[string]any{"type": "kubernetes.io/tls"}),
	}
}

// traefikByHand is a Traefik walkthrough's Service of its own in front of
// the gateway pods (same selector, another name) and its transport.
func traefikByHand(ns string, certificatesSecrets []any) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		obj("v1", "Service", ns, "gw-by-hand", nil, map[string]string{render.TraefikServiceTransport: ns + "-gw-by-hand-albistio@kubernetescrd"},
			map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "istio-ingressgateway", "istio": "ingressgateway"},
				"ports": []any{map[string]any{"name": "https", "port": int64(443)}}}}),
		obj(render.TraefikGroupVersion, "ServersTransport", ns, "gw-by-hand-albistio", nil, nil, map[string]any{"spec": map[string]any{
			"serverName":          "traefik-gw.example.com",
			"certificatesSecrets": certificatesSecrets,
			"rootCAs":             "malformed: not a list",
		}}),
	}
}

func foundIn(t *testing.T, found []Found, ingress string) Found {
	t.Helper()
	i := slices.IndexFunc(found, func(f Found) bool { return f.Ingress == ingress })
	if i < 0 {
		t.Fatalf("no chain of Ingress %s found among %d", ingress, len(found))
	}
	return found[i]
}

// TestDiscoverEachFlavorsALBSide: an unlabelled chain of each flavor is
// found by its flavor's settings, and its client secret, gateway Service
// and gateway domain are read from them (nginx's annotations, classic's
// ssl-services entry, Traefik's transport on a Service of its own that
// selects the gateway's pods), with the notes saying where the chain
// differs from the plugin's; Ingresses whose settings do not send them to
// a gateway are not chains.
func TestDiscoverEachFlavorsALBSide(t *testing.T) {
	objs := ingressClasses()
	objs = append(objs, walkthroughOf("nginx-gw", "public-iks-k8s-nginx", map[string]string{
		render.NginxProxySSLSecret: "elsewhere/nginx-client", render.NginxProxySSLName: "nginx-gw.example.com",
	}, "istio-ingressgateway")...)
	objs = append(objs, walkthroughOf("classic-gw", "", map[string]string{
		render.ClassicSSLServices: "ssl-service=istio-ingressgateway ssl-secret=classic-client proxy-ssl-name=classic-gw.example.com",
	}, "istio-ingressgateway")...)
	objs = append(objs, walkthroughOf("traefik-gw", "public-iks-traefik", map[string]string{render.TraefikRouterTLS: "true"}, "gw-by-hand")...)
	objs = append(objs, traefikByHand("traefik-gw", []any{"traefik-client"})...)
	// Not chains: an entry for another Service, and a Traefik Ingress to a
	// Service without a transport.
	notChains := append(walkthroughOf("classic-other", "", map[string]string{
		render.ClassicSSLServices: "ssl-service=grafana ssl-secret=x",
	}, "istio-ingressgateway"), walkthroughOf("traefik-plain", "public-iks-traefik", nil, "istio-ingressgateway")...)
	objs = append(objs, notChains...)
	api := newCluster(t, []string{"v1"}, objs...)
	found, err := Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		for _, f := range found {
			t.Logf("found %s: problem %q notes %q", f.Ingress, f.Problem, f.Notes)
		}
		t.Fatalf("want the three flavors' chains, found %d", len(found))
	}
	for _, tc := range []struct {
		ns                string
		flavor            chain.Flavor
		clientSecret, sni string
		note              string
	}{
		{ns: "nginx-gw", flavor: chain.FlavorNginx, clientSecret: "nginx-client", sni: "nginx-gw.example.com",
			note: `proxy-ssl-secret names "elsewhere/nginx-client", outside the Ingress's namespace; check reads the client secret "nginx-client" in nginx-gw`},
		{ns: "classic-gw", flavor: chain.FlavorClassic, clientSecret: "classic-client", sni: "classic-gw.example.com"},
		{ns: "traefik-gw", flavor: chain.FlavorTraefik, clientSecret: "traefik-client", sni: "traefik-gw.example.com",
			note: `the Ingress routes to Service "gw-by-hand"; check reads Traefik's transport from the plugin's Service "gw-by-hand-albistio"`},
	} {
		f := foundIn(t, found, tc.ns+"/alb-ingress")
		p := f.Params
		if f.Shape != ShapeWalkthrough || f.Problem != "" || p.Flavor != tc.flavor {
			t.Errorf("%s: shape %s, problem %q, flavor %s; want walkthrough, none, %s", tc.ns, f.Shape, f.Problem, p.Flavor, tc.flavor)
		}
		if p.ClientSecret != tc.clientSecret || p.GatewayDomain != tc.sni || p.GatewayService != "istio-ingressgateway" {
			t.Errorf("%s: client secret %q, gateway domain %q, gateway Service %q; want %q, %q, istio-ingressgateway",
				tc.ns, p.ClientSecret, p.GatewayDomain, p.GatewayService, tc.clientSecret, tc.sni)
		}
		if tc.note != "" && !slices.Contains(f.Notes, tc.note) {
			t.Errorf("%s: notes %q, want %q", tc.ns, f.Notes, tc.note)
		}
	}

	// A malformed certificatesSecrets names no client secret (the default
	// stays); the transport's other fields are still read.
	objs = append(ingressClasses(), walkthroughOf("traefik-gw", "public-iks-traefik", map[string]string{render.TraefikRouterTLS: "true"}, "gw-by-hand")...)
	objs = append(objs, traefikByHand("traefik-gw", []any{"traefik-client", int64(7)})...)
	found, err = Discover(context.Background(), newCluster(t, []string{"v1"}, objs...), defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if f := foundIn(t, found, "traefik-gw/alb-ingress"); f.Params.ClientSecret != defaults(t).ClientSecret || f.Params.GatewayDomain != "traefik-gw.example.com" {
		t.Errorf("malformed certificatesSecrets: client secret %q, gateway domain %q; want the default %q and the serverName",
			f.Params.ClientSecret, f.Params.GatewayDomain, defaults(t).ClientSecret)
	}

	// Reading the transport fails: the chain carries the error and what
	// was read before it.
	api = newCluster(t, []string{"v1"}, objs...)
	boom := errors.New("boom")
	api.fake.PrependReactor("get", kube.ServersTransport.Resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, boom
	})
	found, err = Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	f := foundIn(t, found, "traefik-gw/alb-ingress")
	if f.Err == nil || !strings.Contains(f.Problem, "boom") || f.Params.GatewayService != "gw-by-hand" ||
		!slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "plugin's Service") }) {
		t.Errorf("a failed transport read: err %v, problem %q, gateway Service %q, notes %q", f.Err, f.Problem, f.Params.GatewayService, f.Notes)
	}
}

// TestDiscoverUndetectedFlavor: a plugin's Ingress whose class and
// annotations name no flavor is read as the default flavor's, ingress-
// nginx's (its backend is the gateway Service, no Traefik transport is
// looked for), with a note.
func TestDiscoverUndetectedFlavor(t *testing.T) {
	p := chainParams(t, "istio-system", "httptools", "httpbin", chain.FlavorNginx, func(f *chain.Flags) {
		f.GatewayService = "custom-gateway" // not the default, which discovery starts from
	})
	objs := ingressClasses()
	for _, u := range hopObjects(t, "v1", p) {
		if u.GetKind() == "Ingress" {
			u.SetAnnotations(nil)
			unstructured.RemoveNestedField(u.Object, "spec", "ingressClassName")
		}
		objs = append(objs, u)
	}
	found, err := Discover(context.Background(), newCluster(t, []string{"v1"}, objs...), defaults(t))
	if err != nil || len(found) != 1 {
		t.Fatalf("found %+v, %v; want the chain", found, err)
	}
	f := found[0]
	if f.Problem != "" || f.Params.Flavor != chain.FlavorAuto || f.Params.GatewayService != p.GatewayService ||
		!slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "--alb-flavor") }) ||
		slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "Traefik") }) {
		t.Errorf("problem %q, flavor %s, gateway Service %q, notes %q; want none, auto, %s and a note", f.Problem, f.Params.Flavor, f.Params.GatewayService, f.Notes, p.GatewayService)
	}
}
