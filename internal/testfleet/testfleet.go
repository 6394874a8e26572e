// Package testfleet is the test-fleet helper of every test: it builds
// small fleets in memory (kyaml's MakeFsInMemory) or on disk, from a map
// of repository-relative paths, copies the example fleet, and renders a
// case's overlays the way the CLI does.
package testfleet

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/render"
)

// Fleet is the minimal valid fleet: a fleet file, a primary and a proxy.
func Fleet() map[string]string {
	return map[string]string{
		"overlays/fleet.yaml": `apiVersion: coderfleet.io/v1alpha1
kind: Fleet
name: demo
domain: coder.example.com
hostedZone: example.com
awsAccountID: "123456789012"
workspaceNamespaces:
  - name: coder-ws
    organization: coder
    replicas: 2
`,
		"overlays/us-east-2/region.yaml": `apiVersion: coderfleet.io/v1alpha1
kind: Region
name: us-east-2
awsRegion: us-east-2
role: primary
clusterName: demo-use2
`,
		"overlays/us-west-2/region.yaml": `apiVersion: coderfleet.io/v1alpha1
kind: Region
name: us-west-2
awsRegion: us-west-2
role: proxy
clusterName: demo-usw2
`,
	}
}

// With returns a copy of files with the given paths replaced (an empty
// value deletes the path).
func With(files map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// MemFS writes files into a new in-memory filesystem under /repo and
// returns it with the repository root.
func MemFS(t testing.TB, files map[string]string) (filesys.FileSystem, string) {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	const repo = "/repo"
	for p, data := range files {
		full := filepath.Join(repo, filepath.FromSlash(p))
		if err := fsys.MkdirAll(filepath.Dir(full)); err != nil {
			t.Fatal(err)
		}
		if err := fsys.WriteFile(full, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return fsys, repo
}

// RepoRoot finds the repository root from a test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// ReadDir reads every file under root/dir into a map of
// repository-relative paths, e.g. ReadDir(t, repo, "templates").
func ReadDir(t testing.TB, root, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteDisk writes files under root on disk.
func WriteDisk(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// CopyRepo copies the named top-level folders of the real repository into
// a temporary directory and returns it.
func CopyRepo(t testing.TB, dirs ...string) string {
	t.Helper()
	root := RepoRoot(t)
	dst := t.TempDir()
	for _, d := range dirs {
		files := ReadDir(t, root, d)
		WriteDisk(t, dst, files)
	}
	return dst
}

// Indent indents a block for embedding in YAML in table tests.
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// RenderOverlays renders dir/overlays with templates (repository-relative
// paths to contents, e.g. from ReadDir(t, root, "templates")), in memory,
// with the options the CLI uses; a render error fails the test.
func RenderOverlays(t testing.TB, templates map[string]string, dir string) map[string]render.Tree {
	t.Helper()
	files := map[string]string{}
	for p, data := range templates {
		files[p] = data
	}
	for p, data := range ReadDir(t, dir, "overlays") {
		files[p] = data
	}
	fsys, repo := MemFS(t, files)
	opts, err := fleet.Prepare(fsys, repo, nil)
	if err != nil {
		t.Fatalf("rendering %s: %v", dir, err)
	}
	res, err := render.Render(context.Background(), opts)
	if err != nil {
		t.Fatalf("rendering %s: %v", dir, err)
	}
	return res.Regions
}
