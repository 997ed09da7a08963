package chain

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Environment variables of the original walkthrough; a flag left unset falls
// back to them so users can keep their shell setup.
const (
	EnvALBDomain     = "ALB_INGRESS_DOMAIN"
	EnvALBSecret     = "ALB_SECRET"
	EnvGatewayDomain = "INGRESS_GATEWAY_DOMAIN"
	EnvGatewaySecret = "INGRESS_GATEWAY_SECRET"
)

// Flags are the chain's parameters as the user typed them. They become Params
// through Resolve, which applies environment variables and defaults.
type Flags struct {
	ALBDomain          string
	ALBSecret          string
	ALBSecretNamespace string
	GatewayDomain      string
	GatewaySecret      string
	IstioNamespace     string
	Service            string
	Port               int32
	Paths              []string
	Host               string
	GatewaySelector    string
	GatewayService     string
	GatewayServicePort int32
	Flavor             string
	Identity           string
	IngressClass       string
	Name               string
	ClientSecret       string
	CASecret           string
	GatewayName        string
	VirtualServiceName string
	IngressName        string
	// GatewayAPI is --gateway-api.
	GatewayAPI bool
	// GatewayServiceNamed and GatewaySelectorNamed say --gateway-service
	// and --gateway-selector were given (not left at their defaults); set
	// by AddFlags' flag set, or by a caller that builds Flags itself.
	GatewayServiceNamed, GatewaySelectorNamed bool

	fs *pflag.FlagSet
}

// NewFlags returns Flags holding the walkthrough's defaults.
func NewFlags() *Flags {
	return &Flags{
		ALBSecretNamespace: "default",
		IstioNamespace:     "istio-system",
		Service:            "httpbin",
		Port:               8000,
		Paths:              []string{"/status"},
		GatewaySelector:    "istio=ingressgateway",
		GatewayService:     "istio-ingressgateway",
		GatewayServicePort: 443,
		Flavor:             string(FlavorAuto),
		Identity:           string(IdentityAuto),
		ClientSecret:       "alb-certs",
		CASecret:           "albistio-client-ca",
		// GatewayName, VirtualServiceName and IngressName default to names
		// derived in Resolve: the hop's Gateway from the gateway secret, each
		// chain's objects from its namespace and name.
	}
}

// AddFlags registers the chain's flags. Every command takes all of them so
// that one command line can be replayed against any slice.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.ALBDomain, "alb-domain", f.ALBDomain, "IKS Ingress subdomain of the ALB (default $"+EnvALBDomain+")")
	fs.StringVar(&f.ALBSecret, "alb-secret", f.ALBSecret, "IKS TLS secret of the ALB domain (default $"+EnvALBSecret+")")
	fs.StringVar(&f.ALBSecretNamespace, "alb-secret-namespace", f.ALBSecretNamespace, "Namespace of --alb-secret")
	fs.StringVar(&f.GatewayDomain, "gateway-domain", f.GatewayDomain, "NLB subdomain of the Istio ingress gateway (default $"+EnvGatewayDomain+")")
	fs.StringVar(&f.GatewaySecret, "gateway-secret", f.GatewaySecret, "IKS TLS secret of the gateway domain, in --istio-namespace (default $"+EnvGatewaySecret+")")
	fs.StringVar(&f.IstioNamespace, "istio-namespace", f.IstioNamespace, "Namespace of the Istio ingress gateway; the ALB's Ingress and secrets go here too")
	fs.StringVar(&f.Service, "service", f.Service, "Mesh service to route to, in the namespace given by -n")
	fs.Int32Var(&f.Port, "port", f.Port, "Port of --service")
	pathsVar(fs, &f.Paths, "path", "URI prefix routed through the chain (repeatable)")
	fs.StringVar(&f.Host, "host", f.Host, "Host name clients use at the ALB (default <service>.<alb-domain>)")
	fs.StringVar(&f.GatewaySelector, "gateway-selector", f.GatewaySelector, "Labels of the gateway pods the Gateway binds to")
	fs.StringVar(&f.GatewayService, "gateway-service", f.GatewayService, "Service of the Istio ingress gateway")
	fs.Int32Var(&f.GatewayServicePort, "gateway-service-port", f.GatewayServicePort, "HTTPS port of --gateway-service")
	fs.StringVar(&f.Flavor, "alb-flavor", f.Flavor, "ALB flavor: auto, nginx, traefik, classic, or nginx,traefik for both of IKS's ALBs at once (auto reads the cluster's IngressClasses, and takes both when it shows both)")
	fs.StringVar(&f.IngressClass, "ingress-class", f.IngressClass, "IngressClass of the ALB (default: the class IKS creates for the flavor, or the one found in the cluster)")
	fs.StringVar(&f.Identity, "client-identity", f.Identity, "Certificate the ALB presents to the gateway: auto, alb-cert, private-ca or cert-manager (cert-manager issues and renews the hop's certificates; auto picks it where cert-manager.io/v1 is served and the hop is new)")
	fs.StringVar(&f.Name, "chain-name", f.Name, "Name of this chain (one app behind the ALB and gateway), put on its objects as the "+LabelChain+" label (default --service)")
	fs.StringVar(&f.ClientSecret, "client-secret", f.ClientSecret, "Secret holding the ALB's client certificate, in --istio-namespace")
	fs.StringVar(&f.CASecret, "ca-secret", f.CASecret, "Secret holding the private client CA, in --istio-namespace")
	fs.StringVar(&f.GatewayName, "gateway-name", f.GatewayName, "Name of the Istio Gateway every chain of this ALB and gateway shares, in --istio-namespace (default albistio-<gateway-secret>)")
	fs.StringVar(&f.VirtualServiceName, "virtualservice-name", f.VirtualServiceName, "Name of the chain's Istio VirtualService, in the app namespace (default albistio-<chain-name>)")
	fs.StringVar(&f.IngressName, "ingress-name", f.IngressName, "Name of the chain's Ingress, in --istio-namespace (default albistio-<namespace>-<chain-name>)")
	fs.BoolVar(&f.GatewayAPI, "gateway-api", f.GatewayAPI, "Use the Kubernetes Gateway API (gateway.networking.k8s.io/v1, gatewayClassName istio) on the gateway side: a Gateway with a ConfigMap client CA and an HTTPRoute per chain instead of Istio's Gateway and VirtualService. --gateway-service then defaults to <gateway-name>-istio, the Service Istio deploys for the Gateway; naming one makes the Gateway use that Service")
	f.fs = fs
}

// named says whether the flag was given on the command line.
func (f *Flags) named(flag string) bool { return f.fs != nil && f.fs.Changed(flag) }

// Requirement says which parameters a command needs; the others may stay empty.
type Requirement struct {
	Host          bool // the ALB host (--host, or derived from --alb-domain)
	ALBSecret     bool
	GatewayDomain bool
	GatewaySecret bool
}

// NeedAll is what commands that touch the whole chain require.
var NeedAll = Requirement{Host: true, ALBSecret: true, GatewayDomain: true, GatewaySecret: true}

// Resolve turns flags into Params (ResolveDefaults) and validates them for
// need (Params.Validate): the two steps of a command's Complete and
// Validate, in one call for callers that want both.
func (f *Flags) Resolve(appNamespace string, getenv func(string) string, need Requirement) (*Params, error) {
	p := f.ResolveDefaults(appNamespace, getenv)
	if err := p.Validate(need); err != nil {
		return nil, err
	}
	return p, nil
}

// ResolveDefaults turns flags into Params: a flag wins, then the
// walkthrough's environment variable (getenv), then the built-in default.
// appNamespace is the namespace kubectl would use (-n, then the kubeconfig
// context). It never fails: what cannot be parsed is kept for Validate,
// which reports every problem at once.
func (f *Flags) ResolveDefaults(appNamespace string, getenv func(string) string) *Params {
	p := &Params{
		ALBDomain:          firstOf(f.ALBDomain, getenv(EnvALBDomain)),
		ALBSecret:          firstOf(f.ALBSecret, getenv(EnvALBSecret)),
		ALBSecretNamespace: f.ALBSecretNamespace,
		GatewayDomain:      firstOf(f.GatewayDomain, getenv(EnvGatewayDomain)),
		GatewaySecret:      firstOf(f.GatewaySecret, getenv(EnvGatewaySecret)),
		IstioNamespace:     f.IstioNamespace,
		Service:            f.Service,
		AppNamespace:       appNamespace,
		Port:               f.Port,
		Paths:              f.Paths,
		Host:               f.Host,
		GatewayService:     f.GatewayService,
		GatewayServicePort: f.GatewayServicePort,
		Flavor:             Flavor(f.Flavor),
		Flavors:            parseFlavors(f.Flavor),
		Identity:           IdentityMode(f.Identity),
		IngressClass:       f.IngressClass,
		Name:               firstOf(f.Name, f.Service),
		ClientSecret:       f.ClientSecret,
		CASecret:           f.CASecret,
		GatewayName:        f.GatewayName,
		VirtualServiceName: f.VirtualServiceName,
		IngressName:        f.IngressName,
	}
	if p.GatewayName == "" && p.GatewaySecret != "" {
		p.GatewayName = DefaultGatewayName(p.GatewaySecret)
	}
	p.GatewayAPI = f.GatewayAPI
	p.GatewayServiceNamed = f.GatewayServiceNamed || f.named("gateway-service")
	selectorNamed := f.GatewaySelectorNamed || f.named("gateway-selector")
	if p.GatewayAPI && !p.GatewayServiceNamed && p.GatewayName != "" {
		// The Service Istio deploys for the Gateway, unless the user names
		// an existing one (GatewayAddress).
		p.GatewayService = DefaultGatewayAPIService(p.GatewayName)
	}
	if p.VirtualServiceName == "" {
		p.VirtualServiceName = DefaultVirtualServiceName(p.Name)
	}
	if p.IngressName == "" {
		p.IngressName = DefaultIngressName(p.AppNamespace, p.Name)
	}
	if p.Host == "" && p.ALBDomain != "" {
		p.Host = p.Service + "." + p.ALBDomain
	}
	sel, err := labels.ConvertSelectorToLabelsMap(f.GatewaySelector)
	if err != nil || len(sel) == 0 {
		p.unparsed.add("--gateway-selector", f.GatewaySelector, "must be key=value pairs separated by commas, like istio=ingressgateway")
	}
	p.GatewaySelector = sel
	if p.GatewayAPI && !selectorNamed && !p.GatewayServiceNamed && p.GatewayName != "" {
		p.GatewaySelector = DefaultGatewayAPISelector(p.GatewayName)
	}
	if len(p.Flavors) > 0 {
		p.Flavor = p.Flavors[0]
	}
	return p
}

// Validate reports, all at once and before anything is read from the
// cluster, every flag that could not be parsed, every parameter need asks
// for that is missing, and every one that is set but malformed.
func (p *Params) Validate(need Requirement) error {
	errs := append(ParamErrors(nil), p.unparsed...)
	missing := func(flag, env, value, what string) {
		if value == "" {
			errs.add(flag, "", fmt.Sprintf("is required: give %s with %s or $%s", what, flag, env))
		}
	}
	if need.Host && p.Host == "" {
		errs.add("--alb-domain", "", fmt.Sprintf("is required: give the ALB's Ingress subdomain (ibmcloud ks cluster get --cluster <name>, \"Ingress Subdomain\") with --alb-domain or $%s, or the full host with --host", EnvALBDomain))
	}
	if need.ALBSecret {
		missing("--alb-secret", EnvALBSecret, p.ALBSecret, "the ALB's TLS secret (ibmcloud ks cluster get --cluster <name>, \"Ingress Secret\")")
	}
	if need.GatewayDomain {
		missing("--gateway-domain", EnvGatewayDomain, p.GatewayDomain, "the gateway's NLB subdomain (ibmcloud ks nlb-dns ls --cluster <name>)")
	}
	if need.GatewaySecret {
		missing("--gateway-secret", EnvGatewaySecret, p.GatewaySecret, "the gateway's TLS secret (ibmcloud ks nlb-dns ls --cluster <name>, \"SSL Cert Secret Name\")")
	}
	errs = append(errs, p.validate()...)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// validate checks the shape of every parameter that is set.
func (p *Params) validate() ParamErrors {
	var errs ParamErrors
	dnsName := func(flag, v string) {
		if v == "" {
			return
		}
		if strings.HasPrefix(v, "*.") {
			errs.add(flag, v, "must be a single host name, not a wildcard: name the host clients use, like httpbin."+strings.TrimPrefix(v, "*."))
			return
		}
		if problem := dnsLengthProblem(v); problem != "" {
			errs.add(flag, v, problem)
			return
		}
		if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 || !strings.Contains(v, ".") {
			errs.add(flag, v, "is not a DNS name: use lower-case letters, digits, '-' and '.', like mycluster-a1b2c3-0000.us-south.containers.appdomain.cloud")
		}
	}
	dnsName("--alb-domain", p.ALBDomain)
	dnsName("--gateway-domain", p.GatewayDomain)
	dnsName("--host", p.Host)

	objectName := func(flag, v string) {
		if v == "" {
			return
		}
		if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 {
			errs.add(flag, v, "is not a valid Kubernetes object name: "+strings.Join(msgs, "; "))
		}
	}
	namespace := func(flag, v string) {
		if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
			errs.add(flag, v, "is not a valid namespace name: "+strings.Join(msgs, "; "))
		}
	}
	objectName("--alb-secret", p.ALBSecret)
	objectName("--gateway-secret", p.GatewaySecret)
	if p.GatewaySecret != "" {
		// Istio looks up <credentialName>-cacert; that name must be valid too.
		if len(p.ClientCASecret()) > validation.DNS1123SubdomainMaxLength {
			errs.add("--gateway-secret", p.GatewaySecret, "is too long: Istio needs room for the \"-cacert\" suffix")
		}
	}
	namespace("--alb-secret-namespace", p.ALBSecretNamespace)
	namespace("--istio-namespace", p.IstioNamespace)
	namespace("--namespace", p.AppNamespace)
	if msgs := validation.IsDNS1035Label(p.Service); len(msgs) > 0 {
		errs.add("--service", p.Service, "is not a valid Service name: "+strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1035Label(p.GatewayService); len(msgs) > 0 {
		errs.add("--gateway-service", p.GatewayService, "is not a valid Service name: "+strings.Join(msgs, "; "))
	}
	for _, n := range []struct{ flag, v string }{
		{"--client-secret", p.ClientSecret}, {"--ca-secret", p.CASecret}, {"--gateway-name", p.GatewayName},
		{"--virtualservice-name", p.VirtualServiceName}, {"--ingress-name", p.IngressName},
	} {
		if n.v == "" && n.flag == "--gateway-name" {
			continue // derived from --gateway-secret; commands that need it require that
		}
		if n.v == "" {
			errs.add(n.flag, n.v, "must not be empty")
			continue
		}
		objectName(n.flag, n.v)
	}
	if msgs := validation.IsValidLabelValue(p.Name); len(msgs) > 0 || p.Name == "" {
		errs.add("--chain-name", p.Name, "must be a valid label value (at most 63 letters, digits, '-', '_' or '.')")
	}
	port := func(flag string, v int32) {
		if v < 1 || v > 65535 {
			errs.add(flag, strconv.Itoa(int(v)), "is not a port: use 1-65535")
		}
	}
	port("--port", p.Port)
	port("--gateway-service-port", p.GatewayServicePort)
	if len(p.Paths) == 0 {
		errs.add("--path", "", "give at least one URI prefix, like /status")
	}
	seen := map[string]bool{}
	for _, path := range p.Paths {
		switch {
		case pathProblem(path) != "":
			errs.add("--path", path, pathProblem(path))
		case seen[path]:
			errs.add("--path", path, "is given twice")
		}
		seen[path] = true
	}
	if p.IngressClass != "" {
		objectName("--ingress-class", p.IngressClass)
	}
	if len(p.Flavors) > 0 {
		if !slices.Equal(p.Flavors, ALBPair()) {
			errs.add("--alb-flavor", joinFlavors(p.Flavors), "lists ALBs that cannot serve one chain together: the pair is nginx,traefik (IKS's two ALBs during its move to Traefik)")
		} else {
			if p.IngressClass != "" {
				errs.add("--ingress-class", p.IngressClass, "names one class, and --alb-flavor nginx,traefik writes an Ingress for each ALB's class: leave it out (each ALB's IKS class, or the one the cluster shows, is used)")
			}
		}
	} else if !oneOf(p.Flavor, Flavors) {
		errs.add("--alb-flavor", string(p.Flavor), "is not a flavor: use auto, nginx, traefik or classic (or nginx,traefik for both ALBs)")
	}
	if !oneOf(p.Identity, IdentityModes) {
		errs.add("--client-identity", string(p.Identity), "is not a client identity mode: use auto, alb-cert, private-ca or cert-manager")
	}
	if p.Identity == IdentityCertManager && p.Flavor == FlavorClassic {
		errs.add("--client-identity", string(p.Identity), "does not work with the classic ALB: its ssl-services annotation reads client.crt, client.key and trusted.crt, and cert-manager writes tls.crt, tls.key and ca.crt; use private-ca")
	}
	errs = append(errs, p.validateNames()...)
	if p.ALBDomain != "" && p.GatewayDomain != "" && p.ALBDomain == p.GatewayDomain {
		errs.add("--gateway-domain", p.GatewayDomain, "must differ from --alb-domain: IKS registers a separate NLB subdomain for the gateway")
	}
	return errs
}

func joinFlavors(fs []Flavor) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = string(f)
	}
	return strings.Join(parts, ",")
}

// parseFlavors reads a list of ALB flavors ("nginx,traefik"), sorted
// nginx first; nil for a single flavor.
func parseFlavors(v string) []Flavor {
	if !strings.Contains(v, ",") {
		return nil
	}
	var fs []Flavor
	for _, part := range strings.Split(v, ",") {
		fs = append(fs, Flavor(strings.TrimSpace(part)))
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
	return fs
}

func oneOf[T comparable](v T, set []T) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// ParamError is one parameter that is missing or malformed.
type ParamError struct {
	Flag, Value, Problem string
}

func (e ParamError) String() string {
	if e.Value == "" {
		return fmt.Sprintf("%s %s", e.Flag, e.Problem)
	}
	return fmt.Sprintf("%s %q %s", e.Flag, e.Value, e.Problem)
}

// ParamErrors are all problems found in one set of parameters; commands
// report them together so the user fixes the command line once.
type ParamErrors []ParamError

func (es *ParamErrors) add(flag, value, problem string) {
	*es = append(*es, ParamError{Flag: flag, Value: value, Problem: problem})
}

func (es ParamErrors) Error() string {
	if len(es) == 1 {
		return "invalid parameter: " + es[0].String()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = "  " + e.String()
	}
	return fmt.Sprintf("%d invalid parameters:\n%s", len(es), strings.Join(lines, "\n"))
}
