package check

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The test grid: each testdata/grid/*.yaml is a case. Its first document
// says what the case is about, shapes the world (a cluster after the plugin
// set the chain up, rendered by pkg/render from pkg/identity's decision with
// certificates generated in the test) and lists the findings check must
// report, exactly: code, object and field of each (go test -update-grid
// rewrites the lists; review the diff). The following documents change the world: patch (an RFC 7386
// merge patch), delete, or apply (add or replace a whole object). Fixtures
// place generated certificates with {{b64 "alb.chain"}} (see testPKI).

type gridCase struct {
	Description string       `json:"description"`
	World       worldOptions `json:"world"`
	// Expect lists the findings, one "CODE Kind namespace/name [field]" each,
	// compared as a multiset: a finding that names the wrong object or field
	// fails the case as surely as a wrong code.
	Expect []string `json:"expect"`
}

// updateGrid rewrites each fixture's expect list from what check finds:
// for a rule change that intends to move findings; review the diff.
var updateGrid = flag.Bool("update-grid", false, "rewrite the grid fixtures' expect lists from check's findings")

// expectation renders a finding as a fixture's expect entry.
func expectation(f Finding) string {
	e := string(f.Code) + " " + f.Object
	if f.Field != "" {
		e += " " + f.Field
	}
	return e
}

// codeOf is an expect entry's code.
func codeOf(entry string) Code {
	code, _, _ := strings.Cut(entry, " ")
	return Code(code)
}

type gridOp struct {
	Op     string         `json:"op"`
	Target string         `json:"target"`
	Patch  map[string]any `json:"patch"`
	Object map[string]any `json:"object"`
}

func gridFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "grid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no grid fixtures found: %v", err)
	}
	return files
}

// loadCase reads a fixture: the case header and the operations.
func loadCase(t *testing.T, path string) (gridCase, []gridOp) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(testPKI(t).funcs()).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		t.Fatal(err)
	}
	docs := splitDocuments(buf.String())
	if len(docs) == 0 {
		t.Fatalf("%s: empty fixture", path)
	}
	var c gridCase
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &c); err != nil {
		t.Fatalf("%s: case header: %v", path, err)
	}
	if c.Description == "" {
		t.Errorf("%s: the case has no description", path)
	}
	var ops []gridOp
	for i, d := range docs[1:] {
		var op gridOp
		if err := yaml.UnmarshalStrict([]byte(d), &op); err != nil {
			t.Fatalf("%s: document %d: %v", path, i+2, err)
		}
		ops = append(ops, op)
	}
	return c, ops
}

// splitDocuments splits a YAML stream on "---" lines, dropping empty documents.
func splitDocuments(s string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d string) string {
	var keep []string
	for _, l := range strings.Split(d, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// apply changes the world as the fixture says.
func (w *world) apply(t *testing.T, ops []gridOp) {
	t.Helper()
	for _, op := range ops {
		i, u := w.find(op.Target)
		switch op.Op {
		case "patch":
			if u == nil {
				t.Fatalf("patch: no object %q in the world", op.Target)
			}
			u.Object = mergePatch(u.Object, roundTrip(t, op.Patch))
		case "delete":
			if u == nil {
				t.Fatalf("delete: no object %q in the world", op.Target)
			}
			w.objects = slices.Delete(w.objects, i, i+1)
		case "apply":
			obj := &unstructured.Unstructured{Object: roundTrip(t, op.Object)}
			if j, _ := w.find(key(obj)); j >= 0 {
				w.objects[j] = obj
			} else {
				w.objects = append(w.objects, obj)
			}
		default:
			t.Fatalf("unknown op %q (use patch, delete or apply)", op.Op)
		}
	}
}

// check reads the world through the fake API and runs every rule, holding
// each rule to the codes it declares and every finding to the output
// contract.
func (w *world) check(t *testing.T) ([]Finding, *fakeAPI) {
	t.Helper()
	api := newFakeAPI(t, w)
	p := *w.params
	snap, err := Read(context.Background(), api, &p)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	in := &Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots}
	var fs []Finding
	for _, r := range Rules() {
		for _, f := range r.Check(in) {
			if !slices.Contains(r.Codes, f.Code) {
				t.Errorf("rule %s emitted %s, which it does not declare", r.Name, f.Code)
			}
			if f.Object == "" || f.Message == "" || (f.Fix == "" && f.Level != LevelInfo) {
				t.Errorf("finding %s lacks an object, a message or a fix: %+v", f.Code, f)
			}
			fs = append(fs, f)
		}
	}
	Sort(fs)
	limit := MaxRequests
	if snap.CertManager {
		// ... and the three secrets cert-manager writes, each read by
		// name when missing from the LIST.
		limit += CertManagerRequests + 3
	}
	if g := snap.GatewayAPI; g != nil {
		// ... and the Gateway API's objects, a LIST of ReferenceGrants per
		// namespace a reference crosses into, a Secret CA's -cacert.
		limit += GatewayAPIRequests + len(g.ReferenceGrants)
		if g.ClientCASecret != nil || g.ClientCASecretCACert != nil {
			limit++
		}
	}
	if tc := snap.TraefikCompat; tc != nil {
		// ... and IKS's Traefik compatibility layer: its ConfigMap and
		// one Deployment per ALB that runs it (one per zone at most).
		limit += 1 + len(tc.ALBs)
	}
	if n := api.requests(); n > limit {
		t.Errorf("check made %d API requests, more than MaxRequests (%d, with CertManagerRequests for a cert-manager hop)", n, limit)
	}
	return fs, api
}

func TestGrid(t *testing.T) {
	for _, path := range gridFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, ops := loadCase(t, path)
			w := newWorld(t, c.World)
			w.apply(t, ops)
			fs, _ := w.check(t)
			// Read as the API server answers the plugin (built-in
			// objects in protobuf, the rest as JSON), every rule finds
			// the same.
			if pfs := w.findingsThrough(t, asProto); !reflect.DeepEqual(pfs, fs) {
				t.Errorf("read through protobuf, the findings differ:\n got %v\nwant %v", codesOf(pfs), codesOf(fs))
			}
			var got []string
			for _, f := range fs {
				got = append(got, expectation(f))
			}
			slices.Sort(got)
			want := slices.Clone(c.Expect)
			slices.Sort(want)
			if *updateGrid {
				rewriteExpect(t, path, got)
				return
			}
			if !slices.Equal(got, want) {
				var b strings.Builder
				_ = NewReport(fs).Write(&b, FormatText, false)
				t.Errorf("%s\ngot findings:\n  %s\nwant:\n  %s\nreport:\n%s", c.Description,
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), b.String())
			}
		})
	}
}

// rewriteExpect replaces the expect list in a fixture's header, keeping
// everything else of the file as written.
func rewriteExpect(t *testing.T, path string, entries []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "expect:") {
			out = append(out, lines[i])
			continue
		}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "- ") {
			i++ // the old block list
		}
		if len(entries) == 0 {
			out = append(out, "expect: []")
			continue
		}
		out = append(out, "expect:")
		for _, e := range entries {
			out = append(out, "- "+e)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gridExpectations is the union of the codes the grid expects.
func gridExpectations(t *testing.T) map[Code]bool {
	t.Helper()
	seen := map[Code]bool{}
	for _, path := range gridFiles(t) {
		c, _ := loadCase(t, path)
		for _, e := range c.Expect {
			seen[codeOf(e)] = true
		}
	}
	return seen
}

// findingsThrough is every rule's findings on the world read through the
// fake API as wrap makes it answer.
func (w *world) findingsThrough(t *testing.T, wrap func(*fakeAPI) API) []Finding {
	t.Helper()
	p := *w.params
	snap, err := Read(context.Background(), wrap(newFakeAPI(t, w)), &p)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	fs := Run(&Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots})
	Sort(fs)
	return fs
}

func codesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, expectation(f)+" "+f.Message)
	}
	return out
}
