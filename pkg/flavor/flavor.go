// Package flavor holds what the plugin knows about each kind of IKS ALB, one
// file per flavor behind one interface: the objects it needs to re-encrypt to
// the gateway, the layout of its client secret, how a cluster shows it (its
// IngressClass controller and default class, the annotations that mark an
// Ingress as written for it), and how its controller reads its upstream TLS
// settings from the objects it serves. Commands, render, kube and check ask
// this package instead of switching on chain.Flavor, so that a new ALB form is
// one new file here (plus its goldens and check fixtures).
//
// Dependencies point down: flavor imports chain (the parameters and the
// flavor names), never render, kube or check.
package flavor

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// Flavor is one kind of IKS ALB.
type Flavor interface {
	// Name is the flavor as --alb-flavor spells it.
	Name() chain.Flavor

	// Controllers are the IngressClass spec.controller values of the
	// flavor's ALBs; none for an ALB that predates IngressClasses.
	Controllers() []string
	// DefaultIngressClass is the class IKS creates for the flavor's public
	// ALBs, "" when its Ingresses carry none.
	DefaultIngressClass() string
	// Marks reports whether an Ingress's annotations say it is written for
	// this flavor (for an Ingress whose class does not tell).
	Marks(annotations map[string]string) bool

	// ClientSecretKeys is where the flavor's ALB reads the client
	// certificate, its key and the CA it verifies the gateway with.
	ClientSecretKeys() SecretKeys

	// ALBSide is what the ALB needs to re-encrypt the chain's paths to the
	// gateway: the Ingress's annotations, the Service it routes to, and the
	// objects written before the Ingress (Traefik's transport).
	ALBSide(p *chain.Params, b Backend) ALBSide
	// UpstreamTLS reads, as the flavor's controller does, how the ALB
	// connects to the gateway from the objects it serves.
	UpstreamTLS(p *chain.Params, st Stored) UpstreamTLS

	// Discover reads, as discovery does for a chain it found, the client
	// secret, the gateway Service and the gateway's name from the flavor's
	// settings (the Ingress's annotations, Traefik's transport). On an
	// error, Discovered holds what was read before it.
	Discover(r Route, get Lookup) (Discovered, error)
	// ReachedGateway is, for an Ingress discovery found unlabelled, the
	// gateway Service (one of gateways) that the flavor's settings send
	// its host to over TLS the ALB is told to verify; "" when they do not.
	ReachedGateway(r Route, gateways []GatewayService, get Lookup) (string, error)
	// Notice is a warning for whoever writes the flavor's Ingress, "" for
	// none.
	Notice() string
}

// registry lists the flavors in the order an Ingress's annotations are
// recognised: the legacy image's ssl-services first, then ingress-nginx's,
// then Traefik's router annotations. Discovery asks ReachedGateway in the
// same order, so that an Ingress whose annotations send it to a gateway
// Service is taken for that Service before Traefik's Service is read.
var registry = []Flavor{classic{}, nginx{}, traefik{}}

// All are the flavors an ALB can be, in the order Marks and ReachedGateway
// are asked.
func All() []Flavor { return append([]Flavor(nil), registry...) }

// Default is the flavor taken where the cluster does not tell (auto in a
// client dry run, which reads no cluster; an Ingress that discovery finds
// with neither class nor annotations of a flavor): ingress-nginx, which
// IKS's ALBs have run since 2021.
func Default() Flavor { return nginx{} }

// For is the flavor named f; nil for auto, "" or an unknown name.
func For(f chain.Flavor) Flavor {
	for _, fl := range registry {
		if fl.Name() == f {
			return fl
		}
	}
	return nil
}

// ByController is the flavor whose ALBs serve IngressClasses of controller;
// nil when no flavor's does.
func ByController(controller string) Flavor {
	for _, fl := range registry {
		for _, c := range fl.Controllers() {
			if c == controller {
				return fl
			}
		}
	}
	return nil
}

// Controllers are the IngressClass controllers of every flavor, in
// registry order, for messages.
func Controllers() []string {
	var cs []string
	for _, fl := range registry {
		cs = append(cs, fl.Controllers()...)
	}
	return cs
}

// Marked is the first flavor whose annotations an Ingress carries, nil when
// none's.
func Marked(annotations map[string]string) Flavor {
	for _, fl := range registry {
		if fl.Marks(annotations) {
			return fl
		}
	}
	return nil
}

// DefaultIngressClass is the class IKS creates for flavor f's public ALBs;
// "" for classic, auto and unknown names.
func DefaultIngressClass(f chain.Flavor) string {
	if fl := For(f); fl != nil {
		return fl.DefaultIngressClass()
	}
	return ""
}

// IngressClassName is the class the chain's Ingress names: --ingress-class,
// else the flavor's default.
func IngressClassName(p *chain.Params) string {
	if p.IngressClass != "" {
		return p.IngressClass
	}
	return DefaultIngressClass(p.Flavor)
}

// SecretKeys are the data keys of the ALB's client secret.
type SecretKeys struct{ Cert, Key, Trust string }

// tlsKeys is the layout of ingress-nginx's proxy-ssl-secret and Traefik's
// certificatesSecrets/rootCAs, which is also cert-manager's.
var tlsKeys = SecretKeys{Cert: "tls.crt", Key: "tls.key", Trust: "ca.crt"}

// SecretKeysFor is the client secret layout of flavor f; an undetected
// flavor has the layout of ingress-nginx and Traefik, which IKS ALBs run.
func SecretKeysFor(f chain.Flavor) SecretKeys {
	if fl := For(f); fl != nil {
		return fl.ClientSecretKeys()
	}
	return Default().ClientSecretKeys()
}

// Backend is what the ALB needs to know about the gateway beyond the
// chain's parameters; with a cluster it is read from there, without one it
// defaults (render.DefaultBackend).
type Backend struct {
	// VerifyDepth is how many CA certificates may follow the gateway's server
	// certificate when the ALB verifies it (nginx and classic).
	VerifyDepth int
	// Selector and TargetPort are the gateway Service's, copied onto the
	// Service the plugin owns for Traefik.
	Selector   map[string]string
	TargetPort intstr.IntOrString
}

// ALBSide is what a flavor's ALB needs besides the Ingress's rules and TLS,
// which render lays out alike for every flavor.
type ALBSide struct {
	// Annotations go on the Ingress.
	Annotations map[string]string
	// BackendService is the Service the Ingress's paths route to.
	BackendService string
	// Before are written ahead of the Ingress, in this order, so the ALB
	// never serves the Ingress without them.
	Before []*unstructured.Unstructured
}

// AnnotationField names an annotation as a field path, as findings do.
func AnnotationField(key string) string { return "metadata.annotations[" + key + "]" }

// PastedKV reports whether an annotation value carries a pasted "key=value"
// or "key: value" (a whole annotation line copied into the value). None of
// the values the chain relies on (on/off, HTTPS, namespace/name, a host
// name, a number, a transport reference) contains '=' or ':', and the
// controllers read such a value as invalid: ingress-nginx falls back to
// its default (off, HTTP, depth 1) or denies the location.
func PastedKV(v string) bool { return strings.ContainsAny(v, "=:") }

// toUnstructured turns one of the package's typed objects into what the
// plugin writes; it fails only on a programming error.
func toUnstructured(obj any) *unstructured.Unstructured {
	data, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("flavor: marshal %T: %v", obj, err))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		panic(fmt.Sprintf("flavor: unmarshal %T: %v", obj, err))
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
