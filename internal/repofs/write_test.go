package repofs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

// entries lists the names in dir, for spotting temporary files left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	p := filepath.Join(repo, "overlays", "us-west-2", "outputs.yaml")
	for _, data := range []string{"one\n", "two\n"} {
		if err := r.WriteFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != data {
			t.Errorf("file holds %q, want %q", got, data)
		}
	}
	if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", info.Mode(), err)
	}
	// A replaced file keeps its permission bits.
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFile(p, []byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode after replacing a 0600 file: %v, %v", info.Mode(), err)
	}
	if got := entries(t, filepath.Dir(p)); strings.Join(got, ",") != "outputs.yaml" {
		t.Errorf("temporary files left: %v", got)
	}
	// A path whose folder cannot be made fails naming it.
	if err := r.WriteFile(filepath.Join(p, "x"), nil); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("WriteFile under a file: %v", err)
	}
}

// TestFailedWriteLeavesTheOldFile fails the write midway, after half the
// data reached the temporary file: the old file must be intact and the
// temporary file gone. The failure is injected through FS.write because
// the tests may run as root, whom a read-only folder does not stop.
func TestFailedWriteLeavesTheOldFile(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	p := filepath.Join(repo, "overlays", "a", "real.yaml")
	full := []byte("a new content that is never completely written\n")
	r.write = func(f *os.File, data []byte) (int, error) {
		n, err := f.Write(data[:len(data)/2])
		if err != nil {
			return n, err
		}
		return n, errors.New("no space left on device (injected)")
	}
	err := r.WriteFile(p, full)
	if err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("want the injected failure, got %v", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("the error does not name %s: %v", p, err)
	}
	if data, _ := os.ReadFile(p); string(data) != "ok" {
		t.Errorf("the old file changed: %q", data)
	}
	for _, name := range entries(t, filepath.Dir(p)) {
		if strings.HasPrefix(name, TempPrefix) {
			t.Errorf("temporary file left: %s", name)
		}
	}
}

func TestWriteThroughLinks(t *testing.T) {
	repo, outside := layout(t)
	r := open(t, repo)
	// A link inside the repository: the file it points to is replaced and
	// the link kept.
	if err := r.WriteFile(filepath.Join(repo, "overlays/a/inside.yaml"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(repo, "overlays/a/real.yaml")); string(data) != "new" {
		t.Errorf("the link's target holds %q, want new", data)
	}
	if fi, err := os.Lstat(filepath.Join(repo, "overlays/a/inside.yaml")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
	if err := r.WriteFile(filepath.Join(repo, "overlays/c/new.yaml"), []byte("via c")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(repo, "overlays/a/new.yaml")); string(data) != "via c" {
		t.Errorf("a write through a linked folder: %q", data)
	}
	// Links leaving the repository: refused, nothing written anywhere.
	for _, p := range []string{"overlays/a/link.yaml", "overlays/a/hop.yaml", "overlays/b/secret", "overlays/b/new.yaml"} {
		err := r.WriteFile(filepath.Join(repo, p), []byte("x"))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.File != p || !strings.Contains(err.Error(), "outside the repository") {
			t.Errorf("%s: want a *config.Error naming it, got %v", p, err)
		}
	}
	if got := entries(t, outside); strings.Join(got, ",") != "secret" {
		t.Errorf("files written outside: %v", got)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "secret")); string(data) != "s3cr3t" {
		t.Errorf("the file outside changed: %q", data)
	}
	if got := entries(t, filepath.Join(repo, "overlays/a")); strings.Contains(strings.Join(got, ","), TempPrefix) {
		t.Errorf("temporary files left: %v", got)
	}
}

func TestWriteFileOutsideARepository(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plans", "plan.json")
	if err := WriteFile(p, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(p); string(data) != "{}\n" {
		t.Errorf("written %q", data)
	}
	// A link at the path that leaves its folder is refused.
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "plans", "link.json")); err != nil {
		t.Fatal(err)
	}
	var ce *config.Error
	if err := WriteFile(filepath.Join(dir, "plans", "link.json"), []byte("x")); !errors.As(err, &ce) {
		t.Errorf("a link leaving the folder: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("written through the link: %v", err)
	}
}
