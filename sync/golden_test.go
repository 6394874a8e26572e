package sync

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden text plans of sync/testdata/plans")

// goldenPlan compares the text plan of p with sync/testdata/plans/<name>.txt,
// whole, or rewrites the file with -update (read the diff before committing).
// The files read as documentation: what sync plan prints in each scenario.
func goldenPlan(t *testing.T, name string, p *Plan) {
	t.Helper()
	var b strings.Builder
	if err := WritePlan(&b, p, FormatText); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "plans", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %q: %v (run `go test ./sync -run %s -update` to create it)", file, err, t.Name())
	}
	if got := b.String(); got != strings.ReplaceAll(string(want), "\r\n", "\n") {
		t.Errorf("%s differs (refresh with `go test ./sync -run %s -update` if the change is intended)\nWANT:\n%s\nGOT:\n%s", file, t.Name(), want, got)
	}
}
