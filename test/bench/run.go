package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Env is the environment commands run in: kubectl finds the plugin on PATH
// (PluginDir first), reads Kubeconfig, and keeps its disk cache under Home.
type Env struct {
	PluginDir  string
	Kubeconfig string
	Home       string
}

// Result is one finished command.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

// Requests parses the -v=6 request log on stderr.
func (r Result) Requests() Requests { return ParseRequests(r.Stderr) }

func (r Result) String() string {
	return fmt.Sprintf("%s → exit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Took, clip(r.Stdout), clip(r.Stderr))
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n…\n" + s[len(s)-2000:]
	}
	return s
}

// Run runs name args… (name is "kubectl" or a path) and times it from fork
// to exit. A command that cannot start is an error; a non-zero exit is not.
func (e Env) Run(ctx context.Context, name string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{
		"PATH=" + e.PluginDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + e.Home,
		"KUBECONFIG=" + e.Kubeconfig,
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: append([]string{name}, args...), Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		return r, err
	}
	return r, nil
}

// Pair is the outcome of a paired, interleaved timing of two commands.
type Pair struct {
	N      int
	A, B   []time.Duration
	Ratios []float64 // A[i]/B[i]
}

// MedianA is the median time of the first command.
func (p Pair) MedianA() time.Duration { return medianDur(p.A) }

// MedianB is the median time of the second command.
func (p Pair) MedianB() time.Duration { return medianDur(p.B) }

// Ratio is the median of the per-pair ratios A[i]/B[i]: each pair ran
// back to back, so load that comes and goes on the machine hits both.
func (p Pair) Ratio() float64 {
	r := append([]float64(nil), p.Ratios...)
	sort.Float64s(r)
	if len(r) == 0 {
		return 0
	}
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// Paired runs a and b n times each, back to back, alternating which goes
// first, after one discarded warm-up run of each. a and b return the time
// of one run, or an error that stops the measurement.
func Paired(n int, a, b func() (time.Duration, error)) (Pair, error) {
	rounds, err := Rounds(n, a, b)
	p := Pair{N: len(rounds)}
	for _, r := range rounds {
		p.A = append(p.A, r[0])
		p.B = append(p.B, r[1])
		p.Ratios = append(p.Ratios, float64(r[0])/float64(r[1]))
	}
	return p, err
}

// Rounds runs every fn once per round, n rounds, rotating which goes first,
// after one discarded warm-up round; it returns the times by round.
func Rounds(n int, fns ...func() (time.Duration, error)) ([][]time.Duration, error) {
	for _, f := range fns {
		if _, err := f(); err != nil {
			return nil, err
		}
	}
	var out [][]time.Duration
	for i := 0; i < n; i++ {
		round := make([]time.Duration, len(fns))
		for k := range fns {
			j := (i + k) % len(fns)
			d, err := fns[j]()
			if err != nil {
				return out, err
			}
			round[j] = d
		}
		out = append(out, round)
	}
	return out, nil
}

// Column is one command's times out of Rounds, and PairOf two columns.
func Column(rounds [][]time.Duration, i int) []time.Duration {
	out := make([]time.Duration, len(rounds))
	for r := range rounds {
		out[r] = rounds[r][i]
	}
	return out
}

// PairOf makes a Pair of columns a and b of Rounds' result.
func PairOf(rounds [][]time.Duration, a, b int) Pair {
	p := Pair{N: len(rounds), A: Column(rounds, a), B: Column(rounds, b)}
	for i := range p.A {
		p.Ratios = append(p.Ratios, float64(p.A[i])/float64(p.B[i]))
	}
	return p
}

func medianDur(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
