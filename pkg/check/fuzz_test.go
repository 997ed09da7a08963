package check

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// FuzzIngressAnnotations feeds arbitrary annotation values, as a user may
// paste them, to every rule: check must never panic, and every finding it
// makes must name its object and say what is wrong.
func FuzzIngressAnnotations(f *testing.F) {
	f.Add("on", "2", "istio-system/alb-certs", "gw.example.com", "on", "HTTPS", "ssl-service=istio-ingressgateway ssl-secret=alb-certs")
	f.Add("true", "1", "alb-certs", "", "off", "https", "")
	f.Add("on proxy-ssl-verify-depth=3", "-1", "/", "*.", "ON", "GRPCS", "ssl-service= ssl-secret")
	f.Add("", "99999999999999999999", "a/b/c", "gw.example.com:443", "\x00", "", "proxy-ssl-verify-depth=x")
	f.Fuzz(func(t *testing.T, verify, depth, secret, name, serverName, proto, sslServices string) {
		for _, flavor := range []chain.Flavor{chain.FlavorNginx, chain.FlavorClassic, chain.FlavorTraefik} {
			fl := chain.NewFlags()
			fl.ALBDomain, fl.ALBSecret, fl.GatewayDomain, fl.GatewaySecret = "a-0000.example.com", "a-0000", "a-0001.example.com", "a-0001"
			fl.Flavor = string(flavor)
			p, err := fl.Resolve("app", func(string) string { return "" }, chain.NeedAll)
			if err != nil {
				t.Fatal(err)
			}
			ing := &networkingv1.Ingress{
				ObjectMeta: metav1.ObjectMeta{Name: p.IngressName, Namespace: p.IstioNamespace, Annotations: map[string]string{
					render.NginxProxySSLVerify:      verify,
					render.NginxProxySSLVerifyDepth: depth,
					render.NginxProxySSLSecret:      secret,
					render.NginxProxySSLName:        name,
					render.NginxProxySSLServerName:  serverName,
					render.NginxBackendProtocol:     proto,
					render.ClassicSSLServices:       sslServices,
					render.TraefikRouterTLS:         verify,
				}},
			}
			in := &Input{Params: p, Snapshot: &Snapshot{Ingress: ing, IstioServed: []string{"v1"}, IstioVersion: "v1"}, Now: time.Now()}
			for _, fnd := range Run(in) {
				if fnd.Code == "" || fnd.Object == "" || fnd.Message == "" {
					t.Fatalf("incomplete finding %+v", fnd)
				}
			}
		}
	})
}
