package check

import (
	"encoding/json"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// IKS's Traefik ALB can serve nginx-annotated Ingresses through Traefik's
// ingress-nginx provider (its "compatibility layer"): the ConfigMap
// kube-system/ibm-ingress-deploy-config holds one key per ALB ID whose JSON
// value sets "ingressProvider" to "ingress" (the default) or
// "ingress-nginx". The ALB's Deployment, kube-system/<ALB ID>, carries
// Traefik's version in its image tag (3.X.X_XXXX_iks).
const (
	iksNamespace       = "kube-system"
	iksDeployConfig    = "ibm-ingress-deploy-config"
	providerIngress    = "ingress"
	providerNginx      = "ingress-nginx"
	compatProviderJSON = "ingressProvider"
)

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// TraefikCompat is what check read of IKS's Traefik compatibility layer:
// read only when the nginx flavor is judged in a cluster that has a
// Traefik IngressClass.
type TraefikCompat struct {
	// Forbidden says the ConfigMap could not be read (RBAC).
	Forbidden bool
	// Providers maps each ALB ID of the ConfigMap to its ingressProvider
	// (absent or unreadable values are "ingress"); nil when the ConfigMap
	// does not exist.
	Providers map[string]string
	// ALBs are the ALBs of the Ingress class's visibility (public or
	// private) that run the ingress-nginx provider, by ID, with their
	// Deployments' versions.
	ALBs []CompatALB
}

// CompatALB is one Traefik ALB that runs the ingress-nginx provider.
type CompatALB struct {
	ID string
	// Image is the Traefik container's image, "" when the Deployment was
	// not found or not readable (Forbidden).
	Image     string
	Forbidden bool
	// Version is Traefik's version from the image tag, nil when unknown.
	Version *traefikVersion
}

// traefikVersion is Traefik's version (flavor.TraefikVersion).
type traefikVersion = flavor.TraefikVersion

// parseTraefikVersion reads Traefik's version from an image reference.
func parseTraefikVersion(image string) *traefikVersion { return flavor.ParseTraefikVersion(image) }

// ingressClassName is the class the Ingress names (spec or the legacy
// annotation), "" for none.
func ingressClassName(ing *networkingv1.Ingress) string {
	if ing == nil {
		return ""
	}
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName
	}
	return ing.Annotations["kubernetes.io/ingress.class"]
}

// classController is the controller of the IngressClass name, "" if absent.
func classController(classes []networkingv1.IngressClass, name string) string {
	for _, ic := range classes {
		if ic.Name == name {
			return ic.Spec.Controller
		}
	}
	return ""
}

// wantsTraefikCompat says whether Read looks for the compatibility layer:
// the nginx flavor in a cluster with an IngressClass of IKS's Traefik. A
// cluster with nginx ALBs only costs nothing more.
func wantsTraefikCompat(s *Snapshot, p *chain.Params) bool {
	if p.Flavor != chain.FlavorNginx {
		return false
	}
	return slices.ContainsFunc(s.IngressClasses, func(ic networkingv1.IngressClass) bool {
		return ic.Spec.Controller == kube.TraefikController
	})
}

// albVisibility is "private" for a private-* class, else "public": IKS ALB
// IDs start with it (public-cr<cluster>-alb1).
func albVisibility(class string) string {
	if strings.HasPrefix(class, "private-") {
		return "private"
	}
	return "public"
}

// parseDeployConfig reads the providers of ibm-ingress-deploy-config.
func parseDeployConfig(cm *corev1.ConfigMap) map[string]string {
	providers := map[string]string{}
	for id, raw := range cm.Data {
		var v map[string]any
		provider := providerIngress
		if json.Unmarshal([]byte(raw), &v) == nil {
			if s, ok := v[compatProviderJSON].(string); ok && s != "" {
				provider = s
			}
		}
		providers[id] = provider
	}
	return providers
}

// compatALBIDs are the ALBs of class's visibility that run the
// ingress-nginx provider, sorted: a class is served by every ALB of its
// visibility, so each one's Deployment is read.
func compatALBIDs(providers map[string]string, class string) []string {
	vis := albVisibility(class)
	var ids []string
	for id, prov := range providers {
		if prov == providerNginx && strings.HasPrefix(id, vis+"-") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// traefikImage is the image of the Deployment's container that runs
// Traefik: the one whose tag parses as a version, preferring one named
// like traefik.
func traefikImage(d *appsv1.Deployment) string {
	var first string
	for _, c := range d.Spec.Template.Spec.Containers {
		if parseTraefikVersion(c.Image) == nil {
			continue
		}
		if strings.Contains(c.Name, "traefik") || strings.Contains(c.Image, "traefik") {
			return c.Image
		}
		if first == "" {
			first = c.Image
		}
	}
	if first == "" && len(d.Spec.Template.Spec.Containers) > 0 {
		return d.Spec.Template.Spec.Containers[0].Image
	}
	return first
}

// readTraefikCompat reads the compatibility layer: the ConfigMap by name
// and, for each ALB of the Ingress class's visibility that runs the
// ingress-nginx provider, its Deployment by name. A Role that forbids them
// does not fail the check: the rules report what could not be read.
func (r *reader) readTraefikCompat(s *Snapshot, p *chain.Params) {
	if !wantsTraefikCompat(s, p) {
		return
	}
	tc := &TraefikCompat{}
	var u *unstructured.Unstructured
	if !r.call(stepTraefikCompat, func() (err error) {
		u, err = r.api.Get(r.ctx, configMaps, iksNamespace, iksDeployConfig)
		if kube.IsForbidden(err) {
			tc.Forbidden, err = true, nil
		}
		return err
	}) {
		return
	}
	s.TraefikCompat = tc
	if u == nil {
		return
	}
	var cm corev1.ConfigMap
	if !r.convert(stepTraefikCompat, u, &cm) {
		return
	}
	tc.Providers = parseDeployConfig(&cm)
	for _, id := range compatALBIDs(tc.Providers, ingressClassName(s.Ingress)) {
		alb := CompatALB{ID: id}
		d, ok := r.albDeployment(stepALBDeployments, id, &alb.Forbidden)
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

// albDeployment reads the ALB's Deployment, kube-system/<ALB ID>: nil when
// it does not exist or reading it is forbidden (then *forbidden is set);
// false when the read failed otherwise (the step's error is recorded).
func (r *reader) albDeployment(step int, id string, forbidden *bool) (*appsv1.Deployment, bool) {
	var du *unstructured.Unstructured
	if !r.call(step, func() (err error) {
		du, err = r.api.Get(r.ctx, deployments, iksNamespace, id)
		if kube.IsForbidden(err) {
			*forbidden, err = true, nil
		}
		return err
	}) {
		return nil, false
	}
	if du == nil {
		return nil, true
	}
	d := new(appsv1.Deployment)
	if !r.convert(step, du, d) {
		return nil, false
	}
	return d, true
}

// servedByCompat reports whether the Ingress is judged as Traefik's
// ingress-nginx provider reads it: the nginx flavor, an Ingress naming a
// class of IKS's Traefik, and an ALB of that class's visibility running the
// ingress-nginx provider.
func (in *Input) servedByCompat() bool {
	s := in.Snapshot
	if s.TraefikCompat == nil || len(s.TraefikCompat.ALBs) == 0 || in.Params.Flavor != chain.FlavorNginx {
		return false
	}
	return classController(s.IngressClasses, ingressClassName(s.Ingress)) == kube.TraefikController
}
