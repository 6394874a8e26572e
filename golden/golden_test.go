package golden_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/fleettest"
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

func TestGolden(t *testing.T) {
	templates := testfleet.ReadDir(t, testfleet.RepoRoot(t), "templates")
	for _, c := range cases(t) {
		t.Run(c, func(t *testing.T) {
			got := fleettest.RenderOverlays(t, templates, c)
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
