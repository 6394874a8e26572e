// Package repofs opens the fleet repository for every verb: one
// filesystem, backed by Go's os.Root, through which render, check, diff,
// vendor, region and sync read (and vendor and region write) the
// repository. Its WriteFile (write.go) is the one way coderfleet writes a
// file: atomically, durably and confined.
//
// os.Root resolves every path inside the repository's root directory in
// the same system calls that open it: a symbolic link is followed only
// while it stays inside the root, so there is no window between a check
// and the read for a link to be swapped in. A path that leaves the
// repository (through a link to /etc/passwd, a home directory or another
// checkout, or an absolute link) is refused with a *config.Error naming the
// file and the link's target, with a hint: invalid input, exit code 3.
package repofs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// FS is an open fleet repository. It is a filesys.FileSystem (the
// renderer's, the configuration loader's and the chart vendoring's
// interface) whose paths are absolute, or relative to the working
// directory, and must lie inside Dir; IOFS gives the same files as an
// io/fs.FS. Close releases the root directory.
type FS struct {
	root *os.Root
	dir  string // absolute, cleaned; symbolic links not resolved
	// write fills WriteFile's temporary file; nil is (*os.File).Write.
	// Tests set it to fail midway.
	write func(f *os.File, data []byte) (int, error)
}

var _ filesys.FileSystem = (*FS)(nil)

// Hint is the advice every refusal of a path leaving the repository gives.
const Hint = "coderfleet reads and writes only inside the repository and follows a symbolic link only while it stays inside; copy the file into the repository instead of linking to it"

// Open opens the repository whose root is dir. The error of a dir that
// cannot be opened (missing, not a folder, not readable) names it.
func Open(dir string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository %q: %w", dir, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("opening the repository %q: %w", dir, err)
	}
	return &FS{root: root, dir: abs}, nil
}

// Dir returns the repository's root as an absolute path.
func (r *FS) Dir() string { return r.dir }

// Close releases the root directory; the FS must not be used afterwards.
func (r *FS) Close() error { return r.root.Close() }

// rel turns a path given to a filesys.FileSystem method into a path
// relative to the root. A path outside the root is a *config.Error.
func (r *FS) rel(name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	if abs == r.dir {
		return ".", nil
	}
	if rest, ok := strings.CutPrefix(abs, strings.TrimSuffix(r.dir, string(filepath.Separator))+string(filepath.Separator)); ok {
		return rest, nil
	}
	return "", &config.Error{File: filepath.ToSlash(name), Msg: fmt.Sprintf("is outside the repository %s", r.dir), Hint: Hint}
}

// fail turns an error of os.Root about rel into the error callers see: a
// path that leaves the repository becomes a *config.Error naming rel
// (slash-separated) and the link that leaves it; any other *fs.PathError
// names the path as the caller gave it (display).
func (r *FS) fail(display, rel string, err error) error {
	if err == nil {
		return nil
	}
	// A link that leaves the root is refused before anything is opened, so
	// a missing file never means an escape.
	if !errors.Is(err, fs.ErrNotExist) {
		if e := r.escape(filepath.ToSlash(rel)); e != nil {
			return e
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: display, Err: pe.Err}
	}
	return err
}

// maxLinks bounds the links followed when explaining a refusal, as the
// kernel bounds them (MAXSYMLINKS).
const maxLinks = 40

// escape explains why os.Root refused name (slash-separated, relative to
// the root): the *config.Error of the first link on name's way whose
// target leaves the root (see resolve), or nil when no link does.
func (r *FS) escape(name string) error {
	_, err := r.resolve(name)
	return err
}

// resolve follows the links on name's way (slash-separated, relative to
// the root) component by component as os.Root does, reading links with
// Lstat and Readlink, and returns the path they lead to, relative to the
// root; components from the first missing one on are kept as given. Its
// error is the *config.Error of the first link whose target leaves the
// root (an absolute target, or one climbing above the root with "..").
// Where a link cannot be read (or there are too many), name is returned
// as given, for os.Root to report.
func (r *FS) resolve(name string) (string, error) {
	var done []string // resolved components, each a real directory
	todo := strings.Split(name, "/")
	link, target := "", ""
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				if link == "" {
					return name, nil // name itself climbs out: not a link's doing
				}
				return "", r.escapeError(name, link, target)
			}
			done = done[:len(done)-1]
			continue
		}
		p := path.Join(append(done, c)...)
		fi, err := r.root.Lstat(p)
		if err != nil {
			return strings.Join(append(append(done, c), todo...), "/"), nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		t, err := r.root.Readlink(p)
		if hops++; err != nil || hops > maxLinks {
			return name, nil
		}
		link, target = p, t
		if filepath.IsAbs(t) {
			return "", r.escapeError(name, link, target)
		}
		todo = append(strings.Split(filepath.ToSlash(t), "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// escapeError is the refusal of name because link (a path relative to the
// root) points to target, outside the repository.
func (r *FS) escapeError(name, link, target string) error {
	shown := fmt.Sprintf("%q", target)
	where, hint := ", outside the repository", Hint
	if filepath.IsAbs(target) && (target == r.dir || strings.HasPrefix(target, r.dir+string(filepath.Separator))) {
		where, hint = ", an absolute link", "an absolute link is not followed even into the repository (the repository may be checked out anywhere); make the link relative"
	}
	msg := "is a symbolic link to " + shown + where
	if link != name {
		msg = "goes through " + link + ", a symbolic link to " + shown + where
	}
	return &config.Error{File: name, Msg: msg, Hint: hint}
}

// at runs op on name's path relative to the root: a path outside the
// root fails without op, and op's error goes through fail.
func at[T any](r *FS, name string, op func(rel string) (T, error)) (T, error) {
	rel, err := r.rel(name)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := op(rel)
	return v, r.fail(name, rel, err)
}

// do is at for operations without a result.
func (r *FS) do(name string, op func(rel string) error) error {
	_, err := at(r, name, func(rel string) (struct{}, error) { return struct{}{}, op(rel) })
	return err
}

// file is at for operations opening a file: no file on error (not a
// typed nil in the interface).
func (r *FS) file(name string, op func(rel string) (*os.File, error)) (filesys.File, error) {
	f, err := at(r, name, op)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Symlink creates name as a symbolic link to target, which is stored as
// given: reads through the link are confined like any other.
func (r *FS) Symlink(target, name string) error {
	return r.do(name, func(rel string) error { return r.root.Symlink(target, rel) })
}

// Create creates or truncates a file.
func (r *FS) Create(name string) (filesys.File, error) { return r.file(name, r.root.Create) }

// Open opens a file for reading.
func (r *FS) Open(name string) (filesys.File, error) { return r.file(name, r.root.Open) }

// Mkdir creates a directory.
func (r *FS) Mkdir(name string) error {
	return r.do(name, func(rel string) error { return r.root.Mkdir(rel, 0o777) })
}

// MkdirAll creates a directory and the missing ones above it.
func (r *FS) MkdirAll(name string) error {
	return r.do(name, func(rel string) error { return r.root.MkdirAll(rel, 0o777) })
}

// RemoveAll removes a path and everything below it; a symbolic link is
// removed, not followed.
func (r *FS) RemoveAll(name string) error { return r.do(name, r.root.RemoveAll) }

// stat is os.Root.Stat with the errors of fail.
func (r *FS) stat(name string) (fs.FileInfo, error) { return at(r, name, r.root.Stat) }

// refused reports whether err is a refusal of a path leaving the
// repository.
func refused(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}

// IsDir reports whether name is a directory. A path that leaves the
// repository reports true, so that the caller's next step (listing or
// reading it) reports the refusal instead of the path being skipped.
func (r *FS) IsDir(name string) bool {
	fi, err := r.stat(name)
	return refused(err) || err == nil && fi.IsDir()
}

// Exists reports whether name exists. A path that leaves the repository
// reports true, so that reading it reports the refusal.
func (r *FS) Exists(name string) bool {
	_, err := r.stat(name)
	return refused(err) || err == nil
}

// Stat describes name (symbolic links followed inside the repository).
func (r *FS) Stat(name string) (fs.FileInfo, error) { return r.stat(name) }

// ReadDir lists the names in a directory, sorted.
func (r *FS) ReadDir(name string) ([]string, error) {
	entries, err := at(r, name, func(rel string) ([]fs.DirEntry, error) { return fs.ReadDir(r.root.FS(), filepath.ToSlash(rel)) })
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs splits an existing path into its absolute directory and file
// name (empty when the path is a directory), as filesys.FileSystem says.
// Unlike kyaml's on-disk filesystem it does not resolve symbolic links in
// the result: the path stays inside the repository as given.
func (r *FS) CleanedAbs(name string) (filesys.ConfirmedDir, string, error) {
	fi, err := r.stat(name)
	if err != nil {
		return "", "", err
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", "", err
	}
	if fi.IsDir() {
		return filesys.ConfirmedDir(abs), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(abs)), filepath.Base(abs), nil
}

// Glob returns the paths matching pattern (filepath.Match syntax), leaving
// out hidden files unless the pattern names them, as kyaml's on-disk
// filesystem does.
func (r *FS) Glob(pattern string) ([]string, error) {
	rel, err := r.rel(pattern)
	if err != nil {
		return nil, err
	}
	matches, err := fs.Glob(r.root.FS(), filepath.ToSlash(rel))
	if err != nil {
		return nil, err
	}
	for i, m := range matches {
		matches[i] = filepath.Join(r.dir, filepath.FromSlash(m))
	}
	if filesys.IsHiddenFilePath(pattern) {
		return matches, nil
	}
	return filesys.RemoveHiddenFiles(matches), nil
}

// ReadFile reads a whole file.
func (r *FS) ReadFile(name string) ([]byte, error) { return at(r, name, r.root.ReadFile) }

// Walk walks the tree at name in lexical order, as filepath.Walk does:
// entries are described without following symbolic links, and walkFn gets
// absolute paths (name's form when name is relative) and the errors of
// fail.
func (r *FS) Walk(name string, walkFn filepath.WalkFunc) error {
	rel, err := r.rel(name)
	if err != nil {
		return walkFn(name, nil, err)
	}
	start := filepath.ToSlash(rel)
	return fs.WalkDir(r.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		sub := p
		if start != "." {
			sub = strings.TrimPrefix(strings.TrimPrefix(p, start), "/")
		}
		full := filepath.Join(name, filepath.FromSlash(sub))
		if err != nil {
			return walkFn(full, nil, r.fail(full, p, err))
		}
		info, err := d.Info()
		if err != nil {
			return walkFn(full, nil, r.fail(full, p, err))
		}
		return walkFn(full, info, nil)
	})
}

// IOFS returns the repository as an io/fs.FS: slash-separated paths
// relative to the root, the same confinement and the same refusals. It
// implements fs.ReadFileFS, fs.ReadDirFS and fs.StatFS.
func (r *FS) IOFS() fs.FS { return ioFS{r} }

type ioFS struct{ r *FS }

func (f ioFS) Open(name string) (fs.File, error) {
	file, err := f.r.root.FS().Open(name)
	if err != nil {
		return nil, f.r.fail(name, name, err)
	}
	return file, nil
}

func (f ioFS) ReadFile(name string) ([]byte, error) {
	data, err := fs.ReadFile(f.r.root.FS(), name)
	return data, f.r.fail(name, name, err)
}

func (f ioFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(f.r.root.FS(), name)
	return entries, f.r.fail(name, name, err)
}

func (f ioFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := fs.Stat(f.r.root.FS(), name)
	return fi, f.r.fail(name, name, err)
}
