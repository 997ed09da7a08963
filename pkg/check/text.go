package check

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// joinQuoted renders values as "a", "b" and "c" for messages.
func joinQuoted(values []string) string {
	q := quoteAll(values)
	switch len(q) {
	case 0:
		return "nothing"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// quoteAll quotes each value, as quote does.
func quoteAll(values []string) []string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return q
}

// clip is a value from the cluster as a field of its own shows it (no
// quotes: Report.printable escapes what a terminal would act on), cut to
// safetext.DefaultMax bytes at a character boundary and marked as cut.
func clip(v string) string {
	if len(v) <= safetext.DefaultMax {
		return v
	}
	cut := 0
	for cut < len(v) {
		_, size := utf8.DecodeRuneInString(v[cut:])
		if cut+size > safetext.DefaultMax {
			break
		}
		cut += size
	}
	return v[:cut] + fmt.Sprintf("…(%d more bytes)", len(v)-cut)
}

// quote is how a finding shows a value read from the cluster (annotation
// values, hosts, selectors, secret contents): quoted with control and bidi
// characters escaped, and shortened, since whoever can write the object can
// put terminal escapes or pages of text in it. For ordinary values it is %q.
func quote(v string) string { return safetext.Quote(v, safetext.DefaultMax) }
