package reviewdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/render"
)

// fields diffs two YAML documents and returns their field differences.
func fields(t *testing.T, a, b string) []Field {
	t.Helper()
	av, err := decodeAll([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	bv, err := decodeAll([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []Field
	diffValue("", av[0], bv[0], &out)
	return out
}

func paths(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Change)+" "+f.Path)
	}
	return out
}

func TestFieldPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want []string
	}{
		{"named items are matched by name, wherever they are",
			"c: [{name: coder, env: [{name: A, value: '1'}, {name: B, value: '2'}]}]",
			"c: [{name: coder, env: [{name: B, value: '3'}, {name: A, value: '1'}]}]",
			[]string{"reordered c[coder].env", "changed c[coder].env[B].value"}},
		{"named items added and removed",
			"env: [{name: A}, {name: B}]", "env: [{name: A}, {name: C}]",
			[]string{"added env[C]", "removed env[B]"}},
		{"an insertion into an unnamed list is one added item",
			"args: [server, --a, --b]", "args: [server, --new, --a, --b]",
			[]string{"added args[1]"}},
		{"a changed unnamed item is paired by position and compared inside",
			"rules: [{verbs: [get]}, {verbs: [list]}]", "rules: [{verbs: [get]}, {verbs: [watch]}]",
			[]string{"changed rules[1].verbs[0]"}},
		{"a removed unnamed item keeps its base index",
			"l: [a, b, c]", "l: [a, c]",
			[]string{"removed l[1]"}},
		{"between aligned items, changes pair by position and the surplus is added or removed",
			"l: [a, b, c, d, e, f]", "l: [a, x, y, z, d, f]",
			[]string{"changed l[1]", "changed l[2]", "added l[3]", "removed l[4]"}},
		{"repeated items: the longest matching block is kept",
			"l: [a, a, b, a]", "l: [a, b, a, a]",
			[]string{"removed l[0]", "added l[3]"}},
		{"items without unique names fall back to positions",
			"l: [{name: x, v: 1}, {name: x, v: 2}]", "l: [{name: x, v: 1}, {name: x, v: 3}]",
			[]string{"changed l[1].v"}},
		{"keys with dots or slashes are quoted",
			"metadata: {annotations: {a.b/c: '1'}, labels: {plain_key-1: x}}",
			"metadata: {annotations: {a.b/c: '2'}, labels: {plain_key-1: y}}",
			[]string{`changed metadata.annotations["a.b/c"]`, "changed metadata.labels.plain_key-1"}},
		{"a type change replaces the value", "a: {b: 1}", "a: [1]", []string{"changed a"}},
		{"null is a value", "a: null", "a: 1", []string{"changed a"}},
		{"equal documents have no fields", "a: {b: [1, {name: x}]}", "a: {b: [1, {name: x}]}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := paths(fields(t, tc.a, tc.b))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func tree(files ...string) render.Tree {
	t := render.Tree{}
	for i := 0; i+1 < len(files); i += 2 {
		t[files[i]] = []byte(files[i+1])
	}
	return t
}

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: coder, namespace: coder}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: coder
          env:
            - {name: CODER_ACCESS_URL, value: "https://coder.example.com"}
`

func TestObjectIdentityIgnoresFileNames(t *testing.T) {
	base := map[string]render.Tree{"r": tree("coder/a.yaml", deploy)}
	head := map[string]render.Tree{"r": tree("coder/b.yaml", "# moved\n"+deploy)}
	if rep := Diff(base, head); !rep.Empty() {
		t.Fatalf("moving an object to another file is a change: %+v", rep.Regions)
	}
	// Same file, same object, only a comment changed: reported, without fields.
	head = map[string]render.Tree{"r": tree("coder/a.yaml", "# new comment\n"+deploy)}
	rep := Diff(base, head)
	if len(rep.Regions) != 1 || len(rep.Regions[0].Components[0].Objects) != 1 {
		t.Fatalf("comment change not reported: %+v", rep.Regions)
	}
	if o := rep.Regions[0].Components[0].Objects[0]; o.Change != Changed || len(o.Fields) != 0 {
		t.Fatalf("got %+v", o)
	}
	var b bytes.Buffer
	rep.Write(&b, FormatText)
	if !strings.Contains(b.String(), "~ Deployment coder/coder (comments or formatting only)") {
		t.Errorf("text report:\n%s", b.String())
	}
}

func TestGroupIsPartOfIdentity(t *testing.T) {
	flux := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x, namespace: flux-system}\n"
	other := "apiVersion: example.com/v1\nkind: Kustomization\nmetadata: {name: x, namespace: flux-system}\n"
	rep := Diff(map[string]render.Tree{"r": tree("flux/k.yaml", flux)}, map[string]render.Tree{"r": tree("flux/k.yaml", other)})
	objs := rep.Regions[0].Components[0].Objects
	if len(objs) != 2 || objs[0].Group != "example.com" || objs[0].Change != Added || objs[1].Change != Removed {
		t.Fatalf("got %+v", objs)
	}
	// A version change inside a group is the same object, changed.
	v2 := strings.Replace(flux, "/v1", "/v1beta2", 1)
	rep = Diff(map[string]render.Tree{"r": tree("flux/k.yaml", flux)}, map[string]render.Tree{"r": tree("flux/k.yaml", v2)})
	objs = rep.Regions[0].Components[0].Objects
	if len(objs) != 1 || objs[0].Change != Changed || paths(objs[0].Fields)[0] != "changed apiVersion" {
		t.Fatalf("got %+v", objs)
	}
}

func TestMultiLineAndLongValuesAreShortened(t *testing.T) {
	cm := func(cfg, long string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata:\n  config.yaml: |\n" +
			indent(cfg, "    ") + "  long: " + long + "\n"
	}
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, "line "+strings.Repeat("x", i%3))
	}
	a := strings.Join(lines, "\n") + "\n"
	b := strings.Replace(a, "line x\n", "line CHANGED\n", 1)
	longA, longB := strings.Repeat("a", 300), strings.Repeat("a", 299)+"b"
	rep := Diff(map[string]render.Tree{"r": tree("c/cm.yaml", cm(a, longA))}, map[string]render.Tree{"r": tree("c/cm.yaml", cm(b, longB))})
	var txt bytes.Buffer
	rep.Write(&txt, FormatText)
	out := txt.String()
	for _, want := range []string{
		`~ data["config.yaml"]: (40 lines -> 40 lines)`,
		"-line x", "+line CHANGED",
		`~ data.long: "aaaa`, "(302 characters)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, strings.Repeat("a", 120)) || strings.Count(out, "line") > 10 {
		t.Errorf("values were not shortened:\n%s", out)
	}
	// JSON keeps the full values.
	var js bytes.Buffer
	rep.Write(&js, FormatJSON)
	if !strings.Contains(js.String(), longB) {
		t.Error("JSON lost the full value")
	}
}

func indent(s, p string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(p + l)
		}
	}
	return b.String()
}

func TestMarkdownEscapesCodeSpans(t *testing.T) {
	a := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {k: 'a `tick` b'}\n"
	b := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {k: '``x<y>|z'}\n"
	rep := Diff(map[string]render.Tree{"r": tree("c/cm.yaml", a)}, map[string]render.Tree{"r": tree("c/cm.yaml", b)})
	var md bytes.Buffer
	rep.Write(&md, FormatMarkdown)
	for _, want := range []string{"``", "<details>", "</details>", "<summary><b>r</b> (changed)",
		"- _changed_ `data.k`: `` \"a `tick` b\" `` → ``` \"``x<y>|z\" ```"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if code("plain") != "`plain`" || code("`x") != "`` `x ``" {
		t.Errorf("code(): %q %q", code("plain"), code("`x"))
	}
}

func TestMarkerAndUnreadableFiles(t *testing.T) {
	marker := func(v string) string {
		return "# owned by coderfleet\ngenerator: coderfleet\nregion: r\nversion: " + v + "\n"
	}
	base := map[string]render.Tree{"r": tree(".coderfleet.yaml", marker("0.1.0"), "c/broken.yaml", "a: [\n")}
	head := map[string]render.Tree{"r": tree(".coderfleet.yaml", marker("0.2.0"), "c/broken.yaml", "a: [1\n")}
	rep := Diff(base, head)
	if len(rep.Regions) != 1 {
		t.Fatalf("got %+v", rep)
	}
	files := rep.Regions[0].Files
	if len(files) != 2 || files[0].Path != ".coderfleet.yaml" || files[1].Path != "c/broken.yaml" {
		t.Fatalf("files: %+v", files)
	}
	if got := paths(files[0].Fields); !reflect.DeepEqual(got, []string{"changed version"}) {
		t.Errorf("marker fields %q", got)
	}
	if !strings.Contains(files[1].Text, "-a: [\n+a: [1\n") {
		t.Errorf("broken file text diff:\n%s", files[1].Text)
	}
	// An added or removed region does not list its marker.
	rep = Diff(nil, base)
	if len(rep.Regions[0].Files) != 1 || rep.Regions[0].Files[0].Path != "c/broken.yaml" {
		t.Errorf("added region files: %+v", rep.Regions[0].Files)
	}
}

const records = `apiVersion: coderfleet.io/aws/v1alpha1
kind: RecordList
fleet: demo
region: r
hostedZone: example.com
records:
  - name: coder.example.com
    type: A
    setIdentifier: r
    routing: {policy: latency, awsRegion: us-east-2}
    alias: {service: coder/coder, cluster: c1, awsRegion: us-east-2, evaluateTargetHealth: true}
  - name: r.coder.example.com
    type: A
    routing: {policy: simple}
    alias: {service: coder/coder, cluster: c1, awsRegion: us-east-2, evaluateTargetHealth: false}
`

func TestAWSRecordsKeyedByNameTypeAndSetIdentifier(t *testing.T) {
	head := strings.Replace(records, "setIdentifier: r", "setIdentifier: r2", 1)
	head = strings.Replace(head, "evaluateTargetHealth: false", "evaluateTargetHealth: true", 1)
	rep := Diff(map[string]render.Tree{"r": tree("aws/records.yaml", records)}, map[string]render.Tree{"r": tree("aws/records.yaml", head)})
	var got []string
	for _, a := range rep.Regions[0].AWS {
		got = append(got, string(a.Change)+" "+a.Type+" "+a.Key+" "+strings.Join(paths(a.Fields), ","))
	}
	want := []string{
		"added record coder.example.com A [r2] ",
		"removed record coder.example.com A [r] ",
		"changed record r.coder.example.com A changed alias.evaluateTargetHealth",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A file that is no valid desired state on one side is compared as a
	// whole, and its items are not reported as removed.
	rep = Diff(map[string]render.Tree{"r": tree("aws/records.yaml", records)}, map[string]render.Tree{"r": tree("aws/records.yaml", records+"bogus: 1\n")})
	if len(rep.Regions[0].AWS) != 0 || len(rep.Regions[0].Files) != 1 || rep.Regions[0].Files[0].Path != "aws/records.yaml" {
		t.Errorf("got %+v", rep.Regions[0])
	}
	// A changed hosted zone is a change of the file's own keys.
	zone := strings.Replace(records, "hostedZone: example.com", "hostedZone: coder.example.com", 1)
	rep = Diff(map[string]render.Tree{"r": tree("aws/records.yaml", records)}, map[string]render.Tree{"r": tree("aws/records.yaml", zone)})
	if a := rep.Regions[0].AWS; len(a) != 1 || a[0].Type != TypeFile || paths(a[0].Fields)[0] != "changed hostedZone" {
		t.Errorf("got %+v", a)
	}
}

func TestJSONSchema(t *testing.T) {
	var b bytes.Buffer
	if err := Diff(nil, nil).Write(&b, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var empty map[string]any
	if err := json.Unmarshal(b.Bytes(), &empty); err != nil {
		t.Fatal(err)
	}
	if empty["schemaVersion"] != SchemaVersion || !reflect.DeepEqual(empty["regions"], []any{}) ||
		empty["summaryText"] != "no differences" {
		t.Errorf("empty report: %s", b.String())
	}
	// old and new appear exactly where they exist; null is kept.
	for _, tc := range []struct {
		f    Field
		want string
	}{
		{Field{Path: "a", Change: Changed, Old: nil, New: 1}, `{"path":"a","change":"changed","old":null,"new":1}`},
		{Field{Path: "a", Change: Added, New: "<x>"}, `{"path":"a","change":"added","new":"<x>"}`},
		{Field{Path: "a", Change: Removed, Old: false}, `{"path":"a","change":"removed","old":false}`},
	} {
		var got bytes.Buffer
		enc := json.NewEncoder(&got) // as Write encodes: HTML left alone
		enc.SetEscapeHTML(false)
		err := enc.Encode(tc.f)
		if err != nil || strings.TrimSpace(got.String()) != tc.want {
			t.Errorf("got %s (%v), want %s", got.String(), err, tc.want)
		}
	}
}

func TestOrderIsDeterministic(t *testing.T) {
	base := map[string]render.Tree{}
	head := map[string]render.Tree{}
	for _, r := range []string{"c", "a", "b"} {
		base[r] = tree("x/d.yaml", deploy, "aws/records.yaml", records)
		head[r] = tree("x/d.yaml", strings.Replace(deploy, "replicas: 1", "replicas: 2", 1), "y/d.yaml", strings.Replace(deploy, "name: coder,", "name: other,", 1))
	}
	var first string
	for i := 0; i < 20; i++ {
		var b bytes.Buffer
		Diff(base, head).Write(&b, FormatJSON)
		if i == 0 {
			first = b.String()
		} else if b.String() != first {
			t.Fatal("two runs differ")
		}
	}
	if a, b, c := strings.Index(first, `"name": "a"`), strings.Index(first, `"name": "b"`), strings.Index(first, `"name": "c"`); a < 0 || a > b || b > c {
		t.Errorf("regions not sorted:\n%s", first)
	}
}

func TestSummaryLine(t *testing.T) {
	base := map[string]render.Tree{"gone": tree("x/d.yaml", deploy), "same": tree("x/d.yaml", deploy)}
	head := map[string]render.Tree{"new": tree("x/d.yaml", deploy), "same": tree("x/d.yaml", deploy)}
	got := Diff(base, head).Summary().String()
	want := "2 regions differ (added: new; removed: gone); objects: 1 added, 1 removed"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := Diff(base, base).Summary().String(); got != "no differences" {
		t.Errorf("got %q", got)
	}
}

func TestFitMarkdownKeepsWithinLimitAndNamesWhatIsLeftOut(t *testing.T) {
	var r Report
	for _, name := range []string{"a-region", "b-region", "c-region"} {
		reg := Region{Name: name, Change: Added}
		comp := Component{Name: "coder", Change: Added}
		for i := range 40 {
			comp.Objects = append(comp.Objects, Object{Change: Added, APIVersion: "v1", Kind: "ConfigMap", Namespace: "coder", Name: fmt.Sprintf("config-%02d", i), Path: "coder/x.yaml"})
		}
		reg.Components = []Component{comp}
		r.Regions = append(r.Regions, reg)
	}
	var full bytes.Buffer
	cuts := r.writeMarkdown(&full)
	for _, limit := range []int{full.Len() / 2, full.Len() / 3, 2000} {
		var b bytes.Buffer
		b.Write(full.Bytes())
		r.fitMarkdown(&b, cuts, limit)
		got := b.String()
		if len(got) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(got))
		}
		if strings.Count(got, "<details>") != strings.Count(got, "</details>") {
			t.Errorf("limit %d: a region section is left open:\n%s", limit, got)
		}
		shown := strings.Count(got, "\n- _added_")
		if want := fmt.Sprintf("%d of 120 changed objects", 120-shown); !strings.Contains(got, want) {
			t.Errorf("limit %d: no %q in the note:\n%s", limit, want, got[strings.LastIndex(got, "</details>"):])
		}
		if !strings.Contains(got, "whole region") || !strings.Contains(got, "`c-region`") {
			t.Errorf("limit %d: the note does not name c-region as left out whole:\n%s", limit, got[strings.LastIndex(got, "</details>"):])
		}
	}
	var b bytes.Buffer
	b.Write(full.Bytes())
	if r.fitMarkdown(&b, cuts, full.Len()); b.String() != full.String() {
		t.Error("a report within the limit was changed")
	}
}
