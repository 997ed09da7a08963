// Package datapath runs the real TLS data path the plugin configures, built
// from the objects the plugin wrote and read back from the cluster: nginx
// rendered as ingress-nginx renders an Ingress (the ALB), and a Go TLS server
// that plays Istio's Envoy ingress gateway for a MUTUAL Gateway server.
package datapath

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// GatewayConfig is what Envoy would be configured with for one MUTUAL server
// of an Istio Gateway: the hosts it matches by SNI, its server certificate and
// the CA it verifies client certificates with.
type GatewayConfig struct {
	// Namespace and Name identify the Gateway object.
	Namespace, Name string
	// WorkloadNamespace is the gateway pods' namespace, where Istio reads credentialName.
	WorkloadNamespace string
	// Hosts are the server's hosts with any "namespace/" prefix removed.
	Hosts []string
	// CredentialName is the server's tls.credentialName.
	CredentialName string
	// CertPEM is the server certificate chain presented to clients.
	CertPEM []byte
	// KeyPEM is the server certificate's private key.
	KeyPEM []byte
	// CAPEM holds the CAs that client certificates must chain to.
	CAPEM []byte
	// CASource says where CAPEM came from ("namespace/secret key"), for messages.
	CASource string
	// CRLPEM, if set, revokes client certificates (Istio's ca.crl / crl keys).
	CRLPEM []byte
	// SubjectAltNames, if set, restricts which client certificates are accepted.
	SubjectAltNames []string

	// Source says who decided this configuration: SourceIstio (Istio's own
	// pilot code, through istio-xds) or SourceTests (ReadGateway).
	Source string
	// Istio is, for SourceIstio, everything istio-xds printed.
	Istio *IstioSummary
	// ListenerPort is, for SourceIstio, the listener served: the gateway
	// Service's port 443 target port.
	ListenerPort uint32
	// Chains are the filter chains the stand-in serves, matched by SNI as
	// Envoy matches them. For SourceIstio they are Istio's; otherwise
	// StartGateway makes one from the fields above.
	Chains []Chain
}

// Chain is one filter chain of the gateway's listener: which SNI names
// select it, the certificate it presents, how it verifies client
// certificates and, from Istio, its routes.
type Chain struct {
	// Name is Envoy's filter chain name, for messages.
	Name string
	// ServerNames select the chain by SNI; "*" takes any name, even none.
	ServerNames []string
	// TLS is false for a chain that terminates no TLS (the stand-in refuses it).
	TLS bool
	// CertPEM and KeyPEM are the served certificate chain and its key; CertSource names their SDS resource or secret.
	CertPEM, KeyPEM []byte
	CertSource      string
	// RequireClientCert is Envoy's require_client_certificate.
	RequireClientCert bool
	// CAPEM and CRLPEM verify client certificates; CASource names their SDS resource or secret.
	CAPEM, CRLPEM []byte
	CASource      string
	// SubjectAltNames, SPKI and CertHash restrict accepted client certificates
	// (Envoy's match_subject_alt_names, verify_certificate_spki/hash).
	SubjectAltNames, SPKI, CertHash []string
	// AcceptUntrusted is trust_chain_verification ACCEPT_UNTRUSTED.
	AcceptUntrusted bool
	// Unready lists why Envoy could not serve this chain (an SDS secret it
	// names was not served); every handshake on it fails with these reasons.
	Unready []string
	// Routes is true when VirtualHosts decide routing (Istio's RDS);
	// otherwise a Host must be one of ServerNames.
	Routes bool
	// VirtualHosts are the chain's route configuration.
	VirtualHosts []IstioVirtualHost
	// StripPort is how the Host header's port is dropped before matching
	// virtual hosts ("any", "matching" or ""); IgnorePort drops it too
	// (the route configuration's ignore_port_in_host_matching).
	StripPort  string
	IgnorePort bool
}

// GatewayGVRs are the Istio Gateway resources tried in order: v1 where served
// (Istio 1.22+), else v1beta1, as the plugin itself falls back.
func GatewayGVRs() []schema.GroupVersionResource {
	return []schema.GroupVersionResource{
		{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
		{Group: "networking.istio.io", Version: "v1beta1", Resource: "gateways"},
	}
}

// GatewayOption tunes GatewayFromCluster.
type GatewayOption func(*gatewayOptions)

type gatewayOptions struct {
	workloadNamespace string
}

// InWorkloadNamespace names the namespace of the gateway pods that serve the
// Gateway, for clusters where its selector matches gateway pods in several
// namespaces (as when several tests share one API server).
func InWorkloadNamespace(ns string) GatewayOption {
	return func(o *gatewayOptions) { o.workloadNamespace = ns }
}

// ReadGateway is the tests' own reading of the Istio Gateway
// namespace/gatewayName, kept to compare with Istio's (GatewayFromIstio) and
// for machines without istio-xds: it picks the port-443 server with tls.mode
// MUTUAL and reads the secrets as the tests understand Istio to:
// credentialName in the namespace of the gateway pods its selector matches,
// and the CA from "<credentialName>-cacert" (key cacert, else ca.crt), falling
// back to the credential secret itself (istio pilot/pkg/credentials/kube).
func ReadGateway(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, gatewayName string, opts ...GatewayOption) (*GatewayConfig, error) {
	var o gatewayOptions
	for _, f := range opts {
		f(&o)
	}
	gw, err := getGateway(ctx, dyn, namespace, gatewayName)
	if err != nil {
		return nil, err
	}
	cfg := &GatewayConfig{Namespace: namespace, Name: gatewayName, Source: SourceTests}
	if err := cfg.parseServer(gw); err != nil {
		return nil, err
	}
	if cfg.WorkloadNamespace, err = workloadNamespace(ctx, kube, gw, o.workloadNamespace); err != nil {
		return nil, err
	}
	secrets := kube.CoreV1().Secrets(cfg.WorkloadNamespace)
	cred, err := secrets.Get(ctx, cfg.CredentialName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("gateway %s/%s: credentialName %q: reading secret %s/%s: %w", namespace, gatewayName, cfg.CredentialName, cfg.WorkloadNamespace, cfg.CredentialName, err)
	}
	if cfg.CertPEM, cfg.KeyPEM, err = keyAndCert(cred); err != nil {
		return nil, fmt.Errorf("gateway %s/%s: secret %s/%s: %w", namespace, gatewayName, cred.Namespace, cred.Name, err)
	}
	caSecret, err := secrets.Get(ctx, cfg.CredentialName+"-cacert", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Istio falls back to the credential secret when no -cacert secret exists.
		caSecret, err = cred, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway %s/%s: reading CA secret %s-cacert: %w", namespace, gatewayName, cfg.CredentialName, err)
	}
	var key string
	if cfg.CAPEM, cfg.CRLPEM, key, err = root(caSecret); err != nil {
		return nil, fmt.Errorf("gateway %s/%s: MUTUAL needs a CA: secret %s/%s: %w", namespace, gatewayName, caSecret.Namespace, caSecret.Name, err)
	}
	cfg.CASource = caSecret.Namespace + "/" + caSecret.Name + " " + key
	return cfg, nil
}

func getGateway(ctx context.Context, dyn dynamic.Interface, ns, name string) (*unstructured.Unstructured, error) {
	gw, _, err := getGatewayGVR(ctx, dyn, ns, name)
	return gw, err
}

// parseServer picks the first server on port 443 with tls.mode MUTUAL.
func (cfg *GatewayConfig) parseServer(gw *unstructured.Unstructured) error {
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	for _, s := range servers {
		srv, ok := s.(map[string]any)
		if !ok {
			continue
		}
		port, _, _ := unstructured.NestedFieldNoCopy(srv, "port", "number")
		mode, _, _ := unstructured.NestedString(srv, "tls", "mode")
		if !isNumber(port, 443) || mode != "MUTUAL" {
			continue
		}
		cred, _, _ := unstructured.NestedString(srv, "tls", "credentialName")
		if cred == "" {
			return fmt.Errorf("gateway %s/%s: the MUTUAL server on port 443 has no tls.credentialName", cfg.Namespace, cfg.Name)
		}
		cfg.CredentialName = strings.TrimPrefix(cred, "kubernetes://")
		hosts, _, _ := unstructured.NestedStringSlice(srv, "hosts")
		for _, h := range hosts {
			// "namespace/host" scopes a host to VirtualServices of a namespace; SNI sees only the host.
			if i := strings.IndexByte(h, '/'); i >= 0 {
				h = h[i+1:]
			}
			cfg.Hosts = append(cfg.Hosts, h)
		}
		cfg.SubjectAltNames, _, _ = unstructured.NestedStringSlice(srv, "tls", "subjectAltNames")
		return nil
	}
	return fmt.Errorf("gateway %s/%s has no server on port 443 with tls.mode MUTUAL", cfg.Namespace, cfg.Name)
}

func isNumber(v any, n int64) bool {
	switch x := v.(type) {
	case int64:
		return x == n
	case float64:
		return x == float64(n)
	case int:
		return int64(x) == n
	}
	return false
}

// workloadNamespace finds the namespace of the gateway pods the Gateway's
// selector matches: Istio applies a Gateway to matching gateway workloads in
// every namespace, and each reads credentialName from its own namespace.
func workloadNamespace(ctx context.Context, kube kubernetes.Interface, gw *unstructured.Unstructured, want string) (string, error) {
	sel, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "selector")
	if len(sel) == 0 {
		return "", fmt.Errorf("gateway %s/%s has no spec.selector: no gateway workload would serve it", gw.GetNamespace(), gw.GetName())
	}
	selector := labels.SelectorFromSet(sel).String()
	pods, err := kube.CoreV1().Pods(want).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", fmt.Errorf("listing gateway pods (%s): %w", selector, err)
	}
	var nss []string
	for _, p := range pods.Items {
		if !slices.Contains(nss, p.Namespace) {
			nss = append(nss, p.Namespace)
		}
	}
	sort.Strings(nss)
	switch {
	case len(nss) == 0 && want != "":
		return "", fmt.Errorf("gateway %s/%s: selector %s matches no pod in namespace %s", gw.GetNamespace(), gw.GetName(), selector, want)
	case len(nss) == 0:
		return "", fmt.Errorf("gateway %s/%s: selector %s matches no gateway pod: no Envoy would serve it", gw.GetNamespace(), gw.GetName(), selector)
	case len(nss) == 1:
		return nss[0], nil
	case slices.Contains(nss, gw.GetNamespace()):
		return gw.GetNamespace(), nil
	}
	return "", fmt.Errorf("gateway %s/%s: selector %s matches gateway pods in namespaces %v; say which with InWorkloadNamespace", gw.GetNamespace(), gw.GetName(), selector, nss)
}

// keyAndCert reads the server credential in Istio's order: cert/key, then tls.crt/tls.key.
func keyAndCert(s *corev1.Secret) (cert, key []byte, err error) {
	for _, k := range [][2]string{{"cert", "key"}, {corev1.TLSCertKey, corev1.TLSPrivateKeyKey}} {
		if len(s.Data[k[0]]) > 0 && len(s.Data[k[1]]) > 0 {
			return s.Data[k[0]], s.Data[k[1]], nil
		}
	}
	return nil, nil, fmt.Errorf("found secret, but didn't have expected keys (cert and key) or (tls.crt and tls.key); found: %s", keysOf(s))
}

// root reads the CA in Istio's order: cacert (with crl), then ca.crt (with ca.crl).
func root(s *corev1.Secret) (ca, crl []byte, key string, err error) {
	if len(s.Data["cacert"]) > 0 {
		return s.Data["cacert"], s.Data["crl"], "cacert", nil
	}
	if len(s.Data["ca.crt"]) > 0 {
		return s.Data["ca.crt"], s.Data["ca.crl"], "ca.crt", nil
	}
	return nil, nil, "", fmt.Errorf("found secret, but didn't have expected keys cacert or ca.crt; found: %s", keysOf(s))
}

func keysOf(s *corev1.Secret) string {
	var ks []string
	for k := range s.Data {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "no keys"
	}
	return strings.Join(ks, ", ")
}

// MatchesSNI tells whether Envoy would pick one of the listener's filter
// chains for the SNI: for Istio's chains their server_names; otherwise an
// exact host, a "*.suffix" wildcard (any depth, as Envoy matches the longest
// wildcard suffix), or "*" which also matches no SNI at all.
func (cfg *GatewayConfig) MatchesSNI(sni string) bool {
	return pickChain(cfg.serverNames(), sni) >= 0
}

func (cfg *GatewayConfig) chains() []Chain {
	if cfg.Source == SourceIstio || len(cfg.Chains) > 0 {
		return cfg.Chains
	}
	return []Chain{{
		ServerNames: cfg.Hosts, TLS: true, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM, CertSource: cfg.CredentialName,
		RequireClientCert: true, CAPEM: cfg.CAPEM, CRLPEM: cfg.CRLPEM, CASource: cfg.CASource, SubjectAltNames: cfg.SubjectAltNames,
	}}
}

func (cfg *GatewayConfig) serverNames() [][]string {
	var out [][]string
	for _, c := range cfg.chains() {
		names := c.ServerNames
		if names == nil {
			names = []string{}
		}
		out = append(out, names)
	}
	return out
}

// fillLegacy sets Hosts (every chain's server names) and the certificate,
// CA and SAN fields from the first TLS chain, for callers that read them.
func (cfg *GatewayConfig) fillLegacy() {
	cfg.Hosts = nil
	first := true
	for _, c := range cfg.Chains {
		for _, n := range c.ServerNames {
			if !slices.Contains(cfg.Hosts, n) {
				cfg.Hosts = append(cfg.Hosts, n)
			}
		}
		if c.TLS && first {
			first = false
			cfg.CertPEM, cfg.KeyPEM, cfg.CAPEM, cfg.CRLPEM = c.CertPEM, c.KeyPEM, c.CAPEM, c.CRLPEM
			cfg.CASource, cfg.SubjectAltNames = c.CASource, c.SubjectAltNames
		}
	}
}

// GatewayServer is a running stand-in for the Envoy ingress gateway.
type GatewayServer struct {
	cfg    *GatewayConfig
	chains []Chain
	ln     net.Listener
	srv    *http.Server

	mu         sync.Mutex
	handshakes []string
	requests   []Request
}

// Request is what the gateway saw of one request that passed mutual TLS.
type Request struct {
	// SNI is the server name the client sent.
	SNI string
	// Host is the HTTP Host header.
	Host string
	// Method and Path are the request line's.
	Method, Path string
	// ClientSubject is the verified client certificate's subject.
	ClientSubject string
	// ClientDNSNames are the verified client certificate's DNS names.
	ClientDNSNames []string
	// ClientSerial is the verified client certificate's serial number, so a
	// test can tell a renewed certificate from the one before.
	ClientSerial string
	// Chain and Cluster are, for Istio's configuration, the filter chain
	// that took the connection and the route's upstream cluster.
	Chain, Cluster string
}

// StartGateway serves cfg on 127.0.0.1 (a free port) the way Envoy serves
// its listener: a handshake whose SNI matches no filter chain fails, a chain
// whose SDS secrets were not served refuses every handshake, a client must
// present a certificate that verifies against the chain's CA for client
// authentication (Envoy's ssl_client purpose, Go's ExtKeyUsageClientAuth)
// when the chain requires one, and behind it a request is routed by its
// Host through the chain's virtual hosts (Istio's RDS) to a tiny httpbin.
func StartGateway(cfg *GatewayConfig) (*GatewayServer, error) {
	g := &GatewayServer{cfg: cfg, chains: cfg.chains()}
	perChain := make([]*tls.Config, len(g.chains))
	for i := range g.chains {
		c := &g.chains[i]
		conf, err := chainTLS(c)
		if err != nil && cfg.Source != SourceIstio {
			return nil, fmt.Errorf("gateway %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		if err != nil {
			// Envoy rejects such a secret and keeps the listener warming.
			c.Unready = append(c.Unready, err.Error())
		}
		perChain[i] = conf
	}
	names := cfg.serverNames()
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			i := pickChain(names, hello.ServerName)
			if i < 0 {
				if cfg.Source == SourceIstio && len(g.chains) == 0 {
					return nil, fmt.Errorf("no filter chain matches SNI %q: Istio generated no listener on port %d", hello.ServerName, cfg.ListenerPort)
				}
				return nil, fmt.Errorf("no filter chain matches SNI %q (gateway hosts %v)", hello.ServerName, cfg.Hosts)
			}
			if c := g.chains[i]; len(c.Unready) > 0 {
				return nil, fmt.Errorf("filter chain %q for SNI %q cannot be served: %s", c.Name, hello.ServerName, strings.Join(c.Unready, "; "))
			}
			return perChain[i], nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.ln = ln
	g.srv = &http.Server{
		Handler:           g.route(g.app()),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		// net/http reports every failed handshake here; that is the one place
		// the reason (e.g. "incompatible key usage") is visible server-side.
		ErrorLog: log.New(logWriter(g.logLine), "", 0),
	}
	go func() { _ = g.srv.Serve(tls.NewListener(ln, tlsConfig)) }()
	return g, nil
}

// chainTLS is the TLS configuration of one filter chain.
func chainTLS(c *Chain) (*tls.Config, error) {
	if !c.TLS {
		return nil, errors.New("the filter chain terminates no TLS (the stand-in serves TLS only)")
	}
	if c.CertPEM == nil {
		return nil, fmt.Errorf("no certificate for %s", c.CertSource)
	}
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("server certificate %s: %w", c.CertSource, err)
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	var crl *x509.RevocationList
	switch {
	case c.AcceptUntrusted:
		conf.ClientAuth = tls.RequestClientCert
		if c.RequireClientCert {
			conf.ClientAuth = tls.RequireAnyClientCert
		}
	case c.CAPEM != nil:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CAPEM) {
			return nil, fmt.Errorf("no PEM certificate in the CA (%s)", c.CASource)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		if c.RequireClientCert {
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if len(bytes.TrimSpace(c.CRLPEM)) > 0 {
			if crl, err = parseCRL(c.CRLPEM); err != nil {
				return nil, fmt.Errorf("CRL (%s): %w", c.CASource, err)
			}
		}
	case c.RequireClientCert:
		// Envoy cannot require a certificate it has nothing to verify with.
		return nil, fmt.Errorf("client certificates required but no CA to verify them (%s)", c.CASource)
	}
	// Runs after Go verified the chain (and its clientAuth usage).
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		leaf := cs.PeerCertificates[0]
		if crl != nil {
			for _, r := range crl.RevokedCertificateEntries {
				if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
					return fmt.Errorf("client certificate %s is revoked", leaf.Subject)
				}
			}
		}
		if len(c.SubjectAltNames) > 0 && !hasSAN(leaf, c.SubjectAltNames) {
			return fmt.Errorf("client certificate %s matches none of subjectAltNames %v", leaf.Subject, c.SubjectAltNames)
		}
		if len(c.SPKI) > 0 || len(c.CertHash) > 0 {
			if !pinned(leaf, c.SPKI, c.CertHash) {
				return fmt.Errorf("client certificate %s matches none of the pinned SPKI/hash values", leaf.Subject)
			}
		}
		return nil
	}
	return conf, nil
}

// pinned reports whether leaf matches one of Envoy's verify_certificate_spki
// (base64 SHA-256 of the SubjectPublicKeyInfo) or verify_certificate_hash
// (hex SHA-256 of the DER certificate, colons allowed) values.
func pinned(leaf *x509.Certificate, spki, hash []string) bool {
	s := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	if slices.Contains(spki, base64.StdEncoding.EncodeToString(s[:])) {
		return true
	}
	h := sha256.Sum256(leaf.Raw)
	want := hex.EncodeToString(h[:])
	for _, v := range hash {
		if strings.EqualFold(strings.ReplaceAll(v, ":", ""), want) {
			return true
		}
	}
	return false
}

type routeKey struct{}

// route routes a request as Envoy would after the handshake. Istio's chains
// route by virtual host: the Host's virtual host, then the first route whose
// path match takes the path; a route to a cluster reaches the app, a direct
// response answers itself, and no virtual host or route answers 404 (Istio's
// route for a host no VirtualService binds is a 404 direct response). The
// tests' own reading has no routes: a Host none of the server's hosts takes
// answers 404, as Envoy does when no virtual host matches (Istio routes a
// VirtualService only through a Gateway server that lists its host).
func (g *GatewayServer) route(next http.Handler) http.Handler {
	names := g.cfg.serverNames()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notFound := func(msg string) {
			g.record(r)
			w.Header().Set("Server", "istio-envoy")
			http.Error(w, msg, http.StatusNotFound)
		}
		host := r.Host
		hostOnly := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			hostOnly = h
		}
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		i := pickChain(names, sni)
		if i < 0 {
			notFound("no filter chain")
			return
		}
		c := g.chains[i]
		if !c.Routes {
			if pickChain([][]string{c.ServerNames}, hostOnly) < 0 {
				notFound("no route for host " + hostOnly)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		switch _, port, _ := net.SplitHostPort(host); {
		case c.IgnorePort, c.StripPort == "any", c.StripPort == "matching" && port == fmt.Sprint(g.cfg.ListenerPort):
			host = hostOnly
		}
		vh := pickVirtualHost(c.VirtualHosts, host)
		if vh == nil {
			notFound("no virtual host for " + host)
			return
		}
		rt := pickRoute(vh, r.URL.Path)
		switch {
		case rt == nil:
			notFound("no route in virtual host " + vh.Name)
		case rt.DirectResponse != 0:
			r = r.WithContext(context.WithValue(r.Context(), routeKey{}, [2]string{c.Name, ""}))
			g.record(r)
			w.Header().Set("Server", "istio-envoy")
			w.WriteHeader(int(rt.DirectResponse))
		case rt.Cluster != "":
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, [2]string{c.Name, rt.Cluster})))
		default:
			notFound("route " + rt.Name + " has no cluster")
		}
	})
}

// Addr is the gateway's host:port on loopback.
func (g *GatewayServer) Addr() string { return g.ln.Addr().String() }

// Config is the configuration the gateway serves.
func (g *GatewayServer) Config() *GatewayConfig { return g.cfg }

// Close stops the gateway.
func (g *GatewayServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := g.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return g.srv.Close()
	}
	return err
}

// HandshakeErrors are the reasons of every failed TLS handshake so far, oldest first.
func (g *GatewayServer) HandshakeErrors() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.handshakes)
}

// WaitHandshakeError waits up to timeout for a failed handshake whose
// reason contains substr. The server logs a failure after sending its alert,
// so a client can see the refusal before the reason is recorded.
func (g *GatewayServer) WaitHandshakeError(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range g.HandshakeErrors() {
			if strings.Contains(e, substr) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LastHandshakeError is the reason of the latest failed handshake, or "".
func (g *GatewayServer) LastHandshakeError() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.handshakes) == 0 {
		return ""
	}
	return g.handshakes[len(g.handshakes)-1]
}

// Requests are the requests that passed mutual TLS, oldest first.
func (g *GatewayServer) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

func (g *GatewayServer) logLine(line string) {
	const prefix = "http: TLS handshake error from "
	if !strings.HasPrefix(line, prefix) {
		return
	}
	// "http: TLS handshake error from 127.0.0.1:1234: <reason>"
	rest := strings.TrimPrefix(line, prefix)
	if i := strings.Index(rest, ": "); i >= 0 {
		rest = rest[i+2:]
	}
	g.mu.Lock()
	g.handshakes = append(g.handshakes, strings.TrimSpace(rest))
	g.mu.Unlock()
}

func (g *GatewayServer) record(r *http.Request) {
	req := Request{Host: r.Host, Method: r.Method, Path: r.URL.Path}
	if v, ok := r.Context().Value(routeKey{}).([2]string); ok {
		req.Chain, req.Cluster = v[0], v[1]
	}
	if r.TLS != nil {
		req.SNI = r.TLS.ServerName
		if len(r.TLS.PeerCertificates) > 0 {
			req.ClientSubject = r.TLS.PeerCertificates[0].Subject.String()
			req.ClientDNSNames = r.TLS.PeerCertificates[0].DNSNames
			req.ClientSerial = r.TLS.PeerCertificates[0].SerialNumber.String()
		}
	}
	g.mu.Lock()
	g.requests = append(g.requests, req)
	g.mu.Unlock()
}

func hasSAN(c *x509.Certificate, want []string) bool {
	var have []string
	have = append(have, c.DNSNames...)
	have = append(have, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		have = append(have, ip.String())
	}
	for _, u := range c.URIs {
		have = append(have, u.String())
	}
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

// logWriter hands each line written to it to a function.
type logWriter func(string)

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w(line)
	}
	return len(p), nil
}
