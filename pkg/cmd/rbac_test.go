package cmd

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// rbacNames are the chain flags the roles need: the secrets name the hop.
var rbacNames = []string{"-n", "httptools", "--alb-secret", "mycluster-a1b2c3-0000", "--gateway-secret", "mycluster-a1b2c3-0001"}

// deployRBAC are the examples in deploy/rbac: the command's output for the
// README's example names, each under a header saying how it was made.
// go test ./pkg/cmd -run TestDeployRBAC -update writes them again.
var deployRBAC = []struct {
	file string
	args []string
}{
	{"albistio-setup.yaml", append([]string{"rbac", "--for=setup", "--user", "jane@example.com"}, rbacNames...)},
	{"albistio-check.yaml", append([]string{"rbac", "--for=check", "--group", "sre"}, rbacNames...)},
}

// deploy/rbac holds what the command prints today: a change to the roles
// that does not regenerate the examples fails here.
func TestDeployRBAC(t *testing.T) {
	isolate(t)
	for _, d := range deployRBAC {
		t.Run(d.file, func(t *testing.T) {
			code, out, errOut := run(t, d.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			header := "# Example: the output of\n#   kubectl albistio " + strings.Join(d.args, " ") + "\n" +
				"# for the names the README uses. These roles name that example's objects only: generate yours\n" +
				"# with the flags you pass to the commands (see README.md here).\n" +
				"# Regenerate this file with: go test ./pkg/cmd -run TestDeployRBAC -update\n#\n"
			golden.Compare(t, filepath.Join("..", "..", "deploy", "rbac", d.file), []byte(header+out))
		})
	}
}

// rbac prints from the flags alone: an API server that cannot be reached
// changes nothing.
func TestRBACNeedsNoCluster(t *testing.T) {
	isolate(t)
	args := append([]string{"rbac", "--for=check", "--user", "jane", "--server", "https://127.0.0.1:1"}, rbacNames...)
	code, out, errOut := run(t, args...)
	if code != 0 || !strings.Contains(out, "kind: ClusterRole\n") {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	code, out, errOut = run(t, append(args, "-o", "json")...)
	var list struct {
		Kind  string
		Items []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Kind != "List" || len(list.Items) != 10 {
		t.Fatalf("exit %d, %v: want a List of 10 objects (ClusterRole, 4 Roles: Istio, app and ALB secret namespaces and kube-system for IKS's ALB config, 5 bindings):\n%s%s", code, err, out, errOut)
	}
}

func TestRBACUsageErrors(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"no --for", []string{"--user", "jane"}, []string{"--for is required"}},
		{"unknown --for", []string{"--for=admin", "--user", "jane"}, []string{"setup or check"}},
		{"no subject", []string{"--for=setup"}, []string{"--user, --group or --serviceaccount"}},
		{"two subjects", []string{"--for=setup", "--user", "jane", "--group", "sre"}, []string{"--user and --group"}},
		{"service account without namespace", []string{"--for=check", "--serviceaccount", "albistio"}, []string{"namespace:name"}},
		{"port-forward for setup", []string{"--for=setup", "--port-forward", "--user", "jane"}, []string{"--for=check"}},
		{"create-namespace for check", []string{"--for=check", "--create-namespace", "--user", "jane"}, []string{"--for=setup"}},
		{"unknown output", []string{"--for=check", "--user", "jane", "-o", "name"}, []string{"yaml or json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append(append([]string{"rbac"}, tc.args...), rbacNames...)...)
			if code != kube.ExitUsage || out != "" {
				t.Fatalf("want exit %d and no output, got %d:\n%s%s", kube.ExitUsage, code, out, errOut)
			}
			for _, m := range tc.mention {
				if !strings.Contains(errOut, m) {
					t.Errorf("stderr lacks %q:\n%s", m, errOut)
				}
			}
		})
	}
	// The secrets name the hop's objects: without them there is nothing to name.
	code, _, errOut := run(t, "rbac", "--for=setup", "--user", "jane", "-n", "httptools")
	if code != kube.ExitUsage || !strings.Contains(errOut, "--alb-secret") || !strings.Contains(errOut, "--gateway-secret") {
		t.Errorf("want exit 2 naming --alb-secret and --gateway-secret, got %d: %s", code, errOut)
	}
}
