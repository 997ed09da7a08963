package check

import (
	"fmt"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// checkNginx: the Ingress's ingress-nginx annotations, judged as ingress-nginx
// parses them (internal/ingress/annotations/proxyssl and backendprotocol):
// only "on" turns verification and SNI on, anything else silently means
// off; proxy-ssl-secret must be "namespace/name" in the Ingress's own
// namespace, or the location is denied. Pasted key=value values are the
// annotation-values rule's; the name and depth are the server-name and
// server-trust rules'.
func checkNginx(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	ing := s.Ingress
	if p.Flavor != chain.FlavorNginx || ing == nil {
		return nil
	}
	obj := ObjectRef("Ingress", ing.Namespace, ing.Name)
	a := ing.Annotations
	var fs []Finding
	add := func(code Code, key, msg, fix string) {
		fs = append(fs, NewFinding(code, obj, annotationField(key), msg, fix))
	}
	fixIngress := "re-run kubectl albistio ingress"

	if v, set := a[render.NginxBackendProtocol]; !pastedKV(v) && !strings.EqualFold(strings.TrimSpace(v), "HTTPS") {
		msg := "backend-protocol is not set, so ingress-nginx speaks plain HTTP to the gateway's TLS port and the gateway resets the connection (502)"
		if set {
			msg = fmt.Sprintf("backend-protocol is %s, not HTTPS, so ingress-nginx speaks it (or, for an unknown value, plain HTTP) to the gateway's TLS port (502)", quote(v))
		}
		add(NginxNotHTTPS, render.NginxBackendProtocol, msg, `set it to "HTTPS" (`+fixIngress+")")
	}

	if v, set := a[render.NginxProxySSLSecret]; !pastedKV(v) {
		ns, name, ok := strings.Cut(strings.TrimSpace(v), "/")
		ok = ok && ns != "" && name != "" && !strings.Contains(name, "/")
		want := ing.Namespace + "/" + p.ClientSecret
		switch {
		case !set || v == "":
			add(NginxSSLSecretInvalid, render.NginxProxySSLSecret,
				"proxy-ssl-secret is not set: ingress-nginx presents no client certificate and the MUTUAL gateway refuses the handshake (\"certificate required\")",
				fmt.Sprintf("set it to %q (%s)", want, fixIngress))
		case !ok:
			add(NginxSSLSecretInvalid, render.NginxProxySSLSecret,
				fmt.Sprintf("proxy-ssl-secret is %s, not \"namespace/name\": ingress-nginx denies the location, and every chain path answers 503", quote(v)),
				fmt.Sprintf("set it to %q (%s)", want, fixIngress))
		case ns != ing.Namespace && in.servedByCompat():
			// Traefik's provider reads it by its own rules (traefik-nginx).
		case ns != ing.Namespace:
			add(NginxSSLSecretCrossNS, render.NginxProxySSLSecret,
				fmt.Sprintf("proxy-ssl-secret %s is in namespace %s, not the Ingress's %s: ingress-nginx refuses it (\"cross namespace secrets are not supported\") and denies the location (503)", quote(v), quote(ns), ing.Namespace),
				fmt.Sprintf("set it to %q; kubectl albistio secrets writes the client secret next to the Ingress", want))
		case name != p.ClientSecret:
			add(NginxSSLSecretOther, render.NginxProxySSLSecret,
				fmt.Sprintf("proxy-ssl-secret names %s, but check verified --client-secret %q; the ALB presents a certificate check did not look at", quote(v), p.ClientSecret),
				fmt.Sprintf("set --client-secret=%s to check the secret the ALB uses, or point the annotation at %q", quote(name), want))
		}
	}

	if v, set := a[render.NginxProxySSLVerify]; !pastedKV(v) {
		switch {
		case v == "on":
		case !set || v == "off":
			msg := "proxy-ssl-verify is not set, and ingress-nginx's default is off"
			if set {
				msg = "proxy-ssl-verify is off"
			}
			add(NginxVerifyOff, render.NginxProxySSLVerify,
				msg+": the ALB accepts any certificate from whatever answers at the gateway's address",
				`set it to "on" (`+fixIngress+")")
		default:
			add(NginxVerifyInvalid, render.NginxProxySSLVerify,
				fmt.Sprintf("proxy-ssl-verify is %s; ingress-nginx accepts only \"on\" and \"off\" and silently treats anything else as off, so the gateway's certificate is not verified", quote(v)),
				`set it to "on" (`+fixIngress+")")
		}
	}

	if v, set := a[render.NginxProxySSLServerName]; !pastedKV(v) && v != "on" && !in.servedByCompat() {
		msg := "proxy-ssl-server-name is not set and defaults to off"
		if set {
			msg = fmt.Sprintf("proxy-ssl-server-name is %s, which ingress-nginx reads as off (only \"on\" turns it on)", quote(v))
		}
		add(NginxSNIOff, render.NginxProxySSLServerName,
			msg+": nginx sends the SNI \"upstream_balancer\", no filter chain of the gateway matches it, and Envoy resets the connection (ingress-nginx#3427)",
			`set it to "on" (`+fixIngress+")")
	}
	return fs
}
