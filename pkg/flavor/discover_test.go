package flavor

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// fakeLookup serves the objects of a test by "namespace/name" and records
// what was asked.
type fakeLookup struct {
	transports map[string]*ServersTransport
	services   map[string]*corev1.Service
	err        error
	asked      []string
}

func (f *fakeLookup) ServersTransport(ns, name string) (*ServersTransport, error) {
	f.asked = append(f.asked, "ServersTransport "+ns+"/"+name)
	return f.transports[ns+"/"+name], f.err
}

func (f *fakeLookup) Service(ns, name string) (*corev1.Service, error) {
	f.asked = append(f.asked, "Service "+ns+"/"+name)
	return f.services[ns+"/"+name], f.err
}

func ingressIn(ns string, a map[string]string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain", Annotations: a}}
}

func transport(ns, name string, spec ServersTransportSpec) map[string]*ServersTransport {
	return map[string]*ServersTransport{ns + "/" + name: {Namespace: ns, Name: name, Spec: spec}}
}

// TestDiscover holds each flavor's discovery reading, the lenient cases
// included: what is read where the controller could not, and what is not.
func TestDiscover(t *testing.T) {
	const ns, gw = "istio-system", "istio-ingressgateway"
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		flavor  chain.Flavor
		a       map[string]string
		service string
		lookup  *fakeLookup
		want    Discovered
		wantErr error
		asked   []string
	}{
		{name: "nginx: the plugin's annotations", flavor: chain.FlavorNginx, service: gw,
			a:    map[string]string{NginxProxySSLSecret: ns + "/alb-client", NginxProxySSLName: "gw.example.com"},
			want: Discovered{ClientSecret: "alb-client", SecretNamed: true, GatewayService: gw, SNI: "gw.example.com"}},
		{name: "nginx: a secret of another namespace is read by name, with a note", flavor: chain.FlavorNginx, service: gw,
			a: map[string]string{NginxProxySSLSecret: "other/alb-client"},
			want: Discovered{ClientSecret: "alb-client", SecretNamed: true, GatewayService: gw,
				Notes: []string{`proxy-ssl-secret names "other/alb-client", outside the Ingress's namespace; check reads the client secret "alb-client" in istio-system`}}},
		{name: "nginx lenient: a bare name is a secret of the Ingress's namespace", flavor: chain.FlavorNginx, service: gw,
			a:    map[string]string{NginxProxySSLSecret: "alb-client"},
			want: Discovered{ClientSecret: "alb-client", SecretNamed: true, GatewayService: gw}},
		{name: "nginx lenient: everything after the first slash is the name", flavor: chain.FlavorNginx, service: gw,
			a:    map[string]string{NginxProxySSLSecret: ns + "/a/b"},
			want: Discovered{ClientSecret: "a/b", SecretNamed: true, GatewayService: gw}},
		{name: "nginx lenient: an empty name is named, nothing is trimmed", flavor: chain.FlavorNginx, service: gw,
			a:    map[string]string{NginxProxySSLSecret: ns + "/", NginxProxySSLName: " gw.example.com "},
			want: Discovered{ClientSecret: "", SecretNamed: true, GatewayService: gw, SNI: " gw.example.com "}},
		{name: "nginx: no proxy-ssl-secret names no secret", flavor: chain.FlavorNginx, service: gw,
			want: Discovered{GatewayService: gw}},

		{name: "classic: the Service's own entry", flavor: chain.FlavorClassic, service: gw,
			a:    map[string]string{ClassicSSLServices: "ssl-service=other ssl-secret=x proxy-ssl-name=x.example.com; ssl-service=" + gw + " ssl-secret=alb-client proxy-ssl-name=gw.example.com"},
			want: Discovered{ClientSecret: "alb-client", SecretNamed: true, GatewayService: gw, SNI: "gw.example.com"}},
		{name: "classic lenient: no entry for the Service reads the first non-empty one", flavor: chain.FlavorClassic, service: gw,
			a:    map[string]string{ClassicSSLServices: " ; ssl-service=other ssl-secret=x proxy-ssl-name=x.example.com;ssl-service=third ssl-secret=y"},
			want: Discovered{ClientSecret: "x", SecretNamed: true, GatewayService: gw, SNI: "x.example.com"}},
		{name: "classic: an entry without ssl-secret names no secret", flavor: chain.FlavorClassic, service: gw,
			a:    map[string]string{ClassicSSLServices: "ssl-service=" + gw + " proxy-ssl-name=gw.example.com"},
			want: Discovered{GatewayService: gw, SNI: "gw.example.com"}},
		{name: "classic: no annotation", flavor: chain.FlavorClassic, service: gw,
			want: Discovered{GatewayService: gw}},

		{name: "traefik: the plugin's Service and transport", flavor: chain.FlavorTraefik, service: gw + "-albistio",
			lookup: &fakeLookup{transports: transport(ns, gw+"-albistio", ServersTransportSpec{
				ServerName: "gw.example.com", CertificatesSecrets: []string{"alb-client", "second"}, RootCAs: []RootCA{{Secret: "alb-client"}}})},
			want:  Discovered{ClientSecret: "alb-client", SecretNamed: true, GatewayService: gw, SNI: "gw.example.com"},
			asked: []string{"ServersTransport istio-system/istio-ingressgateway-albistio"}},
		{name: "traefik lenient: serverName is kept as stored", flavor: chain.FlavorTraefik, service: gw + "-albistio",
			lookup: &fakeLookup{transports: transport(ns, gw+"-albistio", ServersTransportSpec{ServerName: " gw.example.com"})},
			want:   Discovered{GatewayService: gw, SNI: " gw.example.com"},
			asked:  []string{"ServersTransport istio-system/istio-ingressgateway-albistio"}},
		{name: "traefik: routed to the gateway Service itself, with a note", flavor: chain.FlavorTraefik, service: gw,
			lookup: &fakeLookup{transports: transport(ns, gw+"-albistio", ServersTransportSpec{ServerName: "gw.example.com"})},
			want: Discovered{GatewayService: gw, SNI: "gw.example.com",
				Notes: []string{`the Ingress routes to Service "istio-ingressgateway"; check reads Traefik's transport from the plugin's Service "istio-ingressgateway-albistio"`}},
			asked: []string{"ServersTransport istio-system/istio-ingressgateway-albistio"}},
		{name: "traefik: no transport says nothing", flavor: chain.FlavorTraefik, service: gw + "-albistio",
			lookup: &fakeLookup{},
			want:   Discovered{GatewayService: gw},
			asked:  []string{"ServersTransport istio-system/istio-ingressgateway-albistio"}},
		{name: "traefik: an error keeps what was read before it", flavor: chain.FlavorTraefik, service: "gw",
			lookup: &fakeLookup{err: boom},
			want: Discovered{GatewayService: "gw",
				Notes: []string{`the Ingress routes to Service "gw"; check reads Traefik's transport from the plugin's Service "gw-albistio"`}},
			wantErr: boom, asked: []string{"ServersTransport istio-system/gw-albistio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			look := tc.lookup
			if look == nil {
				look = &fakeLookup{}
			}
			got, err := For(tc.flavor).Discover(Route{Ingress: ingressIn(ns, tc.a), Service: tc.service, Flavor: tc.flavor}, look)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if !slices.Equal(look.asked, tc.asked) {
				t.Errorf("asked %v, want %v", look.asked, tc.asked)
			}
		})
	}
}

// TestDiscoverLenientWhereUpstreamTLSIsNot pins the difference the flavor
// files comment: values the controller cannot read, which discovery reads.
func TestDiscoverLenientWhereUpstreamTLSIsNot(t *testing.T) {
	p := testParams(t, chain.FlavorNginx)
	for _, v := range []string{"alb-client", p.IstioNamespace + "/a/b", "proxy-ssl-secret=" + p.IstioNamespace + "/alb-client"} {
		ing := ingressIn(p.IstioNamespace, map[string]string{NginxProxySSLSecret: v})
		if u := (nginx{}).UpstreamTLS(p, Stored{Ingress: ing}); len(u.ClientCerts) != 0 {
			t.Errorf("%q: ingress-nginx reads client certs %v, want none", v, u.ClientCerts)
		}
		if d, _ := (nginx{}).Discover(Route{Ingress: ing, Service: "gw"}, &fakeLookup{}); !d.SecretNamed || d.ClientSecret == "" {
			t.Errorf("%q: discovery reads %+v, want the secret named", v, d)
		}
	}
	a := ClassicSSLServices
	ing := ingressIn(p.IstioNamespace, map[string]string{a: "ssl-service=other ssl-secret=alb-client"})
	p.GatewayService = "gw"
	if u := (classic{}).UpstreamTLS(p, Stored{Ingress: ing}); len(u.ClientCerts) != 0 {
		t.Errorf("classic reads client certs %v from another Service's entry, want none", u.ClientCerts)
	}
	if d, _ := (classic{}).Discover(Route{Ingress: ing, Service: "gw"}, nil); d.ClientSecret != "alb-client" {
		t.Errorf("discovery reads %+v from another Service's entry, want its ssl-secret", d)
	}
}

// TestDiscoverReadsBackWhatItRenders: discovery of the chain a flavor
// writes gives the chain's client secret, gateway Service and name, and
// no note.
func TestDiscoverReadsBackWhatItRenders(t *testing.T) {
	for _, fl := range All() {
		p := testParams(t, fl.Name())
		side := fl.ALBSide(p, Backend{VerifyDepth: 2, TargetPort: intstr.FromInt32(8443)})
		st := stored(t, p, side)
		look := &fakeLookup{}
		if st.Transport != nil {
			look.transports = map[string]*ServersTransport{st.Transport.Namespace + "/" + st.Transport.Name: st.Transport}
		}
		got, err := fl.Discover(Route{Ingress: st.Ingress, Service: side.BackendService, Flavor: fl.Name()}, look)
		want := Discovered{ClientSecret: p.ClientSecret, SecretNamed: true, GatewayService: p.GatewayService, SNI: p.GatewaySNI()}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v; want %+v", fl.Name(), got, err, want)
		}
	}
}

// TestReachedGateway holds which gateway Service each flavor's settings
// send an unlabelled Ingress to, and which they do not.
func TestReachedGateway(t *testing.T) {
	const ns = "istio-system"
	gws := []GatewayService{
		{Name: "istio-ingressgateway", Selector: map[string]string{"istio": "ingressgateway"}},
		{Name: "other-gateway", Selector: map[string]string{"istio": "other"}},
	}
	svc := func(name string, a map[string]string, sel map[string]string) map[string]*corev1.Service {
		return map[string]*corev1.Service{ns + "/" + name: {
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: a}, Spec: corev1.ServiceSpec{Selector: sel}}}
	}
	linked := map[string]string{TraefikServiceTransport: "istio-system-gw-albistio@kubernetescrd"}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		flavor  chain.Flavor // whose ReachedGateway
		written chain.Flavor // Route.Flavor
		a       map[string]string
		service string
		lookup  *fakeLookup
		want    string
		wantErr error
		asked   []string
	}{
		{name: "classic: an entry for a gateway Service", flavor: chain.FlavorClassic, service: "other-gateway",
			a: map[string]string{ClassicSSLServices: "ssl-service=x ssl-secret=y;ssl-service=other-gateway ssl-secret=s"}, want: "other-gateway"},
		{name: "classic: only another Service's entry", flavor: chain.FlavorClassic, service: "istio-ingressgateway",
			a: map[string]string{ClassicSSLServices: "ssl-service=x ssl-secret=y"}},
		{name: "classic: an entry for a Service that is no gateway's", flavor: chain.FlavorClassic, service: "app",
			a: map[string]string{ClassicSSLServices: "ssl-service=app ssl-secret=y"}},
		{name: "classic: no annotation", flavor: chain.FlavorClassic, service: "istio-ingressgateway"},
		{name: "nginx: proxy-ssl-secret to a gateway Service, whatever the class", flavor: chain.FlavorNginx, written: chain.FlavorTraefik,
			service: "istio-ingressgateway", a: map[string]string{NginxProxySSLSecret: "alb-client"}, want: "istio-ingressgateway"},
		{name: "nginx: to a Service that is no gateway's", flavor: chain.FlavorNginx, service: "app",
			a: map[string]string{NginxProxySSLSecret: "istio-system/alb-client"}},
		{name: "nginx: no proxy-ssl-secret", flavor: chain.FlavorNginx, service: "istio-ingressgateway",
			a: map[string]string{NginxProxySSLName: "gw.example.com"}},
		{name: "traefik: an Ingress of another ALB reads nothing", flavor: chain.FlavorTraefik, written: chain.FlavorNginx,
			service: "gw-albistio", lookup: &fakeLookup{services: svc("gw-albistio", linked, gws[0].Selector)}},
		{name: "traefik: a Service selecting a gateway's pods", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "gw-albistio",
			lookup: &fakeLookup{services: svc("gw-albistio", linked, map[string]string{"istio": "other"})},
			want:   "other-gateway", asked: []string{"Service istio-system/gw-albistio"}},
		{name: "traefik: the gateway Service itself", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "istio-ingressgateway",
			lookup: &fakeLookup{services: svc("istio-ingressgateway", linked, map[string]string{"istio": "other"})},
			want:   "istio-ingressgateway", asked: []string{"Service istio-system/istio-ingressgateway"}},
		{name: "traefik: a Service naming no transport", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "gw-albistio",
			lookup: &fakeLookup{services: svc("gw-albistio", nil, gws[0].Selector)},
			asked:  []string{"Service istio-system/gw-albistio"}},
		{name: "traefik: a Service selecting nothing", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "gw-albistio",
			lookup: &fakeLookup{services: svc("gw-albistio", linked, nil)},
			asked:  []string{"Service istio-system/gw-albistio"}},
		{name: "traefik: no Service", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "gw-albistio",
			lookup: &fakeLookup{}, asked: []string{"Service istio-system/gw-albistio"}},
		{name: "traefik: an error", flavor: chain.FlavorTraefik, written: chain.FlavorTraefik, service: "gw-albistio",
			lookup: &fakeLookup{err: boom}, wantErr: boom, asked: []string{"Service istio-system/gw-albistio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			look := tc.lookup
			if look == nil {
				look = &fakeLookup{}
			}
			got, err := For(tc.flavor).ReachedGateway(Route{Ingress: ingressIn(ns, tc.a), Service: tc.service, Flavor: tc.written}, gws, look)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if !slices.Equal(look.asked, tc.asked) {
				t.Errorf("asked %v, want %v", look.asked, tc.asked)
			}
		})
	}
}

// TestDefault: an undetected ALB is ingress-nginx, with its secret layout.
func TestDefault(t *testing.T) {
	if Default().Name() != chain.FlavorNginx || SecretKeysFor(chain.FlavorAuto) != Default().ClientSecretKeys() {
		t.Errorf("default flavor %s, auto's keys %v", Default().Name(), SecretKeysFor(chain.FlavorAuto))
	}
}
