package check

import (
	"fmt"
	"sort"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// pastedKV reports whether an annotation value carries a pasted "key=value"
// or "key: value" (flavor.PastedKV).
func pastedKV(v string) bool { return flavor.PastedKV(v) }

// checkAnnotationValues: no annotation the flavor's ALB reads for the chain
// holds a pasted key=value. The other rules skip such values, so each
// mistake is reported once, here.
func checkAnnotationValues(in *Input) []Finding {
	s := in.Snapshot
	var fs []Finding
	scan := func(kind, namespace, name string, annotations map[string]string, keys ...string) {
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := annotations[k]
			if !ok || !pastedKV(v) {
				continue
			}
			fs = append(fs, NewFinding(AnnotationPastedKV, ObjectRef(kind, namespace, name), annotationField(k),
				fmt.Sprintf("the value %s contains a pasted key and separator: the controller reads the whole string as the value, finds it invalid and falls back to its default", quote(v)),
				fmt.Sprintf("set the value alone, e.g. %s: %q", k, expectedValue(in, k))))
		}
	}
	switch in.Params.Flavor {
	case chain.FlavorNginx:
		if ing := s.Ingress; ing != nil {
			scan("Ingress", ing.Namespace, ing.Name, ing.Annotations,
				render.NginxBackendProtocol, render.NginxProxySSLSecret, render.NginxProxySSLVerify,
				render.NginxProxySSLVerifyDepth, render.NginxProxySSLName, render.NginxProxySSLServerName)
		}
	case chain.FlavorTraefik:
		if ing := s.Ingress; ing != nil {
			scan("Ingress", ing.Namespace, ing.Name, ing.Annotations, render.TraefikRouterTLS, render.TraefikRouterEntryPoints)
		}
		if svc := s.BackendService; svc != nil {
			scan("Service", svc.Namespace, svc.Name, svc.Annotations, render.TraefikServiceTransport, render.TraefikServiceServerScheme)
		}
	}
	return fs
}

// expectedValue is what the plugin writes for an annotation, for fix lines.
func expectedValue(in *Input, key string) string {
	p := in.Params
	switch key {
	case render.NginxBackendProtocol:
		return "HTTPS"
	case render.NginxProxySSLSecret:
		return p.IstioNamespace + "/" + p.ClientSecret
	case render.NginxProxySSLVerify, render.NginxProxySSLServerName:
		return "on"
	case render.NginxProxySSLVerifyDepth:
		if in.certManager() {
			return "1"
		}
		return "2"
	case render.NginxProxySSLName:
		return in.GatewaySNI()
	case render.TraefikRouterTLS:
		return "true"
	case render.TraefikRouterEntryPoints:
		return "websecure"
	case render.TraefikServiceTransport:
		return p.IstioNamespace + "-" + p.TransportName() + "@kubernetescrd"
	case render.TraefikServiceServerScheme:
		return "https"
	}
	return "..."
}
