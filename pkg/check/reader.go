package check

import (
	"context"
	"encoding/json"
	"fmt"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// API is what Read needs from the cluster; *kube.Clients implements it.
// Get returns (nil, nil) for an object that does not exist; GetServed also
// says whether the resource is served at all.
type API interface {
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error)
	List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error)
	APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error)
}

// Requests is what Read costs on a healthy chain of the nginx or classic
// flavor: one LIST of IngressClasses (cluster-scoped, a handful), one LIST
// of the plugin's own secrets in the Istio namespace, one LIST of the gateway
// pods by --gateway-selector, and GETs by name of the IKS ALB and gateway
// secrets, the Ingress, Gateway, VirtualService, gateway Service, app
// namespace and app Service. Traefik adds its ServersTransport and the
// plugin's Service (MaxRequests). None of these depends on how many objects
// the cluster holds. Only an unhealthy chain costs more: one discovery
// request when Istio's v1 is not served, one GET per expected secret that is
// missing from the LIST (or per secret, when a Role forbids the LIST).
const (
	Requests    = 11
	MaxRequests = Requests + 2
)

// Read takes a Snapshot of the chain p describes. It needs only get and list
// permissions. When p.Flavor is auto, Read resolves it from the
// IngressClasses it reads (setting p.Flavor and, if empty, p.IngressClass)
// or records why it could not in Snapshot.FlavorError. Errors are API
// failures (forbidden, unreachable); absent objects are not errors but nil
// fields, which the rules report.
func Read(ctx context.Context, api API, p *chain.Params) (*Snapshot, error) {
	r := &reader{ctx: ctx, api: api}
	s := &Snapshot{}

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
	s.CACert = r.secret(p.IstioNamespace, p.CACertSecret())
	if usesPrivateCA(s.ClientSecret, p) {
		s.CASecret = r.secret(p.IstioNamespace, p.CASecret)
	}

	s.Ingress = getInto[networkingv1.Ingress](r, kube.Ingresses, p.IstioNamespace, p.IngressName)
	tlsName := ingressTLSSecretName(s.Ingress, p)
	if p.IstioNamespace == p.ALBSecretNamespace && tlsName == p.ALBSecret {
		s.IngressTLSSecret = s.ALBSecret
	} else {
		s.IngressTLSSecret = r.secret(p.IstioNamespace, tlsName)
	}

	r.readIstio(s, p)

	s.GatewayService = getInto[corev1.Service](r, kube.Services, p.IstioNamespace, p.GatewayService)
	if len(p.GatewaySelector) > 0 {
		for _, u := range r.list(kube.Pods, p.IstioNamespace, p.SelectorString()) {
			var pod corev1.Pod
			if r.convert(&u, &pod) {
				s.GatewayPods = append(s.GatewayPods, pod)
			}
		}
	}
	s.AppNamespace = getInto[corev1.Namespace](r, kube.Namespaces, "", p.AppNamespace)
	s.AppService = getInto[corev1.Service](r, kube.Services, p.AppNamespace, p.Service)

	if p.Flavor == chain.FlavorTraefik {
		s.BackendService = getInto[corev1.Service](r, kube.Services, p.IstioNamespace, p.BackendService())
		if u := r.get(kube.ServersTransport, p.IstioNamespace, p.TransportName()); u != nil {
			st := &ServersTransport{Namespace: u.GetNamespace(), Name: u.GetName()}
			if spec, ok := u.Object["spec"]; ok {
				r.convertJSON(spec, &st.Spec)
			}
			s.ServersTransport = st
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// readIstio reads the Gateway and VirtualService. It asks for the Gateway
// at v1 (Istio 1.22 and later) without discovering first: the answer says
// whether v1 is served, so a current cluster costs no discovery request.
// Only when v1 is not served does discovery say which version is (v1beta1,
// read as such) or that Istio is not installed.
func (r *reader) readIstio(s *Snapshot, p *chain.Params) {
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
		// The server has just said v1 is not served; that beats a
		// discovery cache that still lists it.
		s.IstioServed = []string{}
		for _, v := range group.Versions {
			if v.Version != v1 {
				s.IstioServed = append(s.IstioServed, v.Version)
			}
		}
		s.IstioVersion = kube.PreferredIstioVersion(s.IstioServed)
		if s.IstioVersion == "" {
			return // served, but only versions too old to read
		}
		u = r.get(kube.IstioResource(s.IstioVersion, "gateways"), p.IstioNamespace, p.GatewayName)
	}
	s.Gateway = decode[istiov1.Gateway](r, u)
	s.VirtualService = getInto[istiov1.VirtualService](r, kube.IstioResource(s.IstioVersion, "virtualservices"), p.AppNamespace, p.VirtualServiceName)
}

// usesPrivateCA says whether the client identity comes from the plugin's
// private CA, the only case where its secret matters to check.
func usesPrivateCA(client *corev1.Secret, p *chain.Params) bool {
	if client != nil {
		if mode, ok := client.Annotations[chain.AnnotationIdentity]; ok {
			return mode == string(chain.IdentityPrivateCA)
		}
	}
	return p.Identity == chain.IdentityPrivateCA
}

// ingressTLSSecretName is the secret the Ingress serves the host with: the
// spec.tls entry that lists the host, else the one without hosts (which
// covers every rule), else the ALB secret's name, which the plugin's copy has.
func ingressTLSSecretName(ing *networkingv1.Ingress, p *chain.Params) string {
	if ing != nil {
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" && hostListed(t.Hosts, p.Host) {
				return t.SecretName
			}
		}
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" && len(t.Hosts) == 0 {
				return t.SecretName
			}
		}
	}
	return p.ALBSecret
}

// reader performs the requests of one Read and keeps the first error, so
// the sequence of reads stays linear.
type reader struct {
	ctx context.Context
	api API
	err error
	// owned are the plugin's secrets in ownedNamespace by name, from one
	// LIST; nil when that LIST was not allowed.
	owned          map[string]*corev1.Secret
	ownedNamespace string
}

// readOwnedSecrets reads the secrets the plugin wrote in namespace (the
// client secret, -cacert, the CA and the ALB TLS copy) in one LIST selected
// by the plugin's managed-by label. The API server filters by label, so no
// other secret of that namespace (Istio's CA key, other hosts' credentials)
// is ever sent to the plugin. A Role that grants get only (say, with
// resourceNames) forbids the LIST; then each secret is read by name.
func (r *reader) readOwnedSecrets(namespace string) {
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

func (r *reader) get(gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
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

func (r *reader) list(gvr schema.GroupVersionResource, namespace, selector string) []unstructured.Unstructured {
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

// secret reads a secret by name unless the LIST of the plugin's own
// secrets already brought it. A secret missing from that LIST may still
// exist without the plugin's label (say, made by the walkthrough's kubectl
// create), which the rules must see, so it is read by name.
func (r *reader) secret(namespace, name string) *corev1.Secret {
	if sec, ok := r.owned[name]; ok && namespace == r.ownedNamespace {
		return sec
	}
	return getInto[corev1.Secret](r, kube.Secrets, namespace, name)
}

// getInto reads an object and converts it to T; absent objects are nil.
func getInto[T any](r *reader, gvr schema.GroupVersionResource, namespace, name string) *T {
	return decode[T](r, r.get(gvr, namespace, name))
}

// decode converts an object read to T; nil stays nil.
func decode[T any](r *reader, u *unstructured.Unstructured) *T {
	if u == nil {
		return nil
	}
	out := new(T)
	if !r.convert(u, out) {
		return nil
	}
	return out
}

func (r *reader) convert(u *unstructured.Unstructured, into any) bool {
	if err := fromUnstructured(u, into); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *reader) convertJSON(v any, into any) bool {
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

// fromUnstructured converts through JSON: Istio's types are protobuf
// messages whose JSON decoding (oneofs, enums by name) only their own
// UnmarshalJSON knows.
func fromUnstructured(u *unstructured.Unstructured, into any) error {
	data, err := u.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err != nil {
		return fmt.Errorf("%s %s is malformed: %w", u.GetKind(), objectName(u.GetNamespace(), u.GetName()), err)
	}
	return nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
