package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// The Traefik the ALB runs on today's IKS, built from the Go module proxy by
// test/traefik/build.sh into the test binaries' directory.
const (
	traefikModule       = "github.com/traefik/traefik/v3"
	traefikGroupVersion = "traefik.io/v1alpha1"
	// traefikCRDPath is Traefik's CRD bundle inside its module.
	traefikCRDPath = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
)

// skipOrFailTraefik skips a Traefik test for a missing prerequisite, or
// fails it when ALBISTIO_REQUIRE_TRAEFIK=1 (CI, where skipping would hide it).
func skipOrFailTraefik(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("ALBISTIO_REQUIRE_TRAEFIK") == "1" {
		t.Fatalf("%s (ALBISTIO_REQUIRE_TRAEFIK=1)", why)
	}
	t.Skip(why)
}

// traefikOrSkip returns the path of the Traefik binary.
func traefikOrSkip(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(cluster.DefaultBinDir(), "traefik")
	if _, err := os.Stat(bin); err != nil {
		skipOrFailTraefik(t, fmt.Sprintf("Traefik is not built: %s is missing (run test/traefik/build.sh: ~10 min cold, ~3.3 GB RAM)", bin))
	}
	return bin
}

// traefikModuleDir is the directory of Traefik's module in the module cache,
// as the wrapper module test/traefik resolves it.
func traefikModuleDir() (string, error) {
	wrapper := filepath.Join(cluster.ModuleDir(), "traefik")
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", traefikModule)
		cmd.Dir = wrapper
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go list -m %s in %s: %v: %s", traefikModule, wrapper, err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err == nil && dir == "" {
		dl := exec.Command("go", "mod", "download", traefikModule)
		dl.Dir = wrapper
		if out, err := dl.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go mod download %s: %v: %s", traefikModule, err, out)
		}
		dir, err = list()
	}
	if err == nil && dir == "" {
		err = fmt.Errorf("module %s is not in the module cache", traefikModule)
	}
	return dir, err
}

var traefikCRDs struct {
	once sync.Once
	err  error
}

// installTraefikCRDs installs Traefik's CRDs from its module (once per test
// binary: every test shares the API server) and waits until they are
// Established and discovery serves traefik.io/v1alpha1 serverstransports,
// which `albistio ingress --alb-flavor traefik` writes.
func installTraefikCRDs(t *testing.T) {
	t.Helper()
	traefikCRDs.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		traefikCRDs.err = doInstallTraefikCRDs(ctx)
	})
	if traefikCRDs.err != nil {
		t.Fatalf("installing Traefik's CRDs: %v", traefikCRDs.err)
	}
}

func doInstallTraefikCRDs(ctx context.Context) error {
	dir, err := traefikModuleDir()
	if err != nil {
		return err
	}
	file := filepath.Join(dir, traefikCRDPath)
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	crds := env.dyn.Resource(gvrOf("apiextensions.k8s.io", "v1", "customresourcedefinitions"))
	var names []string
	dec := yaml.NewYAMLOrJSONDecoder(f, 64*1024)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("reading %s: %w", file, err)
		}
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		names = append(names, obj.GetName())
		if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", obj.GetName(), err)
		}
	}
	if !slices.Contains(names, "serverstransports.traefik.io") {
		return fmt.Errorf("%s defines no serverstransports.traefik.io (CRDs found: %v)", file, names)
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err != nil || !crdEstablished(crd) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d Traefik CRDs to be Established: %w", len(names), err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(env.cluster.RESTConfig())
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		list, err := disc.ServerResourcesForGroupVersion(traefikGroupVersion)
		if err != nil {
			return false, nil
		}
		return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "serverstransports" }), nil
	})
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// traefikProc is a running Traefik with the kubernetesingress and
// kubernetescrd providers watching the test API server.
type traefikProc struct {
	cmd       *exec.Cmd
	done      chan struct{}
	websecure string // 127.0.0.1:port of the websecure entry point
	web       string // 127.0.0.1:port of the plain entry point "web", if any
	api       string // 127.0.0.1:port of the API (entry point "traefik")
	apiTLS    bool   // the API's entry point has entry-point TLS (Traefik's default certificate)
	logPath   string
	accessLog string
}

// traefikOptions change what startTraefikWith runs; the zero value is
// startTraefik's Traefik.
type traefikOptions struct {
	// ingressNginx adds Traefik's kubernetesingressnginx provider (the
	// ingress-nginx compatibility layer), watching the one namespace given.
	ingressNginx bool
	// nginxController is the spec.controller of the IngressClasses the
	// ingress-nginx provider serves (its controllerClass); empty: the
	// provider's default, k8s.io/ingress-nginx.
	nginxController string
	// noIngress leaves the kubernetesingress provider out, as an IKS Traefik
	// ALB does when ibm-ingress-deploy-config says ingressProvider:
	// ingress-nginx (it runs one Ingress provider or the other).
	noIngress bool
	// websecureTLS turns TLS on for the whole websecure entry point
	// (entryPoints.websecure.http.tls), as Traefik's Helm chart does.
	websecureTLS bool
	// web adds a plain-HTTP entry point "web". The ingress-nginx provider
	// attaches the HTTP→HTTPS redirect router it makes for every TLS Ingress
	// to the entry points without entry-point TLS (Traefik's static
	// configuration fills them in).
	web bool
	// apiTLS turns TLS on for the API's entry point "traefik" too: with
	// websecureTLS and without web, no entry point is left without TLS.
	apiTLS bool
}

// startTraefik runs Traefik as the ALB: entry point websecure on a free
// loopback port, TLS only where a router asks for it (the Ingress's
// router.tls annotation), both Kubernetes providers restricted to
// namespaces, authenticating with the admin token and trusting the API
// server's CA. Logs go to files in a temporary directory, at DEBUG.
func startTraefik(t *testing.T, bin string, namespaces []string) *traefikProc {
	t.Helper()
	return startTraefikWith(t, bin, namespaces, traefikOptions{})
}

// startTraefikWith is startTraefik with opts.
func startTraefikWith(t *testing.T, bin string, namespaces []string, opts traefikOptions) *traefikProc {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	// A file, not the value, so the token does not show in ps.
	if err := os.WriteFile(tokenFile, []byte(env.cluster.Token(cluster.Admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	tp := &traefikProc{
		done:      make(chan struct{}),
		websecure: freeLoopbackAddr(t),
		api:       freeLoopbackAddr(t),
		logPath:   filepath.Join(dir, "traefik.log"),
		accessLog: filepath.Join(dir, "access.log"),
	}
	args := []string{
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		"--log.level=DEBUG",
		"--log.noColor=true",
		"--log.filePath=" + tp.logPath,
		"--accessLog=true",
		"--accessLog.filePath=" + tp.accessLog,
		"--entryPoints.websecure.address=" + tp.websecure,
		"--entryPoints.traefik.address=" + tp.api,
		"--api=true",
		"--api.insecure=true",
		"--api.dashboard=false",
	}
	providers := []string{"kubernetesingress", "kubernetescrd"}
	if opts.noIngress {
		providers = providers[1:]
	}
	for _, p := range providers {
		args = append(args,
			"--providers."+p+"=true",
			"--providers."+p+".endpoint="+env.cluster.Server,
			"--providers."+p+".token="+tokenFile,
			"--providers."+p+".certAuthFilePath="+env.cluster.CAFile,
			"--providers."+p+".namespaces="+strings.Join(namespaces, ","),
		)
	}
	if opts.ingressNginx {
		if len(namespaces) != 1 {
			t.Fatalf("the ingress-nginx provider watches one namespace (watchNamespace), got %v", namespaces)
		}
		const p = "kubernetesingressnginx"
		args = append(args,
			"--providers."+p+"=true",
			"--providers."+p+".endpoint="+env.cluster.Server,
			"--providers."+p+".token="+tokenFile,
			"--providers."+p+".certAuthFilePath="+env.cluster.CAFile,
			"--providers."+p+".watchNamespace="+namespaces[0],
		)
		if opts.nginxController != "" {
			args = append(args, "--providers."+p+".controllerClass="+opts.nginxController)
		}
	}
	if opts.websecureTLS {
		args = append(args, "--entryPoints.websecure.http.tls=true")
	}
	if opts.web {
		tp.web = freeLoopbackAddr(t)
		args = append(args, "--entryPoints.web.address="+tp.web)
	}
	if opts.apiTLS {
		tp.apiTLS = true
		args = append(args, "--entryPoints.traefik.http.tls=true")
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// Nothing from the test's environment: no KUBECONFIG or
	// KUBERNETES_SERVICE_HOST (either would override the endpoint flags) and
	// no HTTP(S)_PROXY (Traefik's transports honour it).
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = traefikSysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Traefik: %v", err)
	}
	tp.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(tp.done)
	}()
	t.Cleanup(tp.stop)
	t.Logf("Traefik pid %d: websecure %s, API %s, log %s", cmd.Process.Pid, tp.websecure, tp.api, tp.logPath)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-tp.done:
			return false, errors.New("traefik exited")
		default:
		}
		resp, err := tp.apiGet("/api/overview")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
		t.Fatalf("Traefik's API did not come up: %v\nstdout/stderr:\n%s\nlog:\n%s", err, b, tp.logTail(40))
	}
	return tp
}

func (tp *traefikProc) stop() {
	select {
	case <-tp.done:
		return
	default:
	}
	_ = tp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tp.done:
	case <-time.After(10 * time.Second):
		_ = tp.cmd.Process.Kill()
		<-tp.done
	}
}

// traefikRouter is what Traefik's API shows of one HTTP router.
type traefikRouter struct {
	EntryPoints []string        `json:"entryPoints"`
	Service     string          `json:"service"`
	Rule        string          `json:"rule"`
	TLS         json.RawMessage `json:"tls"`
	Status      string          `json:"status"`
	Error       []string        `json:"error"`
}

// traefikService is what Traefik's API shows of one HTTP service.
type traefikService struct {
	LoadBalancer *struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		ServersTransport string `json:"serversTransport"`
	} `json:"loadBalancer"`
	Status string   `json:"status"`
	Error  []string `json:"error"`
}

// traefikRaw is Traefik's /api/rawdata: its whole runtime configuration.
type traefikRaw struct {
	Routers  map[string]traefikRouter  `json:"routers"`
	Services map[string]traefikService `json:"services"`
	raw      []byte
}

// apiGet sends GET path to Traefik's API (over TLS, not verified, with apiTLS).
func (tp *traefikProc) apiGet(path string) (*http.Response, error) {
	if !tp.apiTLS {
		return http.Get("http://" + tp.api + path)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // Traefik's self-signed default certificate, on loopback
	}}
	return c.Get("https://" + tp.api + path)
}

func (tp *traefikProc) rawdata() (*traefikRaw, error) {
	resp, err := tp.apiGet("/api/rawdata")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var raw traefikRaw
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decoding /api/rawdata: %w", err)
	}
	raw.raw = b
	return &raw, nil
}

// routerFor finds the router from the kubernetes (Ingress) provider whose
// rule matches host, and its service.
func (raw *traefikRaw) routerFor(host string) (string, *traefikRouter, *traefikService) {
	names := make([]string, 0, len(raw.Routers))
	for n := range raw.Routers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := raw.Routers[n]
		if strings.HasSuffix(n, "@kubernetes") && strings.Contains(r.Rule, `Host("`+host+`")`) {
			var svc *traefikService
			if s, ok := raw.Services[r.Service+"@kubernetes"]; ok {
				svc = &s
			} else if s, ok := raw.Services[r.Service]; ok {
				svc = &s
			}
			return n, &r, svc
		}
	}
	return "", nil, nil
}

// waitForRouter polls Traefik's API until the Ingress's router for host is
// enabled and its service has a server (Traefik has read the Ingress, the
// Service and the EndpointSlice), for up to a minute.
func (tp *traefikProc) waitForRouter(t *testing.T, host string) (*traefikRaw, string, *traefikRouter, *traefikService) {
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
			name, r, s := raw.routerFor(host)
			if r != nil && r.Status == "enabled" && s != nil && s.LoadBalancer != nil && len(s.LoadBalancer.Servers) > 0 {
				return raw, name, r, s
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	var rawText string
	if last != nil {
		rawText = string(last.raw)
	}
	t.Fatalf("Traefik never loaded an enabled router for Host(%q) with a server\n/api/rawdata: %s\nlog (errors and warnings):\n%s\nlog tail:\n%s",
		host, rawText, tp.logProblems(), tp.logTail(40))
	return nil, "", nil, nil
}

// client sends requests for host to the websecure entry point, verifying
// Traefik's certificate for host against roots; no connection is reused.
func (tp *traefikProc) client(host string, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, tp.websecure)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
			Proxy:             nil,
		},
	}
}

// get sends GET https://host/path to Traefik; err is a transport error.
func (tp *traefikProc) get(host, path string, roots *x509.CertPool) (int, string, error) {
	resp, err := tp.client(host, roots).Get("https://" + host + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// logTail is the last n lines of Traefik's log.
func (tp *traefikProc) logTail(n int) string {
	b, err := os.ReadFile(tp.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logProblems are Traefik's log lines at warning level or above.
func (tp *traefikProc) logProblems() string {
	f, err := os.Open(tp.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, " WRN ") || strings.Contains(l, " ERR ") || strings.Contains(l, " FTL ") {
			out = append(out, l)
		}
	}
	if len(out) > 60 {
		out = out[len(out)-60:]
	}
	return strings.Join(out, "\n")
}

// accessLogTail is the last n lines of Traefik's access log.
func (tp *traefikProc) accessLogTail(n int) string {
	b, err := os.ReadFile(tp.accessLog)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
