package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// setupSlices runs secrets, gateway and ingress, as a user would.
func setupSlices(t *testing.T, w *world, extra ...string) {
	t.Helper()
	for _, s := range []string{"secrets", "gateway", "ingress"} {
		mustSucceed(t, w.slice(t, s, append([]string{"--alb-flavor", "nginx"}, extra...)...))
	}
}

// Today's IKS: the ALB certificate lacks client auth, so the plugin must pick
// a private CA, and the chain it writes must carry a request end to end.
func TestTodaysIKSChainCarriesTraffic(t *testing.T) {
	w := newWorld(t, false)
	r := mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx"))
	if !strings.Contains(r.stderr, "client identity: private-ca") {
		t.Errorf("secrets should say it chose private-ca and why:\n%s", r)
	}
	for _, want := range []string{"secret/albistio-client-ca -n " + w.p.IstioNamespace + " created", "secret/alb-certs", "secret/" + w.p.GatewaySecretName + "-cacert"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("secrets output lacks %q:\n%s", want, r)
		}
	}
	mustSucceed(t, w.slice(t, "gateway"))
	mustSucceed(t, w.slice(t, "ingress", "--alb-flavor", "nginx"))

	pa := w.startPath(t)
	code, body := pa.curl(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
	reqs := pa.gateway.Requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].SNI != w.p.GatewayDomain {
		t.Errorf("the ALB should send SNI %s to the gateway; requests seen: %+v", w.p.GatewayDomain, reqs)
	}

	// Re-running every slice with nothing changed writes nothing.
	for _, s := range []string{"secrets", "gateway", "ingress"} {
		r := mustSucceed(t, w.slice(t, s, "--alb-flavor", "nginx"))
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasSuffix(line, " unchanged") {
				t.Errorf("%s re-run changed something: %q\n%s", s, line, r)
			}
		}
	}
}

// The walkthrough's world (certificates that still allow client auth): auto
// keeps the walkthrough's design and it works.
func TestWalkthroughDesignWithClientAuthCertificates(t *testing.T) {
	w := newWorld(t, true)
	r := mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx"))
	if !strings.Contains(r.stderr, "client identity: alb-cert") {
		t.Errorf("auto should keep the ALB certificate when it allows client auth:\n%s", r)
	}
	if strings.Contains(r.stdout, "albistio-client-ca") {
		t.Errorf("no private CA is needed here:\n%s", r)
	}
	mustSucceed(t, w.slice(t, "gateway"))
	mustSucceed(t, w.slice(t, "ingress", "--alb-flavor", "nginx"))
	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
}

// The walkthrough's design on today's certificates fails at the handshake:
// the plugin refuses to write it, and written by hand it gives a 502 with
// the gateway naming the missing usage.
func TestWalkthroughDesignFailsOnTodaysCertificates(t *testing.T) {
	w := newWorld(t, false)
	r := w.slice(t, "secrets", "--alb-flavor", "nginx", "--client-identity", "alb-cert")
	mustFail(t, r, 3, "cannot be the ALB's client certificate", "client", "private-ca")
	if s, _ := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(context.Background(), "alb-certs", metav1.GetOptions{}); s != nil && s.Name != "" {
		t.Fatal("a refused secrets run must write nothing")
	}

	// Set the chain up properly, then put the walkthrough's secrets in place.
	setupSlices(t, w)
	ctx := context.Background()
	alb := w.iks.ALBCert
	patch := map[string]any{"data": map[string][]byte{"tls.crt": alb.ChainPEM, "tls.key": alb.KeyPEM}}
	mergePatch(t, "secrets", w.p.IstioNamespace, "alb-certs", patch)
	mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": w.iks.RootPEM}})
	_ = ctx
	pa := w.startPath(t)
	code, _ := pa.get(t, w, "/status/418")
	pa.expectRefused(t, code, "incompatible key usage")
}

// Each single breakage of a working chain stops traffic at the gateway.
func TestBrokenChainsFail(t *testing.T) {
	t.Run("SNI off", func(t *testing.T) {
		w := newWorld(t, false)
		setupSlices(t, w)
		mergePatch(t, "ingresses", w.p.IstioNamespace, w.ingressName(), map[string]any{"metadata": map[string]any{"annotations": map[string]string{"nginx.ingress.kubernetes.io/proxy-ssl-server-name": "off"}}})
		pa := w.startPath(t)
		code, _ := pa.get(t, w, "/status/418")
		pa.expectRefused(t, code, "SNI")
	})
	t.Run("-cacert from another CA", func(t *testing.T) {
		w := newWorld(t, false)
		setupSlices(t, w)
		other, err := fixtures.NewPrivateCA("another")
		if err != nil {
			t.Fatal(err)
		}
		mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": other.CertPEM}})
		pa := w.startPath(t)
		code, _ := pa.get(t, w, "/status/418")
		pa.expectRefused(t, code, "unknown authority")
	})
}

// Dry runs: client needs no cluster for gateway and ingress; server
// validates against the real API and writes nothing.
func TestDryRuns(t *testing.T) {
	w := newWorld(t, false)
	noCluster := "/nonexistent/kubeconfig"
	for _, s := range []string{"gateway", "ingress"} {
		args := append([]string{s}, dropFlag(w.flags("--dry-run=client", "-o", "yaml"), "--ca-file")...)
		r := albistioAs(t, noCluster, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "kind: ") {
			t.Fatalf("%s --dry-run=client must work without a cluster:\n%s", s, r)
		}
	}
	before := snapshot(t, w)
	for _, s := range []string{"secrets", "gateway", "ingress"} {
		r := mustSucceed(t, w.slice(t, s, "--alb-flavor", "nginx", "--dry-run=server"))
		if !strings.Contains(r.stdout, "created (server dry run)") {
			t.Errorf("%s --dry-run=server output:\n%s", s, r)
		}
	}
	if after := snapshot(t, w); after != before {
		t.Fatalf("--dry-run=server wrote something:\nbefore %s\nafter  %s", before, after)
	}
	// -o json is one document; -o name lists kind/name.
	r := mustSucceed(t, w.slice(t, "gateway", "--dry-run=server", "-o", "json"))
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || list.Kind != "List" || len(list.Items) != 2 {
		t.Errorf("-o json should print one List of 2 objects: %v\n%s", err, r)
	}
	r = mustSucceed(t, w.slice(t, "gateway", "--dry-run=server", "-o", "name"))
	if got := strings.Fields(r.stdout); len(got) != 2 || !strings.HasPrefix(got[0], "gateway.networking.istio.io/") {
		t.Errorf("-o name: %q", got)
	}
}

// An object of the same name created by someone else is refused, naming its
// manager, and nothing is written; --force-conflicts takes it over.
func TestConflictWithAnotherManager(t *testing.T) {
	w := newWorld(t, false)
	kubectl(t, "create", "secret", "generic", "alb-certs", "-n", w.p.IstioNamespace, "--from-literal=trusted.crt=x")
	before := snapshot(t, w)
	r := w.slice(t, "secrets", "--alb-flavor", "nginx")
	mustFail(t, r, 4, "alb-certs", "kubectl-create", "--force-conflicts")
	if after := snapshot(t, w); after != before {
		t.Fatalf("a refused run wrote something:\nbefore %s\nafter  %s", before, after)
	}
	mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx", "--force-conflicts"))
}

// After IKS renews the ALB certificate, re-running secrets updates exactly
// the copy of the ALB's TLS secret; the client identity (private CA) stays.
func TestALBRenewalUpdatesCopies(t *testing.T) {
	w := newWorld(t, false)
	setupSlices(t, w)
	if err := w.iks.RotateALBCert(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx"))
	want := map[string]string{
		"secret/" + w.p.ALBSecretName: "configured",
		"secret/alb-certs":            "unchanged",
		"secret/albistio-client-ca":   "unchanged",
	}
	for ref, op := range want {
		if !strings.Contains(r.stdout, ref+" -n "+w.p.IstioNamespace+" "+op) {
			t.Errorf("want %s %s:\n%s", ref, op, r)
		}
	}
	pa := w.startPath(t)
	code, body := pa.get(t, w, "/status/418")
	pa.expectTeapot(t, code, body)
}

// Bad parameters are refused before any request, with every problem listed.
func TestBadParameters(t *testing.T) {
	w := newWorld(t, false)
	r := albistio(t, append([]string{"secrets"}, w.flags("--gateway-domain", "not a domain", "--path", "status", "--port", "70000")...)...)
	mustFail(t, r, 2, "--gateway-domain", "--path", "--port")
	r = albistio(t, "gateway", "-n", w.p.AppNamespace)
	mustFail(t, r, 2, "--gateway-domain", "INGRESS_GATEWAY_DOMAIN")
	// The walkthrough's environment variables stand in for flags.
	r = albistioAs(t, env.cluster.Kubeconfig, []string{
		"ALB_INGRESS_DOMAIN=" + w.p.ALBDomain, "INGRESS_GATEWAY_DOMAIN=" + w.p.GatewayDomain, "INGRESS_GATEWAY_SECRET=" + w.p.GatewaySecretName,
	}, "gateway", "-n", w.p.AppNamespace, "--dry-run=client", "-o", "yaml")
	if r.code != 0 || !strings.Contains(r.stdout, w.p.GatewayDomain) {
		t.Errorf("environment variables should fill the flags:\n%s", r)
	}
	// A missing gateway secret says how IKS creates it.
	r = w.slice(t, "secrets", "--alb-flavor", "nginx", "--gateway-secret", "missing-0001")
	mustFail(t, r, 3, "nlb-dns create")
}

func mergePatch(t *testing.T, resource, ns, name string, patch map[string]any) {
	t.Helper()
	data, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch resource {
	case "secrets":
		_, err = env.kube.CoreV1().Secrets(ns).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{})
	case "ingresses":
		_, err = env.kube.NetworkingV1().Ingresses(ns).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{})
	default:
		t.Fatalf("mergePatch: unknown resource %s", resource)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot fingerprints every object in the world's namespaces: names and
// resource versions, so any write shows.
func snapshot(t *testing.T, w *world) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, ns := range []string{w.p.IstioNamespace, w.p.AppNamespace} {
		for _, gvr := range []struct{ group, version, resource string }{
			{"", "v1", "secrets"}, {"", "v1", "services"}, {"networking.k8s.io", "v1", "ingresses"},
			{"networking.istio.io", "v1", "gateways"}, {"networking.istio.io", "v1", "virtualservices"},
		} {
			list, err := env.dyn.Resource(gvrOf(gvr.group, gvr.version, gvr.resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list.Items {
				b.WriteString(gvr.resource + "/" + ns + "/" + o.GetName() + "@" + o.GetResourceVersion() + " ")
			}
		}
	}
	return b.String()
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+env.cluster.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func gvrOf(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// Where discovery shows networking.istio.io/v1 is not served (Istio < 1.22),
// the gateway slice falls back to v1beta1.
func TestIstioV1beta1Fallback(t *testing.T) {
	w := newWorld(t, false)
	oldIstio := newAPIProxy(t, func(rw http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/apis/networking.istio.io" {
			rw.Header().Set("Content-Type", "application/json")
			rw.Write([]byte(`{"kind":"APIGroup","apiVersion":"v1","name":"networking.istio.io","versions":[{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"},{"groupVersion":"networking.istio.io/v1alpha3","version":"v1alpha3"}],"preferredVersion":{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"}}`))
			return true
		}
		return false
	})
	r := albistioAs(t, oldIstio, nil, append([]string{"gateway"}, dropFlag(w.flags(), "--ca-file")...)...)
	mustSucceed(t, r)
	r = albistioAs(t, oldIstio, nil, append([]string{"gateway"}, dropFlag(w.flags("-o", "yaml"), "--ca-file")...)...)
	if strings.Count(r.stdout, "apiVersion: networking.istio.io/v1beta1") != 2 {
		t.Fatalf("want the Gateway and VirtualService written as v1beta1:\n%s", r)
	}
	gw, err := env.dyn.Resource(gvrOf("networking.istio.io", "v1beta1", "gateways")).Namespace(w.p.IstioNamespace).Get(context.Background(), w.gatewayName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gw.GetManagedFields()[0].APIVersion != "networking.istio.io/v1beta1" {
		t.Errorf("the Gateway was applied as %s", gw.GetManagedFields()[0].APIVersion)
	}
}
