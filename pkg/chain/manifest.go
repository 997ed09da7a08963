package chain

import "fmt"

// Level says who an object belongs to: the hop every chain behind one ALB and
// one gateway shares, or one chain (one app).
type Level string

const (
	// LevelHop objects are written once and shared: the ALB's client identity,
	// the private CA, the gateway's client CA, the ALB TLS copy, the Gateway
	// and Traefik's transport. They go only when no chain uses the hop.
	LevelHop Level = "hop"
	// LevelChain objects are one app's: its VirtualService and Ingress.
	LevelChain Level = "chain"
	// LevelInput objects are IKS's (the ALB and gateway certificates): read,
	// never written.
	LevelInput Level = "input"
)

// Role is what an object does in the hop or chain.
type Role string

// The roles, one per object the plugin reads or writes.
const (
	RoleALBSecret      Role = "the ALB's IKS TLS secret"
	RoleGatewaySecret  Role = "the gateway's IKS TLS secret"
	RolePrivateCA      Role = "the private client CA"
	RoleALBTLSCopy     Role = "the copy of the ALB's TLS secret for the Ingresses"
	RoleClientSecret   Role = "the ALB's client certificate"
	RoleClientCA       Role = "the gateway's client CA (<gateway-secret>-cacert)"
	RoleGateway        Role = "the hop's Istio Gateway"
	RoleVirtualService Role = "the chain's VirtualService"
	RoleTransport      Role = "Traefik's ServersTransport"
	RoleBackend        Role = "the Service Traefik routes to the gateway through"
	RoleIngress        Role = "the chain's Ingress"

	// Gateway API mode (--gateway-api): these take the place of RoleGateway,
	// RoleVirtualService and RoleClientCA.
	RoleGatewayAPIGateway Role = "the hop's Gateway API Gateway"
	RoleHTTPRoute         Role = "the chain's HTTPRoute"
	RoleClientCAConfigMap Role = "the gateway's client CA (ConfigMap <gateway-name>-client-ca)"

	// cert-manager mode: the plugin writes the Issuers and Certificates;
	// cert-manager writes the Secrets (RolePrivateCA, RoleClientSecret and
	// RoleServerSecret) from them.
	RoleSelfSignedIssuer  Role = "the Issuer that self-signs the hop's CA"
	RoleCACertificate     Role = "the Certificate of the hop's CA"
	RoleCAIssuer          Role = "the CA Issuer of the hop's certificates"
	RoleClientCertificate Role = "the Certificate of the ALB's client certificate"
	RoleServerCertificate Role = "the Certificate of the gateway's certificate for the ALB"
	RoleServerSecret      Role = "the gateway's certificate for the ALB (its SNI name)"
)

// Entry is one object of the manifest.
type Entry struct {
	Role  Role
	Level Level
	Kind  string // Secret, Gateway, VirtualService, ServersTransport, Service, Ingress, HTTPRoute, ConfigMap
	// Group is the API group where Kind alone is ambiguous: GatewayAPIGroup
	// for the Gateway API's Gateway and HTTPRoute; empty otherwise.
	Group     string
	Namespace string
	Name      string
	// Flag is the flag that names the object (or the one it is derived from).
	Flag string
	// IssuedBy names the cert-manager Certificate (same namespace) that
	// writes this Secret; the plugin itself never writes it then.
	IssuedBy string
}

// GatewayAPIGroup is the Kubernetes Gateway API's group.
const GatewayAPIGroup = "gateway.networking.k8s.io"

// Ref names the entry as "Kind namespace/name".
func (e Entry) Ref() string { return fmt.Sprintf("%s %s/%s", e.Kind, e.Namespace, e.Name) }

// Manifest lists every object the plugin writes for this chain and its hop,
// in write order: what an object refers to comes before it. Traefik's two
// objects are listed when the flavor is traefik or not resolved yet (auto),
// the ALB TLS copy when the ALB secret lives outside the Istio namespace, and
// the Gateway when its name is known. Names may be empty for parameters a
// command does not need.
func (p *Params) Manifest() []Entry {
	var m []Entry
	add := func(role Role, level Level, kind, ns, name, flag string) {
		m = append(m, Entry{Role: role, Level: level, Kind: kind, Namespace: ns, Name: name, Flag: flag})
	}
	issued := func(role Role, name, flag string) {
		m = append(m, Entry{Role: role, Level: LevelHop, Kind: "Secret", Namespace: p.IstioNamespace, Name: name, Flag: flag, IssuedBy: name})
	}
	// The plugin's own issuance (alb-cert, private-ca) writes the Secrets;
	// cert-manager mode writes what makes cert-manager write them. Both are
	// listed while the mode is still auto, so cleanup finds either.
	own := p.Identity != IdentityCertManager
	byCertManager := p.Identity == IdentityCertManager || p.Identity == IdentityAuto
	if own {
		add(RolePrivateCA, LevelHop, "Secret", p.IstioNamespace, p.CASecret, "--ca-secret")
	}
	if byCertManager {
		add(RoleSelfSignedIssuer, LevelHop, "Issuer", p.IstioNamespace, p.SelfSignedIssuer(), "--ca-secret")
		add(RoleCACertificate, LevelHop, "Certificate", p.IstioNamespace, p.CASecret, "--ca-secret")
		if !own {
			issued(RolePrivateCA, p.CASecret, "--ca-secret")
		}
		add(RoleCAIssuer, LevelHop, "Issuer", p.IstioNamespace, p.CASecret, "--ca-secret")
		add(RoleClientCertificate, LevelHop, "Certificate", p.IstioNamespace, p.ClientSecret, "--client-secret")
		if p.GatewayService != "" {
			add(RoleServerCertificate, LevelHop, "Certificate", p.IstioNamespace, p.HopServerSecret(), "--gateway-service")
			issued(RoleServerSecret, p.HopServerSecret(), "--gateway-service")
		}
	}
	if p.ALBSecret != "" && p.ALBSecretNamespace != p.IstioNamespace {
		add(RoleALBTLSCopy, LevelHop, "Secret", p.IstioNamespace, p.ALBSecret, "--alb-secret")
	}
	if own {
		add(RoleClientSecret, LevelHop, "Secret", p.IstioNamespace, p.ClientSecret, "--client-secret")
		if p.GatewaySecret != "" && !p.GatewayAPI {
			add(RoleClientCA, LevelHop, "Secret", p.IstioNamespace, p.ClientCASecret(), "--gateway-secret")
		}
	} else {
		issued(RoleClientSecret, p.ClientSecret, "--client-secret")
	}
	switch {
	case p.GatewayAPI:
		// The client CA in both identity modes: in cert-manager mode it is
		// copied from the hop's CA Secret once cert-manager has issued it.
		if p.GatewayName != "" {
			add(RoleClientCAConfigMap, LevelHop, "ConfigMap", p.IstioNamespace, p.ClientCAConfigMap(), "--gateway-name")
			m = append(m, Entry{Role: RoleGatewayAPIGateway, Level: LevelHop, Kind: "Gateway", Group: GatewayAPIGroup, Namespace: p.IstioNamespace, Name: p.GatewayName, Flag: "--gateway-name"})
		}
		m = append(m, Entry{Role: RoleHTTPRoute, Level: LevelChain, Kind: "HTTPRoute", Group: GatewayAPIGroup, Namespace: p.AppNamespace, Name: p.VirtualServiceName, Flag: "--virtualservice-name"})
	default:
		if p.GatewayName != "" {
			add(RoleGateway, LevelHop, "Gateway", p.IstioNamespace, p.GatewayName, "--gateway-name")
		}
		add(RoleVirtualService, LevelChain, "VirtualService", p.AppNamespace, p.VirtualServiceName, "--virtualservice-name")
	}
	if p.ServesFlavor(FlavorTraefik) || p.Flavor == FlavorAuto {
		add(RoleTransport, LevelHop, "ServersTransport", p.IstioNamespace, p.TransportName(), "--gateway-service")
		add(RoleBackend, LevelHop, "Service", p.IstioNamespace, p.TraefikService(), "--gateway-service")
	}
	for _, f := range p.ALBFlavors() {
		add(RoleIngress, LevelChain, "Ingress", p.IstioNamespace, p.ForFlavor(f).IngressName, "--ingress-name")
	}
	return m
}

// HasRole says whether the chain's manifest lists an object of role r.
func (p *Params) HasRole(r Role) bool {
	for _, e := range p.Manifest() {
		if e.Role == r {
			return true
		}
	}
	return false
}

// Inputs are the IKS-owned objects the chain reads and must never write.
func (p *Params) Inputs() []Entry {
	var in []Entry
	if p.ALBSecret != "" {
		in = append(in, Entry{Role: RoleALBSecret, Level: LevelInput, Kind: "Secret", Namespace: p.ALBSecretNamespace, Name: p.ALBSecret, Flag: "--alb-secret"})
	}
	if p.GatewaySecret != "" {
		in = append(in, Entry{Role: RoleGatewaySecret, Level: LevelInput, Kind: "Secret", Namespace: p.IstioNamespace, Name: p.GatewaySecret, Flag: "--gateway-secret"})
	}
	in = append(in, Entry{Role: "the gateway's Service", Level: LevelInput, Kind: "Service", Namespace: p.IstioNamespace, Name: p.GatewayService, Flag: "--gateway-service"})
	return in
}

// validateNames refuses names that would make two outputs one object, or an
// output one of IKS's inputs: either never converges (a Secret's type is
// immutable) or loses data (the CA key written over the secret Istio reads).
func (p *Params) validateNames() ParamErrors {
	var errs ParamErrors
	out := p.Manifest()
	same := func(a, b Entry) bool {
		return a.Name != "" && a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name
	}
	for i, a := range out {
		for _, b := range out[i+1:] {
			if same(a, b) {
				errs.add(a.Flag, a.Name, fmt.Sprintf("makes %s and %s the same %s: give %s and %s different names", a.Role, b.Role, a.Ref(), a.Flag, b.Flag))
			}
		}
		for _, in := range p.Inputs() {
			if same(a, in) {
				errs.add(a.Flag, a.Name, fmt.Sprintf("would write %s over %s (%s, set by %s), which is IKS-owned: give %s another name", a.Role, in.Role, in.Ref(), in.Flag, a.Flag))
			}
		}
	}
	return errs
}
