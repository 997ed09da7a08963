package cmd

import (
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// TestCleanupOrderDeletesCertificatesBeforeTheirSecrets: a Secret deleted
// while its Certificate exists is issued again at once, so in every mode
// whose manifest has Certificates (cert-manager, and auto, which may be
// either) each Secret named like a Certificate comes after it, marked as
// possibly cert-manager's; and the chain's own objects still go first.
func TestCleanupOrderDeletesCertificatesBeforeTheirSecrets(t *testing.T) {
	for _, mode := range []chain.IdentityMode{chain.IdentityAuto, chain.IdentityCertManager, chain.IdentityPrivateCA} {
		f := chain.NewFlags()
		f.ALBDomain, f.ALBSecret, f.GatewayDomain, f.GatewaySecret = "alb.example.com", "alb", "gw.example.com", "gw"
		f.Identity = string(mode)
		p, err := f.Resolve("httptools", func(string) string { return "" }, chain.NeedAll)
		if err != nil {
			t.Fatal(err)
		}
		order := cleanupOrder(p.Manifest())
		pos := map[string]int{}
		for i, e := range order {
			pos[e.Kind+"/"+e.Name] = i
		}
		if order[0].Role != chain.RoleIngress {
			t.Errorf("%s: the chain's Ingress should go first, got %s", mode, order[0].Ref())
		}
		for _, e := range order {
			if e.Kind != "Certificate" {
				continue
			}
			s, ok := pos["Secret/"+e.Name]
			if !ok {
				t.Errorf("%s: no Secret entry for certificate %s", mode, e.Name)
				continue
			}
			if s < pos["Certificate/"+e.Name] || order[s].IssuedBy != e.Name {
				t.Errorf("%s: secret %s at %d (issued by %q) must follow its Certificate at %d", mode, e.Name, s, order[s].IssuedBy, pos["Certificate/"+e.Name])
			}
		}
		if mode == chain.IdentityPrivateCA {
			for _, e := range order {
				if e.IssuedBy != "" {
					t.Errorf("private-ca: %s marked as cert-manager's", e.Ref())
				}
			}
		}
	}
}
