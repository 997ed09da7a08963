package check

import (
	"fmt"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// assumedTraefik is the version the version-dependent rules judge an ALB
// whose version is unknown against: IKS's changelog lists Traefik ALBs
// 3.7.0–3.7.11 only.
var assumedTraefik = traefikVersion{3, 7, 0}

// checkTraefikNginx: when the nginx-annotated Ingress is served by IKS's
// Traefik compatibility layer (ibm-ingress-deploy-config ingressProvider
// ingress-nginx), its annotations are judged as Traefik's ingress-nginx
// provider reads them, per ALB and Traefik version: the version judged is
// reported (ALB0650), an unknown one is a finding (ALB0656); the class must
// be Traefik's (ALB0651); proxy-ssl-verify "on" must verify (ALB0652);
// verify depth is ignored (ALB0653); the server name comes from
// proxy-ssl-name, else the value of proxy-ssl-server-name, and SNI is sent
// whatever proxy-ssl-server-name says (ALB0654 when the fallback name is not
// the gateway's, a certain 502; ALB0657 when it only reads differently
// from ingress-nginx); v3.7+ refuses a
// proxy-ssl-secret of another namespace (ALB0655).
//
// The ingress-nginx ALB's own version is not read: the annotations check
// judges (backend-protocol, proxy-ssl-secret, -verify, -verify-depth,
// -name, -server-name) have read the same way in every ingress-nginx
// release IKS ran, so no rule depends on it; were one to, its version is
// the ALB Deployment's image tag as for Traefik.
func checkTraefikNginx(in *Input) []Finding {
	s := in.Snapshot
	tc := s.TraefikCompat
	if tc == nil {
		return nil
	}
	cmRef := ObjectRef("ConfigMap", iksNamespace, iksDeployConfig)
	if tc.Forbidden {
		return []Finding{NewFinding(TraefikNginxVersionUnknown, cmRef, "",
			"the cluster has an IngressClass of IKS's Traefik ALB, but check may not read this ConfigMap, so it cannot tell whether Traefik's ingress-nginx compatibility layer serves the Ingress, nor judge the annotations as Traefik reads them",
			"grant get on ConfigMap kube-system/ibm-ingress-deploy-config, or check with a user who may read it")}
	}
	ing := s.Ingress
	if ing == nil || len(tc.ALBs) == 0 {
		return nil
	}
	obj := ObjectRef("Ingress", ing.Namespace, ing.Name)
	class := ingressClassName(ing)
	var ids []string
	for _, alb := range tc.ALBs {
		ids = append(ids, alb.ID)
	}
	if classController(s.IngressClasses, class) != kube.TraefikController {
		field := "spec.ingressClassName"
		if ing.Spec.IngressClassName == nil {
			field = annotationField("kubernetes.io/ingress.class")
		}
		traefikClass := albVisibility(class) + "-iks-traefik"
		return []Finding{NewFinding(TraefikNginxClassIgnored, obj, field,
			fmt.Sprintf("the ALBs %s run Traefik's ingress-nginx compatibility layer (%s), which serves only IngressClasses of controller %s; the Ingress names %s, so the compatibility layer ignores it (and only an ingress-nginx ALB still serving that class would carry the host)", joinQuoted(ids), cmRef, kube.TraefikController, quote(class)),
			fmt.Sprintf("set --ingress-class=%s and re-run kubectl albistio ingress", traefikClass))}
	}

	var fs []Finding
	a := ing.Annotations
	verify := a[render.NginxProxySSLVerify]
	stored := flavor.Stored{Ingress: ing}
	for _, alb := range tc.ALBs {
		dep := ObjectRef("Deployment", iksNamespace, alb.ID)
		v := assumedTraefik
		if alb.Version == nil {
			why := "was not found"
			switch {
			case alb.Forbidden:
				why = "may not be read by check"
			case alb.Image != "":
				why = fmt.Sprintf("has the image %s, whose tag is not a Traefik version (3.X.X_XXXX_iks)", quote(alb.Image))
			}
			fs = append(fs, NewFinding(TraefikNginxVersionUnknown, dep, "",
				fmt.Sprintf("the ALB %s serves the Ingress through Traefik's ingress-nginx compatibility layer, whose reading of proxy-ssl-verify changed between Traefik versions, but its Deployment %s: the annotations were judged as Traefik %s reads them (IKS lists Traefik ALBs 3.7.x only)", alb.ID, why, assumedTraefik),
				"check with a user who may get the ALB's Deployment in kube-system, or confirm the ALB's version (ibmcloud ks ingress alb get --alb "+alb.ID+")"))
		} else {
			v = *alb.Version
			fs = append(fs, NewFinding(TraefikNginxCompat, dep, "",
				fmt.Sprintf("the ALB %s serves the Ingress through Traefik's ingress-nginx compatibility layer: Traefik %s (image %s); the nginx annotations were judged as that version reads them", alb.ID, v, alb.Image), ""))
		}
		compat := flavor.TraefikNginx{Version: v}
		if !pastedKV(verify) && verify == "on" && !compat.UpstreamTLS(in.Params, stored).Verify.On {
			fs = append(fs, NewFinding(TraefikNginxVerifyInverted, obj, annotationField(render.NginxProxySSLVerify),
				fmt.Sprintf("proxy-ssl-verify is \"on\", but Traefik %s on the ALB %s reads \"on\" as skip verification (inverted in v3.5.0–v3.6.2): the ALB accepts any certificate from whatever answers at the gateway's address", v, alb.ID),
				"have IBM Cloud update the ALB to a current Traefik version (ibmcloud ks ingress alb update), which reads \"on\" as verify"))
		}
		if sec := a[render.NginxProxySSLSecret]; compat.RefusesCrossNamespace() && !pastedKV(sec) {
			if ns, _, ok := strings.Cut(strings.TrimSpace(sec), "/"); ok && ns != "" && ns != ing.Namespace {
				fs = append(fs, NewFinding(TraefikNginxSecretCrossNS, obj, annotationField(render.NginxProxySSLSecret),
					fmt.Sprintf("proxy-ssl-secret %s is in namespace %s, not the Ingress's %s: Traefik %s on the ALB %s refuses it (\"cross-namespace proxy SSL secret not allowed\") and presents no client certificate", quote(sec), quote(ns), ing.Namespace, v, alb.ID),
					fmt.Sprintf("set it to %q; kubectl albistio secrets writes the client secret next to the Ingress", ing.Namespace+"/"+in.Params.ClientSecret)))
			}
		}
	}
	if d, set := a[render.NginxProxySSLVerifyDepth]; set {
		fs = append(fs, NewFinding(TraefikNginxVerifyDepthIgnored, obj, annotationField(render.NginxProxySSLVerifyDepth),
			fmt.Sprintf("proxy-ssl-verify-depth is %s, but Traefik's ingress-nginx provider ignores it (as it ignores proxy-ssl-ciphers and proxy-ssl-protocols): the gateway's chain is verified at any depth", quote(d)),
			"nothing to change for the chain to work; do not rely on the depth limit behind Traefik"))
	}
	// The server name does not depend on the version: any one reads it.
	sn := flavor.TraefikNginx{Version: assumedTraefik}.UpstreamTLS(in.Params, stored).ServerName
	name, nameSet := a[render.NginxProxySSLName]
	sni, sniSet := a[render.NginxProxySSLServerName]
	switch {
	case sn.Fallback && !strings.EqualFold(strings.TrimSpace(sn.Value), in.GatewaySNI()):
		// The fallback name ("on", as the plugin and the walkthrough write
		// proxy-ssl-server-name) is not the gateway's: a certain 502.
		fs = append(fs, NewFinding(TraefikNginxServerName, obj, annotationField(render.NginxProxySSLName),
			fmt.Sprintf("proxy-ssl-name is not set, so Traefik's ingress-nginx provider takes the value of proxy-ssl-server-name, %s, as the name it sends and verifies: the gateway has no filter chain for it (502)", quote(sn.Value)),
			fmt.Sprintf("set proxy-ssl-name to %s (re-run kubectl albistio ingress)", in.GatewaySNI())))
	case sn.Fallback:
		fs = append(fs, NewFinding(TraefikNginxSNIDiffers, obj, annotationField(render.NginxProxySSLName),
			fmt.Sprintf("proxy-ssl-name is not set, so Traefik's ingress-nginx provider takes the value of proxy-ssl-server-name, %s, the gateway's name, as the name it sends and verifies: the chain works behind Traefik, but ingress-nginx reads that value as no SNI", quote(sn.Value)),
			fmt.Sprintf("set proxy-ssl-name to %s and proxy-ssl-server-name to \"on\" (re-run kubectl albistio ingress)", in.GatewaySNI())))
	case sniSet && sni != "on" && nameSet:
		fs = append(fs, NewFinding(TraefikNginxSNIDiffers, obj, annotationField(render.NginxProxySSLServerName),
			fmt.Sprintf("proxy-ssl-server-name is %s, which ingress-nginx reads as no SNI, but Traefik's ingress-nginx provider sends proxy-ssl-name %s as SNI anyway: this Ingress behaves differently behind an ingress-nginx ALB", quote(sni), quote(name)),
			`set it to "on" (re-run kubectl albistio ingress)`))
	}
	return fs
}
