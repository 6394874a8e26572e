//go:build linux

package treeio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// exchange atomically swaps the directories a and b.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// flushTree flushes what was written under root (the files and the
// folders dirs) to disk with one syncfs(2) of root's file system: one
// journal commit, where an fsync of each file costs one per file.
func flushTree(root string, _ []string, _ []string) error {
	f, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("flushing %q: %w", root, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("flushing %q: %w", root, err)
	}
	return nil
}
