package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// apiServer answers a few paths with fixed JSON; anything else is 404.
// It counts the requests for each path.
type apiServer struct {
	*httptest.Server
	answers map[string]string
	hits    map[string]*atomic.Int32
}

func newAPIServer(t *testing.T, answers map[string]string) *apiServer {
	t.Helper()
	s := &apiServer{answers: answers, hits: map[string]*atomic.Int32{}}
	for p := range answers {
		s.hits[p] = &atomic.Int32{}
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.answers[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}`))
			return
		}
		s.hits[r.URL.Path].Add(1)
		if strings.Contains(body, `"reason":"Forbidden"`) {
			w.WriteHeader(http.StatusForbidden)
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// flagsFor are kubectl's flags for a kubeconfig naming srv, with kubectl's
// cache under cacheDir.
func flagsFor(t *testing.T, srv *httptest.Server, cacheDir string) *genericclioptions.ConfigFlags {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "app"}
	cfg.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	cf := genericclioptions.NewConfigFlags(false)
	cf.KubeConfig = &path
	cf.CacheDir = &cacheDir
	return cf
}

const istioGroup = `{"kind":"APIGroup","apiVersion":"v1","name":"networking.istio.io","versions":[{"groupVersion":"networking.istio.io/v1","version":"v1"},{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"}]}`

// NewClients builds clients from kubectl's flags that read through the
// server: the Istio version from discovery, the ALB flavor from the
// IngressClasses, the gateway's HTTPS port from its Service, a secret.
func TestClientsReadThroughTheServer(t *testing.T) {
	srv := newAPIServer(t, map[string]string{
		"/apis/networking.istio.io": istioGroup,
		"/apis/networking.k8s.io/v1/ingressclasses": `{"kind":"IngressClassList","apiVersion":"networking.k8s.io/v1","items":[
			{"metadata":{"name":"private-iks-k8s-nginx"},"spec":{"controller":"k8s.io/ingress-nginx"}},
			{"metadata":{"name":"public-iks-k8s-nginx"},"spec":{"controller":"k8s.io/ingress-nginx"}}]}`,
		"/api/v1/namespaces/istio-system/services/istio-ingressgateway": `{"kind":"Service","apiVersion":"v1","metadata":{"name":"istio-ingressgateway","namespace":"istio-system"},
			"spec":{"selector":{"istio":"ingressgateway"},"ports":[{"name":"http2","port":80,"targetPort":8080},{"name":"https","port":443,"targetPort":8443}]}}`,
		"/api/v1/namespaces/istio-system/secrets/gw": `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"gw","namespace":"istio-system"},"type":"kubernetes.io/tls","data":{"tls.crt":"Y2VydA=="}}`,
	})
	c, err := NewClients(flagsFor(t, srv.Server, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := c.IstioVersion(ctx)
	if err != nil || v != "v1" {
		t.Fatalf("IstioVersion = %q, %v; want v1", v, err)
	}
	p := &chain.Params{Flavor: chain.FlavorAuto, IstioNamespace: "istio-system", GatewayService: "istio-ingressgateway", GatewayServicePort: 443}
	if err := c.ResolveFlavor(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p.Flavor != chain.FlavorNginx || p.IngressClass != "public-iks-k8s-nginx" {
		t.Errorf("flavor %q class %q, want nginx and the public class", p.Flavor, p.IngressClass)
	}
	svc, b, err := c.GatewayBackend(ctx, p)
	if err != nil || svc == nil || b.TargetPort.IntValue() != 8443 || b.Selector["istio"] != "ingressgateway" {
		t.Fatalf("GatewayBackend = %v, %+v, %v; want target port 8443 and the Service's selector", svc, b, err)
	}
	p.GatewayServicePort = 8443
	if _, _, err := c.GatewayBackend(ctx, p); err == nil || !strings.Contains(err.Error(), "has no port 8443") {
		t.Errorf("a missing port: %v", err)
	}
	p.GatewayService = "elsewhere"
	var ke *Error
	if _, _, err := c.GatewayBackend(ctx, p); !errors.As(err, &ke) || ke.Code != ExitInvalidInput {
		t.Errorf("a missing gateway Service: %v, want exit %d", err, ExitInvalidInput)
	}
	s, err := c.GetSecret(ctx, "istio-system", "gw")
	if err != nil || s == nil || string(s.Data["tls.crt"]) != "cert" {
		t.Fatalf("GetSecret = %v, %v", s, err)
	}
	if s, err := c.GetSecret(ctx, "istio-system", "absent"); s != nil || err != nil {
		t.Errorf("an absent secret: %v, %v; want nil, nil", s, err)
	}
}

// A group not served is Istio not installed (exit 3); a group serving only
// versions too old is said so.
func TestIstioVersionNotServed(t *testing.T) {
	srv := newAPIServer(t, map[string]string{})
	c, err := NewClients(flagsFor(t, srv.Server, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var ke *Error
	if _, err := c.IstioVersion(context.Background()); !errors.As(err, &ke) || ke.Code != ExitInvalidInput || !strings.Contains(err.Error(), "Istio's CRDs are not installed") {
		t.Errorf("no Istio: %v", err)
	}
	old := newAPIServer(t, map[string]string{"/apis/networking.istio.io": `{"kind":"APIGroup","name":"networking.istio.io","versions":[{"version":"v1alpha3"}]}`})
	c, err = NewClients(flagsFor(t, old.Server, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IstioVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "serves only v1alpha3") {
		t.Errorf("only v1alpha3: %v", err)
	}
	if v := PreferredIstioVersion([]string{"v1alpha3", "v1beta1"}); v != "v1beta1" {
		t.Errorf("PreferredIstioVersion = %q, want v1beta1", v)
	}
}

// kubectl's discovery cache answers for the groups it lists, while it is
// fresh: no request.
func TestAPIGroupFromKubectlCache(t *testing.T) {
	srv := newAPIServer(t, map[string]string{"/apis/networking.istio.io": istioGroup})
	cache := t.TempDir()
	cf := flagsFor(t, srv.Server, cache)
	dir := discoveryCacheDir(filepath.Join(cache, "discovery"), srv.URL)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	list := `{"kind":"APIGroupList","groups":[{"name":"networking.istio.io","versions":[{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "servergroups.json"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := NewClients(cf)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.APIGroup(context.Background(), "networking.istio.io")
	if err != nil || g == nil || g.Versions[0].Version != "v1beta1" {
		t.Fatalf("APIGroup = %+v, %v; want the cached v1beta1", g, err)
	}
	if n := srv.hits["/apis/networking.istio.io"].Load(); n != 0 {
		t.Errorf("%d requests for a cached group, want 0", n)
	}
	// A group the cache lacks is asked for.
	if g, err := c.APIGroup(context.Background(), "cert-manager.io"); g != nil || err != nil {
		t.Errorf("an unserved group: %+v, %v; want nil, nil", g, err)
	}
	if strings.ContainsAny(filepath.Base(dir), ":/") {
		t.Errorf("cache dir %q keeps characters kubectl replaces", dir)
	}
}

// A bad --request-timeout is a usage error naming the flag, before any
// kubeconfig is read.
func TestNewClientsRequestTimeout(t *testing.T) {
	cf := genericclioptions.NewConfigFlags(false)
	bad := "-5s"
	cf.Timeout = &bad
	var ke *Error
	if _, err := NewClients(cf); !errors.As(err, &ke) || ke.Code != ExitUsage || !strings.Contains(err.Error(), "--request-timeout") {
		t.Errorf("--request-timeout -5s: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	cf = genericclioptions.NewConfigFlags(false)
	cf.KubeConfig = &missing
	ctxName := "nowhere"
	cf.Context = &ctxName
	if _, err := NewClients(cf); err == nil || !strings.Contains(err.Error(), "cannot load the kubeconfig") {
		t.Errorf("an unknown context: %v", err)
	}
}

func TestResourceFor(t *testing.T) {
	for kind, want := range map[string]string{"Secret": "secrets", "Gateway": "gateways", "ServersTransport": "serverstransports", "Certificate": "certificates"} {
		gvr, err := ResourceFor(IstioResource("v1", "x").GroupVersion().WithKind(kind))
		if err != nil || gvr.Resource != want {
			t.Errorf("ResourceFor(%s) = %v, %v; want %s", kind, gvr, err, want)
		}
	}
	if _, err := ResourceFor(Pods.GroupVersion().WithKind("Pod")); err == nil {
		t.Error("ResourceFor(Pod): no error for a kind the plugin never writes")
	}
}

// WithCode keeps the cause reachable; nil stays nil; IsForbidden tells
// an explained denial.
func TestErrorCodes(t *testing.T) {
	if WithCode(ExitError, nil) != nil {
		t.Error("WithCode(nil) is not nil")
	}
	cause := errors.New("cause")
	err := WithCode(ExitForbidden, cause)
	if !errors.Is(err, cause) || !IsForbidden(err) || IsForbidden(WithCode(ExitUsage, cause)) || IsForbidden(cause) {
		t.Errorf("codes and causes: %v", err)
	}
}
