package treeio

import (
	"fmt"
	"os"
)

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
