//go:build !linux

package treeio

import "errors"

// exchange is not available here; Write falls back to two renames.
func exchange(a, b string) error { return errors.ErrUnsupported }

// flushTree flushes the files and the folders dirs written under root to
// disk, each with fsync.
func flushTree(_ string, files, dirs []string) error {
	for _, p := range append(files, dirs...) {
		if err := syncPath(p); err != nil {
			return err
		}
	}
	return nil
}
