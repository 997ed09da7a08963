package check

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// ingress-nginx's release changes how it reads one value the chain
// relies on: a proxy-ssl-secret its annotation validator refuses drops the
// whole Ingress from v1.12.0 and only denies the location before
// (flavor.AnnotationValidationSince says where in its source). check reads
// the ALBs' releases only for such a value, so a healthy chain costs no
// extra request: kube-system/ibm-ingress-deploy-config (whose keys are the
// ALB IDs; read once if the Traefik compatibility layer read it already)
// and each ALB's Deployment, kube-system/<ALB ID>, whose image tag is IKS's
// "1.X.X_XXXX_iks".

// NginxALBs is what check read of the ingress-nginx ALBs that serve the
// Ingress's class.
type NginxALBs struct {
	// ConfigForbidden and ConfigMissing say why no ALB ID is known.
	ConfigForbidden, ConfigMissing bool
	ALBs                           []NginxALB
}

// NginxALB is one ALB of the class's visibility.
type NginxALB struct {
	ID string
	// Image is its controller's image; Version its ingress-nginx release,
	// nil when the Deployment was missing, forbidden, or not ingress-nginx.
	Image              string
	Version            *flavor.Version
	Forbidden, Missing bool
}

// wantsNginxVersion reports whether the chain's Ingress has a value
// ingress-nginx releases read differently.
func wantsNginxVersion(s *Snapshot, p *chain.Params) bool {
	if p.Flavor != chain.FlavorNginx || s.Ingress == nil {
		return false
	}
	v, ok := s.Ingress.Annotations[render.NginxProxySSLSecret]
	return ok && v != "" && !flavor.ProxySSLSecretValidates(v)
}

// readNginxALBs reads the releases of the ALBs of the Ingress's
// visibility, when wantsNginxVersion; an ALB running Traefik (its own
// provider or the compatibility layer) is not one of them.
func (r *reader) readNginxALBs(s *Snapshot, p *chain.Params) {
	if !wantsNginxVersion(s, p) {
		return
	}
	na := &NginxALBs{}
	var providers map[string]string
	if tc := s.TraefikCompat; tc != nil {
		// The compatibility layer's read asked for the ConfigMap already.
		providers, na.ConfigForbidden, na.ConfigMissing = tc.Providers, tc.Forbidden, !tc.Forbidden && tc.Providers == nil
	} else {
		var u *unstructured.Unstructured
		if !r.call(stepNginxALBs, func() (err error) {
			u, err = r.api.Get(r.ctx, configMaps, iksNamespace, iksDeployConfig)
			if kube.IsForbidden(err) {
				na.ConfigForbidden, err = true, nil
			}
			return err
		}) {
			return
		}
		if u == nil && !na.ConfigForbidden {
			na.ConfigMissing = true
		}
		if u != nil {
			var cm corev1.ConfigMap
			if !r.convert(stepNginxALBs, u, &cm) {
				return
			}
			providers = parseDeployConfig(&cm)
		}
	}
	for _, id := range nginxALBIDs(providers, ingressClassName(s.Ingress)) {
		alb := NginxALB{ID: id}
		d, ok := r.albDeployment(stepNginxALBs, id, &alb.Forbidden)
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

// nginxALBIDs are the ALBs of class's visibility (public or private) that
// do not run Traefik's compatibility layer, sorted: every ALB of a
// visibility serves its class.
func nginxALBIDs(providers map[string]string, class string) []string {
	vis := albVisibility(class) + "-"
	var ids []string
	for id, prov := range providers {
		if prov != providerNginx && strings.HasPrefix(id, vis) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// read takes the ALB's release from its Deployment's images; false when
// the Deployment runs Traefik (an ALB of IKS's Traefik, not ingress-nginx).
func (alb *NginxALB) read(d *appsv1.Deployment) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if v := flavor.ParseIngressNginxVersion(c.Image); v != nil {
			alb.Image, alb.Version = c.Image, v
			return true
		}
	}
	return flavor.ParseTraefikVersion(traefikImage(d)) == nil
}

// checkNginxVersion: for a proxy-ssl-secret value ingress-nginx releases
// read differently, what each ALB of the class's visibility does with it,
// naming the release judged; an unknown release is a finding, judged as
// v1.12.0 and later read the value. The value itself is another rule's
// finding (ALB0611, ALB0612 or ALB0620).
func checkNginxVersion(in *Input) []Finding {
	s := in.Snapshot
	if s.NginxALBs == nil || in.servedByCompat() {
		return nil
	}
	ing := s.Ingress
	ingRef := ObjectRef("Ingress", ing.Namespace, ing.Name)
	field := annotationField(render.NginxProxySSLSecret)
	value := quote(ing.Annotations[render.NginxProxySSLSecret])
	fix := fmt.Sprintf("set proxy-ssl-secret to %q alone: run kubectl albistio ingress -n %s", expectedValue(in, render.NginxProxySSLSecret), in.Params.AppNamespace)
	skipped := func(judged string) Finding {
		return NewFinding(NginxIngressSkipped, ingRef, field,
			fmt.Sprintf("judged against %s: ingress-nginx validates annotations (its default since v1.12.0) and refuses proxy-ssl-secret %s (only letters, digits and -._~/: pass), so it skips the whole Ingress: none of its hosts and paths is served, not only the chain's", judged, value), fix)
	}
	var fs []Finding
	unknown := func(object, why string) {
		fs = append(fs, NewFinding(NginxVersionUnknown, object, "",
			fmt.Sprintf("proxy-ssl-secret %s is read differently by ingress-nginx releases, and the ALB's release is unknown: %s; judged as v1.12.0 and later read it", value, why),
			"confirm the ALB's version with ibmcloud ks ingress alb ls --cluster <cluster>, or check as a user who may get the ConfigMap and the ALB Deployments in kube-system"))
	}
	na := s.NginxALBs
	cmRef := ObjectRef("ConfigMap", iksNamespace, iksDeployConfig)
	switch {
	case na.ConfigForbidden:
		unknown(cmRef, "reading it is forbidden")
	case na.ConfigMissing:
		unknown(cmRef, "it does not exist, so no ALB ID is known")
	case len(na.ALBs) == 0:
		unknown(cmRef, fmt.Sprintf("it lists no ingress-nginx ALB of the class's visibility (%s-*)", albVisibility(ingressClassName(ing))))
	}
	if len(na.ALBs) == 0 {
		return append(fs, skipped("ingress-nginx v1.12.0 or later (assumed)"))
	}
	var validating []string
	for _, alb := range na.ALBs {
		depRef := ObjectRef("Deployment", iksNamespace, alb.ID)
		switch {
		case alb.Forbidden:
			unknown(depRef, "reading the ALB's Deployment is forbidden")
			validating = append(validating, alb.ID+" (release unknown, assumed v1.12.0 or later)")
		case alb.Missing:
			unknown(depRef, "the ALB's Deployment does not exist")
			validating = append(validating, alb.ID+" (release unknown, assumed v1.12.0 or later)")
		case alb.Version == nil:
			unknown(depRef, "no container image of the Deployment is tagged with an ingress-nginx release")
			validating = append(validating, alb.ID+" (release unknown, assumed v1.12.0 or later)")
		case flavor.ValidatesAnnotations(*alb.Version):
			validating = append(validating, fmt.Sprintf("ingress-nginx %s on the ALB %s", alb.Version, alb.ID))
		default:
			fs = append(fs, NewFinding(NginxLocationDeniedVersion, depRef, "",
				fmt.Sprintf("judged against ingress-nginx %s on the ALB %s: before v1.12.0 it does not validate annotations by default, so proxy-ssl-secret %s denies the chain's location (503); from v1.12.0 the same value skips the whole Ingress", alb.Version, alb.ID, value),
				"fix the value before the ALB is updated: "+fix))
		}
	}
	if len(validating) > 0 {
		fs = append(fs, skipped(joinList(validating)))
	}
	return fs
}

// joinList joins items with commas and a final "and".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := items[0]
	for _, it := range items[1 : len(items)-1] {
		out += ", " + it
	}
	return out + " and " + items[len(items)-1]
}
