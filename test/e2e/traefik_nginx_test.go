package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// Traefik's ingress-nginx compatibility layer (the kubernetesingressnginx
// provider, pkg/provider/kubernetes/ingress-nginx in Traefik v3.6.12) as the
// ALB, reading the Ingress `kubectl albistio setup --alb-flavor nginx` writes.
//
// The IKS Traefik ALB runs it instead of Traefik's own Ingress provider when
// ibm-ingress-deploy-config says `ingressProvider: ingress-nginx` for the ALB,
// and IBM documents that its Traefik ALBs process only IngressClasses whose
// controller is traefik.io/ingress-controller (public-iks-traefik,
// private-iks-traefik). nginxTraefik runs it that way; the plugin's nginx
// flavor names public-iks-k8s-nginx (controller k8s.io/ingress-nginx) unless
// told --ingress-class public-iks-traefik.
//
// What the provider does with that Ingress (v3.6.12 source):
//   - it serves Ingresses whose spec.ingressClassName names an IngressClass
//     whose spec.controller is its controllerClass (default
//     "k8s.io/ingress-nginx");
//   - backend-protocol "HTTPS" makes the server URL https:// and is the only
//     way a ServersTransport is built (buildServersTransport);
//   - that transport: serverName = proxy-ssl-name, else the *value* of
//     proxy-ssl-server-name; insecureSkipVerify = lower(proxy-ssl-verify,
//     default "off") != "on"; rootCAs = ca.crt and the client certificate =
//     tls.crt/tls.key of proxy-ssl-secret "<namespace>/<name>", read through
//     the provider's own informers (only watched namespaces);
//     proxy-ssl-verify-depth is not read at all;
//   - an Ingress with spec.tls gets a TLS router without entry points (every
//     default entry point) and an HTTP→HTTPS redirect router ("-http", 308)
//     on the entry points without entry-point TLS.
const (
	nginxProviderName = "kubernetesingressnginx"
	nginxAnnPrefix    = "nginx.ingress.kubernetes.io/"
)

// ikTraefikClass is the IngressClass of IKS's public Traefik ALB: the class
// an Ingress for its ingress-nginx compatibility layer names.
var ikTraefikClass = fixtures.TraefikClass()

// nginxTraefik runs the ALB the way an IKS Traefik ALB with the compatibility
// layer does: the CRD provider and the ingress-nginx provider (no
// kubernetesingress provider), serving the IngressClasses of controller
// traefik.io/ingress-controller; websecure with TLS at the entry point and a
// plain entry point "web" (Traefik's Helm chart layout).
func nginxTraefik(t *testing.T, bin, ns string) *traefikProc {
	t.Helper()
	tr := startTraefikWith(t, bin, []string{ns}, ikNginxOptions())
	t.Logf("Traefik with the ingress-nginx provider (controllerClass %s): websecure %s (entry-point TLS), web %s", ikTraefikClass.Controller, tr.websecure, tr.web)
	return tr
}

func ikNginxOptions() traefikOptions {
	return traefikOptions{ingressNginx: true, nginxController: ikTraefikClass.Controller, noIngress: true, websecureTLS: true, web: true}
}

// nginxSetupFlags are the flags for the IKS Traefik ALB's compatibility
// layer: the nginx flavor's annotations, the Traefik ALB's class.
var nginxSetupFlags = []string{"--alb-flavor", "nginx", "--ingress-class", ikTraefikClass.Name}

// nginxSetup writes the chain for the compatibility layer with the writing
// slices (secrets, gateway, ingress). Not `setup`: setup ends with check,
// whose ALB0605 (today) calls nginx annotations on a Traefik class an error
// and makes setup exit 8 after writing everything.
func nginxSetup(t *testing.T, w *world) {
	t.Helper()
	for _, s := range []string{"secrets", "gateway", "ingress"} {
		mustSucceed(t, w.slice(t, s, nginxSetupFlags...))
	}
}

// nginxRouterFor finds the ingress-nginx provider's router for host in
// Traefik's runtime configuration (API) that serves the websecure entry
// point, and its service. The provider's TLS router has no entry points, so
// Traefik puts it on every default one; an entry point with entry-point TLS
// (websecure here) gets a copy of its own, named "<entry point>-<router>".
func (raw *traefikRaw) nginxRouterFor(host string) (string, *traefikRouter, *traefikService) {
	return raw.nginxRouterWith(host, "")
}

// nginxRouterWith is nginxRouterFor for a router whose rule also contains
// mustContain.
func (raw *traefikRaw) nginxRouterWith(host, mustContain string) (string, *traefikRouter, *traefikService) {
	names := make([]string, 0, len(raw.Routers))
	for n := range raw.Routers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := raw.Routers[n]
		if strings.HasSuffix(n, "@"+nginxProviderName) && !strings.HasSuffix(n, "-http@"+nginxProviderName) &&
			slices.Contains(r.EntryPoints, "websecure") &&
			strings.Contains(r.Rule, `Host("`+host+`")`) && strings.Contains(r.Rule, mustContain) {
			var svc *traefikService
			if s, ok := raw.Services[r.Service+"@"+nginxProviderName]; ok {
				svc = &s
			} else if s, ok := raw.Services[r.Service]; ok {
				svc = &s
			}
			return n, &r, svc
		}
	}
	return "", nil, nil
}

// nginxRedirectRouter is the provider's HTTP→HTTPS redirect router for the
// TLS router named router (as nginxRouterFor returns it).
func (raw *traefikRaw) nginxRedirectRouter(router string) (string, *traefikRouter) {
	base := strings.TrimSuffix(strings.TrimPrefix(router, "websecure-"), "@"+nginxProviderName)
	for _, n := range []string{base + "-http@" + nginxProviderName, "websecure-" + base + "-http@" + nginxProviderName} {
		if r, ok := raw.Routers[n]; ok {
			return n, &r
		}
	}
	return "", nil
}

// waitForNginxRouter polls Traefik's API until the ingress-nginx provider's
// router for host (whose rule contains mustContain, if given) is enabled and
// its service has a server, for up to a minute.
func (tp *traefikProc) waitForNginxRouter(t *testing.T, host, mustContain string) (*traefikRaw, string, *traefikRouter, *traefikService) {
	t.Helper()
	var last *traefikRaw
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-tp.done:
			t.Fatalf("Traefik exited\nlog:\n%s", tp.logTail(60))
		default:
		}
		raw, err := tp.rawdata()
		if err == nil {
			last = raw
			if name, r, s := raw.nginxRouterWith(host, mustContain); r != nil && r.Status == "enabled" && s != nil && s.LoadBalancer != nil && len(s.LoadBalancer.Servers) > 0 {
				return raw, name, r, s
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	var rawText string
	if last != nil {
		rawText = string(last.raw)
	}
	t.Fatalf("Traefik never loaded an enabled ingress-nginx router for Host(%q) (rule with %q) with a server\n/api/rawdata: %s\nlog (errors and warnings):\n%s",
		host, mustContain, rawText, tp.logProblems())
	return nil, "", nil, nil
}

// nginxConf is what the tests read of a dynamic configuration from the
// ingress-nginx provider, as Traefik logs it at DEBUG ("Configuration
// received", certificates and root CAs blanked): the API does not show
// ServersTransports.
type nginxConf struct {
	HTTP struct {
		Routers map[string]struct {
			EntryPoints []string        `json:"entryPoints"`
			Rule        string          `json:"rule"`
			Service     string          `json:"service"`
			Middlewares []string        `json:"middlewares"`
			TLS         json.RawMessage `json:"tls"`
		} `json:"routers"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
				ServersTransport string `json:"serversTransport"`
			} `json:"loadBalancer"`
		} `json:"services"`
		ServersTransports map[string]nginxTransport `json:"serversTransports"`
	} `json:"http"`
}

type nginxTransport struct {
	ServerName         string `json:"serverName"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify"`
}

// logSize is the current length of Traefik's log, to read only what follows.
func (tp *traefikProc) logSize() int64 {
	fi, err := os.Stat(tp.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince is Traefik's log from offset on.
func (tp *traefikProc) logSince(offset int64) string {
	b, err := os.ReadFile(tp.logPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

// nginxConfsSince are the configurations the ingress-nginx provider sent
// after offset in the log, oldest first.
func (tp *traefikProc) nginxConfsSince(offset int64) []nginxConf {
	var out []nginxConf
	for _, line := range strings.Split(tp.logSince(offset), "\n") {
		if !strings.Contains(line, "Configuration received") || !strings.Contains(line, "providerName="+nginxProviderName) {
			continue
		}
		i := strings.Index(line, "config=")
		if i < 0 {
			continue
		}
		var c nginxConf
		if err := json.NewDecoder(strings.NewReader(line[i+len("config="):])).Decode(&c); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// transportOf is the ServersTransport the configuration's router for host
// (whose rule contains mustContain) sends its service through, and whether
// there is such a router.
func (c nginxConf) transportOf(host, mustContain string) (name string, st *nginxTransport, found bool) {
	for _, r := range c.HTTP.Routers {
		if r.TLS == nil || !strings.Contains(r.Rule, `Host("`+host+`")`) || !strings.Contains(r.Rule, mustContain) {
			continue
		}
		svc, ok := c.HTTP.Services[r.Service]
		if !ok {
			return "", nil, true
		}
		name = svc.LoadBalancer.ServersTransport
		if t, ok := c.HTTP.ServersTransports[name]; ok {
			return name, &t, true
		}
		return name, nil, true
	}
	return "", nil, false
}

// TestTraefikNginxChainCarriesTraffic: a real Traefik v3.6 run like IKS's
// Traefik ALB with the ingress-nginx compatibility layer reads the
// nginx-flavored Ingress `setup --alb-flavor nginx --ingress-class
// public-iks-traefik` wrote (proxy-ssl-* annotations, secrets in the Istio
// namespace) and carries a request over mutual TLS to the gateway stand-in:
// SNI = proxy-ssl-name, the private CA's client certificate, the gateway
// verified against ca.crt. Then the walkthrough's design (the ALB's
// serverAuth-only certificate as the client certificate) fails at the
// gateway: 502.
func TestTraefikNginxChainCarriesTraffic(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)
	start := time.Now()

	w := newWorld(t, false, fixtures.NginxClass(), ikTraefikClass)
	nginxSetup(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace

	ing, svc, port := nginxIngressAndBackend(t, ctx, w, ikTraefikClass)
	gw := w.startGateway(t)
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))

	offset := int64(0)
	tr := nginxTraefik(t, bin, ns)
	trStart := time.Now()
	raw, router, r, s := tr.waitForNginxRouter(t, w.host, "")
	t.Logf("Traefik loaded router %s: rule %s, entry points %v, tls %s, service servers %v via transport %q",
		router, r.Rule, r.EntryPoints, r.TLS, s.LoadBalancer.Servers, s.LoadBalancer.ServersTransport)
	if name := ns + "-" + ing.Name + "@" + nginxProviderName; s.LoadBalancer.ServersTransport != name {
		t.Errorf("Traefik's service should go through the provider's transport %q (namespace-ingress), uses %q", name, s.LoadBalancer.ServersTransport)
	}
	for _, srv := range s.LoadBalancer.Servers {
		if !strings.HasPrefix(srv.URL, "https://") {
			t.Errorf("backend-protocol HTTPS should make the server URL https://, got %s", srv.URL)
		}
	}
	// One provider serves the host: no router for it from another one.
	for n, r := range raw.Routers {
		if strings.Contains(r.Rule, `Host("`+w.host+`")`) && !strings.HasSuffix(n, "@"+nginxProviderName) {
			t.Errorf("router %s from another provider serves %s too", n, w.host)
		}
	}
	// The provider's redirect router sits on the plain entry points only.
	if n, hr := raw.nginxRedirectRouter(router); hr != nil {
		t.Logf("redirect router %s: entry points %v, service %s", n, hr.EntryPoints, hr.Service)
		if slices.Contains(hr.EntryPoints, "websecure") || !slices.Contains(hr.EntryPoints, "web") {
			t.Errorf("the redirect router should be on web, not websecure: entry points %v", hr.EntryPoints)
		}
	} else {
		t.Errorf("the provider should make an HTTP→HTTPS redirect router %s-http for the TLS Ingress", router)
	}
	var transport *nginxTransport
	for _, c := range tr.nginxConfsSince(offset) {
		if _, st, _ := c.transportOf(w.host, ""); st != nil {
			transport = st
		}
	}
	if transport == nil {
		t.Errorf("no ServersTransport from the %s provider in Traefik's log (Configuration received)", nginxProviderName)
	} else {
		t.Logf("the provider's ServersTransport: serverName %q, insecureSkipVerify %v", transport.ServerName, transport.InsecureSkipVerify)
		if transport.ServerName != w.p.GatewayDomain || transport.InsecureSkipVerify {
			t.Errorf("from proxy-ssl-name %q and proxy-ssl-verify %q the transport should have serverName %s and verify, got %+v",
				ing.Annotations[nginxAnnPrefix+"proxy-ssl-name"], ing.Annotations[nginxAnnPrefix+"proxy-ssl-verify"], w.p.GatewayDomain, *transport)
		}
	}

	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	code, body, err := tr.until(w.host, "/status/418", roots, http.StatusTeapot, 30*time.Second)
	if err != nil || code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("want 418 and a teapot through Traefik (ingress-nginx provider) → gateway → app, got %d %q (err %v)\ngateway handshake errors: %q\nrelay errors: %q\nTraefik access log:\n%s\nTraefik errors and warnings:\n%s",
			code, body, err, gw.HandshakeErrors(), pn.RelayErrors(), tr.accessLogTail(10), tr.logProblems())
	}
	reqs := gw.Requests()
	last := reqs[len(reqs)-1]
	if last.SNI != w.p.GatewayDomain {
		t.Errorf("Traefik should send SNI %s (proxy-ssl-name) to the gateway, sent %q", w.p.GatewayDomain, last.SNI)
	}
	if last.Host != w.host {
		t.Errorf("Traefik should pass the Host header %s, sent %q", w.host, last.Host)
	}
	client := secretLeaf(t, ctx, ns, "alb-certs")
	if last.ClientSubject == "" || last.ClientSubject != client.Subject.String() {
		t.Errorf("the gateway should see alb-certs' client certificate %q, saw %q", client.Subject, last.ClientSubject)
	}
	t.Logf("418 through Traefik's ingress-nginx provider %s after Traefik started (%s after the test did): gateway saw SNI %s, Host %s, client %s",
		time.Since(trStart).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond), last.SNI, last.Host, last.ClientSubject)

	// check judges the same objects as this Traefik reads them, once the
	// cluster shows what IKS shows for an ALB running the layer.
	iksCompatLayer(t, ctx, "3.6.12_1523_iks")
	checkArgs := append([]string{"check", "-o", "json"}, w.flags(nginxSetupFlags...)...)
	res := albistio(t, checkArgs...)
	if res.code != 0 || !strings.Contains(res.stdout, "ALB0650") || !strings.Contains(res.stdout, "v3.6.12") {
		t.Errorf("check should pass the chain Traefik serves, judged against v3.6.12 (ALB0650):\n%s", res)
	}
	// Without proxy-ssl-name this Traefik sends the value of
	// proxy-ssl-server-name ("on") as SNI, the gateway has no filter chain
	// for it, and check says why.
	updateNginxIngress(t, ctx, ns, ing.Name, func(i *networkingv1.Ingress) { delete(i.Annotations, nginxAnnPrefix+"proxy-ssl-name") })
	if code, _, err := tr.until(w.host, "/status/418", roots, http.StatusBadGateway, 30*time.Second); err != nil || code != http.StatusBadGateway {
		t.Errorf("without proxy-ssl-name Traefik should send SNI \"on\" and get 502, got %d (%v)", code, err)
	}
	// A certain 502, so an error: check fails at its default threshold.
	res = albistio(t, checkArgs...)
	_, rep := reportCodes(t, res)
	fallback := false
	for _, f := range rep.Findings {
		fallback = fallback || f.Code == "ALB0654" && f.Level == "error"
	}
	if res.code != 8 || !fallback {
		t.Errorf("check should report the server name Traefik falls back to as an error (ALB0654) and fail:\n%s", res)
	}
	mustSucceed(t, w.slice(t, "ingress", nginxSetupFlags...))
	if code, _, err := tr.until(w.host, "/status/418", roots, http.StatusTeapot, 30*time.Second); err != nil || code != http.StatusTeapot {
		t.Fatalf("after ingress wrote proxy-ssl-name again, want 418, got %d (%v)", code, err)
	}

	// Plain HTTP on web is redirected to HTTPS, as ingress-nginx does for a TLS Ingress.
	if code, loc := tr.plainGet(t, w.host, "/status/418"); code != http.StatusPermanentRedirect || !strings.HasPrefix(loc, "https://"+w.host) {
		t.Errorf("plain HTTP on the web entry point should get 308 to https://%s, got %d %q", w.host, code, loc)
	}

	// The walkthrough's design on today's certificates: the ALB's own
	// serverAuth-only certificate as Traefik's client certificate, the
	// gateway trusting its root.
	alb := w.iks.ALBCert
	mergePatch(t, "secrets", ns, "alb-certs", map[string]any{"data": map[string][]byte{"tls.crt": alb.ChainPEM, "tls.key": alb.KeyPEM}})
	mergePatch(t, "secrets", ns, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": w.iks.RootPEM}})
	gw2 := w.startGateway(t)
	pn.Retarget(gw2.Addr())
	gw.Close()
	var refusal string
	deadline := time.Now().Add(30 * time.Second)
	for {
		before := len(gw2.HandshakeErrors())
		code, body, err = tr.get(w.host, "/status/418", roots)
		gw2.WaitHandshakeError("incompatible key usage", 200*time.Millisecond)
		if errs := gw2.HandshakeErrors(); len(errs) > before {
			refusal = strings.Join(errs[before:], "; ")
		}
		if (err == nil && code == http.StatusBadGateway && strings.Contains(refusal, "incompatible key usage")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || code != http.StatusBadGateway {
		t.Fatalf("with the ALB's serverAuth-only certificate as client certificate, want 502 from Traefik, got %d %q (err %v)\ngateway handshake errors: %q\nTraefik access log:\n%s\nTraefik errors:\n%s",
			code, body, err, gw2.HandshakeErrors(), tr.accessLogTail(10), tr.logProblems())
	}
	if !strings.Contains(refusal, "incompatible key usage") {
		t.Fatalf("the gateway should refuse the ALB certificate for its usage; handshake errors: %q\nTraefik errors:\n%s", gw2.HandshakeErrors(), tr.logProblems())
	}
	if n := len(gw2.Requests()); n != 0 {
		t.Errorf("no request may pass the refused handshake; the gateway saw %d: %+v", n, gw2.Requests())
	}
	t.Logf("walkthrough design through Traefik's ingress-nginx provider: %d, gateway: %s", code, refusal)
}

// nginxIngressAndBackend reads back the nginx-flavored Ingress and the
// Service port it routes to, checking that it names class (as the provider
// under test needs).
func nginxIngressAndBackend(t *testing.T, ctx context.Context, w *world, class fixtures.IngressClass) (*networkingv1.Ingress, *corev1.Service, *corev1.ServicePort) {
	t.Helper()
	ns := w.p.IstioNamespace
	ing, err := env.kube.NetworkingV1().Ingresses(ns).Get(ctx, w.ingressName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != class.Name {
		t.Fatalf("the nginx-flavored Ingress should name IngressClass %s, has %v", class.Name, ing.Spec.IngressClassName)
	}
	ic, err := env.kube.NetworkingV1().IngressClasses().Get(ctx, *ing.Spec.IngressClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The provider serves the Ingresses of the classes with its controllerClass.
	if ic.Spec.Controller != class.Controller {
		t.Fatalf("IngressClass %s has controller %q, want %q", ic.Name, ic.Spec.Controller, class.Controller)
	}
	t.Logf("plugin wrote Ingress %s/%s (class %s, controller %s), annotations %v", ns, ing.Name, ic.Name, ic.Spec.Controller, ing.Annotations)
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) == 0 || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service == nil {
		t.Fatalf("the Ingress should have one rule routing to a Service: %+v", ing.Spec)
	}
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, backend.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Ingress's backend Service: %v", err)
	}
	for i, p := range svc.Spec.Ports {
		if p.Port == backend.Port.Number || (backend.Port.Name != "" && p.Name == backend.Port.Name) {
			return ing, svc, &svc.Spec.Ports[i]
		}
	}
	t.Fatalf("Service %s/%s has no port %v", ns, svc.Name, backend.Port)
	return nil, nil, nil
}

// until retries a request through Traefik (it applies configuration
// asynchronously) until it answers want or timeout passes, and returns the
// last answer.
func (tp *traefikProc) until(host, path string, roots *x509.CertPool, want int, timeout time.Duration) (int, string, error) {
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := tp.get(host, path, roots)
		if (err == nil && code == want) || time.Now().After(deadline) {
			return code, body, err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// plainGet sends GET http://host/path to the web entry point without
// following redirects, and returns the status and Location.
func (tp *traefikProc) plainGet(t *testing.T, host, path string) (int, string) {
	t.Helper()
	if tp.web == "" {
		t.Fatal("this Traefik has no web entry point")
	}
	c := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+tp.web+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("plain HTTP to Traefik's web entry point: %v", err)
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestTraefikNginxIngressClass: which IngressClass the provider serves. With
// its defaults (controllerClass k8s.io/ingress-nginx) it serves the plugin's
// nginx-flavored Ingress as rendered by default (class public-iks-k8s-nginx);
// run as on IKS (controllerClass traefik.io/ingress-controller) it ignores that
// Ingress — on IKS the Ingress-NGINX ALB, if one is left, would serve it — and
// serves it once the plugin renders it with --ingress-class public-iks-traefik.
func TestTraefikNginxIngressClass(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)

	w := newWorld(t, false, fixtures.NginxClass(), ikTraefikClass)
	mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace
	ing, svc, port := nginxIngressAndBackend(t, ctx, w, fixtures.NginxClass())
	gw := w.startGateway(t)
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)

	// The provider's defaults: the Ingress as rendered is served.
	def := startTraefikWith(t, bin, []string{ns}, traefikOptions{ingressNginx: true, noIngress: true, websecureTLS: true, web: true})
	def.waitForNginxRouter(t, w.host, "")
	if code, body, err := def.until(w.host, "/status/418", roots, http.StatusTeapot, 30*time.Second); err != nil || code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("the provider with its default controllerClass should serve class %s: got %d (err %v)\nTraefik errors:\n%s", fixtures.NginxClass().Name, code, err, def.logProblems())
	}
	t.Logf("controllerClass %s (the provider's default): class %s served, 418", "k8s.io/ingress-nginx", *ing.Spec.IngressClassName)
	def.stop()

	// As on IKS: a control Ingress of class public-iks-traefik shows the
	// provider has read the namespace; the plugin's Ingress gets no router.
	prefix := networkingv1.PathTypePrefix
	control := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "control-" + ikTraefikClass.Name, Namespace: ns},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &ikTraefikClass.Name,
			Rules: []networkingv1.IngressRule{{Host: "control." + w.p.ALBDomain, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: ing.Spec.Rules[0].HTTP.Paths[0].Backend}},
			}}}},
		},
	}
	if _, err := env.kube.NetworkingV1().Ingresses(ns).Create(ctx, control, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr := startTraefikWith(t, bin, []string{ns}, ikNginxOptions())
	var raw *traefikRaw
	waitFor(t, time.Minute, "the control Ingress's router", func() bool {
		r, err := tr.rawdata()
		if err != nil {
			return false
		}
		for n, rt := range r.Routers {
			if strings.HasSuffix(n, "@"+nginxProviderName) && strings.Contains(rt.Rule, "control."+w.p.ALBDomain) {
				raw = r
				return true
			}
		}
		return false
	})
	if n, _, _ := raw.nginxRouterFor(w.host); n != "" {
		t.Errorf("run as on IKS (controllerClass %s), the provider should ignore an Ingress of class %s, made router %s", ikTraefikClass.Controller, fixtures.NginxClass().Name, n)
	}
	// Its spec.tls is ignored too: Traefik answers with its default
	// certificate, and, past that, 404.
	if _, _, err := tr.get(w.host, "/status/418", roots); err == nil || !strings.Contains(err.Error(), "traefik.default") {
		t.Errorf("the Ingress of class %s on the IKS-like Traefik: want Traefik's default certificate (the Ingress's TLS secret unused), got err %v", fixtures.NginxClass().Name, err)
	}
	insecure := tr.client(w.host, nil)
	insecure.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	if resp, err := insecure.Get("https://" + w.host + "/status/418"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the Ingress of class %s on the IKS-like Traefik: want 404, got %v (err %v)", fixtures.NginxClass().Name, resp, err)
	} else {
		resp.Body.Close()
	}
	t.Logf("controllerClass %s (IKS): class %s ignored: Traefik's default certificate, 404", ikTraefikClass.Controller, fixtures.NginxClass().Name)
	chk := albistio(t, append([]string{"check"}, dropFlag(w.flags(nginxSetupFlags...), "--ca-file")...)...)
	t.Logf("check with %v before the class change (exit %d; logged, not asserted):\n%s%s", nginxSetupFlags, chk.code, chk.stdout, chk.stderr)

	// The plugin's Ingress for the Traefik ALB's class.
	r := mustSucceed(t, w.slice(t, "ingress", nginxSetupFlags...))
	t.Logf("ingress %v:\n%s", nginxSetupFlags, r.stdout)
	tr.waitForNginxRouter(t, w.host, "")
	if code, body, err := tr.until(w.host, "/status/418", roots, http.StatusTeapot, 30*time.Second); err != nil || code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("with --ingress-class %s the IKS-like provider should serve the chain: got %d (err %v)\ngateway handshake errors: %q\nTraefik errors:\n%s", ikTraefikClass.Name, code, err, gw.HandshakeErrors(), tr.logProblems())
	}
	t.Logf("controllerClass %s (IKS): class %s served, 418", ikTraefikClass.Controller, ikTraefikClass.Name)
}

// TestTraefikNginxNeedsNonTLSEntryPoint: for every Ingress with spec.tls the
// provider adds an HTTP→HTTPS redirect router (RedirectScheme https, then the
// service noop@internal, which answers 418 with an empty body) with the same
// rule as the app's router, on the entry points that have no entry-point TLS
// (entryPoints.<name>.http.tls unset), the API's "traefik" entry point
// included. When there is none, the redirect router gets the default entry
// points: on websecure it takes the entry point's TLS and ties with the app's
// router (same rule, same priority; Traefik's muxer orders by priority alone,
// its router manager ranges over a map). When it wins, HTTPS requests never
// reach the app: with a port in the Host header the redirect answers 308 (to
// the same URL without the port), without one the URL is already https and
// noop@internal answers an empty 418. Any entry point without TLS (web, or a
// plain API entry point) keeps the redirect router off websecure.
func TestTraefikNginxNeedsNonTLSEntryPoint(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)

	w := newWorld(t, false, fixtures.NginxClass())
	mustSucceed(t, albistio(t, append([]string{"setup"}, w.flags("--alb-flavor", "nginx")...)...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The provider's defaults here (controllerClass k8s.io/ingress-nginx):
	// the entry points are the question, not the class.
	ing, svc, port := nginxIngressAndBackend(t, ctx, w, fixtures.NginxClass())
	basePaths := ing.Spec.Rules[0].HTTP.Paths
	gw := w.startGateway(t)
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)

	for ci, c := range []struct {
		name        string
		opts        traefikOptions
		redirectOn  []string // entry points of the redirect router
		appOnly     bool     // every build serves the app on websecure
		builds      int      // configuration builds to sample (at most)
		wantCapture bool     // some build lets the redirect router answer HTTPS
	}{
		{"every entry point with entry-point TLS", traefikOptions{ingressNginx: true, websecureTLS: true, apiTLS: true}, []string{"websecure"}, false, 40, true},
		{"websecure with entry-point TLS, plain API entry point", traefikOptions{ingressNginx: true, websecureTLS: true}, []string{"traefik"}, true, 3, false},
		{"websecure without entry-point TLS", traefikOptions{ingressNginx: true}, []string{"traefik", "websecure"}, true, 3, false},
		{"websecure with entry-point TLS and web", traefikOptions{ingressNginx: true, websecureTLS: true, web: true}, []string{"traefik", "web"}, true, 3, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := startTraefikWith(t, bin, []string{w.p.IstioNamespace}, c.opts)
			defer tr.stop()
			raw, router, _, _ := tr.waitForNginxRouter(t, w.host, "")
			name, redirect := raw.nginxRedirectRouter(router)
			if redirect == nil {
				t.Fatalf("no redirect router for %s in %s", router, raw.raw)
			}
			eps := slices.Sorted(slices.Values(redirect.EntryPoints))
			if !slices.Equal(eps, c.redirectOn) {
				t.Errorf("redirect router %s on entry points %v, want %v", name, eps, c.redirectOn)
			}
			_, wsPort, _ := strings.Cut(tr.websecure, ":")
			// Sample configuration builds: each change of the Ingress makes
			// Traefik build its routers anew; within one build the answer is fixed.
			outcomes := map[string]int{}
			for i := 0; i < c.builds; i++ {
				if i > 0 {
					marker := fmt.Sprintf("/albistio-build-%d-%d", ci, i)
					updateNginxIngress(t, ctx, w.p.IstioNamespace, ing.Name, func(in *networkingv1.Ingress) {
						p := basePaths[0]
						p.Path = marker
						in.Spec.Rules[0].HTTP.Paths = append(slices.Clone(basePaths), p)
					})
					tr.waitForNginxRouter(t, w.host, marker)
					time.Sleep(300 * time.Millisecond) // the API and the entry points switch to a new build one after the other
				}
				var got []string
				for _, url := range []string{"https://" + w.host + "/status/418", "https://" + w.host + ":" + wsPort + "/status/418"} {
					resp, err := (&http.Client{
						Transport:     tr.client(w.host, roots).Transport,
						Timeout:       15 * time.Second,
						CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
					}).Get(url)
					if err != nil {
						t.Fatalf("GET %s through Traefik: %v", url, err)
					}
					body := make([]byte, 512)
					n, _ := io.ReadFull(resp.Body, body)
					resp.Body.Close()
					switch {
					case resp.StatusCode == http.StatusTeapot && strings.Contains(string(body[:n]), "teapot"):
						got = append(got, "app")
					case resp.StatusCode == http.StatusTeapot && n == 0:
						got = append(got, "noop 418")
					default:
						got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location")))
					}
				}
				outcomes[fmt.Sprintf("Host without port: %s, Host with port: %s", got[0], got[1])]++
				if c.wantCapture && got[0] != "app" {
					break
				}
			}
			t.Logf("%s: redirect router %s on %v; HTTPS GET /status/418 per configuration build: %v", c.name, name, eps, outcomes)
			appOnly := len(outcomes) == 1 && outcomes["Host without port: app, Host with port: app"] > 0
			if c.appOnly && !appOnly {
				t.Errorf("every build should serve the app over HTTPS, got %v\nTraefik access log:\n%s", outcomes, tr.accessLogTail(10))
			}
			if c.wantCapture && appOnly {
				t.Errorf("with no entry point left without TLS, the redirect router should answer HTTPS in some build; %d builds: %v", c.builds, outcomes)
			}
		})
	}
}

// nginxRow is one setting of the proxy-ssl annotations on the plugin's
// Ingress and what Traefik v3.6.12's ingress-nginx provider makes of it.
type nginxRow struct {
	name string
	// set and drop change the plugin's annotations (names without the
	// nginx.ingress.kubernetes.io/ prefix); value "$GW" is the gateway domain
	// and "$APPNS/alb-certs" the client secret in the app's namespace.
	set  map[string]string
	drop []string
	// wrongCA replaces ca.crt of alb-certs (the roots Traefik verifies the
	// gateway with) by an unrelated CA's, so that only a transport that does
	// not verify reaches the gateway.
	wrongCA bool

	// What Traefik v3.6.12 does, from its source: the transport's serverName
	// and insecureSkipVerify ("" serverName: none), the HTTP status through
	// Traefik, and the SNI the gateway sees ("-": not reached / not recorded).
	wantServerName string
	wantSkip       bool
	wantCode       int
	wantSNI        string
	// ignored: the provider drops the whole Ingress (no router, 404).
	ignored bool
	reading string

	// Observed.
	gotServerName string
	gotSkip       bool
	gotTransport  bool
	gotCode       int
	noop          bool
	gotSNI        string
	evidence      string
}

// What TestTraefikNginxAnnotationSemantics sees on Traefik v3.6.12 (start: the
// plugin's annotations; <gw> = the gateway domain; "wrong CA": alb-certs'
// ca.crt does not sign the gateway's certificate):
//
//	annotations                           serverName skipVerify HTTP  SNI at gateway
//	as rendered (verify on, name, sn on)  <gw>       false      418   <gw>
//	verify "on", wrong CA                 <gw>       false      500   - (Traefik: x509 unknown authority)
//	verify "off", wrong CA                <gw>       true       418   <gw>
//	verify "true", wrong CA               <gw>       true       418   <gw>
//	verify "ON", wrong CA                 <gw>       false      500   - (lower-cased: verifies)
//	verify absent, wrong CA               <gw>       true       418   <gw>
//	verify-depth "0"                      <gw>       false      418   <gw> (depth not read)
//	server-name "off"                     <gw>       false      418   <gw> (SNI still sent)
//	server-name absent                    <gw>       false      418   <gw>
//	name absent, server-name "on"         "on"       false      502   "on" (no filter chain)
//	name absent, sn "on", verify "off"    "on"       true       502   "on"
//	name absent, server-name "off"        "off"      false      502   "off"
//	name absent, server-name <gw>         <gw>       false      418   <gw>
//	name and server-name absent           ""         false      502   none
//	backend-protocol absent               no transport          400   - (plain HTTP to TLS port)
//	proxy-ssl-secret <other ns>/alb-certs Ingress ignored       404   - (namespace not watched)
//
// Other versions, from Traefik's source (pkg/provider/kubernetes/ingress-nginx):
// insecureSkipVerify is lower(verify, "off") == "on" in v3.5.0–v3.6.2 (so
// "on" skips and "off"/"true"/absent verify), == "off" in v3.6.3–v3.6.10
// ("off"/absent skip, anything else verifies), != "on" from v3.6.11 (as
// here); from v3.7.0 a proxy-ssl-secret in another namespace is refused
// unless allowCrossNamespaceResources; the redirect router takes the non-TLS
// entry points from v3.6.7, before that every default entry point.
//
// TestTraefikNginxAnnotationSemantics records, on a real Traefik v3.6.12 with
// the ingress-nginx provider, how it reads proxy-ssl-verify ("on", "off",
// "true", "ON", absent), proxy-ssl-server-name ("on", "off", a host name,
// absent), a missing proxy-ssl-name, proxy-ssl-verify-depth and
// backend-protocol, starting each time from the plugin's nginx-flavored
// Ingress. Verification is made visible by an alb-certs ca.crt that does not
// sign the gateway's certificate: only a transport that skips verification
// reaches the gateway then. The table is logged and asserted.
func TestTraefikNginxAnnotationSemantics(t *testing.T) {
	bin := traefikOrSkip(t)
	podNetOrSkip(t)
	installTraefikCRDs(t)

	w := newWorld(t, false, fixtures.NginxClass(), ikTraefikClass)
	nginxSetup(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ns := w.p.IstioNamespace
	ing, svc, port := nginxIngressAndBackend(t, ctx, w, ikTraefikClass)
	baseAnnotations := ing.Annotations
	basePaths := ing.Spec.Rules[0].HTTP.Paths
	if got := baseAnnotations[nginxAnnPrefix+"proxy-ssl-verify-depth"]; got == "" {
		t.Errorf("the plugin should write proxy-ssl-verify-depth (ingress-nginx reads it); annotations %v", baseAnnotations)
	}
	rightCA, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "alb-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := fixtures.NewPrivateCA("not-the-gateways-issuer")
	if err != nil {
		t.Fatal(err)
	}

	gw := w.startGateway(t)
	pn := newPodNet(t, gw.Addr(), port.TargetPort.IntValue())
	createEndpointSlice(t, ctx, svc, port.Name, pn.Addr().IP.String(), int32(pn.Addr().Port))
	tr := nginxTraefik(t, bin, ns)
	tr.waitForNginxRouter(t, w.host, "")
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	GW := w.p.GatewayDomain

	rows := []*nginxRow{
		{name: `as rendered: verify "on", name $GW, server-name "on"`,
			wantServerName: GW, wantCode: 418, wantSNI: GW,
			reading: "verified against ca.crt, SNI = proxy-ssl-name"},
		{name: `verify "on", ca.crt not the gateway's issuer`, wrongCA: true,
			wantServerName: GW, wantCode: 500, wantSNI: "-",
			reading: `"on" verifies: Traefik refuses the gateway's certificate (500, not 502)`},
		{name: `verify "off", ca.crt not the gateway's issuer`, wrongCA: true, set: map[string]string{"proxy-ssl-verify": "off"},
			wantServerName: GW, wantSkip: true, wantCode: 418, wantSNI: GW,
			reading: `"off": no verification`},
		{name: `verify "true", ca.crt not the gateway's issuer`, wrongCA: true, set: map[string]string{"proxy-ssl-verify": "true"},
			wantServerName: GW, wantSkip: true, wantCode: 418, wantSNI: GW,
			reading: `"true" is not "on": no verification (as ingress-nginx)`},
		{name: `verify "ON", ca.crt not the gateway's issuer`, wrongCA: true, set: map[string]string{"proxy-ssl-verify": "ON"},
			wantServerName: GW, wantCode: 500, wantSNI: "-",
			reading: `compared lower-cased: "ON" verifies (ingress-nginx accepts only "on"/"off": "ON" is its default, off)`},
		{name: `verify absent, ca.crt not the gateway's issuer`, wrongCA: true, drop: []string{"proxy-ssl-verify"},
			wantServerName: GW, wantSkip: true, wantCode: 418, wantSNI: GW,
			reading: `default "off": no verification`},
		{name: `verify "on", verify-depth "0"`, set: map[string]string{"proxy-ssl-verify-depth": "0"},
			wantServerName: GW, wantCode: 418, wantSNI: GW,
			reading: "verify depth is not read (ingress-nginx: depth 0 fails a chain with an intermediate)"},
		{name: `server-name "off", name $GW`, set: map[string]string{"proxy-ssl-server-name": "off"},
			wantServerName: GW, wantCode: 418, wantSNI: GW,
			reading: `SNI is always sent; "off" does not turn it off (ingress-nginx: no SNI → 502)`},
		{name: `server-name absent, name $GW`, drop: []string{"proxy-ssl-server-name"},
			wantServerName: GW, wantCode: 418, wantSNI: GW,
			reading: "SNI from proxy-ssl-name alone"},
		{name: `name absent, server-name "on"`, drop: []string{"proxy-ssl-name"},
			wantServerName: "on", wantCode: 502, wantSNI: "on",
			reading: `server name falls back to the value of proxy-ssl-server-name: SNI "on", no filter chain`},
		{name: `name absent, server-name "on", verify "off"`, drop: []string{"proxy-ssl-name"}, set: map[string]string{"proxy-ssl-verify": "off"},
			wantServerName: "on", wantSkip: true, wantCode: 502, wantSNI: "on",
			reading: `SNI "on" even without verification: the gateway refuses`},
		{name: `name absent, server-name "off"`, drop: []string{"proxy-ssl-name"}, set: map[string]string{"proxy-ssl-server-name": "off"},
			wantServerName: "off", wantCode: 502, wantSNI: "off",
			reading: `SNI "off"`},
		{name: `name absent, server-name $GW`, drop: []string{"proxy-ssl-name"}, set: map[string]string{"proxy-ssl-server-name": "$GW"},
			wantServerName: GW, wantCode: 418, wantSNI: GW,
			reading: "a host name in proxy-ssl-server-name works as the server name"},
		{name: `name and server-name absent`, drop: []string{"proxy-ssl-name", "proxy-ssl-server-name"},
			wantServerName: "", wantCode: 502, wantSNI: "",
			reading: "no server name: no SNI (the backend is an IP), no filter chain"},
		{name: `backend-protocol absent`, drop: []string{"backend-protocol"},
			wantServerName: "-", wantCode: 400, wantSNI: "-",
			reading: "no transport at all: plain HTTP to the gateway's TLS port, proxy-ssl-* ignored"},
		{name: `proxy-ssl-secret in another (unwatched) namespace`, set: map[string]string{"proxy-ssl-secret": "$APPNS/alb-certs"},
			ignored: true, wantServerName: "-", wantCode: 404, wantSNI: "-",
			reading: "the secret is read only from watched namespaces: the whole Ingress is ignored"},
	}

	caIsWrong := false
	for i, row := range rows {
		marker := fmt.Sprintf("/albistio-row-%d", i)
		// alb-certs' ca.crt first, and wait for Traefik to take it: its
		// transport's roots change, so the provider sends a configuration.
		if row.wrongCA != caIsWrong {
			off := tr.logSize()
			ca := rightCA.Data["ca.crt"]
			if row.wrongCA {
				ca = other.CertPEM
			}
			mergePatch(t, "secrets", ns, "alb-certs", map[string]any{"data": map[string][]byte{"ca.crt": ca}})
			caIsWrong = row.wrongCA
			waitFor(t, 30*time.Second, "Traefik to read alb-certs' new ca.crt", func() bool { return len(tr.nginxConfsSince(off)) > 0 })
		}
		off := tr.logSize()
		updateNginxIngress(t, ctx, ns, ing.Name, func(in *networkingv1.Ingress) {
			in.Annotations = map[string]string{}
			for k, v := range baseAnnotations {
				in.Annotations[k] = v
			}
			for _, k := range row.drop {
				delete(in.Annotations, nginxAnnPrefix+k)
			}
			for k, v := range row.set {
				v = strings.ReplaceAll(v, "$GW", GW)
				v = strings.ReplaceAll(v, "$APPNS", w.p.AppNamespace)
				in.Annotations[nginxAnnPrefix+k] = v
			}
			// A path of the row's own: the configuration that has it is the row's.
			p := basePaths[0]
			p.Path = marker
			in.Spec.Rules[0].HTTP.Paths = append(slices.Clone(basePaths), p)
		})

		if row.ignored {
			waitFor(t, 30*time.Second, "Traefik to drop the Ingress", func() bool {
				raw, err := tr.rawdata()
				if err != nil {
					return false
				}
				n, _, _ := raw.nginxRouterFor(w.host)
				return n == "" && strings.Contains(tr.logSince(off), "Ignoring Ingress cannot create proxy SSL configuration")
			})
			row.gotServerName = "-"
			if i := strings.Index(tr.logSince(off), "Ignoring Ingress cannot create proxy SSL configuration"); i >= 0 {
				l := tr.logSince(off)[i:]
				if j := strings.IndexByte(l, '\n'); j >= 0 {
					l = l[:j]
				}
				row.evidence = "Traefik: " + l
			}
		} else {
			tr.waitForNginxRouter(t, w.host, marker)
			var conf *nginxConf
			waitFor(t, 30*time.Second, "the row's configuration in Traefik's log", func() bool {
				for _, c := range tr.nginxConfsSince(off) {
					if _, _, ok := c.transportOf(w.host, marker); ok {
						c := c
						conf = &c
					}
				}
				return conf != nil
			})
			if _, st, _ := conf.transportOf(w.host, marker); st != nil {
				row.gotTransport = true
				row.gotServerName, row.gotSkip = st.ServerName, st.InsecureSkipVerify
			} else {
				row.gotServerName = "-"
			}
		}

		// A new gateway stand-in for every row: no connection Traefik pooled
		// for an earlier row survives.
		gwRow := w.startGateway(t)
		pn.Retarget(gwRow.Addr())
		gw.Close()
		gw = gwRow
		logOff := tr.logSize()
		code, body, err := tr.until(w.host, "/status/418", roots, row.wantCode, 10*time.Second)
		if err != nil {
			t.Errorf("%s: request through Traefik: %v", row.name, err)
		}
		row.gotCode = code
		if code == http.StatusTeapot && !strings.Contains(body, "teapot") {
			// noop@internal behind the redirect router answers 418 too, empty.
			row.noop = true
		}
		row.gotSNI = "-"
		if reqs := gwRow.Requests(); len(reqs) > 0 {
			row.gotSNI = reqs[len(reqs)-1].SNI
		}
		gwRow.WaitHandshakeError("", 300*time.Millisecond)
		var evidence []string
		if errs := gwRow.HandshakeErrors(); len(errs) > 0 {
			e := errs[len(errs)-1]
			if m := sniRefusal.FindStringSubmatch(e); m != nil && row.gotSNI == "-" {
				row.gotSNI = m[1]
			}
			evidence = append(evidence, "gateway: "+e)
		}
		if e := traefikUpstreamError(tr.logSince(logOff)); e != "" {
			evidence = append(evidence, "Traefik: "+e)
		}
		if row.noop {
			evidence = append(evidence, "empty 418: the redirect router's noop@internal, not the app")
		}
		if code != http.StatusTeapot && len(evidence) == 0 {
			evidence = append(evidence, fmt.Sprintf("body %q", strings.TrimSpace(body)))
		}
		if row.evidence == "" {
			row.evidence = strings.Join(evidence, "; ")
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Traefik v3.6.12 ingress-nginx provider, starting from the plugin's annotations %v:\n", baseAnnotations)
	b.WriteString("| annotations | transport serverName | insecureSkipVerify | HTTP | SNI at gateway | reading | evidence |\n|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		sn := row.gotServerName
		if sn == "" {
			sn = `""`
		}
		skip := fmt.Sprint(row.gotSkip)
		if !row.gotTransport {
			skip = "-"
		}
		sni := row.gotSNI
		if sni == "" {
			sni = "(none)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", strings.ReplaceAll(row.name, "$GW", "<gw>"),
			strings.ReplaceAll(sn, GW, "<gw>"), skip, row.gotCode, strings.ReplaceAll(sni, GW, "<gw>"), row.reading, strings.ReplaceAll(row.evidence, GW, "<gw>"))
	}
	t.Log(b.String())
	for _, row := range rows {
		if row.gotServerName != row.wantServerName || (row.gotTransport && row.gotSkip != row.wantSkip) || row.gotCode != row.wantCode || row.gotSNI != row.wantSNI || row.noop {
			t.Errorf("%s: want serverName %q skipVerify %v, %d, SNI %q; got serverName %q skipVerify %v, %d, SNI %q (%s)",
				row.name, row.wantServerName, row.wantSkip, row.wantCode, row.wantSNI, row.gotServerName, row.gotSkip, row.gotCode, row.gotSNI, row.evidence)
		}
	}
	if t.Failed() {
		t.Logf("Traefik errors and warnings:\n%s", tr.logProblems())
	}
}

var sniRefusal = regexp.MustCompile(`no filter chain matches SNI "([^"]*)"`)

// traefikUpstreamError is the reason Traefik logged for its last failed
// request to a server (pkg/proxy/httputil/proxy.go: `<status> <text>
// error="…"`, ERR for TLS configuration errors, DEBUG otherwise), if any.
func traefikUpstreamError(log string) string {
	var last string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "pkg/proxy/httputil/proxy.go") {
			continue
		}
		if i := strings.Index(l, "> "); i >= 0 {
			last = strings.TrimSpace(l[i+2:])
		}
	}
	return last
}

// updateNginxIngress changes the Ingress with a read-modify-write.
func updateNginxIngress(t *testing.T, ctx context.Context, ns, name string, change func(*networkingv1.Ingress)) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		in, err := env.kube.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		change(in)
		if _, err = env.kube.NetworkingV1().Ingresses(ns).Update(ctx, in, metav1.UpdateOptions{}); err == nil {
			return
		}
		if attempt > 3 {
			t.Fatalf("updating Ingress %s/%s: %v", ns, name, err)
		}
	}
}

// waitFor polls cond every 200 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// iksCompatLayer makes the cluster show what IKS shows for a public Traefik
// ALB running the ingress-nginx compatibility layer: its entry in
// kube-system/ibm-ingress-deploy-config and its Deployment with an IKS
// image tag. Both go at the end of the test: the cluster is shared, and
// other tests' nginx chains must not be judged as Traefik's.
func iksCompatLayer(t *testing.T, ctx context.Context, tag string) {
	t.Helper()
	const alb = "public-crc0ffee-alb1"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "ibm-ingress-deploy-config", Namespace: "kube-system"},
		Data:       map[string]string{alb: `{"ingressProvider":"ingress-nginx","replicas":"2"}`},
	}
	if _, err := env.kube.CoreV1().ConfigMaps("kube-system").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": alb}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: alb, Namespace: "kube-system"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "traefik", Image: "icr.io/ext/traefik:" + tag}}},
			},
		},
	}
	if _, err := env.kube.AppsV1().Deployments("kube-system").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.kube.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
		_ = env.kube.AppsV1().Deployments("kube-system").Delete(context.Background(), alb, metav1.DeleteOptions{})
	})
}
