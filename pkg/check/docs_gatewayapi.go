package check

// The reference entries of the Gateway API codes (10xx), merged into
// codeDocs: kept apart from docs.go so that the classic entries and these
// change independently.

const (
	seeGWGateway  = `kubectl get gateways.gateway.networking.k8s.io -n istio-system "albistio-$INGRESS_GATEWAY_SECRET" -o yaml`
	seeHTTPRoute  = `kubectl get httproutes.gateway.networking.k8s.io -n "$NS" albistio-httpbin -o yaml`
	fixGWGateway  = "Run `kubectl albistio gateway --gateway-api -n \"$NS\"` (it writes the Gateway the chain needs)."
	fixHTTPRoute  = "Run `kubectl albistio setup --gateway-api -n \"$NS\"` (it writes the HTTPRoute the chain needs)."
	seeClientCACM = `kubectl get configmap -n istio-system "albistio-$INGRESS_GATEWAY_SECRET-client-ca" -o jsonpath='{.data.ca\.crt}' | openssl x509 -noout -subject -enddate`
)

var gatewayAPIDocs = map[Code]CodeDoc{
	GatewayAPINotServed: {
		Cause: "`--gateway-api` puts the gateway side on the Kubernetes Gateway API, and the cluster does not serve `gateway.networking.k8s.io/v1` Gateways: its CRDs are not installed (Istio does not install them).",
		See:   `kubectl api-resources --api-group=gateway.networking.k8s.io`,
		Fix:   "Install the standard CRDs: `" + standardInstall + "` (then restart istiod so that it creates the `istio` GatewayClass), or drop `--gateway-api`.",
	},
	GatewayAPIServed: {
		Cause: "The Gateway CRD carries the Gateway API release it came from (`gateway.networking.k8s.io/bundle-version`) and its channel (`gateway.networking.k8s.io/channel`, standard or experimental); this line names them, or says the CRD could not be read (check's Role may not get CRDs).",
		See:   `kubectl get crd gateways.gateway.networking.k8s.io -o jsonpath='{.metadata.annotations}'`,
		Fix:   "Nothing to do.",
	},
	GatewayAPITooOld: {
		Cause: "Frontend client-certificate validation (GEP-91, `spec.tls.frontend`) is in the standard channel since Gateway API v1.5.0. An older CRD has no such field: the API server drops it from the Gateway the plugin writes, and Istio serves plain TLS.",
		See:   `kubectl get crd gateways.gateway.networking.k8s.io -o jsonpath='{.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}'`,
		Fix:   "Install v1.5.0 or later of the standard CRDs: `" + standardInstall + "`.",
	},
	GatewayClassNotAccepted: {
		Cause: "Istio serves Gateways of class `istio`, a GatewayClass istiod creates (and accepts) when its Gateway API support is on and the CRDs were there when it started. Missing or not Accepted, no controller programs the Gateway.",
		See:   `kubectl get gatewayclass istio -o yaml`,
		Fix:   "Restart istiod after installing the CRDs; make sure `PILOT_ENABLE_GATEWAY_API` is not false.",
	},
	GWGatewayMissing: {
		Cause: "The hop's Gateway API Gateway (`--gateway-name`, default `albistio-<gateway-secret>`, in the Istio namespace) does not exist.",
		See:   seeGWGateway,
		Fix:   fixGWGateway,
	},
	GWGatewayClassWrong: {
		Cause: "The Gateway names another GatewayClass than `istio`: Istio's controller ignores it, and another controller (or none) serves it.",
		See:   seeGWGateway + ` | grep gatewayClassName`,
		Fix:   fixGWGateway,
	},
	GWGatewayNotReady: {
		Cause: "Istio reports on every Gateway it serves: `Accepted` (the Gateway is valid) and `Programmed` (its Deployment and Service exist and have an address). A condition that is not True says, with its reason and message, why the gateway does not serve it.",
		See:   `kubectl describe gateways.gateway.networking.k8s.io -n istio-system "albistio-$INGRESS_GATEWAY_SECRET"`,
		Fix:   "Fix what the conditions name (for an unmanaged Gateway, that `spec.addresses` names an existing Service), then run check again.",
	},
	GWListenerMissing: {
		Cause: "The ALB connects to the gateway Service's port and sends the gateway domain as SNI (in cert-manager mode the hop's server name), then the app's Host header. Each must land on a listener on that port whose hostname takes it, or the connection finds no filter chain, or the request no route.",
		See:   seeGWGateway + ` | grep -A8 listeners`,
		Fix:   fixGWGateway,
	},
	GWListenerTLSWrong: {
		Cause: "The listener must be `protocol: HTTPS` with `tls.mode: Terminate` and `certificateRefs` naming the gateway's credential (the IKS secret for the gateway domain, or cert-manager's server secret): otherwise the gateway does not terminate TLS or presents a certificate the ALB does not verify.",
		See:   seeGWGateway + ` | grep -A12 listeners`,
		Fix:   fixGWGateway,
	},
	GWListenerNotReady: {
		Cause: "Istio reports each listener's `Accepted`, `Programmed` and `ResolvedRefs`. `InvalidCertificateRef`: the certificate Secret is missing or not a key pair; `InvalidCACertificateRef`/`InvalidCACertificateKind`: the frontend validation's CA is missing, has no `ca.crt` or is of a kind Istio does not read; `RefNotPermitted`: a cross-namespace reference has no ReferenceGrant.",
		See:   `kubectl get gateways.gateway.networking.k8s.io -n istio-system "albistio-$INGRESS_GATEWAY_SECRET" -o jsonpath='{.status.listeners}'`,
		Fix:   "Fix what the conditions name, then run check again.",
	},
	GWListenerRoutesNotAllowed: {
		Cause: "A listener admits routes from its own namespace only unless `allowedRoutes.namespaces` says `All` or a `Selector`; the HTTPRoute lives in the app's namespace, the Gateway in the Istio namespace. Istio then does not attach the route (`NotAllowedByListeners`).",
		See:   seeGWGateway + ` | grep -A3 allowedRoutes`,
		Fix:   fixGWGateway,
	},
	GWFrontendValidationOff: {
		Cause: "Istio (1.28 and later) turns `spec.tls.frontend.default.validation` (or the `perPort` entry for the port) into MUTUAL TLS. Without it the gateway serves plain TLS and does not ask for a client certificate; with mode `AllowInsecureFallback` it serves OPTIONAL_MUTUAL and lets clients without a valid certificate in.",
		See:   seeGWGateway + ` | grep -A8 frontend`,
		Fix:   "Set `caCertificateRefs` to the ConfigMap `<gateway-name>-client-ca` with `mode: AllowValidOnly`. " + fixGWGateway,
	},
	GWFrontendCARefBroken: {
		Cause: "Istio supports one `caCertificateRef` of kind ConfigMap or Secret. More than one, or another kind, and it rejects the listener. A Secret is accepted, but the SDS of Istio 1.28–1.30 does not serve it there (istio#60277), so the gateway has no client CA and refuses every handshake.",
		See:   seeGWGateway + ` | grep -A6 caCertificateRefs`,
		Fix:   "Name one ConfigMap, `<gateway-name>-client-ca` with the CA in `ca.crt`. " + fixGWGateway,
	},
	GWFrontendCAOther: {
		Cause: "The frontend validation names another ConfigMap than the plugin's `<gateway-name>-client-ca`: Istio verifies the ALB with that CA, which `secrets` does not keep in step with the ALB's client certificate. check verified the ALB's chain against it anyway.",
		See:   seeGWGateway + ` | grep -A6 caCertificateRefs`,
		Fix:   fixGWGateway,
	},
	GWClientCAConfigMapBroken: {
		Cause: "Istio reads the frontend validation's ConfigMap for `cacert`, then `ca.crt` (its SDS, `GetConfigMapCaCert`). Missing, without either key, or with one that does not parse, and the listener is rejected (`InvalidCACertificateRef`): the gateway has no CA to verify the ALB with.",
		See:   seeClientCACM,
		Fix:   "Run `kubectl albistio secrets --gateway-api -n \"$NS\"`: it writes the client CA into the ConfigMap's `ca.crt`.",
	},
	IstioIgnoresFrontend: {
		Cause: "Istio translates `spec.tls.frontend` to MUTUAL since 1.28; an older istiod ignores it and serves the listener as plain TLS. check reads Istio's release from the gateway pods' `istio-proxy` image tag, which istiod injects with its own release.",
		See:   `kubectl get pods -n istio-system -l gateway.networking.k8s.io/gateway-name="albistio-$INGRESS_GATEWAY_SECRET" -o jsonpath='{.items[*].spec.containers[?(@.name=="istio-proxy")].image}'`,
		Fix:   "Upgrade Istio to 1.28 or later (IKS's managed add-on ships 1.28–1.30), or drop `--gateway-api` and use Istio's classic API.",
	},
	IstioReleaseUnknown: {
		Cause: "The gateway pods' `istio-proxy` image tag is not a release (a digest, `latest`, a custom build), so check cannot tell whether Istio translates `spec.tls.frontend` (1.28 and later).",
		See:   `kubectl get pods -n istio-system -o jsonpath='{.items[*].spec.containers[?(@.name=="istio-proxy")].image}'`,
		Fix:   "Confirm the release with `istioctl version`; nothing to do when it is 1.28 or later.",
	},
	GWCACertShadows: {
		Cause: "For a Secret named in `caCertificateRefs`, Istio asks its SDS for `<name>-cacert`, and the SDS reads a Secret of that name first, the named one only when it is absent (`GetCaCert`, pilot/pkg/credentials/kube/secrets.go). A ConfigMap reference has no such lookup.",
		See:   `kubectl get secret -n istio-system "<name>-cacert"`,
		Fix:   "Delete the `-cacert` Secret and name the ConfigMap `<gateway-name>-client-ca` instead.",
	},
	GWCACertLeftover: {
		Cause: "`<gateway-secret>-cacert` is the client CA of Istio's classic API. With the frontend validation naming a ConfigMap, Istio sets the server's caCertCredentialName to it, which takes precedence over `<credential>-cacert`: the Secret is not read, and nothing keeps it current. It is read again only where the listener asks for MUTUAL with the `gateway.istio.io/tls-terminate-mode` option instead.",
		See:   `kubectl get secret -n istio-system "$INGRESS_GATEWAY_SECRET-cacert"`,
		Fix:   "Delete it when no classic Gateway uses the gateway secret: `kubectl delete secret -n istio-system \"$INGRESS_GATEWAY_SECRET-cacert\"`.",
	},
	HTTPRouteMissing: {
		Cause: "The chain's HTTPRoute (`--virtualservice-name`, default `albistio-<chain>`, in the app namespace) does not exist, so the gateway has no route and answers 404.",
		See:   seeHTTPRoute,
		Fix:   fixHTTPRoute,
	},
	HTTPRouteUnbound: {
		Cause: "An HTTPRoute attaches to the Gateways its `parentRefs` name (group `gateway.networking.k8s.io`, kind Gateway, the route's namespace unless given). None names the hop's Gateway.",
		See:   seeHTTPRoute + ` | grep -A4 parentRefs`,
		Fix:   fixHTTPRoute,
	},
	HTTPRouteNotAccepted: {
		Cause: "Istio writes, per parent Gateway, `Accepted` (the route attached: not `NotAllowedByListeners` or `NoMatchingListenerHostname`) and `ResolvedRefs` (its backends exist and may be referenced: not `BackendNotFound` or `RefNotPermitted`). No status for the Gateway means Istio has not processed the route.",
		See:   `kubectl get httproutes.gateway.networking.k8s.io -n "$NS" albistio-httpbin -o jsonpath='{.status.parents}'`,
		Fix:   "Fix what the conditions name, then run check again.",
	},
	HTTPRouteHostMissing: {
		Cause: "The HTTPRoute's `hostnames` do not take `--host`, the Host header the ALB forwards: the request matches no route and gets 404.",
		See:   seeHTTPRoute + ` | grep -A3 hostnames`,
		Fix:   fixHTTPRoute,
	},
	HTTPRoutePathNotRouted: {
		Cause: "No rule of the HTTPRoute matches a chain path (`PathPrefix` element-wise: `/api` takes `/api/v1`, not `/apiv1`; or `Exact`).",
		See:   seeHTTPRoute + ` | grep -A4 matches`,
		Fix:   fixHTTPRoute,
	},
	HTTPRouteBackendWrong: {
		Cause: "The rule that takes a chain path sends it elsewhere than `--service` on `--port` in the app namespace, to several backends, or to a Service or port that does not exist (Istio answers 500 or 503).",
		See:   seeHTTPRoute + ` | grep -A5 backendRefs`,
		Fix:   fixHTTPRoute,
	},
	GWListenerSplit: {
		Cause: "Istio builds one filter chain per listener, selected by the listener's hostname against the SNI, each with the route table of the routes attached to that listener. The ALB sends the gateway domain as SNI and the app's host as the Host header: when they land on different listeners, the connection takes the gateway domain's filter chain, whose routes lack the app's host, and gets 404. The plugin writes one listener without hostname for both.",
		See:   seeGWGateway + ` | grep -A3 hostname`,
		Fix:   fixGWGateway,
	},
	ReferenceGrantMissing: {
		Cause: "A Gateway may use a Secret or ConfigMap, and an HTTPRoute a Service, of another namespace only where a ReferenceGrant in that namespace permits it; Istio refuses the reference otherwise (`RefNotPermitted`).",
		See:   `kubectl get referencegrants.gateway.networking.k8s.io -A`,
		Fix:   "Add the ReferenceGrant the finding names, or keep the referenced object in the referrer's namespace.",
	},
}

func init() {
	for c, d := range gatewayAPIDocs {
		codeDocs[c] = d
	}
}
