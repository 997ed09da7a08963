package chain

import (
	"strings"
	"testing"
)

func validFlags() *Flags {
	f := NewFlags()
	f.ALBDomain = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	f.ALBSecret = "mycluster-a1b2c3-0000"
	f.GatewayDomain = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	f.GatewaySecret = "mycluster-a1b2c3-0001"
	return f
}

func noEnv(string) string { return "" }

func TestResolveDefaults(t *testing.T) {
	p, err := validFlags().Resolve("httptools", noEnv, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	if p.Host != "httpbin.mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud" {
		t.Errorf("host %q: want <service>.<alb-domain>", p.Host)
	}
	if p.ClientCASecret() != "mycluster-a1b2c3-0001-cacert" || p.Name != "httpbin" || p.GatewaySelector["istio"] != "ingressgateway" {
		t.Errorf("defaults: %+v", p)
	}
	if p.GatewayName != "albistio-mycluster-a1b2c3-0001" || p.IngressName != "albistio-httptools-httpbin" || p.VirtualServiceName != "albistio-httpbin" {
		t.Errorf("derived names: gateway %q, ingress %q, virtualservice %q", p.GatewayName, p.IngressName, p.VirtualServiceName)
	}
	if p.ServiceHost() != "httpbin.httptools.svc.cluster.local" {
		t.Errorf("service host %q", p.ServiceHost())
	}
}

func TestResolveEnvironment(t *testing.T) {
	env := map[string]string{
		EnvALBDomain: "a-0000.us-south.containers.appdomain.cloud", EnvALBSecret: "a-0000",
		EnvGatewayDomain: "a-0001.us-south.containers.appdomain.cloud", EnvGatewaySecret: "a-0001",
	}
	f := NewFlags()
	f.GatewaySecret = "from-flag"
	p, err := f.Resolve("ns", func(k string) string { return env[k] }, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	if p.ALBDomain != env[EnvALBDomain] || p.ALBSecret != "a-0000" || p.GatewayDomain != env[EnvGatewayDomain] {
		t.Errorf("environment not applied: %+v", p)
	}
	if p.GatewaySecret != "from-flag" {
		t.Errorf("a flag must win over the environment, got %q", p.GatewaySecret)
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Flags)
		need   Requirement
		want   []string // substrings of the error; nil means valid
	}{
		{"valid", func(*Flags) {}, NeedAll, nil},
		{"missing everything", func(f *Flags) { *f = *NewFlags() }, NeedAll, []string{"--alb-domain", "--alb-secret", "--gateway-domain", "--gateway-secret", "$ALB_SECRET"}},
		{"host alone is enough for gateway", func(f *Flags) { f.ALBDomain = ""; f.Host = "app.example.com" }, Requirement{Host: true}, nil},
		{"domain with space", func(f *Flags) { f.ALBDomain = "my cluster.example.com" }, NeedAll, []string{"--alb-domain", "not a DNS name"}},
		{"domain without a dot", func(f *Flags) { f.GatewayDomain = "localhost" }, NeedAll, []string{"--gateway-domain"}},
		{"upper case domain", func(f *Flags) { f.GatewayDomain = "MyCluster.example.com" }, NeedAll, []string{"--gateway-domain"}},
		{"wildcard host", func(f *Flags) { f.Host = "*.example.com" }, NeedAll, []string{"--host", "wildcard"}},
		{"wildcard gateway domain", func(f *Flags) { f.GatewayDomain = "*.example.com" }, NeedAll, []string{"--gateway-domain", "wildcard"}},
		{"path without slash", func(f *Flags) { f.Paths = []string{"status"} }, NeedAll, []string{"--path", "/status"}},
		{"path with a brace", func(f *Flags) { f.Paths = []string{"/a{b}"} }, NeedAll, []string{"--path"}},
		{"path twice", func(f *Flags) { f.Paths = []string{"/a", "/a"} }, NeedAll, []string{"given twice"}},
		{"no path", func(f *Flags) { f.Paths = nil }, NeedAll, []string{"--path"}},
		{"port zero", func(f *Flags) { f.Port = 0 }, NeedAll, []string{"--port", "1-65535"}},
		{"gateway port too big", func(f *Flags) { f.GatewayServicePort = 65536 }, NeedAll, []string{"--gateway-service-port"}},
		{"secret name with capitals", func(f *Flags) { f.ALBSecret = "Bad_Name" }, NeedAll, []string{"--alb-secret"}},
		{"namespace too long", func(f *Flags) { f.IstioNamespace = strings.Repeat("a", 64) }, NeedAll, []string{"--istio-namespace"}},
		{"service starting with a digit", func(f *Flags) { f.Service = "1app" }, NeedAll, []string{"--service"}},
		{"selector without value", func(f *Flags) { f.GatewaySelector = "istio" }, NeedAll, []string{"--gateway-selector"}},
		{"unknown flavor", func(f *Flags) { f.Flavor = "haproxy" }, NeedAll, []string{"--alb-flavor"}},
		{"unknown identity", func(f *Flags) { f.Identity = "self" }, NeedAll, []string{"--client-identity"}},
		{"client secret is the IKS secret", func(f *Flags) { f.ClientSecret = f.GatewaySecret }, NeedAll, []string{"--client-secret", "IKS-owned"}},
		{"CA secret reuses the client secret", func(f *Flags) { f.CASecret = f.ClientSecret }, NeedAll, []string{"--ca-secret"}},
		{"same domain twice", func(f *Flags) { f.GatewayDomain = f.ALBDomain }, NeedAll, []string{"must differ"}},
		{"chain name too long", func(f *Flags) { f.Name = strings.Repeat("x", 64) }, NeedAll, []string{"--chain-name"}},
		{"gateway secret too long for -cacert", func(f *Flags) { f.GatewaySecret = strings.Repeat("a", 250) }, NeedAll, []string{"-cacert"}},
		{"bad ingress name", func(f *Flags) { f.IngressName = "Alb_Ingress" }, NeedAll, []string{"--ingress-name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectResolve(t, tc.mutate, tc.need, tc.want) })
	}
}

// expectResolve resolves the valid flags after mutate: no error when want
// is nil, else ParamErrors mentioning every string in want.
func expectResolve(t *testing.T, mutate func(*Flags), need Requirement, want []string) {
	t.Helper()
	f := validFlags()
	mutate(f)
	_, err := f.Resolve("httptools", noEnv, need)
	if want == nil {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("want an error")
	}
	if _, ok := err.(ParamErrors); !ok {
		t.Errorf("want ParamErrors, got %T", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// All problems are reported at once, in a stable order.
func TestValidationReportsAllAtOnce(t *testing.T) {
	f := validFlags()
	f.Paths = []string{"a"}
	f.Port = -1
	f.Flavor = "x"
	_, err := f.Resolve("httptools", noEnv, NeedAll)
	errs, ok := err.(ParamErrors)
	if !ok || len(errs) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	_, err2 := f.Resolve("httptools", noEnv, NeedAll)
	if err.Error() != err2.Error() {
		t.Error("the order of problems must be stable")
	}
}

func TestIngressClassAndBackend(t *testing.T) {
	// The flavor's default class is pkg/flavor's (TestDefaults there);
	// without --ingress-class the flags leave it to the flavor.
	for _, flavor := range []Flavor{FlavorNginx, FlavorTraefik, FlavorClassic} {
		f := validFlags()
		f.Flavor = string(flavor)
		p, err := f.Resolve("ns", noEnv, NeedAll)
		if err != nil {
			t.Fatal(err)
		}
		if p.IngressClass != "" {
			t.Errorf("%s: class %q resolved from no --ingress-class", flavor, p.IngressClass)
		}
		if (p.BackendService() != p.GatewayService) != (flavor == FlavorTraefik) {
			t.Errorf("%s: backend %q: only Traefik routes through the plugin's own Service", flavor, p.BackendService())
		}
	}
}
