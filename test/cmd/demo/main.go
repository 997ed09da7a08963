// Command demo shows the whole chain on this machine: a real kube-apiserver
// with Istio's CRDs and what an IKS cluster holds before the plugin runs,
// `kubectl albistio setup` for one app and then a second app on the same ALB
// and gateway, check, then requests for both apps carried by nginx (the ALB,
// one configuration per app's Ingress) over mutual TLS to one gateway
// stand-in configured from the shared Gateway and secrets the plugin wrote.
// Everything is torn down at the end.
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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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

	step("A second team's app: namespace shop (sidecar injection on) with the Service storefront")
	if err := createApp(ctx, kube, "shop", "storefront"); err != nil {
		return err
	}

	runs := []struct {
		why  string
		args []string
	}{
		{"setup: reads and checks everything first, then writes the hop every app behind this ALB and gateway\n    shares (a private CA, the ALB's client certificate, the gateway's -cacert, one MUTUAL Gateway) and\n    httpbin's chain (VirtualService, Ingress); the ALB certificate cannot authenticate a TLS client any more", []string{"setup", "-n", "httptools", "--ca-file", caFile}},
		{"setup again: nothing changed, so nothing is written", []string{"setup", "-n", "httptools", "--ca-file", caFile}},
		{"setup for the second app: adds its chain and its host on the shared Gateway, reuses the hop", []string{"setup", "-n", "shop", "--service", "storefront", "--ca-file", caFile}},
	}
	for _, s := range runs {
		step("kubectl albistio %s\n    (%s)", strings.Join(s.args, " "), s.why)
		if err := kubectl(ctx, envv, s.args...); err != nil {
			return err
		}
	}
	if hasCheck(ctx, envv) {
		step("kubectl albistio check -n httptools: static checks of httpbin's whole chain")
		if err := kubectl(ctx, envv, "check", "-n", "httptools", "--ca-file", caFile); err != nil {
			return err
		}
	}

	step("Starting the data path from the objects the plugin wrote: nginx plays the ALB (config rendered from\n    each app's Ingress as ingress-nginx renders it), a Go TLS server plays the Envoy gateway (certificate from\n    credentialName, client CA from -cacert, client certificates verified for client auth as Envoy does)")
	gcfg, err := datapath.GatewayFromCluster(ctx, dyn, kube, "istio-system", "albistio-"+p.GatewaySecretName, datapath.InWorkloadNamespace("istio-system"))
	if err != nil {
		return err
	}
	gw, err := datapath.StartGateway(gcfg)
	if err != nil {
		return err
	}
	defer gw.Close()
	roots := x509.NewCertPool()
	roots.AddCert(iks.PKI.Root)
	for _, a := range []struct{ ingress, host string }{
		{"albistio-httptools-httpbin", "httpbin." + p.ALBDomain},
		{"albistio-shop-storefront", "storefront." + p.ALBDomain},
	} {
		ing, err := kube.NetworkingV1().Ingresses("istio-system").Get(ctx, a.ingress, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ncfg, err := datapath.NginxFromIngress(ctx, kube, ing, gw.Addr())
		if err != nil {
			return err
		}
		n, err := datapath.StartNginx(filepath.Join(dir, "nginx-"+a.ingress), ncfg)
		if err != nil {
			return err
		}
		defer n.Stop()
		if err := get(n, roots, gw, "https://"+a.host+"/status/418"); err != nil {
			return err
		}
	}
	step("Done: both apps' hosts are served through the one Istio gateway over mutual TLS")
	return nil
}

// get sends one request through nginx and prints what came back and what
// the gateway saw.
func get(n *datapath.Nginx, roots *x509.CertPool, gw *datapath.GatewayServer, url string) error {
	step("GET %s  (client → nginx → mutual TLS → gateway → app)", url)
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
	return nil
}

// createApp makes a namespace with sidecar injection and a Service, as a
// team's app has before anyone runs setup for it.
func createApp(ctx context.Context, kube kubernetes.Interface, ns, service string) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"istio-injection": "enabled"}}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": service},
			Ports:    []corev1.ServicePort{{Name: "http", Port: fixtures.AppServicePort, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	return err
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
