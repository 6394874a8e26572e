package lock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeClock advances only when slept on; onSleep runs at each sleep.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	n := len(c.sleeps)
	c.mu.Unlock()
	if c.onSleep != nil {
		c.onSleep(n)
	}
	return ctx.Err()
}

func holder(cmd string) Holder {
	return Holder{PID: 4242, Host: "build-1", Command: cmd, Started: t0}
}

func mustAcquire(t *testing.T, path string, h Holder) *Lock {
	t.Helper()
	l, err := Acquire(context.Background(), path, h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSecondAcquireFailsNamingTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".coderfleet", "render.lock")
	first := mustAcquire(t, path, holder("coderfleet render"))
	if got := ReadHolder(path); got == nil || *got != holder("coderfleet render") {
		t.Fatalf("lock file records %+v", got)
	}
	_, err := Acquire(context.Background(), path, holder("coderfleet render --force"), Options{})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder == nil || *held.Holder != holder("coderfleet render") || held.Waited != 0 {
		t.Fatalf("second Acquire: %v", err)
	}
	want := path + ` is locked by "coderfleet render" (pid 4242 on host build-1, started 2026-03-04T05:06:07Z) (hint: let that command finish, or pass --lock-timeout DURATION to wait for it;`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message\n%s\nwant prefix\n%s", err, want)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); len(data) != 0 || ReadHolder(path) != nil {
		t.Errorf("a released lock file still names a holder: %q", data)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	second := mustAcquire(t, path, holder("coderfleet render --force"))
	defer second.Release()
	if got := ReadHolder(path); got == nil || got.Command != "coderfleet render --force" {
		t.Errorf("lock file records %+v", got)
	}
}

func TestAcquireWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.lock")
	first := mustAcquire(t, path, holder("coderfleet sync apply"))
	// The holder lets go while the second caller sleeps for the third time.
	clock := &fakeClock{now: t0, onSleep: func(n int) {
		if n == 3 {
			if err := first.Release(); err != nil {
				t.Error(err)
			}
		}
	}}
	var told []*Holder
	l, err := Acquire(context.Background(), path, holder("coderfleet sync apply --prune"),
		Options{Timeout: time.Minute, PollInterval: time.Second, Clock: clock, Waiting: func(h *Holder) { told = append(told, h) }})
	if err != nil {
		t.Fatalf("Acquire with a timeout after the holder let go: %v", err)
	}
	defer l.Release()
	if len(clock.sleeps) != 3 {
		t.Errorf("slept %v, want three polls", clock.sleeps)
	}
	if len(told) != 1 || told[0] == nil || told[0].Command != "coderfleet sync apply" {
		t.Errorf("Waiting told %v, want the holder once", told)
	}
}

func TestAcquireGivesUpAtTheTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "render.lock")
	first := mustAcquire(t, path, holder("coderfleet render"))
	defer first.Release()
	clock := &fakeClock{now: t0}
	_, err := Acquire(context.Background(), path, holder("x"), Options{Timeout: 1100 * time.Millisecond, PollInterval: 500 * time.Millisecond, Clock: clock})
	var held *HeldError
	if !errors.As(err, &held) || held.Waited != 1100*time.Millisecond || !strings.Contains(err.Error(), "after waiting 1.1s") {
		t.Fatalf("err %v", err)
	}
	// The last wait ends at the bound, not a poll interval after it.
	if got := clock.sleeps; len(got) != 3 || got[2] != 100*time.Millisecond {
		t.Errorf("slept %v, want 500ms 500ms 100ms", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Acquire(ctx, path, holder("x"), Options{Timeout: time.Hour, Clock: &fakeClock{now: t0}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

const childEnv = "CODERFLEET_LOCK_CHILD"

// TestLockChild is the child process of TestKilledHolderLeavesNoLock: it
// takes the lock, says so, and holds it until it is killed.
func TestLockChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process for TestKilledHolderLeavesNoLock; runs only as its child")
	}
	if _, err := Acquire(context.Background(), path, Self("coderfleet render", time.Now()), Options{}); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it or kills us
	os.Exit(0)
}

// TestKilledHolderLeavesNoLock: another process's lock is refused naming
// its pid, and a holder killed with SIGKILL leaves no lock behind (its
// record stays in the file until the next holder overwrites it).
func TestKilledHolderLeavesNoLock(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "render.lock")
	cmd := exec.Command(exe, "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q", line)
	}
	_, err = Acquire(context.Background(), path, holder("x"), Options{})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder == nil || held.Holder.PID != cmd.Process.Pid || held.Holder.Command != "coderfleet render" {
		t.Fatalf("want the child (pid %d) named, got %v", cmd.Process.Pid, err)
	}
	if !strings.Contains(err.Error(), "(pid "+strconv.Itoa(cmd.Process.Pid)+" on host ") {
		t.Errorf("message lacks the pid: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if h := ReadHolder(path); h == nil || h.PID != cmd.Process.Pid {
		t.Errorf("the killed holder's record: %+v", h)
	}
	l := mustAcquire(t, path, holder("after the kill"))
	defer l.Release()
	if h := ReadHolder(path); h == nil || h.Command != "after the kill" {
		t.Errorf("lock file records %+v", h)
	}
}

func TestTryFolder(t *testing.T) {
	dir := t.TempDir()
	a, ok, err := TryFolder(dir)
	if err != nil || !ok {
		t.Fatalf("first TryFolder: %v %v", ok, err)
	}
	if _, ok, err := TryFolder(dir); err != nil || ok {
		t.Fatalf("TryFolder of a held folder: %v %v", ok, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, ok, err := TryFolder(dir)
	if err != nil || !ok {
		t.Fatalf("TryFolder after release: %v %v", ok, err)
	}
	b.Release()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("TryFolder wrote into the folder: %v", entries)
	}
}

// TestHolderIsRecordedBeforeOthersLook: a process that has taken the lock
// but not yet written its holder line holds the guard, so another
// Acquire waits for that line instead of reporting an unnamed holder.
func TestHolderIsRecordedBeforeOthersLook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "render.lock")
	holder := Self("coderfleet render", t0)
	// Play the first process by hand: guard, lock, (record later).
	first, err := Acquire(context.Background(), path, holder, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil { // as if not yet recorded
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := withGuard(path, func() error {
		go func() {
			_, err := Acquire(context.Background(), path, Self("coderfleet render", t0), Options{})
			done <- err
		}()
		data, _ := json.Marshal(holder)
		return os.WriteFile(path, append(data, '\n'), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	var held *HeldError
	if err := <-done; !errors.As(err, &held) || held.Holder == nil || held.Holder.PID != holder.PID {
		t.Fatalf("second Acquire: %v, want a HeldError naming pid %d", err, holder.PID)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if h := ReadHolder(path); h != nil {
		t.Errorf("after Release the file still names %v", h)
	}
}
