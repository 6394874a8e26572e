package golden_test

import (
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
			for region, tree := range testfleet.RenderOverlays(t, templates, c) {
				for p, data := range tree {
					got[path.Join(region, p)] = data
				}
			}
			goldenfile.Tree(t, filepath.Join(c, "regions"), got)
		})
	}
}
