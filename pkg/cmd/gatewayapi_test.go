package cmd

import (
	"strings"
	"testing"
)

// gateway --gateway-api --dry-run=client renders the Gateway API objects
// from the parameters alone, with no cluster; ingress points the ALB at the
// Service Istio deploys for that Gateway, or at the one named.
func TestGatewayAPIClientDryRun(t *testing.T) {
	isolate(t)
	code, out, errOut := run(t, append([]string{"gateway", "--gateway-api", "--dry-run=client", "-o", "yaml"}, chainArgs...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway", "kind: HTTPRoute", "gatewayClassName: istio", "sectionName: https", "mode: AllowValidOnly", "name: albistio-mycluster-a1b2c3-0001-client-ca"} {
		if !strings.Contains(out, want) {
			t.Errorf("the Gateway API slice lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "networking.istio.io") {
		t.Errorf("Gateway API mode rendered Istio's objects:\n%s", out)
	}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{nil, "name: albistio-mycluster-a1b2c3-0001-istio\n"},
		{[]string{"--gateway-service", "istio-ingressgateway"}, "name: istio-ingressgateway\n"},
	} {
		code, out, errOut = run(t, append(append([]string{"ingress", "--gateway-api", "--alb-flavor", "nginx", "--dry-run=client", "-o", "yaml"}, chainArgs...), tc.extra...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("ingress %v: the backend should be %q:\n%s", tc.extra, tc.want, out)
		}
	}
}
