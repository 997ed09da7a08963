package chain

import (
	"strings"
	"testing"
)

// TestBothALBsFlavor: --alb-flavor takes the pair of IKS's ALBs in either
// order; each ALB then gets an Ingress of its own, named apart, on its own
// class, and Traefik's hop objects join the manifest. Anything else in a
// list, and one --ingress-class for two ALBs, is refused.
func TestBothALBsFlavor(t *testing.T) {
	resolve := func(flavor, class string) (*Params, error) {
		f := NewFlags()
		f.ALBDomain, f.ALBSecret, f.GatewayDomain, f.GatewaySecret = "alb.example.com", "alb", "gw.example.com", "gw"
		f.Flavor, f.IngressClass = flavor, class
		return f.Resolve("httptools", func(string) string { return "" }, NeedAll)
	}
	for _, v := range []string{"nginx,traefik", "traefik,nginx", " traefik , nginx"} {
		p, err := resolve(v, "")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := p.ALBFlavors(); len(got) != 2 || got[0] != FlavorNginx || got[1] != FlavorTraefik || p.Flavor != FlavorNginx {
			t.Fatalf("%q: flavors %v (flavor %s)", v, got, p.Flavor)
		}
		n, tr := p.ForFlavor(FlavorNginx), p.ForFlavor(FlavorTraefik)
		if n.IngressName == tr.IngressName || !strings.HasSuffix(n.IngressName, "-nginx") || !strings.HasSuffix(tr.IngressName, "-traefik") {
			t.Errorf("%q: Ingress names %q and %q", v, n.IngressName, tr.IngressName)
		}
		// No class given: each ALB's Ingress takes its flavor's default
		// class (pkg/flavor's TestDetection holds those names).
		if n.Flavor != FlavorNginx || tr.Flavor != FlavorTraefik || n.IngressClass != "" || tr.IngressClass != "" || tr.BackendService() != p.TraefikService() {
			t.Errorf("%q: flavors %s, %s, classes %q, %q; Traefik's backend %q", v, n.Flavor, tr.Flavor, n.IngressClass, tr.IngressClass, tr.BackendService())
		}
		kinds := map[string]int{}
		for _, e := range p.Manifest() {
			kinds[e.Kind]++
		}
		if kinds["Ingress"] != 2 || kinds["ServersTransport"] != 1 {
			t.Errorf("%q: manifest has %d Ingresses and %d ServersTransports, want 2 and 1", v, kinds["Ingress"], kinds["ServersTransport"])
		}
	}
	for _, tc := range []struct{ flavor, class, want string }{
		{"nginx,classic", "", "the pair is nginx,traefik"},
		{"nginx,nginx", "", "the pair is nginx,traefik"},
		{"nginx,traefik", "public-iks-k8s-nginx", "--ingress-class"},
	} {
		if _, err := resolve(tc.flavor, tc.class); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--alb-flavor %q --ingress-class %q: err %v, want one containing %q", tc.flavor, tc.class, err, tc.want)
		}
	}
	// One flavor: the chain as it is.
	p, err := resolve("nginx", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ForFlavor(FlavorNginx); got.IngressName != p.IngressName || len(p.ALBFlavors()) != 1 {
		t.Errorf("one ALB: ForFlavor renamed the Ingress to %q", got.IngressName)
	}
}
