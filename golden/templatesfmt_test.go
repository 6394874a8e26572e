package golden_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-jsonnet/formatter"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// TestTemplatesAreJsonnetfmtFormatted checks every file under templates/
// ending in .jsonnet or .libsonnet is as jsonnetfmt (go-jsonnet's formatter
// library, default options) would write it, so templates read one way and
// a reformat never shows up in a review. Fix a failure with
// `jsonnetfmt -i <file>` (github.com/google/go-jsonnet/cmd/jsonnetfmt).
func TestTemplatesAreJsonnetfmtFormatted(t *testing.T) {
	root := testfleet.RepoRoot(t)
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "templates"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".jsonnet") || strings.HasSuffix(p, ".libsonnet")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Jsonnet file under templates/")
	}
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := formatter.Format(rel, string(data), formatter.DefaultOptions())
		if err != nil {
			t.Errorf("%s: jsonnetfmt cannot format it: %v", rel, err)
			continue
		}
		if want != string(data) {
			diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(data)), B: difflib.SplitLines(want),
				FromFile: rel, ToFile: rel + " (jsonnetfmt)", Context: 2})
			t.Errorf("%s is not jsonnetfmt-formatted (hint: run jsonnetfmt -i %s):\n%s", rel, rel, diff)
		}
	}
}
