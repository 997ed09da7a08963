package check

import (
	"strings"

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

// quote is how a finding shows a value read from the cluster (annotation
// values, hosts, selectors, secret contents): quoted with control and bidi
// characters escaped, and shortened, since whoever can write the object can
// put terminal escapes or pages of text in it. For ordinary values it is %q.
func quote(v string) string { return safetext.Quote(v, safetext.DefaultMax) }
