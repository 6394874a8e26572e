package repofs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

// layout builds a repository beside a folder outside it:
//
//	outside/secret                      "s3cr3t"
//	repo/overlays/a/real.yaml           "ok"
//	repo/overlays/a/inside.yaml      -> real.yaml
//	repo/overlays/a/link.yaml        -> <outside>/secret (absolute)
//	repo/overlays/a/up.yaml          -> ../../../outside/secret (relative, climbs out)
//	repo/overlays/a/hop.yaml         -> up.yaml (a link to a link that leaves)
//	repo/overlays/a/self.yaml        -> <repo>/overlays/a/real.yaml (absolute, into the repository)
//	repo/overlays/b                  -> <outside> (a folder)
//	repo/overlays/c                  -> a (a folder inside)
func layout(t *testing.T) (repo, outside string) {
	t.Helper()
	base := t.TempDir()
	outside, repo = filepath.Join(base, "outside"), filepath.Join(base, "repo")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(outside, 0o755))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cr3t"), 0o644))
	a := filepath.Join(repo, "overlays", "a")
	must(os.MkdirAll(a, 0o755))
	must(os.WriteFile(filepath.Join(a, "real.yaml"), []byte("ok"), 0o644))
	for link, target := range map[string]string{
		"overlays/a/inside.yaml": "real.yaml",
		"overlays/a/link.yaml":   filepath.Join(outside, "secret"),
		"overlays/a/up.yaml":     "../../../outside/secret",
		"overlays/a/hop.yaml":    "up.yaml",
		"overlays/a/self.yaml":   filepath.Join(a, "real.yaml"),
		"overlays/b":             outside,
		"overlays/c":             "a",
	} {
		must(os.Symlink(target, filepath.Join(repo, filepath.FromSlash(link))))
	}
	return repo, outside
}

func open(t *testing.T, repo string) *FS {
	t.Helper()
	r, err := Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLinksInsideTheRepositoryAreFollowed(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	for _, p := range []string{"overlays/a/inside.yaml", "overlays/c/real.yaml", "overlays/c/inside.yaml"} {
		if data, err := r.ReadFile(filepath.Join(repo, p)); err != nil || string(data) != "ok" {
			t.Errorf("%s: %q, %v; want ok", p, data, err)
		}
		if data, err := fs.ReadFile(r.IOFS(), p); err != nil || string(data) != "ok" {
			t.Errorf("IOFS %s: %q, %v; want ok", p, data, err)
		}
	}
	if !r.IsDir(filepath.Join(repo, "overlays/c")) {
		t.Error("a link to a folder inside the repository is a folder")
	}
}

func TestPathsLeavingTheRepositoryAreRefused(t *testing.T) {
	repo, outside := layout(t)
	r := open(t, repo)
	secret := filepath.Join(outside, "secret")
	for _, tc := range []struct {
		path string
		want []string // in the message, besides the path
	}{
		{"overlays/a/link.yaml", []string{`is a symbolic link to "` + secret + `", outside the repository`}},
		{"overlays/a/up.yaml", []string{`is a symbolic link to "../../../outside/secret", outside the repository`}},
		{"overlays/a/hop.yaml", []string{`goes through overlays/a/up.yaml, a symbolic link to "../../../outside/secret"`}},
		{"overlays/b/secret", []string{`goes through overlays/b, a symbolic link to "` + outside + `", outside the repository`}},
		{"overlays/a/self.yaml", []string{"an absolute link", "make the link relative"}},
	} {
		check := func(how string, err error) {
			t.Helper()
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != tc.path || ce.Hint == "" {
				t.Errorf("%s %s: want a *config.Error naming it with a hint, got %v", how, tc.path, err)
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s %s: %q lacks %q", how, tc.path, err, w)
				}
			}
		}
		full := filepath.Join(repo, filepath.FromSlash(tc.path))
		_, err := r.ReadFile(full)
		check("ReadFile", err)
		_, err = r.Open(full)
		check("Open", err)
		_, err = fs.ReadFile(r.IOFS(), tc.path)
		check("IOFS ReadFile", err)
		_, err = fs.Stat(r.IOFS(), tc.path)
		check("IOFS Stat", err)
		check("WriteFile", r.WriteFile(full, []byte("x")))
		// The bool methods say yes, so that the read that follows refuses
		// the path instead of the caller skipping it.
		if !r.Exists(full) || !r.IsDir(full) {
			t.Errorf("%s: Exists and IsDir must report a refused path", tc.path)
		}
	}
	if data, _ := os.ReadFile(secret); string(data) != "s3cr3t" {
		t.Errorf("a write through a link changed the file outside: %q", data)
	}
	_, err := r.ReadDir(filepath.Join(repo, "overlays/b"))
	var ce *config.Error
	if !errors.As(err, &ce) || ce.File != "overlays/b" {
		t.Errorf("listing a linked folder outside the repository: %v", err)
	}
	if _, err := r.ReadFile(filepath.Join(filepath.Dir(repo), "outside", "secret")); !errors.As(err, &ce) || !strings.Contains(err.Error(), "is outside the repository") {
		t.Errorf("a path outside the root: %v", err)
	}
}

func TestMissingFilesAreNotRefusals(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	full := filepath.Join(repo, "overlays/a/missing.yaml")
	_, err := r.ReadFile(full)
	var ce *config.Error
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ce) || !errors.As(err, &pe) || pe.Path != full {
		t.Errorf("want a not-exist *fs.PathError naming %s, got %v", full, err)
	}
	if r.Exists(full) || r.IsDir(full) {
		t.Error("a missing file neither exists nor is a folder")
	}
}

func TestWalkListsLinksWithoutFollowingThem(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	var got []string
	err := r.Walk(filepath.Join(repo, "overlays"), func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		kind := "file"
		switch {
		case info.IsDir():
			kind = "dir"
		case info.Mode()&fs.ModeSymlink != 0:
			kind = "link"
		}
		got = append(got, filepath.ToSlash(rel)+" "+kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "overlays dir,overlays/a dir,overlays/a/hop.yaml link,overlays/a/inside.yaml link,overlays/a/link.yaml link," +
		"overlays/a/real.yaml file,overlays/a/self.yaml link,overlays/a/up.yaml link,overlays/b link,overlays/c link"
	if strings.Join(got, ",") != want {
		t.Errorf("walk:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestWritesStayInside(t *testing.T) {
	repo, _ := layout(t)
	r := open(t, repo)
	dir := filepath.Join(repo, "templates", "charts")
	if err := r.MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFile(filepath.Join(dir, "charts.lock"), []byte("lock")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "charts.lock")); err != nil || string(data) != "lock" {
		t.Fatalf("written file: %q, %v", data, err)
	}
	if err := r.RemoveAll(filepath.Join(repo, "overlays/b")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(repo), "outside", "secret")); err != nil {
		t.Errorf("removing a link removed what it points to: %v", err)
	}
}
