// Package goldenfile compares test output with golden files, whole, for
// every golden suite (golden/, reviewdiff/): a mismatch is printed as a
// unified diff from WANT (the committed file) to GOT (the output), and the
// -update flag rewrites the golden files instead, to be reviewed with git
// diff before committing. Line endings are normalised to "\n" on both
// sides, so a checkout with CRLF endings compares equal.
//
// Importing the package registers -update on the test binary.
package goldenfile

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/coderfleet/coderfleet/internal/testfleet"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests produce (review the diff before committing)")

// Updating reports whether the test run rewrites golden files (-update).
func Updating() bool { return *update }

// updateHint is logged after a mismatch.
const updateHint = "if the change is intended, rerun the test with -update and review the diff before committing"

// File compares got with the golden file, or with -update writes got to
// it (creating its folder). A missing golden file is a failure naming it.
func File(t testing.TB, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("reading the golden file: %v (%s)", err, updateHint)
		return
	}
	if d := diff(file, want, got); d != "" {
		t.Errorf("%s differs (WANT = golden file, GOT = output):\n%s", file, d)
		t.Log(updateHint)
	}
}

// Tree compares got (slash-separated paths relative to dir -> content)
// with every file under dir, each whole: a file only in GOT, a file only
// in WANT and each differing file is a failure. With -update it replaces
// dir with exactly got.
func Tree(t testing.TB, dir string, got map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for _, p := range slices.Sorted(maps.Keys(got)) {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, got[p], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string]string{}
	if _, err := os.Stat(dir); err == nil {
		want = testfleet.ReadDir(t, dir, ".")
	}
	paths := map[string]bool{}
	for p := range want {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	failed := false
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		w, inWant := want[p]
		g, inGot := got[p]
		name := filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case !inWant:
			t.Errorf("GOT a file that is not in WANT: %s", name)
		case !inGot:
			t.Errorf("WANT a file that GOT lacks: %s", name)
		default:
			d := diff(name, []byte(w), g)
			if d == "" {
				continue
			}
			t.Errorf("%s differs (WANT = golden file, GOT = output):\n%s", name, d)
		}
		failed = true
	}
	if failed {
		t.Log(updateHint)
	}
}

// diff returns the unified diff from want to got, line endings normalised,
// or "" when they are equal.
func diff(name string, want, got []byte) string {
	norm := func(b []byte) string { return string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) }
	w, g := norm(want), norm(got)
	if w == g {
		return ""
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(w), B: difflib.SplitLines(g),
		FromFile: "WANT " + name, ToFile: "GOT " + name, Context: 3,
	})
	if err != nil {
		return err.Error()
	}
	return d
}
