package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// world is one IKS cluster's worth of fixtures in fresh namespaces.
type world struct {
	iks    *fixtures.IKS
	p      fixtures.Params
	caFile string // the test PKI's root (a public certificate) for --ca-file
	host   string
}

// newWorld creates the objects IKS and managed Istio have before the plugin
// runs. clientAuth false issues today's serverAuth-only certificates.
func newWorld(t *testing.T, clientAuth bool, classes ...fixtures.IngressClass) *world {
	t.Helper()
	n := seq.Add(1)
	cluster := fmt.Sprintf("c%d-a1b2c3", n)
	p := fixtures.Params{
		ALBSecretName:     cluster + "-0000",
		IstioNamespace:    fmt.Sprintf("istio-system-%d", n),
		AppNamespace:      fmt.Sprintf("httptools-%d", n),
		ALBDomain:         cluster + "-0000.jp-tok.containers.appdomain.cloud",
		GatewayDomain:     cluster + "-0001.jp-tok.containers.appdomain.cloud",
		GatewaySecretName: cluster + "-0001",
		ClientAuth:        clientAuth,
		IngressClasses:    classes,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iks, err := fixtures.NewIKS(ctx, env.kube, p)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(caFile, iks.RootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &world{iks: iks, p: iks.Params, caFile: caFile, host: "httpbin." + p.ALBDomain}
}

// gatewayName is the hop's Gateway as the plugin names it by default.
func (w *world) gatewayName() string { return "albistio-" + w.p.GatewaySecretName }

// ingressName is the httpbin chain's Ingress as the plugin names it by default.
func (w *world) ingressName() string { return "albistio-" + w.p.AppNamespace + "-httpbin" }

// flags are the chain's parameters as a user would pass them.
func (w *world) flags(extra ...string) []string {
	return append(w.p.PluginFlags(w.caFile), extra...)
}

// slice runs one writing command with the world's flags.
func (w *world) slice(t *testing.T, name string, extra ...string) result {
	t.Helper()
	args := append([]string{name}, w.flags(extra...)...)
	if name != "secrets" && name != "ingress" {
		// --ca-file belongs to the commands that read certificates.
		args = dropFlag(args, "--ca-file")
	}
	return albistio(t, args...)
}

func dropFlag(args []string, flag string) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// path is the running data path: nginx as the ALB, the Go gateway behind it.
type path struct {
	nginx   *datapath.Nginx
	gateway *datapath.GatewayServer
	roots   *x509.CertPool
}

// startPath builds nginx and the gateway from the objects in the cluster,
// read back after the plugin wrote them.
func (w *world) startPath(t *testing.T) *path {
	t.Helper()
	datapath.NginxOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw := w.startGateway(t)
	n := w.startNginx(ctx, t, w.ingressName(), gw)
	roots := x509.NewCertPool()
	roots.AddCert(w.iks.PKI.Root)
	return &path{nginx: n, gateway: gw, roots: roots}
}

// startNginx starts nginx as ingress-nginx would configure it from the
// Ingress named ingressName (in the Istio namespace), every backend sent to gw.
func (w *world) startNginx(ctx context.Context, t *testing.T, ingressName string, gw *datapath.GatewayServer) *datapath.Nginx {
	t.Helper()
	ing, err := env.kube.NetworkingV1().Ingresses(w.p.IstioNamespace).Get(ctx, ingressName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ncfg, err := datapath.NginxFromIngress(ctx, env.kube, ing, gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	n, err := datapath.StartNginx(t.TempDir(), ncfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

// startGateway starts the gateway stand-in from the hop's Gateway and the
// secrets in the cluster as they are now.
func (w *world) startGateway(t *testing.T) *datapath.GatewayServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := datapath.GatewayFromCluster(ctx, env.dyn, env.kube, w.p.IstioNamespace, w.gatewayName(), datapath.InWorkloadNamespace(w.p.IstioNamespace))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := datapath.StartGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// get sends a request for the world's host through nginx.
func (pa *path) get(t *testing.T, w *world, urlPath string) (int, string) {
	t.Helper()
	resp, err := pa.nginx.Client(pa.roots).Get("https://" + w.host + urlPath)
	if err != nil {
		t.Fatalf("request through nginx: %v\nnginx error.log:\n%s", err, pa.nginx.ErrorLog())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// curl sends the request the walkthrough's last step sends, with curl,
// resolving the ALB host to nginx.
func (pa *path) curl(t *testing.T, w *world, urlPath string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	_, port, _ := net.SplitHostPort(pa.nginx.Addr)
	out, err := exec.Command("curl", "-sS", "--max-time", "15",
		"--resolve", w.host+":"+port+":127.0.0.1", "--cacert", w.caFile,
		"-w", "\n%{http_code}", "https://"+w.host+":"+port+urlPath).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s\nnginx error.log:\n%s", err, out, pa.nginx.ErrorLog())
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndex(s, "\n")
	code := 0
	fmt.Sscan(s[i+1:], &code)
	return code, s[:i+1]
}

// expectTeapot asserts the request reached the app through the whole chain.
func (pa *path) expectTeapot(t *testing.T, code int, body string) {
	t.Helper()
	if code != http.StatusTeapot || !strings.Contains(body, "teapot") {
		t.Fatalf("want 418 and a teapot through nginx → gateway → app, got %d %q\nnginx error.log:\n%s\ngateway handshake errors: %q",
			code, body, pa.nginx.ErrorLog(), pa.gateway.HandshakeErrors())
	}
}

// expectRefused asserts the ALB answered 502 because the gateway refused
// the handshake, and that the gateway's reason mentions want.
func (pa *path) expectRefused(t *testing.T, code int, want string) {
	t.Helper()
	if code != http.StatusBadGateway {
		t.Fatalf("want 502 from the ALB, got %d\nnginx error.log:\n%s", code, pa.nginx.ErrorLog())
	}
	if !strings.Contains(pa.nginx.ErrorLog(), want) && !pa.gateway.WaitHandshakeError(want, 5*time.Second) {
		t.Fatalf("the refusal should mention %q; gateway: %q\nnginx error.log:\n%s", want, pa.gateway.HandshakeErrors(), pa.nginx.ErrorLog())
	}
}
