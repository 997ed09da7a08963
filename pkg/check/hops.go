package check

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// HopName names one hop of the chain as the report draws it. A request
// passes them in this order: the client reaches the ALB, the ALB speaks
// mutual TLS to the gateway, the gateway routes by the VirtualService to
// the app's Service.
type HopName string

const (
	HopClient         HopName = "client"
	HopALB            HopName = "alb"
	HopMutualTLS      HopName = "mutual-tls"
	HopGateway        HopName = "gateway"
	HopVirtualService HopName = "virtualservice"
	HopAppService     HopName = "app-service"
)

// hopOrder is the order of the hops from the client to the app.
var hopOrder = []HopName{HopClient, HopALB, HopMutualTLS, HopGateway, HopVirtualService, HopAppService}

// hopTitles are the hops as the text report names them.
var hopTitles = map[HopName]string{
	HopClient: "client", HopALB: "ALB", HopMutualTLS: "mutual TLS", HopGateway: "gateway",
	HopVirtualService: "VirtualService", HopAppService: "app Service",
}

// HopStatus is a hop's verdict: the worst level of the findings drawn at it
// (info findings leave it ok), or unknown when check could not judge it
// because what it needs was not read (see unjudged).
type HopStatus string

const (
	HopOK      HopStatus = "ok"
	HopWarning HopStatus = "warning"
	HopError   HopStatus = "error"
	HopUnknown HopStatus = "unknown"
)

// Hop is one hop of the chain in the report: what check read there and the
// codes of the findings about it.
type Hop struct {
	Name   HopName   `json:"name"`
	Status HopStatus `json:"status"`
	// Codes are the codes of the findings drawn at this hop, worst first,
	// each once.
	Codes []Code `json:"codes,omitempty"`
	// BelowOutputThreshold counts the findings about this hop that
	// --output-threshold leaves out: not in Codes, not in Status.
	BelowOutputThreshold int `json:"belowOutputThreshold,omitempty"`
	// Unjudged says why check could not judge the hop (Status unknown).
	Unjudged string `json:"unjudged,omitempty"`
	// Facts are what the hop is made of, as read: names, settings,
	// certificates and their days left.
	Facts []HopFact `json:"facts,omitempty"`
	// title, when set, is the hop's title in the text report instead of
	// hopTitles' (the VirtualService hop is the HTTPRoute in Gateway API
	// mode; its name stays, for scripts).
	title string
}

// HopFact is one thing the report says about a hop.
type HopFact struct {
	// Name is stable (see factLabels); Value is for people.
	Name  string `json:"name"`
	Value string `json:"value"`
}

// factLabels are the facts' names as the text report prints them.
var factLabels = map[string]string{
	"host": "host", "paths": "paths",
	"flavor": "flavor", "ingressClass": "class", "ingress": "Ingress", "tlsCertificate": "TLS certificate",
	"clientCertificate": "client certificate", "clientAuth": "client auth", "sni": "SNI",
	"verification": "verification", "clientCA": "gateway trusts",
	"gateway": "Gateway", "serverCertificate": "server certificate", "pods": "pods", "gatewayService": "Service",
	"virtualService": "VirtualService", "routes": "routes", "httpRoute": "HTTPRoute",
	"service": "Service", "namespace": "namespace",
}

// hopCodes places every code of the catalog at the hop it is about: the
// one place that says where a finding is drawn (TestEveryCodeHasOneHop
// holds the catalog to it). Codes listed in byObject as well are about
// whichever secret or object they name, and are drawn at that object's hop
// (objectHops); the hop they are listed under here is where they go when
// the object is none of the chain's.
var hopCodes = map[HopName][]Code{
	HopALB: {
		ALBSecretMissing, ALBTLSCopyStale, ALBTLSCopyUnrenewed,
		IngressMissing, IngressPathMissing, IngressBackendWrong, IngressTLSSecretMissing, IngressClassWrong,
		FlavorUndetected, FlavorMismatch, BluemixAnnotationIgnore, TraefikRouterNoTLS, TraefikNginxClassIgnored,
		CertNameNotCovered, CertExpired, CertExpiresSoon, CertNotYetValid,
	},
	HopMutualTLS: {
		ClientSecretMissing, CACertSecretMissing, PrivateCASecretAbsent,
		SecretKeyMissing, SecretUnparsable, KeyMismatch, CopyUnannotated, RenewalDue,
		ClientCertNoClientAuth, ClientCertUntrusted, ServerCertUntrusted, VerifyDepthTooShort,
		ClientSecretStale, CACertStale, PrivateCAUntrusted,
		NginxNotHTTPS, NginxSSLSecretInvalid, NginxSSLSecretCrossNS, NginxSSLSecretOther,
		NginxVerifyInvalid, NginxVerifyOff, NginxSNIOff, ServerNameMissing, ServerNameNotInCert, ServerNameNotOnGateway,
		AnnotationPastedKV,
		TraefikTransportMissing, TraefikServiceNoLink, TraefikSchemeHTTP, TraefikNoClientCert, TraefikNoRootCAs, TraefikSkipVerify,
		ClassicSSLServicesWrong,
		TraefikNginxCompat, TraefikNginxVerifyInverted, TraefikNginxVerifyDepthIgnored, TraefikNginxServerName,
		TraefikNginxSecretCrossNS, TraefikNginxVersionUnknown, TraefikNginxSNIDiffers,
		NginxIngressSkipped, NginxVersionUnknown, NginxLocationDeniedVersion,
		ProbeHandshakeOK, ProbeClientRejected, ProbeClientNoAuthEKU, ProbeServerUntrusted, ProbeHandshakeFailed, ProbeNotRun,
		CertManagerNotServed, CertManagerObjectMissing, IssuerNotReady, CertificateNotReady, CertificateSecretMissing,
		CredentialCACertLeftover, CertManagerRenewalOverdue, CertificateSpecOther,
		GWClientCAConfigMapBroken, GWCACertShadows, GWCACertLeftover,
	},
	HopGateway: {
		GatewaySecretMissing,
		GatewayMissing, GatewayPodsMissing, GatewaySelectorNoMatch, GatewayPodsNotReady, GatewayPortMissing,
		GatewayNotHTTPS, GatewayNotMutual, GatewayTLSModeBroken, GatewayCredentialWrong, GatewayDomainNotOnHosts,
		HostNotOnGateway, GatewayServiceMissing, ServicePortMissing, ServiceSelectsNoPods, GatewayClientCAOther,
		GatewayClientCANotCA, GatewayClientCAMissing,
		IstioMissing, IstioV1NotServed, IstioTooOld, ProbeConnectFailed,
		GatewayAPINotServed, GatewayAPIServed, GatewayAPITooOld, GatewayClassNotAccepted, GWGatewayMissing,
		GWGatewayClassWrong, GWGatewayNotReady, GWListenerMissing, GWListenerTLSWrong, GWListenerNotReady,
		GWFrontendValidationOff, GWFrontendCARefBroken, GWFrontendCAOther, IstioIgnoresFrontend, IstioReleaseUnknown,
		ReferenceGrantMissing, GWListenerSplit,
	},
	HopVirtualService: {
		VirtualServiceMissing, VirtualServiceUnbound, VirtualServiceHostOff, HostNotOnVirtualSvc, PathNotRouted,
		DestinationNotService, ProbeHTTPClientError,
		HTTPRouteMissing, HTTPRouteUnbound, HTTPRouteNotAccepted, HTTPRouteHostMissing, HTTPRoutePathNotRouted,
		GWListenerRoutesNotAllowed,
	},
	HopAppService: {
		DestinationMissing, DestinationPortMissing, AppNamespaceMissing, SidecarInjectionOff, HTTPRouteBackendWrong,
		ProbeHTTPOK, ProbeHTTPServerError,
	},
}

// byObject are the codes any secret, certificate or cert-manager object of
// the chain can have; AnnotationPastedKV is drawn by its annotation
// (upstreamAnnotations) before its object.
var byObject = map[Code]bool{
	SecretKeyMissing: true, SecretUnparsable: true, KeyMismatch: true,
	CertExpired: true, CertExpiresSoon: true, CertNotYetValid: true, CertNameNotCovered: true,
	CopyUnannotated: true, RenewalDue: true, AnnotationPastedKV: true,
	CertManagerObjectMissing: true, CertificateNotReady: true, CertificateSecretMissing: true,
	CertManagerRenewalOverdue: true, CertificateSpecOther: true,
}

// upstreamAnnotations are the annotations that tell the ALB how to reach
// the gateway: a finding on one of them is about the mutual TLS, not about
// the ALB's side facing the client.
var upstreamAnnotations = map[string]bool{
	render.NginxBackendProtocol: true, render.NginxProxySSLSecret: true, render.NginxProxySSLVerify: true,
	render.NginxProxySSLVerifyDepth: true, render.NginxProxySSLName: true, render.NginxProxySSLServerName: true,
	render.TraefikServiceTransport: true, render.TraefikServiceServerScheme: true, render.ClassicSSLServices: true,
}

// codeHop is hopCodes turned around.
var codeHop = func() map[Code]HopName {
	m := map[Code]HopName{}
	for hop, codes := range hopCodes {
		for _, c := range codes {
			m[c] = hop
		}
	}
	return m
}()

// objectHops says which hop each object of the chain belongs to, by the
// name findings give it ("Kind namespace/name"): in cert-manager mode the
// hop's own server secret and Certificate are the gateway's, its CA and
// client certificate the mutual TLS's.
func objectHops(in *Input) map[string]HopName {
	p, s := in.Params, in.Snapshot
	m := map[string]HopName{}
	add := func(hop HopName, kind, ns, name string) {
		if ref := ObjectRef(kind, ns, name); name != "" && m[ref] == "" {
			m[ref] = hop
		}
	}
	add(HopALB, "Secret", p.ALBSecretNamespace, p.ALBSecret)
	if sec := s.IngressTLSSecret; sec != nil {
		add(HopALB, "Secret", sec.Namespace, sec.Name)
	}
	add(HopALB, "Secret", p.IstioNamespace, p.ALBSecret) // the plugin's copy, also when missing
	add(HopALB, "Ingress", p.IstioNamespace, p.IngressName)

	add(HopGateway, "Secret", p.IstioNamespace, p.GatewaySecret)
	add(HopGateway, "Secret", p.IstioNamespace, p.HopServerSecret())
	add(HopGateway, "Certificate", p.IstioNamespace, p.HopServerSecret())
	add(HopGateway, "Gateway", p.IstioNamespace, p.GatewayName)
	add(HopGateway, "Service", p.IstioNamespace, p.GatewayService)

	for _, name := range []string{p.ClientSecret, p.CASecret, p.ClientCASecret(), in.clientCAName()} {
		add(HopMutualTLS, "Secret", p.IstioNamespace, name)
	}
	add(HopMutualTLS, "Certificate", p.IstioNamespace, p.ClientSecret)
	add(HopMutualTLS, "Certificate", p.IstioNamespace, p.CASecret)
	add(HopMutualTLS, "Issuer", p.IstioNamespace, p.CASecret)
	add(HopMutualTLS, "Issuer", p.IstioNamespace, p.SelfSignedIssuer())
	add(HopMutualTLS, "ServersTransport", p.IstioNamespace, p.TransportName())
	add(HopMutualTLS, "Service", p.IstioNamespace, p.TraefikService())

	add(HopVirtualService, "VirtualService", p.AppNamespace, p.VirtualServiceName)
	if p.GatewayAPI {
		add(HopVirtualService, "HTTPRoute", p.AppNamespace, p.VirtualServiceName)
		add(HopMutualTLS, "ConfigMap", p.IstioNamespace, p.ClientCAConfigMap())
	}
	add(HopAppService, "Service", p.AppNamespace, p.Service)
	add(HopAppService, "Namespace", "", p.AppNamespace)
	return m
}

// hopOf is the hop a finding is drawn at.
func hopOf(f Finding, objects map[string]HopName) HopName {
	if byObject[f.Code] {
		if key, ok := annotationKey(f.Field); ok && upstreamAnnotations[key] {
			return HopMutualTLS
		}
		if hop, ok := objects[f.Object]; ok {
			return hop
		}
	}
	if hop, ok := codeHop[f.Code]; ok {
		return hop
	}
	return HopMutualTLS // unreachable for catalog codes (TestEveryCodeHasOneHop)
}

// annotationKey is the key of an annotationField, and whether field is one.
func annotationKey(field string) (string, bool) {
	rest, ok := strings.CutPrefix(field, "metadata.annotations[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	return strings.TrimSuffix(rest, "]"), true
}

// Hops draws the chain in describes hop by hop, judging each hop by the
// findings fs drawn at it (hopCodes): what check read there and the codes
// found. fs are the findings that count (after --suppress), the probe's
// included; those below outputThreshold are only counted, as the finding
// list leaves them out too.
func Hops(in *Input, fs []Finding, outputThreshold Level) []Hop {
	objects := objectHops(in)
	found := map[HopName][]Finding{}
	for _, f := range fs {
		h := hopOf(f, objects)
		found[h] = append(found[h], f)
	}
	facts := hopFacts(in)
	unjudged := in.unjudged()
	hops := make([]Hop, 0, len(hopOrder))
	for _, name := range hopOrder {
		hop := Hop{Name: name, Status: HopOK, Facts: facts[name]}
		if name == HopVirtualService && in.Params.GatewayAPI {
			hop.title = "HTTPRoute"
		}
		worst := 0
		seen := map[Code]bool{}
		here := slices.Clone(found[name])
		Sort(here)
		for _, f := range here {
			if !f.Level.AtLeast(outputThreshold) {
				hop.BelowOutputThreshold++
				continue
			}
			if !seen[f.Code] {
				seen[f.Code] = true
				hop.Codes = append(hop.Codes, f.Code)
			}
			worst = max(worst, f.Level.severity())
		}
		switch {
		case worst >= LevelError.severity():
			hop.Status = HopError
		case worst >= LevelWarning.severity():
			hop.Status = HopWarning
		case unjudged[name] != "":
			hop.Status = HopUnknown
		}
		hop.Unjudged = unjudged[name]
		hops = append(hops, hop)
	}
	return hops
}

// unjudged says, by hop, why the rules could not judge it: the Istio API
// is not served (no Gateway or VirtualService could be read), the ALB's
// flavor is unknown (its annotations were not checked), the VirtualService
// that would name the app's Service is missing.
func (in *Input) unjudged() map[HopName]string {
	s := in.Snapshot
	out := map[HopName]string{}
	if s.FlavorError != "" {
		out[HopMutualTLS] = "the ALB's flavor is unknown, so its settings for the gateway were not checked"
	}
	switch {
	case in.Params.GatewayAPI:
		in.gatewayAPIUnjudged(out)
	case s.IstioVersion == "":
		out[HopGateway] = "networking.istio.io is not served: no Gateway was read"
		out[HopVirtualService] = "networking.istio.io is not served: no VirtualService was read"
		out[HopAppService] = "no VirtualService was read to route to the Service"
	case s.VirtualService == nil:
		out[HopAppService] = "the VirtualService that routes to the Service is missing"
	}
	return out
}

// hopFacts are what each hop is made of, read from the snapshot.
func hopFacts(in *Input) map[HopName][]HopFact {
	p, s := in.Params, in.Snapshot
	roles := map[string]CertificateStatus{}
	for _, c := range Certificates(in) {
		roles[c.Role] = c
	}
	out := map[HopName][]HopFact{}
	add := func(hop HopName, name, value string) {
		out[hop] = append(out[hop], HopFact{Name: name, Value: value})
	}

	add(HopClient, "host", "https://"+clip(p.Host))
	add(HopClient, "paths", strings.Join(p.Paths, ", "))

	flavorName := string(p.Flavor)
	if s.FlavorError != "" {
		flavorName += " (not detected)"
	}
	add(HopALB, "flavor", flavorName)
	ingRef := p.IstioNamespace + "/" + p.IngressName
	if ing := s.Ingress; ing != nil {
		class := ing.Annotations["kubernetes.io/ingress.class"]
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		}
		if class == "" {
			class = "none (the default class)"
		}
		add(HopALB, "ingressClass", clip(class))
		add(HopALB, "ingress", ingRef)
	} else {
		if class := flavor.IngressClassName(p); class != "" {
			add(HopALB, "ingressClass", class+" (expected)")
		} else {
			add(HopALB, "ingressClass", "unknown")
		}
		add(HopALB, "ingress", ingRef+" not found")
	}
	if c, ok := roles["alb-tls"]; ok {
		add(HopALB, "tlsCertificate", certFact(c))
	} else if s.IngressTLSSecret != nil {
		add(HopALB, "tlsCertificate", secretRef(s.IngressTLSSecret)+" (no usable certificate)")
	} else {
		add(HopALB, "tlsCertificate", "none found: the ALB serves its default certificate")
	}

	add(HopMutualTLS, "clientCertificate", in.clientCertFact(roles))
	add(HopMutualTLS, "clientAuth", in.clientAuthFact())
	add(HopMutualTLS, "sni", in.sniFact())
	add(HopMutualTLS, "verification", in.verificationFact())
	add(HopMutualTLS, "clientCA", in.clientCAFact())

	if p.GatewayAPI {
		add(HopGateway, "gateway", in.gatewayAPIGatewayFact())
	} else {
		add(HopGateway, "gateway", in.gatewayFact())
	}
	if c, ok := roles["gateway-server"]; ok {
		add(HopGateway, "serverCertificate", certFact(c))
	} else {
		add(HopGateway, "serverCertificate", ObjectRef("Secret", p.IstioNamespace, in.credentialName())+" not found or unusable")
	}
	ready := 0
	for _, pod := range s.GatewayPods {
		if anyReady([]corev1.Pod{pod}) {
			ready++
		}
	}
	if len(s.GatewayPods) == 0 {
		add(HopGateway, "pods", "none match "+quote(p.SelectorString()))
	} else {
		add(HopGateway, "pods", fmt.Sprintf("%d of %d ready", ready, len(s.GatewayPods)))
	}
	if svc := s.GatewayService; svc != nil {
		add(HopGateway, "gatewayService", fmt.Sprintf("%s/%s, port %d", svc.Namespace, svc.Name, p.GatewayServicePort))
	} else {
		add(HopGateway, "gatewayService", p.IstioNamespace+"/"+p.GatewayService+" not found")
	}

	vsRef := p.AppNamespace + "/" + p.VirtualServiceName
	if p.GatewayAPI {
		for _, f := range in.httpRouteFacts() {
			add(HopVirtualService, f.Name, f.Value)
		}
	} else if vs := s.VirtualService; vs != nil {
		add(HopVirtualService, "virtualService", vsRef)
		var routes []string
		for _, path := range p.Paths {
			route, _ := routeFor(vs.Spec.GetHttp(), path)
			dest := "no route"
			if route != nil && len(route.GetRoute()) > 0 && route.GetRoute()[0].GetDestination() != nil {
				d := route.GetRoute()[0].GetDestination()
				dest = clip(d.GetHost())
				if n := d.GetPort().GetNumber(); n != 0 {
					dest += fmt.Sprintf(":%d", n)
				}
			}
			routes = append(routes, path+" -> "+dest)
		}
		add(HopVirtualService, "routes", strings.Join(routes, ", "))
	} else if s.IstioVersion == "" {
		add(HopVirtualService, "virtualService", vsRef+" not read")
	} else {
		add(HopVirtualService, "virtualService", vsRef+" not found")
	}

	svcRef := p.AppNamespace + "/" + p.Service
	if svc := s.AppService; svc != nil {
		ports := make([]string, len(svc.Spec.Ports))
		for i, sp := range svc.Spec.Ports {
			ports[i] = fmt.Sprint(sp.Port)
		}
		add(HopAppService, "service", svcRef+", port "+strings.Join(ports, ", "))
	} else {
		add(HopAppService, "service", svcRef+" not found")
	}
	switch ns := s.AppNamespace; {
	case ns == nil:
		add(HopAppService, "namespace", p.AppNamespace+" not found")
	case ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio-injection"] != "disabled" && ns.Labels["istio.io/rev"] != "":
		add(HopAppService, "namespace", p.AppNamespace+", sidecar injection on")
	default:
		add(HopAppService, "namespace", p.AppNamespace+", sidecar injection off")
	}
	return out
}

// certFact is a certificate of the chain as a hop shows it: its secret,
// days left and who renews it.
func certFact(c CertificateStatus) string {
	return c.Object + ": " + certLife(c)
}

// certLife is a certificate's days left and who renews it.
func certLife(c CertificateStatus) string {
	left := fmt.Sprintf("%d days left", c.DaysLeft)
	switch {
	case c.DaysLeft < 0:
		left = "expired"
	case c.DaysLeft == 1:
		left = "1 day left"
	}
	by := map[string]string{
		RenewedByIKS: "IKS renews it", RenewedByCertManager: "cert-manager renews it",
		RenewedBySetup: "setup renews it", RenewedByNobody: "nothing renews it",
	}[c.RenewedBy]
	if by == "" {
		by = "renewed by " + c.RenewedBy
	}
	return left + ", " + by
}

// clientChain is the ALB's client certificate chain, nil when unreadable.
func (in *Input) clientChain() []*x509.Certificate {
	certKey, _, _ := in.ClientKeys()
	cs, _ := parseCerts(in.Snapshot.ClientSecret, certKey, "")
	return cs
}

func (in *Input) clientCertFact(roles map[string]CertificateStatus) string {
	p := in.Params
	c, ok := roles["alb-client"]
	chainCerts := in.clientChain()
	if !ok || len(chainCerts) == 0 {
		if in.Snapshot.ClientSecret == nil {
			return ObjectRef("Secret", p.IstioNamespace, p.ClientSecret) + " not found"
		}
		return secretRef(in.Snapshot.ClientSecret) + " (no usable certificate)"
	}
	return fmt.Sprintf("%s issued by %s: %s", c.Object, quote(chainCerts[0].Issuer.CommonName), certLife(c))
}

func (in *Input) clientAuthFact() string {
	cs := in.clientChain()
	if len(cs) == 0 {
		return "unknown (no client certificate)"
	}
	for _, c := range cs {
		if !certs.HasUsage(c, x509.ExtKeyUsageClientAuth) {
			if c == cs[0] {
				return "no: the certificate lacks the TLS client-auth usage"
			}
			return fmt.Sprintf("no: its CA %s lacks the TLS client-auth usage", quote(c.Subject.CommonName))
		}
	}
	return "yes"
}

// sniFact is the name the ALB sends as SNI, and the one it should send
// when they differ.
func (in *Input) sniFact() string {
	want := in.GatewaySNI()
	s := in.Snapshot
	if u, ok := in.upstreamTLS(); ok && u.SNI.Known && !u.SNI.On {
		return fmt.Sprintf("%s (the gateway expects %s)", u.SNI.Said, want)
	}
	sn, ok := albServerName(in)
	switch {
	case !ok && s.Ingress == nil && s.ServersTransport == nil:
		return "unknown (no Ingress or ServersTransport), the gateway expects " + want
	case !ok:
		return "unreadable, the gateway expects " + want
	case sn.name == "":
		return "not set (the gateway expects " + want + ")"
	case !strings.EqualFold(sn.name, want):
		return fmt.Sprintf("%s (the gateway expects %s)", quote(sn.name), want)
	}
	return sn.name
}

// verificationFact says whether and how deep the ALB verifies the
// gateway's certificate.
func (in *Input) verificationFact() string {
	u, ok := in.upstreamTLS()
	if !ok {
		return "unknown (flavor not detected)"
	}
	switch v := u.Verify; {
	case !v.Known:
		return v.Said
	case !v.On:
		return v.Said + ": the ALB does not verify the gateway"
	case u.Depth.Known:
		return fmt.Sprintf("on, depth %d", u.Depth.Value)
	case u.Depth.Unlimited:
		return "on, no depth limit"
	}
	return "on"
}

// clientCAFact is the CA the gateway verifies the ALB's client certificate with.
func (in *Input) clientCAFact() string {
	if name, readAsCA := in.namedClientCA(); name != "" {
		if !readAsCA {
			return fmt.Sprintf("caCertCredentialName %s, no -cacert suffix: Istio reads it as a certificate and key, so none", quote(name))
		}
		if _, from := in.gatewayClientCAs(); from != "" {
			return fmt.Sprintf("the CA in %s (caCertCredentialName)", from)
		}
		return fmt.Sprintf("caCertCredentialName %s: no CA found there", quote(name))
	}
	_, from := in.gatewayClientCAs()
	if from == "" && in.Params.GatewayAPI {
		return "no CA found in what the Gateway's frontend validation names"
	}
	if from == "" {
		return "no CA found: neither " + ObjectRef("Secret", in.Params.IstioNamespace, in.clientCAName()) + " nor the credential holds one"
	}
	return "the CA in " + from
}

// gatewayFact is the Gateway and the mode of its server for the chain.
func (in *Input) gatewayFact() string {
	p, s := in.Params, in.Snapshot
	ref := p.IstioNamespace + "/" + p.GatewayName
	switch {
	case s.IstioVersion == "":
		return ref + " not read"
	case s.Gateway == nil:
		return ref + " not found"
	}
	server, _ := chainServer(s.Gateway, in)
	if server == nil {
		return fmt.Sprintf("%s, no server on port %d", ref, p.GatewayServicePort)
	}
	tls := server.GetTls()
	mode := "no tls"
	if tls != nil {
		mode = tls.GetMode().String()
	}
	return fmt.Sprintf("%s, port %d %s, %s, credential %s", ref, server.GetPort().GetNumber(), clip(server.GetPort().GetProtocol()), mode, clip(tls.GetCredentialName()))
}
