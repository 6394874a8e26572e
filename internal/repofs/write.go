package repofs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
)

// TempPrefix starts the name of WriteFile's temporary files (and of
// internal/treeio's work folders): ".coderfleet-tmp-<name>-<random>". One
// left behind by a killed command holds a part of a write and may be
// deleted.
const TempPrefix = ".coderfleet-tmp-"

// newFileMode is the mode of a file WriteFile creates; a file it replaces
// keeps its own permission bits.
const newFileMode fs.FileMode = 0o644

// WriteFile replaces the file name with data, atomically and durably: data
// goes to a new temporary file in the same folder (TempPrefix), which is
// flushed to disk (fsync) and renamed over name (os.Root.Rename), and then
// the folder is flushed too. A reader, or the file system after a crash,
// sees the old file or the new one, never a part; a write that fails
// leaves the old file as it was and removes its temporary file. Missing
// parent folders are created (mode 0777 before the umask). A new file gets
// mode 0644; a replaced one keeps its permission bits.
//
// A symbolic link on the way, name itself included, is followed while it
// stays inside the repository (the file it points to is replaced, the link
// kept); a link that leaves it is refused with a *config.Error naming the
// file and the link, and nothing is written. It is the one way coderfleet
// writes a file: vendor's charts and charts.lock, region add's
// region.yaml, sync apply's outputs.yaml, render's state, through the
// package-level WriteFile. Callers that can race on one path serialize with
// a lock (internal/lock): the last rename wins.
func (r *FS) WriteFile(name string, data []byte) error {
	return r.do(name, func(rel string) error { return r.replace(filepath.ToSlash(rel), data) })
}

// WriteFile writes the file at path as FS.WriteFile does, confined to
// path's folder (created when missing): for files outside any repository
// opened with Open, such as a saved plan (sync plan --out) or render's
// state beside an --out folder. A symbolic link at path is followed only
// into that folder.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	r, err := Open(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.WriteFile(path, data)
}

// replace is WriteFile's work on rel (slash-separated, relative to the
// root). Its errors are os.Root's, about rel or the temporary file, or the
// *config.Error of a link leaving the root.
func (r *FS) replace(rel string, data []byte) error {
	target, err := r.resolve(rel)
	if err != nil {
		return err
	}
	dir, base := path.Dir(target), path.Base(target)
	if err := r.root.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	mode := newFileMode
	if fi, err := r.root.Lstat(target); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	f, tmp, err := r.createTemp(dir, base)
	if err != nil {
		return err
	}
	if err := r.fill(f, data, mode); err != nil {
		_ = r.root.Remove(tmp)
		return err
	}
	if err := r.root.Rename(tmp, target); err != nil {
		_ = r.root.Remove(tmp)
		return err
	}
	return r.syncDir(dir)
}

// createTemp creates a new, empty temporary file for base in dir, as
// os.CreateTemp does but inside the root.
func (r *FS) createTemp(dir, base string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := path.Join(dir, TempPrefix+base+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := r.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, name, err
	}
}

// fill gives f its mode and data, flushes it to disk and closes it.
func (r *FS) fill(f *os.File, data []byte, mode fs.FileMode) error {
	write := (*os.File).Write
	if r.write != nil {
		write = r.write
	}
	err := f.Chmod(mode)
	if err == nil {
		_, err = write(f, data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pe *fs.PathError
	if err != nil && !errors.As(err, &pe) {
		err = &fs.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return err
}

// syncDir flushes the folder dir (relative to the root) to disk: the names
// created, renamed or removed in it.
func (r *FS) syncDir(dir string) error {
	d, err := r.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
