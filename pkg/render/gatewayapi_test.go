package render

import (
	"path/filepath"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

func gatewayAPIParams(t *testing.T, flavor chain.Flavor, identity chain.IdentityMode, mutate func(*chain.Flags)) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.ALBDomain = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	f.ALBSecret = "mycluster-a1b2c3-0000"
	f.GatewayDomain = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	f.GatewaySecret = "mycluster-a1b2c3-0001"
	f.Flavor = string(flavor)
	f.Identity = string(identity)
	f.GatewayAPI = true
	if mutate != nil {
		mutate(f)
	}
	p, err := f.Resolve("httptools", func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGatewayAPIGolden: in Gateway API mode the gateway side is a
// gateway.networking.k8s.io Gateway with one listener and the client CA in
// a ConfigMap, an HTTPRoute per chain, no Istio Gateway, VirtualService or
// -cacert; the ALB's Ingress goes to the Service Istio deploys.
func TestGatewayAPIGolden(t *testing.T) {
	for _, flavor := range []chain.Flavor{chain.FlavorNginx, chain.FlavorTraefik} {
		for _, mode := range []chain.IdentityMode{chain.IdentityPrivateCA, chain.IdentityCertManager} {
			t.Run(string(flavor)+"-"+string(mode), func(t *testing.T) {
				p := gatewayAPIParams(t, flavor, mode, nil)
				m := testMaterial(p, mode)
				if mode == chain.IdentityCertManager {
					m = &Material{CertManager: true, ALBTLS: m.ALBTLS, ALBTLSHash: m.ALBTLSHash,
						HopCA: &HopCA{CertPEM: []byte("HOP CA CERT"), Source: p.IstioNamespace + "/" + p.CASecret, SourceHash: "4567cdef"}}
				}
				objs, err := Chain(p, m, DefaultBackend(p), "v1", SingleChain(p))
				if err != nil {
					t.Fatal(err)
				}
				golden.Compare(t, filepath.Join("testdata", "gatewayapi-"+string(flavor)+"-"+string(mode)+".yaml"), stream(t, objs))
			})
		}
	}
}

// TestGatewayAPINamedService: a Service the user names is put in
// spec.addresses (so Istio deploys none) and is what the Ingress targets.
func TestGatewayAPINamedService(t *testing.T) {
	p := gatewayAPIParams(t, chain.FlavorNginx, chain.IdentityPrivateCA, func(f *chain.Flags) {
		f.GatewayService, f.GatewayServiceNamed = "istio-ingressgateway", true
	})
	objs, err := Chain(p, testMaterial(p, chain.IdentityPrivateCA), DefaultBackend(p), "v1",
		map[string]string{p.ChainKey(): p.Host, "shop/storefront": "storefront.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "gatewayapi-named-service.yaml"), stream(t, objs))
}

// TestGatewayAPIOwnershipLabels: the Gateway API objects are in the
// manifest at their level, with exactly that level's labels.
func TestGatewayAPIOwnershipLabels(t *testing.T) {
	for _, mode := range []chain.IdentityMode{chain.IdentityPrivateCA, chain.IdentityCertManager} {
		p := gatewayAPIParams(t, chain.FlavorTraefik, mode, nil)
		m := testMaterial(p, mode)
		if mode == chain.IdentityCertManager {
			m = &Material{CertManager: true, HopCA: &HopCA{CertPEM: []byte("HOP CA")}}
		}
		objs, err := Chain(p, m, DefaultBackend(p), "v1", SingleChain(p))
		if err != nil {
			t.Fatal(err)
		}
		levels := map[string]chain.Level{}
		for _, e := range p.Manifest() {
			levels[e.Ref()] = e.Level
		}
		kinds := map[string]bool{}
		for _, o := range objs {
			ref := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
			kinds[o.GetKind()] = true
			l := o.GetLabels()
			switch levels[ref] {
			case chain.LevelChain:
				if l[chain.LabelChain] != "httpbin" || l[chain.LabelChainNamespace] != "httptools" {
					t.Errorf("%s: a chain's object, labels %v lack the chain's", ref, l)
				}
			case chain.LevelHop:
				if _, ok := l[chain.LabelChain]; ok || l[chain.LabelManagedBy] != chain.FieldManager {
					t.Errorf("%s: hop labels wrong: %v", ref, l)
				}
			default:
				t.Errorf("%s is rendered but not in the manifest", ref)
			}
		}
		for _, k := range []string{"VirtualService"} {
			if kinds[k] {
				t.Errorf("%s: Gateway API mode renders a %s", mode, k)
			}
		}
		for _, k := range []string{"Gateway", "HTTPRoute", "ConfigMap"} {
			if !kinds[k] {
				t.Errorf("%s: Gateway API mode renders no %s", mode, k)
			}
		}
		for _, o := range objs {
			if o.GetName() == p.ClientCASecret() {
				t.Errorf("%s: Gateway API mode renders the classic %s", mode, p.ClientCASecret())
			}
		}
	}
}
