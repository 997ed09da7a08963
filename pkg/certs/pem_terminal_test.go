package certs

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// A PEM BEGIN line comes from a file or a Secret, so its type can carry
// terminal escapes and be arbitrarily long; errors that name it must quote
// and shorten it.
func TestPEMErrorsQuoteTheType(t *testing.T) {
	evil := "\x1b]0;pwned\x07\u202e\u009b31m" + strings.Repeat("A", 10_000) + " CERTIFICATE"
	block := "-----BEGIN " + evil + "-----\nMIIB\n-----END " + evil + "-----\n"
	var many strings.Builder
	for i := range 50 {
		fmt.Fprintf(&many, "-----BEGIN \x1b[%dm TYPE %d-----\nMIIB\n-----END \x1b[%dm TYPE %d-----\n", i, i, i, i)
	}
	tests := []struct {
		name  string
		parse func([]byte) error
		in    string
		want  []string
	}{
		{"certificate: well-formed block of another type", parseCerts, block, []string{"no CERTIFICATE block found", `"\x1b]0;pwned\a\u202e\u009b31mAAA`, "more bytes)"}},
		{"key: well-formed block of another type", parseKey, block, []string{"no private key found", `"\x1b]0;pwned\a`, "more bytes)"}},
		{"certificate: block without END line", parseCerts, "-----BEGIN " + evil + "-----\nMIIB\n", []string{"PEM block 1", "malformed", `"\x1b]0;pwned\a`, "more bytes)"}},
		{"key: damaged block before a good one", parseKey, "-----BEGIN " + evil + "-----\nMIIB\n" + block, []string{"PEM block 1", "malformed", `"\x1b]0;pwned\a`}},
		{"many distinct types", parseCerts, many.String(), []string{`"\x1b[0m TYPE 0"`, "and 45 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for i, r := range msg {
				if r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u202e' || r == utf8.RuneError {
					t.Fatalf("the error carries the raw character %U at byte %d: %q", r, i, msg[:min(len(msg), 300)])
				}
			}
			if len(msg) > 1000 {
				t.Errorf("the error is %d bytes long: %q…", len(msg), msg[:300])
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func parseCerts(b []byte) error { _, err := ParseCertificates(b); return err }

func parseKey(b []byte) error { _, err := ParsePrivateKey(b); return err }
