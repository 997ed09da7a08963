package cmd

import (
	"errors"
	"fmt"
	"io"

	"github.com/albistio/kubectl-albistio/pkg/apply"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// say prints one progress or warning line on w. Such lines carry what the
// cluster said (managers' names from managedFields, an API error's text, a
// note about a certificate's subject): each goes through safetext, so no
// value read from the cluster reaches the terminal as escape sequences.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintln(w, safetext.Clean(fmt.Sprintf(format, args...)))
}

// maxPlans bounds how often a command plans again after a concurrent run
// changed an object it was about to write (the private CA, the hop's
// Gateway): each round re-reads everything, so it converges on what the
// other run wrote.
const maxPlans = 5

// untilNoRace runs round, which reads, plans and writes once, again while it
// loses a race to a concurrent run (an *apply.RaceError), at most maxPlans
// times, saying each time why it starts over.
func untilNoRace(w io.Writer, again string, round func() error) error {
	for attempt := 1; ; attempt++ {
		err := round()
		var race *apply.RaceError
		if !errors.As(err, &race) || attempt == maxPlans {
			return err
		}
		say(w, "%v: %s", race, again)
	}
}
