package golden_test

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/goldenfile"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// cases lists the golden case folders.
func cases(t *testing.T) []string {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "testdata" {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no golden cases found")
	}
	return out
}

func TestGolden(t *testing.T) {
	templates := testfleet.ReadDir(t, testfleet.RepoRoot(t), "templates")
	for _, c := range cases(t) {
		t.Run(c, func(t *testing.T) {
			got := map[string][]byte{}
			for region, tree := range testfleet.RenderOverlays(t, caseTemplates(t, templates, c), c) {
				for p, data := range tree {
					got[path.Join(region, p)] = data
				}
			}
			goldenfile.Tree(t, filepath.Join(c, "regions"), got)
		})
	}
}

// caseTemplates returns the templates of golden case c: the repository's,
// with the replacements of c/templates.replace applied when it has one
// (lines of file, text and its replacement, tab-separated; # comments).
// Each text must occur exactly once, so a template change that moves it
// fails here instead of silently testing nothing.
func caseTemplates(t *testing.T, templates map[string]string, c string) map[string]string {
	data, err := os.ReadFile(filepath.Join(c, "templates.replace"))
	if os.IsNotExist(err) {
		return templates
	}
	if err != nil {
		t.Fatal(err)
	}
	out := maps.Clone(templates)
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("%s/templates.replace:%d: want file, text and replacement, tab-separated", c, i+1)
		}
		if n := strings.Count(out[parts[0]], parts[1]); n != 1 {
			t.Fatalf("%s/templates.replace:%d: %q occurs %d times in %s, want once", c, i+1, parts[1], n, parts[0])
		}
		out[parts[0]] = strings.Replace(out[parts[0]], parts[1], parts[2], 1)
	}
	return out
}
