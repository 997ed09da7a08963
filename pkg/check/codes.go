package check

// Code identifies one kind of finding. Codes are stable: scripts and
// documentation refer to them, so a code is never renumbered or reused for
// another problem, even after its rule is removed.
type Code string

// 01xx: secrets and certificates.
const (
	ALBSecretMissing      Code = "ALB0101"
	GatewaySecretMissing  Code = "ALB0102"
	ClientSecretMissing   Code = "ALB0103"
	CACertSecretMissing   Code = "ALB0104"
	SecretKeyMissing      Code = "ALB0105"
	SecretUnparsable      Code = "ALB0106"
	KeyMismatch           Code = "ALB0107"
	CertExpired           Code = "ALB0108"
	CertExpiresSoon       Code = "ALB0109"
	CertNotYetValid       Code = "ALB0110"
	CertNameNotCovered    Code = "ALB0111"
	PrivateCASecretAbsent Code = "ALB0112"
)

// 02xx: trust between the ALB and the gateway.
const (
	ClientCertNoClientAuth Code = "ALB0201"
	ClientCertUntrusted    Code = "ALB0202"
	ServerCertUntrusted    Code = "ALB0203"
	VerifyDepthTooShort    Code = "ALB0204"
)

// 03xx: copies of certificates the plugin made.
const (
	ClientSecretStale  Code = "ALB0301"
	CACertStale        Code = "ALB0302"
	ALBTLSCopyStale    Code = "ALB0303"
	CopyUnannotated    Code = "ALB0304"
	PrivateCAUntrusted Code = "ALB0305"
)

// 04xx: the Istio Gateway and the gateway workload.
const (
	GatewayMissing          Code = "ALB0401"
	GatewayPodsMissing      Code = "ALB0402"
	GatewaySelectorNoMatch  Code = "ALB0403"
	GatewayPodsNotReady     Code = "ALB0404"
	GatewayPortMissing      Code = "ALB0405"
	GatewayNotHTTPS         Code = "ALB0406"
	GatewayNotMutual        Code = "ALB0407"
	GatewayTLSModeBroken    Code = "ALB0408"
	GatewayCredentialWrong  Code = "ALB0409"
	GatewayDomainNotOnHosts Code = "ALB0410"
	HostNotOnGateway        Code = "ALB0411"
	GatewayServiceMissing   Code = "ALB0412"
	ServicePortMissing      Code = "ALB0413"
	ServiceSelectsNoPods    Code = "ALB0414"
	GatewayClientCAOther    Code = "ALB0415"
	GatewayClientCANotCA    Code = "ALB0416"
	GatewayClientCAMissing  Code = "ALB0417"
)

// 05xx: the VirtualService and the service it routes to.
const (
	VirtualServiceMissing  Code = "ALB0501"
	VirtualServiceUnbound  Code = "ALB0502"
	VirtualServiceHostOff  Code = "ALB0503"
	HostNotOnVirtualSvc    Code = "ALB0504"
	PathNotRouted          Code = "ALB0505"
	DestinationNotService  Code = "ALB0506"
	DestinationMissing     Code = "ALB0507"
	DestinationPortMissing Code = "ALB0508"
	AppNamespaceMissing    Code = "ALB0509"
	SidecarInjectionOff    Code = "ALB0510"
)

// 06xx: the ALB's Ingress and its flavor's annotations.
const (
	IngressMissing          Code = "ALB0601"
	IngressPathMissing      Code = "ALB0602"
	IngressBackendWrong     Code = "ALB0603"
	IngressTLSSecretMissing Code = "ALB0604"
	IngressClassWrong       Code = "ALB0605"
	FlavorUndetected        Code = "ALB0606"
	FlavorMismatch          Code = "ALB0607"
	BluemixAnnotationIgnore Code = "ALB0608"
	NginxNotHTTPS           Code = "ALB0610"
	NginxSSLSecretInvalid   Code = "ALB0611"
	NginxSSLSecretCrossNS   Code = "ALB0612"
	NginxSSLSecretOther     Code = "ALB0613"
	NginxVerifyInvalid      Code = "ALB0614"
	NginxVerifyOff          Code = "ALB0615"
	NginxSNIOff             Code = "ALB0616"
	ServerNameMissing       Code = "ALB0617"
	ServerNameNotInCert     Code = "ALB0618"
	ServerNameNotOnGateway  Code = "ALB0619"
	AnnotationPastedKV      Code = "ALB0620"
	TraefikTransportMissing Code = "ALB0630"
	TraefikServiceNoLink    Code = "ALB0631"
	TraefikSchemeHTTP       Code = "ALB0632"
	TraefikNoClientCert     Code = "ALB0634"
	TraefikNoRootCAs        Code = "ALB0635"
	TraefikSkipVerify       Code = "ALB0636"
	TraefikRouterNoTLS      Code = "ALB0637"
	ClassicSSLServicesWrong Code = "ALB0640"
	// Traefik's ingress-nginx compatibility layer (IKS ibm-ingress-deploy-config).
	TraefikNginxCompat             Code = "ALB0650"
	TraefikNginxClassIgnored       Code = "ALB0651"
	TraefikNginxVerifyInverted     Code = "ALB0652"
	TraefikNginxVerifyDepthIgnored Code = "ALB0653"
	TraefikNginxServerName         Code = "ALB0654"
	TraefikNginxSecretCrossNS      Code = "ALB0655"
	TraefikNginxVersionUnknown     Code = "ALB0656"
	TraefikNginxSNIDiffers         Code = "ALB0657"
	// ingress-nginx's release: how it reads proxy-ssl-secret (nginxversion.go).
	NginxIngressSkipped        Code = "ALB0658"
	NginxVersionUnknown        Code = "ALB0659"
	NginxLocationDeniedVersion Code = "ALB0660"
)

// 07xx: the Istio API the cluster serves.
const (
	IstioMissing     Code = "ALB0701"
	IstioV1NotServed Code = "ALB0702"
	IstioTooOld      Code = "ALB0703"
)

// 08xx: the live probe (--probe).
const (
	ProbeHandshakeOK     Code = "ALB0801"
	ProbeConnectFailed   Code = "ALB0802"
	ProbeClientRejected  Code = "ALB0803"
	ProbeClientNoAuthEKU Code = "ALB0804"
	ProbeServerUntrusted Code = "ALB0805"
	ProbeHandshakeFailed Code = "ALB0806"
	ProbeHTTPOK          Code = "ALB0807"
	ProbeHTTPClientError Code = "ALB0808"
	ProbeHTTPServerError Code = "ALB0809"
	ProbeNotRun          Code = "ALB0810"
)

// 09xx: renewal, and the hop's cert-manager objects.
const (
	CertManagerNotServed      Code = "ALB0901"
	CertManagerObjectMissing  Code = "ALB0902"
	IssuerNotReady            Code = "ALB0903"
	CertificateNotReady       Code = "ALB0904"
	CertificateSecretMissing  Code = "ALB0905"
	ALBTLSCopyUnrenewed       Code = "ALB0906"
	CredentialCACertLeftover  Code = "ALB0907"
	CertManagerRenewalOverdue Code = "ALB0908"
	RenewalDue                Code = "ALB0909"
	CertificateSpecOther      Code = "ALB0910"
)

// 10xx: the Kubernetes Gateway API as the gateway side (--gateway-api).
const (
	GatewayAPINotServed        Code = "ALB1001"
	GatewayAPIServed           Code = "ALB1002"
	GatewayAPITooOld           Code = "ALB1003"
	GatewayClassNotAccepted    Code = "ALB1004"
	GWGatewayMissing           Code = "ALB1005"
	GWGatewayClassWrong        Code = "ALB1006"
	GWGatewayNotReady          Code = "ALB1007"
	GWListenerMissing          Code = "ALB1008"
	GWListenerTLSWrong         Code = "ALB1009"
	GWListenerNotReady         Code = "ALB1010"
	GWListenerRoutesNotAllowed Code = "ALB1011"
	GWFrontendValidationOff    Code = "ALB1012"
	GWFrontendCARefBroken      Code = "ALB1013"
	GWFrontendCAOther          Code = "ALB1014"
	GWClientCAConfigMapBroken  Code = "ALB1015"
	IstioIgnoresFrontend       Code = "ALB1016"
	IstioReleaseUnknown        Code = "ALB1017"
	GWCACertShadows            Code = "ALB1018"
	GWCACertLeftover           Code = "ALB1019"
	HTTPRouteMissing           Code = "ALB1020"
	HTTPRouteUnbound           Code = "ALB1021"
	HTTPRouteNotAccepted       Code = "ALB1022"
	HTTPRouteHostMissing       Code = "ALB1023"
	HTTPRoutePathNotRouted     Code = "ALB1024"
	HTTPRouteBackendWrong      Code = "ALB1025"
	ReferenceGrantMissing      Code = "ALB1026"
	GWListenerSplit            Code = "ALB1027"
)

// CodeInfo describes a code: its level, which never changes, and what it means.
type CodeInfo struct {
	Code        Code   `json:"code"`
	Level       Level  `json:"level"`
	Description string `json:"description"`
}

// Catalog lists every code once, in code order. It is the single place a
// code is declared; `check --list-checks` prints it.
func Catalog() []CodeInfo {
	return []CodeInfo{
		{ALBSecretMissing, LevelError, "The ALB's TLS secret (--alb-secret in --alb-secret-namespace) does not exist."},
		{GatewaySecretMissing, LevelError, "The gateway's TLS secret (--gateway-secret, the Gateway's credentialName) does not exist in the Istio namespace."},
		{ClientSecretMissing, LevelError, "The ALB's client secret (--client-secret) does not exist: the ALB presents no client certificate."},
		{CACertSecretMissing, LevelError, "Neither <gateway-secret>-cacert nor the gateway secret holds a CA: the MUTUAL gateway cannot verify the ALB."},
		{SecretKeyMissing, LevelError, "A secret lacks a data key its reader needs (tls.crt/tls.key, the flavor's client keys, ca.crt or cacert)."},
		{SecretUnparsable, LevelError, "A certificate or private key in a secret does not parse."},
		{KeyMismatch, LevelError, "A secret's private key does not belong to its certificate."},
		{CertExpired, LevelError, "A certificate has expired."},
		{CertExpiresSoon, LevelWarning, "A certificate expires within 21 days."},
		{CertNotYetValid, LevelError, "A certificate is not valid yet (check the clock of whoever issued it)."},
		{CertNameNotCovered, LevelError, "A certificate does not cover the name it serves (--host for the ALB, --gateway-domain for the gateway)."},
		{PrivateCASecretAbsent, LevelInfo, "The private CA secret (--ca-secret) is missing: the next `secrets` run creates a new CA and re-issues the client certificate."},

		{ClientCertNoClientAuth, LevelError, "The ALB's client certificate chain lacks the TLS client-auth usage: Envoy verifies client chains for purpose ssl_client and rejects it (Let's Encrypt dropped clientAuth on 2026-02-11)."},
		{ClientCertUntrusted, LevelError, "The ALB's client certificate does not verify against the CA the gateway trusts (<gateway-secret>-cacert)."},
		{ServerCertUntrusted, LevelError, "The gateway's server certificate does not verify against the CA the ALB trusts (the client secret's ca.crt)."},
		{VerifyDepthTooShort, LevelError, "The ALB's verify depth is shorter than the gateway's certificate chain."},

		{ClientSecretStale, LevelWarning, "The ALB's client secret no longer matches its source (IKS renewed the ALB certificate, or the private CA changed)."},
		{CACertStale, LevelWarning, "<gateway-secret>-cacert (with --gateway-api, the client-CA ConfigMap) no longer matches its source."},
		{ALBTLSCopyStale, LevelWarning, "The copy of the ALB's TLS secret in the Ingress's namespace no longer matches the IKS secret: the ALB serves an old certificate."},
		{CopyUnannotated, LevelInfo, "A secret the chain uses was not written by the plugin (no albistio.io/source annotation): whether it is current cannot be told."},
		{PrivateCAUntrusted, LevelError, "The plugin's private CA is not the CA the gateway verifies client certificates with: the ALB's next client certificate will be refused."},

		{GatewayMissing, LevelError, "The Istio Gateway (--gateway-name) does not exist."},
		{GatewayPodsMissing, LevelError, "No pod in the Istio namespace matches --gateway-selector: the ingress gateway is not running there."},
		{GatewaySelectorNoMatch, LevelError, "The Gateway's selector matches none of the gateway pods: no Envoy serves it."},
		{GatewayPodsNotReady, LevelWarning, "No gateway pod is ready."},
		{GatewayPortMissing, LevelError, "The Gateway has no server on --gateway-service-port."},
		{GatewayNotHTTPS, LevelError, "The Gateway's server on the HTTPS port does not use protocol HTTPS."},
		{GatewayNotMutual, LevelWarning, "The Gateway's TLS mode is SIMPLE or OPTIONAL_MUTUAL: it does not require the ALB's client certificate."},
		{GatewayTLSModeBroken, LevelError, "The Gateway's TLS mode is missing or one the ALB cannot complete (ISTIO_MUTUAL, PASSTHROUGH, ...)."},
		{GatewayCredentialWrong, LevelError, "The Gateway's credentialName is not --gateway-secret."},
		{GatewayDomainNotOnHosts, LevelError, "The Gateway's hosts do not include --gateway-domain: the SNI the ALB sends matches no filter chain."},
		{HostNotOnGateway, LevelError, "The Gateway's hosts do not include --host: requests the ALB forwards find no route (404)."},
		{GatewayServiceMissing, LevelError, "The gateway's Service (--gateway-service) does not exist."},
		{ServicePortMissing, LevelError, "A Service in front of the gateway has no port --gateway-service-port."},
		{ServiceSelectsNoPods, LevelError, "A Service in front of the gateway selects none of the gateway pods."},
		{GatewayClientCAOther, LevelWarning, "The Gateway's caCertCredentialName (recent Istio releases) names another <name>-cacert than <gateway-secret>-cacert: Istio verifies the ALB with that one, which nothing keeps in step with the ALB's client certificate."},
		{GatewayClientCANotCA, LevelError, "The Gateway's caCertCredentialName names a secret without the -cacert suffix: Istio reads it as a certificate and key, serves no client CA, and every handshake fails."},
		{GatewayClientCAMissing, LevelError, "The <name>-cacert the Gateway's caCertCredentialName names is missing or holds no CA that parses: Istio has no client CA to verify the ALB with."},

		{VirtualServiceMissing, LevelError, "The VirtualService (--virtualservice-name) does not exist."},
		{VirtualServiceUnbound, LevelError, "The VirtualService is not bound to the Gateway (spec.gateways)."},
		{VirtualServiceHostOff, LevelWarning, "A VirtualService host is not on the Gateway: Istio ignores it there."},
		{HostNotOnVirtualSvc, LevelError, "The VirtualService's hosts do not include --host: requests the ALB forwards find no route (404)."},
		{PathNotRouted, LevelError, "A chain path (--path) is not routed by the VirtualService."},
		{DestinationNotService, LevelWarning, "The VirtualService routes the chain's path to another service than --service, which check does not verify."},
		{DestinationMissing, LevelError, "The Service the VirtualService routes to does not exist."},
		{DestinationPortMissing, LevelError, "The VirtualService's destination port is not a port of the Service."},
		{AppNamespaceMissing, LevelError, "The app's namespace (-n) does not exist."},
		{SidecarInjectionOff, LevelWarning, "The app's namespace has no sidecar injection (istio-injection=enabled or istio.io/rev)."},

		{IngressMissing, LevelError, "The ALB's Ingress (--ingress-name) does not exist."},
		{IngressPathMissing, LevelError, "The Ingress has no rule for --host that routes a chain path."},
		{IngressBackendWrong, LevelError, "The Ingress sends a chain path elsewhere than the gateway Service's HTTPS port."},
		{IngressTLSSecretMissing, LevelWarning, "The Ingress has no TLS secret for --host in its own namespace: the ALB falls back to its default certificate."},
		{IngressClassWrong, LevelError, "The Ingress's class is not one the cluster's ALB of this flavor serves."},
		{FlavorUndetected, LevelError, "The ALB flavor cannot be detected from the cluster's IngressClasses; flavor checks were skipped."},
		{FlavorMismatch, LevelError, "--alb-flavor does not match the ALBs the cluster's IngressClasses show (e.g. classic on an nginx or Traefik cluster)."},
		{BluemixAnnotationIgnore, LevelWarning, "The Ingress carries ingress.bluemix.net annotations, which nginx and Traefik ALBs ignore."},
		{NginxNotHTTPS, LevelError, "nginx: backend-protocol is not HTTPS, so the ALB speaks plain HTTP to the gateway's TLS port."},
		{NginxSSLSecretInvalid, LevelError, "nginx: proxy-ssl-secret is missing or not \"namespace/name\": no client certificate is sent (the location is denied)."},
		{NginxSSLSecretCrossNS, LevelError, "nginx: proxy-ssl-secret names another namespace than the Ingress's: \"cross namespace secrets are not supported\"."},
		{NginxSSLSecretOther, LevelWarning, "nginx: proxy-ssl-secret names another secret than --client-secret, which check verified."},
		{NginxVerifyInvalid, LevelError, "nginx: proxy-ssl-verify is neither \"on\" nor \"off\" (e.g. \"true\"): ingress-nginx silently turns verification off."},
		{NginxVerifyOff, LevelWarning, "nginx: proxy-ssl-verify is off: the ALB does not verify the gateway's certificate."},
		{NginxSNIOff, LevelError, "nginx: proxy-ssl-server-name is not \"on\": nginx sends SNI \"upstream_balancer\" and the gateway has no filter chain for it."},
		{ServerNameMissing, LevelError, "The ALB is not told the gateway's name (nginx proxy-ssl-name, Traefik serverName, classic proxy-ssl-name)."},
		{ServerNameNotInCert, LevelError, "The name the ALB sends and verifies is not covered by the gateway certificate's subjectAltNames."},
		{ServerNameNotOnGateway, LevelError, "The name the ALB sends as SNI is not one of the Gateway's hosts: no filter chain matches."},
		{AnnotationPastedKV, LevelError, "An annotation value contains a pasted \"key=value\" or annotation name; the controller reads it as an invalid value."},
		{TraefikTransportMissing, LevelError, "traefik: the ServersTransport does not exist (or Traefik's CRDs are not installed)."},
		{TraefikServiceNoLink, LevelError, "traefik: the backend Service is missing or its serverstransport annotation does not name the ServersTransport."},
		{TraefikSchemeHTTP, LevelError, "traefik: Traefik speaks plain HTTP to the gateway (port not 443, name not https*, no serversscheme https)."},
		{TraefikNoClientCert, LevelError, "traefik: the ServersTransport's certificatesSecrets does not name --client-secret: no client certificate is sent."},
		{TraefikNoRootCAs, LevelWarning, "traefik: the ServersTransport's rootCAs does not name --client-secret: Traefik verifies the gateway with its system roots."},
		{TraefikSkipVerify, LevelWarning, "traefik: the ServersTransport sets insecureSkipVerify: the ALB does not verify the gateway."},
		{TraefikRouterNoTLS, LevelWarning, "traefik: the Ingress lacks router.tls \"true\": HTTPS requests get 404 unless the entry point has TLS on."},
		{ClassicSSLServicesWrong, LevelError, "classic: the ingress.bluemix.net/ssl-services annotation does not send the gateway Service over TLS with --client-secret."},
		{TraefikNginxCompat, LevelInfo, "traefik-nginx: the nginx-annotated Ingress is served by IKS's Traefik compatibility layer; the Traefik version its annotations were judged against is named."},
		{TraefikNginxClassIgnored, LevelError, "traefik-nginx: the compatibility layer serves only Traefik's IngressClasses, and the Ingress names another (the nginx class): it ignores the Ingress."},
		{TraefikNginxVerifyInverted, LevelError, "traefik-nginx: the ALB's Traefik version (v3.5.0–v3.6.2) reads proxy-ssl-verify \"on\" as skip verification."},
		{TraefikNginxVerifyDepthIgnored, LevelWarning, "traefik-nginx: proxy-ssl-verify-depth is set, and Traefik's ingress-nginx provider ignores it."},
		{TraefikNginxServerName, LevelError, "traefik-nginx: without proxy-ssl-name Traefik sends the value of proxy-ssl-server-name (the plugin's \"on\") as the server name, which is not the gateway's: every request answers 502."},
		{TraefikNginxSecretCrossNS, LevelError, "traefik-nginx: proxy-ssl-secret is in another namespace than the Ingress's, which Traefik v3.7+ refuses."},
		{TraefikNginxVersionUnknown, LevelWarning, "traefik-nginx: the compatibility layer or the ALB's Traefik version could not be read; the annotations were judged as Traefik 3.7 reads them."},
		{TraefikNginxSNIDiffers, LevelWarning, "traefik-nginx: the chain works behind Traefik, which reads the server name differently from ingress-nginx: it sends SNI whatever proxy-ssl-server-name says, or takes the name from it."},
		{NginxIngressSkipped, LevelError, "nginx: the ALB's ingress-nginx (v1.12.0 or later) validates annotations and refuses proxy-ssl-secret's value, so it skips the whole Ingress: none of its hosts and paths is served."},
		{NginxVersionUnknown, LevelWarning, "nginx: proxy-ssl-secret's value is one ingress-nginx releases read differently, and the ALB's version could not be read; it was judged as v1.12.0 and later read it."},
		{NginxLocationDeniedVersion, LevelInfo, "nginx: the ALB's ingress-nginx (before v1.12.0) does not validate annotations by default, so proxy-ssl-secret's value denies the location (503); from v1.12.0 it skips the whole Ingress."},

		{IstioMissing, LevelError, "The cluster does not serve networking.istio.io: Istio's CRDs are not installed."},
		{IstioV1NotServed, LevelWarning, "networking.istio.io/v1 is not served (Istio older than 1.22, out of support): v1beta1 was used."},
		{IstioTooOld, LevelError, "networking.istio.io serves neither v1 nor v1beta1."},

		{ProbeHandshakeOK, LevelInfo, "probe: the mutual-TLS handshake with the gateway completed."},
		{ProbeConnectFailed, LevelError, "probe: no TCP connection to the gateway's address."},
		{ProbeClientRejected, LevelError, "probe: the gateway rejected the ALB's client certificate (the TLS alert is named)."},
		{ProbeClientNoAuthEKU, LevelError, "probe: the gateway rejected the ALB's client certificate, whose chain lacks the client-auth usage."},
		{ProbeServerUntrusted, LevelError, "probe: the gateway's certificate does not verify against the ALB's ca.crt for the gateway domain."},
		{ProbeHandshakeFailed, LevelError, "probe: the handshake failed otherwise (the gateway closed the connection or sent another alert; usually SNI)."},
		{ProbeHTTPOK, LevelInfo, "probe: the HTTPS request through the gateway got an answer."},
		{ProbeHTTPClientError, LevelWarning, "probe: the gateway answered the request with a 4xx status of its own (404: no route for host and path)."},
		{ProbeHTTPServerError, LevelError, "probe: the gateway answered 5xx of its own, or no HTTP response came back."},
		{ProbeNotRun, LevelError, "probe: the probe could not run (no address, no client identity, or the port-forward failed)."},

		{CertManagerNotServed, LevelError, "The hop is cert-manager's, but the cluster does not serve cert-manager.io/v1: nothing issues or renews its certificates."},
		{CertManagerObjectMissing, LevelWarning, "An Issuer or Certificate of the hop does not exist: cert-manager does not renew what it stands for, which keeps working only until it expires."},
		{IssuerNotReady, LevelWarning, "An Issuer of the hop is not Ready: cert-manager cannot issue or renew certificates from it."},
		{CertificateNotReady, LevelWarning, "A Certificate of the hop is not Ready: cert-manager has not issued its Secret as the Certificate asks (its message is quoted)."},
		{CertificateSecretMissing, LevelError, "A Secret cert-manager should write for the hop (its CA, the ALB's client certificate, the gateway's server certificate) does not exist."},
		{ALBTLSCopyUnrenewed, LevelWarning, "The ALB serves the host with the plugin's copy of the ALB's TLS secret, which nothing renews: after IKS's next renewal the ALB serves the old certificate until it expires."},
		{CredentialCACertLeftover, LevelWarning, "A <credential>-cacert exists beside the hop's cert-manager credential: Istio verifies the ALB with it instead of the ca.crt cert-manager keeps current."},
		{CertManagerRenewalOverdue, LevelWarning, "A certificate cert-manager keeps for the hop is past its renewal time and was not renewed: cert-manager is not running, or fails to renew it."},
		{RenewalDue, LevelInfo, "A certificate the plugin issued or copied has less than 30 days left, when setup renews it: nothing renews it until setup runs."},
		{CertificateSpecOther, LevelWarning, "A Certificate of the hop writes another Secret, or is issued by another Issuer, than the ones the hop reads and trusts."},

		{GatewayAPINotServed, LevelError, "--gateway-api: the cluster does not serve gateway.networking.k8s.io/v1 Gateways: the Gateway API's CRDs are not installed (the finding says how to install the standard ones)."},
		{GatewayAPIServed, LevelInfo, "--gateway-api: the Gateway API release (bundle version) and channel the cluster's CRDs carry, or that they could not be read."},
		{GatewayAPITooOld, LevelError, "--gateway-api: the installed Gateway API is older than v1.5.0, whose standard channel lacks spec.tls.frontend: the gateway asks the ALB for no client certificate."},
		{GatewayClassNotAccepted, LevelError, "--gateway-api: the GatewayClass the Gateway names (istio) does not exist or is not Accepted by its controller."},
		{GWGatewayMissing, LevelError, "--gateway-api: the Gateway API Gateway (--gateway-name) does not exist."},
		{GWGatewayClassWrong, LevelError, "--gateway-api: the Gateway's gatewayClassName is not istio: Istio does not program it."},
		{GWGatewayNotReady, LevelError, "--gateway-api: the Gateway is not Accepted or not Programmed by Istio (its conditions are quoted)."},
		{GWListenerMissing, LevelError, "--gateway-api: no listener on the gateway Service's port takes the SNI the ALB sends or --host."},
		{GWListenerTLSWrong, LevelError, "--gateway-api: a listener the chain uses is not HTTPS, does not terminate TLS, or its certificateRefs do not name the gateway's credential."},
		{GWListenerNotReady, LevelError, "--gateway-api: a listener the chain uses is not Accepted, Programmed or ResolvedRefs (reasons such as InvalidCACertificateRef, InvalidCertificateRef, RefNotPermitted)."},
		{GWListenerRoutesNotAllowed, LevelError, "--gateway-api: the listener that takes --host does not admit routes from the app's namespace (allowedRoutes)."},
		{GWFrontendValidationOff, LevelWarning, "--gateway-api: the Gateway has no frontend validation for the port, or its mode is AllowInsecureFallback: the gateway does not require the ALB's client certificate."},
		{GWFrontendCARefBroken, LevelError, "--gateway-api: the frontend validation's caCertificateRefs are more than one, of a kind Istio does not read, or a Secret, which Istio 1.28-1.30's SDS does not serve there."},
		{GWFrontendCAOther, LevelWarning, "--gateway-api: the frontend validation names another ConfigMap than the plugin's <gateway-name>-client-ca, which nothing keeps in step with the ALB's client certificate."},
		{GWClientCAConfigMapBroken, LevelError, "--gateway-api: the ConfigMap the frontend validation names is missing, or its ca.crt is missing or does not parse."},
		{IstioIgnoresFrontend, LevelError, "--gateway-api: the gateway runs an Istio older than 1.28, which ignores spec.tls.frontend and asks the ALB for no client certificate."},
		{IstioReleaseUnknown, LevelInfo, "--gateway-api: the gateway pods' istio-proxy image names no Istio release, so whether Istio honours spec.tls.frontend (1.28 and later) is not known."},
		{GWCACertShadows, LevelWarning, "--gateway-api: a <name>-cacert Secret exists beside the Secret the frontend validation names: Istio's SDS reads it instead."},
		{GWCACertLeftover, LevelInfo, "--gateway-api: <gateway-secret>-cacert is left from the classic API; Istio does not read it for a Gateway whose frontend validation names its CA."},
		{HTTPRouteMissing, LevelError, "--gateway-api: the chain's HTTPRoute (--virtualservice-name) does not exist."},
		{HTTPRouteUnbound, LevelError, "--gateway-api: the HTTPRoute's parentRefs do not name the Gateway."},
		{HTTPRouteNotAccepted, LevelError, "--gateway-api: the Gateway has not accepted the HTTPRoute, or not resolved its references (status.parents conditions)."},
		{HTTPRouteHostMissing, LevelError, "--gateway-api: the HTTPRoute's hostnames do not include --host: requests the ALB forwards find no route (404)."},
		{HTTPRoutePathNotRouted, LevelError, "--gateway-api: a chain path (--path) is matched by no rule of the HTTPRoute."},
		{HTTPRouteBackendWrong, LevelError, "--gateway-api: the HTTPRoute routes a chain path elsewhere than --service on --port, or to a Service or port that does not exist."},
		{ReferenceGrantMissing, LevelError, "--gateway-api: a reference of the Gateway or HTTPRoute into another namespace has no ReferenceGrant there that permits it."},
		{GWListenerSplit, LevelError, "--gateway-api: the SNI the ALB sends and --host land on different listeners: the app's routes are in a filter chain the ALB's connections never select (404)."},
	}
}

// Describe returns the catalog entry of code, and false for an unknown code.
func Describe(code Code) (CodeInfo, bool) {
	for _, c := range Catalog() {
		if c.Code == code {
			return c, true
		}
	}
	return CodeInfo{}, false
}
