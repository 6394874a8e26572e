// Package lock takes the advisory locks that keep two coderfleet commands
// from writing the same files at once: a lock file for a whole command
// (render, sync apply), which records who holds it, and locks on the work
// folders of internal/treeio, so crash recovery never deletes a folder that
// a running writer still owns.
//
// The locks are flock(2) locks (through github.com/gofrs/flock), held by an
// open file description: the kernel releases them when the process ends,
// however it ends, so a killed command never leaves a lock behind. Two
// Acquire calls in one process exclude each other like two processes do.
// The lock file itself stays: while the lock is held it names the holder,
// it is empty once released, and after a crash it names the dead holder
// until the next Acquire overwrites it.
package lock
