// Package cluster runs a real Kubernetes control plane for the end-to-end tests:
// etcd and kube-apiserver on loopback ports, RBAC on, static-token users, and
// Istio's CRDs installed. No controller-manager and no scheduler run, so
// namespaces never finish terminating and pods stay Pending: tests use fresh
// names and fixtures create what controllers would.
package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the kubeconfig context (and cluster) name of every kubeconfig written.
const ContextName = "albistio-test"

// Users of the static token file.
const (
	// Admin is in system:masters: fixtures and set-up use it.
	Admin = "admin"
	// SetupUser has no groups: tests grant it what `albistio secrets/gateway/ingress` need.
	SetupUser = "setup-user"
	// CheckUser has no groups: tests grant it read-only access for `albistio check`.
	CheckUser = "check-user"
	// OtherUser has no groups and no grants: RBAC denies it everything.
	OtherUser = "other-user"
)

// Users lists every static-token user, admin first.
func Users() []string { return []string{Admin, SetupUser, CheckUser, OtherUser} }

// Options configures Start.
type Options struct {
	// BinDir holds kube-apiserver and etcd (default: DefaultBinDir()).
	BinDir string
	// Dir holds everything the cluster writes: data, keys, kubeconfigs, logs, PID files.
	Dir string
	// Detach lets the processes outlive this one (for `cmd/cluster up`); otherwise
	// they are killed when the process that started them dies, so a crashed test
	// run leaves nothing behind.
	Detach bool
	// CRDFile is the Istio CRD manifest (default: IstioCRDFile()).
	CRDFile string
}

// Cluster is a running etcd + kube-apiserver pair.
type Cluster struct {
	// Dir is the absolute directory of Options.Dir.
	Dir string
	// Server is the API server URL, https://127.0.0.1:<port>.
	Server string
	// Kubeconfig is the admin kubeconfig path (context ContextName).
	Kubeconfig string
	// CAFile is the PEM file of the CA that signed the API server's serving cert.
	CAFile string

	binDir  string
	detach  bool
	tokens  map[string]string
	caPEM   []byte
	etcdURL string
	apiArgs []string

	mu   sync.Mutex
	etcd *proc
	api  *proc
	// certManager is the controller StartCertManager started (certmanager.go).
	certManager *proc
}

// proc is a started process and a channel closed once it has exited and been reaped.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// DefaultBinDir is $ALBISTIO_TEST_BIN, else the test module's bin directory.
func DefaultBinDir() string {
	if d := os.Getenv("ALBISTIO_TEST_BIN"); d != "" {
		return d
	}
	return filepath.Join(ModuleDir(), "bin")
}

// ModuleDir is the test module's root directory, found from this source file so
// that it works from any package's test working directory.
func ModuleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Dir(filepath.Dir(file))
}

// IstioCRDFile finds kubernetes/customresourcedefinitions.gen.yaml of the
// istio.io/api module the test module requires, downloading the module if the
// cache lacks it.
func IstioCRDFile() (string, error) {
	dir, err := goModDir("istio.io/api")
	if err != nil {
		return "", err
	}
	f := filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml")
	if _, err := os.Stat(f); err != nil {
		return "", fmt.Errorf("finding the Istio CRDs: %w", err)
	}
	return f, nil
}

func goModDir(module string) (string, error) {
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
		cmd.Dir = ModuleDir()
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go list -m %s in %s: %w", module, cmd.Dir, withStderr(err))
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err == nil && dir == "" {
		// An empty Dir means "required but not in the module cache yet".
		dl := exec.Command("go", "mod", "download", module)
		dl.Dir = ModuleDir()
		if err := dl.Run(); err != nil {
			return "", fmt.Errorf("go mod download %s: %w", module, withStderr(err))
		}
		dir, err = list()
	}
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache", module)
	}
	return dir, nil
}

func withStderr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// Start starts etcd and kube-apiserver, waits until /readyz answers "ok", writes
// the kubeconfigs and installs Istio's CRDs. ctx bounds only the start-up: the
// processes run until Stop.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Dir == "" {
		return nil, errors.New("cluster.Start: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	binDir := opts.BinDir
	if binDir == "" {
		binDir = DefaultBinDir()
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s (build it with `cd test && go build -o bin/ k8s.io/kubernetes/cmd/kube-apiserver ./cmd/etcd`, or set ALBISTIO_TEST_BIN): %w", b, binDir, err)
		}
	}
	crdFile := opts.CRDFile
	if crdFile == "" {
		if crdFile, err = IstioCRDFile(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}

	c := &Cluster{Dir: dir, binDir: binDir, detach: opts.Detach, tokens: map[string]string{}}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if err := c.writeCredentials(); err != nil {
		return nil, err
	}
	if err := c.startEtcd(ctx); err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.apiArgs = []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--authorization-mode=RBAC",
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--service-account-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		// The default reconciler would publish 127.0.0.1 as the kubernetes
		// Service's endpoint, which EndpointSlices reject.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=1",
	}
	if err := c.startAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfigs(); err != nil {
		return nil, err
	}
	if err := c.installCRDs(ctx, crdFile); err != nil {
		return nil, err
	}
	return c, nil
}

// Token is the bearer token of a static-token user.
func (c *Cluster) Token(user string) string { return c.tokens[user] }

// KubeconfigFor is the path of a kubeconfig for user (same server, that user's token).
func (c *Cluster) KubeconfigFor(user string) string {
	if user == Admin {
		return c.Kubeconfig
	}
	return filepath.Join(c.Dir, "kubeconfig-"+user)
}

// RESTConfig is a client config for the admin user.
func (c *Cluster) RESTConfig() *rest.Config { return c.RESTConfigFor(Admin) }

// RESTConfigFor is a client config for a static-token user.
func (c *Cluster) RESTConfigFor(user string) *rest.Config {
	return &rest.Config{
		Host:            c.Server,
		BearerToken:     c.tokens[user],
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.caPEM...)},
		// Tests create many objects quickly; client-side throttling only slows them.
		QPS:   100,
		Burst: 200,
	}
}

// Stop stops cert-manager (if started), kube-apiserver then etcd and waits for them to exit.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := []error{c.stopCertManagerLocked()}
	if c.api != nil {
		errs = append(errs, c.api.stop(15*time.Second))
		c.api = nil
	}
	if c.etcd != nil {
		errs = append(errs, c.etcd.stop(15*time.Second))
		c.etcd = nil
	}
	_ = os.Remove(filepath.Join(c.Dir, "kube-apiserver.pid"))
	_ = os.Remove(filepath.Join(c.Dir, "etcd.pid"))
	return errors.Join(errs...)
}

// KillAPIServer kills kube-apiserver with SIGKILL (etcd keeps running), so a
// test can see how the plugin behaves when the API server dies mid-run.
func (c *Cluster) KillAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return errors.New("kube-apiserver is not running")
	}
	_ = c.api.cmd.Process.Signal(syscall.SIGKILL)
	err := c.api.wait(15 * time.Second)
	c.api = nil
	return err
}

// RestartAPIServer starts kube-apiserver again on the same port and etcd, and
// waits until it is ready; the objects stored so far are all still there.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	running := c.api != nil
	c.mu.Unlock()
	if running {
		return errors.New("kube-apiserver is still running: kill it first")
	}
	return c.startAPIServer(ctx)
}

// PIDs returns the process IDs of etcd and kube-apiserver (0 when not running).
func (c *Cluster) PIDs() (etcd, apiserver int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.etcd != nil {
		etcd = c.etcd.cmd.Process.Pid
	}
	if c.api != nil {
		apiserver = c.api.cmd.Process.Pid
	}
	return etcd, apiserver
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=" + ContextName,
		"--data-dir=" + filepath.Join(c.Dir, "etcd-data"),
		"--listen-client-urls=" + c.etcdURL,
		"--advertise-client-urls=" + c.etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=" + ContextName + "=" + peerURL,
		// Test data need not survive a power cut; fsync is most of etcd's latency.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
	p, err := c.spawn("etcd", args)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.etcd = p
	c.mu.Unlock()
	return waitFor(ctx, p, "etcd /health", func() (bool, error) {
		resp, err := http.Get(c.etcdURL + "/health")
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		var h struct {
			Health string `json:"health"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			return false, nil
		}
		return h.Health == "true", nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := c.spawn("kube-apiserver", c.apiArgs)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.api = p
	c.mu.Unlock()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	// /readyz answers "ok" only when every post-start hook (RBAC bootstrap
	// roles included) has run; a successful GET alone can come earlier.
	return waitFor(ctx, p, "kube-apiserver /readyz", func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Server+"/readyz", nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+c.tokens[Admin])
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok", nil
	})
}

// spawn starts a binary with its output appended to <Dir>/<name>.log and its PID in <Dir>/<name>.pid.
func (c *Cluster) spawn(name string, args []string) (*proc, error) {
	logPath := filepath.Join(c.Dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339), name, strings.Join(args, " "))
	cmd := exec.Command(filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.Dir
	// An *os.File (not a pipe) so no goroutine of ours has to copy the output
	// and a detached process keeps logging after we exit.
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(c.detach)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := os.WriteFile(filepath.Join(c.Dir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		return p, err
	}
	return p, nil
}

func (p *proc) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(timeout); err == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	return p.wait(timeout)
}

func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) did not exit within %s", p.name, p.cmd.Process.Pid, timeout)
	}
}

// waitFor polls ready until it is true, the process exits, or ctx ends; the
// error then carries the tail of the process's log, which says why.
func waitFor(ctx context.Context, p *proc, what string, ready func() (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := ready()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s was ready (%s):\n%s", p.name, what, p.cmd.ProcessState, tail(p.log, 30))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w\n%s", what, ctx.Err(), tail(p.log, 30))
		case <-tick.C:
		}
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// writeCredentials writes the static tokens, the service-account signing key,
// and a serving certificate for 127.0.0.1 into the cert dir, where
// kube-apiserver picks up apiserver.crt/apiserver.key instead of making its own;
// knowing the CA lets kubeconfigs verify the server.
func (c *Cluster) writeCredentials() error {
	var tokens bytes.Buffer
	for _, u := range Users() {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		c.tokens[u] = hex.EncodeToString(b)
		groups := ""
		if u == Admin {
			groups = `,"system:masters"`
		}
		fmt.Fprintf(&tokens, "%s,%s,%s%s\n", c.tokens[u], u, u, groups)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "tokens.csv"), tokens.Bytes(), 0o600); err != nil {
		return err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}), 0o600); err != nil {
		return err
	}

	pki := filepath.Join(c.Dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: ContextName + "-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, srvKey.Public(), caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	c.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	c.CAFile = filepath.Join(pki, "ca.crt")
	files := map[string][]byte{
		c.CAFile:                            c.caPEM,
		filepath.Join(pki, "apiserver.crt"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		filepath.Join(pki, "apiserver.key"): pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) writeKubeconfigs() error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	for _, u := range Users() {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters[ContextName] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.caPEM}
		cfg.AuthInfos[u] = &clientcmdapi.AuthInfo{Token: c.tokens[u]}
		cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: u, Namespace: "default"}
		cfg.CurrentContext = ContextName
		if err := clientcmd.WriteToFile(*cfg, c.KubeconfigFor(u)); err != nil {
			return fmt.Errorf("writing kubeconfig for %s: %w", u, err)
		}
	}
	return nil
}

// freePort asks the kernel for a free loopback port. Another process could take
// it before we bind it, but on a test machine that race is rare and the start
// then fails loudly rather than silently.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
