package check

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseSuppression(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Suppression
	}{
		{"ALB0305", Suppression{Code: PrivateCAUntrusted}},
		{" alb0305 ", Suppression{Code: PrivateCAUntrusted}},
		{"ALB0305=*", Suppression{Code: PrivateCAUntrusted}},
		{"ALB0510=Namespace httptools", Suppression{Code: SidecarInjectionOff, Object: "Namespace httptools"}},
		{"ALB0304= Secret istio-system/* ", Suppression{Code: CopyUnannotated, Object: "Secret istio-system/*"}},
		// Only the first "=" separates: the object is taken as it is.
		{"ALB0620=Ingress a/b=c", Suppression{Code: AnnotationPastedKV, Object: "Ingress a/b=c"}},
	} {
		got, err := ParseSuppression(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSuppression(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, mention string }{
		{"ALB9999", "--list-checks"},
		{"IST0102", "not a check code"},
		{"", "names no code"},
		{"=Secret a/b", "names no code"},
		{"ALB0305=", "no object"},
		{"ALB0305=  ", "no object"},
	} {
		if _, err := ParseSuppression(tc.in); err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseSuppression(%q): error %v, want one mentioning %q", tc.in, err, tc.mention)
		}
	}
}

func TestSuppressionMatches(t *testing.T) {
	f := NewFinding(CopyUnannotated, "Secret istio-system/alb-certs", "metadata.annotations", "m", "f")
	for _, tc := range []struct {
		suppress string
		want     bool
	}{
		{"ALB0304", true},
		{"ALB0304=Secret istio-system/alb-certs", true},
		{"ALB0304=secret istio-system/alb-certs", true}, // a kind in lower case
		{"ALB0304=Secret istio-system/*", true},
		{"ALB0304=Secret *", true}, // * crosses the "/"
		{"ALB0304=* istio-system/alb-certs", true},
		{"ALB0304=Secret */alb-*", true},
		{"ALB0304=Secret istio-system/alb", false}, // no implicit prefix match
		{"ALB0304=Secret istio-system/alb-certs2", false},
		{"ALB0304=Secret other/*", false},
		{"ALB0304=Service istio-system/alb-certs", false},
		{"ALB0305", false}, // another code
		{"ALB0305=Secret istio-system/alb-certs", false},
	} {
		s, err := ParseSuppression(tc.suppress)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Matches(f); got != tc.want {
			t.Errorf("--suppress %q matches %s %s: %v, want %v", tc.suppress, f.Code, f.Object, got, tc.want)
		}
		if again, err := ParseSuppression(s.String()); err != nil || again != s {
			t.Errorf("%q does not read back as %+v: %+v, %v", s.String(), s, again, err)
		}
	}
}

// TestGlobMatchExhaustive compares globMatch with the regular expression
// the pattern stands for, on every pattern and name up to five characters
// over a small alphabet: * is any run of characters, the rest literal.
func TestGlobMatchExhaustive(t *testing.T) {
	words := func(alphabet string, n int) []string {
		out := []string{""}
		for level, prev := 0, []string{""}; level < n; level++ {
			var next []string
			for _, w := range prev {
				for _, c := range alphabet {
					next = append(next, w+string(c))
				}
			}
			out = append(out, next...)
			prev = next
		}
		return out
	}
	names := words("a/ ", 5)
	for _, pattern := range words("a/*", 5) {
		parts := strings.Split(pattern, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for _, name := range names {
			if got, want := globMatch(pattern, name), re.MatchString(name); got != want {
				t.Fatalf("globMatch(%q, %q) = %v, want %v", pattern, name, got, want)
			}
		}
	}
}

// TestSuppressAndOutputThreshold: suppressed findings leave the report and
// are counted; findings below the output threshold leave it and are
// counted apart; the summary line says both.
func TestSuppressAndOutputThreshold(t *testing.T) {
	fs := sampleFindings() // ALB0201 error, ALB0616 error, ALB0510 warning, ALB0112 info
	var sups []Suppression
	for _, s := range []string{"ALB0616=Ingress istio-system/*", "ALB0510=Namespace other"} {
		sup, err := ParseSuppression(s)
		if err != nil {
			t.Fatal(err)
		}
		sups = append(sups, sup)
	}
	kept, suppressed := Suppress(fs, sups)
	if suppressed != 1 || !slices.Equal(codesInOrder(kept), []Code{ClientCertNoClientAuth, SidecarInjectionOff, PrivateCASecretAbsent}) {
		t.Fatalf("kept %v, %d suppressed; want ALB0201, ALB0510, ALB0112 and 1", codesInOrder(kept), suppressed)
	}
	if all, n := Suppress(fs, nil); n != 0 || len(all) != len(fs) {
		t.Errorf("no suppression left %d of %d, %d suppressed", len(all), len(fs), n)
	}
	shown, below := AtOrAbove(kept, LevelError)
	if below != 2 || !slices.Equal(codesInOrder(shown), []Code{ClientCertNoClientAuth}) {
		t.Errorf("at error: %v shown, %d below; want ALB0201 and 2", codesInOrder(shown), below)
	}
	r := NewReport(shown)
	r.Summary.Suppressed, r.Summary.BelowOutputThreshold = suppressed, below
	if got, want := r.Summary.String(), "1 error, 0 warnings, 0 info, 1 suppressed, 2 below --output-threshold"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// Nothing left out, nothing said: the line stays as it was.
	if got := Summarize(fs).String(); got != "2 errors, 1 warning, 1 info" {
		t.Errorf("summary %q", got)
	}
}
