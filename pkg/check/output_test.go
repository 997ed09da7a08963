package check

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// sampleFindings covers every level, with and without a field.
func sampleFindings() []Finding {
	fs := []Finding{
		NewFinding(SidecarInjectionOff, "Namespace httptools", "metadata.labels", "the namespace injects no sidecars", "kubectl label namespace httptools istio-injection=enabled"),
		NewFinding(NginxSNIOff, "Ingress istio-system/alb-ingress", annotationField("nginx.ingress.kubernetes.io/proxy-ssl-server-name"), `proxy-ssl-server-name is "off"`, `set it to "on"`),
		NewFinding(PrivateCASecretAbsent, "Secret istio-system/albistio-client-ca", "", "the private CA is gone", "nothing to do now"),
		NewFinding(ClientCertNoClientAuth, "Secret istio-system/alb-certs", "data[tls.crt]", "the chain lacks clientAuth", "run kubectl albistio secrets --client-identity=private-ca"),
	}
	Sort(fs)
	return fs
}

func TestReportGolden(t *testing.T) {
	r := NewReport(sampleFindings())
	for _, format := range []string{FormatText, FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := r.Write(&buf, format, false); err != nil {
			t.Fatal(err)
		}
		golden.Compare(t, filepath.Join("testdata", "output", "report."+format), buf.Bytes())
	}
	var buf bytes.Buffer
	if err := NewReport(nil).Write(&buf, FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"findings": []`) {
		t.Errorf("an empty report must list findings as [], got:\n%s", buf.String())
	}
}

func TestCatalogGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCatalog(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "output", "catalog.txt"), buf.Bytes())
}

func TestTextColour(t *testing.T) {
	var plain, colour bytes.Buffer
	r := NewReport(sampleFindings())
	_ = r.Write(&plain, FormatText, false)
	_ = r.Write(&colour, FormatText, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("plain text carries escape sequences")
	}
	for _, want := range []string{"\x1b[31mERROR  \x1b[0m", "\x1b[33mWARNING\x1b[0m", "\x1b[36mINFO   \x1b[0m"} {
		if !strings.Contains(colour.String(), want) {
			t.Errorf("coloured text lacks %q", want)
		}
	}
}

func TestSortAndThreshold(t *testing.T) {
	fs := sampleFindings()
	if fs[0].Level != LevelError || fs[len(fs)-1].Level != LevelInfo {
		t.Errorf("findings are not sorted errors first: %v", codesInOrder(fs))
	}
	for _, tc := range []struct {
		threshold Level
		want      int
	}{{LevelError, 2}, {LevelWarning, 3}, {LevelInfo, 4}} {
		if got := Reaching(fs, tc.threshold); got != tc.want {
			t.Errorf("Reaching(%s) = %d, want %d", tc.threshold, got, tc.want)
		}
	}
	if s := Summarize(fs).String(); s != "2 errors, 1 warning, 1 info" {
		t.Errorf("summary %q", s)
	}
	if _, err := ParseLevel("fatal"); err == nil {
		t.Error("ParseLevel accepted fatal")
	}
	if l, err := ParseLevel("Warning"); err != nil || l != LevelWarning {
		t.Errorf("ParseLevel(Warning) = %s, %v", l, err)
	}
}

func codesInOrder(fs []Finding) []Code {
	var cs []Code
	for _, f := range fs {
		cs = append(cs, f.Code)
	}
	return cs
}
