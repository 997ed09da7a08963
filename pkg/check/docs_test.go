package check

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// TestEveryCodeDocumented: every code of the catalog has a reference entry
// with a cause, a command that shows it and a fix, and no entry outlives
// its code.
func TestEveryCodeDocumented(t *testing.T) {
	for _, c := range Catalog() {
		d, ok := describeDocs(c.Code)
		if !ok {
			t.Errorf("%s has no entry in codeDocs (pkg/check/docs.go): add its cause, how to see it and its fix", c.Code)
			continue
		}
		for what, text := range map[string]string{"cause": d.Cause, "fix": d.Fix} {
			if len(text) < 12 || !strings.HasSuffix(text, ".") {
				t.Errorf("%s: the %s %q must be a sentence", c.Code, what, text)
			}
		}
		if !strings.Contains(d.See, "kubectl ") {
			t.Errorf("%s: see %q is not a kubectl command", c.Code, d.See)
		}
		if _, ok := areaTitles[string(c.Code)[3:5]]; !ok {
			t.Errorf("%s: its area has no title in areaTitles", c.Code)
		}
	}
	for code := range codeDocs {
		if _, ok := Describe(code); !ok {
			t.Errorf("codeDocs documents %s, which the catalog lacks", code)
		}
	}
}

// TestChecksReference: docs/checks.md is what the catalog and codeDocs
// generate. It fails when either changed without regenerating:
// go test ./pkg/check -run TestChecksReference -update.
func TestChecksReference(t *testing.T) {
	golden.Compare(t, filepath.Join("..", "..", "docs", "checks.md"), referenceMarkdown())
}

// TestFindingsLinkToTheirEntry: each finding, and each --list-checks entry
// in json and yaml, links to a heading the reference has.
func TestFindingsLinkToTheirEntry(t *testing.T) {
	md := string(referenceMarkdown())
	for _, c := range Catalog() {
		f := NewFinding(c.Code, "Secret a/b", "", "m", "f")
		anchor, ok := strings.CutPrefix(f.Docs, DocsURL+"#")
		if !ok || anchor != strings.ToLower(string(c.Code)) {
			t.Errorf("%s links to %q, want %s#%s", c.Code, f.Docs, DocsURL, strings.ToLower(string(c.Code)))
		}
		// GitHub's anchor of "### ALB0101" is "alb0101".
		if !strings.Contains(md, "\n### "+string(c.Code)+"\n") {
			t.Errorf("the reference has no heading for %s", c.Code)
		}
	}
	var buf bytes.Buffer
	if err := WriteCatalogDocs(&buf, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Code  Code   `json:"code"`
		Level Level  `json:"level"`
		Docs  string `json:"docs"`
		Desc  string `json:"description"`
	}
	if err := json.Unmarshal(buf.Bytes(), &entries); err != nil || len(entries) != len(Catalog()) {
		t.Fatalf("--list-checks -o json: %v, %d entries:\n%s", err, len(entries), buf.String())
	}
	for i, e := range entries {
		c := Catalog()[i]
		if e.Code != c.Code || e.Level != c.Level || e.Desc != c.Description || e.Docs != DocsLink(c.Code) {
			t.Errorf("entry %d is %+v, want %s %s with its link", i, e, c.Code, c.Level)
		}
	}
	buf.Reset()
	if err := WriteCatalogDocs(&buf, FormatYAML); err != nil || !strings.Contains(buf.String(), "docs: "+DocsLink(ALBSecretMissing)+"\n") {
		t.Errorf("--list-checks -o yaml lacks the links (%v):\n%.400s", err, buf.String())
	}
	var text, table bytes.Buffer
	_ = WriteCatalogDocs(&text, FormatText)
	_ = WriteCatalog(&table, FormatText)
	if text.String() != table.String() {
		t.Error("--list-checks text must stay the catalog table")
	}
}

// TestReferenceMarkdownEscapes: placeholders in prose do not vanish as
// HTML tags, and table cells do not split on "|".
func TestReferenceMarkdownEscapes(t *testing.T) {
	if got := prose("the `<gateway-secret>-cacert` of <gateway-secret>"); got != "the `<gateway-secret>-cacert` of &lt;gateway-secret&gt;" {
		t.Errorf("prose: %q", got)
	}
	if got := tableCell("a | b"); got != `a \| b` {
		t.Errorf("tableCell: %q", got)
	}
}
