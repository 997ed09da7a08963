package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// evilPEMType is a PEM type a crafted Secret can carry: an OSC sequence that
// retitles the terminal (ESC … BEL), a right-to-left override that reorders
// what follows on screen, a C1 CSI (U+009B) that starts a colour change on
// terminals reading C1 controls from UTF-8, and 10 kB of padding that would
// flood the operator's screen.
var evilPEMType = "\x1b]0;pwned\x07\u202e\u009b31m" + strings.Repeat("A", 10_000) + " CERTIFICATE"

// evilPEM is a PEM block of type evilPEMType; complete false leaves out the
// END line, so the type reaches the message about a damaged block instead of
// the one about a missing CERTIFICATE block.
func evilPEM(complete bool) []byte {
	s := "-----BEGIN " + evilPEMType + "-----\nMIIB\n"
	if complete {
		s += "-----END " + evilPEMType + "-----\n"
	}
	return []byte(s)
}

// maxPrintedLine bounds one line of output: long enough for any honest
// finding, far shorter than the padding in evilPEMType.
const maxPrintedLine = 2000

// expectPrintable fails unless what r printed is safe to show on a terminal:
// valid UTF-8 with no C0 control but newline and tab, no DEL, no C1 control,
// no bidi control, and no line longer than maxPrintedLine.
func expectPrintable(t *testing.T, r result) {
	t.Helper()
	for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if !utf8.ValidString(out) {
			t.Errorf("%s is not valid UTF-8:\n%s", name, r)
		}
		for i, c := range out {
			bad := c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f && c <= 0x9f ||
				c == 0x061c || c == 0x200e || c == 0x200f || c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069
			if bad {
				t.Errorf("%s carries the raw character %U at byte %d:\n%q", name, c, i, excerpt(out, i))
				break
			}
		}
		for n, line := range strings.Split(out, "\n") {
			if len(line) > maxPrintedLine {
				t.Errorf("%s line %d is %d bytes long (limit %d): %q…", name, n+1, len(line), maxPrintedLine, line[:200])
			}
		}
	}
}

// clip shortens a run's output for failure messages, which are printed
// quoted so that the test log itself stays free of escapes.
func clip(s string) string { return s[:min(len(s), 4000)] }

// excerpt is up to 100 bytes of s either side of i, for failure messages
// that should not themselves flood the test log.
func excerpt(s string, i int) string {
	return s[max(i-100, 0):min(i+100, len(s))]
}

// A Secret whose PEM BEGIN line carries terminal escapes and a 10 kB type:
// check (text, JSON and YAML) and secrets name the bad block without
// sending a raw escape, bidi control or over-long line to the terminal, and
// still show the type, escaped and shortened.
func TestTerminalInjectionFromSecrets(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	for _, complete := range []bool{true, false} {
		t.Run(fmt.Sprintf("END line %v", complete), func(t *testing.T) {
			bad := evilPEM(complete)
			mergePatch(t, "secrets", w.p.ALBSecretNamespace, w.p.ALBSecretName, map[string]any{"data": map[string][]byte{"tls.crt": bad}})
			mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": bad}})

			checkArgs := append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)
			text := albistio(t, checkArgs...)
			if text.code != 8 {
				t.Errorf("check: want exit 8 for the unreadable secrets:\n%q", clip(text.String()))
			}
			expectPrintable(t, text)
			// The operator still sees what the BEGIN line said, escaped.
			if !strings.Contains(text.stdout, `\x1b]0;pwned`) || !strings.Contains(text.stdout, "more bytes)") {
				t.Errorf("check's text report does not show the type escaped and shortened:\n%q", clip(text.String()))
			}

			for _, format := range []string{"json", "yaml"} {
				r := albistio(t, append(slices.Clone(checkArgs), "-o", format)...)
				if r.code != 8 {
					t.Errorf("check -o %s: want exit 8 with a report:\n%q", format, clip(r.String()))
				}
				expectPrintable(t, r)
			}

			sec := w.slice(t, "secrets", "--alb-flavor", "nginx") // other tests add a Traefik class cluster-wide
			if sec.code == 0 {
				t.Errorf("secrets succeeded on an unreadable ALB secret:\n%q", clip(sec.String()))
			}
			expectPrintable(t, sec)
			if !strings.Contains(sec.stderr, `\x1b]0;pwned`) {
				t.Errorf("secrets' error does not show the type escaped:\n%q", clip(sec.String()))
			}
		})
	}
}
