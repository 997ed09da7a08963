// Package kube builds the API clients the commands use and reads what the
// chain needs from the cluster: secrets, the Istio API version, the ALB
// flavor, the gateway Service. Clients are built only when a command runs, so
// `version` and `--help` never touch the kubeconfig.
package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// UserAgent identifies the plugin in API server audit logs.
var UserAgent = "kubectl-albistio"

// Clients are the API clients of one command run.
type Clients struct {
	Dynamic dynamic.Interface
	// REST reaches paths no typed client covers (API group discovery).
	REST rest.Interface
	// objects is the REST client under Dynamic, for reads whose JSON the
	// caller decodes itself (GetServedRaw, ListRaw); nil for Clients built
	// around another dynamic client (tests), whose raw reads go through it.
	objects rest.Interface
	// builtins is objects asking for protobuf, for the raw reads of
	// built-in resources (whose Go types decode it a few times faster than
	// JSON, and which the server encodes faster too).
	builtins rest.Interface
	// Host is the API server's address, for error messages.
	Host string
	// discoveryCache is kubectl's disk cache of this server's API groups
	// (<cache-dir>/discovery/<host>), read before asking the server.
	discoveryCache string
	// memory records what this run read and wrote, for Recall; nil until
	// RememberReads.
	memory *memory
}

// NewClients builds clients from kubectl's flags (--kubeconfig, --context,
// --request-timeout, impersonation, ...).
func NewClients(getter genericclioptions.RESTClientGetter) (*Clients, error) {
	if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.Timeout != nil {
		// client-go would report a bad value as a broken kubeconfig, which
		// sends the user looking in the wrong place: it is a flag.
		if err := checkRequestTimeout(*cf.Timeout); err != nil {
			return nil, err
		}
	}
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot load the kubeconfig: %w (check --kubeconfig, $KUBECONFIG and --context)", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = UserAgent
	// client-go's default rate limit (5 QPS, burst 10) makes every request
	// after the tenth of a run wait 200 ms; setup makes about 20. The number
	// of requests is fixed and small, and the API server protects itself
	// (priority and fairness), so lift it as kubectl's per-resource clients do.
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	// Every client below (dynamic, discovery) sends through the retrying
	// transport (retry.go), and each of its attempts through the gate that
	// keeps concurrent first requests from dialing a connection each
	// (conngate.go).
	cfg.Wrap(gateWrapper)
	cfg.Wrap(retryWrapper())
	// One HTTP client under the dynamic client and the raw reads, whose
	// REST client is the dynamic client's own: the same requests, the same
	// errors, only the decoding left to the caller.
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot build a client for %s: %w", cfg.Host, err)
	}
	ocfg := dynamic.ConfigFor(cfg)
	ocfg.GroupVersion = nil
	ocfg.APIPath = "/"
	objects, err := rest.UnversionedRESTClientForConfigAndClient(ocfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cannot build a client for %s: %w", cfg.Host, err)
	}
	dyn := dynamic.New(objects)
	bcfg := rest.CopyConfig(ocfg)
	bcfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	bcfg.NegotiatedSerializer = statusCodecs()
	builtins, err := rest.UnversionedRESTClientForConfigAndClient(bcfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cannot build a client for %s: %w", cfg.Host, err)
	}
	// Discovery of one API group is a plain GET on /apis/<group>; a bare
	// REST client for it avoids building a full discovery client.
	rcfg := rest.CopyConfig(cfg)
	rcfg.GroupVersion = &schema.GroupVersion{}
	rcfg.APIPath = "/apis"
	rcfg.NegotiatedSerializer = runtimeNoopSerializer{}
	rc, err := rest.UnversionedRESTClientFor(rcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot build a client for %s: %w", cfg.Host, err)
	}
	c := &Clients{Dynamic: dyn, REST: rc, objects: objects, builtins: builtins, Host: cfg.Host}
	if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.CacheDir != nil && *cf.CacheDir != "" {
		c.discoveryCache = discoveryCacheDir(filepath.Join(*cf.CacheDir, "discovery"), cfg.Host)
	}
	return c, nil
}

// checkRequestTimeout accepts what client-go accepts for --request-timeout
// (a whole number of seconds, or a duration such as 30s or 2m; 0: none), and
// refuses a negative one, which client-go would take as no timeout at all.
func checkRequestTimeout(v string) error {
	if v == "" {
		return nil
	}
	d, err := clientcmd.ParseTimeout(v)
	if err == nil && d >= 0 {
		return nil
	}
	return &Error{Code: ExitUsage, Err: fmt.Errorf("invalid --request-timeout %q: want a duration such as 30s or 2m, or a whole number of seconds; 0 means no timeout", v)}
}

// discoveryCacheTTL is kubectl's: it uses its cached discovery for 6 hours.
const discoveryCacheTTL = 6 * time.Hour

var unsafeCacheChars = regexp.MustCompile(`[^(\w/.)]`)

// discoveryCacheDir is where kubectl (cli-runtime's ConfigFlags) caches the
// discovery of host.
func discoveryCacheDir(parent, host string) string {
	h := strings.Replace(strings.Replace(host, "https://", "", 1), "http://", "", 1)
	return filepath.Join(parent, unsafeCacheChars.ReplaceAllString(h, "_"))
}

// cachedAPIGroup reads group from kubectl's discovery cache; nil when the
// cache is missing, older than kubectl would use, or lacks the group.
func (c *Clients) cachedAPIGroup(group string) *metav1.APIGroup {
	if c.discoveryCache == "" {
		return nil
	}
	f := filepath.Join(c.discoveryCache, "servergroups.json")
	fi, err := os.Stat(f)
	if err != nil || time.Since(fi.ModTime()) > discoveryCacheTTL {
		return nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil
	}
	var list metav1.APIGroupList
	if json.Unmarshal(data, &list) != nil {
		return nil
	}
	for i := range list.Groups {
		if list.Groups[i].Name == group {
			return &list.Groups[i]
		}
	}
	return nil
}

// Well-known resources the plugin reads or writes. The versions are fixed,
// so no discovery round trip is needed to map kinds to resources.
var (
	Secrets          = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	Services         = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	Pods             = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	Namespaces       = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	Ingresses        = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	IngressClasses   = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}
	ServersTransport = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "serverstransports"}
	Issuers          = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	Certificates     = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
)

// IstioResource is an Istio networking resource at the served version.
func IstioResource(version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "networking.istio.io", Version: version, Resource: resource}
}

// ResourceFor maps an object's kind to its resource. Only kinds the plugin
// writes are known; anything else is a programming error reported as such.
func ResourceFor(gvk schema.GroupVersionKind) (schema.GroupVersionResource, error) {
	plural := map[string]string{
		"Secret": "secrets", "Service": "services", "Ingress": "ingresses", "Gateway": "gateways",
		"VirtualService": "virtualservices", "ServersTransport": "serverstransports", "Namespace": "namespaces",
		"Issuer": "issuers", "Certificate": "certificates", "HTTPRoute": "httproutes", "ConfigMap": "configmaps",
	}[gvk.Kind]
	if plural == "" {
		return schema.GroupVersionResource{}, fmt.Errorf("no resource known for kind %s", gvk)
	}
	return gvk.GroupVersion().WithResource(plural), nil
}

// Get reads one object; a missing object is (nil, nil), so callers decide
// whether absence is an error. So is an object of a resource the server
// does not serve; GetServed tells the two apart.
func (c *Clients) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	u, _, err := c.GetServed(ctx, gvr, namespace, name)
	return u, err
}

// GetSecret reads a Secret; a missing one is (nil, nil).
func (c *Clients) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	u, err := c.Get(ctx, Secrets, namespace, name)
	if err != nil || u == nil {
		return nil, err
	}
	s := &corev1.Secret{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, s); err != nil {
		return nil, fmt.Errorf("secret %s/%s is malformed: %w", namespace, name, err)
	}
	return s, nil
}

// Explain turns an API error into a sentence that says what failed, where,
// and what to do about it.
func (c *Clients) Explain(err error, verb string, gvr schema.GroupVersionResource, namespace, name string) error {
	what := gvr.Resource
	if gvr.Group != "" {
		what += "." + gvr.Group
	}
	where := ""
	if namespace != "" {
		where = " in namespace " + namespace
	}
	target := what
	if name != "" {
		target = what + " " + name
	}
	switch {
	case apierrors.IsForbidden(err):
		return &Error{Code: ExitForbidden, Err: fmt.Errorf("forbidden: cannot %s %s%s: %s (ask your cluster admin for a role allowing %q on %s; kubectl albistio rbac --for=setup|check prints the roles this plugin needs)",
			verb, target, where, reason(err), verb, what)}
	case apierrors.IsUnauthorized(err):
		return &Error{Code: ExitUnreachable, Err: fmt.Errorf("the API server at %s rejected the credentials: %s (log in again, e.g. ibmcloud ks cluster config --cluster <name>)", c.Host, reason(err))}
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s not found%s: %s", target, where, reason(err))
	case errors.Is(err, context.Canceled):
		// The command cancels its context on Ctrl-C and SIGTERM: the request
		// was cut short here, not by the network.
		return &Error{Code: ExitError, Err: fmt.Errorf("interrupted while trying to %s %s%s", verb, target, where)}
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || errors.Is(err, context.DeadlineExceeded) || isNetTimeout(err):
		return &Error{Code: ExitUnreachable, Err: fmt.Errorf("timed out talking to the API server at %s while trying to %s %s%s (raise --request-timeout or check the network)", c.Host, verb, target, where)}
	case IsTransient(err) && !isRefused(err):
		// The connection broke after the request went out, and kept breaking
		// on every retry the request allowed (retry.go).
		if writes(verb) && !dryRunRequest(err) {
			return &Error{Code: ExitUnreachable, Err: fmt.Errorf("lost the connection to the API server at %s while trying to %s %s%s, so whether the server acted on it is unknown: %v (re-run the same command: it converges)", c.Host, verb, target, where, err)}
		}
		return &Error{Code: ExitUnreachable, Err: fmt.Errorf("lost the connection to the API server at %s while trying to %s %s%s, on every retry: %v (check the network between here and the cluster)", c.Host, verb, target, where, err)}
	case isConnError(err):
		return &Error{Code: ExitUnreachable, Err: fmt.Errorf("cannot reach the API server at %s: %v (check the cluster is up and the kubeconfig context points at it)", c.Host, err)}
	}
	return fmt.Errorf("cannot %s %s%s: %w", verb, target, where, err)
}

func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused")
}

// writes tells the verbs Explain is given for requests that change objects.
func writes(verb string) bool {
	switch verb {
	case "create", "apply", "update", "patch", "delete":
		return true
	}
	return false
}

// dryRunRequest tells from the failed request's URL that it was a
// server-side dry run, which persists nothing whatever happened to it.
func dryRunRequest(err error) bool {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	u, perr := url.Parse(ue.URL)
	return perr == nil && u.Query().Has("dryRun")
}

func isConnError(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || strings.Contains(err.Error(), "connection refused")
}

// APIGroup reads /apis/<group>: which versions of a group the server serves.
// A group that is not served is (nil, nil).
func (c *Clients) APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error) {
	if g := c.cachedAPIGroup(group); g != nil {
		return g, nil
	}
	raw, err := c.REST.Get().AbsPath("/apis", group).DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.Explain(err, "discover", schema.GroupVersionResource{Group: group}, "", "")
	}
	g := &metav1.APIGroup{}
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, fmt.Errorf("the API server answered /apis/%s with something that is not an APIGroup: %w", group, err)
	}
	return g, nil
}
