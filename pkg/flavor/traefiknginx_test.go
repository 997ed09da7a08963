package flavor

import (
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// TestTraefikSkipsVerify pins Traefik's ingress-nginx provider's reading of
// proxy-ssl-verify at each version boundary: v3.6.2/v3.6.3 (== "on" →
// == "off") and v3.6.10/v3.6.11 (== "off" → != "on", lower-cased).
func TestTraefikSkipsVerify(t *testing.T) {
	type val struct {
		value string
		set   bool
	}
	on, off, unset, upper, empty := val{"on", true}, val{"off", true}, val{"", false}, val{"ON", true}, val{"", true}
	for _, tc := range []struct {
		version TraefikVersion
		skips   []val
		verify  []val
	}{
		{TraefikVersion{3, 5, 0}, []val{on}, []val{off, unset, upper, empty}},
		{TraefikVersion{3, 6, 2}, []val{on}, []val{off, unset, upper, empty}},
		{TraefikVersion{3, 6, 3}, []val{off, unset}, []val{on, upper, empty}},
		{TraefikVersion{3, 6, 10}, []val{off, unset}, []val{on, upper, empty}},
		{TraefikVersion{3, 6, 11}, []val{off, unset, empty}, []val{on, upper}},
		{TraefikVersion{3, 7, 0}, []val{off, unset, empty}, []val{on, upper}},
	} {
		for _, v := range tc.skips {
			if !(TraefikNginx{tc.version}).SkipsVerify(v.value, v.set) {
				t.Errorf("%s, proxy-ssl-verify %q (set %v): verifies, want skip", tc.version, v.value, v.set)
			}
		}
		for _, v := range tc.verify {
			if (TraefikNginx{tc.version}).SkipsVerify(v.value, v.set) {
				t.Errorf("%s, proxy-ssl-verify %q (set %v): skips, want verify", tc.version, v.value, v.set)
			}
		}
	}
	for v, refuses := range map[TraefikVersion]bool{{3, 6, 12}: false, {3, 7, 0}: true, {3, 7, 11}: true, {3, 5, 0}: false} {
		if got := (TraefikNginx{v}).RefusesCrossNamespace(); got != refuses {
			t.Errorf("%s refuses a cross-namespace secret: %v, want %v", v, got, refuses)
		}
	}
}

func TestParseTraefikVersion(t *testing.T) {
	for image, want := range map[string]string{
		"icr.io/ext/ingress/traefik:3.7.2_2231_iks": "v3.7.2",
		"traefik:v3.6.12":                    "v3.6.12",
		"registry:5000/traefik:3.6.10_1_iks": "v3.6.10",
		"traefik":                            "",
		"registry:5000/traefik":              "",
		"traefik:latest":                     "",
		"traefik:3.7":                        "",
	} {
		got := ""
		if v := ParseTraefikVersion(image); v != nil {
			got = v.String()
		}
		if got != want {
			t.Errorf("%s: %q, want %q", image, got, want)
		}
	}
}

// TestTraefikNginxUpstreamTLS: Traefik's ingress-nginx provider reads the
// plugin's nginx Ingress as verifying from v3.6.3 on, sends the name as
// SNI whatever proxy-ssl-server-name says, ignores the depth, and falls
// back to proxy-ssl-server-name's value for an unset proxy-ssl-name.
func TestTraefikNginxUpstreamTLS(t *testing.T) {
	p := testParams(t, chain.FlavorNginx)
	rendered := nginx{}.ALBSide(p, Backend{VerifyDepth: 2}).Annotations
	for v, verifies := range map[TraefikVersion]bool{{3, 6, 2}: false, {3, 6, 3}: true, {3, 6, 11}: true, {3, 7, 0}: true} {
		u := TraefikNginx{v}.UpstreamTLS(p, nginxIngress(rendered))
		if u.Verify.On != verifies || !u.SNI.On || !u.Depth.Unlimited || u.Depth.Known || u.ServerName.Value != p.GatewaySNI() || u.ServerName.Fallback {
			t.Errorf("%s: %+v (verifies %v)", v, u, verifies)
		}
	}
	u := TraefikNginx{TraefikVersion{3, 7, 0}}.UpstreamTLS(p, nginxIngress(map[string]string{NginxProxySSLServerName: "on", NginxProxySSLVerify: "off"}))
	if !u.ServerName.Fallback || u.ServerName.Value != "on" || !u.ServerName.Known || u.Verify.On {
		t.Errorf("unset proxy-ssl-name: %+v, want the fallback name \"on\", verification off", u)
	}
	off := TraefikNginx{TraefikVersion{3, 6, 0}}.UpstreamTLS(p, nginxIngress(map[string]string{NginxProxySSLVerify: "on", NginxProxySSLServerName: "off", NginxProxySSLName: "gw.example.com"}))
	if off.Verify.On || off.Verify.Said != `off (Traefik v3.6.0 reads proxy-ssl-verify "on" as skip verification)` || !off.SNI.On || off.ServerName.Fallback {
		t.Errorf("v3.6.0: %+v", off)
	}
}
