package check

import (
	"context"
	"encoding/json"
	"fmt"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// readSequential is Read as it was before its requests ran concurrently:
// one request after the other, stopping at the first error. It is kept,
// unchanged but for its names, as the reference the concurrent Read must
// agree with (reader_parallel_test.go): the same requests, the same
// Snapshot, the same error. The cert-manager hop's reads were added to it
// in the order of their steps.
func readSequential(ctx context.Context, api API, p *chain.Params) (*Snapshot, error) {
	r := &seqReader{ctx: ctx, api: api}
	s := &Snapshot{}
	if p.GatewayAPI {
		p.GatewaySelector = gatewayAPIPodSelector(p)
	}

	classes, err := api.List(ctx, kube.IngressClasses, "", "")
	if err != nil {
		return nil, err
	}
	for i := range classes {
		var ic networkingv1.IngressClass
		if err := fromUnstructured(&classes[i], &ic); err != nil {
			return nil, err
		}
		s.IngressClasses = append(s.IngressClasses, ic)
	}
	if p.Flavor == chain.FlavorAuto {
		f, class, err := kube.FlavorFromClasses(s.IngressClasses)
		if err != nil {
			s.FlavorError = err.Error()
		} else {
			p.Flavor = f
			if p.IngressClass == "" {
				p.IngressClass = class
			}
		}
	}

	r.readOwnedSecrets(p.IstioNamespace)
	s.ALBSecret = r.secret(p.ALBSecretNamespace, p.ALBSecret)
	s.GatewaySecret = r.secret(p.IstioNamespace, p.GatewaySecret)
	s.ClientSecret = r.secret(p.IstioNamespace, p.ClientSecret)
	certManager := hopIsCertManager(p, s.ClientSecret, r.owned)
	if p.GatewayAPI {
		s.CACert = r.owned[clientCAName(p, certManager)]
	} else {
		s.CACert = r.secret(p.IstioNamespace, clientCAName(p, certManager))
	}
	if certManager || usesPrivateCA(s.ClientSecret, p) {
		s.CASecret = r.secret(p.IstioNamespace, p.CASecret)
	}
	if certManager {
		s.HopServerSecret = r.secret(p.IstioNamespace, p.HopServerSecret())
	}

	s.Ingress = seqGetInto[networkingv1.Ingress](r, kube.Ingresses, p.IstioNamespace, p.IngressName)
	tlsName := ingressTLSSecretName(s.Ingress, p)
	if p.IstioNamespace == p.ALBSecretNamespace && tlsName == p.ALBSecret {
		s.IngressTLSSecret = s.ALBSecret
	} else {
		s.IngressTLSSecret = r.secret(p.IstioNamespace, tlsName)
	}

	if !p.GatewayAPI {
		r.readIstio(s, p)
	}
	if name := namedClientCAName(s.Gateway, p, certManager); name != "" {
		s.NamedClientCA = r.secret(p.IstioNamespace, name)
	}

	s.GatewayService = seqGetInto[corev1.Service](r, kube.Services, p.IstioNamespace, p.GatewayService)
	if len(p.GatewaySelector) > 0 {
		for _, u := range r.list(kube.Pods, p.IstioNamespace, p.SelectorString()) {
			var pod corev1.Pod
			if r.convert(&u, &pod) {
				s.GatewayPods = append(s.GatewayPods, pod)
			}
		}
	}
	s.AppNamespace = seqGetInto[corev1.Namespace](r, kube.Namespaces, "", p.AppNamespace)
	s.AppService = seqGetInto[corev1.Service](r, kube.Services, p.AppNamespace, p.Service)

	if p.Flavor == chain.FlavorTraefik {
		s.BackendService = seqGetInto[corev1.Service](r, kube.Services, p.IstioNamespace, p.BackendService())
		if u := r.get(kube.ServersTransport, p.IstioNamespace, p.TransportName()); u != nil {
			st := &ServersTransport{Namespace: u.GetNamespace(), Name: u.GetName()}
			if spec, ok := u.Object["spec"]; ok {
				r.convertJSON(spec, &st.Spec)
			}
			s.ServersTransport = st
		}
	}
	if wantsTraefikCompat(s, p) && r.err == nil {
		r.readTraefikCompat(s, p)
	}
	if wantsNginxVersion(s, p) && r.err == nil {
		r.readNginxALBs(s)
	}
	served := true
	if certManager {
		for _, cr := range certManagerReads(s, p) {
			if r.err != nil {
				break
			}
			u, ok, err := r.api.GetServed(r.ctx, cr.gvr, p.IstioNamespace, cr.name)
			if err != nil {
				r.err = err
				break
			}
			served = served && ok
			if u != nil {
				if *cr.into, err = decodeCertManager(u); err != nil {
					r.err = err
				}
			}
		}
	}
	if p.GatewayAPI {
		r.readGatewayAPI(s, p) // its steps come last
	}
	if r.err != nil {
		return nil, r.err
	}
	if certManager {
		s.CertManager, s.CertManagerServed = true, served
		p.Identity = chain.IdentityCertManager
	}
	return s, nil
}

func (r *seqReader) readIstio(s *Snapshot, p *chain.Params) {
	if r.err != nil {
		return
	}
	v1 := render.IstioVersions[0]
	u, served, err := r.api.GetServed(r.ctx, kube.IstioResource(v1, "gateways"), p.IstioNamespace, p.GatewayName)
	if err != nil {
		r.err = err
		return
	}
	if served {
		s.IstioServed, s.IstioVersion = []string{v1}, v1
	} else {
		group, err := r.api.APIGroup(r.ctx, render.IstioGroup)
		if err != nil {
			r.err = err
			return
		}
		if group == nil {
			return
		}
		s.IstioServed = []string{}
		for _, v := range group.Versions {
			if v.Version != v1 {
				s.IstioServed = append(s.IstioServed, v.Version)
			}
		}
		s.IstioVersion = kube.PreferredIstioVersion(s.IstioServed)
		if s.IstioVersion == "" {
			return
		}
		u = r.get(kube.IstioResource(s.IstioVersion, "gateways"), p.IstioNamespace, p.GatewayName)
	}
	s.Gateway = seqDecode[istiov1.Gateway](r, u)
	s.VirtualService = seqGetInto[istiov1.VirtualService](r, kube.IstioResource(s.IstioVersion, "virtualservices"), p.AppNamespace, p.VirtualServiceName)
}

type seqReader struct {
	ctx            context.Context
	api            API
	err            error
	owned          map[string]*corev1.Secret
	ownedNamespace string
}

func (r *seqReader) readOwnedSecrets(namespace string) {
	if r.err != nil {
		return
	}
	items, err := r.api.List(r.ctx, kube.Secrets, namespace, chain.LabelManagedBy+"="+chain.FieldManager)
	if kube.IsForbidden(err) {
		return
	}
	if err != nil {
		r.err = err
		return
	}
	r.owned, r.ownedNamespace = map[string]*corev1.Secret{}, namespace
	for i := range items {
		sec := new(corev1.Secret)
		if !r.convert(&items[i], sec) {
			return
		}
		r.owned[sec.Name] = sec
	}
}

func (r *seqReader) get(gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	if r.err != nil || name == "" {
		return nil
	}
	u, err := r.api.Get(r.ctx, gvr, namespace, name)
	if err != nil {
		r.err = err
		return nil
	}
	return u
}

func (r *seqReader) list(gvr schema.GroupVersionResource, namespace, selector string) []unstructured.Unstructured {
	if r.err != nil {
		return nil
	}
	items, err := r.api.List(r.ctx, gvr, namespace, selector)
	if err != nil {
		r.err = err
		return nil
	}
	return items
}

func (r *seqReader) secret(namespace, name string) *corev1.Secret {
	if sec, ok := r.owned[name]; ok && namespace == r.ownedNamespace {
		return sec
	}
	return seqGetInto[corev1.Secret](r, kube.Secrets, namespace, name)
}

func seqGetInto[T any](r *seqReader, gvr schema.GroupVersionResource, namespace, name string) *T {
	return seqDecode[T](r, r.get(gvr, namespace, name))
}

func seqDecode[T any](r *seqReader, u *unstructured.Unstructured) *T {
	if u == nil {
		return nil
	}
	out := new(T)
	if !r.convert(u, out) {
		return nil
	}
	return out
}

func (r *seqReader) convert(u *unstructured.Unstructured, into any) bool {
	if err := fromUnstructured(u, into); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *seqReader) convertJSON(v any, into any) bool {
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err != nil {
		r.err = fmt.Errorf("cannot read the ServersTransport's spec: %w", err)
		return false
	}
	return true
}

// readTraefikCompat is the sequential read of the compatibility layer: the
// ConfigMap, then each compat ALB's Deployment; forbidden is not an error.
func (r *seqReader) readTraefikCompat(s *Snapshot, p *chain.Params) {
	tc := &TraefikCompat{}
	u, err := r.api.Get(r.ctx, configMaps, iksNamespace, iksDeployConfig)
	switch {
	case kube.IsForbidden(err):
		tc.Forbidden = true
	case err != nil:
		r.err = err
		return
	}
	s.TraefikCompat = tc
	if u == nil {
		return
	}
	var cm corev1.ConfigMap
	if !r.convert(u, &cm) {
		return
	}
	tc.Providers = parseDeployConfig(&cm)
	for _, id := range compatALBIDs(tc.Providers, ingressClassName(s.Ingress)) {
		alb := CompatALB{ID: id}
		d, ok := r.albDeployment(id, &alb.Forbidden)
		if !ok {
			return
		}
		if d != nil {
			alb.Image = traefikImage(d)
			alb.Version = parseTraefikVersion(alb.Image)
		}
		tc.ALBs = append(tc.ALBs, alb)
	}
}

// albDeployment is the sequential read of an ALB's Deployment (see
// reader.albDeployment).
func (r *seqReader) albDeployment(id string, forbidden *bool) (*appsv1.Deployment, bool) {
	du, err := r.api.Get(r.ctx, deployments, iksNamespace, id)
	switch {
	case kube.IsForbidden(err):
		*forbidden = true
	case err != nil:
		r.err = err
		return nil, false
	}
	if du == nil {
		return nil, true
	}
	d := new(appsv1.Deployment)
	if !r.convert(du, d) {
		return nil, false
	}
	return d, true
}

// readNginxALBs is the sequential read of the ingress-nginx ALBs' releases:
// the ConfigMap (unless the compatibility layer's read has it), then each
// ALB's Deployment; forbidden is not an error.
func (r *seqReader) readNginxALBs(s *Snapshot) {
	na := &NginxALBs{}
	var providers map[string]string
	if tc := s.TraefikCompat; tc != nil {
		providers, na.ConfigForbidden, na.ConfigMissing = tc.Providers, tc.Forbidden, !tc.Forbidden && tc.Providers == nil
	} else {
		u, err := r.api.Get(r.ctx, configMaps, iksNamespace, iksDeployConfig)
		switch {
		case kube.IsForbidden(err):
			na.ConfigForbidden = true
		case err != nil:
			r.err = err
			return
		case u == nil:
			na.ConfigMissing = true
		default:
			var cm corev1.ConfigMap
			if !r.convert(u, &cm) {
				return
			}
			providers = parseDeployConfig(&cm)
		}
	}
	for _, id := range nginxALBIDs(providers, ingressClassName(s.Ingress)) {
		alb := NginxALB{ID: id}
		d, ok := r.albDeployment(id, &alb.Forbidden)
		if !ok {
			return
		}
		alb.Missing = d == nil && !alb.Forbidden
		if d != nil && !alb.read(d) {
			continue
		}
		na.ALBs = append(na.ALBs, alb)
	}
	s.NginxALBs = na
}

func (r *seqReader) readGatewayAPI(s *Snapshot, p *chain.Params) {
	g := &GatewayAPISnapshot{}
	s.GatewayAPI = g
	if r.err != nil {
		return
	}
	u, err := r.api.Get(r.ctx, crdResource, "", gatewayCRDName)
	switch {
	case kube.IsForbidden(err):
		g.CRDForbidden = true
	case err != nil:
		r.err = err
		return
	case u != nil:
		g.CRD = decodeCRD(u)
	}
	gwObj, served, err := r.api.GetServed(r.ctx, gwGateways, p.IstioNamespace, p.GatewayName)
	if err != nil {
		r.err = err
		return
	}
	if g.Served = served; !served {
		return
	}
	decodeInto := func(u *unstructured.Unstructured, set func(*unstructured.Unstructured) error) {
		if u != nil && r.err == nil {
			r.err = set(u)
		}
	}
	decodeInto(gwObj, func(u *unstructured.Unstructured) (err error) { g.Gateway, err = decodeGWObject[GWGateway](u); return })
	className := gatewayClassIstio
	if g.Gateway != nil && g.Gateway.Spec.GatewayClassName != "" {
		className = g.Gateway.Spec.GatewayClassName
	}
	if r.err == nil {
		u, err := r.api.Get(r.ctx, gwGatewayClasses, "", className)
		switch {
		case kube.IsForbidden(err):
			g.GatewayClassForbidden = true
		case err != nil:
			r.err = err
		}
		decodeInto(u, func(u *unstructured.Unstructured) (err error) {
			g.GatewayClass, err = decodeGWObject[GWGatewayClass](u)
			return
		})
	}
	decodeInto(r.get(gwHTTPRoutes, p.AppNamespace, p.VirtualServiceName), func(u *unstructured.Unstructured) (err error) {
		g.HTTPRoute, err = decodeGWObject[GWHTTPRoute](u)
		return
	})
	ns, name, kind := p.IstioNamespace, p.ClientCAConfigMap(), "ConfigMap"
	if gw := g.Gateway; gw != nil {
		if f, _ := gw.frontendFor(p.GatewayServicePort); f != nil && f.Validation != nil && len(f.Validation.CACertificateRefs) > 0 {
			ref := f.Validation.CACertificateRefs[0]
			ns, name, kind = ref.namespaceOr(gw.Namespace), ref.Name, ref.kindOr("")
			if ref.groupOr("") != "" {
				kind = ""
			}
		}
	}
	switch kind {
	case "ConfigMap":
		g.ClientCA = seqGetInto[corev1.ConfigMap](r, configMaps, ns, name)
	case "Secret":
		g.ClientCASecret = seqGetInto[corev1.Secret](r, kube.Secrets, ns, name)
		g.ClientCASecretCACert = seqGetInto[corev1.Secret](r, kube.Secrets, ns, name+clientCASuffix)
	}
	for _, c := range crossRefs(g.Gateway, g.HTTPRoute) {
		if _, done := g.ReferenceGrantsForbidden[c.toNS]; done || r.err != nil {
			continue
		}
		if g.ReferenceGrants == nil {
			g.ReferenceGrants, g.ReferenceGrantsForbidden = map[string][]GWReferenceGrant{}, map[string]bool{}
		}
		items, err := r.api.List(r.ctx, gwReferenceGrants, c.toNS, "")
		if kube.IsForbidden(err) {
			g.ReferenceGrantsForbidden[c.toNS] = true
			continue
		}
		if err != nil {
			r.err = err
			return
		}
		g.ReferenceGrantsForbidden[c.toNS] = false
		for i := range items {
			decodeInto(&items[i], func(u *unstructured.Unstructured) error {
				rg, err := decodeGWObject[GWReferenceGrant](u)
				if err == nil {
					g.ReferenceGrants[c.toNS] = append(g.ReferenceGrants[c.toNS], *rg)
				}
				return err
			})
		}
	}
}
