package flavor

import (
	"slices"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// TestDetection holds each flavor's detection facts: the IngressClass
// controller IKS's ALBs of the flavor name, the class IKS creates for its
// public ALBs, and the annotations that mark an Ingress as written for it.
func TestDetection(t *testing.T) {
	for _, tc := range []struct {
		flavor      chain.Flavor
		controllers []string
		class       string
		marks       map[string]string
	}{
		{chain.FlavorNginx, []string{"k8s.io/ingress-nginx"}, "public-iks-k8s-nginx", map[string]string{NginxBackendProtocol: "HTTPS"}},
		{chain.FlavorTraefik, []string{"traefik.io/ingress-controller"}, "public-iks-traefik", map[string]string{TraefikRouterTLS: "true"}},
		{chain.FlavorClassic, nil, "", map[string]string{ClassicSSLServices: "ssl-service=gw ssl-secret=alb-certs"}},
	} {
		fl := For(tc.flavor)
		if fl == nil || fl.Name() != tc.flavor {
			t.Fatalf("For(%s) = %v", tc.flavor, fl)
		}
		if !slices.Equal(fl.Controllers(), tc.controllers) {
			t.Errorf("%s: controllers %v, want %v", tc.flavor, fl.Controllers(), tc.controllers)
		}
		for _, c := range tc.controllers {
			if got := ByController(c); got == nil || got.Name() != tc.flavor {
				t.Errorf("ByController(%s) = %v, want %s", c, got, tc.flavor)
			}
		}
		if fl.DefaultIngressClass() != tc.class || DefaultIngressClass(tc.flavor) != tc.class {
			t.Errorf("%s: default class %q, want %q", tc.flavor, fl.DefaultIngressClass(), tc.class)
		}
		if got := IngressClassName(&chain.Params{Flavor: tc.flavor}); got != tc.class {
			t.Errorf("%s: IngressClassName %q, want the default %q", tc.flavor, got, tc.class)
		}
		if got := IngressClassName(&chain.Params{Flavor: tc.flavor, IngressClass: "private-x"}); got != "private-x" {
			t.Errorf("%s: IngressClassName %q, want --ingress-class's", tc.flavor, got)
		}
		if got := Marked(tc.marks); got == nil || got.Name() != tc.flavor {
			t.Errorf("Marked(%v) = %v, want %s", tc.marks, got, tc.flavor)
		}
	}
	for _, f := range []chain.Flavor{chain.FlavorAuto, "", "haproxy"} {
		if For(f) != nil || DefaultIngressClass(f) != "" {
			t.Errorf("For(%q) must be nil and have no class", f)
		}
	}
	if ByController("example.com/other") != nil || Marked(map[string]string{"kubernetes.io/ingress.class": "x"}) != nil {
		t.Error("a foreign controller or annotation must match no flavor")
	}
	// The legacy image's annotation wins over nginx's when an Ingress
	// carries both, as setup's discovery always read it.
	both := map[string]string{ClassicSSLServices: "ssl-service=gw", NginxProxySSLSecret: "ns/alb-certs"}
	if got := Marked(both); got == nil || got.Name() != chain.FlavorClassic {
		t.Errorf("Marked(classic+nginx) = %v, want classic", got)
	}
	if got := Controllers(); !slices.Equal(got, []string{NginxController, TraefikController}) {
		t.Errorf("Controllers() = %v", got)
	}
}

// TestClientSecretKeys holds each flavor's client secret layout; an
// undetected flavor reads the layout of IKS's ALBs.
func TestClientSecretKeys(t *testing.T) {
	tlsLayout := SecretKeys{Cert: "tls.crt", Key: "tls.key", Trust: "ca.crt"}
	for f, want := range map[chain.Flavor]SecretKeys{
		chain.FlavorNginx:   tlsLayout,
		chain.FlavorTraefik: tlsLayout,
		chain.FlavorClassic: {Cert: "client.crt", Key: "client.key", Trust: "trusted.crt"},
		chain.FlavorAuto:    tlsLayout,
		"":                  tlsLayout,
	} {
		if got := SecretKeysFor(f); got != want {
			t.Errorf("%q: keys %+v, want %+v", f, got, want)
		}
	}
}
