// Package safefs confines reads of the repository to the repository: a
// symbolic link that points outside it (to /etc/passwd, a home directory,
// another checkout) is refused with an input error naming the link. It
// wraps the on-disk kyaml filesystem the CLI hands to the renderer.
package safefs

import (
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// FS is a filesys.FileSystem whose reads stay inside Root.
type FS struct {
	filesys.FileSystem
	Root string // absolute, symlinks resolved
}

// New confines the on-disk filesystem to the repository at root.
func New(root string) (*FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("resolving the repository %q: %w", root, err)
	}
	return &FS{FileSystem: filesys.MakeFsOnDisk(), Root: real}, nil
}

// check refuses a path whose target, symlinks resolved, is outside Root.
func (f *FS) check(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil // a missing file: the read itself reports it
	}
	if real == f.Root || strings.HasPrefix(real, f.Root+string(filepath.Separator)) {
		return nil
	}
	rel, relErr := filepath.Rel(f.Root, abs)
	if relErr != nil || strings.HasPrefix(rel, "..") {
		rel = abs
	}
	return &config.Error{File: filepath.ToSlash(rel), Msg: fmt.Sprintf("is a symbolic link to %q, outside the repository", real),
		Hint: "coderfleet reads only files inside the repository; copy the file in instead of linking to it"}
}

// ReadFile reads a file inside the repository.
func (f *FS) ReadFile(path string) ([]byte, error) {
	if err := f.check(path); err != nil {
		return nil, err
	}
	return f.FileSystem.ReadFile(path)
}

// Open opens a file inside the repository.
func (f *FS) Open(path string) (filesys.File, error) {
	if err := f.check(path); err != nil {
		return nil, err
	}
	return f.FileSystem.Open(path)
}

// ReadDir lists a directory inside the repository.
func (f *FS) ReadDir(path string) ([]string, error) {
	if err := f.check(path); err != nil {
		return nil, err
	}
	return f.FileSystem.ReadDir(path)
}
