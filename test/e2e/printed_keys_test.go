package e2e

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// base64Run is a run of base64 long enough to hold a PEM line: Secret data
// is printed base64-encoded, so a key never shows as "PRIVATE KEY" text.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{40,}={0,2}`)

// privateKeysIn says where s shows private key material: as PEM text, or
// inside any base64 value (Secret data, an annotation holding a copy of it).
func privateKeysIn(s string) []string {
	var found []string
	if strings.Contains(s, "PRIVATE KEY") {
		found = append(found, "PEM text")
	}
	for _, tok := range base64Run.FindAllString(s, -1) {
		b, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			continue
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			found = append(found, "base64 "+tok[:16]+"…")
		}
	}
	return found
}

// noPrivateKeys fails the test when r's stdout or stderr shows a private key.
func noPrivateKeys(t *testing.T, what string, r result) {
	t.Helper()
	// stdout is left out of the messages: it is what holds the keys.
	if f := privateKeysIn(r.stdout + r.stderr); len(f) > 0 {
		t.Errorf("%s printed private keys (%s); stderr:\n%s", what, strings.Join(f, ", "), r.stderr)
	}
	if !strings.Contains(r.stdout, "albistio.io/redacted") {
		t.Errorf("%s should mark the Secrets it printed without their keys (albistio.io/redacted); stderr:\n%s", what, r.stderr)
	}
}

// Plans printed for GitOps (-o yaml|json of setup and secrets, real runs and
// both dry runs) carry no private key unless --show-private-keys asks for
// them, and the cluster still gets every key. A dry run's notes say what
// would be created, not that it was.
func TestPrintedPlansCarryNoPrivateKeys(t *testing.T) {
	w := newWorld(t, false)

	// The hop is empty: a client dry run plans a new CA and client certificate.
	r := mustSucceed(t, w.setup(t, "--dry-run=client", "-o", "yaml"))
	noPrivateKeys(t, "setup --dry-run=client -o yaml", r)
	if !strings.Contains(r.stdout, "kind: Secret") || !strings.Contains(r.stdout, "tls.crt:") || !strings.Contains(r.stdout, "ca.crt:") {
		t.Errorf("the printed Secrets should keep their certificates:\n%s", r)
	}
	if !strings.Contains(r.stderr, "would create private CA") || !strings.Contains(r.stderr, "would issue the ALB a client certificate") {
		t.Errorf("a client dry run should say what it would create:\n%s", r)
	}
	for _, lie := range []string{"created private CA", "issued the ALB", "creating private CA", "issuing the ALB"} {
		if strings.Contains(r.stderr, lie) {
			t.Errorf("a client dry run creates nothing, yet says %q:\n%s", lie, r)
		}
	}

	r = mustSucceed(t, w.setup(t, "--dry-run=server", "-o", "yaml"))
	noPrivateKeys(t, "setup --dry-run=server -o yaml", r)
	if !strings.Contains(r.stderr, "would create private CA") || strings.Contains(r.stderr, "created private CA") {
		t.Errorf("a server dry run should say what it would create:\n%s", r)
	}

	// A real run prints without keys and writes with them.
	r = mustSucceed(t, w.setup(t, "-o", "yaml"))
	noPrivateKeys(t, "setup -o yaml", r)
	if strings.Contains(r.stderr, "would ") {
		t.Errorf("a real run writes: its notes must not say \"would\":\n%s", r)
	}
	ctx := context.Background()
	inCluster := map[string]string{}
	for _, ref := range [][2]string{{"albistio-client-ca", "tls.key"}, {"alb-certs", "tls.key"}, {w.p.ALBSecretName, "tls.key"}} {
		s, err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Get(ctx, ref[0], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s.Data[ref[1]]), "PRIVATE KEY") {
			t.Fatalf("secret %s/%s in the cluster lost its %s: only the printed copy may be redacted", w.p.IstioNamespace, ref[0], ref[1])
		}
		inCluster[ref[0]] = base64.StdEncoding.EncodeToString(s.Data[ref[1]])
	}

	r = mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx", "-o", "json"))
	noPrivateKeys(t, "secrets -o json", r)
	if !strings.Contains(r.stdout, `"kind": "List"`) || !strings.Contains(r.stdout, `"ca.crt"`) {
		t.Errorf("secrets -o json should still print one List with the certificates:\n%s", r)
	}

	// Asked for explicitly, the keys are printed: the cluster's own, since
	// the CA and client certificate are reused.
	r = mustSucceed(t, w.setup(t, "--dry-run=client", "-o", "yaml", "--show-private-keys"))
	if len(privateKeysIn(r.stdout)) < 3 {
		t.Errorf("--show-private-keys should print the CA's, the client secret's and the ALB TLS copy's keys:\n%s", r)
	}
	for name, key := range inCluster {
		if !strings.Contains(r.stdout, key) {
			t.Errorf("--show-private-keys should print the key of %s as the cluster holds it:\n%s", name, r)
		}
	}
	if strings.Contains(r.stdout, "albistio.io/redacted") {
		t.Errorf("with --show-private-keys nothing is redacted:\n%s", r)
	}
	r = mustSucceed(t, w.slice(t, "secrets", "--alb-flavor", "nginx", "-o", "json", "--show-private-keys"))
	if len(privateKeysIn(r.stdout)) < 3 {
		t.Errorf("secrets -o json --show-private-keys should print the keys:\n%s", r)
	}
}
