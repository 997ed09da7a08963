package check

import (
	"fmt"
	"sort"
	"strings"
)

// Level is how bad a finding is.
type Level string

const (
	// LevelError: the chain fails (or is not what it claims to be) until fixed.
	LevelError Level = "error"
	// LevelWarning: the chain works today but is insecure or about to fail.
	LevelWarning Level = "warning"
	// LevelInfo: worth knowing; nothing to fix.
	LevelInfo Level = "info"
)

// severity orders levels: higher is worse; unknown levels are 0.
func (l Level) severity() int {
	switch l {
	case LevelError:
		return 3
	case LevelWarning:
		return 2
	case LevelInfo:
		return 1
	}
	return 0
}

// AtLeast reports whether l is as severe as threshold or more.
func (l Level) AtLeast(threshold Level) bool { return l.severity() >= threshold.severity() }

// ParseLevel reads a --failure-threshold value.
func ParseLevel(s string) (Level, error) {
	for _, l := range []Level{LevelError, LevelWarning, LevelInfo} {
		if strings.EqualFold(s, string(l)) {
			return l, nil
		}
	}
	return "", fmt.Errorf("%q is not a level: use error, warning or info", s)
}

// Finding is one problem (or fact) about the chain. It is plain data so that
// it prints the same as text, JSON or YAML.
type Finding struct {
	Code  Code  `json:"code"`
	Level Level `json:"level"`
	// Object is "Kind namespace/name" (or "Kind name" for cluster objects).
	Object string `json:"object"`
	// Field is where in Object, e.g. data[tls.crt] or spec.servers[0].tls.mode.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fix says, in one line, what to do about it.
	Fix string `json:"fix,omitempty"`
	// Docs is the code's entry in the reference (DocsLink): why it
	// happens, how to see it, and the fix at more length.
	Docs string `json:"docs,omitempty"`
}

// NewFinding builds a finding whose level is the code's level in the
// catalog, so a code always reports at the same level, and whose Docs link
// is the code's entry in the reference. The rules and the live probe
// (package probe) build every finding with it; code must be a declared
// constant of codes.go.
func NewFinding(code Code, object, field, message, fix string) Finding {
	info, ok := Describe(code)
	if !ok {
		// Rules only use declared constants; the meta-test enforces it.
		panic(fmt.Sprintf("check: finding with undeclared code %s", code))
	}
	return Finding{Code: code, Level: info.Level, Object: object, Field: field, Message: message, Fix: fix, Docs: DocsLink(code)}
}

// ObjectRef names an object as findings do: "Kind namespace/name", or
// "Kind name" for a cluster object (namespace "").
func ObjectRef(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// Sort orders findings by level (errors first), code, object and field, so
// that output is stable from run to run.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Level.severity() != b.Level.severity() {
			return a.Level.severity() > b.Level.severity()
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Field < b.Field
	})
}

// Summary counts the findings of a report per level, and those left out
// of it.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Info     int `json:"info"`
	// Suppressed counts the findings --suppress silenced: they are not
	// listed, not counted above, and do not fail the run.
	Suppressed int `json:"suppressed"`
	// BelowOutputThreshold counts the findings under --output-threshold:
	// not listed and not counted above, but --failure-threshold still
	// judges them.
	BelowOutputThreshold int `json:"belowOutputThreshold"`
}

// Summarize counts fs per level.
func Summarize(fs []Finding) Summary {
	var s Summary
	for _, f := range fs {
		switch f.Level {
		case LevelError:
			s.Errors++
		case LevelWarning:
			s.Warnings++
		case LevelInfo:
			s.Info++
		}
	}
	return s
}

// String reads "2 errors, 1 warning, 0 info", followed by ", 1 suppressed"
// and ", 3 below --output-threshold" when findings were left out, so that
// a short report never looks cleaner than the chain is.
func (s Summary) String() string {
	plural := func(n int, word string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, word)
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	out := fmt.Sprintf("%s, %s, %d info", plural(s.Errors, "error"), plural(s.Warnings, "warning"), s.Info)
	if s.Suppressed > 0 {
		out += fmt.Sprintf(", %d suppressed", s.Suppressed)
	}
	if s.BelowOutputThreshold > 0 {
		out += fmt.Sprintf(", %d below --output-threshold", s.BelowOutputThreshold)
	}
	return out
}

// Reaching counts the findings at threshold or worse.
func Reaching(fs []Finding, threshold Level) int {
	n := 0
	for _, f := range fs {
		if f.Level.AtLeast(threshold) {
			n++
		}
	}
	return n
}
