package cmd

import (
	"fmt"
	"io"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// say prints one progress or warning line on w. Such lines carry what the
// cluster said (managers' names from managedFields, an API error's text, a
// note about a certificate's subject): each goes through safetext, so no
// value read from the cluster reaches the terminal as escape sequences.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintln(w, safetext.Clean(fmt.Sprintf(format, args...)))
}
