// Package safetext makes values read from the cluster or from a file safe to
// print on a terminal. A Secret, an annotation or a PEM file can carry
// anything, including escape sequences that retitle, recolour or rewrite the
// operator's terminal, bidi controls that reorder what the operator reads,
// and values long enough to flood the screen; the plugin echoes such values
// in errors and check's findings.
package safetext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMax is the number of bytes of a value Quote shows by default: more
// than any host name (253), Kubernetes object reference or PEM type needs,
// few enough that a crafted value cannot push the message off the screen.
const DefaultMax = 256

// Quote returns s as a double-quoted Go string literal (as %q prints it):
// control characters, bidi and other invisible format characters, and
// invalid UTF-8 appear as escapes. When s is longer than max bytes, only its
// first max bytes (cut at a character boundary) are quoted, followed by
// "…(N more bytes)"; max <= 0 means DefaultMax. The marker stays outside the
// quotes so that it cannot be mistaken for part of the value.
func Quote(s string, max int) string {
	if max <= 0 {
		max = DefaultMax
	}
	if len(s) <= max {
		return strconv.Quote(s)
	}
	// Cut after the last whole character that fits, so a multi-byte
	// character is not shown as the \x escapes of its first bytes; an
	// invalid byte counts as a character of its own.
	cut := 0
	for cut < len(s) {
		_, size := utf8.DecodeRuneInString(s[cut:])
		if cut+size > max {
			break
		}
		cut += size
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("…(%d more bytes)", len(s)-cut)
}

// Clean escapes, in a whole message, every character a terminal could act on
// or that hides or reorders text: C0 controls but newline and tab, DEL, C1
// controls, bidi and other format characters, line and paragraph
// separators, private-use and unassigned code points, and invalid UTF-8.
// Everything else, quotes and backslashes included, is left alone, so a
// message whose values went through Quote prints unchanged. It is the last
// line of defence before text reaches a terminal, for values that reached a
// message without Quote; unlike Quote it does not shorten anything.
func Clean(s string) string { return clean(s, true) }

// CleanLine is Clean for text that must stay on one line, such as one of
// check's findings: it escapes newlines too, so that a value cannot start a
// line that looks like a finding of its own.
func CleanLine(s string) string { return clean(s, false) }

func clean(s string, newlines bool) string {
	if !needsCleaning(s, newlines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !safe(r, newlines):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe reports whether r may reach a terminal as it is: a graphic character
// (letters, marks, numbers, punctuation, symbols, spaces), a tab, or a
// newline where newlines are allowed.
func safe(r rune, newlines bool) bool {
	return r == '\t' || (newlines && r == '\n') || unicode.IsGraphic(r)
}

// needsCleaning reports whether clean would change s, so clean messages,
// nearly all of them, are returned without copying.
func needsCleaning(s string, newlines bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !safe(r, newlines) {
			return true
		}
		i += size
	}
	return false
}

// escapeRune spells r as %q would inside a literal (\a, \x1b, \u202e), so a
// character looks the same whether Quote or Clean escaped it.
func escapeRune(r rune) string {
	q := strconv.QuoteRune(r)
	return q[1 : len(q)-1]
}
