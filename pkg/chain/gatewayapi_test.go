package chain

import (
	"testing"

	"github.com/spf13/pflag"
)

func resolveArgs(t *testing.T, args ...string) *Params {
	t.Helper()
	f := NewFlags()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse(append([]string{"--alb-domain", "a.example.com", "--alb-secret", "alb", "--gateway-domain", "g.example.com", "--gateway-secret", "gw"}, args...)); err != nil {
		t.Fatal(err)
	}
	p, err := f.Resolve("apps", func(string) string { return "" }, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGatewayAPIDefaults: with --gateway-api the ALB goes to the Service
// Istio deploys for the Gateway (and its pods), unless a Service is named;
// without it nothing changes.
func TestGatewayAPIDefaults(t *testing.T) {
	for _, tc := range []struct {
		args                []string
		service, address    string
		selector            string
		configMap, listener string
	}{
		{nil, "istio-ingressgateway", "", "istio=ingressgateway", "albistio-gw-client-ca", "https"},
		{[]string{"--gateway-api"}, "albistio-gw-istio", "", "gateway.networking.k8s.io/gateway-name=albistio-gw", "albistio-gw-client-ca", "https"},
		{[]string{"--gateway-api", "--gateway-name", "hop"}, "hop-istio", "", "gateway.networking.k8s.io/gateway-name=hop", "hop-client-ca", "https"},
		{[]string{"--gateway-api", "--gateway-service", "istio-ingressgateway"}, "istio-ingressgateway", "istio-ingressgateway.istio-system.svc.cluster.local", "istio=ingressgateway", "albistio-gw-client-ca", "https"},
		{[]string{"--gateway-api", "--gateway-selector", "app=gw"}, "albistio-gw-istio", "", "app=gw", "albistio-gw-client-ca", "https"},
	} {
		p := resolveArgs(t, tc.args...)
		if p.GatewayService != tc.service || p.GatewayAddress() != tc.address || p.SelectorString() != tc.selector || p.ClientCAConfigMap() != tc.configMap || GatewayAPIListener != tc.listener {
			t.Errorf("%v: service %q address %q selector %q configmap %q, want %q %q %q %q", tc.args, p.GatewayService, p.GatewayAddress(), p.SelectorString(), p.ClientCAConfigMap(), tc.service, tc.address, tc.selector, tc.configMap)
		}
		if p.GatewayServicePort != 443 {
			t.Errorf("%v: port %d", tc.args, p.GatewayServicePort)
		}
	}
}

// TestGatewayAPIManifest: the Gateway API objects replace the classic
// Gateway, VirtualService and -cacert in the manifest, in write order
// (ConfigMap, Gateway, HTTPRoute, then the Ingress).
func TestGatewayAPIManifest(t *testing.T) {
	p := resolveArgs(t, "--gateway-api", "--alb-flavor", "nginx", "--client-identity", "private-ca")
	var got []string
	for _, e := range p.Manifest() {
		got = append(got, e.Kind+" "+e.Namespace+"/"+e.Name+" "+string(e.Level))
	}
	want := []string{
		"Secret istio-system/albistio-client-ca hop",
		"Secret istio-system/alb hop",
		"Secret istio-system/alb-certs hop",
		"ConfigMap istio-system/albistio-gw-client-ca hop",
		"Gateway istio-system/albistio-gw hop",
		"HTTPRoute apps/albistio-httpbin chain",
		"Ingress istio-system/albistio-apps-httpbin chain",
	}
	if len(got) != len(want) {
		t.Fatalf("manifest\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, e := range p.Manifest() {
		if (e.Kind == "Gateway" || e.Kind == "HTTPRoute") && e.Group != GatewayAPIGroup {
			t.Errorf("%s has group %q", e.Ref(), e.Group)
		}
	}
}
