package treeio

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data (mode 0644), atomically and
// durably: data goes to a new temporary file beside it
// (".coderfleet-tmp-<name>-*"), which is flushed to disk (fsync) and
// renamed over path, and then the folder is flushed too. A reader, or the
// file system after a crash, sees the old file or the new one, never a
// part. Missing parent folders are created. It is the one way coderfleet
// writes a single file of the repository (overlays/<region>/outputs.yaml,
// the render state); Writer uses the same steps for whole region folders.
//
// Callers that can race on one path serialize with a lock (see
// internal/lock): the last rename wins.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := fill(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("moving %q into place: %w", path, err)
	}
	return syncPath(dir)
}

// createFile writes data to the new file path (mode 0644); the caller
// flushes it to disk (flushTree).
func createFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// fill writes data to f, flushes it to disk and closes f.
func fill(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncPath flushes the file or folder at path to disk (for a folder: the
// names created, renamed or removed in it).
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("flushing %q: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flushing %q: %w", path, err)
	}
	return nil
}
