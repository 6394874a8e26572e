package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// Holder is what a lock file records about the process holding the lock,
// as JSON: {"pid":…,"host":…,"command":…,"started":…}.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Started time.Time `json:"started"` // when the lock was taken, UTC
}

// Self describes this process running command (such as "coderfleet
// render") as a Holder that took the lock at now.
func Self(command string, now time.Time) Holder {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return Holder{PID: os.Getpid(), Host: host, Command: command, Started: now.UTC().Truncate(time.Second)}
}

// String is the holder as messages name it.
func (h Holder) String() string {
	return fmt.Sprintf("%q (pid %d on host %s, started %s)", h.Command, h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// Clock gives time and waits; Acquire takes it so tests do not sleep.
// sync.RealClock is the wall clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// Options are how Acquire waits for a lock that is held.
type Options struct {
	// Timeout is how long to wait for the holder to let go; zero or less
	// fails at once, as Terraform's -lock-timeout=0s does.
	Timeout time.Duration
	// PollInterval is the wait between attempts; zero means 250ms.
	PollInterval time.Duration
	// Clock gives time and sleeps; required when Timeout is positive.
	Clock Clock
	// Waiting, when set, is called once with the holder (nil when the file
	// does not name one yet) when Acquire starts to wait.
	Waiting func(*Holder)
}

// HeldError is Acquire's error when another holder keeps the lock.
type HeldError struct {
	Path   string        // the lock file
	Holder *Holder       // who holds it; nil when the file names nobody yet
	Waited time.Duration // how long Acquire waited (Options.Timeout)
}

// Error names the lock file and its holder, with what to do.
func (e *HeldError) Error() string {
	who := "another process, which has not recorded itself in the file yet"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	waited := ""
	if e.Waited > 0 {
		waited = fmt.Sprintf(" after waiting %s", e.Waited)
	}
	return fmt.Sprintf("%s is locked by %s%s (hint: let that command finish, or pass --lock-timeout DURATION to wait for it; the lock ends with its process, so a killed command never leaves one behind)", e.Path, who, waited)
}

// Lock is a held lock; Release lets go of it.
type Lock struct {
	f      *flock.Flock
	record bool // the file records the holder: clear it on Release
}

// Acquire takes the exclusive lock on the file at path (creating it and
// its folder) and records self in it. When another holder keeps it,
// Acquire waits as opts say, then returns a *HeldError naming the holder
// from the file.
func Acquire(ctx context.Context, path string, self Holder, opts Options) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of lock file %q: %w", path, err)
	}
	clock := opts.Clock
	if opts.Timeout > 0 && clock == nil {
		return nil, fmt.Errorf("lock: Options.Clock is not set")
	}
	interval := opts.PollInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	f := flock.New(path, flock.SetPermissions(0o644))
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = clock.Now().Add(opts.Timeout)
	}
	waiting := false
	for {
		ok, holder, err := try(f, path, self)
		if err != nil {
			return nil, err
		}
		if ok {
			return &Lock{f: f, record: true}, nil
		}
		if opts.Timeout <= 0 || !clock.Now().Before(deadline) {
			return nil, &HeldError{Path: path, Holder: holder, Waited: max(opts.Timeout, 0)}
		}
		if !waiting && opts.Waiting != nil {
			opts.Waiting(holder)
		}
		waiting = true
		if err := clock.Sleep(ctx, min(interval, deadline.Sub(clock.Now()))); err != nil {
			return nil, fmt.Errorf("waiting for lock %q: %w", path, err)
		}
	}
}

// guardPath is the file whose lock makes "take the lock and record the
// holder" (and "clear the holder and let go") one step for every other
// process: <path>.guard beside the lock file.
func guardPath(path string) string { return path + ".guard" }

// withGuard runs fn holding the guard lock of the lock file at path. The
// guard is held only for the few system calls fn makes, so blocking on it
// never waits for a command, only for another process's take or release.
func withGuard(path string, fn func() error) error {
	g := flock.New(guardPath(path), flock.SetPermissions(0o644))
	if err := g.Lock(); err != nil {
		return fmt.Errorf("locking %q: %w", g.Path(), err)
	}
	defer g.Unlock()
	return fn()
}

// try takes the lock on f when it is free and records self in it, under
// the guard, so a process that finds the lock held always reads a recorded
// holder; otherwise it returns that holder.
func try(f *flock.Flock, path string, self Holder) (ok bool, holder *Holder, err error) {
	err = withGuard(path, func() error {
		var err error
		if ok, err = f.TryLock(); err != nil {
			return fmt.Errorf("locking %q: %w", path, err)
		}
		if !ok {
			holder = ReadHolder(path)
			return nil
		}
		data, err := json.Marshal(self)
		if err == nil {
			err = os.WriteFile(path, append(data, '\n'), 0o644)
		}
		if err != nil {
			ok = false
			_ = f.Unlock()
			return fmt.Errorf("recording the holder in lock file %q: %w", path, err)
		}
		return nil
	})
	return ok, holder, err
}

// ReadHolder returns the holder recorded in the lock file at path, or nil
// when it names none (missing, empty, released, or being written).
func ReadHolder(path string) *Holder {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return nil
	}
	var h Holder
	if json.Unmarshal(data, &h) != nil || h.PID == 0 {
		return nil
	}
	return &h
}

// Release clears the holder from the lock file and lets go of the lock.
// Releasing twice is a no-op.
func (l *Lock) Release() error {
	if l == nil || !l.f.Locked() {
		return nil
	}
	release := func() error {
		var errs []error
		if l.record {
			// Still held: nobody else writes the file now.
			errs = append(errs, os.Truncate(l.f.Path(), 0))
		}
		return errors.Join(append(errs, l.f.Unlock())...)
	}
	var err error
	if l.record {
		// Cleared and let go in one step, for anyone reading the holder.
		err = withGuard(l.f.Path(), release)
	} else {
		err = release()
	}
	if err != nil {
		return fmt.Errorf("releasing lock %q: %w", l.f.Path(), err)
	}
	return nil
}

// TryFolder takes the exclusive lock on the folder dir itself (flock on
// the directory), without waiting and without writing anything in it. ok
// is false when another writer holds it. internal/treeio holds it on each
// work folder while the folder exists under its work name.
func TryFolder(dir string) (l *Lock, ok bool, err error) {
	f := flock.New(dir, flock.SetFlag(os.O_RDONLY))
	ok, err = f.TryLock()
	if err != nil {
		return nil, false, fmt.Errorf("locking folder %q: %w", dir, err)
	}
	if !ok {
		return nil, false, nil
	}
	return &Lock{f: f}, true, nil
}
