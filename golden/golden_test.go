package golden_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"github.com/coderfleet/coderfleet/render"
)

var update = flag.Bool("update", false, "rewrite the expected regions/ of every golden case")

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

// renderCase renders a case's overlays with the repository's templates,
// in memory.
func renderCase(t *testing.T, dir string) map[string]render.Tree {
	t.Helper()
	root := testfleet.RepoRoot(t)
	files := testfleet.ReadDir(t, root, "templates")
	for p, data := range testfleet.ReadDir(t, dir, "overlays") {
		files[p] = data
	}
	fsys, repo := testfleet.MemFS(t, files)
	res, err := render.Render(context.Background(), fleet.RenderOptions(fsys, repo, nil))
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	return res.Regions
}

func TestGolden(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c, func(t *testing.T) {
			got := renderCase(t, c)
			want := filepath.Join(c, "regions")
			if *update {
				res := &render.Result{Regions: got, Complete: true}
				if _, err := (&treeio.Writer{Dir: want}).Write(res); err != nil {
					t.Fatal(err)
				}
				return
			}
			have, err := treeio.Read(want)
			if err != nil {
				t.Fatal(err)
			}
			rep := render.Compare(want, got, have, true)
			for _, d := range rep.Changed {
				t.Errorf("%s differs (WANT = committed, GOT = rendered):\n%s", d.Path, d.Diff)
			}
			for _, p := range rep.Missing {
				t.Errorf("GOT a file that is not in WANT: %s", p)
			}
			for _, p := range rep.Extra {
				t.Errorf("WANT a file that was not rendered: %s", p)
			}
			if rep.Stale() {
				t.Log("if the change is intended, run `go test ./golden -update` and review the diff")
			}
		})
	}
}
