package plan

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// cluster is a fake API server for Discover: a dynamic fake client holding
// the objects, behind kube.Clients' real Get and List, and the discovery
// answer for Istio's group.
type cluster struct {
	*kube.Clients
	fake      *dynamicfake.FakeDynamicClient
	served    []string // Istio versions served
	discovery int
}

func (c *cluster) APIGroup(_ context.Context, group string) (*metav1.APIGroup, error) {
	c.discovery++
	if group != render.IstioGroup || c.served == nil {
		return nil, nil
	}
	g := &metav1.APIGroup{Name: group}
	for _, v := range c.served {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
	}
	return g, nil
}

func gvrOf(u *unstructured.Unstructured) schema.GroupVersionResource {
	gvk := u.GroupVersionKind()
	switch gvk.Kind {
	case "IngressClass":
		return kube.IngressClasses
	case "Pod":
		return kube.Pods
	}
	gvr, err := kube.ResourceFor(gvk)
	if err != nil {
		panic(err)
	}
	return gvr
}

func newCluster(t *testing.T, served []string, objs ...*unstructured.Unstructured) *cluster {
	t.Helper()
	listKinds := map[schema.GroupVersionResource]string{
		kube.IngressClasses: "IngressClassList", kube.Ingresses: "IngressList", kube.Services: "ServiceList",
		kube.Secrets: "SecretList", kube.Pods: "PodList", kube.ServersTransport: "ServersTransportList",
		kube.GatewayAPIGateways: "GatewayList", kube.HTTPRoutes: "HTTPRouteList",
	}
	for _, v := range render.IstioVersions {
		listKinds[kube.IstioResource(v, "gateways")] = "GatewayList"
		listKinds[kube.IstioResource(v, "virtualservices")] = "VirtualServiceList"
	}
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	for _, u := range objs {
		if err := fake.Tracker().Create(gvrOf(u), u.DeepCopy(), u.GetNamespace()); err != nil {
			t.Fatalf("adding %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	// Istio versions the cluster does not serve answer as the API server's
	// mux does: a plain-text 404.
	for _, res := range []string{"gateways", "virtualservices"} {
		fake.PrependReactor("*", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if gvr := a.GetResource(); gvr.Group == render.IstioGroup && !slices.Contains(served, gvr.Version) {
				return true, nil, apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", gvr.GroupResource(), "", "404 page not found", 0, true)
			}
			return false, nil, nil
		})
	}
	return &cluster{Clients: &kube.Clients{Dynamic: fake, Host: "https://fake"}, fake: fake, served: served}
}

// requests lists every request as "verb resource namespace selector".
func (c *cluster) requests() []string {
	var out []string
	for _, a := range c.fake.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource + " ns=" + a.GetNamespace()
		if l, ok := a.(k8stesting.ListAction); ok {
			s += " labels=" + l.GetListRestrictions().Labels.String()
		}
		out = append(out, s)
	}
	return out
}

// chainParams resolves one chain's parameters as its setup would.
func chainParams(t *testing.T, istioNS, appNS, service string, flavor chain.Flavor, edit func(*chain.Flags)) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.IstioNamespace = istioNS
	f.ALBDomain = "c-0000.jp-tok.containers.appdomain.cloud"
	f.ALBSecret = "c-0000"
	f.GatewayDomain = "c-0001.jp-tok.containers.appdomain.cloud"
	f.GatewaySecret = "c-0001"
	f.Service = service
	f.Flavor = string(flavor)
	if edit != nil {
		edit(f)
	}
	p, err := f.Resolve(appNS, func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func obj(apiVersion, kind, ns, name string, labels, annotations map[string]string, rest map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range rest {
		u.Object[k] = v
	}
	u.SetNamespace(ns)
	u.SetName(name)
	if labels != nil {
		u.SetLabels(labels)
	}
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	return u
}

func ingressClasses() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		obj("networking.k8s.io/v1", "IngressClass", "", "public-iks-k8s-nginx", nil, nil, map[string]any{"spec": map[string]any{"controller": kube.NginxController}}),
		obj("networking.k8s.io/v1", "IngressClass", "", "public-iks-traefik", nil, nil, map[string]any{"spec": map[string]any{"controller": kube.TraefikController}}),
	}
}

// gatewayService is Istio's ingress gateway Service in ns.
func gatewayService(ns string) *unstructured.Unstructured {
	sel := map[string]any{"app": "istio-ingressgateway", "istio": "ingressgateway"}
	u := obj("v1", "Service", ns, "istio-ingressgateway", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}, nil,
		map[string]any{"spec": map[string]any{"selector": sel, "ports": []any{map[string]any{"name": "https", "port": int64(443)}}}})
	return u
}

// hopObjects are what setup writes for chains sharing one hop (all of one
// flavor and Istio namespace), plus the gateway Service and, when the ALB
// secret lives elsewhere, the plugin's copy of it.
func hopObjects(t *testing.T, istioVersion string, chains ...*chain.Params) []*unstructured.Unstructured {
	t.Helper()
	registry := map[string]string{}
	for _, p := range chains {
		registry[p.ChainKey()] = p.Host
	}
	p0 := chains[0]
	out := []*unstructured.Unstructured{render.Gateway(p0, istioVersion, registry), gatewayService(p0.IstioNamespace)}
	if p0.ALBSecretNamespace != p0.IstioNamespace {
		out = append(out, obj("v1", "Secret", p0.IstioNamespace, p0.ALBSecret, p0.HopLabels(),
			map[string]string{chain.AnnotationSource: p0.ALBSecretNamespace + "/" + p0.ALBSecret}, map[string]any{"type": "kubernetes.io/tls"}))
	} else {
		out = append(out, obj("v1", "Secret", p0.IstioNamespace, p0.ALBSecret, nil, nil, map[string]any{"type": "kubernetes.io/tls"}))
	}
	seenTraefik := false
	for _, p := range chains {
		objs, err := render.Ingress(p, render.DefaultBackend(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if u.GetKind() != "Ingress" && seenTraefik {
				continue // the hop's Traefik objects, once
			}
			out = append(out, u)
		}
		seenTraefik = p.Flavor == chain.FlavorTraefik
		out = append(out, render.VirtualService(p, istioVersion))
	}
	return out
}

func defaults(t *testing.T) *chain.Params {
	t.Helper()
	p, err := chain.NewFlags().Resolve("default", func(string) string { return "" }, chain.Requirement{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// compared are the parameters check reads objects by; Discover must
// reconstruct each one as setup had it.
func compared(p *chain.Params) map[string]any {
	return map[string]any{
		"Name": p.Name, "AppNamespace": p.AppNamespace, "Service": p.Service, "Port": p.Port, "Paths": p.Paths, "Host": p.Host,
		"IstioNamespace": p.IstioNamespace, "ALBSecret": p.ALBSecret, "ALBSecretNamespace": p.ALBSecretNamespace,
		"GatewayDomain": p.GatewayDomain, "GatewaySecret": p.GatewaySecret, "GatewayName": p.GatewayName,
		"GatewayService": p.GatewayService, "GatewayServicePort": p.GatewayServicePort, "GatewaySelector": p.SelectorString(),
		"Flavor": p.Flavor, "IngressClass": flavor.IngressClassName(p), "ClientSecret": p.ClientSecret,
		"VirtualServiceName": p.VirtualServiceName, "IngressName": p.IngressName,
	}
}

func expectChain(t *testing.T, found []Found, shape Shape, want *chain.Params) {
	t.Helper()
	for _, f := range found {
		if f.Key() != want.ChainKey() {
			continue
		}
		if f.Shape != shape || f.Problem != "" {
			t.Errorf("%s: shape %s, problem %q; want %s and none (notes %q)", f.Key(), f.Shape, f.Problem, shape, f.Notes)
		}
		got, exp := compared(f.Params), compared(want)
		for k := range exp {
			if !reflect.DeepEqual(got[k], exp[k]) {
				t.Errorf("%s: %s = %v, want %v", f.Key(), k, got[k], exp[k])
			}
		}
		return
	}
	var keys []string
	for _, f := range found {
		keys = append(keys, f.Key())
	}
	t.Errorf("chain %s not found; found %v", want.ChainKey(), keys)
}

// TestDiscoverPluginChains: every chain setup made is found and its
// parameters reconstructed as setup had them: two chains on one nginx hop,
// a Traefik hop with its own names, a classic hop whose ALB secret lives
// in the Istio namespace; look-alikes are not chains. Every LIST across
// namespaces is label-selected.
func TestDiscoverPluginChains(t *testing.T) {
	a := chainParams(t, "istio-system", "httptools", "httpbin", chain.FlavorNginx, nil)
	b := chainParams(t, "istio-system", "shop", "storefront", chain.FlavorNginx, func(f *chain.Flags) {
		f.Port = 9080
		f.Paths = []string{"/cart", "/pay"}
		f.Host = "shop.example.com"
	})
	c := chainParams(t, "mesh-gw", "blog", "blog", chain.FlavorTraefik, func(f *chain.Flags) {
		f.Name = "blog-main"
		f.ClientSecret = "blog-client"
		f.IngressName = "blog-ingress"
		f.VirtualServiceName = "blog-routes"
		f.GatewaySecret = "c-0002"
		f.GatewayDomain = "c-0002.jp-tok.containers.appdomain.cloud"
	})
	d := chainParams(t, "classic-gw", "legacy", "legacy", chain.FlavorClassic, func(f *chain.Flags) {
		f.ALBSecretNamespace = "classic-gw"
		f.GatewaySecret = "c-0003"
		f.GatewayDomain = "c-0003.jp-tok.containers.appdomain.cloud"
	})
	objs := ingressClasses()
	objs = append(objs, hopObjects(t, "v1", a, b)...)
	objs = append(objs, hopObjects(t, "v1", c)...)
	objs = append(objs, hopObjects(t, "v1", d)...)
	// Look-alikes: the load's half-labelled objects, and unlabelled
	// Ingresses that do not reach a gateway.
	objs = append(objs,
		obj("networking.k8s.io/v1", "Ingress", "load-00", "alb-ingress-00010", map[string]string{chain.LabelManagedBy: chain.FieldManager, chain.LabelChain: "httpbin"}, nil, nil),
		obj("networking.k8s.io/v1", "Ingress", "istio-system", "grafana", nil, map[string]string{render.NginxBackendProtocol: "HTTPS"}, map[string]any{"spec": map[string]any{
			"rules": []any{map[string]any{"host": "grafana.example.com", "http": map[string]any{"paths": []any{map[string]any{
				"path": "/", "pathType": "Prefix", "backend": map[string]any{"service": map[string]any{"name": "grafana", "port": map[string]any{"number": int64(3000)}}}}}}}}}}),
	)
	api := newCluster(t, []string{"v1"}, objs...)
	found, err := Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 4 {
		for _, f := range found {
			t.Logf("found %s (%s, %s): problem %q notes %q", f.Key(), f.Shape, f.Ingress, f.Problem, f.Notes)
		}
		t.Fatalf("want 4 chains, found %d", len(found))
	}
	for _, p := range []*chain.Params{a, b, c, d} {
		expectChain(t, found, ShapePlugin, p)
	}
	if api.discovery != 0 {
		t.Errorf("Istio's v1 is served: discovery should not be asked, was %d times", api.discovery)
	}
	for _, r := range api.requests() {
		if strings.HasPrefix(r, "list") && strings.Contains(r, " ns= ") && !strings.HasPrefix(r, "list ingressclasses") && strings.HasSuffix(r, "labels=") {
			t.Errorf("a LIST across all namespaces without a label selector: %s", r)
		}
		if strings.Contains(r, "ns=load-") {
			t.Errorf("a request in a namespace with no chain: %s", r)
		}
	}
	t.Logf("requests:\n%s", strings.Join(api.requests(), "\n"))
}

// TestDiscoverRequestsGrowWithChains: discovery's requests depend on the
// hops and gateways, not on how many chains share a hop nor on objects
// elsewhere.
func TestDiscoverRequestsGrowWithChains(t *testing.T) {
	count := func(chains, noise int) int {
		var ps []*chain.Params
		for i := range chains {
			ps = append(ps, chainParams(t, "istio-system", fmt.Sprintf("app-%d", i), "httpbin", chain.FlavorNginx, nil))
		}
		objs := append(ingressClasses(), hopObjects(t, "v1", ps...)...)
		for i := range noise {
			objs = append(objs, obj("networking.k8s.io/v1", "Ingress", fmt.Sprintf("load-%d", i%7), fmt.Sprintf("ing-%d", i), map[string]string{"app": "x"}, nil, nil))
		}
		api := newCluster(t, []string{"v1"}, objs...)
		found, err := Discover(context.Background(), api, defaults(t))
		if err != nil || len(found) != chains {
			t.Fatalf("%d chains: found %d, %v", chains, len(found), err)
		}
		return len(api.requests()) + api.discovery
	}
	one, many, loaded := count(1, 0), count(12, 0), count(12, 300)
	if one != many || many != loaded {
		t.Errorf("discovery made %d requests for 1 chain, %d for 12 on the same hop, %d with 300 other Ingresses; want the same", one, many, loaded)
	}
}

// TestDiscoverWalkthroughChain: an unlabelled chain as the walkthrough
// builds it (Ingress alb-ingress in istio-system with nginx's re-encryption
// annotations, Gateway default-ingress-gateway for "*", VirtualService
// default-ingress in the app's namespace) is found, its app read from the
// VirtualService; its Gateways and VirtualServices are listed only because
// it exists.
func TestDiscoverWalkthroughChain(t *testing.T) {
	want := chainParams(t, "istio-system", "httptools", "httpbin", chain.FlavorNginx, func(f *chain.Flags) {
		f.IngressName = "alb-ingress"
		f.VirtualServiceName = "default-ingress"
		f.GatewayName = "default-ingress-gateway"
		f.ALBSecretNamespace = "istio-system" // copied by hand: no source annotation
	})
	ing := obj("networking.k8s.io/v1", "Ingress", "istio-system", "alb-ingress", nil, map[string]string{
		render.NginxBackendProtocol: "HTTPS", render.NginxProxySSLSecret: "istio-system/alb-certs", render.NginxProxySSLVerify: "on",
		render.NginxProxySSLName: want.GatewayDomain, render.NginxProxySSLServerName: "on",
	}, map[string]any{"spec": map[string]any{
		"ingressClassName": "public-iks-k8s-nginx",
		"tls":              []any{map[string]any{"hosts": []any{want.Host}, "secretName": want.ALBSecret}},
		"rules": []any{map[string]any{"host": want.Host, "http": map[string]any{"paths": []any{map[string]any{
			"path": "/status", "pathType": "Prefix", "backend": map[string]any{"service": map[string]any{"name": "istio-ingressgateway", "port": map[string]any{"number": int64(443)}}}}}}}},
	}})
	gw := obj("networking.istio.io/v1", "Gateway", "istio-system", "default-ingress-gateway", nil, nil, map[string]any{"spec": map[string]any{
		"selector": map[string]any{"istio": "ingressgateway"},
		"servers": []any{map[string]any{"port": map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"}, "hosts": []any{"*"},
			"tls": map[string]any{"mode": "MUTUAL", "credentialName": want.GatewaySecret}}},
	}})
	other := obj("networking.istio.io/v1", "Gateway", "istio-system", "bookinfo", nil, nil, map[string]any{"spec": map[string]any{
		"selector": map[string]any{"istio": "ingressgateway"},
		"servers":  []any{map[string]any{"port": map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}, "hosts": []any{"*"}}},
	}})
	vs := obj("networking.istio.io/v1", "VirtualService", "httptools", "default-ingress", nil, nil, map[string]any{"spec": map[string]any{
		"hosts": []any{"*"}, "gateways": []any{"istio-system/default-ingress-gateway"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "httpbin.httptools.svc.cluster.local", "port": map[string]any{"number": int64(8000)}}}}}},
	}})
	unrelated := obj("networking.istio.io/v1", "VirtualService", "bookinfo", "reviews", nil, nil, map[string]any{"spec": map[string]any{
		"hosts": []any{"*"}, "gateways": []any{"istio-system/bookinfo"},
		"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}},
	}})
	copyOfALB := obj("v1", "Secret", "istio-system", want.ALBSecret, nil, nil, map[string]any{"type": "kubernetes.io/tls"})
	objs := append(ingressClasses(), gatewayService("istio-system"), ing, gw, other, vs, unrelated, copyOfALB)
	api := newCluster(t, []string{"v1"}, objs...)
	found, err := Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("want the walkthrough's chain alone, found %+v", found)
	}
	expectChain(t, found, ShapeWalkthrough, want)
	reqs := strings.Join(api.requests(), "\n")
	for _, w := range []string{"list gateways ns=istio-system labels=", "list virtualservices ns= labels="} {
		if !strings.Contains(reqs, w+"\n") && !strings.HasSuffix(reqs, w) {
			t.Errorf("want %q among the requests:\n%s", w, reqs)
		}
	}

	// Without its VirtualService the app is unknown: reported, not guessed.
	api = newCluster(t, []string{"v1"}, append(ingressClasses(), gatewayService("istio-system"), ing, gw, copyOfALB)...)
	found, err = Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(found[0].Problem, "no VirtualService") || found[0].Key() != "istio-system/alb-ingress" {
		t.Errorf("want one chain that cannot be checked for want of a VirtualService, got %+v", found)
	}
}

// TestDiscoverIstioV1beta1: where Istio serves only v1beta1 (before 1.22)
// discovery asks which version is served, once, and reads at it.
func TestDiscoverIstioV1beta1(t *testing.T) {
	p := chainParams(t, "istio-system", "httptools", "httpbin", chain.FlavorNginx, nil)
	api := newCluster(t, []string{"v1beta1"}, append(ingressClasses(), hopObjects(t, "v1beta1", p)...)...)
	found, err := Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	expectChain(t, found, ShapePlugin, p)
	if api.discovery != 1 {
		t.Errorf("want one discovery request, got %d", api.discovery)
	}

	// No Istio at all: the chain is still found (check reports Istio missing).
	api = newCluster(t, nil, append(ingressClasses(), hopObjects(t, "v1", p)...)...)
	found, err = Discover(context.Background(), api, defaults(t))
	if err != nil || len(found) != 1 || found[0].Key() != p.ChainKey() {
		t.Fatalf("without Istio: %v, %+v", err, found)
	}
}

// TestDiscoverDefaultsAndProblems: what a chain's objects do not say comes
// from the defaults, with a note; what neither says is a Problem.
func TestDiscoverDefaultsAndProblems(t *testing.T) {
	p := chainParams(t, "istio-system", "httptools", "httpbin", chain.FlavorNginx, nil)
	// The chain's Ingress alone: its Gateway, VirtualService and secrets gone.
	ingObjs, err := render.Ingress(p, render.DefaultBackend(p))
	if err != nil {
		t.Fatal(err)
	}
	objs := append(ingressClasses(), ingObjs...)
	api := newCluster(t, []string{"v1"}, objs...)
	found, err := Discover(context.Background(), api, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(found[0].Problem, "--gateway-secret") {
		t.Fatalf("want a chain that cannot be checked without --gateway-secret, got %+v", found)
	}
	d := defaults(t)
	d.GatewaySecret = p.GatewaySecret
	found, err = Discover(context.Background(), api, d)
	if err != nil {
		t.Fatal(err)
	}
	f := found[0]
	if f.Problem != "" || f.Params.GatewaySecret != p.GatewaySecret || f.Params.GatewayName != p.GatewayName || f.Params.Service != "httpbin" {
		t.Errorf("want the chain checkable from --gateway-secret, got %+v %+v", f, *f.Params)
	}
	notes := strings.Join(f.Notes, "\n")
	for _, w := range []string{"--gateway-secret", "no VirtualService"} {
		if !strings.Contains(notes, w) {
			t.Errorf("the notes should say %q came from the defaults:\n%s", w, notes)
		}
	}
}

// TestDiscoverChainOnBothALBs: a chain setup wrote for both of IKS's ALBs
// (an Ingress each) is found as its two ALB sides, each reconstructed as
// that ALB's chain (its Ingress, flavor and class) and marked with its ALB,
// so -A counts one chain.
func TestDiscoverChainOnBothALBs(t *testing.T) {
	p := chainParams(t, "istio-system", "shop", "storefront", "nginx,traefik", nil)
	if len(p.ALBFlavors()) != 2 {
		t.Fatalf("want a chain on two ALBs, got %v", p.ALBFlavors())
	}
	objs := ingressClasses()
	hop := hopObjects(t, "v1", p.ForFlavor(chain.FlavorNginx))
	objs = append(objs, hop...)
	traefik, err := render.Ingress(p.ForFlavor(chain.FlavorTraefik), render.DefaultBackend(p.ForFlavor(chain.FlavorTraefik)))
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, traefik...)
	found, err := Discover(context.Background(), newCluster(t, []string{"v1"}, objs...), defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("want the chain's two ALB sides, found %d", len(found))
	}
	sides := map[chain.Flavor]Found{}
	for _, f := range found {
		if f.Key() != p.ChainKey() {
			t.Errorf("found %s, want both sides to be %s", f.Key(), p.ChainKey())
		}
		if f.ALB == "" || f.ALB != f.Params.Flavor {
			t.Errorf("%s: ALB %q, want its Ingress's flavor %q", f.Ingress, f.ALB, f.Params.Flavor)
		}
		sides[f.ALB] = f
	}
	for _, fl := range []chain.Flavor{chain.FlavorNginx, chain.FlavorTraefik} {
		f, ok := sides[fl]
		if !ok {
			t.Errorf("no %s side found", fl)
			continue
		}
		want := p.ForFlavor(fl)
		if f.Ingress != want.IstioNamespace+"/"+want.IngressName || f.Params.IngressName != want.IngressName {
			t.Errorf("%s side: Ingress %s (IngressName %s), want %s/%s", fl, f.Ingress, f.Params.IngressName, want.IstioNamespace, want.IngressName)
		}
		if flavor.IngressClassName(f.Params) != flavor.IngressClassName(want) {
			t.Errorf("%s side: class %s, want %s", fl, flavor.IngressClassName(f.Params), flavor.IngressClassName(want))
		}
		if !slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, string(fl)+" ALB's side") }) {
			t.Errorf("%s side: no note saying which side it is: %q", fl, f.Notes)
		}
	}
}

// TestDiscoverGatewayAPIChain: a chain setup --gateway-api made (its hop a
// Gateway API Gateway listing it, its route an HTTPRoute, its Ingress going
// to the Service Istio deploys for the Gateway) is found and rebuilt in
// Gateway API mode, so that -A checks it as such.
func TestDiscoverGatewayAPIChain(t *testing.T) {
	p := chainParams(t, "istio-system", "shop", "storefront", chain.FlavorNginx, func(f *chain.Flags) {
		f.GatewayAPI = true
		f.Port = 9080
		f.Paths = []string{"/cart"}
	})
	if !p.GatewayAPI || p.GatewayService != chain.DefaultGatewayAPIService(p.GatewayName) {
		t.Fatalf("want a Gateway API chain on %s, got GatewayAPI %v, Service %s", chain.DefaultGatewayAPIService(p.GatewayName), p.GatewayAPI, p.GatewayService)
	}
	objs := ingressClasses()
	objs = append(objs,
		render.GatewayAPIGateway(p, map[string]string{p.ChainKey(): p.Host}),
		render.HTTPRoute(p),
		obj("v1", "Secret", p.IstioNamespace, p.ALBSecret, p.HopLabels(),
			map[string]string{chain.AnnotationSource: p.ALBSecretNamespace + "/" + p.ALBSecret}, map[string]any{"type": "kubernetes.io/tls"}),
	)
	ing, err := render.Ingress(p, render.DefaultBackend(p))
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, ing...)
	found, err := Discover(context.Background(), newCluster(t, []string{"v1"}, objs...), defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("want the one chain, found %d", len(found))
	}
	expectChain(t, found, ShapePlugin, p)
	if f := found[0]; !f.Params.GatewayAPI || f.Params.GatewayServiceNamed {
		t.Errorf("the chain should be rebuilt in Gateway API mode on Istio's Service: GatewayAPI %v, GatewayServiceNamed %v (notes %q)", f.Params.GatewayAPI, f.Params.GatewayServiceNamed, f.Notes)
	}
}
