package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// isolate keeps the machine's kubeconfig and the walkthrough's environment
// variables out of a test.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	for _, v := range []string{"ALB_INGRESS_DOMAIN", "ALB_SECRET", "INGRESS_GATEWAY_DOMAIN", "INGRESS_GATEWAY_SECRET"} {
		t.Setenv(v, "")
	}
}

var chainArgs = []string{
	"-n", "httptools",
	"--alb-domain", "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud", "--alb-secret", "mycluster-a1b2c3-0000",
	"--gateway-domain", "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud", "--gateway-secret", "mycluster-a1b2c3-0001",
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func TestCheckListChecksNeedsNoCluster(t *testing.T) {
	isolate(t)
	code, out, errOut := run(t, "check", "--list-checks")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != len(check.Catalog())+1 {
		t.Errorf("%d lines, want a header and one per code (%d)", lines, len(check.Catalog()))
	}
	if !strings.Contains(out, "ALB0201  error    The ALB's client certificate chain lacks the TLS client-auth usage") {
		t.Errorf("the list lacks ALB0201:\n%s", out)
	}
	code, out, _ = run(t, "check", "--list-checks", "-o", "json")
	var cat []check.CodeInfo
	if err := json.Unmarshal([]byte(out), &cat); code != 0 || err != nil || len(cat) != len(check.Catalog()) {
		t.Fatalf("exit %d, %v: -o json did not list the catalog:\n%s", code, err, out)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"missing parameters", []string{"check"}, []string{"--alb-domain", "--alb-secret", "--gateway-domain", "--gateway-secret"}},
		{"unknown output", append([]string{"check", "-o", "xml"}, chainArgs...), []string{"text, json or yaml"}},
		{"unknown threshold", append([]string{"check", "--failure-threshold", "fatal"}, chainArgs...), []string{"error, warning or info"}},
		{"two probe routes", append([]string{"check", "--probe-address", "192.0.2.10:443", "--port-forward"}, chainArgs...), []string{"pass one"}},
		{"probe address without port", append([]string{"check", "--probe-address", "192.0.2.10"}, chainArgs...), []string{"host:port"}},
		{"argument", []string{"check", "extra"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			if code != kube.ExitUsage {
				t.Fatalf("exit %d, want %d: %s", code, kube.ExitUsage, errOut)
			}
			for _, m := range tc.mention {
				if !strings.Contains(errOut, m) {
					t.Errorf("the error does not mention %q: %s", m, errOut)
				}
			}
		})
	}
}

// emptyCluster serves nothing: no Istio, no objects.
type emptyCluster struct{}

func (emptyCluster) Get(context.Context, schema.GroupVersionResource, string, string) (*unstructured.Unstructured, error) {
	return nil, nil
}

// GetServed: nothing is served, Istio included.
func (emptyCluster) GetServed(context.Context, schema.GroupVersionResource, string, string) (*unstructured.Unstructured, bool, error) {
	return nil, false, nil
}

func (emptyCluster) List(context.Context, schema.GroupVersionResource, string, string) ([]unstructured.Unstructured, error) {
	return nil, nil
}

func (emptyCluster) APIGroup(context.Context, string) (*metav1.APIGroup, error) { return nil, nil }

func newCheckOptions(t *testing.T, out *bytes.Buffer, flags ...func(*CheckOptions)) *CheckOptions {
	t.Helper()
	isolate(t)
	cf := genericclioptions.NewConfigFlags(false)
	ns := "httptools"
	cf.Namespace = &ns
	o := &CheckOptions{
		ChainOptions: newChainOptions(cf), IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: &bytes.Buffer{}},
		FailureThreshold: "error", ProbeTimeout: time.Second, now: time.Now, api: emptyCluster{},
	}
	o.Getenv = func(string) string { return "" }
	o.Flags.ALBDomain, o.Flags.ALBSecret = "mycluster-a1b2c3-0000.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0000"
	o.Flags.GatewayDomain, o.Flags.GatewaySecret = "mycluster-a1b2c3-0001.jp-tok.containers.appdomain.cloud", "mycluster-a1b2c3-0001"
	for _, f := range flags {
		f(o)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCheckRunReportsAndExits: an empty cluster yields error findings, a
// JSON report, and exit code 8; --probe-address implies --probe, whose
// finding says why it could not run.
func TestCheckRunReportsAndExits(t *testing.T) {
	var out bytes.Buffer
	o := newCheckOptions(t, &out, func(o *CheckOptions) { o.Output = "json"; o.ProbeAddress = "127.0.0.1:1" })
	err := o.Run(context.Background())
	if code := exitCode(err); err == nil || code != kube.ExitFindings {
		t.Fatalf("exit %d (%v), want %d", code, err, kube.ExitFindings)
	}
	var r check.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, out.String())
	}
	codes := map[check.Code]bool{}
	for _, f := range r.Findings {
		codes[f.Code] = true
	}
	for _, want := range []check.Code{check.IstioMissing, check.ALBSecretMissing, check.ClientSecretMissing, check.ProbeNotRun} {
		if !codes[want] {
			t.Errorf("the report lacks %s: %s", want, out.String())
		}
	}
	if r.Summary.Errors == 0 || r.Summary.Errors != check.Summarize(r.Findings).Errors {
		t.Errorf("summary %+v does not count the findings", r.Summary)
	}
}

func TestCheckTextOutput(t *testing.T) {
	var out bytes.Buffer
	o := newCheckOptions(t, &out)
	_ = o.Run(context.Background())
	text := out.String()
	if !strings.Contains(text, "ERROR   ALB0701 APIGroup networking.istio.io: ") || strings.Contains(text, "\x1b[") {
		t.Errorf("unexpected text output:\n%s", text)
	}
	if !strings.HasSuffix(text, "0 info\n") {
		t.Errorf("the text does not end with the summary line:\n%s", text)
	}
}

func TestFindingsThreshold(t *testing.T) {
	warning := []check.Finding{{Code: check.SidecarInjectionOff, Level: check.LevelWarning}}
	if err := findingsError(warning, check.LevelError); err != nil {
		t.Errorf("a warning failed the error threshold: %v", err)
	}
	if err := findingsError(warning, check.LevelWarning); exitCode(err) != kube.ExitFindings {
		t.Errorf("a warning did not fail the warning threshold: %v", err)
	}
	if err := findingsError(nil, check.LevelInfo); err != nil {
		t.Errorf("no findings failed: %v", err)
	}
}
