package kube

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

func class(name, controller string) networkingv1.IngressClass {
	return networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: controller}}
}

func TestFlavorFromClasses(t *testing.T) {
	cases := []struct {
		name    string
		classes []networkingv1.IngressClass
		flavor  chain.Flavor
		class   string
		err     string
	}{
		{"IKS nginx, public and private", []networkingv1.IngressClass{class("private-iks-k8s-nginx", NginxController), class("public-iks-k8s-nginx", NginxController)}, chain.FlavorNginx, "public-iks-k8s-nginx", ""},
		{"IKS traefik", []networkingv1.IngressClass{class("public-iks-traefik", TraefikController)}, chain.FlavorTraefik, "public-iks-traefik", ""},
		{"private only", []networkingv1.IngressClass{class("private-iks-k8s-nginx", NginxController)}, chain.FlavorNginx, "private-iks-k8s-nginx", ""},
		{"mid-migration: both", []networkingv1.IngressClass{class("public-iks-k8s-nginx", NginxController), class("public-iks-traefik", TraefikController)}, "", "", "more than one flavor"},
		{"none", nil, "", "", "--alb-flavor"},
		{"someone else's controller", []networkingv1.IngressClass{class("haproxy", "haproxy.org/ingress")}, "", "", "haproxy (haproxy.org/ingress)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, c, err := FlavorFromClasses(tc.classes)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error with %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil || f != tc.flavor || c != tc.class {
				t.Fatalf("got %s %s %v, want %s %s", f, c, err, tc.flavor, tc.class)
			}
		})
	}
}

// TestBothALBs: only a cluster showing both of IKS's ALBs is a pair, and
// each side takes its public class.
func TestBothALBs(t *testing.T) {
	both := BothALBs([]networkingv1.IngressClass{
		class("private-iks-k8s-nginx", NginxController), class("public-iks-k8s-nginx", NginxController),
		class("private-iks-traefik", TraefikController), class("public-iks-traefik", TraefikController),
	})
	if both[chain.FlavorNginx] != "public-iks-k8s-nginx" || both[chain.FlavorTraefik] != "public-iks-traefik" {
		t.Errorf("both ALBs: %v", both)
	}
	for _, one := range [][]networkingv1.IngressClass{
		{class("public-iks-k8s-nginx", NginxController)},
		{class("public-iks-traefik", TraefikController)},
		{class("public-iks-k8s-nginx", NginxController), class("haproxy", "haproxy.org/ingress")},
		nil,
	} {
		if got := BothALBs(one); got != nil {
			t.Errorf("%v is not a pair, got %v", one, got)
		}
	}
}
