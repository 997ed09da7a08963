package check

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// checkTraefik: Traefik re-encrypts to the gateway only when the Service the
// Ingress routes to names a ServersTransport (an annotation on the Service)
// and is spoken to over HTTPS, and the transport carries the client
// certificate and the gateway's roots. The router needs TLS on, or HTTPS
// requests get 404.
func checkTraefik(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if p.Flavor != chain.FlavorTraefik {
		return nil
	}
	var fs []Finding
	fixIngress := "re-run kubectl albistio ingress"
	want := p.IstioNamespace + "-" + p.TransportName() + "@kubernetescrd"

	if svc := s.BackendService; svc == nil {
		fs = append(fs, NewFinding(TraefikServiceNoLink, ObjectRef("Service", p.IstioNamespace, p.BackendService()), "",
			"the Service the plugin puts in front of the gateway for Traefik does not exist: the Ingress routes to nothing (Istio's installer owns istio-ingressgateway, so the transport annotation lives on this Service)",
			fixIngress))
	} else {
		obj := ObjectRef("Service", svc.Namespace, svc.Name)
		if v := svc.Annotations[render.TraefikServiceTransport]; !pastedKV(v) && v != want {
			msg := "the Service has no " + render.TraefikServiceTransport + " annotation, so Traefik uses its default transport: no client certificate, and the gateway refuses the handshake"
			if v != "" {
				msg = fmt.Sprintf("the annotation names %s, not the chain's ServersTransport %q", quote(v), want)
			}
			fs = append(fs, NewFinding(TraefikServiceNoLink, obj, annotationField(render.TraefikServiceTransport), msg, fmt.Sprintf("set it to %q (%s)", want, fixIngress)))
		}
		if sp := servicePort(svc, p.GatewayServicePort); sp != nil {
			scheme := svc.Annotations[render.TraefikServiceServerScheme]
			if sp.Port != 443 && !strings.HasPrefix(sp.Name, "https") && !strings.EqualFold(scheme, "https") {
				fs = append(fs, NewFinding(TraefikSchemeHTTP, obj, annotationField(render.TraefikServiceServerScheme),
					fmt.Sprintf("port %d is not 443, its name %q does not start with \"https\" and serversscheme is %s: Traefik speaks plain HTTP to the gateway's TLS port", sp.Port, sp.Name, quote(scheme)),
					fmt.Sprintf("set %s: https (%s)", render.TraefikServiceServerScheme, fixIngress)))
			}
		}
	}

	if st := s.ServersTransport; st == nil {
		fs = append(fs, NewFinding(TraefikTransportMissing, ObjectRef("ServersTransport", p.IstioNamespace, p.TransportName()), "",
			"the ServersTransport (traefik.io/v1alpha1) that carries the client certificate was not found, or Traefik's CRDs are not installed",
			fixIngress))
	} else {
		obj := ObjectRef("ServersTransport", st.Namespace, st.Name)
		u, _ := in.upstreamTLS()
		if !namesSecret(u.ClientCerts, p.ClientSecret) {
			fs = append(fs, NewFinding(TraefikNoClientCert, obj, "spec.certificatesSecrets",
				fmt.Sprintf("certificatesSecrets lists %s, not %q: Traefik presents another client certificate, or none (\"certificate required\")", joinQuoted(st.Spec.CertificatesSecrets), p.ClientSecret),
				fmt.Sprintf("list %q in certificatesSecrets (%s)", p.ClientSecret, fixIngress)))
		}
		if !namesSecret(u.TrustedCAs, p.ClientSecret) {
			fs = append(fs, NewFinding(TraefikNoRootCAs, obj, "spec.rootCAs",
				fmt.Sprintf("rootCAs does not name %q, so Traefik verifies the gateway with other roots than the ones check verified (its system roots unless another secret is named)", p.ClientSecret),
				fmt.Sprintf("add {secret: %s} to rootCAs (%s)", p.ClientSecret, fixIngress)))
		}
		if st.Spec.InsecureSkipVerify {
			fs = append(fs, NewFinding(TraefikSkipVerify, obj, "spec.insecureSkipVerify",
				"insecureSkipVerify is true: the ALB accepts any certificate from whatever answers at the gateway's address",
				"remove insecureSkipVerify ("+fixIngress+")"))
		}
	}

	if ing := s.Ingress; ing != nil {
		v := ing.Annotations[render.TraefikRouterTLS]
		if on, err := strconv.ParseBool(strings.TrimSpace(v)); !pastedKV(v) && (err != nil || !on) {
			state := fmt.Sprintf("is %s", quote(v))
			if v == "" {
				state = "is not set"
			}
			fs = append(fs, NewFinding(TraefikRouterNoTLS, ObjectRef("Ingress", ing.Namespace, ing.Name), annotationField(render.TraefikRouterTLS),
				fmt.Sprintf("%s %s: the router serves HTTPS only if the entry point has TLS on, else HTTPS requests for the host get 404", render.TraefikRouterTLS, state),
				fmt.Sprintf("set %s: \"true\" and %s: websecure (%s)", render.TraefikRouterTLS, render.TraefikRouterEntryPoints, fixIngress)))
		}
	}
	return fs
}

// namesSecret reports whether refs, as the flavor read them, include the
// Secret name.
func namesSecret(refs []flavor.ObjectRef, name string) bool {
	return slices.ContainsFunc(refs, func(r flavor.ObjectRef) bool { return r.Kind == "Secret" && r.Name == name })
}
