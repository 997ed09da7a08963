package check

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// Every code of the catalog is drawn at exactly one hop, hopCodes names no
// code the catalog lacks, and the codes drawn by their object are codes
// too.
func TestEveryCodeHasOneHop(t *testing.T) {
	catalog := map[Code]bool{}
	for _, c := range Catalog() {
		catalog[c.Code] = true
	}
	count := map[Code]int{}
	for hop, codes := range hopCodes {
		if !slices.Contains(hopOrder, hop) || hop == HopClient {
			t.Errorf("hopCodes places codes at %q, which is not a hop findings can be drawn at", hop)
		}
		for _, c := range codes {
			count[c]++
			if !catalog[c] {
				t.Errorf("hopCodes names %s, which the catalog does not declare", c)
			}
		}
	}
	for c := range catalog {
		if count[c] != 1 {
			t.Errorf("%s is placed at %d hops, want exactly one (hopCodes in hops.go)", c, count[c])
		}
	}
	for c := range byObject {
		if !catalog[c] {
			t.Errorf("byObject names %s, which the catalog does not declare", c)
		}
	}
	for _, h := range hopOrder {
		if hopTitles[h] == "" {
			t.Errorf("hop %s has no title", h)
		}
	}
}

// Over the whole grid: every finding is drawn at one hop, each hop's
// status is the worst level drawn there, a code drawn by its object finds
// its object among the chain's (the fallback is for strangers only), and
// every fact has a label and a value.
func TestHopsDrawEveryGridFinding(t *testing.T) {
	for _, path := range gridFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			in, fs := gridInput(t, name)
			hops := Hops(in, fs, LevelInfo)
			if len(hops) != len(hopOrder) {
				t.Fatalf("%d hops, want %d", len(hops), len(hopOrder))
			}
			for i, h := range hops {
				if h.Name != hopOrder[i] {
					t.Errorf("hop %d is %s, want %s", i, h.Name, hopOrder[i])
				}
				for _, f := range h.Facts {
					if _, ok := factLabels[f.Name]; !ok || f.Value == "" {
						t.Errorf("%s: fact %+v has no label or no value", h.Name, f)
					}
				}
			}
			objects := objectHops(in)
			worst := map[HopName]int{}
			want := map[HopName][]Code{}
			for _, f := range fs {
				if _, ok := objects[f.Object]; byObject[f.Code] && !ok {
					t.Errorf("%s names %q, which objectHops does not know: it is drawn at the fallback hop", f.Code, f.Object)
				}
				h := hopOf(f, objects)
				worst[h] = max(worst[h], f.Level.severity())
				if !slices.Contains(want[h], f.Code) {
					want[h] = append(want[h], f.Code)
				}
			}
			for _, h := range hops {
				status := map[int]HopStatus{3: HopError, 2: HopWarning}[worst[h.Name]]
				if status == "" {
					status = HopOK
					if h.Unjudged != "" {
						status = HopUnknown
					}
				}
				if h.Status != status {
					t.Errorf("hop %s is %s, want %s (codes %v)", h.Name, h.Status, status, h.Codes)
				}
			}
			for _, h := range hops {
				if !slices.Equal(h.Codes, want[h.Name]) {
					t.Errorf("hop %s draws %v, want the codes of the findings about it, %v", h.Name, h.Codes, want[h.Name])
				}
			}
		})
	}
}

// gridInput reads a grid fixture's world as check does, with its findings.
func gridInput(t *testing.T, name string) (*Input, []Finding) {
	t.Helper()
	c, ops := loadCase(t, filepath.Join("testdata", "grid", name+".yaml"))
	w := newWorld(t, c.World)
	w.apply(t, ops)
	in := inputOf(t, w)
	return in, Run(in)
}

// hopCases are the drawn chain's golden files: a healthy chain of each
// identity and flavor, and one breakage per hop, each taken from the grid,
// with the hop it must mark and how.
var hopCases = []struct {
	fixture string
	broken  HopName
	status  HopStatus
	// unjudged is a hop the breakage leaves unknown.
	unjudged HopName
}{
	{"healthy-nginx-private-ca", "", HopOK, ""},
	{"healthy-nginx-cert-manager", "", HopOK, ""},
	{"healthy-traefik-private-ca", "", HopOK, ""},
	{"healthy-classic", "", HopOK, ""},
	{"ingress-tls-copy-missing", HopALB, HopWarning, ""},
	{"alb-secret-missing", HopALB, HopError, ""},
	{"iks-today-walkthrough", HopMutualTLS, HopError, ""}, // the client certificate lacks client auth
	{"cert-manager-client-no-client-auth", HopMutualTLS, HopError, ""},
	{"nginx-sni-off", HopMutualTLS, HopError, ""},
	// The flavors' readings of verification, as the drawn chain shows them.
	{"nginx-verify-true", HopMutualTLS, HopError, ""},
	{"traefik-skip-verify", HopMutualTLS, HopWarning, ""},
	{"nginx-sni-true", HopMutualTLS, HopError, ""},
	{"classic-verify-depth", HopMutualTLS, HopError, ""},
	{"gateway-mode-simple", HopGateway, HopWarning, ""},
	{"cert-manager-server-wrong-name", HopGateway, HopError, ""},
	{"virtualservice-missing", HopVirtualService, HopError, HopAppService},
	{"app-service-missing", HopAppService, HopError, ""},
}

// TestHopsGolden: the text report starts with the chain drawn hop by hop;
// a healthy chain is OK throughout, a single breakage marks its hop (and
// only its hop) with its codes. The files are the whole report, as check
// prints it, with dates replaced.
func TestHopsGolden(t *testing.T) {
	for _, tc := range hopCases {
		t.Run(tc.fixture, func(t *testing.T) {
			in, fs := gridInput(t, tc.fixture)
			r := NewReport(fs)
			r.Hops = Hops(in, fs, LevelInfo)
			r.Certificates = Certificates(in)
			for _, h := range r.Hops {
				want := HopOK
				switch h.Name {
				case tc.broken:
					want = tc.status
				case tc.unjudged:
					want = HopUnknown
				}
				if h.Status != want {
					t.Errorf("hop %s is %s, want %s (codes %v)", h.Name, h.Status, want, h.Codes)
				}
			}
			var buf bytes.Buffer
			if err := r.Write(&buf, FormatText, false); err != nil {
				t.Fatal(err)
			}
			compareText(t, filepath.Join("testdata", "hops", tc.fixture+".text"), []byte(withoutDates(buf.String())))
		})
	}
	// JSON and YAML carry the same hops, next to the fields they had.
	in, fs := gridInput(t, "nginx-sni-off")
	r := NewReport(fs)
	r.Hops = Hops(in, fs, LevelInfo)
	for _, format := range []string{FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := r.Write(&buf, format, false); err != nil {
			t.Fatal(err)
		}
		compareText(t, filepath.Join("testdata", "hops", "nginx-sni-off."+format), buf.Bytes())
	}
}

// withoutDates replaces the dates the worlds' certificates carry, which
// change from run to run; days left do not.
func withoutDates(s string) string {
	return timestamps.ReplaceAllStringFunc(s, func(s string) string {
		if len(s) > 10 {
			return "YYYY-MM-DDThh:mm:ssZ"
		}
		return "YYYY-MM-DD"
	})
}

// compareText is golden.Compare for text files, with a line diff on a
// mismatch: the drawn chain is reviewed by reading it.
func compareText(t *testing.T, path string, got []byte) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		golden.Compare(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from what the test generated (review, then go test with -update):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows how got differs from want, line by line ("-" want only,
// "+" got only), from their longest common subsequence of lines.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&out, "  %s\n", a[i])
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		default:
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		}
	}
	return out.String()
}

// The hop marks are coloured on a terminal only; a value from the cluster
// cannot send escapes through a fact; the Istio API not being served
// leaves the hops behind the gateway unjudged, not OK.
func TestHopsColourEscapesAndUnjudged(t *testing.T) {
	in, fs := gridInput(t, "nginx-sni-off")
	r := NewReport(fs)
	r.Hops = Hops(in, fs, LevelInfo)
	var plain, colour bytes.Buffer
	_ = r.Write(&plain, FormatText, false)
	_ = r.Write(&colour, FormatText, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("plain text carries escape sequences")
	}
	for _, want := range []string{"\x1b[32mOK     \x1b[0m  client", "\x1b[31mERROR  \x1b[0m  mutual TLS: ALB0616"} {
		if !strings.Contains(colour.String(), want) {
			t.Errorf("coloured text lacks %q:\n%s", want, colour.String())
		}
	}
	if !strings.HasPrefix(plain.String(), "Chain, from the client to the app:\n") {
		t.Errorf("the report does not start with the chain:\n%s", plain.String())
	}
	if strings.ContainsFunc(plain.String(), func(r rune) bool { return r > 0x7e && r != '—' && r != '…' }) {
		t.Errorf("the drawing is not plain ASCII:\n%s", plain.String())
	}

	evil := evilInput(t, "nginx")
	er := NewReport(Run(evil))
	er.Hops = Hops(evil, er.Findings, LevelInfo)
	for _, format := range []string{FormatText, FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := er.Write(&buf, format, false); err != nil {
			t.Fatal(err)
		}
		if i := rawControl(buf.String()); i >= 0 {
			t.Errorf("%s: raw control at byte %d: %q", format, i, buf.String()[max(i-80, 0):min(i+80, buf.Len())])
		}
	}

	in, fs = gridInput(t, "istio-missing")
	for _, h := range Hops(in, fs, LevelInfo) {
		switch h.Name {
		case HopVirtualService, HopAppService:
			if h.Status != HopUnknown || h.Unjudged == "" {
				t.Errorf("without Istio's API, hop %s is %s (%q), want unknown with the reason", h.Name, h.Status, h.Unjudged)
			}
		}
	}
}

// --output-threshold: what it leaves out of the list is left out of the
// hops too, and counted there.
func TestHopsOutputThreshold(t *testing.T) {
	in, fs := gridInput(t, "sidecar-injection-off")
	hops := Hops(in, fs, LevelError)
	app := hops[slices.IndexFunc(hops, func(h Hop) bool { return h.Name == HopAppService })]
	if app.Status != HopOK || len(app.Codes) != 0 || app.BelowOutputThreshold != 1 {
		t.Errorf("the warning below --output-threshold error: hop %+v, want ok with 1 below the threshold", app)
	}
	r := NewReport(nil)
	r.Hops = hops
	var buf bytes.Buffer
	_ = r.Write(&buf, FormatText, false)
	if !strings.Contains(buf.String(), "app Service (1 finding below --output-threshold)") || strings.Contains(buf.String(), "WARNING") {
		t.Errorf("the drawing does not count the hidden warning, or shows it:\n%s", buf.String())
	}
	if full := Hops(in, fs, LevelInfo); full[len(full)-1].Status != HopWarning {
		t.Errorf("with every finding shown the app Service is %s, want warning", full[len(full)-1].Status)
	}
}

// Codes any secret or object can have are drawn at the hop of the object
// they name: the ALB's TLS secret and its copy at the ALB, the client
// secret and CA at the mutual TLS, the gateway's certificate (IKS's, or
// the hop's own in cert-manager mode) at the gateway; a pasted annotation
// at the mutual TLS when it tells the ALB how to reach the gateway, else
// at the ALB.
func TestHopsByObject(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		code    Code
		hops    []HopName
	}{
		{"certs-expired", CertExpired, []HopName{HopALB, HopMutualTLS, HopGateway}},
		{"cert-manager-certs-expired", CertExpired, []HopName{HopALB, HopMutualTLS, HopGateway}},
		{"traefik-pasted-router-tls", AnnotationPastedKV, []HopName{HopALB}},
		{"nginx-pasted-verify", AnnotationPastedKV, []HopName{HopMutualTLS}},
		{"cert-manager-not-issued-yet", CertificateSecretMissing, []HopName{HopMutualTLS, HopGateway}},
		{"renewal-due-private-ca", RenewalDue, []HopName{HopMutualTLS}},
		{"alb-source-expired", CertExpired, []HopName{HopALB}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			in, fs := gridInput(t, tc.fixture)
			var got []HopName
			for _, h := range Hops(in, fs, LevelInfo) {
				if slices.Contains(h.Codes, tc.code) {
					got = append(got, h.Name)
				}
			}
			if !slices.Equal(got, tc.hops) {
				t.Errorf("%s is drawn at %v, want %v", tc.code, got, tc.hops)
			}
		})
	}
}
