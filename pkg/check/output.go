package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// Output formats of check's report.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// Report is check's machine-readable output: a stable structure that
// `-o json` and `-o yaml` print.
type Report struct {
	// Hops are the chain drawn hop by hop, each judged by the findings
	// about it (Hops); left out when not drawn.
	Hops     []Hop     `json:"hops,omitempty"`
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
	// Certificates are the chain's certificates with their days left and
	// who renews them (Certificates); left out when not listed.
	Certificates []CertificateStatus `json:"certificates,omitempty"`
}

// NewReport wraps findings with their summary.
func NewReport(fs []Finding) Report {
	if fs == nil {
		fs = []Finding{}
	}
	return Report{Findings: fs, Summary: Summarize(fs)}
}

// Write prints the report in format: text (the chain hop by hop when it
// was drawn, one finding a line, colour when color is set, then the
// certificates and the summary), json or yaml.
func (r Report) Write(w io.Writer, format string, color bool) error {
	r = r.printable()
	switch format {
	case FormatJSON:
		return writeJSON(w, r)
	case FormatYAML:
		return writeYAML(w, r)
	}
	var b strings.Builder
	writeHops(&b, r.Hops, color)
	for _, f := range r.Findings {
		b.WriteString(textLine(f, color))
		b.WriteByte('\n')
	}
	switch {
	case len(r.Findings) == 0 && r.Summary.Suppressed+r.Summary.BelowOutputThreshold > 0:
		// Something was found and left out on request: "no problems" would be untrue.
		b.WriteString("No problems shown.\n")
	case len(r.Findings) == 0:
		b.WriteString("No problems found.\n")
	default:
		b.WriteString("Each code is explained at " + DocsURL + "\n")
	}
	writeCertificates(&b, r.Certificates)
	b.WriteString(r.Summary.String())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// printable returns the report with control, bidi and other invisible
// characters in its findings escaped, newlines included, since each finding
// is one line of the text report (safetext.CleanLine). Rules quote the
// values they embed; this catches any that reached a message another way,
// such as inside an error from a parser. It applies to every format: the
// text goes to a terminal as it is; encoding/json escapes C0 controls but
// passes C1 controls and bidi overrides through, which a terminal showing
// the JSON acts on; and sigs.k8s.io/yaml refuses C1 controls and DEL
// outright ("control characters are not allowed") and passes bidi
// overrides through.
func (r Report) printable() Report {
	fs := make([]Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Object = safetext.CleanLine(f.Object)
		f.Field = safetext.CleanLine(f.Field)
		f.Message = safetext.CleanLine(f.Message)
		f.Fix = safetext.CleanLine(f.Fix)
		fs[i] = f
	}
	r.Findings = fs
	if r.Hops != nil {
		hops := make([]Hop, len(r.Hops))
		for i, h := range r.Hops {
			facts := make([]HopFact, len(h.Facts))
			for j, f := range h.Facts {
				facts[j] = HopFact{Name: safetext.CleanLine(f.Name), Value: safetext.CleanLine(f.Value)}
			}
			h.Facts = facts
			h.Unjudged = safetext.CleanLine(h.Unjudged)
			hops[i] = h
		}
		r.Hops = hops
	}
	if r.Certificates != nil {
		cs := make([]CertificateStatus, len(r.Certificates))
		for i, c := range r.Certificates {
			c.Object = safetext.CleanLine(c.Object)
			c.Field = safetext.CleanLine(c.Field)
			c.Subject = safetext.CleanLine(c.Subject)
			c.Note = safetext.CleanLine(c.Note)
			cs[i] = c
		}
		r.Certificates = cs
	}
	return r
}

// writeCertificates prints the certificates as a table: what each is, its
// secret, when it expires, the days left and who renews it (with the note).
func writeCertificates(b *strings.Builder, cs []CertificateStatus) {
	if len(cs) == 0 {
		return
	}
	b.WriteString("\nCertificates:\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CERTIFICATE\tSECRET\tEXPIRES\tDAYS LEFT\tRENEWED BY")
	for _, c := range cs {
		title := roleTitles[c.Role]
		if title == "" {
			title = c.Role
		}
		left := strconv.Itoa(c.DaysLeft)
		if c.DaysLeft < 0 {
			left = "expired"
		}
		by := c.RenewedBy
		if c.Note != "" {
			by += " (" + c.Note + ")"
		}
		expires, _, _ := strings.Cut(c.NotAfter, "T")
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", title, noTabs(c.Object), expires, left, noTabs(by))
	}
	_ = tw.Flush()
	b.WriteByte('\n')
}

// noTabs keeps a value from shifting the table's columns.
func noTabs(s string) string { return strings.ReplaceAll(s, "\t", " ") }

// textLine renders "LEVEL CODE Object field: message — fix".
func textLine(f Finding, color bool) string {
	var b strings.Builder
	b.WriteString(levelLabel(f.Level, color))
	b.WriteString(" ")
	b.WriteString(string(f.Code))
	b.WriteString(" ")
	b.WriteString(f.Object)
	if f.Field != "" {
		b.WriteString(" ")
		b.WriteString(f.Field)
	}
	b.WriteString(": ")
	b.WriteString(f.Message)
	if f.Fix != "" {
		b.WriteString(" — ")
		b.WriteString(f.Fix)
	}
	return b.String()
}

// levelLabel is the level, upper-case and padded to one width, in its
// colour on a terminal.
func levelLabel(l Level, color bool) string {
	label := fmt.Sprintf("%-7s", strings.ToUpper(string(l)))
	if !color {
		return label
	}
	code := map[Level]string{LevelError: "31", LevelWarning: "33", LevelInfo: "36"}[l]
	if code == "" {
		return label
	}
	return "\x1b[" + code + "m" + label + "\x1b[0m"
}

// WriteCatalog prints every code with its level and description: a table
// for text, a list for json and yaml.
func WriteCatalog(w io.Writer, format string) error {
	cat := Catalog()
	switch format {
	case FormatJSON:
		return writeJSON(w, cat)
	case FormatYAML:
		return writeYAML(w, cat)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s  %-7s  %s\n", "CODE", "LEVEL", "DESCRIPTION")
	for _, c := range cat {
		fmt.Fprintf(&b, "%-7s  %-7s  %s\n", c.Code, c.Level, c.Description)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

func writeYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// writeHops draws the chain from the client to the app, one block per hop:
// its mark (OK, WARNING or ERROR, in colour on a terminal) and title with
// the codes found there, then what it is made of, and an arrow down to the
// next hop. Plain ASCII, so that it reads the same in a CI log.
func writeHops(b *strings.Builder, hops []Hop, color bool) {
	if len(hops) == 0 {
		return
	}
	width := len("not judged")
	for _, h := range hops {
		for _, f := range h.Facts {
			width = max(width, len(factLabel(f.Name)))
		}
	}
	b.WriteString("Chain, from the client to the app:\n")
	for i, h := range hops {
		if i > 0 {
			b.WriteString("           |\n           v\n")
		}
		title := hopTitles[h.Name]
		if h.title != "" {
			title = h.title
		}
		if title == "" {
			title = string(h.Name)
		}
		b.WriteString("  ")
		b.WriteString(hopMark(h.Status, color))
		b.WriteString("  ")
		b.WriteString(title)
		if len(h.Codes) > 0 {
			codes := make([]string, len(h.Codes))
			for j, c := range h.Codes {
				codes[j] = string(c)
			}
			b.WriteString(": ")
			b.WriteString(strings.Join(codes, ", "))
		}
		switch n := h.BelowOutputThreshold; {
		case n == 1:
			b.WriteString(" (1 finding below --output-threshold)")
		case n > 1:
			fmt.Fprintf(b, " (%d findings below --output-threshold)", n)
		}
		b.WriteByte('\n')
		if h.Unjudged != "" {
			fmt.Fprintf(b, "             %-*s  %s\n", width, "not judged", h.Unjudged)
		}
		for _, f := range h.Facts {
			fmt.Fprintf(b, "             %-*s  %s\n", width, factLabel(f.Name), f.Value)
		}
	}
	b.WriteByte('\n')
}

// factLabel is a fact's name as the text report prints it.
func factLabel(name string) string {
	if l, ok := factLabels[name]; ok {
		return l
	}
	return name
}

// hopMark is a hop's status, upper-case like the findings' levels and
// padded to one width, in its colour on a terminal.
func hopMark(s HopStatus, color bool) string {
	label := fmt.Sprintf("%-7s", strings.ToUpper(string(s)))
	if !color {
		return label
	}
	code := map[HopStatus]string{HopOK: "32", HopWarning: "33", HopError: "31", HopUnknown: "35"}[s]
	if code == "" {
		return label
	}
	return "\x1b[" + code + "m" + label + "\x1b[0m"
}
