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
// Get returns (nil, nil) for an object that does not exist.
type API interface {
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error)
	APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error)
}

// MaxRequests is the most API requests Read makes (Traefik flavor, private
// CA identity): one discovery request, two LISTs (IngressClasses, which are
// cluster-scoped and few, and the gateway pods by --gateway-selector) and
// GETs by name. It does not depend on how many objects the cluster holds.
const MaxRequests = 17

// Read takes a Snapshot of the chain p describes. It needs only get and list
// permissions. Secrets are read by name, never listed, so a read-only Role
// can restrict them with resourceNames. When p.Flavor is auto, Read resolves
// it from the IngressClasses it reads (setting p.Flavor and, if empty,
// p.IngressClass) or records why it could not in Snapshot.FlavorError.
// Errors are API failures (forbidden, unreachable); absent objects are not
// errors but nil fields, which the rules report.
func Read(ctx context.Context, api API, p *chain.Params) (*Snapshot, error) {
	r := &reader{ctx: ctx, api: api}
	s := &Snapshot{}

	group, err := api.APIGroup(ctx, render.IstioGroup)
	if err != nil {
		return nil, err
	}
	if group != nil {
		s.IstioServed = []string{}
		for _, v := range group.Versions {
			s.IstioServed = append(s.IstioServed, v.Version)
		}
		for _, want := range render.IstioVersions {
			if contains(s.IstioServed, want) {
				s.IstioVersion = want
				break
			}
		}
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

	if s.IstioVersion != "" {
		s.Gateway = getInto[istiov1.Gateway](r, kube.IstioResource(s.IstioVersion, "gateways"), p.AppNamespace, p.GatewayName)
		s.VirtualService = getInto[istiov1.VirtualService](r, kube.IstioResource(s.IstioVersion, "virtualservices"), p.AppNamespace, p.VirtualServiceName)
	}

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

func (r *reader) secret(namespace, name string) *corev1.Secret {
	return getInto[corev1.Secret](r, kube.Secrets, namespace, name)
}

// getInto reads an object and converts it to T; absent objects are nil.
func getInto[T any](r *reader, gvr schema.GroupVersionResource, namespace, name string) *T {
	u := r.get(gvr, namespace, name)
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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
