package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/bench"
	"github.com/albistio/kubectl-albistio/test/cluster"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// applyRBAC prints roles with `kubectl albistio rbac args…`, applies them
// as the admin, and deletes them when the test ends: the token users are
// shared by every test of the run, and cluster-scoped objects outlive the
// test's namespaces. It returns the name of the ClusterRole it applied.
func applyRBAC(t *testing.T, args ...string) string {
	t.Helper()
	r := mustSucceed(t, albistio(t, append([]string{"rbac"}, args...)...))
	file := filepath.Join(t.TempDir(), "rbac.yaml")
	if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, "apply", "-f", file, "-o", "name")
	t.Cleanup(func() {
		// --wait=false: without a controller-manager a deleted namespace
		// (rbac --create-namespace puts one in the stream) never goes away.
		cmd := exec.Command("kubectl", "delete", "--ignore-not-found", "--wait=false", "-f", file)
		cmd.Env = append(cmd.Environ(), "KUBECONFIG="+env.cluster.Kubeconfig)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("deleting the generated roles: %v\n%s", err, b)
		}
	})
	for _, l := range strings.Fields(out) {
		if name, ok := strings.CutPrefix(l, "clusterrole.rbac.authorization.k8s.io/"); ok {
			return name
		}
	}
	t.Fatalf("kubectl apply of the generated roles applied no ClusterRole:\n%s", out)
	return ""
}

// canI asks the API server whether the user of kubeconfig may do what
// `kubectl auth can-i args…` says.
func canI(t *testing.T, kubeconfig string, args ...string) bool {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"auth", "can-i"}, args...)...)
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	// The answer is the last line; warnings (e.g. that namespaces are not
	// namespaced) come before it.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	answer := strings.TrimSpace(lines[len(lines)-1])
	switch {
	case err == nil && strings.HasPrefix(answer, "yes"):
		return true
	case strings.HasPrefix(answer, "no"):
		return false
	}
	t.Fatalf("kubectl auth can-i %s: %v\n%s", strings.Join(args, " "), err, out)
	return false
}

// forbidden lists the requests of a -v=6 log the API server refused.
func forbidden(log string) []string {
	var out []string
	for _, q := range bench.ParseRequests(log) {
		if strings.HasPrefix(q.Status, "403") {
			out = append(out, q.Verb+" "+q.URL)
		}
	}
	return out
}

// onlySecretsListDenied fails unless the one request the roles refused was
// check's LIST of the plugin's secrets in the Istio namespace, which the
// check role denies on purpose (the reader then gets each secret by name).
func onlySecretsListDenied(t *testing.T, what string, r result, istioNamespace string) {
	t.Helper()
	denied := forbidden(r.stderr)
	if len(denied) != 1 || !strings.Contains(denied[0], "/namespaces/"+istioNamespace+"/secrets?labelSelector=") {
		t.Errorf("%s: the generated roles should refuse exactly check's LIST of secrets, refused: %q", what, denied)
	}
}

// The roles `kubectl albistio rbac` prints are enough to run setup (twice),
// check and cleanup as users bound to nothing else, and deny what issue 19
// found the shipped roles allowed: Istio's CA key, writing secrets as the
// check user, patching namespaces, Istio's gateway Service, and one app's
// user deleting another app's Ingress.
func TestRBACGeneratedRoles(t *testing.T) {
	w := newWorld(t, false)
	p := w.p
	ctx := context.Background()
	flags := w.flags("--alb-flavor", "nginx")
	applyRBAC(t, append([]string{"--for=setup", "--user", cluster.SetupUser}, flags...)...)
	applyRBAC(t, append([]string{"--for=check", "--user", cluster.CheckUser}, flags...)...)
	setupKC := env.cluster.KubeconfigFor(cluster.SetupUser)
	checkKC := env.cluster.KubeconfigFor(cluster.CheckUser)

	// setup creates every object: the CA and Gateway by POST, the rest by
	// server-side apply, which the API server authorizes as patch and
	// create of the object's name (the roles grant both by resourceNames).
	r := mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"setup", "-v=6"}, flags...)...))
	onlySecretsListDenied(t, "setup", r, p.IstioNamespace)
	if !strings.Contains(r.stdout, "ingress/"+w.ingressName()+" -n "+p.IstioNamespace+" created") {
		t.Errorf("setup should have created the Ingress:\n%s", r)
	}
	r = mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"setup"}, flags...)...))
	if !strings.Contains(r.stderr, "nothing to write") {
		t.Errorf("the second setup should write nothing:\n%s", r)
	}
	r = albistioAs(t, checkKC, nil, append([]string{"check", "-v=6"}, flags...)...)
	if r.code != 0 {
		t.Fatalf("check should pass with its generated roles:\n%s", r)
	}
	onlySecretsListDenied(t, "check", r, p.IstioNamespace)

	// What the roles must deny. Istio keeps its mesh root key here.
	if _, err := env.kube.CoreV1().Secrets(p.IstioNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-secret", Namespace: p.IstioNamespace},
		Data:       map[string][]byte{"ca-key.pem": []byte("not a key")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ist, app := "-n="+p.IstioNamespace, "-n="+p.AppNamespace
	type denial struct {
		who  string
		kc   string
		args []string
	}
	deny := []denial{
		{"check", checkKC, []string{"get", "secret/istio-ca-secret", ist}},
		{"setup", setupKC, []string{"get", "secret/istio-ca-secret", ist}},
		{"check", checkKC, []string{"list", "secrets", ist}},
		{"setup", setupKC, []string{"list", "secrets", ist}},
		{"check", checkKC, []string{"watch", "secrets", ist}},
		{"setup", setupKC, []string{"watch", "secrets", ist}},
		{"setup", setupKC, []string{"patch", "secret/istio-ca-secret", ist}},
		{"setup", setupKC, []string{"delete", "secret/istio-ca-secret", ist}},
		{"setup", setupKC, []string{"get", "secret/someone-elses-tls", "-n=" + p.ALBSecretNamespace}},
		{"setup", setupKC, []string{"get", "secrets", app}},
		{"setup", setupKC, []string{"create", "secrets", app}},
		{"setup", setupKC, []string{"patch", "namespace/kube-system"}},
		{"setup", setupKC, []string{"patch", "namespace/" + p.AppNamespace}},
		{"setup", setupKC, []string{"create", "namespaces"}},
		{"setup", setupKC, []string{"patch", "service/istio-ingressgateway", ist}},
		{"setup", setupKC, []string{"delete", "service/istio-ingressgateway", ist}},
		{"setup", setupKC, []string{"create", "services", app}},
		{"setup", setupKC, []string{"create", "ingresses", app}},
		{"setup", setupKC, []string{"delete", "ingress/someone-elses", ist}},
		{"setup", setupKC, []string{"create", "pods", "--subresource=portforward", ist}},
	}
	for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
		for _, where := range []string{ist, app, "-n=" + p.ALBSecretNamespace} {
			deny = append(deny, denial{"check", checkKC, []string{verb, "secrets", where}})
		}
		deny = append(deny, denial{"check", checkKC, []string{verb, "secret/alb-certs", ist}})
	}
	for _, d := range deny {
		if canI(t, d.kc, d.args...) {
			t.Errorf("the %s user may %s", d.who, strings.Join(d.args, " "))
		}
	}
	// And the API server refuses the read itself, not only the review.
	cmd := exec.Command("kubectl", "get", "secret", "istio-ca-secret", ist)
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+checkKC)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "forbidden") {
		t.Errorf("the check user read istio-ca-secret: %v\n%s", err, out)
	}
	// What they must allow, by name, so that the denials above are not a
	// role that was never bound.
	for _, a := range []struct {
		kc   string
		args []string
	}{
		{checkKC, []string{"get", "secret/" + p.GatewaySecretName, ist}},
		{setupKC, []string{"patch", "secret/alb-certs", ist}},
		{setupKC, []string{"get", "namespace/" + p.AppNamespace}},
		{setupKC, []string{"delete", "ingress/" + w.ingressName(), ist}},
	} {
		if !canI(t, a.kc, a.args...) {
			t.Errorf("the generated roles should allow %s", strings.Join(a.args, " "))
		}
	}

	// A second app on the same hop, with roles of its own for its own user.
	b := w.addApp(t, "storefront")
	bFlags := append(w.flags("--alb-flavor", "nginx"), b.flags()...)
	userB := fmt.Sprintf("rbac-storefront-%d", seq.Add(1))
	applyRBAC(t, append([]string{"--for=setup", "--user", userB}, bFlags...)...)
	mustSucceed(t, albistio(t, append([]string{"setup", "--as", userB}, bFlags...)...))
	for _, verb := range []string{"delete", "patch", "get"} {
		if canI(t, setupKC, verb, "ingress/"+b.ingressName(), ist) {
			t.Errorf("app A's roles let the setup user %s app B's Ingress", verb)
		}
	}
	if canI(t, setupKC, "delete", "virtualservices.networking.istio.io/albistio-storefront", "-n="+b.namespace) {
		t.Error("app A's roles let the setup user delete app B's VirtualService")
	}
	cmd = exec.Command("kubectl", "delete", "ingress", b.ingressName(), ist)
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+setupKC)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "forbidden") {
		t.Errorf("the setup user deleted app B's Ingress with app A's roles: %v\n%s", err, out)
	}
	// cleanup of B as A's user is refused before it deletes anything.
	r = albistioAs(t, setupKC, nil, append([]string{"cleanup"}, bFlags...)...)
	mustFail(t, r, 5, "forbidden")
	if _, err := env.kube.NetworkingV1().Ingresses(p.IstioNamespace).Get(ctx, b.ingressName(), metav1.GetOptions{}); err != nil {
		t.Fatalf("app B's Ingress should be there: %v", err)
	}

	// A's cleanup leaves the hop to B (updating the Gateway by name); B's
	// removes the hop, each under its own roles.
	r = mustSucceed(t, albistioAs(t, setupKC, nil, append([]string{"cleanup"}, flags...)...))
	if !strings.Contains(r.stderr, "keeping the hop's shared objects") {
		t.Errorf("A's cleanup should keep the hop for B:\n%s", r)
	}
	if _, err := env.kube.NetworkingV1().Ingresses(p.IstioNamespace).Get(ctx, b.ingressName(), metav1.GetOptions{}); err != nil {
		t.Fatalf("A's cleanup touched app B's Ingress: %v", err)
	}
	mustSucceed(t, albistio(t, append([]string{"cleanup", "--as", userB}, bFlags...)...))
	gw := gvrOf("networking.istio.io", "v1", "gateways")
	if _, err := env.dyn.Resource(gw).Namespace(p.IstioNamespace).Get(ctx, w.gatewayName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the last chain's cleanup should delete the hop's Gateway: %v", err)
	}

	// A new app namespace: its Role can only be applied once it exists, so
	// rbac --create-namespace puts the namespace in the stream, made as setup
	// --create-namespace would make it, and the user gets no namespace write.
	nsC := fmt.Sprintf("created-%d", seq.Add(1))
	cFlags := append(w.flags("--alb-flavor", "nginx"), "-n", nsC)
	userC := fmt.Sprintf("rbac-created-%d", seq.Add(1))
	applyRBAC(t, append([]string{"--for=setup", "--create-namespace", "--user", userC}, cFlags...)...)
	created, err := env.kube.CoreV1().Namespaces().Get(ctx, nsC, metav1.GetOptions{})
	if err != nil || created.Labels["istio-injection"] != "enabled" {
		t.Fatalf("rbac --create-namespace should create %s with istio-injection=enabled: %v", nsC, err)
	}
	// Everything is written; the check setup ends with finds no httpbin in
	// the new namespace and says so with exit 8.
	r = albistio(t, append([]string{"setup", "--as", userC, "--create-namespace"}, cFlags...)...)
	mustFail(t, r, 8, "ALB0507")
	if !strings.Contains(r.stdout, "virtualservice/albistio-httpbin -n "+nsC+" created") {
		t.Errorf("setup should write the chain into the new namespace under the generated roles:\n%s", r)
	}
	for _, args := range [][]string{{"create", "namespaces"}, {"patch", "namespace/" + nsC}, {"delete", "namespace/" + nsC}} {
		if canI(t, env.cluster.Kubeconfig, append(args, "--as", userC)...) {
			t.Errorf("rbac --create-namespace let the user %s", strings.Join(args, " "))
		}
	}
	mustSucceed(t, albistio(t, append([]string{"cleanup", "--as", userC}, cFlags...)...))

	// check --port-forward: create on pods/portforward, in the Istio namespace only.
	applyRBAC(t, append([]string{"--for=check", "--port-forward", "--user", cluster.CheckUser}, flags...)...)
	if !canI(t, checkKC, "create", "pods", "--subresource=portforward", ist) {
		t.Error("--port-forward should allow create on pods/portforward in the Istio namespace")
	}
	if canI(t, checkKC, "create", "pods", "--subresource=portforward", app) || canI(t, checkKC, "get", "pods", ist) {
		t.Error("--port-forward allows more than create on pods/portforward in the Istio namespace")
	}
}

// What the roles rely on, shown on the real API server with a ConfigMap:
// server-side apply of an object that does not exist yet is a PATCH that
// the API server authorizes as patch and then as create, both against the
// object's name, so resourceNames bound it; a create by POST carries no
// name, so a create rule with resourceNames never allows it.
func TestRBACServerSideApplyCreateByName(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("ssa-rbac-%d", seq.Add(1))
	if _, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := func(user string, verbs ...string) string {
		file := filepath.Join(t.TempDir(), "role.yaml")
		doc := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[1]s, namespace: %[2]s}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["mine"]
  verbs: [%[3]s]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[1]s, namespace: %[2]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: %[1]s}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %[1]s}]
`, user, ns, strings.Join(verbs, ", "))
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		kubectl(t, "apply", "-f", file)
		return user
	}
	patchOnly := role(fmt.Sprintf("ssa-patch-%d", seq.Add(1)), "get", "patch")
	patchCreate := role(fmt.Sprintf("ssa-patch-create-%d", seq.Add(1)), "get", "patch", "create")
	configMap := func(name string) string {
		file := filepath.Join(t.TempDir(), name+".yaml")
		doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {k: v}\n", name, ns)
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	as := func(user string, args ...string) (string, error) {
		cmd := exec.Command("kubectl", append(args, "--as", user)...)
		cmd.Env = append(cmd.Environ(), "KUBECONFIG="+env.cluster.Kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ssa := func(user, name string) (string, error) {
		return as(user, "apply", "--server-side", "--field-manager", "rbac-test", "-f", configMap(name))
	}
	// patch alone does not create: the API server asks for create too.
	if out, err := ssa(patchOnly, "mine"); err == nil || !strings.Contains(out, `cannot create resource "configmaps"`) {
		t.Fatalf("server-side apply creating an object with patch only should need create: %v\n%s", err, out)
	}
	// patch and create of the name: created.
	if out, err := ssa(patchCreate, "mine"); err != nil {
		t.Fatalf("server-side apply with patch and create by resourceNames should create the object: %v\n%s", err, out)
	}
	// Another name is refused.
	if out, err := ssa(patchCreate, "theirs"); err == nil || !strings.Contains(out, "forbidden") {
		t.Fatalf("server-side apply of another name should be refused: %v\n%s", err, out)
	}
	// Updating the existing object needs patch only.
	if out, err := ssa(patchOnly, "mine"); err != nil {
		t.Fatalf("server-side apply of an existing object should need patch only: %v\n%s", err, out)
	}
	// A POST names no object: create with resourceNames does not allow it,
	// even for the very name the rule lists.
	if err := env.kube.CoreV1().ConfigMaps(ns).Delete(ctx, "mine", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := as(patchCreate, "create", "-f", configMap("mine")); err == nil || !strings.Contains(out, "forbidden") {
		t.Fatalf("create by POST should not be allowed by a create rule with resourceNames: %v\n%s", err, out)
	}
}

// The Traefik flavor's roles: its Service and ServersTransport are named
// too, and setup (twice), check and cleanup run under exactly them.
func TestRBACGeneratedRolesTraefik(t *testing.T) {
	installTraefikCRDs(t)
	w := newWorld(t, false, fixtures.TraefikClass())
	flags := w.flags("--alb-flavor", "traefik")
	user := fmt.Sprintf("rbac-traefik-%d", seq.Add(1))
	checker := fmt.Sprintf("rbac-traefik-check-%d", seq.Add(1))
	applyRBAC(t, append([]string{"--for=setup", "--user", user}, flags...)...)
	applyRBAC(t, append([]string{"--for=check", "--user", checker}, flags...)...)
	r := mustSucceed(t, albistio(t, append([]string{"setup", "--as", user, "-v=6"}, flags...)...))
	onlySecretsListDenied(t, "setup", r, w.p.IstioNamespace)
	if !strings.Contains(r.stdout, "serverstransport/istio-ingressgateway-albistio -n "+w.p.IstioNamespace+" created") {
		t.Errorf("setup should create Traefik's ServersTransport:\n%s", r)
	}
	r = mustSucceed(t, albistio(t, append([]string{"setup", "--as", user}, flags...)...))
	if !strings.Contains(r.stderr, "nothing to write") {
		t.Errorf("the second setup should write nothing:\n%s", r)
	}
	r = albistio(t, append([]string{"check", "--as", checker, "-v=6"}, flags...)...)
	if r.code != 0 {
		t.Fatalf("check should pass with its generated roles:\n%s", r)
	}
	onlySecretsListDenied(t, "check", r, w.p.IstioNamespace)
	mustSucceed(t, albistio(t, append([]string{"cleanup", "--as", user}, flags...)...))
	st := gvrOf("traefik.io", "v1alpha1", "serverstransports")
	if _, err := env.dyn.Resource(st).Namespace(w.p.IstioNamespace).Get(context.Background(), "istio-ingressgateway-albistio", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cleanup should delete Traefik's ServersTransport: %v", err)
	}
}
