package goldenfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a helper reports.
type recorder struct {
	testing.TB
	errors, logs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recorder) Log(a ...any)              { r.logs = append(r.logs, fmt.Sprint(a...)) }

func write(t *testing.T, file, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileShowsWantAndGot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "want.txt")
	write(t, file, "a\r\nb\r\n")
	r := &recorder{TB: t}
	File(r, file, []byte("a\nb\n"))
	if len(r.errors) != 0 {
		t.Fatalf("CRLF and LF must compare equal: %v", r.errors)
	}
	File(r, file, []byte("a\nc\n"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "--- WANT "+file) || !strings.Contains(r.errors[0], "+++ GOT ") ||
		!strings.Contains(r.errors[0], "-b\n+c\n") || len(r.logs) != 1 || !strings.Contains(r.logs[0], "-update") {
		t.Fatalf("a mismatch: errors %q, logs %q", r.errors, r.logs)
	}
	r = &recorder{TB: t}
	File(r, filepath.Join(t.TempDir(), "missing.txt"), []byte("x"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "-update") {
		t.Fatalf("a missing golden file: %q", r.errors)
	}
}

func TestTreeComparesEveryFileWhole(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a/same.yaml"), "x\n")
	write(t, filepath.Join(dir, "a/changed.yaml"), "old\n")
	write(t, filepath.Join(dir, "a/.hidden"), "h\n")
	write(t, filepath.Join(dir, "b/only-want.yaml"), "w\n")
	got := map[string][]byte{"a/same.yaml": []byte("x\n"), "a/changed.yaml": []byte("new\n"), "a/.hidden": []byte("h\n"), "c/only-got.yaml": []byte("g\n")}
	r := &recorder{TB: t}
	Tree(r, dir, got)
	joined := strings.Join(r.errors, "\n")
	for _, want := range []string{
		filepath.Join(dir, "a/changed.yaml") + " differs", "-old\n+new\n",
		"WANT a file that GOT lacks: " + filepath.Join(dir, "b/only-want.yaml"),
		"GOT a file that is not in WANT: " + filepath.Join(dir, "c/only-got.yaml"),
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("report lacks %q:\n%s", want, joined)
		}
	}
	if len(r.errors) != 3 {
		t.Errorf("want 3 failures (changed, only in WANT, only in GOT), got %d:\n%s", len(r.errors), joined)
	}

	*update = true
	defer func() { *update = false }()
	Tree(r, dir, got)
	*update = false
	r = &recorder{TB: t}
	Tree(r, dir, got)
	if len(r.errors) != 0 {
		t.Errorf("after -update the tree must equal GOT: %v", r.errors)
	}
	if _, err := os.Stat(filepath.Join(dir, "b/only-want.yaml")); !os.IsNotExist(err) {
		t.Errorf("-update left a file GOT lacks: %v", err)
	}
}
