package check

import (
	"crypto/x509"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/albistio/kubectl-albistio/pkg/certs"
)

// The rules of Gateway API mode (chain.Params.GatewayAPI). The ALB's side
// is unchanged, so every ALB, secret, trust, name and expiry rule runs as in
// the classic mode; the gateway's credential is the Secret the listeners'
// certificateRefs name (the same --gateway-secret, or cert-manager's server
// secret), and its client CA is what the frontend validation names
// (gatewayAPIClientCAs). These rules replace the Istio API, Gateway and
// VirtualService rules, which stay silent in this mode.

// gatewayAPIOn reports whether the Gateway API rules have something to
// judge: the mode is on and the API is served (else the API rule alone
// speaks).
func (in *Input) gatewayAPIOn() (*GatewayAPISnapshot, bool) {
	g := in.Snapshot.GatewayAPI
	return g, in.Params.GatewayAPI && g != nil && g.Served
}

// checkGatewayAPIServed: gateway.networking.k8s.io/v1 is served, from a
// release whose standard channel has frontend validation (v1.5.0), and the
// gateway runs an Istio that translates it (1.28).
func checkGatewayAPIServed(in *Input) []Finding {
	if !in.Params.GatewayAPI {
		return nil
	}
	g := in.Snapshot.GatewayAPI
	group := ObjectRef("APIGroup", "", gatewayAPIGroup)
	if g == nil || !g.Served {
		return []Finding{NewFinding(GatewayAPINotServed, group, "",
			"the cluster does not serve "+gatewayAPIGroup+"/v1 Gateways: the Gateway API's CRDs are not installed, so there is no Gateway for Istio to program",
			"install the Gateway API's standard CRDs ("+standardInstall+"), or drop --gateway-api to use Istio's classic API")}
	}
	var fs []Finding
	crd := ObjectRef("CustomResourceDefinition", "", gatewayCRDName)
	switch c := g.CRD; {
	case c == nil:
		why := "not found"
		if g.CRDForbidden {
			why = "not readable (no get on customresourcedefinitions)"
		}
		fs = append(fs, NewFinding(GatewayAPIServed, group, "",
			fmt.Sprintf("%s/v1 is served; its release and channel are unknown: the CRD %s is %s", gatewayAPIGroup, gatewayCRDName, why), ""))
	default:
		channel, bundle := c.Channel, c.BundleVersion
		if channel == "" {
			channel = "unknown"
		}
		if bundle == "" {
			bundle = "unknown"
		}
		fs = append(fs, NewFinding(GatewayAPIServed, crd, "",
			fmt.Sprintf("%s is served at %s: Gateway API %s, %s channel", gatewayAPIGroup, strings.Join(c.Versions, ", "), bundle, channel), ""))
		if c.BundleVersion != "" && !bundleAtLeast(c.BundleVersion, frontendMinBundle) {
			fs = append(fs, NewFinding(GatewayAPITooOld, crd, annotationField(bundleVersionAnnotation),
				fmt.Sprintf("the cluster's Gateway API is %s, whose standard channel has no spec.tls.frontend (client-certificate validation, GEP-91, came with %s): the API server drops the Gateway's frontend validation and the gateway asks the ALB for no client certificate", c.BundleVersion, frontendMinBundle),
				"install a newer release of the standard CRDs ("+standardInstall+")"))
		}
	}
	pods := in.Snapshot.GatewayPods
	major, minor, image, ok := istioRelease(pods)
	ns := ObjectRef("Namespace", "", in.Params.IstioNamespace)
	switch {
	case len(pods) == 0:
		// the gateway-workload rule reports the missing pods
	case !ok:
		fs = append(fs, NewFinding(IstioReleaseUnknown, ns, "pods",
			fmt.Sprintf("no gateway pod's istio-proxy image names an Istio release (%s): check cannot tell whether Istio translates spec.tls.frontend, which it does from 1.%d", quote(image), frontendMinIstio), ""))
	case major == 1 && minor < frontendMinIstio:
		fs = append(fs, NewFinding(IstioIgnoresFrontend, ns, "pods",
			fmt.Sprintf("the gateway runs Istio %d.%d (image %s), which ignores spec.tls.frontend: it serves the listener as plain TLS and asks the ALB for no client certificate", major, minor, image),
			fmt.Sprintf("upgrade Istio to 1.%d or later (IKS's add-on ships 1.28–1.30), or drop --gateway-api to use Istio's classic API", frontendMinIstio)))
	}
	return fs
}

// hostListener is the listener that takes host on the gateway Service's
// port, as the Gateway API matches them: the most specific hostname wins
// (an exact name, then the longest wildcard, then none).
func hostListener(gw *GWGateway, port int32, host string) (GWListener, int) {
	best, bestScore := -1, -1
	for i, l := range gw.Spec.Listeners {
		if l.Port != port || !hostMatches(l.hostname(), host) {
			continue
		}
		score := len(l.hostname())
		if !strings.HasPrefix(l.hostname(), "*") {
			score += 1000
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return GWListener{}, -1
	}
	return gw.Spec.Listeners[best], best
}

// mutualOption says whether the listener asks Istio for MUTUAL itself
// (gateway.istio.io/tls-terminate-mode), which takes the client CA from
// <credential>-cacert or the credential, as the classic API does.
func mutualOption(l GWListener) bool {
	return l.TLS != nil && l.TLS.Options[tlsTerminateModeOption] == "MUTUAL"
}

// gatewayAPIClientCAs are the CAs Istio verifies the ALB with in Gateway
// API mode, and where they come from. Istio 1.28-1.30 turn the frontend's
// one caCertificateRef into the server's caCertCredentialName
// ("configmap://<ns>/<name>-cacert" or "kubernetes-gateway://<ns>/<name>-cacert",
// pilot/pkg/config/kube/gateway/conversion.go buildTLS and
// buildCaCertificateReference), which takes precedence over
// <credential>-cacert (pilot/pkg/security/model/authentication.go
// ApplyCredentialSDSToServerCommonTLSContext). Its SDS reads a ConfigMap
// by the name without the suffix (GetConfigMapCaCert) but a Secret as
// <name>-cacert first, then <name> (GetCaCert, pilot/pkg/credentials/kube/secrets.go),
// each's cacert before ca.crt (ExtractRoot). Without frontend validation
// and with the listener's tls-terminate-mode MUTUAL the classic lookup holds.
func (in *Input) gatewayAPIClientCAs() ([]*x509.Certificate, string) {
	g, p := in.Snapshot.GatewayAPI, in.Params
	if g == nil || g.Gateway == nil {
		return nil, ""
	}
	gw := g.Gateway
	f, _ := gw.frontendFor(p.GatewayServicePort)
	if f == nil || f.Validation == nil || len(f.Validation.CACertificateRefs) == 0 {
		if l, i := hostListener(gw, p.GatewayServicePort, in.GatewaySNI()); i >= 0 && mutualOption(l) {
			for _, sec := range []*corev1.Secret{in.Snapshot.CACert, in.credentialSecret()} {
				if cs, ok := secretCAs(sec); ok {
					return cs, secretRef(sec)
				}
			}
		}
		return nil, ""
	}
	ref := f.Validation.CACertificateRefs[0]
	switch {
	case ref.groupOr("") != "":
		return nil, ""
	case ref.kindOr("") == "ConfigMap" && g.ClientCA != nil:
		for _, k := range caKeys() {
			if v := g.ClientCA.Data[k]; v != "" {
				cs, err := certs.ParseCertificates([]byte(v))
				if err != nil {
					return nil, ""
				}
				return cs, ObjectRef("ConfigMap", g.ClientCA.Namespace, g.ClientCA.Name)
			}
		}
	case ref.kindOr("") == "Secret":
		for _, sec := range []*corev1.Secret{g.ClientCASecretCACert, g.ClientCASecret} {
			if cs, ok := secretCAs(sec); ok {
				return cs, secretRef(sec)
			}
		}
	}
	return nil, ""
}

// checkGWGateway: the Gateway is Istio's, accepted and programmed, with an
// HTTPS listener on the gateway Service's port for each name the chain
// needs (the SNI the ALB sends, the Host header it forwards) that
// terminates TLS with the gateway's credential and is itself accepted,
// programmed and resolved; its frontend validation asks for the ALB's
// client certificate and names one ConfigMap whose ca.crt parses.
func checkGWGateway(in *Input) []Finding {
	g, on := in.gatewayAPIOn()
	if !on {
		return nil
	}
	p := in.Params
	obj := ObjectRef("Gateway", p.IstioNamespace, p.GatewayName)
	gw := g.Gateway
	var fs []Finding

	className := gatewayClassIstio
	if gw != nil && gw.Spec.GatewayClassName != "" {
		className = gw.Spec.GatewayClassName
	}
	classObj := ObjectRef("GatewayClass", "", className)
	switch {
	case g.GatewayClassForbidden:
		// Not readable with a namespaced Role: the Gateway's own
		// conditions say whether Istio serves it.
	case g.GatewayClass == nil:
		fs = append(fs, NewFinding(GatewayClassNotAccepted, classObj, "",
			fmt.Sprintf("the GatewayClass %s was not found: no controller serves the Gateway (Istio creates %q itself when its Gateway API support is on, once the CRDs are installed)", quote(className), gatewayClassIstio),
			"restart istiod after installing the Gateway API's CRDs (it creates the istio GatewayClass), or check that PILOT_ENABLE_GATEWAY_API is not false"))
	default:
		if c := condition(g.GatewayClass.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
			fs = append(fs, NewFinding(GatewayClassNotAccepted, classObj, "status.conditions",
				fmt.Sprintf("the GatewayClass is not accepted by its controller %s: %s", quote(g.GatewayClass.Spec.ControllerName), conditionSays(c, "Accepted")),
				"see kubectl describe gatewayclass "+className+"; istiod accepts the class it serves (controllerName istio.io/gateway-controller)"))
		}
	}

	if gw == nil {
		return append(fs, NewFinding(GWGatewayMissing, obj, "",
			"the Gateway API Gateway that terminates the ALB's mutual TLS (shared by every chain behind this ALB and gateway) was not found",
			fmt.Sprintf("run kubectl albistio setup --gateway-api -n %s, or set --gateway-name", p.AppNamespace)))
	}
	if gw.Spec.GatewayClassName != gatewayClassIstio {
		fs = append(fs, NewFinding(GWGatewayClassWrong, obj, "spec.gatewayClassName",
			fmt.Sprintf("the Gateway's class is %s, not %q: Istio does not program it", quote(gw.Spec.GatewayClassName), gatewayClassIstio),
			"set gatewayClassName istio (re-run kubectl albistio gateway --gateway-api)"))
	}
	var notReady []string
	for _, t := range []string{"Accepted", "Programmed"} {
		if c := condition(gw.Status.Conditions, t); c == nil || c.Status != metav1.ConditionTrue {
			notReady = append(notReady, conditionSays(c, t))
		}
	}
	if len(notReady) > 0 {
		fs = append(fs, NewFinding(GWGatewayNotReady, obj, "status.conditions",
			fmt.Sprintf("Istio has not made the Gateway ready: %s", strings.Join(notReady, "; ")),
			fmt.Sprintf("see kubectl describe gateways.%s -n %s %s and istiod's log", gatewayAPIGroup, p.IstioNamespace, p.GatewayName)))
	}

	// The listeners the chain's names land on, each judged once.
	type need struct{ host, what string }
	needs := []need{{in.GatewaySNI(), "the SNI the ALB sends"}}
	if p.Host != "" && !strings.EqualFold(p.Host, in.GatewaySNI()) {
		needs = append(needs, need{p.Host, "the Host header the ALB forwards"})
	}
	judged := map[int]bool{}
	landed := map[int]string{}
	for _, n := range needs {
		l, i := hostListener(gw, p.GatewayServicePort, n.host)
		if i >= 0 {
			landed[i] = n.host
		}
		if i < 0 {
			fs = append(fs, NewFinding(GWListenerMissing, obj, "spec.listeners",
				fmt.Sprintf("no listener on port %d takes %s, %s: the connection finds no filter chain or route", p.GatewayServicePort, n.host, n.what),
				fmt.Sprintf("add an HTTPS listener on port %d with hostname %s (re-run kubectl albistio gateway --gateway-api)", p.GatewayServicePort, n.host)))
			continue
		}
		if n.host == p.Host {
			fs = append(fs, routesAllowed(in, obj, l, i)...)
		}
		if judged[i] {
			continue
		}
		judged[i] = true
		fs = append(fs, listenerFindings(in, obj, gw, l, i)...)
	}
	if len(landed) > 1 {
		// Istio's filter chain per listener (matched by SNI) carries the
		// routes of that listener only: the ALB's connection, selected by
		// the SNI, never sees the routes attached for the Host.
		_, si := hostListener(gw, p.GatewayServicePort, in.GatewaySNI())
		_, hi := hostListener(gw, p.GatewayServicePort, p.Host)
		fs = append(fs, NewFinding(GWListenerSplit, obj, "spec.listeners",
			fmt.Sprintf("the SNI the ALB sends (%s) lands on the listener %s and the Host it forwards (%s) on %s: Istio serves each listener as its own filter chain with its own routes, so the ALB's connections reach the first, which has no route for the app, and get 404", in.GatewaySNI(), quote(gw.Spec.Listeners[si].Name), p.Host, quote(gw.Spec.Listeners[hi].Name)),
			"serve both names on one listener (without hostname, as kubectl albistio gateway --gateway-api writes it)"))
	}
	fs = append(fs, frontendFindings(in, obj, gw)...)
	return fs
}

// listenerFindings judges one listener the chain uses: HTTPS, terminating
// TLS with the gateway's credential, and ready by its own status.
func listenerFindings(in *Input, obj string, gw *GWGateway, l GWListener, i int) []Finding {
	p := in.Params
	field := fmt.Sprintf("spec.listeners[%d]", i)
	fix := "re-run kubectl albistio gateway --gateway-api"
	var fs []Finding
	switch {
	case l.Protocol != "HTTPS":
		fs = append(fs, NewFinding(GWListenerTLSWrong, obj, field+".protocol",
			fmt.Sprintf("the listener %s speaks %s, so the gateway does not terminate TLS there and the ALB's handshake fails", quote(l.Name), quote(l.Protocol)),
			"set protocol HTTPS with tls.mode Terminate ("+fix+")"))
	case l.TLS == nil || l.TLS.Mode != nil && *l.TLS.Mode != "Terminate":
		fs = append(fs, NewFinding(GWListenerTLSWrong, obj, field+".tls.mode",
			fmt.Sprintf("the listener %s does not terminate TLS (tls.mode Passthrough, or no tls): the gateway cannot verify the ALB's client certificate", quote(l.Name)),
			"set tls.mode Terminate ("+fix+")"))
	default:
		cred := in.credentialName()
		found := false
		var names []string
		for _, ref := range l.TLS.CertificateRefs {
			names = append(names, ref.namespaceOr(gw.Namespace)+"/"+ref.Name)
			if ref.groupOr("") == "" && ref.kindOr("Secret") == "Secret" && ref.Name == cred && ref.namespaceOr(gw.Namespace) == p.IstioNamespace {
				found = true
			}
		}
		if !found {
			fs = append(fs, NewFinding(GWListenerTLSWrong, obj, field+".tls.certificateRefs",
				fmt.Sprintf("the listener's certificateRefs (%s) do not name the gateway's credential Secret %s/%s, so the gateway presents another certificate than the one the ALB verifies", joinQuoted(names), p.IstioNamespace, cred),
				fmt.Sprintf("set certificateRefs to the Secret %s (%s)", cred, fix)))
		}
	}
	conds, reported := gw.listenerConditions(l.Name)
	var bad []string
	hints := map[string]bool{}
	for _, t := range []string{"Accepted", "Programmed", "ResolvedRefs"} {
		c := condition(conds, t)
		if c != nil && c.Status == metav1.ConditionTrue {
			continue
		}
		bad = append(bad, conditionSays(c, t))
		if c != nil {
			hints[c.Reason] = true
		}
	}
	if len(bad) > 0 {
		why := "Istio has not reported on the listener"
		if reported {
			why = "Istio does not serve the listener as written"
		}
		var hint []string
		if hints["InvalidCACertificateRef"] || hints["InvalidCACertificateKind"] || hints["NoValidCACertificate"] {
			hint = append(hint, "the CA the frontend validation names is missing, of a kind Istio does not read, or holds no ca.crt")
		}
		if hints["InvalidCertificateRef"] {
			hint = append(hint, "the certificateRefs' Secret is missing or not a certificate and key")
		}
		if hints["RefNotPermitted"] {
			hint = append(hint, "a reference into another namespace has no ReferenceGrant")
		}
		msg := fmt.Sprintf("%s %s: %s", why, quote(l.Name), strings.Join(bad, "; "))
		if len(hint) > 0 {
			msg += " — " + strings.Join(hint, "; ")
		}
		fs = append(fs, NewFinding(GWListenerNotReady, obj, fmt.Sprintf("status.listeners[%s]", l.Name), msg,
			fmt.Sprintf("fix what the conditions name (kubectl describe gateways.%s -n %s %s), then re-run check", gatewayAPIGroup, p.IstioNamespace, p.GatewayName)))
	}
	return fs
}

// routesAllowed: the listener that takes --host admits the HTTPRoute's
// namespace (allowedRoutes.namespaces.from defaults to Same, the
// Gateway's namespace, and the HTTPRoute lives in the app's).
func routesAllowed(in *Input, obj string, l GWListener, i int) []Finding {
	p, s := in.Params, in.Snapshot
	if p.AppNamespace == p.IstioNamespace {
		return nil
	}
	from := "Same"
	var sel *metav1.LabelSelector
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
		if l.AllowedRoutes.Namespaces.From != nil {
			from = *l.AllowedRoutes.Namespaces.From
		}
		sel = l.AllowedRoutes.Namespaces.Selector
	}
	field := fmt.Sprintf("spec.listeners[%d].allowedRoutes.namespaces", i)
	fix := "set allowedRoutes.namespaces.from All, or a Selector that matches the app's namespace (re-run kubectl albistio gateway --gateway-api)"
	switch from {
	case "All":
		return nil
	case "Selector":
		if sel == nil || s.AppNamespace == nil {
			return nil // no namespace to match: the app-namespace rule reports it
		}
		ls, err := metav1.LabelSelectorAsSelector(sel)
		// The API server labels every namespace with its name (since
		// Kubernetes 1.21), whatever an object read back shows.
		set := labels.Set{namespaceNameLabel: s.AppNamespace.Name}
		for k, v := range s.AppNamespace.Labels {
			set[k] = v
		}
		if err == nil && ls.Matches(set) {
			return nil
		}
		return []Finding{NewFinding(GWListenerRoutesNotAllowed, obj, field+".selector",
			fmt.Sprintf("the listener %s admits routes from namespaces matching %s, and %s does not match: Istio does not attach the HTTPRoute (NotAllowedByListeners) and requests get 404", quote(l.Name), quote(metav1.FormatLabelSelector(sel)), p.AppNamespace), fix)}
	}
	return []Finding{NewFinding(GWListenerRoutesNotAllowed, obj, field+".from",
		fmt.Sprintf("the listener %s admits routes from %s only (allowedRoutes from %s), and the HTTPRoute is in %s: Istio does not attach it (NotAllowedByListeners) and requests get 404", quote(l.Name), p.IstioNamespace, from, p.AppNamespace), fix)}
}

// frontendFindings judges the frontend validation for the gateway
// Service's port: present and AllowValidOnly, one caCertificateRef to a
// ConfigMap (the plugin's) whose ca.crt parses; and which -cacert Secrets
// Istio reads instead (gatewayAPIClientCAs says how Istio looks them up).
func frontendFindings(in *Input, obj string, gw *GWGateway) []Finding {
	p, s := in.Params, in.Snapshot
	g := s.GatewayAPI
	fix := "re-run kubectl albistio gateway --gateway-api"
	var fs []Finding
	f, field := gw.frontendFor(p.GatewayServicePort)
	l, li := hostListener(gw, p.GatewayServicePort, in.GatewaySNI())
	if f == nil || f.Validation == nil || len(f.Validation.CACertificateRefs) == 0 {
		if li >= 0 && mutualOption(l) {
			return nil // Istio's own MUTUAL option: the classic CA lookup, which the client-trust rule follows
		}
		if field == "" {
			field = "spec.tls"
		}
		return []Finding{NewFinding(GWFrontendValidationOff, obj, field,
			fmt.Sprintf("the Gateway has no frontend validation for port %d: Istio serves the listener as plain TLS and asks for no client certificate, so anyone who reaches the gateway's address gets past it, not only the ALB", p.GatewayServicePort),
			fmt.Sprintf("set spec.tls.frontend.default.validation.caCertificateRefs to the ConfigMap %s with mode AllowValidOnly (%s)", p.ClientCAConfigMap(), fix))}
	}
	v := f.Validation
	if v.Mode == "AllowInsecureFallback" {
		fs = append(fs, NewFinding(GWFrontendValidationOff, obj, field+".validation.mode",
			"the frontend validation's mode is AllowInsecureFallback: Istio serves OPTIONAL_MUTUAL and accepts connections without a valid client certificate, so anyone who reaches the gateway gets past it",
			"set mode AllowValidOnly ("+fix+")"))
	}
	refField := field + ".validation.caCertificateRefs"
	if len(v.CACertificateRefs) > 1 {
		fs = append(fs, NewFinding(GWFrontendCARefBroken, obj, refField,
			fmt.Sprintf("the frontend validation names %d CA references: Istio supports one and rejects the listener (InvalidCACertificateRef, \"only one caCertificateRef is supported\")", len(v.CACertificateRefs)),
			fmt.Sprintf("name only the ConfigMap %s (%s)", p.ClientCAConfigMap(), fix)))
		return fs
	}
	ref := v.CACertificateRefs[0]
	refField += "[0]"
	ns := ref.namespaceOr(gw.Namespace)
	switch kind := ref.kindOr(""); {
	case ref.groupOr("") != "" || kind != "ConfigMap" && kind != "Secret":
		fs = append(fs, NewFinding(GWFrontendCARefBroken, obj, refField,
			fmt.Sprintf("the CA reference is of kind %s in group %s: Istio reads only a core ConfigMap or Secret there and rejects the listener (InvalidCACertificateKind)", quote(kind), quote(ref.groupOr(""))),
			fmt.Sprintf("name the ConfigMap %s (%s)", p.ClientCAConfigMap(), fix)))
	case kind == "Secret":
		fs = append(fs, NewFinding(GWFrontendCARefBroken, obj, refField,
			fmt.Sprintf("the CA reference names the Secret %s/%s: Istio 1.28-1.30 accept the listener but their SDS does not serve a Secret named there (istio#60277), so the gateway has no client CA and refuses every handshake", ns, ref.Name),
			fmt.Sprintf("name the ConfigMap %s with the CA in ca.crt (%s; kubectl albistio secrets --gateway-api writes it)", p.ClientCAConfigMap(), fix)))
		if c := g.ClientCASecretCACert; c != nil {
			fs = append(fs, NewFinding(GWCACertShadows, secretRef(c), "",
				fmt.Sprintf("Istio's SDS reads the CA of a Secret reference from %s before %s/%s itself (GetCaCert): this Secret, not the one the Gateway names, is the CA it would verify the ALB with", c.Name, ns, ref.Name),
				fmt.Sprintf("delete it (kubectl delete secret -n %s %s) and name the ConfigMap %s instead", c.Namespace, c.Name, p.ClientCAConfigMap())))
		}
	default:
		cmRef := ObjectRef("ConfigMap", ns, ref.Name)
		if ns != p.IstioNamespace || ref.Name != p.ClientCAConfigMap() {
			fs = append(fs, NewFinding(GWFrontendCAOther, obj, refField,
				fmt.Sprintf("the frontend validation names %s, not the plugin's ConfigMap %s/%s: Istio verifies the ALB with that CA, which nothing keeps in step with the ALB's client certificate", cmRef, p.IstioNamespace, p.ClientCAConfigMap()),
				fmt.Sprintf("name the ConfigMap %s (%s)", p.ClientCAConfigMap(), fix)))
		}
		fs = append(fs, clientCAConfigMapFindings(in, cmRef)...)
	}
	if c := s.CACert; c != nil && !mutualOption(l) && !(ref.kindOr("") == "Secret" && ns == c.Namespace && ref.Name == c.Name) {
		fs = append(fs, NewFinding(GWCACertLeftover, secretRef(c), "",
			fmt.Sprintf("%s is left from Istio's classic API: Istio does not read it for a Gateway whose frontend validation names its CA (that CA takes precedence over <credential>-cacert), and nothing keeps it current", c.Name),
			fmt.Sprintf("delete it when no classic Gateway uses %s (kubectl delete secret -n %s %s)", in.credentialName(), c.Namespace, c.Name)))
	}
	return fs
}

// clientCAConfigMapFindings: the ConfigMap exists and holds a CA that
// parses, read as Istio's SDS reads it (cacert before ca.crt).
func clientCAConfigMapFindings(in *Input, cmRef string) []Finding {
	cm := in.Snapshot.GatewayAPI.ClientCA
	fix := "re-run kubectl albistio secrets --gateway-api: it writes the client CA into the ConfigMap's ca.crt"
	if cm == nil {
		return []Finding{NewFinding(GWClientCAConfigMapBroken, cmRef, "",
			"the ConfigMap the frontend validation names was not found: Istio rejects the listener (ResolvedRefs False, InvalidCACertificateRef) and the gateway serves nothing there", fix)}
	}
	for _, k := range caKeys() {
		v, ok := cm.Data[k]
		if !ok {
			continue
		}
		if _, err := certs.ParseCertificates([]byte(v)); err != nil || v == "" {
			why := "is empty"
			if err != nil {
				why = "does not parse: " + err.Error()
			}
			return []Finding{NewFinding(GWClientCAConfigMapBroken, cmRef, dataField(k),
				fmt.Sprintf("the ConfigMap's %s %s: Istio rejects the listener (InvalidCACertificateRef) and has no CA to verify the ALB with", k, why), fix)}
		}
		return nil
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	return []Finding{NewFinding(GWClientCAConfigMapBroken, cmRef, dataField("ca.crt"),
		fmt.Sprintf("the ConfigMap has no ca.crt (it has %s): Istio rejects the listener (InvalidCACertificateRef) and has no CA to verify the ALB with", joinQuoted(keys)), fix)}
}

// checkHTTPRoute: the chain's HTTPRoute is bound to the Gateway, accepted
// there with its references resolved, takes --host and routes every chain
// path to --service:--port.
func checkHTTPRoute(in *Input) []Finding {
	g, on := in.gatewayAPIOn()
	if !on {
		return nil
	}
	p := in.Params
	obj := ObjectRef("HTTPRoute", p.AppNamespace, p.VirtualServiceName)
	rt := g.HTTPRoute
	if rt == nil {
		return []Finding{NewFinding(HTTPRouteMissing, obj, "",
			"the chain's HTTPRoute was not found: the Gateway has no route for the app and answers 404",
			fmt.Sprintf("run kubectl albistio setup --gateway-api -n %s, or set --virtualservice-name", p.AppNamespace))}
	}
	var fs []Finding
	fix := "re-run kubectl albistio setup --gateway-api"
	bound := false
	section := ""
	for _, ref := range rt.Spec.ParentRefs {
		if !ref.names(p.IstioNamespace, p.GatewayName, rt.Namespace) {
			continue
		}
		if ref.SectionName == nil || g.Gateway == nil || listenerNamed(g.Gateway, *ref.SectionName) {
			bound = true
		} else {
			section = *ref.SectionName
		}
	}
	switch {
	case !bound && section != "":
		fs = append(fs, NewFinding(HTTPRouteUnbound, obj, "spec.parentRefs",
			fmt.Sprintf("the HTTPRoute's parentRef names the Gateway's section %s, and the Gateway has no listener of that name: it is not attached (NoMatchingParent)", quote(section)),
			fmt.Sprintf("name the listener the Gateway has (%s)", fix)))
	case !bound:
		fs = append(fs, NewFinding(HTTPRouteUnbound, obj, "spec.parentRefs",
			fmt.Sprintf("the HTTPRoute's parentRefs do not name the Gateway %s/%s: it is not attached there", p.IstioNamespace, p.GatewayName),
			fmt.Sprintf("add the parentRef {name: %s, namespace: %s} (%s)", p.GatewayName, p.IstioNamespace, fix)))
	default:
		found := -1
		for i, ps := range rt.Status.Parents {
			if ps.ParentRef.names(p.IstioNamespace, p.GatewayName, rt.Namespace) {
				found = i
				break
			}
		}
		var bad []string
		if found >= 0 {
			for _, t := range []string{"Accepted", "ResolvedRefs"} {
				if c := condition(rt.Status.Parents[found].Conditions, t); c == nil || c.Status != metav1.ConditionTrue {
					bad = append(bad, conditionSays(c, t))
				}
			}
		}
		switch {
		case found < 0:
			fs = append(fs, NewFinding(HTTPRouteNotAccepted, obj, "status.parents",
				fmt.Sprintf("no controller has reported on the HTTPRoute for the Gateway %s/%s: Istio has not attached it (is the Gateway of class istio, and istiod running?)", p.IstioNamespace, p.GatewayName),
				"see kubectl describe httproute -n "+p.AppNamespace+" "+p.VirtualServiceName+" and istiod's log"))
		case len(bad) > 0:
			fs = append(fs, NewFinding(HTTPRouteNotAccepted, obj, fmt.Sprintf("status.parents[%d].conditions", found),
				fmt.Sprintf("the Gateway %s/%s does not route by the HTTPRoute as written: %s", p.IstioNamespace, p.GatewayName, strings.Join(bad, "; ")),
				"fix what the conditions name (NotAllowedByListeners: the listener's allowedRoutes; NoMatchingListenerHostname: the listeners' hostnames; BackendNotFound or RefNotPermitted: the backendRefs), then re-run check"))
		}
	}
	if p.Host != "" && len(rt.Spec.Hostnames) > 0 && !hostListed(rt.Spec.Hostnames, p.Host) {
		fs = append(fs, NewFinding(HTTPRouteHostMissing, obj, "spec.hostnames",
			fmt.Sprintf("the hostnames %s do not include %s, the Host header the ALB forwards: requests find no route and get 404", joinQuoted(rt.Spec.Hostnames), p.Host),
			fmt.Sprintf("add %s to the hostnames (%s)", p.Host, fix)))
	}
	judged := map[int]bool{}
	for _, path := range p.Paths {
		i := routeRuleFor(rt, path)
		if i < 0 {
			fs = append(fs, NewFinding(HTTPRoutePathNotRouted, obj, "spec.rules",
				fmt.Sprintf("no rule matches the chain path %s (PathPrefix or Exact): requests for it get 404", quote(path)),
				fmt.Sprintf("add a PathPrefix match %s (%s)", path, fix)))
			continue
		}
		if judged[i] {
			continue
		}
		judged[i] = true
		if f, ok := backendFinding(in, obj, rt, i); ok {
			fs = append(fs, f)
		}
	}
	return fs
}

// routeRuleFor is the index of the HTTPRoute rule a request for path takes
// (the first whose match covers it; the Gateway API's precedence between
// matches of one route is not needed for the plugin's one-rule-per-path
// routes), or -1.
func routeRuleFor(rt *GWHTTPRoute, path string) int {
	for i, rule := range rt.Spec.Rules {
		if len(rule.Matches) == 0 {
			return i // no match: every path
		}
		for _, m := range rule.Matches {
			typ, value := "PathPrefix", "/"
			if m.Path != nil {
				if m.Path.Type != nil {
					typ = *m.Path.Type
				}
				if m.Path.Value != nil {
					value = *m.Path.Value
				}
			}
			switch typ {
			case "Exact":
				if path == value {
					return i
				}
			case "PathPrefix":
				// Element-wise, as the Gateway API says: /foo takes /foo
				// and /foo/bar, not /foobar.
				prefix := strings.TrimSuffix(value, "/")
				if prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/") {
					return i
				}
			}
		}
	}
	return -1
}

// backendFinding judges the rule's backendRefs: one Service, --service on
// --port in the app namespace, which exists with that port.
func backendFinding(in *Input, obj string, rt *GWHTTPRoute, i int) (Finding, bool) {
	p, s := in.Params, in.Snapshot
	field := fmt.Sprintf("spec.rules[%d].backendRefs", i)
	refs := rt.Spec.Rules[i].BackendRefs
	fix := "route to --service on --port (re-run kubectl albistio setup --gateway-api)"
	if len(refs) == 0 {
		return NewFinding(HTTPRouteBackendWrong, obj, field,
			"the rule has no backendRefs: Istio answers 500 for its requests", fix), true
	}
	ref := refs[0]
	port := int32(0)
	if ref.Port != nil {
		port = *ref.Port
	}
	if ref.groupOr("") != "" || ref.kindOr("Service") != "Service" || ref.Name != p.Service || ref.namespaceOr(rt.Namespace) != p.AppNamespace || port != p.Port || len(refs) > 1 {
		return NewFinding(HTTPRouteBackendWrong, obj, field,
			fmt.Sprintf("the rule sends the chain's requests to %s %s/%s port %d (of %d backendRefs), not to the Service %s/%s port %d the chain is for", ref.kindOr("Service"), ref.namespaceOr(rt.Namespace), ref.Name, port, len(refs), p.AppNamespace, p.Service, p.Port),
			fix), true
	}
	if s.AppService == nil {
		return NewFinding(HTTPRouteBackendWrong, obj, field,
			fmt.Sprintf("the Service %s/%s the rule routes to does not exist: Istio sets ResolvedRefs False (BackendNotFound) and answers 500", p.AppNamespace, p.Service),
			"create the Service, or set --service to the app's Service"), true
	}
	if servicePort(s.AppService, port) == nil {
		return NewFinding(HTTPRouteBackendWrong, obj, field,
			fmt.Sprintf("the Service %s/%s has no port %d (it has %s): requests get 503", p.AppNamespace, p.Service, port, servicePorts(s.AppService)),
			"set --port to a port of the Service (re-run kubectl albistio setup --gateway-api)"), true
	}
	return Finding{}, false
}

// checkReferenceGrants: every reference of the chain's Gateway API objects
// into another namespace is permitted there by a ReferenceGrant.
func checkReferenceGrants(in *Input) []Finding {
	g, on := in.gatewayAPIOn()
	if !on {
		return nil
	}
	var fs []Finding
	for _, c := range crossRefs(g.Gateway, g.HTTPRoute) {
		if g.ReferenceGrantsForbidden[c.toNS] {
			continue // cannot tell; the listener's or route's conditions say RefNotPermitted if so
		}
		ok := false
		for _, rg := range g.ReferenceGrants[c.toNS] {
			if rg.permits(c.fromKind, c.fromNS, c.toGroup, c.toKind, c.toName) {
				ok = true
				break
			}
		}
		if ok {
			continue
		}
		fs = append(fs, NewFinding(ReferenceGrantMissing, c.object, c.field,
			fmt.Sprintf("the %s refers to the %s %s/%s in another namespace, and no ReferenceGrant there lets a %s of %s do so: Istio refuses the reference (RefNotPermitted)", c.fromKind, c.toKind, c.toNS, c.toName, c.fromKind, c.fromNS),
			fmt.Sprintf("add a ReferenceGrant in %s from %s %s/%s to %s %s (kubectl albistio gateway --gateway-api writes the one for the gateway's certificate)", c.toNS, gatewayAPIGroup, c.fromKind, c.fromNS, c.toKind, c.toName)))
	}
	return fs
}

// gatewayAPIHosts are the hostnames of the Gateway's HTTPS listeners on the
// gateway Service's port, for the server-name rule ("*" for a listener
// without one); nil when there is no such Gateway.
func (in *Input) gatewayAPIHosts() []string {
	g := in.Snapshot.GatewayAPI
	if !in.Params.GatewayAPI || g == nil || g.Gateway == nil {
		return nil
	}
	var hosts []string
	for _, l := range g.Gateway.Spec.Listeners {
		if l.Port == in.Params.GatewayServicePort && l.Protocol == "HTTPS" {
			hosts = append(hosts, l.hostname())
		}
	}
	return hosts
}

// listenerNamed says whether the Gateway has a listener named name.
func listenerNamed(gw *GWGateway, name string) bool {
	for _, l := range gw.Spec.Listeners {
		if l.Name == name {
			return true
		}
	}
	return false
}
