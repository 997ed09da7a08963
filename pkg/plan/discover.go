package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// Finding every chain of a cluster (check -A).
//
// A chain is one Ingress in the Istio namespace that sends an app's host to
// the gateway over mutual TLS. Discover finds two shapes of them:
//
//   - the plugin's: Ingresses labelled albistio.io/chain and
//     albistio.io/chain-namespace, found with one LIST across all namespaces
//     by those labels; their hop is the plugin's Gateway whose
//     albistio.io/chains annotation lists them (one LIST by the managed-by
//     label), their route the VirtualService with the same labels (one LIST);
//   - the walkthrough's: unlabelled Ingresses in a namespace where an Istio
//     ingress gateway's Service runs (one LIST of Services by
//     --gateway-selector, then one LIST of Ingresses in each such namespace)
//     whose nginx proxy-ssl-secret, classic ssl-services or Traefik
//     transport sends them to that gateway. Their Gateway is the MUTUAL one
//     in that namespace serving the host, and their route the VirtualService
//     bound to it; only when such an Ingress exists does Discover list the
//     Gateways of its namespace and the VirtualServices of the cluster,
//     which carry no label to select on.
//
// Every LIST of a namespaced resource across namespaces is label-selected,
// so the requests (and what they bring) grow with the chains and gateways,
// not with the cluster's size. Discover reads through the same API as check
// does; wrapped in a memo (fleet.Memo), its answers also serve the checks
// of the chains it finds.

// DiscoverAPI is what Discover reads through: check.API's methods.
type DiscoverAPI interface {
	Getter
	Lister
	GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error)
	APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error)
}

// Shape says how a discovered chain was recognised.
type Shape string

const (
	// ShapePlugin is a chain the plugin set up: its objects carry its labels.
	ShapePlugin Shape = "plugin"
	// ShapeWalkthrough is an unlabelled chain built by hand, as the
	// walkthrough builds it (or by a version of the plugin before the hop).
	ShapeWalkthrough Shape = "walkthrough"
)

// Found is one chain Discover found, with the parameters check needs,
// reconstructed from its objects.
type Found struct {
	// Params are the chain's parameters. What the cluster does not say is
	// taken from the defaults Discover was given, and Notes say so.
	Params *chain.Params
	Shape  Shape
	// Ingress is the chain's Ingress, "namespace/name".
	Ingress string
	// Notes say which parameters came from the defaults rather than from the
	// cluster, and what else a reader of the report should know.
	Notes []string
	// Problem, when set, says why the chain cannot be checked: a parameter
	// check needs is neither in the cluster nor in the defaults.
	Problem string
	// Err is the API error behind Problem when reading the chain failed
	// (e.g. forbidden), so the outcome can say what kind of failure it was.
	Err error
	// ALB is set when the chain is served by two ALBs at once (IKS's nginx
	// and Traefik ALBs side by side, an Ingress for each): this Found is the
	// side of that ALB, checked on its own, and another Found with the same
	// Key is the other side.
	ALB chain.Flavor
}

// Key is the chain's "<app-namespace>/<chain-name>", or its Ingress's
// "namespace/name" when its app is not known.
func (f Found) Key() string {
	if f.Params != nil && f.Params.AppNamespace != "" && f.Params.Name != "" {
		return f.Params.ChainKey()
	}
	return f.Ingress
}

// chainSelector selects the plugin's chain objects: both labels set.
var chainSelector = chain.LabelChain + "," + chain.LabelChainNamespace

// ownedSelector selects what the plugin wrote (the hop's objects among them).
var ownedSelector = chain.LabelManagedBy + "=" + chain.FieldManager

// discoverParallelism bounds Discover's requests in flight.
const discoverParallelism = 8

// Discover finds the chains of the cluster behind api, sorted by Key then
// Ingress. defaults supplies what an object does not say (the ALB secret's
// namespace, the private CA's name, the client identity mode) and
// GatewaySelector, which finds the gateway Services of walkthrough-shaped
// chains. Errors are API failures; a chain that cannot be reconstructed is
// a Found with a Problem.
func Discover(ctx context.Context, api DiscoverAPI, defaults *chain.Params) ([]Found, error) {
	d := &discovery{ctx: ctx, api: api, defaults: defaults, slots: make(chan struct{}, discoverParallelism)}
	if err := d.readCluster(); err != nil {
		return nil, err
	}
	if err := d.readNamespaces(); err != nil {
		return nil, err
	}
	var out []Found
	for _, ing := range d.chainIngresses {
		out = append(out, d.pluginChain(ing))
	}
	markALBSides(out)
	walk, err := d.walkthroughChains()
	if err != nil {
		return nil, err
	}
	out = append(out, walk...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key() != out[j].Key() {
			return out[i].Key() < out[j].Key()
		}
		return out[i].Ingress < out[j].Ingress
	})
	return out, nil
}

type discovery struct {
	ctx      context.Context
	api      DiscoverAPI
	defaults *chain.Params
	slots    chan struct{}

	istioVersion string // "" when Istio is not served
	classes      []networkingv1.IngressClass

	chainIngresses []networkingv1.Ingress                  // the plugin's, every namespace
	hopGateways    map[string][]*unstructured.Unstructured // the plugin's Gateways by namespace
	chainVS        []*unstructured.Unstructured            // the plugin's VirtualServices
	apiGateways    map[string][]*unstructured.Unstructured // the plugin's Gateway API Gateways by namespace
	chainRoutes    []*unstructured.Unstructured            // the plugin's HTTPRoutes
	gatewaySvcs    map[string][]*unstructured.Unstructured // gateway Services by namespace

	owned      map[string]map[string]*unstructured.Unstructured // the plugin's secrets by namespace and name; nil entry: not listable
	candidates map[string][]networkingv1.Ingress                // unlabelled Ingresses of gateway namespaces
}

// parallel runs fns at most discoverParallelism at once and returns the
// error of the first one (in order) that failed, so that the same failure
// gives the same error however the requests raced.
func (d *discovery) parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			d.slots <- struct{}{}
			defer func() { <-d.slots }()
			errs[i] = fn()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readCluster makes the label-selected LISTs across all namespaces.
func (d *discovery) readCluster() error {
	var gateways, vss, apiGateways, routes []unstructured.Unstructured
	err := d.parallel(
		func() error {
			items, err := d.api.List(d.ctx, kube.Ingresses, "", chainSelector)
			if err != nil {
				return err
			}
			d.chainIngresses, err = convertAll[networkingv1.Ingress](items)
			return err
		},
		func() error {
			items, err := d.api.List(d.ctx, kube.IngressClasses, "", "")
			if err != nil {
				return err
			}
			d.classes, err = convertAll[networkingv1.IngressClass](items)
			return err
		},
		func() error {
			sel := chain.FormatSelector(d.defaults.GatewaySelector)
			if sel == "" {
				return nil
			}
			items, err := d.api.List(d.ctx, kube.Services, "", sel)
			d.gatewaySvcs = byNamespace(items)
			return err
		},
		func() (err error) {
			gateways, vss, err = d.readIstio()
			return err
		},
		func() (err error) {
			apiGateways, routes, err = d.readGatewayAPI()
			return err
		},
	)
	if err != nil {
		return err
	}
	d.apiGateways = byNamespace(apiGateways)
	for i := range routes {
		d.chainRoutes = append(d.chainRoutes, &routes[i])
	}
	d.hopGateways = byNamespace(gateways)
	for i := range vss {
		d.chainVS = append(d.chainVS, &vss[i])
	}
	return nil
}

// readIstio lists the plugin's Gateways and chain VirtualServices at Istio's
// v1, asking discovery which version is served only when v1 is not.
func (d *discovery) readIstio() (gateways, vss []unstructured.Unstructured, err error) {
	list := func(version string) error {
		return d.parallel(
			func() (err error) {
				gateways, err = d.api.List(d.ctx, kube.IstioResource(version, "gateways"), "", ownedSelector)
				return err
			},
			func() (err error) {
				vss, err = d.api.List(d.ctx, kube.IstioResource(version, "virtualservices"), "", chainSelector)
				return err
			},
		)
	}
	v1 := render.IstioVersions[0]
	first := list(v1)
	if first == nil {
		d.istioVersion = v1
		return gateways, vss, nil
	}
	group, err := d.api.APIGroup(d.ctx, render.IstioGroup)
	if err != nil {
		return nil, nil, err
	}
	if group == nil {
		return nil, nil, nil // Istio is not installed: check says so for each chain
	}
	var served []string
	for _, v := range group.Versions {
		if v.Version == v1 {
			return nil, nil, first // v1 is served: the LIST failed for another reason
		}
		served = append(served, v.Version)
	}
	if d.istioVersion = kube.PreferredIstioVersion(served); d.istioVersion == "" {
		return nil, nil, nil
	}
	return gateways, vss, list(d.istioVersion)
}

// readGatewayAPI lists the plugin's Gateway API Gateways and chain
// HTTPRoutes (setup --gateway-api), label-selected like Istio's; a cluster
// that does not serve the Gateway API answers 404, which is no chain.
func (d *discovery) readGatewayAPI() (gateways, routes []unstructured.Unstructured, err error) {
	err = d.parallel(
		func() (err error) {
			gateways, err = d.api.List(d.ctx, kube.GatewayAPIGateways, "", ownedSelector)
			return err
		},
		func() (err error) {
			routes, err = d.api.List(d.ctx, kube.HTTPRoutes, "", chainSelector)
			return err
		},
	)
	if err == nil {
		return gateways, routes, nil
	}
	// Most clusters do not serve the Gateway API: discovery tells that
	// from another failure.
	group, gerr := d.api.APIGroup(d.ctx, chain.GatewayAPIGroup)
	if gerr != nil {
		return nil, nil, gerr
	}
	if group == nil || !slices.ContainsFunc(group.Versions, func(v metav1.GroupVersionForDiscovery) bool { return v.Version == "v1" }) {
		return nil, nil, nil
	}
	return nil, nil, err
}

// readNamespaces lists, in each hop namespace, the plugin's secrets (which
// say where the ALB secret was copied from; check's read makes the same
// LIST), and in each gateway namespace its Ingresses, among which the
// walkthrough's unlabelled ones.
func (d *discovery) readNamespaces() error {
	hopNamespaces := map[string]bool{}
	for _, ing := range d.chainIngresses {
		hopNamespaces[ing.Namespace] = true
	}
	d.owned = map[string]map[string]*unstructured.Unstructured{}
	d.candidates = map[string][]networkingv1.Ingress{}
	var mu sync.Mutex
	var fns []func() error
	for _, ns := range sortedKeys(hopNamespaces) {
		fns = append(fns, func() error {
			items, err := d.api.List(d.ctx, kube.Secrets, ns, ownedSelector)
			if kube.IsForbidden(err) {
				return nil // read by name below; check does the same
			}
			if err != nil {
				return err
			}
			m := map[string]*unstructured.Unstructured{}
			for i := range items {
				m[items[i].GetName()] = &items[i]
			}
			mu.Lock()
			d.owned[ns] = m
			mu.Unlock()
			return nil
		})
	}
	for _, ns := range sortedKeys(d.gatewaySvcs) {
		fns = append(fns, func() error {
			items, err := d.api.List(d.ctx, kube.Ingresses, ns, "")
			if err != nil {
				return err
			}
			ings, err := convertAll[networkingv1.Ingress](items)
			if err != nil {
				return err
			}
			var unlabelled []networkingv1.Ingress
			for _, ing := range ings {
				if !pluginLabelled(ing.Labels) {
					unlabelled = append(unlabelled, ing)
				}
			}
			mu.Lock()
			d.candidates[ns] = unlabelled
			mu.Unlock()
			return nil
		})
	}
	return d.parallel(fns...)
}

func pluginLabelled(l map[string]string) bool {
	return l[chain.LabelChain] != "" && l[chain.LabelChainNamespace] != ""
}

// route is what an Ingress says about the chain: its first host with paths,
// the paths, where they go, and the TLS secret serving the host.
type route struct {
	host        string
	paths       []string
	service     string
	port        int32
	portName    string
	tlsSecret   string
	extraHosts  int
	mixedTarget bool
}

func ingressRoute(ing *networkingv1.Ingress) route {
	var r route
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil || len(rule.HTTP.Paths) == 0 {
			continue
		}
		if r.host != "" {
			r.extraHosts++
			continue
		}
		r.host = rule.Host
		for _, p := range rule.HTTP.Paths {
			r.paths = append(r.paths, p.Path)
			if p.Backend.Service == nil {
				continue
			}
			if r.service == "" {
				r.service = p.Backend.Service.Name
				r.port = p.Backend.Service.Port.Number
				r.portName = p.Backend.Service.Port.Name
			} else if p.Backend.Service.Name != r.service {
				r.mixedTarget = true
			}
		}
	}
	for _, t := range ing.Spec.TLS {
		if t.SecretName != "" && contains(t.Hosts, r.host) {
			r.tlsSecret = t.SecretName
			return r
		}
	}
	for _, t := range ing.Spec.TLS {
		if t.SecretName != "" && len(t.Hosts) == 0 {
			r.tlsSecret = t.SecretName
			return r
		}
	}
	return r
}

// builder fills one chain's Params and its notes.
type builder struct {
	d     *discovery
	p     *chain.Params
	found Found
}

func (d *discovery) newBuilder(ing *networkingv1.Ingress, shape Shape) *builder {
	p := cloneParams(d.defaults)
	p.IstioNamespace = ing.Namespace
	p.IngressName = ing.Name
	// What the defaults say about one chain is only a fallback: clear it,
	// so that finish can tell what the cluster said.
	p.Host, p.Paths, p.Service, p.AppNamespace, p.Name = "", nil, "", "", ""
	p.GatewayName, p.VirtualServiceName, p.GatewayServicePort, p.Port = "", "", 0, 0
	p.GatewayDomain, p.GatewaySecret, p.ALBSecret, p.ALBDomain = "", "", "", ""
	b := &builder{d: d, p: p, found: Found{Params: p, Shape: shape, Ingress: ing.Namespace + "/" + ing.Name}}
	return b
}

func (b *builder) note(format string, args ...any) {
	b.found.Notes = append(b.found.Notes, fmt.Sprintf(format, args...))
}

func (b *builder) problem(format string, args ...any) {
	if b.found.Problem == "" {
		b.found.Problem = fmt.Sprintf(format, args...)
	}
}

// ingress takes the host, paths, backend and ALB flavor from the Ingress.
func (b *builder) ingress(ing *networkingv1.Ingress) route {
	r := ingressRoute(ing)
	p := b.p
	p.Host, p.Paths = r.host, r.paths
	if r.extraHosts > 0 {
		b.note("the Ingress routes %d more host(s); only %s is checked", r.extraHosts, quote(r.host))
	}
	if r.mixedTarget {
		b.note("the Ingress's paths go to more than one Service; check reads the first, %s", quote(r.service))
	}
	if r.port > 0 {
		p.GatewayServicePort = r.port
	}
	if class := ing.Spec.IngressClassName; class != nil && *class != "" {
		p.IngressClass = *class
	}
	if f := flavorOf(ing, b.d.classes); f != "" {
		p.Flavor = f
	} else if p.Flavor == chain.FlavorAuto {
		b.note("neither the Ingress's class nor its annotations say which ALB serves it: check decides from the cluster's IngressClasses (or pass --alb-flavor)")
	}
	return r
}

// flavorOf is the ALB flavor an Ingress is written for: its class's
// controller, else the annotations it carries.
func flavorOf(ing *networkingv1.Ingress, classes []networkingv1.IngressClass) chain.Flavor {
	if c := ing.Spec.IngressClassName; c != nil {
		for _, ic := range classes {
			if ic.Name != *c {
				continue
			}
			if fl := flavor.ByController(ic.Spec.Controller); fl != nil {
				return fl.Name()
			}
		}
	}
	if fl := flavor.Marked(ing.Annotations); fl != nil {
		return fl.Name()
	}
	return ""
}

// alb reads the client secret, the gateway Service and the name the ALB
// verifies the gateway by from the flavor's settings (flavor.Discover):
// the Ingress's annotations (nginx, classic) or Traefik's transport. An
// Ingress of no flavor is read as the default flavor's. It returns the SNI
// name, empty when not said.
func (b *builder) alb(ing *networkingv1.Ingress, r route) (sni string, err error) {
	p := b.p
	fl := flavor.For(p.Flavor)
	if fl == nil && p.Flavor == chain.FlavorAuto {
		fl = flavor.Default()
	}
	if fl == nil {
		return "", nil
	}
	got, err := fl.Discover(flavor.Route{Ingress: ing, Service: r.service, Flavor: p.Flavor}, lookup{b.d})
	// What was read before an error stays with the failed chain.
	if got.SecretNamed {
		p.ClientSecret = got.ClientSecret
	}
	p.GatewayService = got.GatewayService
	b.found.Notes = append(b.found.Notes, got.Notes...)
	if err != nil {
		return "", err
	}
	return got.SNI, nil
}

// lookup reads for the flavors (flavor.Lookup) the objects an Ingress's
// ALB side names: Traefik's ServersTransport and backend Service.
type lookup struct{ d *discovery }

// ServersTransport decodes each field of the transport's spec on its own
// and keeps it only when it decodes whole, so that a malformed field (a
// CRD without Traefik's schema stores one) hides neither the others nor
// the transport, as the field-by-field reading discovery had did.
func (l lookup) ServersTransport(namespace, name string) (*flavor.ServersTransport, error) {
	u, err := l.d.api.Get(l.d.ctx, kube.ServersTransport, namespace, name)
	if err != nil || u == nil {
		return nil, err
	}
	t := &flavor.ServersTransport{Namespace: u.GetNamespace(), Name: u.GetName(), ManagedFields: u.GetManagedFields()}
	spec, _ := u.Object["spec"].(map[string]any)
	for _, k := range sortedKeys(spec) {
		data, err := json.Marshal(map[string]any{k: spec[k]})
		var field flavor.ServersTransportSpec
		if err == nil && json.Unmarshal(data, &field) == nil {
			_ = json.Unmarshal(data, &t.Spec)
		}
	}
	return t, nil
}

// Service reads a Service; one the API server returned always converts.
func (l lookup) Service(namespace, name string) (*corev1.Service, error) {
	u, err := l.d.api.Get(l.d.ctx, kube.Services, namespace, name)
	if err != nil || u == nil {
		return nil, err
	}
	svcs, err := convertAll[corev1.Service]([]unstructured.Unstructured{*u})
	if err != nil {
		return nil, err
	}
	return &svcs[0], nil
}

// gateway takes the hop's Gateway: its name, credential, selector, port,
// and (when the ALB did not say) the gateway domain.
func (b *builder) gateway(gw *unstructured.Unstructured, sni string) {
	p := b.p
	p.GatewayName = gw.GetName()
	server := mutualServer(gw, []string{p.Host, sni})
	if server == nil {
		b.note("Gateway %s/%s has no MUTUAL server", gw.GetNamespace(), gw.GetName())
		return
	}
	if sel, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "selector"); len(sel) > 0 {
		p.GatewaySelector = sel
	}
	credential, _, _ := unstructured.NestedString(server, "tls", "credentialName")
	hosts, _, _ := unstructured.NestedStringSlice(server, "hosts")
	if n, ok, _ := unstructured.NestedInt64(server, "port", "number"); ok && n > 0 && n <= 65535 && p.GatewayServicePort == 0 {
		p.GatewayServicePort = int32(n)
	}
	// cert-manager mode: the hop serves its own certificate for the gateway
	// Service's cluster-local name; the IKS gateway secret names the Gateway.
	svcName := p.GatewayService + "." + p.IstioNamespace + ".svc"
	if credential == "albistio-"+p.GatewayService+"-server" && (sni == svcName || (len(hosts) > 0 && hosts[0] == svcName)) {
		p.Identity = identityCertManager
		if p.GatewayDomain == svcName {
			p.GatewayDomain = ""
		}
		if s, ok := strings.CutPrefix(p.GatewayName, "albistio-"); ok {
			p.GatewaySecret = s
		}
		return
	}
	if credential != "" {
		p.GatewaySecret = credential
	}
	if p.GatewayDomain == "" { // the ALB did not name it: the server's first other host
		for _, h := range stripNamespaces(hosts) {
			if h != p.Host && !strings.Contains(h, "*") {
				p.GatewayDomain = h
				break
			}
		}
	}
}

// identityCertManager is setup's cert-manager client identity mode, named
// here so that discovery does not depend on the mode's constant.
const identityCertManager = chain.IdentityMode("cert-manager")

// mutualServer is the Gateway's MUTUAL server that lists one of hosts
// first, else its first MUTUAL server, else its first TLS server.
func mutualServer(gw *unstructured.Unstructured, hosts []string) map[string]any {
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	var firstMutual, firstTLS map[string]any
	for _, s := range servers {
		srv, ok := s.(map[string]any)
		if !ok {
			continue
		}
		mode, _, _ := unstructured.NestedString(srv, "tls", "mode")
		if _, hasTLS := srv["tls"]; hasTLS && firstTLS == nil {
			firstTLS = srv
		}
		if mode != "MUTUAL" {
			continue
		}
		if firstMutual == nil {
			firstMutual = srv
		}
		sh, _, _ := unstructured.NestedStringSlice(srv, "hosts")
		for _, h := range hosts {
			if h != "" && contains(stripNamespaces(sh), h) {
				return srv
			}
		}
	}
	if firstMutual != nil {
		return firstMutual
	}
	return firstTLS
}

// stripNamespaces drops the "namespace/" Istio allows before a host.
func stripNamespaces(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		if _, after, ok := strings.Cut(h, "/"); ok {
			h = after
		}
		out[i] = h
	}
	return out
}

// virtualService takes the app's Service, namespace and port from the
// chain's VirtualService. It reports whether a destination was found.
func (b *builder) virtualService(vs *unstructured.Unstructured) bool {
	p := b.p
	p.VirtualServiceName = vs.GetName()
	if p.AppNamespace == "" {
		p.AppNamespace = vs.GetNamespace()
	}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, h := range http {
		rt, ok := h.(map[string]any)
		if !ok {
			continue
		}
		dests, _, _ := unstructured.NestedSlice(rt, "route")
		for _, dd := range dests {
			dest, ok := dd.(map[string]any)
			if !ok {
				continue
			}
			host, _, _ := unstructured.NestedString(dest, "destination", "host")
			if host == "" {
				continue
			}
			svc, ns := splitServiceHost(host, vs.GetNamespace())
			p.Service = svc
			if ns != p.AppNamespace {
				b.note("VirtualService %s/%s routes to %s, outside its namespace; check reads the Service in %s", vs.GetNamespace(), vs.GetName(), quote(host), p.AppNamespace)
			}
			if n, ok, _ := unstructured.NestedInt64(dest, "destination", "port", "number"); ok && n > 0 && n <= 65535 {
				p.Port = int32(n)
			}
			return true
		}
	}
	return false
}

// splitServiceHost reads "svc", "svc.ns", "svc.ns.svc" or
// "svc.ns.svc.cluster.local" as a Service and its namespace.
func splitServiceHost(host, defaultNS string) (service, namespace string) {
	parts := strings.Split(host, ".")
	if len(parts) == 1 {
		return parts[0], defaultNS
	}
	return parts[0], parts[1]
}

// vsGateways are the Gateways a VirtualService binds to, as namespace/name.
func vsGateways(vs *unstructured.Unstructured) []string {
	gws, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
	out := make([]string, 0, len(gws))
	for _, g := range gws {
		if !strings.Contains(g, "/") {
			g = vs.GetNamespace() + "/" + g
		}
		out = append(out, g)
	}
	return out
}

// albSecret names the ALB secret: the Ingress's TLS secret, which is the
// plugin's copy when the copy says where it came from, else the ALB secret
// itself when it exists in the Ingress's namespace, else a copy of the
// --alb-secret-namespace secret of that name (the walkthrough copies it).
func (b *builder) albSecret(tlsSecret string) error {
	p := b.p
	if tlsSecret == "" {
		p.ALBSecret = b.d.defaults.ALBSecret
		if p.ALBSecret == "" {
			b.problem("the Ingress has no TLS secret for %s and no --alb-secret was given", quote(p.Host))
		} else {
			b.note("the Ingress has no TLS secret for %s: check reads --alb-secret %s", quote(p.Host), quote(p.ALBSecret))
		}
		return nil
	}
	p.ALBSecret = tlsSecret
	var sec *unstructured.Unstructured
	if owned, ok := b.d.owned[p.IstioNamespace]; ok && owned != nil {
		sec = owned[tlsSecret]
	}
	if sec == nil {
		var err error
		if sec, err = b.d.api.Get(b.d.ctx, kube.Secrets, p.IstioNamespace, tlsSecret); err != nil {
			return err
		}
	}
	if sec == nil {
		return nil // missing: check reports the copy missing; the source stays --alb-secret-namespace
	}
	if src := sec.GetAnnotations()[chain.AnnotationSource]; src != "" {
		if ns, _, ok := strings.Cut(src, "/"); ok && ns != "" {
			p.ALBSecretNamespace = ns
			return nil
		}
	}
	if sec.GetLabels()[chain.LabelManagedBy] == chain.FieldManager {
		return nil // the plugin's copy without its source: keep --alb-secret-namespace
	}
	// Not a copy the plugin made: the Ingress serves the secret itself.
	p.ALBSecretNamespace = p.IstioNamespace
	return nil
}

// finish fills what is still missing from derived names and the defaults,
// and records what check cannot do without.
func (b *builder) finish() Found {
	p := b.p
	if p.GatewaySecret == "" {
		if s := b.cacertSecret(); s != "" {
			p.GatewaySecret = s
		} else if b.d.defaults.GatewaySecret != "" {
			p.GatewaySecret = b.d.defaults.GatewaySecret
			b.note("the gateway secret is --gateway-secret's %s: no Gateway of the chain names it", quote(p.GatewaySecret))
		} else {
			b.problem("cannot tell the gateway's TLS secret: no MUTUAL Gateway of the chain was found (pass --gateway-secret)")
		}
	}
	if p.GatewayName == "" && p.GatewaySecret != "" {
		p.GatewayName = chain.DefaultGatewayName(p.GatewaySecret)
		b.note("no Gateway of the chain was found: check reads %s/%s", p.IstioNamespace, p.GatewayName)
	}
	if p.GatewayDomain == "" {
		if b.d.defaults.GatewayDomain != "" {
			p.GatewayDomain = b.d.defaults.GatewayDomain
			b.note("the gateway domain is --gateway-domain's %s: neither the Ingress nor the Gateway names it", quote(p.GatewayDomain))
		} else if p.Identity != identityCertManager {
			b.problem("cannot tell the gateway's domain: neither the Ingress nor the Gateway names it (pass --gateway-domain)")
		}
	}
	if p.Host == "" {
		b.problem("the Ingress has no rule with a host and paths")
	}
	if p.ALBDomain == "" || !strings.HasSuffix(p.Host, "."+p.ALBDomain) {
		if _, rest, ok := strings.Cut(p.Host, "."); ok {
			p.ALBDomain = rest
		}
	}
	if p.GatewayService == "" {
		b.problem("the Ingress routes to no Service")
	}
	if p.GatewayServicePort == 0 {
		p.GatewayServicePort = b.d.defaults.GatewayServicePort
	}
	if len(p.Paths) == 0 {
		p.Paths = b.d.defaults.Paths
	}
	if p.Port == 0 {
		p.Port = b.d.defaults.Port
	}
	if p.VirtualServiceName == "" && p.Name != "" {
		p.VirtualServiceName = chain.DefaultVirtualServiceName(p.Name)
	}
	return b.found
}

// cacertSecret is the gateway secret a hop's -cacert is named after, when
// the plugin's secrets in the namespace hold exactly one.
func (b *builder) cacertSecret() string {
	var names []string
	for name := range b.d.owned[b.p.IstioNamespace] {
		if s, ok := strings.CutSuffix(name, "-cacert"); ok {
			names = append(names, s)
		}
	}
	if len(names) == 1 {
		b.note("the gateway secret %s is read from the name of its -cacert: no Gateway of the chain names it", quote(names[0]))
		return names[0]
	}
	return ""
}

// pluginChain reconstructs a chain the plugin set up from its Ingress, the
// hop Gateway that lists it and its VirtualService.
func (d *discovery) pluginChain(ing networkingv1.Ingress) Found {
	b := d.newBuilder(&ing, ShapePlugin)
	p := b.p
	p.Name = ing.Labels[chain.LabelChain]
	p.AppNamespace = ing.Labels[chain.LabelChainNamespace]
	r := b.ingress(&ing)
	sni, err := b.alb(&ing, r)
	if err != nil {
		return b.failed(err)
	}
	if sni != "" {
		p.GatewayDomain = sni
	}
	key := p.ChainKey()
	var vs *unstructured.Unstructured
	for _, v := range d.chainVS {
		l := v.GetLabels()
		if v.GetNamespace() != p.AppNamespace || l[chain.LabelChain] != p.Name || l[chain.LabelChainNamespace] != p.AppNamespace {
			continue
		}
		if vs == nil || v.GetName() == chain.DefaultVirtualServiceName(p.Name) {
			vs = v
		}
	}
	var hop *unstructured.Unstructured
	for _, gw := range d.hopGateways[p.IstioNamespace] {
		reg, err := render.DecodeRegistry(gw.GetAnnotations())
		if err != nil {
			continue
		}
		if host, ok := reg[key]; ok {
			hop = gw
			if p.Host == "" {
				p.Host = host
			}
			break
		}
	}
	if hop == nil && vs != nil {
		for _, ref := range vsGateways(vs) {
			ns, name, _ := strings.Cut(ref, "/")
			if ns != p.IstioNamespace {
				continue
			}
			for _, gw := range d.hopGateways[ns] {
				if gw.GetName() == name {
					hop = gw
				}
			}
			if hop == nil {
				p.GatewayName = name
			}
			break
		}
	}
	if hop == nil && vs == nil {
		if gw := d.gatewayAPIHop(p.IstioNamespace, key); gw != nil {
			return b.gatewayAPIChain(gw, sni, r)
		}
	}
	if hop != nil {
		b.gateway(hop, sni)
	} else {
		b.note("no Gateway of the plugin in %s lists the chain %s in its %s annotation", p.IstioNamespace, key, chain.AnnotationChains)
	}
	if vs == nil || !b.virtualService(vs) {
		p.Service = p.Name
		if vs == nil {
			b.note("no VirtualService labelled for the chain: check reads %s/%s and the Service %s", p.AppNamespace, chain.DefaultVirtualServiceName(p.Name), quote(p.Service))
		}
	}
	if err := b.albSecret(r.tlsSecret); err != nil {
		return b.failed(err)
	}
	return b.finish()
}

// markALBSides finds the plugin's chains that two ALBs serve: setup
// writes one Ingress per ALB for them (chain.Params.ForFlavor), so two
// Founds share a Key with different flavors. Each stays a check of its own
// ALB's side — its Ingress, its flavor's annotations or transport — as check
// does for such a chain, and says which side it is, so that -A counts the
// chain once.
func markALBSides(found []Found) {
	flavors := map[string]map[chain.Flavor]bool{}
	for _, f := range found {
		if f.Params == nil || f.Params.Flavor == "" || f.Params.Flavor == chain.FlavorAuto {
			continue
		}
		if flavors[f.Key()] == nil {
			flavors[f.Key()] = map[chain.Flavor]bool{}
		}
		flavors[f.Key()][f.Params.Flavor] = true
	}
	for i := range found {
		f := &found[i]
		if f.Params == nil || len(flavors[f.Key()]) < 2 {
			continue
		}
		f.ALB = f.Params.Flavor
		f.Notes = append(f.Notes, fmt.Sprintf("the chain has an Ingress on each of %d ALBs; this is the %s ALB's side, checked on its own", len(flavors[f.Key()]), f.ALB))
	}
}

// gatewayAPIHop is the plugin's Gateway API Gateway in ns whose registry
// lists the chain key, nil when none does.
func (d *discovery) gatewayAPIHop(ns, key string) *unstructured.Unstructured {
	for _, gw := range d.apiGateways[ns] {
		if reg, err := render.DecodeRegistry(gw.GetAnnotations()); err == nil {
			if _, ok := reg[key]; ok {
				return gw
			}
		}
	}
	return nil
}

// gatewayAPIChain finishes a chain setup --gateway-api made: its hop is a
// Gateway API Gateway, its route an HTTPRoute, and the gateway's Service
// and pods are the ones Istio deploys for that Gateway unless the Ingress
// goes to another Service (then the Gateway names it in spec.addresses).
func (b *builder) gatewayAPIChain(gw *unstructured.Unstructured, sni string, r route) Found {
	p := b.p
	p.GatewayAPI = true
	p.GatewayName = gw.GetName()
	if reg, err := render.DecodeRegistry(gw.GetAnnotations()); err == nil && p.Host == "" {
		p.Host = reg[p.ChainKey()]
	}
	if p.GatewayService != "" && p.GatewayService != chain.DefaultGatewayAPIService(p.GatewayName) {
		p.GatewayServiceNamed = true
	} else {
		p.GatewayService = chain.DefaultGatewayAPIService(p.GatewayName)
		p.GatewaySelector = chain.DefaultGatewayAPISelector(p.GatewayName)
	}
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	for _, l := range listeners {
		lm, ok := l.(map[string]any)
		if !ok {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(lm, "tls", "certificateRefs")
		if len(refs) == 0 {
			continue
		}
		ref, _ := refs[0].(map[string]any)
		credential, _ := ref["name"].(string)
		if n, ok, _ := unstructured.NestedInt64(lm, "port"); ok && n > 0 && n <= 65535 && p.GatewayServicePort == 0 {
			p.GatewayServicePort = int32(n)
		}
		svcName := p.GatewayService + "." + p.IstioNamespace + ".svc"
		if credential == "albistio-"+p.GatewayService+"-server" && sni == svcName {
			// cert-manager mode, as for the classic hop (gateway).
			p.Identity = identityCertManager
			if p.GatewayDomain == svcName {
				p.GatewayDomain = ""
			}
			if s, ok := strings.CutPrefix(p.GatewayName, "albistio-"); ok {
				p.GatewaySecret = s
			}
		} else if credential != "" {
			p.GatewaySecret = credential
		}
		break
	}
	var route *unstructured.Unstructured
	for _, rt := range b.d.chainRoutes {
		l := rt.GetLabels()
		if rt.GetNamespace() == p.AppNamespace && l[chain.LabelChain] == p.Name && l[chain.LabelChainNamespace] == p.AppNamespace {
			if route == nil || rt.GetName() == chain.DefaultVirtualServiceName(p.Name) {
				route = rt
			}
		}
	}
	if route == nil || !b.httpRoute(route) {
		p.Service = p.Name
		if route == nil {
			b.note("no HTTPRoute labelled for the chain: check reads %s/%s and the Service %s", p.AppNamespace, chain.DefaultVirtualServiceName(p.Name), quote(p.Service))
		}
	}
	if err := b.albSecret(r.tlsSecret); err != nil {
		return b.failed(err)
	}
	return b.finish()
}

// httpRoute takes the chain's Service and port from its HTTPRoute's first
// backendRef.
func (b *builder) httpRoute(rt *unstructured.Unstructured) bool {
	p := b.p
	p.VirtualServiceName = rt.GetName()
	rules, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
	for _, r := range rules {
		rm, ok := r.(map[string]any)
		if !ok {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(rm, "backendRefs")
		for _, ref := range refs {
			m, ok := ref.(map[string]any)
			if !ok {
				continue
			}
			if kind, _ := m["kind"].(string); kind != "" && kind != "Service" {
				continue
			}
			name, _ := m["name"].(string)
			if name == "" {
				continue
			}
			p.Service = name
			if n, ok, _ := unstructured.NestedInt64(m, "port"); ok && n > 0 && n <= 65535 {
				p.Port = int32(n)
			}
			return true
		}
	}
	return false
}

// failed is a chain whose reconstruction met an API error.
func (b *builder) failed(err error) Found {
	b.found.Problem, b.found.Err = err.Error(), err
	return b.found
}

// walkthroughChains finds the unlabelled chains of the gateway namespaces.
func (d *discovery) walkthroughChains() ([]Found, error) {
	type candidate struct {
		ing     networkingv1.Ingress
		service string // the gateway Service it reaches
	}
	var cands []candidate
	for _, ns := range sortedKeys(d.candidates) {
		for _, ing := range d.candidates[ns] {
			svc, err := d.reachesGateway(&ing)
			if err != nil {
				return nil, err
			}
			if svc != "" {
				cands = append(cands, candidate{ing: ing, service: svc})
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	// Their Gateways and VirtualServices carry no label: list the Gateways
	// of the namespaces that hold such an Ingress, and the VirtualServices
	// (once) — only now that a walkthrough-shaped chain is known to exist.
	gateways := map[string][]unstructured.Unstructured{}
	var vss []unstructured.Unstructured
	var mu sync.Mutex
	var fns []func() error
	nss := map[string]bool{}
	for _, c := range cands {
		nss[c.ing.Namespace] = true
	}
	if d.istioVersion != "" {
		for _, ns := range sortedKeys(nss) {
			fns = append(fns, func() error {
				items, err := d.api.List(d.ctx, kube.IstioResource(d.istioVersion, "gateways"), ns, "")
				mu.Lock()
				gateways[ns] = items
				mu.Unlock()
				return err
			})
		}
		fns = append(fns, func() (err error) {
			vss, err = d.api.List(d.ctx, kube.IstioResource(d.istioVersion, "virtualservices"), "", "")
			return err
		})
	}
	if err := d.parallel(fns...); err != nil {
		return nil, err
	}
	var out []Found
	for _, c := range cands {
		out = append(out, d.walkthroughChain(c.ing, c.service, gateways[c.ing.Namespace], vss))
	}
	return out, nil
}

// reachesGateway says whether an unlabelled Ingress is a chain: it sends
// its host to a gateway Service of its namespace over TLS the ALB is told
// to verify, as a flavor's settings say (flavor.ReachedGateway: classic's
// ssl-services, nginx's proxy-ssl-secret, a Traefik ServersTransport on the
// Service it routes to). It returns the gateway Service's name, "" when the
// Ingress is not a chain.
func (d *discovery) reachesGateway(ing *networkingv1.Ingress) (gatewayService string, err error) {
	r := ingressRoute(ing)
	if r.service == "" || r.host == "" {
		return "", nil
	}
	var gateways []flavor.GatewayService
	for _, s := range d.gatewaySvcs[ing.Namespace] {
		sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector")
		gateways = append(gateways, flavor.GatewayService{Name: s.GetName(), Selector: sel})
	}
	fr := flavor.Route{Ingress: ing, Service: r.service, Flavor: flavorOf(ing, d.classes)}
	for _, fl := range flavor.All() {
		if svc, err := fl.ReachedGateway(fr, gateways, lookup{d}); err != nil || svc != "" {
			return svc, err
		}
	}
	return "", nil
}

// walkthroughChain reconstructs an unlabelled chain: the Ingress, the
// MUTUAL Gateway of its namespace serving its host, and the VirtualService
// bound to that Gateway for the host.
func (d *discovery) walkthroughChain(ing networkingv1.Ingress, gatewayService string, gateways, vss []unstructured.Unstructured) Found {
	b := d.newBuilder(&ing, ShapeWalkthrough)
	p := b.p
	r := b.ingress(&ing)
	sni, err := b.alb(&ing, r)
	if err != nil {
		return b.failed(err)
	}
	p.GatewayService = gatewayService
	if sni != "" {
		p.GatewayDomain = sni
	}
	var podLabels map[string]string
	for _, s := range d.gatewaySvcs[ing.Namespace] {
		if s.GetName() == gatewayService {
			podLabels, _, _ = unstructured.NestedStringMap(s.Object, "spec", "selector")
		}
	}
	gw := pickGateway(gateways, podLabels, []string{p.Host, sni})
	if gw != nil {
		b.gateway(gw, sni)
	}
	vs := pickVirtualService(vss, gw, p.Host)
	switch {
	case vs == nil && gw == nil:
		b.problem("no MUTUAL Gateway in %s serves %s, so the chain's app is unknown", ing.Namespace, quote(p.Host))
	case vs == nil:
		b.problem("no VirtualService bound to Gateway %s/%s routes %s, so the chain's app is unknown", gw.GetNamespace(), gw.GetName(), quote(p.Host))
	default:
		b.virtualService(vs)
		p.Name = p.Service
		if msgs := validation.IsValidLabelValue(p.Name); len(msgs) > 0 || p.Name == "" {
			p.Name = vs.GetName()
		}
	}
	if err := b.albSecret(r.tlsSecret); err != nil {
		return b.failed(err)
	}
	return b.finish()
}

// pickGateway is the Gateway (sorted by name) whose MUTUAL server lists one
// of hosts, else the first MUTUAL one whose selector matches podLabels (the
// gateway Service's selector, which its pods carry).
func pickGateway(gateways []unstructured.Unstructured, podLabels map[string]string, hosts []string) *unstructured.Unstructured {
	sorted := make([]*unstructured.Unstructured, len(gateways))
	for i := range gateways {
		sorted[i] = &gateways[i]
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetName() < sorted[j].GetName() })
	var fallback *unstructured.Unstructured
	for _, gw := range sorted {
		servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
		for _, s := range servers {
			srv, ok := s.(map[string]any)
			if !ok {
				continue
			}
			if mode, _, _ := unstructured.NestedString(srv, "tls", "mode"); mode != "MUTUAL" {
				continue
			}
			sh, _, _ := unstructured.NestedStringSlice(srv, "hosts")
			for _, h := range hosts {
				if h != "" && contains(stripNamespaces(sh), h) {
					return gw
				}
			}
			sel, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "selector")
			if fallback == nil && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels)) {
				fallback = gw
			}
		}
	}
	return fallback
}

// pickVirtualService is the VirtualService (sorted by namespace and name)
// bound to gw that serves host by name, else one that serves it as "*".
func pickVirtualService(vss []unstructured.Unstructured, gw *unstructured.Unstructured, host string) *unstructured.Unstructured {
	if gw == nil {
		return nil
	}
	ref := gw.GetNamespace() + "/" + gw.GetName()
	sorted := make([]*unstructured.Unstructured, len(vss))
	for i := range vss {
		sorted[i] = &vss[i]
	}
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	var wildcard *unstructured.Unstructured
	for _, vs := range sorted {
		if !contains(vsGateways(vs), ref) {
			continue
		}
		hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
		if contains(hosts, host) {
			return vs
		}
		if wildcard == nil && contains(hosts, "*") {
			wildcard = vs
		}
	}
	return wildcard
}

// cloneParams copies p deeply enough that one chain's changes never reach
// another's.
func cloneParams(p *chain.Params) *chain.Params {
	c := *p
	c.GatewaySelector = maps.Clone(p.GatewaySelector)
	c.Paths = append([]string(nil), p.Paths...)
	return &c
}

func byNamespace(items []unstructured.Unstructured) map[string][]*unstructured.Unstructured {
	m := map[string][]*unstructured.Unstructured{}
	for i := range items {
		m[items[i].GetNamespace()] = append(m[items[i].GetNamespace()], &items[i])
	}
	return m
}

func convertAll[T any](items []unstructured.Unstructured) ([]T, error) {
	out := make([]T, len(items))
	for i := range items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("%s %s/%s is malformed: %w", items[i].GetKind(), items[i].GetNamespace(), items[i].GetName(), err)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// quote shows a value read from the cluster safely (escaped, bounded).
func quote(s string) string { return safetext.Quote(s, 0) }
