package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

func TestSymlinksOutsideTheRepositoryAreRefused(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cr3t"), 0o644)
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "overlays/a"), 0o755)
	os.WriteFile(filepath.Join(repo, "overlays/a/real.yaml"), []byte("ok"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(repo, "overlays/a/link.yaml"))
	os.Symlink(outside, filepath.Join(repo, "overlays/b"))
	os.Symlink("real.yaml", filepath.Join(repo, "overlays/a/inside.yaml"))

	fs, err := New(repo)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := fs.ReadFile(filepath.Join(repo, "overlays/a/inside.yaml")); err != nil || string(data) != "ok" {
		t.Fatalf("a link inside the repository must work: %q %v", data, err)
	}
	for _, p := range []string{"overlays/a/link.yaml", "overlays/b/secret"} {
		_, err := fs.ReadFile(filepath.Join(repo, p))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.File != p || !strings.Contains(err.Error(), "outside the repository") {
			t.Errorf("%s: want a refusal naming it, got %v", p, err)
		}
	}
	if _, err := fs.ReadDir(filepath.Join(repo, "overlays/b")); err == nil {
		t.Error("listing a linked folder outside the repository must fail")
	}
}
