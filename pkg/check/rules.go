package check

// Rule is one job of check: a pure function from the Input to findings,
// and the codes it may emit (a test holds every rule to its list).
type Rule struct {
	Name  string
	Codes []Code
	Check func(*Input) []Finding
}

// Rules lists every static rule, one per file, in the order they run.
func Rules() []Rule {
	return []Rule{
		{"istio-api", []Code{IstioMissing, IstioV1NotServed, IstioTooOld}, checkIstioAPI},
		{"secrets", []Code{ALBSecretMissing, GatewaySecretMissing, ClientSecretMissing, CACertSecretMissing,
			SecretKeyMissing, SecretUnparsable, KeyMismatch, PrivateCASecretAbsent}, checkSecrets},
		{"validity", []Code{CertExpired, CertExpiresSoon, CertNotYetValid}, checkValidity},
		{"names", []Code{CertNameNotCovered}, checkNames},
		{"client-trust", []Code{ClientCertNoClientAuth, ClientCertUntrusted}, checkClientTrust},
		{"server-trust", []Code{ServerCertUntrusted, VerifyDepthTooShort}, checkServerTrust},
		{"copies", []Code{ClientSecretStale, CACertStale, ALBTLSCopyStale, CopyUnannotated}, checkCopies},
		{"private-ca", []Code{PrivateCAUntrusted}, checkPrivateCA},
		{"gateway", []Code{GatewayMissing, GatewayPortMissing, GatewayNotHTTPS, GatewayNotMutual, GatewayTLSModeBroken,
			GatewayCredentialWrong, GatewayClientCAOther, GatewayClientCANotCA, GatewayClientCAMissing, GatewayDomainNotOnHosts, HostNotOnGateway}, checkGateway},
		{"gateway-workload", []Code{GatewayPodsMissing, GatewaySelectorNoMatch, GatewayPodsNotReady,
			GatewayServiceMissing, ServicePortMissing, ServiceSelectsNoPods}, checkGatewayWorkload},
		{"virtualservice", []Code{VirtualServiceMissing, VirtualServiceUnbound, VirtualServiceHostOff, HostNotOnVirtualSvc,
			PathNotRouted, DestinationNotService, DestinationMissing, DestinationPortMissing}, checkVirtualService},
		{"app-namespace", []Code{AppNamespaceMissing, SidecarInjectionOff}, checkAppNamespace},
		{"ingress", []Code{IngressMissing, IngressPathMissing, IngressBackendWrong, IngressTLSSecretMissing, IngressClassWrong}, checkIngress},
		{"flavor", []Code{FlavorUndetected, FlavorMismatch, BluemixAnnotationIgnore}, checkFlavor},
		{"annotation-values", []Code{AnnotationPastedKV}, checkAnnotationValues},
		{"nginx", []Code{NginxNotHTTPS, NginxSSLSecretInvalid, NginxSSLSecretCrossNS, NginxSSLSecretOther,
			NginxVerifyInvalid, NginxVerifyOff, NginxSNIOff}, checkNginx},
		{"nginx-version", []Code{NginxIngressSkipped, NginxVersionUnknown, NginxLocationDeniedVersion}, checkNginxVersion},
		{"server-name", []Code{ServerNameMissing, ServerNameNotInCert, ServerNameNotOnGateway}, checkServerName},
		{"traefik", []Code{TraefikTransportMissing, TraefikServiceNoLink, TraefikSchemeHTTP, TraefikNoClientCert,
			TraefikNoRootCAs, TraefikSkipVerify, TraefikRouterNoTLS}, checkTraefik},
		{"classic", []Code{ClassicSSLServicesWrong}, checkClassic},
		{"traefik-nginx", []Code{TraefikNginxCompat, TraefikNginxClassIgnored, TraefikNginxVerifyInverted, TraefikNginxVerifyDepthIgnored,
			TraefikNginxServerName, TraefikNginxSecretCrossNS, TraefikNginxVersionUnknown, TraefikNginxSNIDiffers}, checkTraefikNginx},
		{"cert-manager", []Code{CertManagerNotServed, CertManagerObjectMissing, IssuerNotReady, CertificateNotReady,
			CertificateSecretMissing, CredentialCACertLeftover, CertManagerRenewalOverdue, CertificateSpecOther}, checkCertManager},
		{"renewal", []Code{ALBTLSCopyUnrenewed, RenewalDue}, checkRenewal},
		{"gateway-api", []Code{GatewayAPINotServed, GatewayAPIServed, GatewayAPITooOld, IstioIgnoresFrontend, IstioReleaseUnknown}, checkGatewayAPIServed},
		{"gateway-api-gateway", []Code{GatewayClassNotAccepted, GWGatewayMissing, GWGatewayClassWrong, GWGatewayNotReady,
			GWListenerMissing, GWListenerTLSWrong, GWListenerNotReady, GWListenerRoutesNotAllowed, GWFrontendValidationOff,
			GWFrontendCARefBroken, GWFrontendCAOther, GWClientCAConfigMapBroken, GWCACertShadows, GWCACertLeftover, GWListenerSplit}, checkGWGateway},
		{"httproute", []Code{HTTPRouteMissing, HTTPRouteUnbound, HTTPRouteNotAccepted, HTTPRouteHostMissing,
			HTTPRoutePathNotRouted, HTTPRouteBackendWrong}, checkHTTPRoute},
		{"reference-grants", []Code{ReferenceGrantMissing}, checkReferenceGrants},
	}
}

// Run applies every rule to in and returns the findings, sorted, with
// fix lines that re-run the plugin over someone else's fields saying how
// (conflictFixes).
func Run(in *Input) []Finding {
	var fs []Finding
	for _, r := range Rules() {
		fs = append(fs, r.Check(in)...)
	}
	Sort(fs)
	return conflictFixes(in, fs)
}
