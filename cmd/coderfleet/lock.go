package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/lock"
	"github.com/coderfleet/coderfleet/internal/repofs"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// The lock files of the commands that write, relative to the repository,
// in its local state folder (git-ignored; see README.md, "Locking"):
// render's covers regions/ (or --out) and .coderfleet/render-state.json,
// and the inputs render reads that other verbs write (overlays/ for region
// add and remove, templates/charts/ for vendor); sync's covers
// overlays/*/outputs.yaml and the AWS changes of an apply, and the overlay
// folders region remove deletes.
const (
	stateDir       = ".coderfleet"
	renderLockFile = stateDir + "/render.lock"
	syncLockFile   = stateDir + "/sync.lock"
)

// stateDirIgnore is written to .coderfleet/.gitignore, so the folder is
// never committed even in a repository whose own .gitignore misses it.
const stateDirIgnore = "# Written by coderfleet: local state (render digests, locks), never committed.\n*\n"

// addLockTimeoutFlag registers --lock-timeout on a verb that takes a lock.
func addLockTimeoutFlag(c *cobra.Command, d *time.Duration, file string) {
	c.Flags().DurationVar(d, "lock-timeout", 0, "how long to wait for another coderfleet command holding "+file+" (0: fail at once, naming it)")
}

// lockRepo takes the lock file (one of the *LockFile constants) of repo
// for command (as the holder is named, "coderfleet render"), waiting at most timeout (a line on stderr says so).
// A lock still held then is a runtime failure (exit 4) naming the holder:
// pid, host, command and start time.
func lockRepo(ctx context.Context, command string, repo, file string, timeout time.Duration, stderr io.Writer) (*lock.Lock, error) {
	if timeout < 0 {
		return nil, &usageError{err: fmt.Errorf("--lock-timeout %s: must be zero (fail at once) or positive (hint: --lock-timeout 5m waits up to five minutes)", timeout)}
	}
	ignore := filepath.Join(repo, stateDir, ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, os.ErrNotExist) {
		if err := repofs.WriteFile(ignore, []byte(stateDirIgnore)); err != nil {
			return nil, &exitError{code: exitRuntime, err: err}
		}
	}
	path := filepath.Join(repo, filepath.FromSlash(file))
	l, err := lock.Acquire(ctx, path, lock.Self(command, time.Now()), lock.Options{
		Timeout: timeout,
		Clock:   fleetsync.RealClock{},
		Waiting: func(h *lock.Holder) {
			who := "another process"
			if h != nil {
				who = h.String()
			}
			fmt.Fprintf(stderr, "waiting up to %s for %s, locked by %s\n", timeout, path, who)
		},
	})
	if err != nil {
		return nil, &exitError{code: exitRuntime, err: err}
	}
	return l, nil
}

// lockRepoFiles takes the lock files of repo in the order given (render's
// before sync's, as every verb taking both does, so two such verbs never
// wait for each other crosswise), each as lockRepo does, and returns what
// releases them all. When one is held, those already taken are released.
func lockRepoFiles(ctx context.Context, command, repo string, files []string, timeout time.Duration, stderr io.Writer) (release func(), err error) {
	var held []*lock.Lock
	release = func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Release()
		}
	}
	for _, file := range files {
		l, err := lockRepo(ctx, command, repo, file, timeout, stderr)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
	}
	return release, nil
}

// lockRender takes render's lock files as o says (see
// renderOptions.stateRoot): the repository's, or, with --out outside the
// repository, the output folder's and then the repository's, which a
// read-only repository (one that refuses to create its lock file: no
// permission, or a read-only file system) goes without, saying so in one
// line on stderr. Nothing can change a read-only repository while render
// reads it.
func lockRender(ctx context.Context, command string, o *renderOptions, stderr io.Writer) (release func(), err error) {
	if !o.outOutside() {
		return lockRepoFiles(ctx, command, o.repo, []string{renderLockFile}, o.lockTimeout, stderr)
	}
	out, err := lockRepo(ctx, command, o.out, renderLockFile, o.lockTimeout, stderr)
	if err != nil {
		return nil, err
	}
	repo, err := lockRepo(ctx, command, o.repo, renderLockFile, o.lockTimeout, stderr)
	switch {
	case err == nil:
		return func() { repo.Release(); out.Release() }, nil
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		fmt.Fprintf(stderr, "note: the repository %s is read-only, so render does not lock it (nothing can change it); the lock is %s\n",
			o.repo, filepath.Join(o.out, filepath.FromSlash(renderLockFile)))
		return func() { out.Release() }, nil
	default:
		out.Release()
		return nil, err
	}
}

// within reports whether path is dir or inside it, comparing absolute,
// cleaned paths (symbolic links not resolved).
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
