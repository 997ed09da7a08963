package rbac

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// params are the walkthrough's values with IKS-shaped names; extra flags
// change them as the command line would.
func params(t *testing.T, flavor chain.Flavor, set ...func(*chain.Flags)) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.ALBSecret = "mycluster-a1b2c3-0000"
	f.GatewaySecret = "mycluster-a1b2c3-0001"
	f.Flavor = string(flavor)
	for _, s := range set {
		s(f)
	}
	p, err := f.Resolve("httptools", func(string) string { return "" }, chain.Requirement{ALBSecret: true, GatewaySecret: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func renderSet(t *testing.T, p *chain.Params, o Options) *Set {
	t.Helper()
	if o.Subject.Kind == "" {
		o.Subject = UserSubject("jane@example.com")
	}
	s, err := Render(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The rendered roles, as reviewed: setup and check for nginx and traefik,
// and the variants the flags add.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flavor chain.Flavor
		opts   Options
		set    []func(*chain.Flags)
	}{
		{"setup-nginx", chain.FlavorNginx, Options{For: ForSetup}, nil},
		{"setup-traefik", chain.FlavorTraefik, Options{For: ForSetup}, nil},
		{"setup-auto", chain.FlavorAuto, Options{For: ForSetup}, nil},
		{"setup-nginx-alb-cert-create-namespace", chain.FlavorNginx, Options{For: ForSetup, CreateNamespace: true}, []func(*chain.Flags){func(f *chain.Flags) { f.Identity = string(chain.IdentityALBCert) }}},
		{"check-nginx", chain.FlavorNginx, Options{For: ForCheck}, nil},
		{"check-traefik", chain.FlavorTraefik, Options{For: ForCheck}, nil},
		{"check-nginx-port-forward-serviceaccount", chain.FlavorNginx, Options{For: ForCheck, PortForward: true, Subject: ServiceAccountSubject("ci", "albistio")}, nil},
		{"check-nginx-all-namespaces", chain.FlavorNginx, Options{For: ForCheck, AllNamespaces: true}, nil},
		{"setup-gatewayapi-traefik", chain.FlavorTraefik, Options{For: ForSetup}, []func(*chain.Flags){func(f *chain.Flags) { f.GatewayAPI = true }}},
		{"check-gatewayapi-nginx", chain.FlavorNginx, Options{For: ForCheck}, []func(*chain.Flags){func(f *chain.Flags) { f.GatewayAPI = true }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := renderSet(t, params(t, tc.flavor, tc.set...), tc.opts).WriteYAML(&b); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", tc.name+".yaml"), b.Bytes())
		})
	}
}

// variants are every combination the unit tests below hold to their rules.
func variants(t *testing.T) map[string]*Set {
	t.Helper()
	out := map[string]*Set{}
	for _, flavor := range chain.Flavors {
		for _, id := range chain.IdentityModes {
			if invalid(flavor, id) {
				continue
			}
			p := params(t, flavor, func(f *chain.Flags) { f.Identity = string(id) })
			name := string(flavor) + "-" + string(id)
			out["setup-"+name] = renderSet(t, p, Options{For: ForSetup})
			out["setup-ns-"+name] = renderSet(t, p, Options{For: ForSetup, CreateNamespace: true})
			out["check-"+name] = renderSet(t, p, Options{For: ForCheck})
			out["check-pf-"+name] = renderSet(t, p, Options{For: ForCheck, PortForward: true})
			out["check-all-"+name] = renderSet(t, p, Options{For: ForCheck, AllNamespaces: true})
			if flavor != chain.FlavorClassic {
				g := params(t, flavor, func(f *chain.Flags) { f.Identity, f.GatewayAPI = string(id), true })
				out["setup-gatewayapi-"+name] = renderSet(t, g, Options{For: ForSetup})
				out["check-gatewayapi-"+name] = renderSet(t, g, Options{For: ForCheck})
			}
		}
	}
	return out
}

// allows says whether the roles allow verb on the named object (name ""
// asks for a request without a name: a LIST, or a create by POST).
func (s *Set) allows(namespace, group, resource, verb, name string) bool {
	rules := s.Cluster.Rules
	if namespace != "" {
		rules = nil
		for _, r := range s.Roles {
			if r.Namespace == namespace {
				rules = r.Rules
			}
		}
	}
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || (name != "" && slices.Contains(r.ResourceNames, name))) {
			return true
		}
	}
	return false
}

var resourceOf = map[string][2]string{
	"Secret": {"", "secrets"}, "Service": {"", "services"}, "Gateway": {"networking.istio.io", "gateways"},
	"VirtualService": {"networking.istio.io", "virtualservices"}, "Ingress": {"networking.k8s.io", "ingresses"},
	"ServersTransport": {"traefik.io", "serverstransports"},
	"Issuer":           {"cert-manager.io", "issuers"}, "Certificate": {"cert-manager.io", "certificates"},
}

// invalid is the one combination of flavor and identity that Validate
// refuses: the classic ALB cannot read cert-manager's secrets.
func invalid(flavor chain.Flavor, id chain.IdentityMode) bool {
	return flavor == chain.FlavorClassic && id == chain.IdentityCertManager
}

// Every object of the manifest is named: setup may read, write (server-side
// apply: patch, and create of that name) and delete each one by name;
// check may read each one, and the IKS inputs, by name.
func TestManifestNamesAreResourceNames(t *testing.T) {
	for _, id := range chain.IdentityModes {
		for _, flavor := range chain.Flavors {
			if invalid(flavor, id) {
				continue
			}
			p := params(t, flavor, func(f *chain.Flags) { f.Identity = string(id) })
			setup := renderSet(t, p, Options{For: ForSetup})
			check := renderSet(t, p, Options{For: ForCheck})
			for _, e := range p.Manifest() {
				gr, ok := resourceOf[e.Kind]
				if !ok {
					t.Fatalf("no resource known for %s", e.Kind)
				}
				for _, verb := range []string{"get", "patch", "delete", "create"} {
					if !setup.allows(e.Namespace, gr[0], gr[1], verb, e.Name) {
						t.Errorf("%s/%s: setup cannot %s %s", flavor, id, verb, e.Ref())
					}
				}
				if e.Role == chain.RolePrivateCA && id == chain.IdentityALBCert {
					continue // check reads the CA only when it issued the client certificate
				}
				if !check.allows(e.Namespace, gr[0], gr[1], "get", e.Name) {
					t.Errorf("%s/%s: check cannot get %s", flavor, id, e.Ref())
				}
			}
			for _, e := range p.Inputs() {
				gr := resourceOf[e.Kind]
				for _, s := range []*Set{setup, check} {
					if !s.allows(e.Namespace, gr[0], gr[1], "get", e.Name) {
						t.Errorf("%s/%s: %s cannot get %s", flavor, id, s.For, e.Ref())
					}
					for _, verb := range []string{"patch", "delete", "update"} {
						if s.allows(e.Namespace, gr[0], gr[1], verb, e.Name) {
							t.Errorf("%s/%s: %s may %s the IKS-owned %s", flavor, id, s.For, verb, e.Ref())
						}
					}
				}
			}
		}
	}
}

// Every named rule names only objects of the chain, its hop or its inputs:
// nothing is granted on a name the commands never use.
func TestNoStrayNames(t *testing.T) {
	for name, s := range variants(t) {
		p := params(t, chain.FlavorAuto)
		// check also reads, never writes, the -cacert Istio would prefer to
		// the hop server secret's ca.crt, had one been left over.
		// And IKS's ibm-ingress-deploy-config, which says whether Traefik's
		// ingress-nginx compatibility layer serves the nginx-flavored Ingress.
		known := map[string]bool{p.IstioNamespace: true, p.AppNamespace: true, p.Service: true, p.HopServerSecret() + "-cacert": true,
			"ibm-ingress-deploy-config": true}
		// setup and cleanup also retire the chain's objects of the other
		// gateway mode (Istio's API or the Gateway API).
		for _, e := range append(append(p.Manifest(), p.OtherMode().Manifest()...), p.Inputs()...) {
			known[e.Name] = true
		}
		if strings.Contains(name, "gatewayapi") {
			g := params(t, chain.FlavorAuto, func(f *chain.Flags) { f.GatewayAPI = true })
			known[g.HopServerSecret()+"-cacert"] = true
			// check reads the GatewayClass istio and the Gateway CRD.
			known[chain.GatewayClassName], known["gateways."+chain.GatewayAPIGroup] = true, true
			for _, e := range append(g.Manifest(), g.Inputs()...) {
				known[e.Name] = true
			}
		}
		for _, r := range append([]Role{s.Cluster}, s.Roles...) {
			for _, rule := range r.Rules {
				for _, n := range rule.ResourceNames {
					if !known[n] {
						t.Errorf("%s: %v names %q, which is not the chain's", name, rule.PolicyRule, n)
					}
				}
			}
		}
	}
}

// No rule has a wildcard, lists or watches secrets, or grants update
// (server-side apply is a PATCH), escalate, bind or impersonate; check
// writes nothing (its only create is the probe's port-forward).
func TestNoBroadRules(t *testing.T) {
	for name, s := range variants(t) {
		for _, r := range append([]Role{s.Cluster}, s.Roles...) {
			for _, rule := range r.Rules {
				all := slices.Concat(rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames)
				if slices.Contains(all, "*") || len(rule.NonResourceURLs) > 0 {
					t.Errorf("%s: wildcard in %v", name, rule.PolicyRule)
				}
				if len(rule.APIGroups) != 1 || len(rule.Resources) != 1 {
					t.Errorf("%s: want one group and resource per rule, so each has its own reason: %v", name, rule.PolicyRule)
				}
				for _, v := range rule.Verbs {
					if !slices.Contains([]string{"get", "list", "create", "patch", "delete"}, v) {
						t.Errorf("%s: verb %q in %v", name, v, rule.PolicyRule)
					}
					if v == "list" && len(rule.ResourceNames) > 0 {
						t.Errorf("%s: list with resourceNames cannot be used by a LIST: %v", name, rule.PolicyRule)
					}
				}
				if slices.Contains(rule.Resources, "secrets") && (slices.Contains(rule.Verbs, "list") || slices.Contains(rule.Verbs, "watch")) {
					t.Errorf("%s: %v lists secrets: that would return istio-ca-secret", name, rule.PolicyRule)
				}
				if s.For == ForCheck && !slices.Equal(rule.Verbs, []string{"get"}) && !slices.Equal(rule.Verbs, []string{"list"}) &&
					!(rule.Resources[0] == "pods/portforward" && slices.Equal(rule.Verbs, []string{"create"})) {
					t.Errorf("%s: check's role writes: %v", name, rule.PolicyRule)
				}
				if rule.Why == "" {
					t.Errorf("%s: %v says not why it is there", name, rule.PolicyRule)
				}
			}
		}
		if s.allows("", "", "namespaces", "patch", "kube-system") || s.allows("", "", "namespaces", "create", "") {
			t.Errorf("%s: may patch any namespace, or create one by POST", name)
		}
	}
}

// The requests that carry no name are the only unnamed rules: LISTs, the
// POSTs that create the private CA and the hop's Gateway, and the probe's
// port-forward. Each is confined to one namespace.
func TestUnnamedRules(t *testing.T) {
	p := params(t, chain.FlavorAuto)
	want := map[string][]string{
		"setup": {"cluster list ingressclasses", p.IstioNamespace + " create secrets", p.IstioNamespace + " create gateways",
			p.IstioNamespace + " list ingresses", p.IstioNamespace + " list pods", p.AppNamespace + " list httproutes", p.AppNamespace + " list virtualservices"},
		"check": {"cluster list ingressclasses", p.IstioNamespace + " list pods", p.IstioNamespace + " create pods/portforward"},
	}
	for _, o := range []Options{{For: ForSetup}, {For: ForCheck, PortForward: true}} {
		s := renderSet(t, p, o)
		var got []string
		for _, r := range append([]Role{s.Cluster}, s.Roles...) {
			for _, rule := range r.Rules {
				if len(rule.ResourceNames) == 0 {
					ns := r.Namespace
					if ns == "" {
						ns = "cluster"
					}
					got = append(got, ns+" "+strings.Join(rule.Verbs, ",")+" "+rule.Resources[0])
				}
			}
		}
		if !slices.Equal(got, want[string(o.For)]) {
			t.Errorf("%s: unnamed rules\n got %q\nwant %q", o.For, got, want[string(o.For)])
		}
	}
	// alb-cert never creates the CA: every secret is created by server-side apply, by name.
	s := renderSet(t, params(t, chain.FlavorNginx, func(f *chain.Flags) { f.Identity = string(chain.IdentityALBCert) }), Options{For: ForSetup})
	if s.allows(p.IstioNamespace, "", "secrets", "create", "") {
		t.Error("with --client-identity=alb-cert, create on secrets should be by name")
	}
}

// Two apps behind one ALB and gateway: each chain's roles have their own
// names, and allow nothing on the other chain's VirtualService or Ingress.
func TestChainsDoNotShare(t *testing.T) {
	a := params(t, chain.FlavorNginx)
	b := params(t, chain.FlavorNginx, func(f *chain.Flags) { f.Service = "storefront" })
	b.AppNamespace = "shop"
	b.IngressName = chain.DefaultIngressName("shop", "storefront")
	sa, sb := renderSet(t, a, Options{For: ForSetup}), renderSet(t, b, Options{For: ForSetup})
	if sa.Name == sb.Name || sa.BindingName == sb.BindingName {
		t.Fatalf("two chains' roles share a name (%s, %s): applying one would replace the other", sa.Name, sb.Name)
	}
	for _, verb := range []string{"get", "patch", "delete", "create"} {
		if sa.allows(a.IstioNamespace, "networking.k8s.io", "ingresses", verb, b.IngressName) {
			t.Errorf("app A's roles may %s app B's Ingress", verb)
		}
	}
	if sa.allows(b.AppNamespace, "networking.istio.io", "virtualservices", "delete", b.VirtualServiceName) {
		t.Error("app A's roles reach app B's namespace")
	}
	// Both may write the hop they share.
	for _, s := range []*Set{sa, sb} {
		if !s.allows(a.IstioNamespace, "networking.istio.io", "gateways", "patch", a.GatewayName) {
			t.Errorf("%s cannot update the hop's Gateway", s.Name)
		}
	}
}

// A namespace that plays two parts (the ALB secret in the Istio namespace,
// or the app there) gets one Role, its rules merged.
func TestSharedNamespaceOneRole(t *testing.T) {
	p := params(t, chain.FlavorNginx, func(f *chain.Flags) { f.ALBSecretNamespace = "istio-system" })
	p.AppNamespace = "istio-system"
	for _, o := range []Options{{For: ForSetup}, {For: ForCheck}} {
		s := renderSet(t, p, o)
		// check's Role in kube-system (IKS's ibm-ingress-deploy-config) is
		// of a namespace the chain does not share.
		roles := slices.DeleteFunc(slices.Clone(s.Roles), func(r Role) bool { return r.Namespace == "kube-system" })
		if len(roles) != 1 || roles[0].Namespace != "istio-system" {
			t.Fatalf("%s: want one Role in istio-system, got %d", o.For, len(roles))
		}
		seen := map[string]bool{}
		for _, rule := range roles[0].Rules {
			key := rule.APIGroups[0] + "/" + rule.Resources[0] + " " + strings.Join(rule.Verbs, ",") + " " + (map[bool]string{true: "named", false: "any"})[len(rule.ResourceNames) > 0]
			if seen[key] {
				t.Errorf("%s: two rules for %s: merge them", o.For, key)
			}
			seen[key] = true
		}
		if !s.allows("istio-system", "", "secrets", "get", p.ALBSecret) || !s.allows("istio-system", "", "services", "get", p.Service) {
			t.Errorf("%s: a merged rule lost a name", o.For)
		}
	}
}

// The YAML stream (with its comments) and the JSON List are the same
// objects as Objects().
func TestOutputsAgree(t *testing.T) {
	s := renderSet(t, params(t, chain.FlavorTraefik), Options{For: ForSetup, CreateNamespace: true})
	want, err := json.Marshal(s.Objects())
	if err != nil {
		t.Fatal(err)
	}
	var y bytes.Buffer
	if err := s.WriteYAML(&y); err != nil {
		t.Fatal(err)
	}
	var fromYAML []any
	for _, doc := range strings.Split(y.String(), "\n---\n")[1:] {
		var m any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		fromYAML = append(fromYAML, m)
	}
	var j bytes.Buffer
	if err := s.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []any  `json:"items"`
	}
	if err := json.Unmarshal(j.Bytes(), &list); err != nil || list.Kind != "List" {
		t.Fatalf("-o json is not a List: %v", err)
	}
	var objs []rbacObject
	if err := json.Unmarshal(want, &objs); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]any{"yaml": fromYAML, "json": list.Items} {
		data, _ := json.Marshal(got)
		var decoded []rbacObject
		if err := json.Unmarshal(data, &decoded); err != nil {
			t.Fatal(err)
		}
		if len(decoded) != len(objs) {
			t.Fatalf("%s has %d objects, want %d", name, len(decoded), len(objs))
		}
		for i := range objs {
			a, _ := json.Marshal(objs[i])
			b, _ := json.Marshal(decoded[i])
			if !bytes.Equal(a, b) {
				t.Errorf("%s object %d differs:\n got %s\nwant %s", name, i, b, a)
			}
		}
	}
}

// rbacObject holds any of the four kinds, for comparing outputs.
type rbacObject struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   map[string]any      `json:"metadata"`
	Rules      []rbacv1.PolicyRule `json:"rules,omitempty"`
	RoleRef    *rbacv1.RoleRef     `json:"roleRef,omitempty"`
	Subjects   []rbacv1.Subject    `json:"subjects,omitempty"`
}

func TestRejects(t *testing.T) {
	p := params(t, chain.FlavorNginx)
	user := UserSubject("jane")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown for", Options{For: "admin", Subject: user}, "setup or check"},
		{"port-forward for setup", Options{For: ForSetup, PortForward: true, Subject: user}, "--for=check"},
		{"create-namespace for check", Options{For: ForCheck, CreateNamespace: true, Subject: user}, "--for=setup"},
		{"no subject", Options{For: ForSetup}, "--user, --group or --serviceaccount"},
		{"empty user", Options{For: ForSetup, Subject: UserSubject(" ")}, "must not be empty"},
		{"bad service account namespace", Options{For: ForSetup, Subject: ServiceAccountSubject("CI", "bot")}, "not a namespace"},
		{"bad service account name", Options{For: ForSetup, Subject: ServiceAccountSubject("ci", "Bot!")}, "not a service account name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(p, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error mentioning %q, got %v", tc.want, err)
			}
		})
	}
	noGateway := *p
	noGateway.GatewaySecret, noGateway.GatewayName = "", ""
	if _, err := Render(&noGateway, Options{For: ForCheck, Subject: user}); err == nil {
		t.Error("roles without the gateway secret cannot name the hop: want an error")
	}
}

// Binding names hold the subject, made a valid path segment.
func TestBindingNames(t *testing.T) {
	p := params(t, chain.FlavorNginx)
	for _, tc := range []struct {
		subject rbacv1.Subject
		want    string
	}{
		{UserSubject("jane@example.com"), "albistio-setup-httptools-httpbin-user-jane@example.com"},
		{UserSubject("https://iam.cloud.ibm.com/identity#IBMid-1%2F"), "albistio-setup-httptools-httpbin-user-https:--iam.cloud.ibm.com-identity#IBMid-1-2F"},
		{GroupSubject("shop admins"), "albistio-setup-httptools-httpbin-group-shop-admins"},
		{ServiceAccountSubject("ci", "albistio"), "albistio-setup-httptools-httpbin-sa-ci:albistio"},
	} {
		s := renderSet(t, p, Options{For: ForSetup, Subject: tc.subject})
		if s.BindingName != tc.want {
			t.Errorf("%v: binding %q, want %q", tc.subject, s.BindingName, tc.want)
		}
	}
}

// TestAllNamespacesListsNoSecrets: what check -A adds is cluster-wide
// LISTs of the four kinds it finds chains by, and nothing else: no secret,
// no get of anything it could not name, no write.
func TestAllNamespacesListsNoSecrets(t *testing.T) {
	p := params(t, chain.FlavorNginx)
	plain := renderSet(t, p, Options{For: ForCheck})
	all := renderSet(t, p, Options{For: ForCheck, AllNamespaces: true})
	for _, gr := range [][2]string{{"networking.k8s.io", "ingresses"}, {"", "services"}, {"networking.istio.io", "gateways"}, {"networking.istio.io", "virtualservices"}} {
		if plain.allows("", gr[0], gr[1], "list", "") {
			t.Errorf("check without -A should not list %s cluster-wide", gr[1])
		}
		if !all.allows("", gr[0], gr[1], "list", "") {
			t.Errorf("check -A must list %s cluster-wide", gr[1])
		}
	}
	if got, want := len(all.Cluster.Rules)-len(plain.Cluster.Rules), 4; got != want {
		t.Errorf("--all-namespaces added %d cluster rules, want %d: %v", got, want, all.Cluster.Rules)
	}
	for _, r := range all.Cluster.Rules {
		if slices.Contains(r.Resources, "secrets") || slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "list" && v != "get" }) {
			t.Errorf("check -A's ClusterRole grants %v", r.PolicyRule)
		}
	}
	if _, err := Render(p, Options{For: ForSetup, AllNamespaces: true}); err == nil {
		t.Error("--all-namespaces with --for=setup should be refused")
	}
}
