// Package treeio is the filesystem edge of rendering: it reads the
// committed regions/ tree and replaces region folders atomically.
//
// A region folder is written aside (regions/.coderfleet-tmp-*) and then
// swapped in with one rename (renameat2 RENAME_EXCHANGE on Linux), so a
// render that is killed at any point leaves each region folder either
// entirely old or entirely new. Only folders carrying coderfleet's
// ownership marker (render.MarkerFile) are ever replaced or deleted.
package treeio
