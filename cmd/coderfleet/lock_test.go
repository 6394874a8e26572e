package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/coderfleet/coderfleet/internal/lock"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"sigs.k8s.io/yaml"
)

// watchWriter collects what a command writes and closes seen once the
// text holds want, running onSeen (when set) before it returns from that
// Write: the command waits for it.
type watchWriter struct {
	mu     gosync.Mutex
	buf    bytes.Buffer
	want   string
	onSeen func()
	seen   chan struct{}
	done   bool
}

func newWatchWriter(want string, onSeen func()) *watchWriter {
	return &watchWriter{want: want, onSeen: onSeen, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	hit := !w.done && strings.Contains(w.buf.String(), w.want)
	if hit {
		w.done = true
	}
	w.mu.Unlock()
	if hit {
		close(w.seen)
		if w.onSeen != nil {
			w.onSeen()
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// holderText is how a lock message names this process running command.
func holderText(command string) string {
	host, _ := os.Hostname()
	return `is locked by "` + command + `" (pid ` + strconv.Itoa(os.Getpid()) + " on host " + host + ", started "
}

// holdLock takes the lock file of repo as this process running command,
// until the test ends or the returned Lock is released.
func holdLock(t *testing.T, repo, file, command string) *lock.Lock {
	t.Helper()
	l, err := lock.Acquire(context.Background(), filepath.Join(repo, file), lock.Self(command, time.Now()), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

// startChild starts the CLI with args in a child process (the test
// binary, see TestBadInputsChild).
func startChild(t *testing.T, args []string, stdout, stderr *bytes.Buffer) *exec.Cmd {
	t.Helper()
	data, err := yaml.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBadInputsChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(data))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func exitOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("child: %v", err)
	}
	return 0
}

// TestRenderRefusedWhileLocked: while the repository's render lock is held,
// render (in this process and in another) fails at once with exit 4,
// naming the holder's pid, host, command and start time, and writes
// nothing; with --lock-timeout it waits for the holder and then renders.
func TestRenderRefusedWhileLocked(t *testing.T) {
	repo := exampleCopy(t)
	if err := os.RemoveAll(filepath.Join(repo, "regions", "us-west-2")); err != nil {
		t.Fatal(err)
	}
	before, err := treeio.Read(filepath.Join(repo, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	held := holdLock(t, repo, renderLockFile, "coderfleet render")
	want := filepath.Join(repo, renderLockFile) + " " + holderText("coderfleet render")

	code, out, errs := cli(t, "render", "--repo", repo)
	if code != exitRuntime || out != "" || !strings.Contains(errs, want) || !strings.Contains(errs, "pass --lock-timeout DURATION to wait") {
		t.Errorf("render while locked: exit %d, stdout %q, stderr %q; want %d and %q", code, out, errs, exitRuntime, want)
	}
	var cout, cerr bytes.Buffer
	if code := exitOf(t, startChild(t, []string{"render", "--repo", repo}, &cout, &cerr)); code != exitRuntime || !strings.Contains(cerr.String(), want) {
		t.Errorf("render in another process while locked: exit %d, stderr %q; want %d and %q", code, cerr.String(), exitRuntime, want)
	}
	after, err := treeio.Read(filepath.Join(repo, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	if d := treeDiff(before, after); len(d) > 0 || len(after) != len(before) {
		t.Errorf("a refused render changed regions/: %v", d)
	}
	if code, _, errs := cli(t, "render", "--repo", repo, "--lock-timeout", "-1s"); code != exitUsage || !strings.Contains(errs, "--lock-timeout -1s: must be zero") {
		t.Errorf("negative --lock-timeout: exit %d, %q", code, errs)
	}

	// With --lock-timeout, render says it waits; the holder lets go once it does.
	stderr := newWatchWriter("waiting up to 10m0s for "+filepath.Join(repo, renderLockFile)+`, locked by "coderfleet render" (pid `,
		func() { held.Release() })
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"render", "--repo", repo, "--lock-timeout", "10m"}, &stdout, stderr); code != exitOK {
		t.Fatalf("render --lock-timeout: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	mustContain(t, "render --lock-timeout", stdout.String(), "written:   us-west-2")
	if h := lock.ReadHolder(filepath.Join(repo, renderLockFile)); h != nil {
		t.Errorf("the lock file still names %v after render", h)
	}
	if data, err := os.ReadFile(filepath.Join(repo, ".coderfleet", ".gitignore")); err != nil || string(data) != stateDirIgnore {
		t.Errorf(".coderfleet/.gitignore: %q %v", data, err)
	}
}

// TestRacingRenders: renders started at once on one repository, two in
// this process and one in another, wait for each other's lock; each
// completes, and regions/ ends complete and current, with no work folder
// left. Without --lock-timeout, a render that meets the lock fails naming
// its holder and the tree is still the one complete render.
func TestRacingRenders(t *testing.T) {
	repo := exampleCopy(t)
	regions := filepath.Join(repo, "regions")
	want, err := treeio.Read(filepath.Join(testfleet.RepoRoot(t), "regions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, wait := range []bool{true, false} {
		if err := os.RemoveAll(regions); err != nil {
			t.Fatal(err)
		}
		args := []string{"render", "--repo", repo, "--force"}
		if wait {
			args = append(args, "--lock-timeout", "10m")
		}
		var cout, cerr bytes.Buffer
		child := startChild(t, args, &cout, &cerr)
		codes, errs := make([]int, 2), make([]string, 2)
		var wg gosync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out, e bytes.Buffer
				codes[i] = run(context.Background(), args, &out, &e)
				errs[i] = e.String()
			}()
		}
		wg.Wait()
		codes = append(codes, exitOf(t, child))
		errs = append(errs, cerr.String())
		ok := 0
		for i, code := range codes {
			switch {
			case code == exitOK:
				ok++
			case !wait && code == exitRuntime && strings.Contains(errs[i], `render.lock is locked by "coderfleet render" (pid `):
			default:
				t.Errorf("wait=%v: render %d: exit %d\n%s", wait, i, code, errs[i])
			}
		}
		if ok == 0 || (wait && ok != len(codes)) {
			t.Errorf("wait=%v: %d of %d renders succeeded", wait, ok, len(codes))
		}
		got, err := treeio.Read(regions)
		if err != nil {
			t.Fatal(err)
		}
		if d := treeDiff(want, got); len(d) > 0 || len(got) != len(want) {
			t.Errorf("wait=%v: regions/ after racing renders differs from the committed tree: %v", wait, d)
		}
		if left := dirNames(t, regions); len(left) != len(want) {
			t.Errorf("wait=%v: regions/ holds %v", wait, left)
		}
	}
}

// startApply runs sync apply for us-west-2 of repo in the background; its
// stdout holds the run when apply prints its plan (before any change)
// until resume is closed, after calling atPlan.
func startApply(t *testing.T, repo string, atPlan func()) (inPlan, resume chan struct{}, result func() (int, string, string)) {
	t.Helper()
	resume = make(chan struct{})
	stdout := newWatchWriter("coderfleet sync will perform the following actions:", func() {
		if atPlan != nil {
			atPlan()
		}
		<-resume
	})
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2"}, stdout, &stderr)
	}()
	return stdout.seen, resume, func() (int, string, string) {
		code := <-done
		return code, stdout.String(), stderr.String()
	}
}

// TestTwoSyncAppliesAtOnce: while one sync apply runs (held at its plan,
// before any change), a second is refused at once naming the first (pid,
// host, command, start time), before any AWS call; the first then
// completes.
func TestTwoSyncAppliesAtOnce(t *testing.T) {
	motoWithZone(t, "lock-test", "MOTO_ACM_VALIDATION_WAIT=0")
	repo := exampleCopy(t)
	inPlan, resume, result := startApply(t, repo, nil)
	<-inPlan
	code, out, errs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2")
	want := filepath.Join(repo, syncLockFile) + " " + holderText("coderfleet sync apply")
	if code != exitRuntime || out != "" || !strings.HasPrefix(errs, "error: "+want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("second apply: exit %d, stdout %q, stderr %q; want %d and one line %q", code, out, errs, exitRuntime, want)
	}
	close(resume)
	code, out, errs = result()
	if code != exitOK {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "first apply", out, "Apply complete: ", "Wrote overlays/us-west-2/outputs.yaml")
	if h := lock.ReadHolder(filepath.Join(repo, syncLockFile)); h != nil {
		t.Errorf("the lock file still names %v after apply", h)
	}
	// The lock is free again: a second apply now runs, and has nothing to do.
	code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2")
	if code != exitOK || !strings.Contains(out, "Apply complete: 0 added, 0 changed, 0 destroyed.") {
		t.Errorf("apply after the first: exit %d\n%s%s", code, out, errs)
	}
}

// TestSyncApplyLeavesARemovedOverlayAlone: a region whose overlay folder
// is removed (git rm -r overlays/us-west-2) while apply runs gets no
// outputs.yaml, which would recreate the folder and break the next
// render; one line says so and what comes next. Removed before apply,
// the region is refused as it always was, and nothing is recreated.
func TestSyncApplyLeavesARemovedOverlayAlone(t *testing.T) {
	motoWithZone(t, "decommission-test", "MOTO_ACM_VALIDATION_WAIT=0")
	repo := exampleCopy(t)
	overlay := filepath.Join(repo, "overlays", "us-west-2")
	inPlan, resume, result := startApply(t, repo, func() {
		if err := os.RemoveAll(overlay); err != nil {
			t.Error(err)
		}
	})
	<-inPlan
	close(resume)
	code, out, errs := result()
	if code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	line := "not writing overlays/us-west-2/outputs.yaml: overlays/us-west-2/ no longer exists, so region us-west-2 is being decommissioned (next: coderfleet render, then coderfleet sync apply --prune)\n"
	if strings.Count(errs, line) != 1 || strings.Contains(out, "Wrote overlays/us-west-2") {
		t.Errorf("apply should skip the outputs file in one line %q:\nstdout:\n%s\nstderr:\n%s", line, out, errs)
	}
	if _, err := os.Stat(overlay); !os.IsNotExist(err) {
		t.Fatalf("apply recreated %s: %v", overlay, err)
	}
	code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2")
	if code != exitInput || !strings.Contains(errs, "overlays/us-west-2/region.yaml does not exist") {
		t.Errorf("apply with the overlay gone: exit %d, want %d\n%s%s", code, exitInput, out, errs)
	}
	if _, err := os.Stat(overlay); !os.IsNotExist(err) {
		t.Fatalf("a refused apply recreated %s: %v", overlay, err)
	}
	code, out, errs = cli(t, "render", "--repo", repo)
	if code != exitOK {
		t.Fatalf("render after the overlay was removed: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "render", out, "removed:   us-west-2")
}

// TestRepositoryVerbsTakeTheLocks: region remove is refused while sync
// apply holds sync.lock (it would delete the overlay under the apply),
// region add and vendor while render holds render.lock, each at once with
// exit 4 naming the holder and changing nothing; with --lock-timeout,
// region remove waits for the apply and then removes the overlay.
func TestRepositoryVerbsTakeTheLocks(t *testing.T) {
	repo := exampleCopy(t)
	overlay := filepath.Join(repo, "overlays", "eu-west-2")
	apply := holdLock(t, repo, syncLockFile, "coderfleet sync apply")
	want := filepath.Join(repo, syncLockFile) + " " + holderText("coderfleet sync apply")
	code, out, errs := cli(t, "region", "remove", "eu-west-2", "--repo", repo)
	if code != exitRuntime || out != "" || !strings.Contains(errs, want) {
		t.Errorf("region remove during an apply: exit %d, stdout %q, stderr %q; want %d and %q", code, out, errs, exitRuntime, want)
	}
	if _, err := os.Stat(overlay); err != nil {
		t.Errorf("a refused region remove deleted the overlay: %v", err)
	}
	// It let go of render.lock, taken first, when sync.lock was held.
	if h := lock.ReadHolder(filepath.Join(repo, renderLockFile)); h != nil {
		t.Errorf("render.lock still names %v", h)
	}

	render := holdLock(t, repo, renderLockFile, "coderfleet render")
	want = filepath.Join(repo, renderLockFile) + " " + holderText("coderfleet render")
	for _, args := range [][]string{
		{"region", "add", "ap-south-1", "--aws-region", "ap-south-1", "--repo", repo},
		{"vendor", "--repo", repo},
	} {
		code, out, errs := cli(t, args...)
		if code != exitRuntime || out != "" || !strings.Contains(errs, want) {
			t.Errorf("%s during a render: exit %d, stdout %q, stderr %q; want %d and %q", args[:2], code, out, errs, exitRuntime, want)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "overlays", "ap-south-1")); !os.IsNotExist(err) {
		t.Errorf("a refused region add wrote overlays/ap-south-1: %v", err)
	}
	render.Release()

	stderr := newWatchWriter("waiting up to 10m0s for "+filepath.Join(repo, syncLockFile)+`, locked by "coderfleet sync apply" (pid `,
		func() { apply.Release() })
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"region", "remove", "eu-west-2", "--repo", repo, "--lock-timeout", "10m"}, &stdout, stderr); code != exitOK {
		t.Fatalf("region remove --lock-timeout: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(overlay); !os.IsNotExist(err) {
		t.Errorf("overlays/eu-west-2 still there after the apply let go: %v", err)
	}
	for _, file := range []string{renderLockFile, syncLockFile} {
		if h := lock.ReadHolder(filepath.Join(repo, file)); h != nil {
			t.Errorf("%s still names %v after region remove", file, h)
		}
	}
}
