package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// Tally counts targets by outcome.
type Tally struct {
	Clean       int `json:"clean"`
	Findings    int `json:"findings"`
	Invalid     int `json:"invalid"`
	Forbidden   int `json:"forbidden"`
	Unreachable int `json:"unreachable"`
	Error       int `json:"error"`
}

func (t *Tally) add(o Outcome) {
	switch o {
	case OutcomeClean:
		t.Clean++
	case OutcomeFindings:
		t.Findings++
	case OutcomeInvalid:
		t.Invalid++
	case OutcomeForbidden:
		t.Forbidden++
	case OutcomeUnreachable:
		t.Unreachable++
	default:
		t.Error++
	}
}

// String reads "2 clean, 1 with findings, 1 unreachable", leaving out the
// outcomes nobody had.
func (t Tally) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{
		{t.Clean, "clean"}, {t.Findings, "with findings"}, {t.Invalid, "not checkable"},
		{t.Forbidden, "forbidden"}, {t.Unreachable, "unreachable"}, {t.Error, "failed"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Tally counts the chains by outcome.
func (c *ClusterResult) Tally() Tally {
	var t Tally
	for _, ch := range c.Chains {
		t.add(ch.Outcome)
	}
	return t
}

// Summary is the cluster's one-line summary: "2 chains: 1 clean, 1 with findings".
func (c *ClusterResult) Summary() string {
	if len(c.Chains) == 0 {
		return "no chains found"
	}
	n := c.chainCount()
	s := plural(n, "chain")
	if n < len(c.Chains) {
		// A chain on two ALBs is one chain, checked on each ALB's side.
		s += fmt.Sprintf(", %d on two ALBs (%s)", len(c.Chains)-n, plural(len(c.Chains), "check"))
	}
	return s + ": " + c.Tally().String()
}

// chainCount is how many chains the results are of: a chain on two ALBs
// has a result per ALB side.
func (c *ClusterResult) chainCount() int {
	n := 0
	sides := map[string]bool{}
	for _, ch := range c.Chains {
		if ch.ALB == "" {
			n++
		} else if !sides[ch.Chain] {
			sides[ch.Chain] = true
			n++
		}
	}
	return n
}

// label is how a chain result is named in the text: its chain, and the ALB
// when the result is one side of a chain on two ALBs.
func (ch *ChainResult) label() string {
	if ch.ALB == "" {
		return safetext.CleanLine(ch.Chain)
	}
	return safetext.CleanLine(ch.Chain) + " (" + string(ch.ALB) + " ALB)"
}

// detailMax bounds an error in a summary line (the section below it
// repeats it in full), so that the table stays one screen wide.
const detailMax = 100

// detail is what the summary line says after the outcome: the finding
// counts of a report, or the start of the error.
func detail(report *check.Report, errMsg string) string {
	if errMsg != "" {
		msg := safetext.CleanLine(errMsg)
		if r := []rune(msg); len(r) > detailMax {
			msg = string(r[:detailMax-1]) + "…"
		}
		return msg
	}
	if report != nil {
		return report.Summary.String()
	}
	return ""
}

// WriteCluster prints -A's result: one line per chain, then each chain's
// report, then the totals; or the same as JSON or YAML.
func WriteCluster(w io.Writer, c *ClusterResult, format string, color bool) error {
	switch format {
	case check.FormatJSON, check.FormatYAML:
		doc, err := clusterDoc(c)
		if err != nil {
			return err
		}
		return writeDoc(w, doc, format)
	}
	var b bytes.Buffer
	if err := writeClusterText(&b, c, color, ""); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeClusterText(b *bytes.Buffer, c *ClusterResult, color bool, indent string) error {
	if len(c.Chains) == 0 {
		fmt.Fprintf(b, "%sNo chains found: no Ingress carries the plugin's %s labels, and none in an Istio ingress gateway's namespace sends its host to the gateway over mutual TLS.\n", indent, "albistio.io/chain")
		return nil
	}
	tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%sCHAIN\tSHAPE\tINGRESS\tRESULT\tDETAIL\n", indent)
	for _, ch := range c.Chains {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", indent, ch.label(), ch.Shape, safetext.CleanLine(ch.Ingress), ch.Outcome, detail(ch.Report, ch.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ch := range c.Chains {
		fmt.Fprintf(b, "\n%schain %s (%s; Ingress %s; host %s):\n", indent, ch.label(), ch.Shape, safetext.CleanLine(ch.Ingress), safetext.CleanLine(ch.Host))
		for _, n := range ch.Notes {
			fmt.Fprintf(b, "%snote: %s\n", indent, safetext.CleanLine(n))
		}
		if ch.Report != nil {
			var rb bytes.Buffer
			if err := ch.Report.Write(&rb, check.FormatText, color); err != nil {
				return err
			}
			writeIndented(b, rb.String(), indent)
		}
		if ch.Error != "" {
			fmt.Fprintf(b, "%serror: %s\n", indent, safetext.CleanLine(ch.Error))
		}
	}
	fmt.Fprintf(b, "\n%s%s (%s)\n", indent, c.Summary(), plural(c.Requests, "API request"))
	return nil
}

func writeIndented(b *bytes.Buffer, text, indent string) {
	if indent == "" {
		b.WriteString(text)
		return
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		if line != "" {
			b.WriteString(indent + line)
		}
	}
}

// ContextsTally counts the contexts by outcome.
func ContextsTally(rs []ContextResult) Tally {
	var t Tally
	for _, r := range rs {
		t.add(r.Outcome)
	}
	return t
}

// ContextsExitCode is the worst outcome of the contexts.
func ContextsExitCode(rs []ContextResult) int {
	codes := make([]int, len(rs))
	for i, r := range rs {
		codes[i] = r.ExitCode
	}
	return Worst(codes...)
}

// WriteContexts prints --contexts' result: one line per context, then each
// context's report (or, with -A, its chains), then the totals; or the same
// as JSON or YAML.
func WriteContexts(w io.Writer, rs []ContextResult, format string, color bool) error {
	switch format {
	case check.FormatJSON, check.FormatYAML:
		doc, err := contextsDoc(rs)
		if err != nil {
			return err
		}
		return writeDoc(w, doc, format)
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "CONTEXT\tRESULT\tDETAIL\n")
	for _, r := range rs {
		d := detail(r.Report, r.Error)
		if r.Cluster != nil {
			d = r.Cluster.Summary()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", safetext.CleanLine(r.Context), r.Outcome, d)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n=== context %s ===\n", safetext.CleanLine(r.Context))
		switch {
		case r.Cluster != nil:
			if err := writeClusterText(&b, r.Cluster, color, ""); err != nil {
				return err
			}
		case r.Report != nil:
			if err := r.Report.Write(&b, check.FormatText, color); err != nil {
				return err
			}
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "error: %s\n", safetext.CleanLine(r.Error))
		}
	}
	fmt.Fprintf(&b, "\n%s: %s\n", plural(len(rs), "context"), ContextsTally(rs))
	_, err := w.Write(b.Bytes())
	return err
}

// The JSON and YAML documents. Reports are embedded as check prints them
// (check.Report.Write escapes what a terminal could act on); the fleet's own
// strings are escaped the same way.

type chainDoc struct {
	ChainResult
	Report json.RawMessage `json:"report,omitempty"`
}

type clusterSummaryDoc struct {
	// Chains counts a chain on two ALBs once; Checks, when some chain is on
	// two, counts the results (one per ALB side).
	Chains int `json:"chains"`
	Checks int `json:"checks,omitempty"`
	Tally
	Requests int `json:"requests"`
}

type clusterDocT struct {
	Chains  []chainDoc        `json:"chains"`
	Summary clusterSummaryDoc `json:"summary"`
}

type contextDoc struct {
	Context  string          `json:"context"`
	Outcome  Outcome         `json:"outcome"`
	ExitCode int             `json:"exitCode"`
	Error    string          `json:"error,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
	// Chains and ChainsSummary are -A's, in each context.
	Chains        []chainDoc         `json:"chains,omitempty"`
	ChainsSummary *clusterSummaryDoc `json:"chainsSummary,omitempty"`
}

type contextsSummaryDoc struct {
	Contexts int `json:"contexts"`
	Tally
}

type contextsDocT struct {
	Contexts []contextDoc       `json:"contexts"`
	Summary  contextsSummaryDoc `json:"summary"`
}

func reportJSON(r *check.Report) (json.RawMessage, error) {
	if r == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if err := r.Write(&b, check.FormatJSON, false); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSpace(b.Bytes())), nil
}

func chainDocs(c *ClusterResult) ([]chainDoc, *clusterSummaryDoc, error) {
	docs := make([]chainDoc, 0, len(c.Chains))
	for _, ch := range c.Chains {
		raw, err := reportJSON(ch.Report)
		if err != nil {
			return nil, nil, err
		}
		ch.Chain = safetext.CleanLine(ch.Chain)
		ch.Ingress = safetext.CleanLine(ch.Ingress)
		ch.Host = safetext.CleanLine(ch.Host)
		ch.Error = safetext.CleanLine(ch.Error)
		notes := make([]string, len(ch.Notes))
		for i, n := range ch.Notes {
			notes[i] = safetext.CleanLine(n)
		}
		ch.Notes = notes
		params := map[string]string{}
		for k, v := range ch.Params {
			params[k] = safetext.CleanLine(v)
		}
		ch.Params = params
		docs = append(docs, chainDoc{ChainResult: ch, Report: raw})
	}
	sum := &clusterSummaryDoc{Chains: c.chainCount(), Tally: c.Tally(), Requests: c.Requests}
	if sum.Chains < len(c.Chains) {
		sum.Checks = len(c.Chains)
	}
	return docs, sum, nil
}

func clusterDoc(c *ClusterResult) (any, error) {
	docs, sum, err := chainDocs(c)
	if err != nil {
		return nil, err
	}
	return clusterDocT{Chains: docs, Summary: *sum}, nil
}

func contextsDoc(rs []ContextResult) (any, error) {
	doc := contextsDocT{Contexts: make([]contextDoc, 0, len(rs)), Summary: contextsSummaryDoc{Contexts: len(rs), Tally: ContextsTally(rs)}}
	for _, r := range rs {
		raw, err := reportJSON(r.Report)
		if err != nil {
			return nil, err
		}
		cd := contextDoc{Context: safetext.CleanLine(r.Context), Outcome: r.Outcome, ExitCode: r.ExitCode, Error: safetext.CleanLine(r.Error), Report: raw}
		if r.Cluster != nil {
			if cd.Chains, cd.ChainsSummary, err = chainDocs(r.Cluster); err != nil {
				return nil, err
			}
			if cd.Chains == nil {
				cd.Chains = []chainDoc{}
			}
		}
		doc.Contexts = append(doc.Contexts, cd)
	}
	return doc, nil
}

// writeDoc prints doc as indented JSON, or as YAML converted from that JSON
// (so the embedded reports read the same in both).
func writeDoc(w io.Writer, doc any, format string) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if format == check.FormatYAML {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
