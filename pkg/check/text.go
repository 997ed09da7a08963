package check

import (
	"fmt"
	"strings"
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

// quoteAll quotes each value.
func quoteAll(values []string) []string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}
