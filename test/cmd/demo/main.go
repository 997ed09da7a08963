// Command demo shows the whole chain on this machine: a real kube-apiserver
// with Istio's CRDs and what an IKS cluster holds before the plugin runs, the
// plugin's slices run through `kubectl albistio`, then a request carried by
// nginx (the ALB) over mutual TLS to a gateway stand-in configured from the
// Gateway and secrets the plugin wrote. Everything is torn down at the end.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/datapath"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

func main() {
	pluginDir := flag.String("plugin-dir", os.Getenv("ALBISTIO_PLUGIN_DIR"), "directory holding kubectl-albistio (make build puts it in bin/)")
	flag.Parse()
	if err := run(*pluginDir); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func run(pluginDir string) error {
	if pluginDir == "" {
		return errors.New("no plugin: run `make demo` (it builds bin/kubectl-albistio) or pass -plugin-dir")
	}
	pluginDir, _ = filepath.Abs(pluginDir)
	if _, err := datapath.NginxPath(); err != nil {
		return fmt.Errorf("%w (apt-get install nginx; make demo does it for you)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "albistio-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("Starting a local Kubernetes API server (etcd + kube-apiserver v1.37) with Istio's CRDs")
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		return err
	}
	defer func() {
		step("Tearing down the local cluster")
		c.Stop()
	}()
	fmt.Println("    API server:", c.Server)
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}

	step("Creating what IKS and managed Istio provide: the ALB's TLS secret in default, the gateway's NLB secret\n    in istio-system, the istio-ingressgateway Service, httpbin in httptools, IngressClass public-iks-k8s-nginx.\n    Both certificates come from a Let's-Encrypt-shaped test CA and, as since 2026-02-11, allow only serverAuth.")
	p := fixtures.Params{
		ALBSecretName: "mycluster-a1b2c3-0000", IstioNamespace: "istio-system", AppNamespace: "httptools",
		ALBDomain:         "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud",
		GatewayDomain:     "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud",
		GatewaySecretName: "mycluster-a1b2c3-0001",
	}
	iks, err := fixtures.NewIKS(ctx, kube, p)
	if err != nil {
		return err
	}
	caFile := filepath.Join(dir, "test-root.pem") // a public certificate: the test CA's root
	if err := os.WriteFile(caFile, iks.RootPEM, 0o644); err != nil {
		return err
	}

	envv := []string{
		"PATH=" + pluginDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"KUBECONFIG=" + c.Kubeconfig,
		"ALB_INGRESS_DOMAIN=" + p.ALBDomain, "ALB_SECRET=" + p.ALBSecretName,
		"INGRESS_GATEWAY_DOMAIN=" + p.GatewayDomain, "INGRESS_GATEWAY_SECRET=" + p.GatewaySecretName,
	}
	fmt.Println("    export ALB_INGRESS_DOMAIN=" + p.ALBDomain + " ALB_SECRET=" + p.ALBSecretName)
	fmt.Println("    export INGRESS_GATEWAY_DOMAIN=" + p.GatewayDomain + " INGRESS_GATEWAY_SECRET=" + p.GatewaySecretName)

	slices := []struct {
		why  string
		args []string
	}{
		{"secrets: the ALB certificate cannot authenticate a TLS client any more, so the plugin creates a private CA,\n    issues the ALB a client certificate, and puts the CA into the gateway's -cacert secret", []string{"secrets", "-n", "httptools", "--ca-file", caFile}},
		{"gateway: an Istio Gateway with tls.mode MUTUAL on 443 and a VirtualService routing /status to httpbin", []string{"gateway", "-n", "httptools"}},
		{"ingress: an ingress-nginx Ingress that re-encrypts to the gateway with the client certificate, SNI on", []string{"ingress", "-n", "httptools", "--ca-file", caFile}},
		{"running secrets again: nothing changed, so nothing is written", []string{"secrets", "-n", "httptools", "--ca-file", caFile}},
	}
	for _, s := range slices {
		step("kubectl albistio %s\n    (%s)", strings.Join(s.args, " "), s.why)
		if err := kubectl(ctx, envv, s.args...); err != nil {
			return err
		}
	}
	if hasCheck(ctx, envv) {
		step("kubectl albistio check -n httptools: static checks of the whole chain")
		if err := kubectl(ctx, envv, "check", "-n", "httptools", "--ca-file", caFile); err != nil {
			return err
		}
	}

	step("Starting the data path from the objects the plugin wrote: nginx plays the ALB (config rendered from the\n    Ingress as ingress-nginx renders it), a Go TLS server plays the Envoy gateway (certificate from credentialName,\n    client CA from -cacert, client certificates verified for client auth as Envoy does)")
	gcfg, err := datapath.GatewayFromCluster(ctx, dyn, kube, "istio-system", "albistio-"+p.GatewaySecretName, datapath.InWorkloadNamespace("istio-system"))
	if err != nil {
		return err
	}
	gw, err := datapath.StartGateway(gcfg)
	if err != nil {
		return err
	}
	defer gw.Close()
	ing, err := kube.NetworkingV1().Ingresses("istio-system").Get(ctx, "albistio-httptools-httpbin", metav1.GetOptions{})
	if err != nil {
		return err
	}
	ncfg, err := datapath.NginxFromIngress(ctx, kube, ing, gw.Addr())
	if err != nil {
		return err
	}
	n, err := datapath.StartNginx(filepath.Join(dir, "nginx"), ncfg)
	if err != nil {
		return err
	}
	defer n.Stop()

	url := "https://httpbin." + p.ALBDomain + "/status/418"
	step("GET %s  (client → nginx → mutual TLS → gateway → app)", url)
	roots := x509.NewCertPool()
	roots.AddCert(iks.PKI.Root)
	resp, err := n.Client(roots).Get(url)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("    HTTP %s%s\n", resp.Status, body)
	if resp.StatusCode != 418 {
		return fmt.Errorf("expected 418 through the chain; nginx error.log:\n%s\ngateway: %q", n.ErrorLog(), gw.HandshakeErrors())
	}
	if reqs := gw.Requests(); len(reqs) > 0 {
		r := reqs[len(reqs)-1]
		fmt.Printf("    the gateway saw SNI %q, Host %q, client certificate %q\n", r.SNI, r.Host, r.ClientSubject)
	}
	step("Done: the ALB host is served through the Istio gateway over mutual TLS")
	return nil
}

func kubectl(ctx context.Context, envv []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"albistio"}, args...)...)
	cmd.Env = envv
	cmd.Stdout, cmd.Stderr = prefixed{os.Stdout}, prefixed{os.Stdout}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl albistio %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// hasCheck says whether this build of the plugin has the check command.
func hasCheck(ctx context.Context, envv []string) bool {
	cmd := exec.CommandContext(ctx, "kubectl", "albistio", "check", "--help")
	cmd.Env = envv
	return cmd.Run() == nil
}

// prefixed indents the plugin's output under each step.
type prefixed struct{ w io.Writer }

func (p prefixed) Write(b []byte) (int, error) {
	s := strings.TrimRight(string(b), "\n")
	_, err := fmt.Fprintln(p.w, "    "+strings.ReplaceAll(s, "\n", "\n    "))
	return len(b), err
}
