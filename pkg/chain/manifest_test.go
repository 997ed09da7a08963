package chain

import (
	"strings"
	"testing"
)

// TestNameCollisions: two outputs that would be one object, or an output
// that would be an IKS input, are refused before anything is read, naming
// both flags. Each case here was seen to never converge or to lose a key.
func TestNameCollisions(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(f *Flags)
		wants []string
	}{
		{"client secret is the ALB secret (its copy)", func(f *Flags) { f.ClientSecret = f.ALBSecret },
			[]string{"--client-secret", "--alb-secret", "the same Secret istio-system/mycluster-a1b2c3-0000"}},
		{"CA secret is the gateway's -cacert", func(f *Flags) { f.CASecret = f.GatewaySecret + "-cacert" },
			[]string{"--ca-secret", "--gateway-secret", "the private client CA", "the gateway's client CA"}},
		{"CA secret is the ALB secret (its copy)", func(f *Flags) { f.CASecret = f.ALBSecret },
			[]string{"--ca-secret", "--alb-secret"}},
		{"CA secret is the client secret", func(f *Flags) { f.CASecret = f.ClientSecret },
			[]string{"--ca-secret", "--client-secret"}},
		{"client secret is the gateway secret", func(f *Flags) { f.ClientSecret = f.GatewaySecret },
			[]string{"--client-secret", "IKS-owned", "--gateway-secret"}},
		{"ALB secret in the Istio namespace, client secret on it", func(f *Flags) {
			f.ALBSecretNamespace = f.IstioNamespace
			f.ClientSecret = f.ALBSecret
		}, []string{"--client-secret", "IKS-owned", "the ALB's IKS TLS secret"}},
		{"ALB secret named like the gateway secret", func(f *Flags) { f.ALBSecret = f.GatewaySecret },
			[]string{"--alb-secret", "IKS-owned", "the gateway's IKS TLS secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectResolve(t, c.edit, NeedAll, c.wants) })
	}
}

// TestManifestDistinctByDefault: the defaults name every object once, and
// two chains of one hop share exactly the hop's objects.
func TestManifestDistinctByDefault(t *testing.T) {
	a, err := validFlags().Resolve("httptools", noEnv, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	f := validFlags()
	f.Service = "other"
	b, err := f.Resolve("otherns", noEnv, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]Level{}
	for _, e := range a.Manifest() {
		if _, dup := seen[e.Ref()]; dup {
			t.Errorf("%s listed twice", e.Ref())
		}
		seen[e.Ref()] = e.Level
	}
	for _, e := range b.Manifest() {
		lvl, shared := seen[e.Ref()]
		switch {
		case e.Level == LevelHop && !shared:
			t.Errorf("hop object %s differs between two chains of one hop", e.Ref())
		case e.Level == LevelChain && shared:
			t.Errorf("chain object %s (level %s in the first chain) is shared by a second chain", e.Ref(), lvl)
		}
	}
	if a.ChainKey() == b.ChainKey() {
		t.Errorf("two chains share the key %q", a.ChainKey())
	}
}

func TestGatewayHosts(t *testing.T) {
	got := GatewayHosts("gw.example", map[string]string{"b/y": "y.example", "a/x": "x.example", "c/z": "x.example", "d/w": "gw.example"})
	want := []string{"gw.example", "x.example", "y.example"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("GatewayHosts = %v, want %v (gateway domain first, then each host once, sorted)", got, want)
	}
}
