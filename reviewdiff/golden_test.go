package reviewdiff_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/coderfleet/coderfleet/internal/goldenfile"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/reviewdiff"
)

// goldenCases lists the folders under testdata/; each holds base/overlays
// and head/overlays (rendered with the repository's templates) and the
// expected reports want.txt, want.md and want.json.
func goldenCases(t *testing.T) []string {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	if len(out) < 5 {
		t.Fatalf("found %d golden cases in testdata/, want at least 5", len(out))
	}
	return out
}

func TestGolden(t *testing.T) {
	templates := testfleet.ReadDir(t, testfleet.RepoRoot(t), "templates")
	for _, c := range goldenCases(t) {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			base := testfleet.RenderOverlays(t, templates, filepath.Join(dir, "base"))
			head := testfleet.RenderOverlays(t, templates, filepath.Join(dir, "head"))
			rep := reviewdiff.Diff(base, head)
			if rep.Empty() {
				t.Fatal("base and head render the same: the case tests nothing")
			}
			for _, f := range []struct {
				format reviewdiff.Format
				file   string
			}{{reviewdiff.FormatText, "want.txt"}, {reviewdiff.FormatMarkdown, "want.md"}, {reviewdiff.FormatJSON, "want.json"}} {
				var got bytes.Buffer
				if err := rep.Write(&got, f.format); err != nil {
					t.Fatal(err)
				}
				// The same inputs give the same bytes.
				var again bytes.Buffer
				if err := reviewdiff.Diff(base, head).Write(&again, f.format); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), again.Bytes()) {
					t.Errorf("%s: two runs gave different output", f.format)
				}
				goldenfile.File(t, filepath.Join(dir, f.file), got.Bytes())
			}
		})
	}
}
