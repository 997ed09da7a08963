package check

import (
	"regexp"
	"strings"
	"testing"
)

// The catalog is the single list of codes: each is well-formed, unique, in
// its area's range, described, and emitted by exactly one rule (or by the
// probe, package probe), and some test expects it (for the probe's codes,
// package probe's tests).

func TestCatalogCodesAreUniqueAndDescribed(t *testing.T) {
	format := regexp.MustCompile(`^ALB(0[1-9]|1\d)\d\d$`)
	seen := map[Code]bool{}
	for _, c := range Catalog() {
		if !format.MatchString(string(c.Code)) {
			t.Errorf("%s: not of the form ALB0[1-9]xx or ALB1[0-9]xx", c.Code)
		}
		if seen[c.Code] {
			t.Errorf("%s is declared twice", c.Code)
		}
		seen[c.Code] = true
		if len(c.Description) < 20 || !strings.HasSuffix(c.Description, ".") {
			t.Errorf("%s: the description %q must be a sentence", c.Code, c.Description)
		}
		if c.Level != LevelError && c.Level != LevelWarning && c.Level != LevelInfo {
			t.Errorf("%s: level %q is not error, warning or info", c.Code, c.Level)
		}
	}
}

func TestCatalogIsInCodeOrder(t *testing.T) {
	cat := Catalog()
	for i := 1; i < len(cat); i++ {
		if cat[i-1].Code >= cat[i].Code {
			t.Errorf("%s comes after %s: keep the catalog in code order", cat[i].Code, cat[i-1].Code)
		}
	}
}

func isProbeCode(c Code) bool { return strings.HasPrefix(string(c), "ALB08") }

func TestEveryCodeHasOneEmitter(t *testing.T) {
	owner := map[Code]string{}
	for _, r := range Rules() {
		if len(r.Codes) == 0 {
			t.Errorf("rule %s declares no codes", r.Name)
		}
		for _, c := range r.Codes {
			if _, ok := Describe(c); !ok {
				t.Errorf("rule %s declares %s, which the catalog lacks", r.Name, c)
			}
			if isProbeCode(c) {
				t.Errorf("rule %s declares the probe's code %s", r.Name, c)
			}
			if o, dup := owner[c]; dup {
				t.Errorf("%s is declared by rules %s and %s", c, o, r.Name)
			}
			owner[c] = r.Name
		}
	}
	for _, c := range Catalog() {
		if _, ok := owner[c.Code]; !ok && !isProbeCode(c.Code) {
			t.Errorf("%s is emitted by no rule", c.Code)
		}
	}
}

// TestEveryCodeIsTested: the grid expects every rule's code at least once,
// so no rule and no code goes untested. The live probe's codes (ALB08xx)
// are expected by package probe's tests, whose TestEveryProbeCodeIsTested
// holds them to the same standard.
func TestEveryCodeIsTested(t *testing.T) {
	tested := gridExpectations(t)
	for _, c := range Catalog() {
		if !tested[c.Code] && !isProbeCode(c.Code) {
			t.Errorf("no test expects %s (%s)", c.Code, c.Description)
		}
	}
}
