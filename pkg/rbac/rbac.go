// Package rbac renders the least-privilege RBAC of one chain: the Roles,
// ClusterRole and bindings a subject needs to run setup (and the other
// writing commands, and cleanup) or check for exactly that chain and its
// hop, and nothing else. It is a pure function of the chain's parameters,
// so the roles name the same objects the commands read and write.
//
// Every rule names its objects with resourceNames where the API server
// can check a name. It cannot for three kinds of request, and the rules
// that need them say so in their comments:
//   - LIST (and watch): the request names no object. A list permission
//     returns every object of its resource in its namespace, whatever label
//     selector the client sends, so check's and setup's readers never need
//     list on secrets (check falls back to reading each secret by name).
//   - create by POST: the name is in the body, which authorization does not
//     see. The private CA and the hop's Gateway are created by POST (so that
//     a concurrent run cannot silently write over one created a moment
//     earlier), so create on secrets and gateways is bounded only by the
//     Istio namespace. Server-side apply of an object that does not exist
//     yet is a PATCH that creates: the API server authorizes it as patch
//     and then as create, both with the object's name, so every other create
//     is narrowed by name.
//   - pods/portforward: gateway pods have generated names, so the probe's
//     port-forward is bounded by the Istio namespace only.
package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// For says which commands the roles are for.
type For string

const (
	// ForSetup covers secrets, gateway, ingress, setup and cleanup: they
	// read and write the same objects.
	ForSetup For = "setup"
	// ForCheck covers check, which only reads.
	ForCheck For = "check"
)

// Fors lists what --for accepts.
var Fors = []For{ForSetup, ForCheck}

// Options are what the roles are for and whom they are bound to.
type Options struct {
	For For
	// PortForward adds what check --port-forward needs (ForCheck only).
	PortForward bool
	// CreateNamespace puts the app namespace in the Set (ForSetup only).
	// Namespaced roles can exist only in a namespace that exists, so the
	// namespace setup --create-namespace would make is made by whoever
	// applies the roles, and the subject never gets to create or change a
	// namespace.
	CreateNamespace bool
	// AllNamespaces adds what check -A needs to find the chains (ForCheck
	// only): cluster-wide LISTs of Ingresses, Services, Gateways and
	// VirtualServices, none of which holds a key. Checking each chain found
	// still takes that chain's own Role; a chain without one is reported as
	// forbidden, never read another way.
	AllNamespaces bool
	Subject       rbacv1.Subject
}

// UserSubject, GroupSubject and ServiceAccountSubject build the subject
// of the bindings.
func UserSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func GroupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func ServiceAccountSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// Rule is one policy rule and why the chain needs it.
type Rule struct {
	rbacv1.PolicyRule
	Why string
}

// Role is the rules that apply in one namespace, or cluster-wide when
// Namespace is empty.
type Role struct {
	Namespace string
	// Scope says what the namespace is to the chain (the Istio namespace,
	// the app namespace, ...), for the comment above the Role.
	Scope string
	Rules []Rule
}

// Set is the RBAC of one chain for one subject: a ClusterRole (only for
// what is cluster-scoped), a Role per namespace the commands touch, and a
// binding for each.
type Set struct {
	For   For
	Chain string // ChainKey: <app-namespace>/<chain-name>
	// Name is every Role's and the ClusterRole's name; BindingName every
	// binding's. Both are derived from the chain (and the subject), so the
	// roles of two chains, or two subjects, never replace each other.
	Name        string
	BindingName string
	Labels      map[string]string
	Subject     rbacv1.Subject
	// Cluster holds the cluster-scoped rules; Roles the namespaced ones, in
	// the order Istio namespace, app namespace, ALB secret's namespace.
	Cluster Role
	Roles   []Role
	// Notes are what the rules cannot narrow, for the stream's header.
	Notes []string
	// Namespace is the app namespace to create before its Role
	// (Options.CreateNamespace), as setup --create-namespace writes it.
	Namespace runtime.Object
}

// LabelFor marks the generated objects with what they are for, so they can
// be listed (and deleted) together: kubectl delete -l.
const LabelFor = "albistio.io/rbac-for"

// Render builds the RBAC of p's chain for o. It reads no cluster.
func Render(p *chain.Params, o Options) (*Set, error) {
	if err := validate(p, o); err != nil {
		return nil, err
	}
	s := &Set{
		For:   o.For,
		Chain: p.ChainKey(),
		Name:  fmt.Sprintf("albistio-%s-%s-%s", o.For, p.AppNamespace, p.Name),
		Labels: map[string]string{
			"app.kubernetes.io/name":  chain.FieldManager,
			LabelFor:                  string(o.For),
			chain.LabelChain:          p.Name,
			chain.LabelChainNamespace: p.AppNamespace,
		},
		Subject: o.Subject,
	}
	s.BindingName = s.Name + "-" + subjectPart(o.Subject)
	b := newBuilder(p)
	if o.For == ForSetup {
		setupRules(b, p, o)
	} else {
		checkRules(b, p, o)
	}
	s.Cluster, s.Roles = b.roles()
	s.Notes = notes(p, o)
	if o.CreateNamespace {
		s.Namespace = render.Namespace(p)
	}
	return s, nil
}

func validate(p *chain.Params, o Options) error {
	if !slices.Contains(Fors, o.For) {
		return fmt.Errorf("--for %q: must be setup or check", o.For)
	}
	if o.PortForward && o.For != ForCheck {
		return fmt.Errorf("--port-forward is a check flag: use it with --for=check")
	}
	if o.AllNamespaces && o.For != ForCheck {
		return fmt.Errorf("--all-namespaces is a check flag (for check -A): use it with --for=check")
	}
	if o.CreateNamespace && o.For != ForSetup {
		return fmt.Errorf("--create-namespace is a setup flag: use it with --for=setup")
	}
	if p.ALBSecret == "" || p.GatewaySecret == "" || p.GatewayName == "" {
		return fmt.Errorf("the roles name the chain's secrets and Gateway: --alb-secret and --gateway-secret are required")
	}
	sub := o.Subject
	switch sub.Kind {
	case rbacv1.UserKind, rbacv1.GroupKind:
		if strings.TrimSpace(sub.Name) == "" {
			return fmt.Errorf("the %s to bind the roles to must not be empty", strings.ToLower(sub.Kind))
		}
	case rbacv1.ServiceAccountKind:
		if msgs := validation.IsDNS1123Label(sub.Namespace); len(msgs) > 0 {
			return fmt.Errorf("--serviceaccount %s:%s: %q is not a namespace: %s", sub.Namespace, sub.Name, sub.Namespace, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsDNS1123Subdomain(sub.Name); len(msgs) > 0 {
			return fmt.Errorf("--serviceaccount %s:%s: %q is not a service account name: %s", sub.Namespace, sub.Name, sub.Name, strings.Join(msgs, "; "))
		}
	default:
		return fmt.Errorf("give whom to bind the roles to: --user, --group or --serviceaccount")
	}
	return nil
}

// subjectPart is the subject in a binding's name. RBAC object names may
// hold anything but '/' and '%' (they are path segments); user names from
// OIDC issuers often hold both.
func subjectPart(s rbacv1.Subject) string {
	name := s.Name
	kind := strings.ToLower(s.Kind)
	if s.Kind == rbacv1.ServiceAccountKind {
		kind, name = "sa", s.Namespace+":"+s.Name
	}
	return kind + "-" + strings.Map(func(r rune) rune {
		if r == '/' || r == '%' || r == ' ' {
			return '-'
		}
		return r
	}, name)
}

// Verbs, in the order the rules list them.
const (
	get    = "get"
	list   = "list"
	create = "create"
	patch  = "patch"
	del    = "delete"
)

// API groups of the resources the chain uses.
const (
	core       = ""
	networking = "networking.k8s.io"
	istio      = "networking.istio.io"
	traefik    = "traefik.io"
	certMgr    = "cert-manager.io"
)

// usesCertManager says whether cert-manager may keep the hop's certificates:
// with --client-identity=cert-manager, and with auto, which picks it for a
// new hop where cert-manager.io/v1 is served.
func usesCertManager(p *chain.Params) bool {
	return p.Identity == chain.IdentityCertManager || p.Identity == chain.IdentityAuto
}

// certManagerNames are the hop's cert-manager objects of kind.
func certManagerNames(p *chain.Params, kind string) []string {
	var names []string
	for _, e := range p.Manifest() {
		if e.Kind == kind && e.Name != "" {
			names = append(names, e.Name)
		}
	}
	return names
}

// hasTraefik says whether the chain may use Traefik's objects: when its
// manifest lists Traefik's transport, which it does for the traefik flavor
// and for auto (cleanup does not resolve the flavor and reads them by name
// to find out).
func hasTraefik(p *chain.Params) bool {
	return p.HasRole(chain.RoleTransport)
}

// usesCA says whether the private CA may be the client identity; with
// alb-cert it is never written (setup still reads it by name).
func usesCA(p *chain.Params) bool { return p.Identity != chain.IdentityALBCert }

// bothModes is the chain's manifest in its gateway mode and then in the
// other: setup and cleanup remove what a chain has in the other mode
// (switching between Istio's API and the Gateway API), so their roles name
// the objects of both.
func bothModes(p *chain.Params) []chain.Entry {
	return append(p.Manifest(), p.OtherMode().Manifest()...)
}

// namesOf are the distinct names of kind in entries, in order.
func namesOf(entries []chain.Entry, kind, group string) []string {
	seen := map[string]bool{}
	var names []string
	for _, e := range entries {
		if e.Kind == kind && e.Group == group && e.Name != "" && !seen[e.Name] {
			seen[e.Name] = true
			names = append(names, e.Name)
		}
	}
	return names
}

func setupRules(b *builder, p *chain.Params, o Options) {
	ist, app := p.IstioNamespace, p.AppNamespace
	ours := namesOf(bothModes(p), "Secret", "") // the plugin's secrets, all in the Istio namespace

	b.any("", networking, "ingressclasses", []string{list},
		"The ALB flavor (--alb-flavor=auto) and the check that ends setup come from the IngressClasses. A LIST cannot be narrowed by name; IngressClasses hold no secrets.")
	b.named("", core, "namespaces", []string{get}, []string{ist, app},
		"setup checks that the Istio and the app namespace exist. Namespaces are never changed.")

	b.named(ist, core, "secrets", []string{get}, append(inputNames(p, ist, "Secret"), ours...),
		"The IKS TLS secrets setup reads (their certificates and the ALB's key), and the plugin's own secrets, read by name before they are written. No list or watch: those would return every secret of the namespace, Istio's CA key istio-ca-secret included.")
	b.named(ist, core, "secrets", []string{patch, del}, ours,
		"The plugin's secrets: written with server-side apply (PATCH), deleted by cleanup. The IKS-owned secrets are never written.")
	if usesCA(p) {
		b.any(ist, core, "secrets", []string{create},
			"The private CA is created with a POST, so that concurrent runs end with exactly one CA; a POST names no object that RBAC could check, so create is bounded by this namespace only. It grants no read: a secret created under another name cannot be read, changed or deleted with this role. (The other secrets are created by server-side apply, authorized by name; with --client-identity=alb-cert there is no CA and create is narrowed by name too.)")
	} else {
		b.named(ist, core, "secrets", []string{create}, ours,
			"Server-side apply creates the plugin's secrets with a PATCH, which the API server authorizes as patch and as create of that name.")
	}
	b.named(ist, core, "services", []string{get}, []string{p.GatewayService},
		"The gateway's Service, read for its HTTPS port and selector. It is Istio's: never written.")
	other := p.OtherMode()
	if hasTraefik(p) {
		b.named(ist, core, "services", []string{get, create, patch, del}, uniq(p.TraefikService(), other.TraefikService()),
			traefikWhy(p, "The Service Traefik routes to the gateway through, the plugin's own (named after the gateway Service of either gateway mode: the other mode's is removed when the chain switches)"))
		b.named(ist, traefik, "serverstransports", []string{get, create, patch, del}, uniq(p.TransportName(), other.TransportName()),
			traefikWhy(p, "Traefik's ServersTransport that carries the ALB's client certificate (of either gateway mode)"))
	}
	if usesCertManager(p) {
		b.named(ist, certMgr, "issuers", []string{get, create, patch, del}, namesOf(bothModes(p), "Issuer", ""),
			"cert-manager mode: the hop's self-signed Issuer and the CA Issuer on the hop's CA, written with server-side apply (PATCH, authorized as patch and as create of that name), deleted by the last chain's cleanup.")
		b.named(ist, certMgr, "certificates", []string{get, create, patch, del}, namesOf(bothModes(p), "Certificate", ""),
			"cert-manager mode: the Certificates of the hop's CA, of the ALB's client certificate and of the gateway's certificate for the ALB (named after either gateway mode's Service); setup waits for them to be Ready, cleanup deletes them before the Secrets cert-manager wrote from them. They hold no key.")
	}
	gwGroup, otherGroup, route, otherRoute := istio, chain.GatewayAPIGroup, "virtualservices", "httproutes"
	if p.GatewayAPI {
		gwGroup, otherGroup, route, otherRoute = chain.GatewayAPIGroup, istio, "httproutes", "virtualservices"
		b.named(ist, core, "configmaps", []string{get, create, patch, del}, namesOf(p.Manifest(), "ConfigMap", ""),
			"The Gateway's client CA (ca.crt, a certificate, no key): server-side apply creates it with a PATCH, authorized as patch and as create of that name; the last chain's cleanup deletes it.")
	} else {
		b.named(ist, core, "configmaps", []string{get, del}, namesOf(other.Manifest(), "ConfigMap", ""),
			"The Gateway API mode's client-CA ConfigMap, read and deleted when the chain comes from --gateway-api (setup and cleanup leave nothing of the other mode).")
	}
	b.named(ist, gwGroup, "gateways", []string{get, patch, del}, []string{p.GatewayName},
		"The hop's Gateway: read for the chains that use it, updated with a resourceVersion precondition, deleted by the last chain's cleanup.")
	b.any(ist, gwGroup, "gateways", []string{create},
		"The hop's Gateway is created with a POST, which fails when a concurrent run created it first; a POST names no object that RBAC could check, so create is bounded by this namespace only (a Gateway here can claim hosts on the ingress gateway: grant this to whom you would let add hosts).")
	b.named(ist, otherGroup, "gateways", []string{get, patch, del}, []string{p.GatewayName},
		"The hop's Gateway of the other gateway mode (Istio's API or the Gateway API): setup and cleanup take the chain off it, and delete it when no chain is left, so that switching modes leaves nothing stale.")
	b.named(app, otherGroup, otherRoute, []string{get, del}, []string{p.VirtualServiceName},
		"The chain's route of the other gateway mode, deleted when the chain switches modes.")
	b.any(app, otherGroup, otherRoute, []string{list},
		"setup and cleanup find the chain's route of the other gateway mode by its labels. A LIST cannot be narrowed by name or label.")
	b.named(ist, networking, "ingresses", []string{get, create, patch, del}, []string{p.IngressName},
		"The chain's Ingress: server-side apply creates it with a PATCH, authorized as patch and as create of that name; cleanup deletes it.")
	b.any(ist, networking, "ingresses", []string{list},
		"cleanup finds the chain's Ingress by its labels, and the Ingresses of other chains that still use the hop. A LIST cannot be narrowed by name or label: it reads every Ingress of the namespace (Ingresses name secrets but hold none).")
	b.any(ist, core, "pods", []string{list},
		"The check that ends setup lists the gateway pods by --gateway-selector. A LIST cannot be narrowed by name or label.")

	b.named(app, gwGroup, route, []string{get, create, patch, del}, []string{p.VirtualServiceName},
		"The chain's route (VirtualService, or HTTPRoute with --gateway-api): server-side apply creates it with a PATCH, authorized as patch and as create of that name; cleanup deletes it.")
	b.any(app, gwGroup, route, []string{list},
		"cleanup finds the chain's route by its labels. A LIST cannot be narrowed by name or label.")
	b.named(app, core, "services", []string{get}, []string{p.Service},
		"The check that ends setup reads the app's Service (--service). Never written.")

	b.named(p.ALBSecretNamespace, core, "secrets", []string{get}, []string{p.ALBSecret},
		"The ALB's IKS TLS secret: its certificate and key are copied next to the Ingress (an Ingress names secrets of its own namespace only). Never written.")
	compatConfigRule(b, p, "the check that ends setup")
	gatewayAPICheckRules(b, p)
}

func traefikWhy(p *chain.Params, what string) string {
	why := what + ": server-side apply creates it with a PATCH, authorized as patch and as create of that name; cleanup deletes it."
	if p.Flavor == chain.FlavorAuto {
		why += " Listed because --alb-flavor is auto: setup may resolve it to traefik, and cleanup reads these by name whatever the flavor (pass --alb-flavor nginx to leave them out)."
	}
	return why
}

func checkRules(b *builder, p *chain.Params, o Options) {
	ist, app := p.IstioNamespace, p.AppNamespace
	b.any("", networking, "ingressclasses", []string{list},
		"check reads the IngressClasses for the ALB flavor and the Ingress's class. A LIST cannot be narrowed by name; IngressClasses hold no secrets.")
	b.named("", core, "namespaces", []string{get}, []string{app},
		"check reads the app namespace (sidecar injection).")

	secrets := []string{p.GatewaySecret, p.ClientSecret, p.ClientCASecret()}
	if usesCA(p) {
		secrets = append(secrets, p.CASecret)
	}
	if usesCertManager(p) {
		// The hop's server certificate, and the -cacert Istio would read
		// instead of its ca.crt, were one left over.
		secrets = append(secrets, p.HopServerSecret(), p.HopServerSecret()+"-cacert")
	}
	// The Ingress's TLS secret: the plugin's copy of the ALB secret, or the
	// ALB secret itself when it lives in the Istio namespace.
	secrets = append(secrets, p.ALBSecret)
	b.named(ist, core, "secrets", []string{get}, secrets,
		"The gateway's IKS secret, the ALB's client secret, the gateway's -cacert, the private CA and the ALB TLS secret the Ingress serves, by name: check verifies their certificates and that keys match (RBAC cannot grant a certificate without its key). check first tries one LIST of the plugin's secrets by label; this role denies it on purpose (a list permission cannot be limited to a label and would return istio-ca-secret, Istio's CA key) and check then reads each secret by name.")
	services := []string{p.GatewayService}
	if hasTraefik(p) {
		services = append(services, p.TraefikService())
	}
	why := "The gateway's Service."
	if hasTraefik(p) {
		why = "The gateway's Service, and the plugin's Service Traefik routes to it through."
	}
	b.named(ist, core, "services", []string{get}, services, why)
	if hasTraefik(p) {
		b.named(ist, traefik, "serverstransports", []string{get}, []string{p.TransportName()}, "Traefik's ServersTransport (with --alb-flavor traefik, or auto when it resolves to traefik).")
	}
	if p.GatewayAPI {
		b.named(ist, chain.GatewayAPIGroup, "gateways", []string{get}, []string{p.GatewayName}, "The hop's Gateway API Gateway.")
		b.named(ist, core, "configmaps", []string{get}, []string{p.ClientCAConfigMap()}, "The Gateway's client CA (a certificate, no key).")
	} else {
		b.named(ist, istio, "gateways", []string{get}, []string{p.GatewayName}, "The hop's Gateway.")
	}
	if usesCertManager(p) {
		b.named(ist, certMgr, "issuers", []string{get}, certManagerNames(p, "Issuer"), "cert-manager mode: the hop's Issuers, for their Ready condition.")
		b.named(ist, certMgr, "certificates", []string{get}, certManagerNames(p, "Certificate"), "cert-manager mode: the hop's Certificates, for their Ready condition and renewal time.")
	}
	b.named(ist, networking, "ingresses", []string{get}, []string{p.IngressName}, "The chain's Ingress.")
	b.any(ist, core, "pods", []string{list},
		"check lists the gateway pods by --gateway-selector. A LIST cannot be narrowed by name or label: it reads every pod of the namespace (pod specs, no secrets).")
	if o.AllNamespaces {
		for _, r := range []struct{ group, resource, what string }{
			{networking, "ingresses", "the chains' Ingresses (by the plugin's labels, and unlabelled ones shaped like the walkthrough's)"},
			{core, "services", "the gateway Services (by --gateway-selector)"},
			{istio, "gateways", "the hops' Gateways and their chain registry"},
			{istio, "virtualservices", "the chains' VirtualServices"},
		} {
			b.any("", r.group, r.resource, []string{list},
				"check -A finds every chain from "+r.what+" in one cluster-wide LIST. A LIST cannot be narrowed by name; these objects hold no secrets. Each chain found is then checked with its own Role: without one it is reported as forbidden.")
		}
	}
	if o.PortForward {
		b.any(ist, core, "pods/portforward", []string{create},
			"check --port-forward probes a gateway pod through the API server (a POST on pods/<name>/portforward). Gateway pods have generated names, so this cannot be narrowed by name: it reaches every pod of the Istio namespace. Run the gateway in a namespace of its own to narrow it.")
	}

	if p.GatewayAPI {
		b.named(app, chain.GatewayAPIGroup, "httproutes", []string{get}, []string{p.VirtualServiceName}, "The chain's HTTPRoute.")
	} else {
		b.named(app, istio, "virtualservices", []string{get}, []string{p.VirtualServiceName}, "The chain's VirtualService.")
	}
	b.named(app, core, "services", []string{get}, []string{p.Service}, "The app's Service (--service).")

	b.named(p.ALBSecretNamespace, core, "secrets", []string{get}, []string{p.ALBSecret},
		"The ALB's IKS TLS secret, by name: check compares the copies with it.")
	compatConfigRule(b, p, "check")
	gatewayAPICheckRules(b, p)
}

// gatewayAPICheckRules let check (and the check that ends setup) read, in
// Gateway API mode, the two cluster-scoped objects it judges by name: the
// GatewayClass istio (Accepted) and the Gateway CRD, whose annotations say
// the Gateway API's release and channel. Neither holds anything secret.
// ReferenceGrants are not granted: the plugin's chain makes no
// cross-namespace reference, and check reads them only for one made by
// hand (reporting them unknown when forbidden).
func gatewayAPICheckRules(b *builder, p *chain.Params) {
	if !p.GatewayAPI {
		return
	}
	b.named("", chain.GatewayAPIGroup, "gatewayclasses", []string{get}, []string{chain.GatewayClassName},
		"Gateway API mode: the GatewayClass istio, for its Accepted condition.")
	b.named("", "apiextensions.k8s.io", "customresourcedefinitions", []string{get}, []string{"gateways." + chain.GatewayAPIGroup},
		"Gateway API mode: the Gateway CRD, whose annotations give the Gateway API's release and channel.")
}

// compatConfigRule lets who runs check (or setup, which ends with one) read
// whether IKS's Traefik ALB runs its ingress-nginx compatibility layer.
// The ALB Deployments kube-system/<ALB ID>, whose image tags give Traefik's
// version, are not granted: their names are the ALB IDs the ConfigMap
// lists, unknown when the Role is generated, and a get on every Deployment
// of kube-system is more than check needs. Without it check reports the
// version as unknown (ALB0656).
func compatConfigRule(b *builder, p *chain.Params, who string) {
	if !p.ServesFlavor(chain.FlavorNginx) && p.Flavor != chain.FlavorAuto {
		return
	}
	b.named("kube-system", core, "configmaps", []string{get}, []string{"ibm-ingress-deploy-config"},
		"IKS's ibm-ingress-deploy-config, by name, when "+who+" checks the nginx flavor in a cluster with a Traefik IngressClass: it says which Traefik ALBs run the ingress-nginx compatibility layer (ingressProvider), whose reading of the nginx annotations check then judges. It holds ALB settings, no secrets.")
}

// inputNames are the IKS-owned objects of kind in namespace.
func inputNames(p *chain.Params, namespace, kind string) []string {
	var names []string
	for _, in := range p.Inputs() {
		if in.Kind == kind && in.Namespace == namespace && in.Name != "" {
			names = append(names, in.Name)
		}
	}
	return names
}

func notes(p *chain.Params, o Options) []string {
	n := []string{
		"LIST cannot be narrowed by name or label: the lists below return every object of their resource in their namespace, and none is of secrets.",
	}
	if o.For == ForSetup {
		n = append(n,
			"create by POST names no object: create on secrets (private CA) and gateways is bounded by the Istio namespace only. Server-side apply of a new object is a PATCH the API server authorizes as patch and create of its name, so every other create is narrowed by name.",
			"Whoever may create a Secret and read it back under the same name may ask for a service-account token of any service account in that namespace (type kubernetes.io/service-account-token). Grant setup's roles to whom you would trust with the Istio namespace's service accounts, or forbid that Secret type there with an admission policy.")
		if o.CreateNamespace {
			n = append(n, "No namespace is created or changed by the subject: this stream creates the app namespace (istio-injection=enabled, as setup --create-namespace would), since its Role can only be applied once it exists.")
		} else {
			n = append(n, "No namespace is created or changed by the subject. The Roles can only be applied in namespaces that exist: for a new app namespace, generate with --create-namespace and this stream creates it.")
		}
	} else {
		n = append(n, "check reads the TLS secrets it verifies by name, keys included: RBAC cannot grant a Secret's certificate without its key. It writes nothing: its verbs are get and list, and create on pods/portforward with --port-forward.")
	}
	return n
}

// builder collects rules per namespace, merging rules that differ only in
// the names they allow, so a namespace that is both the Istio and the app
// namespace gets one Role.
type builder struct {
	order []string
	scope map[string][]string
	byNS  map[string][]Rule
}

func newBuilder(p *chain.Params) *builder {
	b := &builder{scope: map[string][]string{}, byNS: map[string][]Rule{}}
	for _, s := range []struct{ ns, what string }{
		{"", "cluster-wide"},
		{p.IstioNamespace, "the Istio namespace (--istio-namespace)"},
		{p.AppNamespace, "the app namespace (-n)"},
		{p.ALBSecretNamespace, "the ALB secret's namespace (--alb-secret-namespace)"},
		{"kube-system", "IKS's namespace of the ALBs and their configuration"},
	} {
		if _, ok := b.scope[s.ns]; !ok {
			b.order = append(b.order, s.ns)
		}
		b.scope[s.ns] = append(b.scope[s.ns], s.what)
	}
	return b
}

// named allows verbs on the named objects only; no names, no rule.
func (b *builder) named(ns, group, resource string, verbs, names []string, why string) {
	var kept []string
	for _, n := range names {
		if n != "" && !slices.Contains(kept, n) {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		return
	}
	b.add(ns, Rule{PolicyRule: rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, ResourceNames: kept, Verbs: verbs}, Why: why})
}

// any allows verbs on every object of the resource in ns: for the
// requests that carry no name (LIST, create by POST).
func (b *builder) any(ns, group, resource string, verbs []string, why string) {
	b.add(ns, Rule{PolicyRule: rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}, Why: why})
}

func (b *builder) add(ns string, r Rule) {
	rules := b.byNS[ns]
	for i, have := range rules {
		if slices.Equal(have.APIGroups, r.APIGroups) && slices.Equal(have.Resources, r.Resources) && slices.Equal(have.Verbs, r.Verbs) &&
			(have.ResourceNames == nil) == (r.ResourceNames == nil) {
			for _, n := range r.ResourceNames {
				if !slices.Contains(have.ResourceNames, n) {
					have.ResourceNames = append(have.ResourceNames, n)
				}
			}
			if have.Why != r.Why {
				have.Why += " " + r.Why
			}
			rules[i] = have
			return
		}
	}
	b.byNS[ns] = append(rules, r)
}

func (b *builder) roles() (Role, []Role) {
	var cluster Role
	var roles []Role
	for _, ns := range b.order {
		r := Role{Namespace: ns, Scope: strings.Join(b.scope[ns], ", "), Rules: b.byNS[ns]}
		if ns == "" {
			cluster = r
			continue
		}
		if len(r.Rules) > 0 {
			roles = append(roles, r)
		}
	}
	return cluster, roles
}

// Objects are the Set as API objects, in apply order: each role before
// its binding, the cluster-scoped ones first.
func (s *Set) Objects() []runtime.Object {
	var out []runtime.Object
	if s.Namespace != nil {
		out = append(out, s.Namespace)
	}
	meta := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: s.Labels}
	}
	bmeta := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: s.BindingName, Namespace: ns, Labels: s.Labels}
	}
	if len(s.Cluster.Rules) > 0 {
		out = append(out,
			&rbacv1.ClusterRole{TypeMeta: typeMeta("ClusterRole"), ObjectMeta: meta(""), Rules: policy(s.Cluster.Rules)},
			&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("ClusterRoleBinding"), ObjectMeta: bmeta(""),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: s.Name}, Subjects: []rbacv1.Subject{s.Subject}})
	}
	for _, r := range s.Roles {
		out = append(out,
			&rbacv1.Role{TypeMeta: typeMeta("Role"), ObjectMeta: meta(r.Namespace), Rules: policy(r.Rules)},
			&rbacv1.RoleBinding{TypeMeta: typeMeta("RoleBinding"), ObjectMeta: bmeta(r.Namespace),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: s.Name}, Subjects: []rbacv1.Subject{s.Subject}})
	}
	return out
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind}
}

func policy(rules []Rule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(rules))
	for i, r := range rules {
		out[i] = r.PolicyRule
	}
	return out
}

// uniq is names without repeats, in order.
func uniq(names ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
