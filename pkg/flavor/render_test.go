package flavor

import (
	"maps"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// testParams is a resolved chain with distinct names for every role, so a
// value put under the wrong key shows.
func testParams(t *testing.T, f chain.Flavor) *chain.Params {
	t.Helper()
	fl := chain.NewFlags()
	fl.ALBDomain, fl.ALBSecret, fl.GatewayDomain, fl.GatewaySecret = "alb.example.com", "alb", "gw.example.com", "gw"
	fl.Flavor = string(f)
	p, err := fl.Resolve("httptools", func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestALBSide holds what each flavor asks of the ALB, spelled as its
// controller parses it (the goldens in pkg/render/testdata hold the whole
// objects): ingress-nginx's "on" (not "true") and its depth, classic's one
// ssl-services entry, Traefik's router TLS and its transport and Service
// written before the Ingress.
func TestALBSide(t *testing.T) {
	b := Backend{VerifyDepth: 3, Selector: map[string]string{"istio": "ingressgateway"}, TargetPort: intstr.FromInt32(8443)}
	for _, tc := range []struct {
		flavor      chain.Flavor
		annotations map[string]string
		backend     func(p *chain.Params) string
		before      []string
	}{
		{chain.FlavorNginx, map[string]string{
			NginxBackendProtocol: "HTTPS", NginxProxySSLSecret: "istio-system/alb-certs", NginxProxySSLVerify: "on",
			NginxProxySSLVerifyDepth: "3", NginxProxySSLName: "gw.example.com", NginxProxySSLServerName: "on",
		}, func(p *chain.Params) string { return p.GatewayService }, nil},
		{chain.FlavorTraefik, map[string]string{TraefikRouterTLS: "true", TraefikRouterEntryPoints: "websecure"},
			func(p *chain.Params) string { return p.GatewayService + "-albistio" }, []string{"ServersTransport", "Service"}},
		{chain.FlavorClassic, map[string]string{
			ClassicSSLServices: "ssl-service=istio-ingressgateway ssl-secret=alb-certs proxy-ssl-verify-depth=3 proxy-ssl-name=gw.example.com",
		}, func(p *chain.Params) string { return p.GatewayService }, nil},
	} {
		p := testParams(t, tc.flavor)
		side := For(tc.flavor).ALBSide(p, b)
		if !maps.Equal(side.Annotations, tc.annotations) {
			t.Errorf("%s: annotations\n%v\nwant\n%v", tc.flavor, side.Annotations, tc.annotations)
		}
		if want := tc.backend(p); side.BackendService != want {
			t.Errorf("%s: backend %q, want %q", tc.flavor, side.BackendService, want)
		}
		var kinds []string
		for _, o := range side.Before {
			kinds = append(kinds, o.GetKind())
		}
		if len(kinds) != len(tc.before) || (len(kinds) > 0 && kinds[0] != tc.before[0]) {
			t.Errorf("%s: written before the Ingress %v, want %v", tc.flavor, kinds, tc.before)
		}
		if tc.flavor == chain.FlavorTraefik {
			checkTraefikObjects(t, p, side.Before)
		}
	}
}

func checkTraefikObjects(t *testing.T, p *chain.Params, objs []*unstructured.Unstructured) {
	t.Helper()
	st, svc := objs[0], objs[1]
	if n, _, _ := unstructured.NestedString(st.Object, "spec", "serverName"); n != "gw.example.com" {
		t.Errorf("ServersTransport serverName %q, want the gateway domain", n)
	}
	if cs, _, _ := unstructured.NestedStringSlice(st.Object, "spec", "certificatesSecrets"); len(cs) != 1 || cs[0] != p.ClientSecret {
		t.Errorf("certificatesSecrets %v, want the client secret", cs)
	}
	if a := svc.GetAnnotations(); a[TraefikServiceTransport] != p.IstioNamespace+"-"+p.TransportName()+"@kubernetescrd" || a[TraefikServiceServerScheme] != "https" {
		t.Errorf("Service annotations %v", a)
	}
	if svc.GetName() != p.BackendService() {
		t.Errorf("Service %s, want the Ingress's backend %s", svc.GetName(), p.BackendService())
	}
}

// TestNotice: only the classic flavor warns whoever writes it.
func TestNotice(t *testing.T) {
	for _, fl := range All() {
		if (fl.Notice() != "") != (fl.Name() == chain.FlavorClassic) {
			t.Errorf("%s: notice %q", fl.Name(), fl.Notice())
		}
	}
}
