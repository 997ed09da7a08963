package cmd

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albistio/kubectl-albistio/pkg/internal/testpki"
)

// The names chainArgs passes.
const (
	fakeALBDomain     = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud"
	fakeALBSecret     = "mycluster-a1b2c3-0000"
	fakeGatewayDomain = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud"
	fakeGatewaySecret = "mycluster-a1b2c3-0001"
)

// fakeIKS is a fake API server holding what IKS and Istio put in a
// cluster before the plugin runs: the ALB's and the gateway's TLS secrets
// (issued by a test hierarchy whose root is in caFile), the nginx ALB's
// IngressClass, Istio's gateway Service with a LoadBalancer address and two
// ready gateway pods, and the app's namespace and Service.
type fakeIKS struct {
	*fakeAPI
	pki    *testpki.Hierarchy
	caFile string
	// args are chainArgs plus --ca-file and --kubeconfig.
	args []string
}

func newFakeIKS(t *testing.T) *fakeIKS {
	t.Helper()
	isolate(t)
	f := &fakeIKS{fakeAPI: newFakeAPI(t), pki: testpki.New(t, "Fake IKS", false)}
	kc := f.kubeconfig("httptools")
	f.caFile = filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(f.caFile, testpki.PEM(f.pki.Root), 0o600); err != nil {
		t.Fatal(err)
	}
	f.args = append(append([]string{}, chainArgs...), "--ca-file", f.caFile, "--kubeconfig", kc)
	alb := f.pki.IssueNow(t, "*."+fakeALBDomain, fakeALBDomain)
	gw := f.pki.IssueNow(t, fakeGatewayDomain, "*."+fakeGatewayDomain)
	gwLabels := map[string]any{"app": "istio-ingressgateway", "istio": "ingressgateway"}
	f.add(
		obj("v1", "Namespace", "", "default", nil),
		obj("v1", "Namespace", "", "istio-system", nil),
		obj("v1", "Namespace", "", "httptools", map[string]any{"metadata": map[string]any{"labels": map[string]any{"istio-injection": "enabled"}}}),
		tlsSecret("default", fakeALBSecret, alb),
		tlsSecret("istio-system", fakeGatewaySecret, gw),
		obj("networking.k8s.io/v1", "IngressClass", "", "public-iks-k8s-nginx", map[string]any{"spec": map[string]any{"controller": "k8s.io/ingress-nginx"}}),
		obj("v1", "Service", "istio-system", "istio-ingressgateway", map[string]any{
			"metadata": map[string]any{"labels": gwLabels},
			"spec": map[string]any{"type": "LoadBalancer", "selector": gwLabels, "ports": []any{
				map[string]any{"name": "http2", "port": int64(80), "targetPort": int64(8080), "protocol": "TCP"},
				map[string]any{"name": "https", "port": int64(443), "targetPort": int64(8443), "protocol": "TCP"},
			}},
			"status": map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "192.0.2.10"}}}},
		}),
		obj("v1", "Service", "httptools", "httpbin", map[string]any{
			"spec": map[string]any{"selector": map[string]any{"app": "httpbin"}, "ports": []any{
				map[string]any{"name": "http", "port": int64(8000), "targetPort": int64(8080)},
			}},
		}),
	)
	for _, name := range []string{"istio-ingressgateway-7c9f8d6b5-x0qzk", "istio-ingressgateway-7c9f8d6b5-x1qzk"} {
		f.add(obj("v1", "Pod", "istio-system", name, map[string]any{
			"metadata": map[string]any{"labels": gwLabels},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.28.0"}}},
			"status":   map[string]any{"phase": "Running", "conditions": []any{map[string]any{"type": "Ready", "status": "True"}}},
		}))
	}
	f.resetRequests()
	return f
}

// run runs the plugin with args and the fake's flags.
func (f *fakeIKS) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, append(args, f.args...)...)
}

// obj is an object of kind with extra fields merged in.
func obj(apiVersion, kind, namespace, name string, extra map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	fakeMerge(u.Object, extra)
	u.SetName(name)
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

func tlsSecret(namespace, name string, l *testpki.Leaf) *unstructured.Unstructured {
	return obj("v1", "Secret", namespace, name, map[string]any{
		"type": "kubernetes.io/tls",
		"data": map[string]any{
			"tls.crt": base64.StdEncoding.EncodeToString(l.ChainPEM),
			"tls.key": base64.StdEncoding.EncodeToString(l.KeyPEM),
		},
	})
}
