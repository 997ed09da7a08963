package datapath

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// IngressNginxController is spec.controller of the IngressClasses ingress-nginx serves.
const IngressNginxController = "k8s.io/ingress-nginx"

// AnnotationPrefix is ingress-nginx's default annotation prefix, which IKS ALBs keep.
const AnnotationPrefix = "nginx.ingress.kubernetes.io/"

// Defaults of ingress-nginx's proxyssl annotation parser
// (internal/ingress/annotations/proxyssl/main.go).
const (
	// DefaultProxySSLCiphers is proxy_ssl_ciphers without the annotation.
	DefaultProxySSLCiphers = "DEFAULT"
	// DefaultProxySSLProtocols is proxy_ssl_protocols without the annotation: no TLSv1.3.
	DefaultProxySSLProtocols = "TLSv1 TLSv1.1 TLSv1.2"
	// DefaultProxySSLVerify is proxy_ssl_verify without a valid annotation.
	DefaultProxySSLVerify = "off"
	// DefaultProxySSLVerifyDepth is proxy_ssl_verify_depth without a valid annotation.
	DefaultProxySSLVerifyDepth = 1
	// DefaultProxySSLServerName is proxy_ssl_server_name without a valid annotation.
	DefaultProxySSLServerName = "off"
)

var (
	onOffRegex     = regexp.MustCompile(`^(on|off)$`)
	protocolsRegex = regexp.MustCompile(`^(SSLv2|SSLv3|TLSv1|TLSv1\.1|TLSv1\.2|TLSv1\.3| )*$`)
	ciphersRegex   = regexp.MustCompile(`^[A-Za-z0-9\+\:\_\-\!]*$`)
	serverNameRe   = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9\-\.\_\~\$]+$`)
	backendProtoRe = regexp.MustCompile(`^(HTTP|HTTPS|AUTO_HTTP|GRPC|GRPCS|FCGI)$`)
)

// NginxConfig is an Ingress as ingress-nginx would configure nginx for it, with
// every backend sent to one upstream address (the gateway stand-in).
type NginxConfig struct {
	// Ingress is the source Ingress as "namespace/name".
	Ingress string
	// Upstream is the host:port every backend is proxied to.
	Upstream string
	// Servers are the nginx server blocks, one per rule host.
	Servers []NginxServer
	// DefaultCertPEM is the fake certificate (with its key) nginx serves when no
	// TLS secret fits a host, as ingress-nginx's "Fake Certificate" default.
	DefaultCertPEM []byte
	// DefaultLocations are the locations of rules without a host, which
	// ingress-nginx puts in its catch-all server.
	DefaultLocations []NginxLocation
	// Warnings are what ingress-nginx would have logged about this Ingress.
	Warnings []string
}

// NginxServer is one server block: a host, its certificate and its locations.
type NginxServer struct {
	// Host is the rule host (server_name).
	Host string
	// TLSSecret is the "namespace/name" whose certificate is served, "" for the default one.
	TLSSecret string
	// CertKeyPEM is the served certificate chain followed by its key.
	CertKeyPEM []byte
	// Locations are the rule's paths.
	Locations []NginxLocation
}

// NginxLocation is one location block.
type NginxLocation struct {
	// Match is the location's argument, e.g. "/status/" or "= /status".
	Match string
	// Service and Port name the Ingress backend.
	Service, Port string
	// BackendProtocol is the parsed backend-protocol annotation (HTTP, HTTPS, ...).
	BackendProtocol string
	// Denied is why ingress-nginx denied the location (it then answers 503).
	Denied string
	// Unavailable is why the backend has no upstream (ingress-nginx then answers 503).
	Unavailable string
	// ProxySSL is the parsed proxy-ssl-* configuration, nil without proxy-ssl-secret.
	ProxySSL *ProxySSL
}

// ProxySSL is the proxy-ssl-* annotations as ingress-nginx parses them.
type ProxySSL struct {
	// Secret is the proxy-ssl-secret value, "namespace/name".
	Secret string
	// PEM is the file ingress-nginx writes for the secret: tls.crt, tls.key and
	// ca.crt concatenated. It is used for proxy_ssl_certificate, _key and
	// _trusted_certificate at once. Empty when the secret has no ca.crt: then
	// ingress-nginx writes no file and nginx sends no client certificate.
	PEM []byte
	// HasClientCert tells whether proxy_ssl_certificate is emitted.
	HasClientCert bool
	// HasCA tells whether proxy_ssl_trusted_certificate (and verify, depth,
	// protocols, ciphers) are emitted.
	HasCA bool
	// Ciphers is proxy-ssl-ciphers, default DEFAULT.
	Ciphers string
	// Protocols is proxy-ssl-protocols, sorted, default DefaultProxySSLProtocols.
	Protocols string
	// Verify is proxy-ssl-verify: "on" only if the annotation is exactly "on".
	Verify string
	// VerifyDepth is proxy-ssl-verify-depth, default 1.
	VerifyDepth int
	// Name is proxy-ssl-name, "" when unset (nginx then uses upstream_balancer).
	Name string
	// ServerName is proxy-ssl-server-name: "on" or "off" (the default).
	ServerName string
}

// NginxFromIngress renders ing (read back from the cluster) as ingress-nginx
// would: the TLS secret per host from spec.tls in the Ingress's namespace (else
// the fake default certificate), one location per path, and the
// backend-protocol and proxy-ssl-* annotations parsed with ingress-nginx's
// rules and defaults. Every backend goes to upstreamAddr through an upstream
// named upstream_balancer, so without proxy-ssl-name and proxy-ssl-server-name
// "on" nginx presents that name, as ingress-nginx does.
func NginxFromIngress(ctx context.Context, kube kubernetes.Interface, ing *networkingv1.Ingress, upstreamAddr string) (*NginxConfig, error) {
	cfg := &NginxConfig{Ingress: ing.Namespace + "/" + ing.Name, Upstream: upstreamAddr}
	if err := checkClass(ctx, kube, ing); err != nil {
		return nil, err
	}
	cert, key, err := fixtures.SelfSigned("Kubernetes Ingress Controller Fake Certificate", "ingress.local")
	if err != nil {
		return nil, err
	}
	cfg.DefaultCertPEM = joinPEM(cert, key)

	ann := ing.Annotations
	proto := backendProtocol(ann)
	proxySSL, denied := parseProxySSL(ctx, kube, ing)
	if denied != "" {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("error reading ProxySSL annotation in Ingress %s: %s", cfg.Ingress, denied))
	}

	for _, rule := range ing.Spec.Rules {
		var locs []NginxLocation
		if rule.HTTP != nil {
			for _, p := range rule.HTTP.Paths {
				base := NginxLocation{BackendProtocol: proto, Denied: denied, ProxySSL: proxySSL}
				if p.Backend.Service == nil {
					base.Unavailable = "backend is not a Service"
				} else {
					base.Service = p.Backend.Service.Name
					base.Port = portString(p.Backend.Service.Port)
					base.Unavailable = checkBackend(ctx, kube, ing.Namespace, p.Backend.Service)
				}
				for _, m := range locationMatches(p) {
					l := base
					l.Match = m
					locs = append(locs, l)
				}
			}
		}
		if rule.Host == "" {
			cfg.DefaultLocations = append(cfg.DefaultLocations, locs...)
			continue
		}
		srv := NginxServer{Host: rule.Host, Locations: locs}
		srv.TLSSecret, srv.CertKeyPEM = serverCert(ctx, kube, ing, rule.Host, &cfg.Warnings)
		if srv.CertKeyPEM == nil {
			srv.CertKeyPEM = cfg.DefaultCertPEM
		}
		cfg.Servers = append(cfg.Servers, srv)
	}
	return cfg, nil
}

// checkClass refuses an Ingress ingress-nginx would not serve at all, so a test
// fails on the class instead of on a puzzling connection error.
func checkClass(ctx context.Context, kube kubernetes.Interface, ing *networkingv1.Ingress) error {
	name := ""
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else if v := ing.Annotations["kubernetes.io/ingress.class"]; v != "" {
		name = v
	}
	if name == "" {
		classes, err := kube.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing IngressClasses: %w", err)
		}
		for _, c := range classes.Items {
			if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" && c.Spec.Controller == IngressNginxController {
				return nil
			}
		}
		return fmt.Errorf("ingress %s/%s names no IngressClass and no ingress-nginx class is the default: ingress-nginx ignores it", ing.Namespace, ing.Name)
	}
	class, err := kube.NetworkingV1().IngressClasses().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("ingress %s/%s: IngressClass %q: %w", ing.Namespace, ing.Name, name, err)
	}
	if class.Spec.Controller != IngressNginxController {
		return fmt.Errorf("ingress %s/%s: IngressClass %q belongs to controller %q, not ingress-nginx", ing.Namespace, ing.Name, name, class.Spec.Controller)
	}
	return nil
}

// backendProtocol follows ingress-nginx's backendprotocol parser: upper-cased,
// anything unknown (or absent) is HTTP.
func backendProtocol(ann map[string]string) string {
	v, ok := stringAnnotation(ann, "backend-protocol")
	if !ok {
		return "HTTP"
	}
	v = strings.ToUpper(strings.TrimSpace(v))
	if !backendProtoRe.MatchString(v) {
		return "HTTP"
	}
	return v
}

// stringAnnotation is ingress-nginx's GetStringAnnotation: missing or blank
// counts as absent.
func stringAnnotation(ann map[string]string, name string) (string, bool) {
	v, ok := ann[AnnotationPrefix+name]
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

// parseProxySSL mirrors proxyssl.Parse: without proxy-ssl-secret nothing at
// all is configured (the other proxy-ssl-* annotations are ignored); a secret
// in another namespace, or one that cannot be read, denies the location.
func parseProxySSL(ctx context.Context, kube kubernetes.Interface, ing *networkingv1.Ingress) (*ProxySSL, string) {
	ann := ing.Annotations
	ref, ok := stringAnnotation(ann, "proxy-ssl-secret")
	if !ok {
		return nil, ""
	}
	parts := strings.Split(ref, "/")
	if len(parts) != 2 {
		return nil, fmt.Sprintf("invalid format (namespace/name) found in '%s'", ref)
	}
	ns, name := parts[0], parts[1]
	if ns != ing.Namespace {
		return nil, "cross namespace secrets are not supported"
	}
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Sprintf("error obtaining certificate: %v", err)
	}
	p := &ProxySSL{Secret: ref}
	if p.PEM, p.HasClientCert, p.HasCA, err = authCertificate(secret); err != nil {
		return nil, fmt.Sprintf("error obtaining certificate: %v", err)
	}

	p.Ciphers = DefaultProxySSLCiphers
	if v, ok := stringAnnotation(ann, "proxy-ssl-ciphers"); ok && ciphersRegex.MatchString(v) {
		p.Ciphers = v
	}
	p.Protocols = DefaultProxySSLProtocols
	if v, ok := stringAnnotation(ann, "proxy-ssl-protocols"); ok && protocolsRegex.MatchString(v) {
		p.Protocols = sortProtocols(v)
	}
	if v, ok := stringAnnotation(ann, "proxy-ssl-name"); ok && serverNameRe.MatchString(v) {
		p.Name = v
	}
	// Only the exact "on" or "off" pass the validator: "true", "On", "yes" all
	// silently mean the default, off.
	p.Verify = DefaultProxySSLVerify
	if v, ok := stringAnnotation(ann, "proxy-ssl-verify"); ok && onOffRegex.MatchString(v) {
		p.Verify = v
	}
	p.VerifyDepth = DefaultProxySSLVerifyDepth
	if v, ok := stringAnnotation(ann, "proxy-ssl-verify-depth"); ok {
		if n, err := strconv.Atoi(v); err == nil && n != 0 {
			p.VerifyDepth = n
		}
	}
	p.ServerName = DefaultProxySSLServerName
	if v, ok := stringAnnotation(ann, "proxy-ssl-server-name"); ok && onOffRegex.MatchString(v) {
		p.ServerName = v
	}
	return p, ""
}

func sortProtocols(v string) string {
	var ps []string
	for _, p := range strings.Split(v, " ") {
		if p = strings.TrimSpace(p); p != "" && protocolsRegex.MatchString(p) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return DefaultProxySSLProtocols
	}
	sort.Strings(ps)
	return strings.Join(ps, " ")
}

// authCertificate mirrors the store's getPemCertificate for an annotation
// secret: a key pair plus ca.crt becomes one file (cert, key, CA) used for the
// client certificate and the trusted CAs alike; a key pair without ca.crt is
// validated but written nowhere, so no client certificate is configured; a
// ca.crt alone configures only trust.
func authCertificate(s *corev1.Secret) (pemFile []byte, clientCert, hasCA bool, err error) {
	cert, okCert := s.Data[corev1.TLSCertKey]
	key, okKey := s.Data[corev1.TLSPrivateKeyKey]
	ca := s.Data["ca.crt"]
	switch {
	case okCert && okKey:
		if len(cert) == 0 {
			return nil, false, false, fmt.Errorf("key 'tls.crt' missing from Secret %q", s.Namespace+"/"+s.Name)
		}
		if len(key) == 0 {
			return nil, false, false, fmt.Errorf("key 'tls.key' missing from Secret %q", s.Namespace+"/"+s.Name)
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return nil, false, false, fmt.Errorf("unexpected error creating SSL Cert: certificate and private key does not have a matching public key: %v", err)
		}
		if len(ca) == 0 {
			return nil, false, false, nil
		}
		if err := checkCACert(ca); err != nil {
			return nil, false, false, fmt.Errorf("parsing CA certificate: %v", err)
		}
		return joinPEM(cert, key, ca), true, true, nil
	case len(ca) > 0:
		if err := checkCACert(ca); err != nil {
			return nil, false, false, fmt.Errorf("parsing CA certificate: %v", err)
		}
		return append([]byte(nil), ca...), false, true, nil
	}
	return nil, false, false, fmt.Errorf("secret %q contains no keypair or CA certificate", s.Namespace+"/"+s.Name)
}

func checkCACert(ca []byte) error {
	n := 0
	for rest := ca; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("error decoding CA certificate/s")
	}
	return nil
}

// joinPEM concatenates PEM files with a newline between them, as ingress-nginx does.
func joinPEM(parts ...[]byte) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.Write(p)
	}
	return b.Bytes()
}

// serverCert mirrors extractTLSSecretName and the checks after it: the spec.tls
// entry listing the host, else any entry whose certificate covers the host;
// the secret must hold a valid key pair covering the host, else the default
// certificate is served.
func serverCert(ctx context.Context, kube kubernetes.Interface, ing *networkingv1.Ingress, host string, warnings *[]string) (string, []byte) {
	type candidate struct {
		ref  string
		pem  []byte
		cert *x509.Certificate
	}
	load := func(name string) *candidate {
		if name == "" {
			return nil
		}
		ref := ing.Namespace + "/" + name
		s, err := kube.CoreV1().Secrets(ing.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			*warnings = append(*warnings, fmt.Sprintf("Error getting SSL certificate %q: %v. Using default certificate", ref, err))
			return nil
		}
		crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			*warnings = append(*warnings, fmt.Sprintf("Error obtaining X.509 certificate from %q: %v. Using default certificate", ref, err))
			return nil
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil
		}
		return &candidate{ref: ref, pem: joinPEM(crt, key), cert: leaf}
	}

	lower := strings.ToLower(host)
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			if strings.ToLower(h) == lower {
				c := load(t.SecretName)
				if c == nil {
					return "", nil
				}
				if err := c.cert.VerifyHostname(host); err != nil {
					*warnings = append(*warnings, fmt.Sprintf("SSL certificate %q does not contain a Common Name or Subject Alternative Name for server %q: %v. Using default certificate", c.ref, host, err))
					return "", nil
				}
				return c.ref, c.pem
			}
		}
	}
	for _, t := range ing.Spec.TLS {
		if c := load(t.SecretName); c != nil && c.cert.VerifyHostname(host) == nil {
			return c.ref, c.pem
		}
	}
	if len(ing.Spec.TLS) > 0 {
		*warnings = append(*warnings, fmt.Sprintf("no spec.tls entry of Ingress %s/%s serves host %q. Using default certificate", ing.Namespace, ing.Name, host))
	}
	return "", nil
}

// checkBackend reports why a backend would have no upstream (ingress-nginx then
// answers 503): a missing Service or a port the Service does not have.
func checkBackend(ctx context.Context, kube kubernetes.Interface, ns string, b *networkingv1.IngressServiceBackend) string {
	svc, err := kube.CoreV1().Services(ns).Get(ctx, b.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("service %s/%s not found", ns, b.Name)
	}
	if err != nil {
		return fmt.Sprintf("reading service %s/%s: %v", ns, b.Name, err)
	}
	for _, p := range svc.Spec.Ports {
		if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number) {
			return ""
		}
	}
	return fmt.Sprintf("service %s/%s has no port %s", ns, b.Name, portString(b.Port))
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// locationMatches maps an Ingress path to nginx locations as ingress-nginx
// does: Exact is "= path"; Prefix "/a" becomes "= /a" plus "/a/" so that
// "/ab" does not match; "/" and ImplementationSpecific paths stay plain prefixes.
func locationMatches(p networkingv1.HTTPIngressPath) []string {
	path := p.Path
	if path == "" {
		path = "/"
	}
	pt := networkingv1.PathTypeImplementationSpecific
	if p.PathType != nil {
		pt = *p.PathType
	}
	switch {
	case pt == networkingv1.PathTypeExact:
		return []string{"= " + path}
	case pt == networkingv1.PathTypePrefix && path != "/" && !strings.HasSuffix(path, "/"):
		return []string{"= " + path, path + "/"}
	}
	return []string{path}
}
