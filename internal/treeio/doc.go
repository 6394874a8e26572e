// Package treeio is the filesystem edge of rendering: it reads the
// committed regions/ tree and replaces region folders atomically. Single
// files are written by internal/repofs's WriteFile, the one file writer.
//
// A region folder is written aside (regions/.coderfleet-tmp-*), flushed to
// disk, and then swapped in with one rename (renameat2 RENAME_EXCHANGE on
// Linux), so a render that is killed at any point leaves each region folder
// either entirely old or entirely new. Only folders carrying coderfleet's
// ownership marker (render.MarkerFile) are ever replaced or deleted.
//
// Every work folder (and a folder moved aside to be replaced or removed)
// is locked by its writer (internal/lock.TryFolder) while it exists under
// its work name; the clean-up at the start of Write removes only work
// folders whose lock is free, that is, whose writer is gone.
package treeio
