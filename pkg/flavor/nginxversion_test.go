package flavor

import "testing"

func TestProxySSLSecretValidates(t *testing.T) {
	for v, want := range map[string]bool{
		"istio-system/alb-certs":                          true,
		"istio-system / alb-certs":                        true, // spaces are removed before validating
		"proxy-ssl-secret: istio-system/alb-certs":        true, // ':' is allowed (the location is denied later)
		"proxy-ssl-secret=istio-system/alb-certs":         false,
		`"istio-system/alb-certs"`:                        false,
		"istio-system/alb-certs,istio-system/other-certs": false,
	} {
		if got := ProxySSLSecretValidates(v); got != want {
			t.Errorf("ProxySSLSecretValidates(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestIngressNginxVersion(t *testing.T) {
	for image, want := range map[string]string{
		"icr.io/ext/ingress-nginx/controller:1.12.1_6557_iks": "v1.12.1",
		"registry.k8s.io/ingress-nginx/controller:v1.11.5":    "v1.11.5",
		"icr.io/ext/ingress/traefik:3.6.12_2231_iks":          "",
		"icr.io/ext/ingress-nginx/controller":                 "",
	} {
		v := ParseIngressNginxVersion(image)
		got := ""
		if v != nil {
			got = v.String()
		}
		if got != want {
			t.Errorf("ParseIngressNginxVersion(%q) = %q, want %q", image, got, want)
		}
	}
	for v, want := range map[Version]bool{{1, 11, 8}: false, {1, 12, 0}: true, {1, 15, 1}: true, {0, 49, 3}: false} {
		if got := ValidatesAnnotations(v); got != want {
			t.Errorf("ValidatesAnnotations(%s) = %v, want %v", v, got, want)
		}
	}
}
