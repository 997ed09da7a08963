package flavor

import (
	"encoding/json"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// stored is what the ALB would read after the plugin wrote the flavor's
// ALB side: the Ingress with its annotations and Traefik's transport.
func stored(t *testing.T, p *chain.Params, side ALBSide) Stored {
	t.Helper()
	st := Stored{Ingress: &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{
		Namespace: p.IstioNamespace, Name: p.IngressName, Annotations: side.Annotations,
	}}}
	for _, o := range side.Before {
		if o.GetKind() != "ServersTransport" {
			continue
		}
		raw, err := json.Marshal(o.Object["spec"])
		if err != nil {
			t.Fatal(err)
		}
		tr := &ServersTransport{Namespace: o.GetNamespace(), Name: o.GetName()}
		if err := json.Unmarshal(raw, &tr.Spec); err != nil {
			t.Fatal(err)
		}
		st.Transport = tr
	}
	return st
}

// TestReadsBackWhatItRenders: every flavor's controller, reading the
// objects the flavor renders, sends and verifies the gateway's name with
// SNI on, verifies to the depth the chain needs (or without a limit), and
// presents and trusts the client secret.
func TestReadsBackWhatItRenders(t *testing.T) {
	b := Backend{VerifyDepth: 3, TargetPort: intstr.FromInt32(8443)}
	for _, fl := range All() {
		p := testParams(t, fl.Name())
		u := fl.UpstreamTLS(p, stored(t, p, fl.ALBSide(p, b)))
		if !u.ServerName.Known || u.ServerName.Value != p.GatewaySNI() {
			t.Errorf("%s: server name %+v, want %s", fl.Name(), u.ServerName, p.GatewaySNI())
		}
		if !u.SNI.Known || !u.SNI.On || !u.Verify.Known || !u.Verify.On {
			t.Errorf("%s: SNI %+v, verify %+v: both must be on", fl.Name(), u.SNI, u.Verify)
		}
		if !(u.Depth.Known && u.Depth.Value == 3) && !(u.Depth.Unlimited && fl.Name() == chain.FlavorTraefik) {
			t.Errorf("%s: depth %+v, want 3 (Traefik: no limit)", fl.Name(), u.Depth)
		}
		want := ObjectRef{"Secret", p.IstioNamespace, p.ClientSecret}
		if !slices.Contains(u.ClientCerts, want) || !slices.Contains(u.TrustedCAs, want) {
			t.Errorf("%s: client certs %v, trusted CAs %v, want %v in both", fl.Name(), u.ClientCerts, u.TrustedCAs, want)
		}
	}
}

func nginxIngress(a map[string]string) Stored {
	return Stored{Ingress: &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ing", Annotations: a}}}
}

// TestNginxUpstreamTLS: ingress-nginx's reading of its annotations, the
// spellings it silently reads as off included.
func TestNginxUpstreamTLS(t *testing.T) {
	p := testParams(t, chain.FlavorNginx)
	fl := For(chain.FlavorNginx)
	for _, tc := range []struct {
		name   string
		st     Stored
		check  func(u UpstreamTLS) bool
		expect string
	}{
		{"no Ingress", Stored{}, func(u UpstreamTLS) bool {
			return !u.Verify.Known && u.Verify.Said == "unknown (no Ingress)" && !u.ServerName.Known && !u.SNI.Known && !u.Depth.Known
		}, "nothing known"},
		{"true is not on", nginxIngress(map[string]string{NginxProxySSLVerify: "true", NginxProxySSLServerName: "true", NginxProxySSLName: "gw.example.com"}), func(u UpstreamTLS) bool {
			return u.Verify.Known && !u.Verify.On && u.Verify.Said == `off (proxy-ssl-verify "true")` &&
				u.SNI.Known && !u.SNI.On && u.SNI.Said == `off: nginx sends "upstream_balancer"` && u.ServerName.Value == "gw.example.com"
		}, "verify and SNI off"},
		{"verify unset", nginxIngress(map[string]string{}), func(u UpstreamTLS) bool {
			return !u.Verify.On && u.Verify.Said == `off (proxy-ssl-verify "not set")` && !u.Depth.Known && u.ServerName.Known && u.ServerName.Value == ""
		}, "verify off, depth moot, name unset"},
		{"pasted name", nginxIngress(map[string]string{NginxProxySSLName: "proxy-ssl-name=gw.example.com"}), func(u UpstreamTLS) bool {
			return !u.ServerName.Known
		}, "name not judged"},
		{"depth unset", nginxIngress(map[string]string{NginxProxySSLVerify: "on"}), func(u UpstreamTLS) bool {
			return u.Depth.Known && u.Depth.Value == 1 && u.Depth.Said == "the annotation is not set, so ingress-nginx verifies to depth 1"
		}, "depth 1"},
		{"depth not a number", nginxIngress(map[string]string{NginxProxySSLVerify: "on", NginxProxySSLVerifyDepth: "two"}), func(u UpstreamTLS) bool {
			return u.Depth.Known && u.Depth.Value == 1 && u.Depth.Field == AnnotationField(NginxProxySSLVerifyDepth)
		}, "depth 1"},
		{"depth pasted", nginxIngress(map[string]string{NginxProxySSLVerify: "on", NginxProxySSLVerifyDepth: "depth=2"}), func(u UpstreamTLS) bool {
			return !u.Depth.Known
		}, "depth not judged"},
		{"secret without namespace", nginxIngress(map[string]string{NginxProxySSLSecret: "alb-certs"}), func(u UpstreamTLS) bool {
			return len(u.ClientCerts) == 0 && len(u.TrustedCAs) == 0
		}, "no client certificate"},
		{"secret elsewhere", nginxIngress(map[string]string{NginxProxySSLSecret: "default/alb-certs"}), func(u UpstreamTLS) bool {
			return slices.Equal(u.ClientCerts, []ObjectRef{{"Secret", "default", "alb-certs"}})
		}, "the named secret"},
	} {
		if u := fl.UpstreamTLS(p, tc.st); !tc.check(u) {
			t.Errorf("%s: got %+v, want %s", tc.name, u, tc.expect)
		}
	}
}

// TestTraefikUpstreamTLS: Traefik's reading of its ServersTransport.
func TestTraefikUpstreamTLS(t *testing.T) {
	p := testParams(t, chain.FlavorTraefik)
	fl := For(chain.FlavorTraefik)
	if u := fl.UpstreamTLS(p, Stored{}); u.Verify.Known || u.Verify.Said != "unknown (no ServersTransport)" || u.ServerName.Known {
		t.Errorf("no transport: %+v", u)
	}
	st := &ServersTransport{Namespace: "istio-system", Name: "t", Spec: ServersTransportSpec{
		ServerName: " gw.example.com ", InsecureSkipVerify: true,
		RootCAs: []RootCA{{ConfigMap: "roots"}}, RootCAsSecrets: []string{"old"}, CertificatesSecrets: []string{"a", "b"},
	}}
	u := fl.UpstreamTLS(p, Stored{Transport: st})
	if u.ServerName.Value != "gw.example.com" || u.ServerName.Field != "spec.serverName" || u.ServerName.Object != (ObjectRef{"ServersTransport", "istio-system", "t"}) {
		t.Errorf("server name %+v", u.ServerName)
	}
	if !u.Verify.Known || u.Verify.On || u.Verify.Said != "off (insecureSkipVerify)" || !u.Depth.Unlimited || u.Depth.Known {
		t.Errorf("verify %+v, depth %+v: insecureSkipVerify is off, and Traefik has no depth", u.Verify, u.Depth)
	}
	if !slices.Equal(u.ClientCerts, []ObjectRef{{"Secret", "istio-system", "a"}, {"Secret", "istio-system", "b"}}) ||
		!slices.Equal(u.TrustedCAs, []ObjectRef{{"Secret", "istio-system", "old"}, {"ConfigMap", "istio-system", "roots"}}) {
		t.Errorf("client certs %v, trusted CAs %v", u.ClientCerts, u.TrustedCAs)
	}
}

// TestClassicUpstreamTLS: the legacy image reads the gateway Service's
// ssl-services entry only.
func TestClassicUpstreamTLS(t *testing.T) {
	p := testParams(t, chain.FlavorClassic)
	fl := For(chain.FlavorClassic)
	other := nginxIngress(map[string]string{ClassicSSLServices: "ssl-service=other ssl-secret=alb-certs proxy-ssl-name=gw.example.com"})
	if u := fl.UpstreamTLS(p, other); u.Verify.Known || u.ServerName.Known || u.Depth.Known ||
		u.Verify.Said != "unknown (no ssl-services entry for the gateway Service)" {
		t.Errorf("another Service's entry: %+v", u)
	}
	mine := nginxIngress(map[string]string{ClassicSSLServices: "ssl-service=other ssl-secret=x; ssl-service=" + p.GatewayService + " ssl-secret=alb-certs"})
	u := fl.UpstreamTLS(p, mine)
	if !u.ServerName.Known || u.ServerName.Value != "" || u.ServerName.Setting != "proxy-ssl-name in "+ClassicSSLServices {
		t.Errorf("server name %+v: set nowhere in the gateway's entry", u.ServerName)
	}
	if !u.Depth.Known || u.Depth.Value != 1 || u.Depth.Said != "proxy-ssl-verify-depth is not set to a positive number, so the ALB verifies to depth 1" {
		t.Errorf("depth %+v", u.Depth)
	}
	if !slices.Equal(u.ClientCerts, []ObjectRef{{"Secret", "istio-system", "alb-certs"}}) {
		t.Errorf("client certs %v, want the gateway entry's ssl-secret", u.ClientCerts)
	}
	for depth, want := range map[string]Depth{
		"1":  {Value: 1, Said: "the ALB verifies to depth 1"},
		"0":  {Value: 1, Said: "proxy-ssl-verify-depth is not set to a positive number, so the ALB verifies to depth 1"},
		"-2": {Value: 1, Said: "proxy-ssl-verify-depth is not set to a positive number, so the ALB verifies to depth 1"},
		"4":  {Value: 4, Said: "the ALB verifies to depth 4"},
	} {
		st := nginxIngress(map[string]string{ClassicSSLServices: "ssl-service=" + p.GatewayService + " proxy-ssl-verify-depth=" + depth})
		if d := fl.UpstreamTLS(p, st).Depth; !d.Known || d.Value != want.Value || d.Said != want.Said {
			t.Errorf("proxy-ssl-verify-depth=%s: %+v, want %+v", depth, d, want)
		}
	}
}
