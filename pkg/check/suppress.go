package check

import (
	"fmt"
	"strings"
)

// Suppression silences the findings of one code, on every object or on the
// objects its pattern matches: check --suppress CODE[=OBJECT]. It is for a
// finding that is understood and accepted (a warning about a choice made on
// purpose), as istioctl analyze --suppress is.
type Suppression struct {
	Code Code
	// Object is a pattern of Finding.Object, "Kind namespace/name" as
	// findings print it, in which * stands for any run of characters
	// ("Secret istio-system/*"); empty matches every object.
	Object string
}

// ParseSuppression reads a --suppress value: a code of the catalog, in any
// case, optionally followed by "=" and an object pattern. An unknown code is
// an error rather than a suppression that silently matches nothing: a typo
// must not pass for a clean chain.
func ParseSuppression(s string) (Suppression, error) {
	code, object, hasObject := strings.Cut(s, "=")
	c := Code(strings.ToUpper(strings.TrimSpace(code)))
	if c == "" {
		return Suppression{}, fmt.Errorf("%q names no code: use CODE or CODE=Kind namespace/name", s)
	}
	if _, ok := Describe(c); !ok {
		return Suppression{}, fmt.Errorf("%s is not a check code (kubectl albistio check --list-checks lists them)", c)
	}
	object = strings.TrimSpace(object)
	if hasObject && object == "" {
		return Suppression{}, fmt.Errorf("%q has no object after \"=\": give it as findings name it (\"Kind namespace/name\", * for any run of characters), or drop the \"=\"", s)
	}
	if object == "*" {
		object = ""
	}
	return Suppression{Code: c, Object: object}, nil
}

// String renders s as --suppress takes it.
func (s Suppression) String() string {
	if s.Object == "" {
		return string(s.Code)
	}
	return string(s.Code) + "=" + s.Object
}

// Matches reports whether s silences f. Objects compare without regard to
// case: Kubernetes names are lower case anyway, and a kind typed as
// "secret" means Secret.
func (s Suppression) Matches(f Finding) bool {
	return f.Code == s.Code && (s.Object == "" || globMatch(strings.ToLower(s.Object), strings.ToLower(f.Object)))
}

// globMatch reports whether name matches pattern, in which * matches any
// run of characters (slashes and spaces included, so "Secret *" takes every
// namespace) and every other character only itself: names never need
// escaping, unlike with path.Match.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(name, first) {
		return false
	}
	name = name[len(first):]
	// Each middle part at its leftmost place leaves the most room for the
	// rest; the last part must end the name.
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return strings.HasSuffix(name, last)
}

// Suppress returns the findings no suppression matches, and how many were
// left out.
func Suppress(fs []Finding, suppressions []Suppression) ([]Finding, int) {
	if len(suppressions) == 0 {
		return fs, 0
	}
	var kept []Finding
	for _, f := range fs {
		silenced := false
		for _, s := range suppressions {
			silenced = silenced || s.Matches(f)
		}
		if !silenced {
			kept = append(kept, f)
		}
	}
	return kept, len(fs) - len(kept)
}

// AtOrAbove returns the findings at threshold or worse, and how many were
// below it: --output-threshold.
func AtOrAbove(fs []Finding, threshold Level) ([]Finding, int) {
	var shown []Finding
	for _, f := range fs {
		if f.Level.AtLeast(threshold) {
			shown = append(shown, f)
		}
	}
	return shown, len(fs) - len(shown)
}
