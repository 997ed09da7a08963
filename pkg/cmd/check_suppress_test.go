package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/kube"
)

// namespaceOnly is the empty cluster plus the app namespace, without
// sidecar injection: errors and a warning (ALB0510) to tell apart.
type namespaceOnly struct{ emptyCluster }

func (namespaceOnly) Get(_ context.Context, gvr schema.GroupVersionResource, _, name string) (*unstructured.Unstructured, error) {
	if gvr == kube.Namespaces && name == "httptools" {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}, nil
	}
	return nil, nil
}

// runJSON runs check against namespaceOnly with -o json and the options
// set, and returns the exit code and the report.
func runJSON(t *testing.T, set func(*CheckOptions)) (int, check.Report) {
	t.Helper()
	var out bytes.Buffer
	o := newCheckOptions(t, &out, func(o *CheckOptions) {
		o.Output, o.api = "json", namespaceOnly{}
		if set != nil {
			set(o)
		}
	})
	code := 0
	if err := o.Run(context.Background()); err != nil {
		code = exitCode(err)
	}
	if code == kube.ExitFindings || code == 0 {
		var r check.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("the report is not JSON: %v\n%s", err, out.String())
		}
		return code, r
	}
	return code, check.Report{}
}

// TestCheckSuppress: suppressed findings leave the report, are counted in
// its summary and no longer fail the run; a suppression for another object
// changes nothing.
func TestCheckSuppress(t *testing.T) {
	code, all := runJSON(t, nil)
	if code != kube.ExitFindings || len(all.Findings) == 0 || all.Summary.Suppressed != 0 {
		t.Fatalf("the empty cluster: exit %d, %d findings, %+v", code, len(all.Findings), all.Summary)
	}
	var every []string
	for _, f := range all.Findings {
		every = append(every, string(f.Code))
	}

	code, r := runJSON(t, func(o *CheckOptions) { o.Suppress = every })
	if code != 0 || len(r.Findings) != 0 || r.Summary.Suppressed != len(all.Findings) {
		t.Errorf("every code suppressed: exit %d, %d findings, summary %+v; want 0, none, %d suppressed", code, len(r.Findings), r.Summary, len(all.Findings))
	}

	// One finding by its object; the rest stays.
	first := all.Findings[0]
	code, r = runJSON(t, func(o *CheckOptions) { o.Suppress = []string{string(first.Code) + "=" + first.Object} })
	if code != kube.ExitFindings || len(r.Findings) != len(all.Findings)-1 || r.Summary.Suppressed != 1 {
		t.Errorf("--suppress %s=%s: exit %d, %d findings, %+v", first.Code, first.Object, code, len(r.Findings), r.Summary)
	}
	for _, f := range r.Findings {
		if f.Code == first.Code && f.Object == first.Object {
			t.Errorf("the suppressed finding is still reported: %+v", f)
		}
	}
	// Its kind with a trailing wildcard.
	kind, _, _ := strings.Cut(first.Object, " ")
	code, r = runJSON(t, func(o *CheckOptions) { o.Suppress = []string{string(first.Code) + "=" + kind + " *"} })
	if code != kube.ExitFindings || r.Summary.Suppressed == 0 {
		t.Errorf("--suppress %s=%s *: exit %d, %+v", first.Code, kind, code, r.Summary)
	}
	// Another object: nothing suppressed.
	code, r = runJSON(t, func(o *CheckOptions) { o.Suppress = []string{string(first.Code) + "=" + kind + " elsewhere/nothing"} })
	if code != kube.ExitFindings || r.Summary.Suppressed != 0 || len(r.Findings) != len(all.Findings) {
		t.Errorf("a suppression for another object: exit %d, %d findings, %+v", code, len(r.Findings), r.Summary)
	}
}

// TestCheckOutputThreshold: findings below --output-threshold leave the
// report and are counted apart, but still fail the run at
// --failure-threshold.
func TestCheckOutputThreshold(t *testing.T) {
	_, all := runJSON(t, nil)
	_, r := runJSON(t, func(o *CheckOptions) { o.OutputThreshold = "error" })
	if r.Summary.Errors != all.Summary.Errors || r.Summary.Warnings != 0 || r.Summary.Info != 0 ||
		r.Summary.BelowOutputThreshold != all.Summary.Warnings+all.Summary.Info || all.Summary.Warnings+all.Summary.Info == 0 {
		t.Errorf("--output-threshold error: summary %+v, all findings %+v", r.Summary, all.Summary)
	}
	for _, f := range r.Findings {
		if f.Level != check.LevelError {
			t.Errorf("a %s finding was printed: %+v", f.Level, f)
		}
	}
	// The errors suppressed and only errors printed: a warning still fails
	// --failure-threshold warning though none is printed.
	var errs []string
	for _, f := range all.Findings {
		if f.Level == check.LevelError {
			errs = append(errs, string(f.Code))
		}
	}
	code, r := runJSON(t, func(o *CheckOptions) {
		o.OutputThreshold, o.FailureThreshold, o.Suppress = "error", "warning", errs
	})
	if code != kube.ExitFindings || len(r.Findings) != 0 || r.Summary.BelowOutputThreshold != all.Summary.Warnings+all.Summary.Info {
		t.Errorf("hidden warnings must still fail --failure-threshold warning: exit %d, %d findings printed", code, len(r.Findings))
	}
}

// TestCheckSuppressText: the text summary line says how many findings were
// suppressed and hidden.
func TestCheckSuppressText(t *testing.T) {
	var out bytes.Buffer
	o := newCheckOptions(t, &out, func(o *CheckOptions) {
		o.Suppress, o.OutputThreshold, o.api = []string{"ALB0701"}, "error", namespaceOnly{}
	})
	_ = o.Run(context.Background())
	text := out.String()
	if strings.Contains(text, "ALB0701") || !strings.Contains(text, ", 1 suppressed") {
		t.Errorf("the text report shows ALB0701 or does not count it as suppressed:\n%s", text)
	}
	if strings.Contains(text, "WARNING") || !strings.Contains(text, ", 1 below --output-threshold\n") {
		t.Errorf("the text report shows findings below the threshold, or does not count them:\n%s", text)
	}
}

// TestCheckSuppressUsage: an unknown code, an empty object and an unknown
// level are usage errors (exit 2) that name what was wrong.
func TestCheckSuppressUsage(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		args    []string
		mention []string
	}{
		{[]string{"--suppress", "ALB9999"}, []string{"--suppress", "ALB9999", "--list-checks"}},
		{[]string{"--suppress", "ALB0305", "--suppress", "IST0102=Namespace default"}, []string{"IST0102"}},
		{[]string{"--suppress", "ALB0305="}, []string{"no object"}},
		{[]string{"--output-threshold", "fatal"}, []string{"--output-threshold", "error, warning or info"}},
	} {
		code, _, errOut := run(t, append(append([]string{"check"}, tc.args...), chainArgs...)...)
		if code != kube.ExitUsage {
			t.Errorf("%q: exit %d, want %d: %s", tc.args, code, kube.ExitUsage, errOut)
		}
		for _, m := range tc.mention {
			if !strings.Contains(errOut, m) {
				t.Errorf("%q: the error does not mention %q: %s", tc.args, m, errOut)
			}
		}
	}
}

// TestCheckListChecksLinks: --list-checks -o json|yaml links every code
// to its reference entry; the text table says where the reference is on
// stderr, keeping stdout one line per code.
func TestCheckListChecksLinks(t *testing.T) {
	isolate(t)
	code, out, _ := run(t, "check", "--list-checks", "-o", "json")
	var cat []check.CatalogEntry
	if err := json.Unmarshal([]byte(out), &cat); code != 0 || err != nil || len(cat) != len(check.Catalog()) {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	for _, e := range cat {
		if e.Docs != check.DocsLink(e.Code) {
			t.Errorf("%s links to %q", e.Code, e.Docs)
		}
	}
	code, out, _ = run(t, "check", "--list-checks", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "docs: "+check.DocsLink(check.PrivateCAUntrusted)+"\n") {
		t.Errorf("-o yaml lacks the links:\n%.300s", out)
	}
	code, out, errOut := run(t, "check", "--list-checks")
	if code != 0 || strings.Contains(out, check.DocsURL) || !strings.Contains(errOut, check.DocsURL) {
		t.Errorf("text: exit %d, the reference's address belongs on stderr only:\nstdout %.200s\nstderr %s", code, out, errOut)
	}
}
