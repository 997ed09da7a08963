package datapath

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// RequireIstioEnv names the variable that makes a missing istio-xds binary a
// failure instead of a skip (and forbids falling back to the tests' own
// reading of the Gateway); CI sets it because it builds the binary.
const RequireIstioEnv = "ALBISTIO_REQUIRE_ISTIO"

// Where a GatewayConfig's decisions come from.
const (
	// SourceIstio: Istio's own pilot code (istio-xds) generated the listener.
	SourceIstio = "istio"
	// SourceTests: the tests' own reading of the Gateway and its secrets.
	SourceTests = "tests"
)

// IstioXDSPath is the istio-xds binary test/istioxds/build.sh builds into
// the test binaries' directory (ALBISTIO_TEST_BIN, else test/bin).
func IstioXDSPath() (string, error) {
	p := filepath.Join(cluster.DefaultBinDir(), "istio-xds")
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", fmt.Errorf("istio-xds is not built: %s is missing (make istio-bin: ~5 min and ~3 GB RAM cold, seconds warm)", p)
	}
	return p, nil
}

// IstioOrSkip returns the istio-xds binary, or skips the test when it is not
// built, failing it instead when ALBISTIO_REQUIRE_ISTIO=1.
func IstioOrSkip(t testing.TB) string {
	t.Helper()
	p, err := IstioXDSPath()
	if err == nil {
		return p
	}
	if os.Getenv(RequireIstioEnv) == "1" {
		t.Fatalf("%v; %s=1 requires it", err, RequireIstioEnv)
	}
	t.Skipf("%v; this test asserts against Istio's own generated configuration (set %s=1 to make this a failure)", err, RequireIstioEnv)
	return ""
}

// IstioSummary is what istio-xds prints: the listeners, routes and SDS
// secrets Istio's pilot generates for the gateway proxy.
type IstioSummary struct {
	Istio string `json:"istio"`
	Proxy struct {
		ID           string `json:"id"`
		Namespace    string `json:"namespace"`
		IP           string `json:"ip"`
		IstioVersion string `json:"istio_version"`
	} `json:"proxy"`
	Listeners []IstioListener `json:"listeners"`
	Secrets   []struct {
		Name   string `json:"name"`
		Served bool   `json:"served"`
		Type   string `json:"type"`
	} `json:"secrets"`
	Warnings []string `json:"warnings"`
}

// IstioListener is one listener of the summary.
type IstioListener struct {
	Name         string             `json:"name"`
	Address      string             `json:"address"`
	Port         uint32             `json:"port"`
	FilterChains []IstioFilterChain `json:"filter_chains"`
}

// IstioFilterChain is one filter chain of a listener.
type IstioFilterChain struct {
	Name              string             `json:"name"`
	ServerNames       []string           `json:"server_names"`
	TransportProtocol string             `json:"transport_protocol"`
	TLS               *IstioTLS          `json:"tls"`
	Route             string             `json:"route"`
	VirtualHosts      []IstioVirtualHost `json:"virtual_hosts"`
	StripPort         string             `json:"strip_port"`
	IgnorePort        bool               `json:"ignore_port_in_host_matching"`
	Filters           []string           `json:"filters"`
}

// IstioTLS is a filter chain's downstream TLS context, SDS resolved.
type IstioTLS struct {
	RequireClientCertificate bool     `json:"require_client_certificate"`
	ALPN                     []string `json:"alpn"`
	MinVersion               string   `json:"min_version"`
	MaxVersion               string   `json:"max_version"`
	CertificateSDS           []string `json:"certificate_sds"`
	ValidationSDS            string   `json:"validation_sds"`
	MatchSubjectAltNames     []string `json:"match_subject_alt_names"`
	VerifyCertificateSPKI    []string `json:"verify_certificate_spki"`
	VerifyCertificateHash    []string `json:"verify_certificate_hash"`
	TrustChainVerification   string   `json:"trust_chain_verification"`
	Certificates             []struct {
		SDS           string `json:"sds"`
		Served        bool   `json:"served"`
		Type          string `json:"type"`
		ChainPEM      string `json:"chain_pem"`
		PrivateKeyPEM string `json:"private_key_pem"`
	} `json:"certificates"`
	Validation *struct {
		SDS    string `json:"sds"`
		Served bool   `json:"served"`
		Type   string `json:"type"`
		CAPEM  string `json:"ca_pem"`
		CRLPEM string `json:"crl_pem"`
	} `json:"validation"`
}

// IstioVirtualHost is one virtual host of a filter chain's routes.
type IstioVirtualHost struct {
	Name    string       `json:"name"`
	Domains []string     `json:"domains"`
	Routes  []IstioRoute `json:"routes"`
}

// IstioRoute is one route of a virtual host.
type IstioRoute struct {
	Name           string `json:"name"`
	Prefix         string `json:"prefix"`
	PathSeparated  string `json:"path_separated_prefix"`
	Path           string `json:"path"`
	Regex          string `json:"regex"`
	Cluster        string `json:"cluster"`
	DirectResponse uint32 `json:"direct_response"`
}

// Listener is the listener on port, or nil.
func (s *IstioSummary) Listener(port uint32) *IstioListener {
	for i := range s.Listeners {
		if s.Listeners[i].Port == port {
			return &s.Listeners[i]
		}
	}
	return nil
}

// ChainFor is the filter chain Envoy picks for the SNI name, or nil.
func (l *IstioListener) ChainFor(sni string) *IstioFilterChain {
	if l == nil {
		return nil
	}
	names := make([][]string, len(l.FilterChains))
	for i, c := range l.FilterChains {
		names[i] = c.ServerNames
	}
	if i := pickChain(names, sni); i >= 0 {
		return &l.FilterChains[i]
	}
	return nil
}

// RunIstioXDS runs the istio-xds binary on objects (Kubernetes and Istio
// objects as the API server returns them) for the gateway Pod proxy
// ("namespace/name") and returns its summary with the served private keys.
// The keys travel over istio-xds's stdout pipe into memory only; its stderr
// (pilot's warnings, never key material) goes into errors.
func RunIstioXDS(ctx context.Context, bin, proxy string, objects []runtime.Object) (*IstioSummary, error) {
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": objects}
	in, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-private-keys", "-proxy", proxy)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -proxy %s: %v\n%s", bin, proxy, err, strings.TrimSpace(stderr.String()))
	}
	var sum IstioSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return nil, fmt.Errorf("%s printed no summary: %v\nstderr:\n%s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return &sum, nil
}

// IstioInput is what a gateway proxy's istiod would see for one Gateway.
type IstioInput struct {
	// Objects go to istio-xds on stdin.
	Objects []runtime.Object
	// Proxy is the gateway Pod ("namespace/name") generated for.
	Proxy string
	// Port is the listener port behind the gateway Service's port 443 (its
	// targetPort), the one the ALB reaches.
	Port uint32
	// Gateway is the Gateway object itself.
	Gateway *unstructured.Unstructured
}

// IstioObjects collects, from the cluster, what Istio would read for the
// Gateway namespace/name: the gateway Pod its selector matches (the proxy;
// the first by name in the workload namespace), that namespace's Services,
// Secrets and ConfigMaps, the Istio Gateways of the workload namespace and
// of the Gateway's own namespace (a test API server holds several
// "clusters" side by side; a Gateway elsewhere belongs to another one), and
// every VirtualService that names the Gateway in spec.gateways. Istio decides
// which of them apply.
func IstioObjects(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, gatewayName string, opts ...GatewayOption) (*IstioInput, error) {
	var o gatewayOptions
	for _, f := range opts {
		f(&o)
	}
	gw, gvr, err := getGatewayGVR(ctx, dyn, namespace, gatewayName)
	if err != nil {
		return nil, err
	}
	wns, err := workloadNamespace(ctx, kube, gw, o.workloadNamespace)
	if err != nil {
		return nil, err
	}
	sel, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "selector")
	pods, err := kube.CoreV1().Pods(wns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return nil, err
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	pod := pods.Items[0]
	in := &IstioInput{Proxy: wns + "/" + pod.Name, Port: 443, Gateway: gw}
	add := func(apiVersion, kind string, obj runtime.Object) {
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
		in.Objects = append(in.Objects, obj)
	}
	add("v1", "Pod", &pod)
	svcs, err := kube.CoreV1().Services(wns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		add("v1", "Service", s)
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.Port == 443 && p.TargetPort.IntValue() > 0 {
				in.Port = uint32(p.TargetPort.IntValue())
			}
		}
	}
	secrets, err := kube.CoreV1().Secrets(wns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range secrets.Items {
		add("v1", "Secret", &secrets.Items[i])
	}
	cms, err := kube.CoreV1().ConfigMaps(wns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range cms.Items {
		add("v1", "ConfigMap", &cms.Items[i])
	}
	gwNamespaces := []string{wns}
	if namespace != wns {
		gwNamespaces = append(gwNamespaces, namespace)
	}
	for _, ns := range gwNamespaces {
		l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing Gateways in %s: %w", ns, err)
		}
		for i := range l.Items {
			in.Objects = append(in.Objects, &l.Items[i])
		}
	}
	vsGVR := gvr
	vsGVR.Resource = "virtualservices"
	vss, err := dyn.Resource(vsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing VirtualServices: %w", err)
	}
	for i := range vss.Items {
		// A VirtualService that does not name the Gateway cannot bind to it;
		// the rest Istio sorts out (namespaces, hosts, exportTo).
		gws, _, _ := unstructured.NestedStringSlice(vss.Items[i].Object, "spec", "gateways")
		if slices.ContainsFunc(gws, func(g string) bool { return g == gatewayName || strings.HasSuffix(g, "/"+gatewayName) }) {
			in.Objects = append(in.Objects, &vss.Items[i])
		}
	}
	return in, nil
}

// GatewayFromIstio asks Istio's own pilot code (the istio-xds binary) what
// the gateway serves for the Gateway namespace/name and returns it as the
// stand-in's configuration: the filter chains of the listener behind the
// gateway Service's port 443, with the certificates, client CAs and routes
// Istio's SDS and RDS generators produce.
func GatewayFromIstio(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, gatewayName string, opts ...GatewayOption) (*GatewayConfig, error) {
	bin, err := IstioXDSPath()
	if err != nil {
		return nil, err
	}
	in, err := IstioObjects(ctx, dyn, kube, namespace, gatewayName, opts...)
	if err != nil {
		return nil, err
	}
	sum, err := RunIstioXDS(ctx, bin, in.Proxy, in.Objects)
	if err != nil {
		return nil, fmt.Errorf("gateway %s/%s: %w", namespace, gatewayName, err)
	}
	cfg := &GatewayConfig{Namespace: namespace, Name: gatewayName, Source: SourceIstio, Istio: sum, ListenerPort: in.Port}
	cfg.WorkloadNamespace, _, _ = strings.Cut(in.Proxy, "/")
	_ = cfg.parseServer(in.Gateway) // CredentialName, for messages; Istio decides the rest
	cfg.Chains = ChainsFromIstio(sum.Listener(in.Port))
	cfg.fillLegacy()
	return cfg, nil
}

// ChainsFromIstio turns an Istio listener into the stand-in's filter chains.
func ChainsFromIstio(l *IstioListener) []Chain {
	if l == nil {
		return nil
	}
	var out []Chain
	for _, fc := range l.FilterChains {
		c := Chain{Name: fc.Name, ServerNames: fc.ServerNames, StripPort: fc.StripPort, IgnorePort: fc.IgnorePort, Routes: true}
		if len(c.ServerNames) == 0 {
			c.ServerNames = []string{"*"}
		}
		c.VirtualHosts = fc.VirtualHosts
		if t := fc.TLS; t != nil {
			c.TLS = true
			c.RequireClientCert = t.RequireClientCertificate
			c.SubjectAltNames = t.MatchSubjectAltNames
			c.SPKI, c.CertHash = t.VerifyCertificateSPKI, t.VerifyCertificateHash
			c.AcceptUntrusted = t.TrustChainVerification == "ACCEPT_UNTRUSTED"
			for _, cert := range t.Certificates {
				if c.CertSource == "" {
					c.CertSource = cert.SDS
				}
				if cert.Served && cert.Type == "tls_certificate" && c.CertPEM == nil {
					c.CertPEM, c.KeyPEM = []byte(cert.ChainPEM), []byte(cert.PrivateKeyPEM)
					c.CertSource = cert.SDS
				}
			}
			if c.CertPEM == nil {
				c.Unready = append(c.Unready, fmt.Sprintf("SDS served no certificate for %v", t.CertificateSDS))
			}
			if v := t.Validation; v != nil {
				c.CASource = v.SDS
				switch {
				case !v.Served:
					c.Unready = append(c.Unready, "SDS served no validation context for "+v.SDS)
				case v.Type != "validation_context":
					c.Unready = append(c.Unready, fmt.Sprintf("SDS served a %s, not a validation context, for %s", v.Type, v.SDS))
				default:
					c.CAPEM, c.CRLPEM = []byte(v.CAPEM), []byte(v.CRLPEM)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// GatewayFromCluster is the gateway stand-in's configuration for the Istio
// Gateway namespace/name as the cluster holds it now: from Istio's own
// pilot code when istio-xds is built (GatewayFromIstio), else from the tests'
// own reading (ReadGateway). With ALBISTIO_REQUIRE_ISTIO=1 a missing
// istio-xds is an error, never a fallback.
func GatewayFromCluster(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, namespace, gatewayName string, opts ...GatewayOption) (*GatewayConfig, error) {
	_, err := IstioXDSPath()
	if err == nil || os.Getenv(RequireIstioEnv) == "1" {
		return GatewayFromIstio(ctx, dyn, kube, namespace, gatewayName, opts...)
	}
	return ReadGateway(ctx, dyn, kube, namespace, gatewayName, opts...)
}

func getGatewayGVR(ctx context.Context, dyn dynamic.Interface, ns, name string) (*unstructured.Unstructured, schema.GroupVersionResource, error) {
	var firstErr error
	for _, gvr := range GatewayGVRs() {
		gw, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return gw, gvr, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !apierrors.IsNotFound(err) {
			break
		}
	}
	return nil, schema.GroupVersionResource{}, fmt.Errorf("reading Istio Gateway %s/%s: %w", ns, name, firstErr)
}

// pickChain is the index of the filter chain Envoy matches for the SNI name
// among chains with these server names ("*" or none: any name, even none):
// an exact name first, then the longest "*." wildcard suffix, then a chain
// without names; -1 when none matches.
func pickChain(serverNames [][]string, sni string) int {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	best, bestLen, catchAll := -1, -1, -1
	for i, names := range serverNames {
		if len(names) == 0 || slices.Contains(names, "*") {
			if catchAll < 0 {
				catchAll = i
			}
			continue
		}
		if sni == "" {
			continue
		}
		for _, n := range names {
			n = strings.ToLower(n)
			switch {
			case n == sni:
				return i
			case strings.HasPrefix(n, "*.") && strings.HasSuffix(sni, n[1:]) && len(sni) > len(n)-1 && len(n) > bestLen:
				best, bestLen = i, len(n)
			}
		}
	}
	if best >= 0 {
		return best
	}
	return catchAll
}

// pickVirtualHost is the virtual host Envoy routes host to: an exact domain,
// then the longest "*" suffix wildcard, then the longest "*" prefix wildcard,
// then "*"; nil when none matches.
func pickVirtualHost(vhs []IstioVirtualHost, host string) *IstioVirtualHost {
	host = strings.ToLower(host)
	var suffix, prefix, any *IstioVirtualHost
	suffixLen, prefixLen := -1, -1
	for i := range vhs {
		for _, d := range vhs[i].Domains {
			d = strings.ToLower(d)
			switch {
			case d == host:
				return &vhs[i]
			case d == "*":
				if any == nil {
					any = &vhs[i]
				}
			case strings.HasPrefix(d, "*") && strings.HasSuffix(host, d[1:]) && len(host) > len(d)-1:
				if len(d) > suffixLen {
					suffix, suffixLen = &vhs[i], len(d)
				}
			case strings.HasSuffix(d, "*") && strings.HasPrefix(host, d[:len(d)-1]) && len(host) > len(d)-1:
				if len(d) > prefixLen {
					prefix, prefixLen = &vhs[i], len(d)
				}
			}
		}
	}
	switch {
	case suffix != nil:
		return suffix
	case prefix != nil:
		return prefix
	}
	return any
}

// pickRoute is the first route of vh whose path match takes path, or nil.
func pickRoute(vh *IstioVirtualHost, path string) *IstioRoute {
	for i := range vh.Routes {
		r := &vh.Routes[i]
		switch {
		case r.Path != "":
			if r.Path == path {
				return r
			}
		case r.Regex != "":
			if regexMatches(r.Regex, path) {
				return r
			}
		case r.PathSeparated != "":
			if p := strings.TrimSuffix(r.PathSeparated, "/"); path == p || strings.HasPrefix(path, p+"/") {
				return r
			}
		case strings.HasPrefix(path, r.Prefix):
			return r
		}
	}
	return nil
}

// IstioCAs is the validation CA Istio's SDS served for a filter chain, or
// nil with the reason.
func (c *IstioFilterChain) IstioCAs() ([]byte, string) {
	if c.TLS == nil {
		return nil, "the filter chain terminates no TLS"
	}
	v := c.TLS.Validation
	switch {
	case v == nil:
		return nil, "the filter chain has no validation context"
	case !v.Served:
		return nil, "SDS served nothing for " + v.SDS
	case v.Type != "validation_context":
		return nil, fmt.Sprintf("SDS served a %s for %s", v.Type, v.SDS)
	}
	return []byte(v.CAPEM), ""
}

// WarningsMention reports whether one of pilot's warnings contains substr.
func (s *IstioSummary) WarningsMention(substr string) bool {
	for _, w := range s.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

// regexMatches is Envoy's safe_regex path match: RE2, the whole path.
func regexMatches(re, path string) bool {
	r, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && r.MatchString(path)
}
