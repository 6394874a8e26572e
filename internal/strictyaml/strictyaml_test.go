package strictyaml

import (
	"strings"
	"testing"
)

type item struct {
	Name string   `yaml:"name" cf:"required"`
	Tags []string `yaml:"tags"`
}

type doc struct {
	Kind  string            `yaml:"kind" cf:"required"`
	Items []item            `yaml:"items"`
	Env   map[string]string `yaml:"env"`
	Skip  int               `yaml:"-"`
}

func decodeDoc(t *testing.T, src string) (*Decoder, doc) {
	t.Helper()
	root, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	d := NewDecoder("f.yaml")
	d.TagKey, d.BareKeys = "yaml", true
	var v doc
	d.Decode(root, &v, "")
	return d, v
}

func TestDecodeRecordsPlacesAndValues(t *testing.T) {
	d, v := decodeDoc(t, "kind: K\nitems:\n  - name: a\n    tags: [x, y]\n")
	if err := d.Errs.Err(); err != nil {
		t.Fatal(err)
	}
	if v.Kind != "K" || len(v.Items) != 1 || v.Items[0].Name != "a" || strings.Join(v.Items[0].Tags, ",") != "x,y" {
		t.Errorf("decoded %+v", v)
	}
	if p := d.Pos["items[0].name"]; p != (Pos{File: "f.yaml", Line: 3, Col: 5}) {
		t.Errorf("Pos[items[0].name] = %+v", p)
	}
	if n := d.Nodes["items[0].tags[1]"]; n == nil || n.Value != "y" || n.Line != 4 {
		t.Errorf("Nodes[items[0].tags[1]] = %+v", n)
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"kind: K\nitemz: []\n", `f.yaml:2:1: itemz: unknown key (hint: did you mean "items"?)`},
		{"kind: K\nSkip: 1\n", `f.yaml:2:1: Skip: unknown key (hint: did you mean "kind"?)`},
		{"items: []\n", `f.yaml:1:1: kind: missing required key (hint: add it; see overlays/README.md for what it means)`},
		{"kind: ~\n", `f.yaml:1:1: kind: missing required value (hint: add it; see overlays/README.md for what it means)`},
		{"kind: K\nitems: [~]\n", `f.yaml:2:9: items[0]: expected a mapping, got null`},
		{"kind: K\nenv: [a]\n", `f.yaml:2:6: env: expected a mapping of strings, got a list`},
		{"kind: K\nitems: [{name: a, tags: x}]\n", `f.yaml:2:25: items[0].tags: expected a list of strings, got the string "x"`},
		{"kind: 3\n", `f.yaml:1:7: kind: expected a string, got the number 3 (hint: quote it: "3")`},
		{"kind: K\nkind: L\n", `f.yaml:2:1: kind: duplicate key (hint: remove one of the two; the first is at line 1)`},
	} {
		d, _ := decodeDoc(t, c.src)
		if got := d.Errs.Error(); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for src, want := range map[string]string{
		"a: &x 1\nb: *x\n":  "f.yaml:1:4: YAML anchors and aliases are not supported",
		"a: 1\n---\nb: 2\n": "f.yaml:3: a second YAML document in the file",
		"a: [\n":            "f.yaml:2: invalid YAML: did not find expected node content",
	} {
		_, err := Parse("f.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q...", src, err, want)
		}
	}
	for _, src := range []string{"", "~\n", "# only a comment\n"} {
		if root, err := Parse("f.yaml", []byte(src)); root != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want an empty document", src, root, err)
		}
	}
}
