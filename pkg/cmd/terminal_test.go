package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// rawControlAt returns the offset of the first character in s a terminal
// could act on (C0 but newline and tab, DEL, C1, bidi controls, invalid
// UTF-8), or -1.
func rawControlAt(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return i
		}
		i += size
	}
	return -1
}

// The final error printer escapes what an error carries raw: here an
// unknown flag, which cobra echoes as typed, and a --ca-file whose BEGIN
// line carries escapes and 10 kB of padding (pkg/certs quotes and shortens
// that one itself).
func TestErrorsReachTheTerminalEscaped(t *testing.T) {
	isolate(t)
	evil := "\x1b]0;pwned\x07\u202e\u009b31m"
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	typ := evil + strings.Repeat("A", 10_000)
	if err := os.WriteFile(caFile, []byte("-----BEGIN "+typ+"-----\nMIIB\n-----END "+typ+"-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "--" + evil},
		append([]string{"secrets", "--ca-file", caFile}, chainArgs...),
	} {
		code, out, errOut := run(t, args...)
		if code == 0 {
			t.Errorf("%q succeeded", args)
		}
		for name, s := range map[string]string{"stdout": out, "stderr": errOut} {
			if i := rawControlAt(s); i >= 0 {
				t.Errorf("%q: %s carries a raw control at byte %d: %q", args[0], name, i, s[:min(len(s), 400)])
			}
			if len(s) > 2000 {
				t.Errorf("%q: %s is %d bytes: %q…", args[0], name, len(s), s[:400])
			}
		}
		if !strings.Contains(errOut, `\x1b]0;pwned`) {
			t.Errorf("%q: the error does not show the input escaped: %q", args[0], errOut)
		}
	}
}
