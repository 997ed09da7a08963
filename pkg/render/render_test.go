package render

import (
	"bytes"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// testParams are the walkthrough's values with IKS-shaped domains.
func testParams(t *testing.T, flavor chain.Flavor, identity chain.IdentityMode) *chain.Params {
	t.Helper()
	f := chain.NewFlags()
	f.ALBDomain = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	f.ALBSecret = "mycluster-a1b2c3-0000"
	f.GatewayDomain = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	f.GatewaySecret = "mycluster-a1b2c3-0001"
	f.Flavor = string(flavor)
	f.Identity = string(identity)
	p, err := f.Resolve("httptools", func(string) string { return "" }, chain.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testMaterial stands in for certificates with readable placeholders: the
// renderer only lays bytes out, and golden files must not change per run.
func testMaterial(p *chain.Params, mode chain.IdentityMode) *Material {
	m := &Material{
		Identity: &ClientIdentity{
			Mode: mode, CertChainPEM: []byte("CLIENT CERT CHAIN"), KeyPEM: []byte("CLIENT KEY"),
			ClientCAPEM: []byte("CLIENT CA"), GatewayTrustPEM: []byte("ISRG ROOTS"),
			Source: p.ALBSecretNamespace + "/" + p.ALBSecret, SourceHash: "0123abcd",
		},
		ALBTLS: &KeyPairPEM{CertPEM: []byte("ALB CERT CHAIN"), KeyPEM: []byte("ALB KEY")}, ALBTLSHash: "0123abcd",
	}
	if mode == chain.IdentityPrivateCA {
		m.CA = &KeyPairPEM{CertPEM: []byte("PRIVATE CA CERT"), KeyPEM: []byte("PRIVATE CA KEY")}
		m.Identity.Source = p.IstioNamespace + "/" + p.CASecret
	}
	return m
}

func TestChainGolden(t *testing.T) {
	for _, flavor := range []chain.Flavor{chain.FlavorNginx, chain.FlavorTraefik, chain.FlavorClassic} {
		for _, mode := range []chain.IdentityMode{chain.IdentityALBCert, chain.IdentityPrivateCA} {
			t.Run(string(flavor)+"-"+string(mode), func(t *testing.T) {
				p := testParams(t, flavor, mode)
				objs, err := Chain(p, testMaterial(p, mode), DefaultBackend(p), "v1", SingleChain(p))
				if err != nil {
					t.Fatal(err)
				}
				golden.Compare(t, filepath.Join("testdata", string(flavor)+"-"+string(mode)+".yaml"), stream(t, objs))
			})
		}
	}
}

// TestCertManagerGolden: in cert-manager mode the chain holds no key and
// no certificate (the ALB TLS copy aside): cert-manager's objects, the
// Gateway on the hop's own SNI name and credential, and the ALB verifying
// that name at depth 1.
func TestCertManagerGolden(t *testing.T) {
	for _, flavor := range []chain.Flavor{chain.FlavorNginx, chain.FlavorTraefik} {
		t.Run(string(flavor), func(t *testing.T) {
			p := testParams(t, flavor, chain.IdentityCertManager)
			m := &Material{CertManager: true, ALBTLS: &KeyPairPEM{CertPEM: []byte("ALB CERT CHAIN"), KeyPEM: []byte("ALB KEY")}, ALBTLSHash: "0123abcd"}
			objs, err := Chain(p, m, DefaultBackend(p), "v1", SingleChain(p))
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", string(flavor)+"-cert-manager.yaml"), stream(t, objs))
		})
	}
}

func TestGatewayV1beta1Golden(t *testing.T) {
	p := testParams(t, chain.FlavorNginx, chain.IdentityAuto)
	golden.Compare(t, filepath.Join("testdata", "gateway-v1beta1.yaml"), stream(t, GatewayObjects(p, "v1beta1", SingleChain(p))))
}

func TestIngressNeedsResolvedFlavor(t *testing.T) {
	p := testParams(t, chain.FlavorAuto, chain.IdentityAuto)
	if _, err := Ingress(p, DefaultBackend(p)); err == nil {
		t.Fatal("rendering with flavor auto must fail: the flavor decides the annotations")
	}
}

// TestOwnershipLabels: cleanup finds a chain's own objects by its labels,
// and must never find the hop's shared objects that way: every rendered
// object is in the manifest, at its level, with exactly that level's labels.
func TestOwnershipLabels(t *testing.T) {
	for _, tc := range []struct {
		flavor chain.Flavor
		mode   chain.IdentityMode
	}{
		{chain.FlavorNginx, chain.IdentityPrivateCA}, {chain.FlavorTraefik, chain.IdentityPrivateCA}, {chain.FlavorClassic, chain.IdentityPrivateCA},
		{chain.FlavorNginx, chain.IdentityCertManager}, {chain.FlavorTraefik, chain.IdentityCertManager},
	} {
		p := testParams(t, tc.flavor, tc.mode)
		m := testMaterial(p, tc.mode)
		m.CertManager = tc.mode == chain.IdentityCertManager
		objs, err := Chain(p, m, DefaultBackend(p), "v1", SingleChain(p))
		if err != nil {
			t.Fatal(err)
		}
		levels := map[string]chain.Level{}
		for _, e := range p.Manifest() {
			levels[e.Ref()] = e.Level
		}
		for _, o := range objs {
			ref := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
			l := o.GetLabels()
			if l[chain.LabelManagedBy] != chain.FieldManager {
				t.Errorf("%s: labels %v lack %s", ref, l, chain.LabelManagedBy)
			}
			switch levels[ref] {
			case chain.LevelChain:
				if l[chain.LabelChain] != "httpbin" || l[chain.LabelChainNamespace] != "httptools" {
					t.Errorf("%s: a chain's object, labels %v lack the chain's", ref, l)
				}
			case chain.LevelHop:
				if _, ok := l[chain.LabelChain]; ok {
					t.Errorf("%s: a hop object must not carry %s (a chain's cleanup would select it): %v", ref, chain.LabelChain, l)
				}
			default:
				t.Errorf("%s is rendered but not in the manifest", ref)
			}
			if o.GetNamespace() == "" {
				t.Errorf("%s %s has no namespace", o.GetKind(), o.GetName())
			}
		}
	}
}

func stream(t *testing.T, objs Objects) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes()
}
