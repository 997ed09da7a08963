// Command istio-xds asks Istio's own pilot code what an ingress gateway's
// Envoy would be configured with, for the end-to-end tests' gateway stand-in.
//
// It reads Kubernetes and Istio objects (a YAML stream, a JSON object, or a
// JSON List, as `kubectl get -o yaml|json` prints them) on stdin: the
// gateway Pod and Service, Secrets (and ConfigMaps) of its namespace, Istio
// Gateways and VirtualServices. It loads them into Istio's in-process xDS
// server (istio.io/istio/pilot/test/xds, the one Istio's own tests use),
// connects the gateway Pod as a router proxy, and prints as JSON what pilot
// generates for it: every listener's filter chains with their SNI names,
// TLS settings and routes, and the secrets Istio's SDS generator serves for
// them, resolved to PEM.
//
// Private keys are printed only with -private-keys, for a test process that
// reads them over a pipe to serve the certificate; they never go to stderr.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/spiffe"
	"istio.io/istio/pkg/test"
	"istio.io/istio/pkg/util/sets"
	"istio.io/istio/pkg/wellknown"
)

// Summary is what pilot generated for the gateway proxy.
type Summary struct {
	// Istio is the istio.io/istio module version whose code generated this.
	Istio string `json:"istio"`
	// Proxy is the router proxy the configuration was generated for.
	Proxy Proxy `json:"proxy"`
	// Listeners are the proxy's listeners, sorted by name.
	Listeners []Listener `json:"listeners"`
	// Secrets are the SDS resources the listeners name and whether Istio's
	// SDS generator served each (their content is in the filter chains).
	Secrets []SecretRef `json:"secrets"`
	// Warnings are the warning and error lines pilot logged while generating.
	Warnings []string `json:"warnings"`
}

// Proxy identifies the router proxy.
type Proxy struct {
	ID           string `json:"id"`
	Namespace    string `json:"namespace"`
	IP           string `json:"ip"`
	IstioVersion string `json:"istio_version"`
}

// Listener is one Envoy listener.
type Listener struct {
	Name         string        `json:"name"`
	Address      string        `json:"address"`
	Port         uint32        `json:"port"`
	FilterChains []FilterChain `json:"filter_chains"`
}

// FilterChain is one filter chain of a listener.
type FilterChain struct {
	Name string `json:"name,omitempty"`
	// ServerNames are the SNI names the chain matches; empty matches any.
	ServerNames       []string `json:"server_names"`
	TransportProtocol string   `json:"transport_protocol,omitempty"`
	// TLS is the chain's downstream TLS context; nil when it terminates no TLS.
	TLS *TLS `json:"tls,omitempty"`
	// Route is the RDS route configuration its HTTP connection manager uses.
	Route string `json:"route,omitempty"`
	// VirtualHosts are that route configuration's virtual hosts.
	VirtualHosts []VirtualHost `json:"virtual_hosts,omitempty"`
	// IgnorePortInHostMatching is the route configuration's
	// ignore_port_in_host_matching: a Host's port is dropped before
	// matching virtual hosts.
	IgnorePortInHostMatching bool `json:"ignore_port_in_host_matching,omitempty"`
	// StripPort says how the connection manager drops a Host header's port
	// before matching virtual hosts: "any", "matching" or "" (kept).
	StripPort string `json:"strip_port,omitempty"`
	// Filters are the chain's network filter names.
	Filters []string `json:"filters"`
}

// TLS is a downstream TLS context with its SDS secrets resolved.
type TLS struct {
	RequireClientCertificate bool     `json:"require_client_certificate"`
	ALPN                     []string `json:"alpn,omitempty"`
	MinVersion               string   `json:"min_version,omitempty"`
	MaxVersion               string   `json:"max_version,omitempty"`
	// CertificateSDS are the SDS names of the served certificates.
	CertificateSDS []string `json:"certificate_sds"`
	// ValidationSDS is the SDS name of the validation context ("" for none).
	ValidationSDS string `json:"validation_sds,omitempty"`
	// MatchSubjectAltNames, VerifyCertificateSPKI and VerifyCertificateHash
	// restrict accepted client certificates (the default validation context).
	MatchSubjectAltNames   []string `json:"match_subject_alt_names,omitempty"`
	VerifyCertificateSPKI  []string `json:"verify_certificate_spki,omitempty"`
	VerifyCertificateHash  []string `json:"verify_certificate_hash,omitempty"`
	TrustChainVerification string   `json:"trust_chain_verification,omitempty"`
	// Certificates are the served certificates as SDS delivered them.
	Certificates []Certificate `json:"certificates"`
	// Validation is the validation context as SDS delivered it.
	Validation *Validation `json:"validation,omitempty"`
}

// Certificate is a tls_certificate secret.
type Certificate struct {
	SDS string `json:"sds"`
	// Served is false when Istio's SDS generator returned nothing for the name.
	Served bool `json:"served"`
	// Type is the secret type SDS returned (tls_certificate expected).
	Type     string `json:"type,omitempty"`
	ChainPEM string `json:"chain_pem,omitempty"`
	// PrivateKeyPEM is set only with -private-keys.
	PrivateKeyPEM string `json:"private_key_pem,omitempty"`
}

// Validation is a validation_context secret.
type Validation struct {
	SDS    string `json:"sds"`
	Served bool   `json:"served"`
	// Type is the secret type SDS returned (validation_context expected).
	Type   string `json:"type,omitempty"`
	CAPEM  string `json:"ca_pem,omitempty"`
	CRLPEM string `json:"crl_pem,omitempty"`
}

// SecretRef is one SDS resource name and what SDS returned for it.
type SecretRef struct {
	Name   string `json:"name"`
	Served bool   `json:"served"`
	Type   string `json:"type,omitempty"`
}

// VirtualHost is one virtual host of a route configuration.
type VirtualHost struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  []Route  `json:"routes"`
}

// Route is one route of a virtual host.
type Route struct {
	Name string `json:"name,omitempty"`
	// Prefix, PathSeparatedPrefix, Path and Regex are the path match (one is set).
	Prefix              string `json:"prefix,omitempty"`
	PathSeparatedPrefix string `json:"path_separated_prefix,omitempty"`
	Path                string `json:"path,omitempty"`
	Regex               string `json:"regex,omitempty"`
	// Cluster is the upstream cluster of a route action.
	Cluster string `json:"cluster,omitempty"`
	// DirectResponse is the status of a direct response (0: none).
	DirectResponse uint32 `json:"direct_response,omitempty"`
}

func main() {
	proxyName := flag.String("proxy", "", "namespace/name of the gateway Pod to generate for (default: the only Pod on stdin)")
	istioVersion := flag.String("proxy-istio-version", "1.31.0", "the Istio version the proxy reports")
	privateKeys := flag.Bool("private-keys", false, "include served private keys in the output (for a test process reading a pipe; never log it)")
	verbose := flag.Bool("v", false, "log pilot's info lines to stderr")
	version := flag.Bool("version", false, "print the istio.io/istio version built in and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: istio-xds [flags] < objects.yaml\n\n%s\n", strings.SplitN(usage, "\n\n", 2)[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *version {
		fmt.Println("istio.io/istio", istioModuleVersion())
		return
	}
	sum, err := run(os.Stdin, *proxyName, *istioVersion, *privateKeys, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(1)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(1)
	}
}

const usage = `Prints, as JSON, the listeners, routes and SDS secrets Istio's pilot generates for an ingress gateway Pod from the Kubernetes and Istio objects on stdin.`

func run(in io.Reader, proxyName, istioVersion string, privateKeys, verbose bool) (*Summary, error) {
	warnings := &recorder{}
	if err := configureLogs(warnings, verbose); err != nil {
		return nil, err
	}
	docs, err := readObjects(in)
	if err != nil {
		return nil, err
	}
	var istioCfg []string
	var kubeObjs []runtime.Object
	var pods []*corev1.Pod
	for _, d := range docs {
		if d.GetKind() == "Pod" && d.GetAPIVersion() == "v1" {
			pod := &corev1.Pod{}
			if err := fromUnstructured(d, pod); err != nil {
				return nil, err
			}
			pods = append(pods, pod)
			continue // added below, with the runtime facts a kubelet would set
		}
		if isIstioConfig(d.GetAPIVersion()) {
			stripServerFields(d)
		}
		if !isIstioConfig(d.GetAPIVersion()) {
			o, err := decode(d)
			if err != nil {
				return nil, err
			}
			kubeObjs = append(kubeObjs, o)
			continue
		}
		y, err := yaml.Marshal(d.Object)
		if err != nil {
			return nil, err
		}
		istioCfg = append(istioCfg, string(y))
	}
	pod, err := pickPod(pods, proxyName)
	if err != nil {
		return nil, err
	}
	for i, p := range pods {
		running(p, i)
		kubeObjs = append(kubeObjs, p)
	}

	var sum *Summary
	err = test.Wrap(func(t test.Failer) {
		s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
			ConfigString:               strings.Join(istioCfg, "\n---\n"),
			KubernetesObjects:          kubeObjs,
			DisableSecretAuthorization: true,
		})
		sa := pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		proxy := s.SetupProxy(&model.Proxy{
			Type:            model.Router,
			ID:              pod.Name + "." + pod.Namespace,
			ConfigNamespace: pod.Namespace,
			IPAddresses:     []string{pod.Status.PodIP},
			Labels:          pod.Labels,
			Metadata: &model.NodeMetadata{
				Namespace:    pod.Namespace,
				Labels:       pod.Labels,
				ClusterID:    "Kubernetes",
				IstioVersion: istioVersion,
			},
			VerifiedIdentity: &spiffe.Identity{TrustDomain: "cluster.local", Namespace: pod.Namespace, ServiceAccount: sa},
		})
		listeners := s.Listeners(proxy)
		routes := s.RoutesFromListeners(proxy, listeners)
		sum = summarize(listeners, routes)
		sum.Proxy = Proxy{ID: proxy.ID, Namespace: pod.Namespace, IP: pod.Status.PodIP, IstioVersion: istioVersion}
		names := sdsNames(sum)
		gen := s.Discovery.Generators[v3.SecretType]
		res, _, err := gen.Generate(proxy, &model.WatchedResource{ResourceNames: sets.New(names...)}, &model.PushRequest{Forced: true, Push: s.PushContext()})
		if err != nil {
			t.Fatal(err)
		}
		secrets := map[string]*tlsv3.Secret{}
		for _, r := range res {
			sec := &tlsv3.Secret{}
			if err := r.Resource.UnmarshalTo(sec); err != nil {
				t.Fatal(err)
			}
			secrets[r.Name] = sec
		}
		resolve(sum, names, secrets, privateKeys)
	})
	if err != nil {
		return nil, fmt.Errorf("istio's xds server: %w", err)
	}
	sum.Istio = istioModuleVersion()
	sum.Warnings = warnings.lines()
	return sum, nil
}

// readObjects decodes a YAML stream or JSON documents, expanding Lists.
func readObjects(in io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading objects on stdin: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			err := u.EachListItem(func(o runtime.Object) error {
				item := o.(*unstructured.Unstructured)
				out = append(out, item)
				return nil
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("an object on stdin has no apiVersion/kind (kubectl get -o yaml of a list sets them on each item)")
		}
		out = append(out, u)
	}
	return out, nil
}

func isIstioConfig(apiVersion string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return strings.HasSuffix(group, ".istio.io")
}

// stripServerFields drops what the API server adds that Istio's YAML config
// parser has no place for.
func stripServerFields(u *unstructured.Unstructured) {
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
}

// decode turns a Kubernetes (or Gateway API) object into the typed object
// Istio's fake clients take. An error names the object, never its content
// (a Secret's data must not reach a log).
func decode(u *unstructured.Unstructured) (runtime.Object, error) {
	j, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	o, _, err := kubelib.IstioCodec.UniversalDeserializer().Decode(j, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding %s %s %s/%s: %s", u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName(), firstLine(err.Error()))
	}
	return o, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

func pickPod(pods []*corev1.Pod, name string) (*corev1.Pod, error) {
	if name != "" {
		for _, p := range pods {
			if p.Namespace+"/"+p.Name == name {
				return p, nil
			}
		}
		return nil, fmt.Errorf("no Pod %s on stdin", name)
	}
	switch len(pods) {
	case 0:
		return nil, errors.New("no Pod on stdin: the gateway Pod is the proxy pilot generates for")
	case 1:
		return pods[0], nil
	}
	return nil, fmt.Errorf("%d Pods on stdin; say which is the gateway with -proxy namespace/name", len(pods))
}

// running sets what a kubelet would on a started gateway Pod when the API
// server holds none (a test cluster runs no kubelet): pilot finds the proxy's
// Services through the Pod's IP.
func running(p *corev1.Pod, i int) {
	if p.Status.PodIP == "" {
		p.Status.PodIP = fmt.Sprintf("10.10.%d.%d", i/250, i%250+10)
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.PodRunning
	}
	if len(p.Status.Conditions) == 0 {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	p.TypeMeta.APIVersion, p.TypeMeta.Kind = "v1", "Pod"
}

func summarize(ls []*listener.Listener, rcs []*route.RouteConfiguration) *Summary {
	byName := map[string]*route.RouteConfiguration{}
	for _, rc := range rcs {
		byName[rc.Name] = rc
	}
	sum := &Summary{Listeners: []Listener{}, Secrets: []SecretRef{}, Warnings: []string{}}
	for _, l := range ls {
		out := Listener{Name: l.Name, FilterChains: []FilterChain{}}
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			out.Address, out.Port = sa.Address, sa.GetPortValue()
		}
		for _, fc := range l.FilterChains {
			c := FilterChain{Name: fc.Name, ServerNames: fc.GetFilterChainMatch().GetServerNames(), Filters: []string{}}
			if c.ServerNames == nil {
				c.ServerNames = []string{}
			}
			c.TransportProtocol = fc.GetFilterChainMatch().GetTransportProtocol()
			if ts := fc.GetTransportSocket(); ts != nil && ts.GetTypedConfig() != nil {
				dtc := &tlsv3.DownstreamTlsContext{}
				if err := ts.GetTypedConfig().UnmarshalTo(dtc); err == nil {
					c.TLS = tlsOf(dtc)
				}
			}
			for _, f := range fc.Filters {
				c.Filters = append(c.Filters, f.Name)
				if f.Name != wellknown.HTTPConnectionManager || f.GetTypedConfig() == nil {
					continue
				}
				h := &hcm.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					continue
				}
				switch {
				case h.GetStripAnyHostPort():
					c.StripPort = "any"
				case h.GetStripMatchingHostPort():
					c.StripPort = "matching"
				}
				rc := h.GetRouteConfig()
				if rds := h.GetRds(); rds != nil {
					rc = byName[rds.RouteConfigName]
					c.Route = rds.RouteConfigName
				}
				if rc != nil {
					c.Route = rc.Name
					c.VirtualHosts = virtualHosts(rc)
					c.IgnorePortInHostMatching = rc.GetIgnorePortInHostMatching()
				}
			}
			out.FilterChains = append(out.FilterChains, c)
		}
		sum.Listeners = append(sum.Listeners, out)
	}
	sort.Slice(sum.Listeners, func(i, j int) bool { return sum.Listeners[i].Name < sum.Listeners[j].Name })
	return sum
}

func tlsOf(dtc *tlsv3.DownstreamTlsContext) *TLS {
	ctc := dtc.GetCommonTlsContext()
	t := &TLS{
		RequireClientCertificate: dtc.GetRequireClientCertificate().GetValue(),
		ALPN:                     ctc.GetAlpnProtocols(),
		CertificateSDS:           []string{},
		Certificates:             []Certificate{},
	}
	if p := ctc.GetTlsParams(); p != nil {
		t.MinVersion = p.GetTlsMinimumProtocolVersion().String()
		t.MaxVersion = p.GetTlsMaximumProtocolVersion().String()
	}
	for _, sds := range ctc.GetTlsCertificateSdsSecretConfigs() {
		t.CertificateSDS = append(t.CertificateSDS, sds.Name)
	}
	var def *tlsv3.CertificateValidationContext
	switch v := ctc.GetValidationContextType().(type) {
	case *tlsv3.CommonTlsContext_CombinedValidationContext:
		def = v.CombinedValidationContext.GetDefaultValidationContext()
		t.ValidationSDS = v.CombinedValidationContext.GetValidationContextSdsSecretConfig().GetName()
	case *tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig:
		t.ValidationSDS = v.ValidationContextSdsSecretConfig.GetName()
	case *tlsv3.CommonTlsContext_ValidationContext:
		def = v.ValidationContext
	}
	if def != nil {
		t.MatchSubjectAltNames = stringMatches(def.GetMatchSubjectAltNames())
		t.VerifyCertificateSPKI = def.GetVerifyCertificateSpki()
		t.VerifyCertificateHash = def.GetVerifyCertificateHash()
		if def.GetTrustChainVerification() != tlsv3.CertificateValidationContext_VERIFY_TRUST_CHAIN {
			t.TrustChainVerification = def.GetTrustChainVerification().String()
		}
	}
	return t
}

func stringMatches(ms []*matcherv3.StringMatcher) []string {
	var out []string
	for _, m := range ms {
		switch {
		case m.GetExact() != "":
			out = append(out, m.GetExact())
		case m.GetPrefix() != "":
			out = append(out, "prefix:"+m.GetPrefix())
		case m.GetSuffix() != "":
			out = append(out, "suffix:"+m.GetSuffix())
		default:
			out = append(out, m.String())
		}
	}
	return out
}

func virtualHosts(rc *route.RouteConfiguration) []VirtualHost {
	if rc == nil {
		return nil
	}
	out := []VirtualHost{}
	for _, vh := range rc.VirtualHosts {
		v := VirtualHost{Name: vh.Name, Domains: vh.Domains, Routes: []Route{}}
		for _, r := range vh.Routes {
			o := Route{Name: r.Name}
			switch pm := r.GetMatch().GetPathSpecifier().(type) {
			case *route.RouteMatch_Prefix:
				o.Prefix = pm.Prefix
			case *route.RouteMatch_Path:
				o.Path = pm.Path
			case *route.RouteMatch_SafeRegex:
				o.Regex = pm.SafeRegex.GetRegex()
			case *route.RouteMatch_PathSeparatedPrefix:
				o.PathSeparatedPrefix = pm.PathSeparatedPrefix
			}
			if a := r.GetRoute(); a != nil {
				o.Cluster = a.GetCluster()
				if o.Cluster == "" && len(a.GetWeightedClusters().GetClusters()) > 0 {
					o.Cluster = a.GetWeightedClusters().GetClusters()[0].GetName()
				}
			}
			if d := r.GetDirectResponse(); d != nil {
				o.DirectResponse = d.GetStatus()
			}
			v.Routes = append(v.Routes, o)
		}
		out = append(out, v)
	}
	return out
}

// sdsNames are every SDS resource the listeners name, sorted.
func sdsNames(sum *Summary) []string {
	set := map[string]bool{}
	for _, l := range sum.Listeners {
		for _, c := range l.FilterChains {
			if c.TLS == nil {
				continue
			}
			for _, n := range c.TLS.CertificateSDS {
				set[n] = true
			}
			if c.TLS.ValidationSDS != "" {
				set[c.TLS.ValidationSDS] = true
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func secretType(s *tlsv3.Secret) string {
	switch s.GetType().(type) {
	case *tlsv3.Secret_TlsCertificate:
		return "tls_certificate"
	case *tlsv3.Secret_ValidationContext:
		return "validation_context"
	case *tlsv3.Secret_SessionTicketKeys:
		return "session_ticket_keys"
	case *tlsv3.Secret_GenericSecret:
		return "generic_secret"
	}
	return ""
}

// resolve fills each chain's certificates and validation context from what
// SDS served.
func resolve(sum *Summary, names []string, secrets map[string]*tlsv3.Secret, privateKeys bool) {
	for _, n := range names {
		s, ok := secrets[n]
		sum.Secrets = append(sum.Secrets, SecretRef{Name: n, Served: ok, Type: secretType(s)})
	}
	for li := range sum.Listeners {
		for ci := range sum.Listeners[li].FilterChains {
			t := sum.Listeners[li].FilterChains[ci].TLS
			if t == nil {
				continue
			}
			for _, n := range t.CertificateSDS {
				c := Certificate{SDS: n}
				if s, ok := secrets[n]; ok {
					c.Served, c.Type = true, secretType(s)
					if tc := s.GetTlsCertificate(); tc != nil {
						c.ChainPEM = string(tc.GetCertificateChain().GetInlineBytes())
						if privateKeys {
							c.PrivateKeyPEM = string(tc.GetPrivateKey().GetInlineBytes())
						}
					}
				}
				t.Certificates = append(t.Certificates, c)
			}
			if t.ValidationSDS != "" {
				v := &Validation{SDS: t.ValidationSDS}
				if s, ok := secrets[t.ValidationSDS]; ok {
					v.Served, v.Type = true, secretType(s)
					if vc := s.GetValidationContext(); vc != nil {
						v.CAPEM = string(vc.GetTrustedCa().GetInlineBytes())
						v.CRLPEM = string(vc.GetCrl().GetInlineBytes())
					}
				}
				t.Validation = v
			}
		}
	}
}

func istioModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "istio.io/istio" {
				return m.Version
			}
		}
	}
	return "unknown"
}

// configureLogs sends pilot's logs to stderr (stdout carries the JSON),
// warnings and errors also to the summary; info lines only with -v.
func configureLogs(r *recorder, verbose bool) error {
	o := log.DefaultOptions()
	o.OutputPaths = []string{"stderr"}
	level := log.WarnLevel
	if verbose {
		level = log.InfoLevel
	}
	o.SetDefaultOutputLevel(log.OverrideScopeName, level)
	o.WithExtension(func(c zapcore.Core) (zapcore.Core, func() error, error) {
		return zapcore.NewTee(c, r), func() error { return nil }, nil
	})
	return log.Configure(o)
}

// recorder is a zap core that keeps warning and error lines.
type recorder struct {
	mu   sync.Mutex
	kept []string
}

func (r *recorder) Enabled(l zapcore.Level) bool      { return l >= zapcore.WarnLevel }
func (r *recorder) With([]zapcore.Field) zapcore.Core { return r }
func (r *recorder) Sync() error                       { return nil }

func (r *recorder) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if r.Enabled(e.Level) {
		return ce.AddCore(e, r)
	}
	return ce
}

func (r *recorder) Write(e zapcore.Entry, fields []zapcore.Field) error {
	// The fake cluster's Gateway API CRDs carry no bundle-version
	// annotation; that says nothing about the objects read.
	if strings.HasPrefix(e.Message, "CRD ") && strings.Contains(e.Message, "annotation, but none found") {
		return nil
	}
	var b bytes.Buffer
	if e.LoggerName != "" {
		b.WriteString(e.LoggerName + ": ")
	}
	b.WriteString(e.Message)
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, enc.Fields[k])
	}
	r.mu.Lock()
	r.kept = append(r.kept, b.String())
	r.mu.Unlock()
	return nil
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kept == nil {
		return []string{}
	}
	return append([]string(nil), r.kept...)
}
