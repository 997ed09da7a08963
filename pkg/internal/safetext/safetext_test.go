package safetext

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// rawDanger reports the first character in s that a terminal could act on or
// that reorders text, or -1: what neither function may ever let through.
func rawDanger(s string, allowNewline bool) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return i
		case r < 0x20 && !(allowNewline && (r == '\n' || r == '\t')), r >= 0x7f && r <= 0x9f,
			r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return i
		}
		i += size
	}
	return -1
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "CERTIFICATE", `"CERTIFICATE"`},
		{"empty", "", `""`},
		{"ESC", "a\x1bb", `"a\x1bb"`},
		{"BEL", "a\x07b", `"a\ab"`},
		{"CSI", "\x1b[31mred\x1b[0m", `"\x1b[31mred\x1b[0m"`},
		{"OSC retitle", "\x1b]0;pwned\x07", `"\x1b]0;pwned\a"`},
		{"C1 CSI as UTF-8", "a\u009b31m", `"a\u009b31m"`},
		{"C1 CSI as a raw byte", "a\x9b31m", `"a\x9b31m"`},
		{"right-to-left override", "abc\u202edef", `"abc\u202edef"`},
		{"isolate", "\u2066x\u2069", `"\u2066x\u2069"`},
		{"zero-width space", "a\u200bb", `"a\u200bb"`},
		{"NUL", "a\x00b", `"a\x00b"`},
		{"DEL", "a\x7fb", `"a\x7fb"`},
		{"CR and newline", "a\rb\nc", `"a\rb\nc"`},
		{"quotes and backslashes", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"printable non-ASCII kept", "café — ✓", `"café — ✓"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Quote(tt.in, 100)
			if got != tt.want {
				t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if i := rawDanger(got, false); i >= 0 {
				t.Errorf("Quote(%q) = %q lets a raw control through at byte %d", tt.in, got, i)
			}
			// Short values read back as they were: Quote only escapes.
			if back, err := strconv.Unquote(got); err != nil || back != tt.in {
				t.Errorf("Quote(%q) = %s does not unquote to the value (%q, %v)", tt.in, got, back, err)
			}
		})
	}
}

func TestQuoteTruncates(t *testing.T) {
	long := "\x1b]0;pwned\x07" + strings.Repeat("A", 10_000)
	got := Quote(long, 64)
	if len(got) > 120 {
		t.Errorf("Quote of a 10 kB value with max 64 is %d bytes: %q", len(got), got)
	}
	if !strings.HasPrefix(got, `"\x1b]0;pwned\a`) {
		t.Errorf("the shown part is not the escaped start of the value: %q", got)
	}
	if want := `…(9946 more bytes)`; !strings.HasSuffix(got, `"`+want) {
		t.Errorf("Quote = %q, want it to end with the closing quote and %q", got, want)
	}
	if i := rawDanger(got, false); i >= 0 {
		t.Errorf("%q lets a raw control through at byte %d", got, i)
	}

	if got, want := Quote(strings.Repeat("x", DefaultMax+1), 0), `"`+strings.Repeat("x", DefaultMax)+`"…(1 more bytes)`; got != want {
		t.Errorf("max 0 does not mean DefaultMax: %q", got)
	}
	if got := Quote(strings.Repeat("x", 10), 10); got != `"xxxxxxxxxx"` {
		t.Errorf("a value of exactly max bytes is cut: %q", got)
	}

	// A cut inside a multi-byte character moves back to its start instead
	// of showing half of it as \x escapes.
	if got, want := Quote("ab€", 3), `"ab"…(3 more bytes)`; got != want {
		t.Errorf("Quote(ab€, 3) = %q, want %q", got, want)
	}
	// Invalid UTF-8 has no boundary: the cut stays at max.
	if got, want := Quote("a\x80\x80\x80\x80\x80", 3), `"a\x80\x80"…(3 more bytes)`; got != want {
		t.Errorf("Quote of invalid UTF-8 = %q, want %q", got, want)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"clean text unchanged", "error: PEM block 1 (\"CERTIFICATE\") is malformed — export it again", "error: PEM block 1 (\"CERTIFICATE\") is malformed — export it again"},
		{"newline and tab kept", "line one\n\tline two", "line one\n\tline two"},
		{"backslashes kept", `already escaped: "\x1b"`, `already escaped: "\x1b"`},
		{"ESC", "a\x1bb", `a\x1bb`},
		{"BEL", "a\x07b", `a\ab`},
		{"CSI", "\x1b[2J", `\x1b[2J`},
		{"OSC", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"C1 CSI as UTF-8", "a\u009b31m", `a\u009b31m`},
		{"C1 CSI as a raw byte", "a\x9b31m", `a\x9b31m`},
		{"right-to-left override", "abc\u202edef", `abc\u202edef`},
		{"NUL", "a\x00b", `a\x00b`},
		{"DEL", "a\x7f", `a\x7f`},
		{"CR", "ok\rFAKE", `ok\rFAKE`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"byte order mark", "\ufeffa", `\ufeffa`},
		{"private use", "a\ue000", `a\ue000`},
		{"beyond the BMP", "tag\U000e0041", `tag\U000e0041`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if i := rawDanger(got, true); i >= 0 {
				t.Errorf("Clean(%q) = %q lets a raw control through at byte %d", tt.in, got, i)
			}
			if Clean(got) != got {
				t.Errorf("Clean is not idempotent on %q", tt.in)
			}
		})
	}
	long := strings.Repeat("A", 10_000)
	if Clean(long) != long {
		t.Error("Clean shortened a long clean value; shortening is Quote's job")
	}
}

func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"one line":                   "one line",
		"a\tb":                       "a\tb",
		"ok\nERROR   ALB0101 forged": `ok\nERROR   ALB0101 forged`,
		"\x1b]0;pwned\x07\u202e\r\n": `\x1b]0;pwned\a\u202e\r\n`,
	} {
		got := CleanLine(in)
		if got != want {
			t.Errorf("CleanLine(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "\n") || rawDanger(got, true) >= 0 {
			t.Errorf("CleanLine(%q) = %q lets a newline or control through", in, got)
		}
	}
}

// FuzzQuoteClean: whatever the input, neither function lets a raw control
// through, and Quote stays within max plus its quotes, escapes and marker.
func FuzzQuoteClean(f *testing.F) {
	for _, s := range []string{"", "\x1b]0;x\x07", "\u202e", "\xff\xfe", "a\u009bb", strings.Repeat("é", 300)} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%512 + 1
		if max <= 0 {
			max += 512
		}
		q := Quote(s, max)
		if i := rawDanger(q, false); i >= 0 {
			t.Fatalf("Quote(%q, %d) = %q: raw control at byte %d", s, max, q, i)
		}
		// A shown byte takes at most 4 bytes escaped (\xNN; \UNNNNNNNN for
		// a 4-byte character is 2.5 a byte), plus the quotes and the marker.
		if len(q) > 4*max+40 {
			t.Fatalf("Quote(%q, %d) is %d bytes", s, max, len(q))
		}
		c := Clean(s)
		if i := rawDanger(c, true); i >= 0 {
			t.Fatalf("Clean(%q) = %q: raw control at byte %d", s, c, i)
		}
		if !utf8.ValidString(c) {
			t.Fatalf("Clean(%q) = %q is not valid UTF-8", s, c)
		}
		if l := CleanLine(s); strings.Contains(l, "\n") || rawDanger(l, true) >= 0 {
			t.Fatalf("CleanLine(%q) = %q lets a newline or control through", s, l)
		}
	})
}
