package check

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// The Kubernetes Gateway API as check reads it in Gateway API mode
// (Params.GatewayAPI): the Gateway, its GatewayClass, the chain's HTTPRoute,
// the ConfigMap the Gateway's frontend validation names, ReferenceGrants
// where a reference crosses namespaces, and the Gateway CRD for the bundle
// version and channel the cluster installed. The Gateway API's Go types are
// not a dependency of the plugin: these structs hold the fields check
// judges, decoded from JSON as the API server sends them.

const (
	gatewayAPIGroup = "gateway.networking.k8s.io"
	// gatewayClassIstio is the class Istio's controller serves.
	gatewayClassIstio = "istio"
	// gatewayNameLabel is the label Istio puts on the pods of a Gateway it
	// deploys (its Deployment and Service are <gateway>-<class>).
	gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"
	// namespaceNameLabel is the label the API server puts on every
	// namespace, its own name: what allowedRoutes selectors match by name.
	namespaceNameLabel = "kubernetes.io/metadata.name"
	// Annotations of the Gateway API's CRDs.
	bundleVersionAnnotation = "gateway.networking.k8s.io/bundle-version"
	channelAnnotation       = "gateway.networking.k8s.io/channel"
	// tlsTerminateModeOption is Istio's listener option that asks for
	// MUTUAL without frontend validation (its CA then comes from
	// <credential>-cacert, as for the classic API).
	tlsTerminateModeOption = "gateway.istio.io/tls-terminate-mode"
	// frontendMinBundle is the first Gateway API release whose Standard
	// channel has spec.tls.frontend (GEP-91); frontendMinIstio the first
	// Istio minor that translates it to MUTUAL.
	frontendMinBundle = "v1.5.0"
	frontendMinIstio  = 28
	// standardInstall is how the standard CRDs are installed.
	standardInstall = "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.0/standard-install.yaml"
)

var (
	gwGateways        = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1", Resource: "gateways"}
	gwHTTPRoutes      = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1", Resource: "httproutes"}
	gwGatewayClasses  = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1", Resource: "gatewayclasses"}
	gwReferenceGrants = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1beta1", Resource: "referencegrants"}
	crdResource       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// gatewayCRDName is the Gateway CRD, whose annotations say which Gateway
// API release and channel the cluster installed.
const gatewayCRDName = "gateways." + gatewayAPIGroup

// GatewayAPISnapshot is what Gateway API mode reads instead of the Istio
// Gateway and VirtualService. A nil object was not found.
type GatewayAPISnapshot struct {
	// Served says gateway.networking.k8s.io/v1 Gateways are served.
	Served bool
	// CRD is the Gateway CRD's release facts; nil when it could not be
	// read (a Role without get on CRDs, or not served).
	CRD *GatewayAPICRD
	// CRDForbidden says the CRD could not be read for want of permission.
	CRDForbidden bool

	GatewayClass *GWGatewayClass
	// GatewayClassForbidden says the GatewayClass, cluster-scoped, could
	// not be read for want of permission (a namespaced Role).
	GatewayClassForbidden bool
	Gateway               *GWGateway
	HTTPRoute             *GWHTTPRoute
	// ClientCA is the ConfigMap the Gateway's frontend validation names
	// (or, with no such reference, the plugin's ClientCAConfigMap).
	ClientCA *corev1.ConfigMap
	// ClientCASecret and ClientCASecretCACert are read only when the
	// frontend validation names a Secret: the Secret and <name>-cacert,
	// which Istio's SDS reads first.
	ClientCASecret       *corev1.Secret
	ClientCASecretCACert *corev1.Secret
	// ReferenceGrants are the grants of each namespace a reference of the
	// chain crosses into; only those namespaces are listed.
	ReferenceGrants map[string][]GWReferenceGrant
	// ReferenceGrantsForbidden lists namespaces whose grants could not be listed.
	ReferenceGrantsForbidden map[string]bool
}

// GatewayAPICRD is the installed Gateway CRD's release.
type GatewayAPICRD struct {
	BundleVersion string
	Channel       string
	// Versions are the versions the CRD serves.
	Versions []string
}

// GWCondition is a status condition as the Gateway API writes them.
type GWCondition = metav1.Condition

// GWGatewayClass is a GatewayClass.
type GWGatewayClass struct {
	Name       string
	Generation int64
	Spec       struct {
		ControllerName string `json:"controllerName"`
	}
	Status struct {
		Conditions []GWCondition `json:"conditions"`
	}
}

// GWObjectRef is a certificateRef, caCertificateRef or backendRef.
type GWObjectRef struct {
	Group     *string `json:"group,omitempty"`
	Kind      *string `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace *string `json:"namespace,omitempty"`
	Port      *int32  `json:"port,omitempty"`
}

// kindOr is the reference's kind, def when not set.
func (r GWObjectRef) kindOr(def string) string {
	if r.Kind == nil || *r.Kind == "" {
		return def
	}
	return *r.Kind
}

// groupOr is the reference's group, def when not set ("" is the core group).
func (r GWObjectRef) groupOr(def string) string {
	if r.Group == nil {
		return def
	}
	return *r.Group
}

// namespaceOr is the reference's namespace, def (the referrer's) when not set.
func (r GWObjectRef) namespaceOr(def string) string {
	if r.Namespace == nil || *r.Namespace == "" {
		return def
	}
	return *r.Namespace
}

// GWListener is one listener of a Gateway.
type GWListener struct {
	Name     string  `json:"name"`
	Hostname *string `json:"hostname,omitempty"`
	Port     int32   `json:"port"`
	Protocol string  `json:"protocol"`
	TLS      *struct {
		Mode            *string           `json:"mode,omitempty"`
		CertificateRefs []GWObjectRef     `json:"certificateRefs,omitempty"`
		Options         map[string]string `json:"options,omitempty"`
	} `json:"tls,omitempty"`
	AllowedRoutes *struct {
		Namespaces *struct {
			From     *string               `json:"from,omitempty"`
			Selector *metav1.LabelSelector `json:"selector,omitempty"`
		} `json:"namespaces,omitempty"`
	} `json:"allowedRoutes,omitempty"`
}

// hostname is the listener's hostname, "*" when it has none (all hosts).
func (l GWListener) hostname() string {
	if l.Hostname == nil || *l.Hostname == "" {
		return "*"
	}
	return *l.Hostname
}

// GWFrontendTLS is a Gateway's frontend TLS configuration (GEP-91).
type GWFrontendTLS struct {
	Validation *struct {
		CACertificateRefs []GWObjectRef `json:"caCertificateRefs,omitempty"`
		Mode              string        `json:"mode,omitempty"`
	} `json:"validation,omitempty"`
}

// GWGateway is a gateway.networking.k8s.io Gateway.
type GWGateway struct {
	Namespace, Name string
	Generation      int64
	Spec            struct {
		GatewayClassName string `json:"gatewayClassName"`
		Addresses        []struct {
			Type  *string `json:"type,omitempty"`
			Value string  `json:"value"`
		} `json:"addresses,omitempty"`
		Listeners []GWListener `json:"listeners"`
		TLS       *struct {
			Frontend *struct {
				Default GWFrontendTLS `json:"default"`
				PerPort []struct {
					Port int32         `json:"port"`
					TLS  GWFrontendTLS `json:"tls"`
				} `json:"perPort,omitempty"`
			} `json:"frontend,omitempty"`
		} `json:"tls,omitempty"`
	}
	Status struct {
		Conditions []GWCondition `json:"conditions,omitempty"`
		Listeners  []struct {
			Name       string        `json:"name"`
			Conditions []GWCondition `json:"conditions,omitempty"`
		} `json:"listeners,omitempty"`
	}
	ManagedFields []metav1.ManagedFieldsEntry
}

// frontendFor is the frontend validation Istio applies to port (a perPort
// entry, else the default; istio pilot/pkg/config/kube/gateway
// resolveGatewayTLS) and the field path it was read from; nil without one.
func (g *GWGateway) frontendFor(port int32) (*GWFrontendTLS, string) {
	if g.Spec.TLS == nil || g.Spec.TLS.Frontend == nil {
		return nil, ""
	}
	f := g.Spec.TLS.Frontend
	for i := range f.PerPort {
		if f.PerPort[i].Port == port {
			return &f.PerPort[i].TLS, fmt.Sprintf("spec.tls.frontend.perPort[%d].tls", i)
		}
	}
	return &f.Default, "spec.tls.frontend.default"
}

// listenerConditions are the status conditions of the listener named name.
func (g *GWGateway) listenerConditions(name string) ([]GWCondition, bool) {
	for _, l := range g.Status.Listeners {
		if l.Name == name {
			return l.Conditions, true
		}
	}
	return nil, false
}

// GWParentRef is an HTTPRoute's parentRef.
type GWParentRef struct {
	Group       *string `json:"group,omitempty"`
	Kind        *string `json:"kind,omitempty"`
	Namespace   *string `json:"namespace,omitempty"`
	Name        string  `json:"name"`
	SectionName *string `json:"sectionName,omitempty"`
	Port        *int32  `json:"port,omitempty"`
}

// names says whether the parentRef, written in routeNS, names the Gateway.
func (r GWParentRef) names(ns, name, routeNS string) bool {
	group, kind, refNS := gatewayAPIGroup, "Gateway", routeNS
	if r.Group != nil {
		group = *r.Group
	}
	if r.Kind != nil {
		kind = *r.Kind
	}
	if r.Namespace != nil && *r.Namespace != "" {
		refNS = *r.Namespace
	}
	return group == gatewayAPIGroup && kind == "Gateway" && refNS == ns && r.Name == name
}

// GWHTTPRoute is an HTTPRoute.
type GWHTTPRoute struct {
	Namespace, Name string
	Generation      int64
	Spec            struct {
		ParentRefs []GWParentRef `json:"parentRefs,omitempty"`
		Hostnames  []string      `json:"hostnames,omitempty"`
		Rules      []struct {
			Matches []struct {
				Path *struct {
					Type  *string `json:"type,omitempty"`
					Value *string `json:"value,omitempty"`
				} `json:"path,omitempty"`
			} `json:"matches,omitempty"`
			BackendRefs []GWObjectRef `json:"backendRefs,omitempty"`
		} `json:"rules,omitempty"`
	}
	Status struct {
		Parents []struct {
			ParentRef      GWParentRef   `json:"parentRef"`
			ControllerName string        `json:"controllerName"`
			Conditions     []GWCondition `json:"conditions,omitempty"`
		} `json:"parents,omitempty"`
	}
	ManagedFields []metav1.ManagedFieldsEntry
}

// GWReferenceGrant is a ReferenceGrant.
type GWReferenceGrant struct {
	Namespace, Name string
	Spec            struct {
		From []struct {
			Group     string `json:"group"`
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
		} `json:"from"`
		To []struct {
			Group string  `json:"group"`
			Kind  string  `json:"kind"`
			Name  *string `json:"name,omitempty"`
		} `json:"to"`
	}
}

// permits says whether the grant lets a fromKind in fromNS refer to the
// toKind named toName in the grant's namespace.
func (g GWReferenceGrant) permits(fromKind, fromNS, toGroup, toKind, toName string) bool {
	from := false
	for _, f := range g.Spec.From {
		if f.Group == gatewayAPIGroup && f.Kind == fromKind && f.Namespace == fromNS {
			from = true
		}
	}
	if !from {
		return false
	}
	for _, t := range g.Spec.To {
		if t.Group == toGroup && t.Kind == toKind && (t.Name == nil || *t.Name == "" || *t.Name == toName) {
			return true
		}
	}
	return false
}

// crossRef is a reference of the chain's Gateway API objects into another
// namespace, which takes a ReferenceGrant there.
type crossRef struct {
	fromKind, fromNS, object, field string
	toGroup, toKind, toNS, toName   string
}

// crossRefs lists the chain's references that cross namespaces: the
// listeners' certificateRefs and the frontend's caCertificateRefs (from the
// Gateway), the HTTPRoute's backendRefs. A route's parentRef into the
// Gateway's namespace is not among them: the listener's allowedRoutes
// governs it.
func crossRefs(gw *GWGateway, route *GWHTTPRoute) []crossRef {
	var out []crossRef
	if gw != nil {
		obj := ObjectRef("Gateway", gw.Namespace, gw.Name)
		for i, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for j, ref := range l.TLS.CertificateRefs {
				if ns := ref.namespaceOr(gw.Namespace); ns != gw.Namespace {
					out = append(out, crossRef{"Gateway", gw.Namespace, obj, fmt.Sprintf("spec.listeners[%d].tls.certificateRefs[%d]", i, j),
						ref.groupOr(""), ref.kindOr("Secret"), ns, ref.Name})
				}
			}
		}
		for _, port := range gatewayPorts(gw) {
			f, field := gw.frontendFor(port)
			if f == nil || f.Validation == nil {
				continue
			}
			for j, ref := range f.Validation.CACertificateRefs {
				if ns := ref.namespaceOr(gw.Namespace); ns != gw.Namespace {
					out = append(out, crossRef{"Gateway", gw.Namespace, obj, fmt.Sprintf("%s.validation.caCertificateRefs[%d]", field, j),
						ref.groupOr(""), ref.kindOr(""), ns, ref.Name})
				}
			}
		}
	}
	if route != nil {
		obj := ObjectRef("HTTPRoute", route.Namespace, route.Name)
		for i, rule := range route.Spec.Rules {
			for j, ref := range rule.BackendRefs {
				if ns := ref.namespaceOr(route.Namespace); ns != route.Namespace {
					out = append(out, crossRef{"HTTPRoute", route.Namespace, obj, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j),
						ref.groupOr(""), ref.kindOr("Service"), ns, ref.Name})
				}
			}
		}
	}
	// One entry per (field): the same frontend may apply to two ports.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, c := range out {
		if !seen[c.field] {
			seen[c.field] = true
			uniq = append(uniq, c)
		}
	}
	return uniq
}

// gatewayPorts are the distinct ports of the Gateway's listeners.
func gatewayPorts(gw *GWGateway) []int32 {
	var ports []int32
	seen := map[int32]bool{}
	for _, l := range gw.Spec.Listeners {
		if !seen[l.Port] {
			seen[l.Port] = true
			ports = append(ports, l.Port)
		}
	}
	return ports
}

// gatewayAPIPodSelector is the selector of the gateway's pods in Gateway
// API mode: those of the Gateway Istio deploys carry its name
// (gateway.networking.k8s.io/gateway-name), and the Service Istio deploys
// is <gateway>-istio; a Gateway that names an existing Service in
// spec.addresses runs on the pods --gateway-selector selects.
func gatewayAPIPodSelector(p *chain.Params) map[string]string {
	if p.GatewayService == p.GatewayName+"-"+gatewayClassIstio {
		return map[string]string{gatewayNameLabel: p.GatewayName}
	}
	return p.GatewaySelector
}

// readGatewayAPI reads the Gateway API objects of the chain: the Gateway
// CRD, the Gateway (its answer says whether v1 is served), then the
// GatewayClass, the HTTPRoute, the CA the frontend validation names and
// ReferenceGrants where a reference crosses namespaces. Each is one
// request; they run concurrently wherever one does not need another's
// answer.
func (r *reader) readGatewayAPI(s *Snapshot, p *chain.Params) {
	g := &GatewayAPISnapshot{}
	s.GatewayAPI = g
	crd := r.async(func() {
		var u *unstructured.Unstructured
		forbidden := false
		if !r.call(stepGatewayAPICRD, func() (err error) {
			u, err = r.api.Get(r.ctx, crdResource, "", gatewayCRDName)
			if kube.IsForbidden(err) {
				forbidden = true
				return nil
			}
			return err
		}) {
			return
		}
		g.CRDForbidden = forbidden
		if u != nil {
			g.CRD = decodeCRD(u)
		}
	})
	var served bool
	var gwObj *unstructured.Unstructured
	if !r.call(stepGatewayAPIGateway, func() (err error) {
		gwObj, served, err = r.api.GetServed(r.ctx, gwGateways, p.IstioNamespace, p.GatewayName)
		return err
	}) {
		return
	}
	g.Served = served
	if !served {
		<-crd
		return
	}
	if gwObj != nil {
		g.Gateway = decodeGW[GWGateway](r, stepGatewayAPIGateway, gwObj)
	}
	className := gatewayClassIstio
	if g.Gateway != nil && g.Gateway.Spec.GatewayClassName != "" {
		className = g.Gateway.Spec.GatewayClassName
	}
	class := r.async(func() {
		var u *unstructured.Unstructured
		forbidden := false
		if r.call(stepGatewayClass, func() (err error) {
			u, err = r.api.Get(r.ctx, gwGatewayClasses, "", className)
			if kube.IsForbidden(err) {
				forbidden = true
				return nil
			}
			return err
		}) {
			g.GatewayClassForbidden = forbidden
			if u != nil {
				g.GatewayClass = decodeGW[GWGatewayClass](r, stepGatewayClass, u)
			}
		}
	})
	route := r.async(func() {
		if u := r.get(stepHTTPRoute, gwHTTPRoutes, p.AppNamespace, p.VirtualServiceName); u != nil {
			g.HTTPRoute = decodeGW[GWHTTPRoute](r, stepHTTPRoute, u)
		}
	})
	ca := r.async(func() { r.readFrontendCA(g, p) })
	<-route
	grants := map[string]bool{}
	for _, c := range crossRefs(g.Gateway, g.HTTPRoute) {
		grants[c.toNS] = true
	}
	for ns := range grants {
		var items []unstructured.Unstructured
		forbidden := false
		if !r.call(stepReferenceGrants, func() (err error) {
			items, err = r.api.List(r.ctx, gwReferenceGrants, ns, "")
			if kube.IsForbidden(err) {
				forbidden = true
				return nil
			}
			return err
		}) {
			break
		}
		r.mu.Lock()
		if g.ReferenceGrants == nil {
			g.ReferenceGrants, g.ReferenceGrantsForbidden = map[string][]GWReferenceGrant{}, map[string]bool{}
		}
		g.ReferenceGrantsForbidden[ns] = forbidden
		r.mu.Unlock()
		for i := range items {
			if rg := decodeGW[GWReferenceGrant](r, stepReferenceGrants, &items[i]); rg != nil {
				r.mu.Lock()
				g.ReferenceGrants[ns] = append(g.ReferenceGrants[ns], *rg)
				r.mu.Unlock()
			}
		}
	}
	<-class
	<-ca
	<-crd
}

// readFrontendCA reads the CA the Gateway's frontend validation for the
// gateway Service's port names: a ConfigMap (the plugin's, or the one
// named), or a Secret and its <name>-cacert. Without a Gateway, or without
// frontend validation, it reads the plugin's ConfigMap, which the rules
// then report as unused or missing.
func (r *reader) readFrontendCA(g *GatewayAPISnapshot, p *chain.Params) {
	ns, name, kind := p.IstioNamespace, p.ClientCAConfigMap(), "ConfigMap"
	if gw := g.Gateway; gw != nil {
		if f, _ := gw.frontendFor(p.GatewayServicePort); f != nil && f.Validation != nil && len(f.Validation.CACertificateRefs) > 0 {
			ref := f.Validation.CACertificateRefs[0]
			ns, name, kind = ref.namespaceOr(gw.Namespace), ref.Name, ref.kindOr("")
			if ref.groupOr("") != "" {
				return // no kind Istio reads; the rule says so
			}
		}
	}
	switch kind {
	case "ConfigMap":
		g.ClientCA = getInto[corev1.ConfigMap](r, stepClientCAConfigMap, configMaps, ns, name)
	case "Secret":
		g.ClientCASecret = getInto[corev1.Secret](r, stepClientCAConfigMap, kube.Secrets, ns, name)
		g.ClientCASecretCACert = getInto[corev1.Secret](r, stepClientCAConfigMap, kube.Secrets, ns, name+clientCASuffix)
	}
}

// decodeGW converts a Gateway API object to T, keeping its identity.
func decodeGW[T any](r *reader, step int, u *unstructured.Unstructured) *T {
	out, err := decodeGWObject[T](u)
	if err != nil {
		r.fail(step, err)
		return nil
	}
	return out
}

// decodeGWObject converts a Gateway API object to T, keeping its identity.
func decodeGWObject[T any](u *unstructured.Unstructured) (*T, error) {
	out := new(T)
	if err := fromUnstructured(u, out); err != nil {
		return nil, err
	}
	switch o := any(out).(type) {
	case *GWGateway:
		o.Namespace, o.Name, o.Generation, o.ManagedFields = u.GetNamespace(), u.GetName(), u.GetGeneration(), u.GetManagedFields()
	case *GWHTTPRoute:
		o.Namespace, o.Name, o.Generation, o.ManagedFields = u.GetNamespace(), u.GetName(), u.GetGeneration(), u.GetManagedFields()
	case *GWGatewayClass:
		o.Name, o.Generation = u.GetName(), u.GetGeneration()
	case *GWReferenceGrant:
		o.Namespace, o.Name = u.GetNamespace(), u.GetName()
	}
	return out, nil
}

// decodeCRD reads the release facts of a Gateway API CRD.
func decodeCRD(u *unstructured.Unstructured) *GatewayAPICRD {
	c := &GatewayAPICRD{
		BundleVersion: u.GetAnnotations()[bundleVersionAnnotation],
		Channel:       u.GetAnnotations()[channelAnnotation],
	}
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); served {
			if name, _ := m["name"].(string); name != "" {
				c.Versions = append(c.Versions, name)
			}
		}
	}
	return c
}

// istioReleasePattern reads major.minor from an image tag: 1.28.1,
// 1.28.1-distroless, 1.29-dev.
var istioReleasePattern = regexp.MustCompile(`^v?(\d+)\.(\d+)`)

// istioRelease is Istio's release as the gateway pods' istio-proxy image
// tag says (istiod injects its own release there, and it is istiod that
// translates spec.tls.frontend): minor and the image, or ok false when no
// pod names a version.
func istioRelease(pods []corev1.Pod) (major, minor int, image string, ok bool) {
	for _, pod := range pods {
		for _, c := range pod.Spec.Containers {
			if c.Name != "istio-proxy" {
				continue
			}
			image = c.Image
			i := strings.LastIndex(c.Image, ":")
			if i < 0 || strings.Contains(c.Image[i:], "/") {
				continue
			}
			m := istioReleasePattern.FindStringSubmatch(c.Image[i+1:])
			if m == nil {
				continue
			}
			major, _ = strconv.Atoi(m[1])
			minor, _ = strconv.Atoi(m[2])
			return major, minor, c.Image, true
		}
	}
	return 0, 0, image, false
}

// condition finds the condition of type t.
func condition(cs []GWCondition, t string) *GWCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// conditionSays renders a condition that is not True for a message.
func conditionSays(c *GWCondition, t string) string {
	if c == nil {
		return t + " is not reported"
	}
	s := fmt.Sprintf("%s is %s", t, c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + quote(c.Message)
	}
	return s
}

// bundleAtLeast compares Gateway API release tags ("v1.5.0").
func bundleAtLeast(v, min string) bool {
	parse := func(s string) [3]int {
		var out [3]int
		for i, part := range strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3) {
			n, _ := strconv.Atoi(strings.SplitN(part, "-", 2)[0])
			out[i] = n
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// secretCAs are the CA certificates of sec as Istio's SDS reads them
// (cacert before ca.crt), ok false when it has none that parse.
func secretCAs(sec *corev1.Secret) ([]*x509.Certificate, bool) {
	if sec == nil {
		return nil, false
	}
	for _, k := range caKeys() {
		if len(sec.Data[k]) > 0 {
			cs, _ := parseCerts(sec, k, "")
			return cs, len(cs) > 0
		}
	}
	return nil, false
}
