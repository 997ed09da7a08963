package datapath

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireNginxEnv names the variable that turns "nginx is not installed" from a
// skip into a failure; CI sets it because it installs nginx.
const RequireNginxEnv = "ALBISTIO_REQUIRE_NGINX"

// NginxPath finds the nginx binary; Debian installs it in /usr/sbin, which is
// not on every user's PATH.
func NginxPath() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("nginx not found on PATH or in /usr/sbin (apt-get install -y nginx)")
}

// NginxOrSkip returns the nginx binary, or skips the test when there is none,
// failing it instead when ALBISTIO_REQUIRE_NGINX=1.
func NginxOrSkip(t testing.TB) string {
	t.Helper()
	p, err := NginxPath()
	if err == nil {
		return p
	}
	if os.Getenv(RequireNginxEnv) == "1" {
		t.Fatalf("%v; %s=1 requires it", err, RequireNginxEnv)
	}
	t.Skipf("%v; this test runs a real nginx in the ALB role (set %s=1 to make this a failure)", err, RequireNginxEnv)
	return ""
}

// Nginx is a running nginx serving an NginxConfig.
type Nginx struct {
	// Dir holds nginx.conf, the certificate files, logs and temp paths.
	Dir string
	// Addr is the 127.0.0.1:port nginx listens on (HTTPS).
	Addr string
	// Conf is the rendered nginx.conf text.
	Conf string

	cmd  *exec.Cmd
	done chan struct{}
}

// Render writes the certificate files under dir and returns nginx.conf for a
// listener on 127.0.0.1:port. The files are test keys made at test time; dir
// belongs to the test.
func (c *NginxConfig) Render(dir string, port int) (string, error) {
	ssl := filepath.Join(dir, "ssl")
	for _, d := range []string{ssl, filepath.Join(dir, "tmp"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
	}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(ssl, name)
		return p, os.WriteFile(p, data, 0o600)
	}
	defaultPEM, err := write("default-fake-certificate.pem", c.DefaultCertPEM)
	if err != nil {
		return "", err
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if os.Geteuid() == 0 {
		// As root nginx would switch workers to "nobody", who cannot use the
		// temp paths in the test's private directory.
		w("user root;")
	}
	w("worker_processes 1;")
	w("pid %s;", filepath.Join(dir, "nginx.pid"))
	// info: upstream TLS alerts ("alert bad certificate") are logged at info.
	w("error_log %s info;", filepath.Join(dir, "logs", "error.log"))
	w("events { worker_connections 256; }")
	w("http {")
	w("    access_log %s;", filepath.Join(dir, "logs", "access.log"))
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		w("    %s_temp_path %s;", t, filepath.Join(dir, "tmp", t))
	}
	w("    ssl_protocols TLSv1.2 TLSv1.3;")
	// IKS domains are long; ingress-nginx sizes this bucket from the longest name.
	w("    server_names_hash_bucket_size 256;")
	// ingress-nginx balances in Lua behind this one upstream name, which is
	// what nginx sends as SNI and verifies when proxy-ssl-name is not set.
	w("    upstream upstream_balancer {")
	w("        server %s;", c.Upstream)
	w("    }")
	w("    server {")
	w("        listen 127.0.0.1:%d ssl default_server;", port)
	w("        server_name _;")
	w("        ssl_certificate %s;", defaultPEM)
	w("        ssl_certificate_key %s;", defaultPEM)
	for _, l := range c.DefaultLocations {
		if err := renderLocation(&b, l, write); err != nil {
			return "", err
		}
	}
	w("        location / { return 404; }")
	w("    }")
	for i, s := range c.Servers {
		certPath, err := write(fmt.Sprintf("server-%d.pem", i), s.CertKeyPEM)
		if err != nil {
			return "", err
		}
		w("    # host %s, certificate from %s", s.Host, orDefault(s.TLSSecret, "the default fake certificate"))
		w("    server {")
		w("        listen 127.0.0.1:%d ssl;", port)
		w("        server_name %s;", s.Host)
		w("        ssl_certificate %s;", certPath)
		w("        ssl_certificate_key %s;", certPath)
		for _, l := range s.Locations {
			if err := renderLocation(&b, l, write); err != nil {
				return "", err
			}
		}
		w("    }")
	}
	w("}")
	return b.String(), nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func renderLocation(b *strings.Builder, l NginxLocation, write func(string, []byte) (string, error)) error {
	w := func(format string, args ...any) { fmt.Fprintf(b, "        "+format+"\n", args...) }
	w("location %s {", l.Match)
	switch {
	case l.Denied != "":
		w("    # Location denied. Reason: %q", l.Denied)
		w("    return 503;")
	case l.Unavailable != "":
		w("    # No upstream: %s", l.Unavailable)
		w("    return 503;")
	default:
		scheme := "http"
		if l.BackendProtocol == "HTTPS" || l.BackendProtocol == "GRPCS" {
			scheme = "https"
		}
		w("    proxy_http_version 1.1;")
		w("    proxy_set_header Host $http_host;")
		w("    proxy_set_header Connection \"\";")
		w("    proxy_set_header X-Forwarded-For $remote_addr;")
		w("    proxy_set_header X-Forwarded-Proto $scheme;")
		w("    proxy_set_header X-Forwarded-Host $http_host;")
		// Not ingress-nginx's setting: a resumed session skips certificate
		// checks, so a negative test could pass through an earlier good session.
		w("    proxy_ssl_session_reuse off;")
		w("    proxy_pass %s://upstream_balancer;", scheme)
		if p := l.ProxySSL; p != nil {
			var file string
			if len(p.PEM) > 0 {
				var err error
				name := strings.ReplaceAll(p.Secret, "/", "-") + ".pem"
				if file, err = write(name, p.PEM); err != nil {
					return err
				}
			}
			if p.HasCA {
				w("    proxy_ssl_trusted_certificate %s;", file)
				w("    proxy_ssl_ciphers %s;", p.Ciphers)
				w("    proxy_ssl_protocols %s;", p.Protocols)
				w("    proxy_ssl_verify %s;", p.Verify)
				w("    proxy_ssl_verify_depth %d;", p.VerifyDepth)
			}
			if p.Name != "" {
				w("    proxy_ssl_name %s;", p.Name)
			}
			if p.ServerName != "" {
				w("    proxy_ssl_server_name %s;", p.ServerName)
			}
			if p.HasClientCert {
				w("    proxy_ssl_certificate %s;", file)
				w("    proxy_ssl_certificate_key %s;", file)
			}
		}
	}
	w("}")
	return nil
}

// StartNginx renders cfg into dir and runs nginx in the foreground
// (`nginx -c <conf> -p <dir> -g 'daemon off;'`) on a free loopback port, and
// waits until it accepts connections.
func StartNginx(dir string, cfg *NginxConfig) (*Nginx, error) {
	bin, err := NginxPath()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf, err := cfg.Render(dir, port)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	n := &Nginx{Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", port), Conf: conf, done: make(chan struct{})}
	// -e: errors before the config is read go to our log, not /var/log/nginx.
	cmd := exec.Command(bin, "-e", n.errorLogPath(), "-c", confPath, "-p", dir, "-g", "daemon off;")
	out, err := os.Create(filepath.Join(dir, "logs", "stderr.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	n.cmd = cmd
	go func() { _ = cmd.Wait(); close(n.done) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-n.done:
			stderr, _ := os.ReadFile(filepath.Join(dir, "logs", "stderr.log"))
			return nil, fmt.Errorf("nginx exited at start (%s): %s%s\nconfig:\n%s", cmd.ProcessState, stderr, n.ErrorLog(), conf)
		default:
		}
		c, err := net.DialTimeout("tcp", n.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return n, nil
		}
		if time.Now().After(deadline) {
			_ = n.Stop()
			return nil, fmt.Errorf("nginx did not accept connections on %s within 15s: %s", n.Addr, n.ErrorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *Nginx) errorLogPath() string { return filepath.Join(n.Dir, "logs", "error.log") }

// Stop stops nginx (fast shutdown) and waits for it to exit.
func (n *Nginx) Stop() error {
	select {
	case <-n.done:
		return nil
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("nginx (pid %d) did not exit", n.cmd.Process.Pid)
	}
}

// ErrorLog is the text of nginx's error.log, where upstream TLS failures show
// ("upstream SSL certificate verify error", "SSL_do_handshake() failed").
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(n.errorLogPath())
	return string(b)
}

// AccessLog is the text of nginx's access.log.
func (n *Nginx) AccessLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "logs", "access.log"))
	return string(b)
}

// Client is an HTTPS client that connects to this nginx whatever the URL's
// host, so the URL's host is both the SNI and the Host header, as for a client
// whose DNS points the ALB domain at the ALB. roots verify the ALB's
// certificate; nil trusts nothing but the system roots.
func (n *Nginx) Client(roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, n.Addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: true,
		},
	}
}
