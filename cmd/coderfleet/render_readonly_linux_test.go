package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/coderfleet/coderfleet/internal/lock"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"sigs.k8s.io/yaml"
)

// readOnlyRepoEnv names the repository TestReadOnlyRenderChild mounts
// read-only before it runs the CLI with the arguments of childArgsEnv.
const readOnlyRepoEnv = "CODERFLEET_READONLY_REPO"

// TestReadOnlyRenderChild is not a test: it is the CLI's main when
// renderReadOnly re-executes this binary in a mount namespace of its own,
// and does nothing otherwise. It bind-mounts the repository read-only over
// itself, so that even root cannot write it, and runs the CLI.
func TestReadOnlyRenderChild(t *testing.T) {
	repo := os.Getenv(readOnlyRepoEnv)
	if repo == "" {
		return
	}
	if err := syscall.Mount(repo, repo, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "bind-mounting %s: %v\n", repo, err)
		os.Exit(99)
	}
	if err := syscall.Mount("", repo, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		fmt.Fprintf(os.Stderr, "remounting %s read-only: %v\n", repo, err)
		os.Exit(99)
	}
	TestBadInputsChild(t)
}

// renderReadOnly runs the CLI with args while repo is read-only: for root,
// whom permissions do not stop, in a child process in a mount namespace of
// its own where repo is a read-only bind mount (the failure comes from
// the kernel: EROFS); for anyone else in this process, with the write
// permissions taken off repo's folders (EACCES).
func renderReadOnly(t *testing.T, repo string, args ...string) (int, string, string) {
	t.Helper()
	if os.Getuid() != 0 {
		setWritable(t, repo, false)
		t.Cleanup(func() { setWritable(t, repo, true) })
		return cli(t, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnlyRenderChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), readOnlyRepoEnv+"="+repo, childArgsEnv+"="+yamlArgs(t, args))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit) && exit.ExitCode() != 99:
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("running the CLI with %s read-only in a mount namespace (root needs CAP_SYS_ADMIN for it): %v\n%s", repo, err, stderr.String())
	return 0, "", ""
}

// setWritable adds or takes away the owner's write permission on every
// folder under root.
func setWritable(t *testing.T, root string, writable bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() &^ 0o222
		if writable {
			mode |= 0o200
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRenderFromAReadOnlyRepository: a read-only checkout renders into an
// --out folder outside it (exit 0, not 4): the lock file and the render
// state live in <out>/.coderfleet/, a one-line note says the repository
// is not locked, and nothing in the repository is written. The next render
// finds the state there and skips every region.
func TestRenderFromAReadOnlyRepository(t *testing.T) {
	repo := exampleCopy(t)
	out := filepath.Join(t.TempDir(), "rendered")
	note := "note: the repository " + repo + " is read-only, so render does not lock it (nothing can change it); the lock is " +
		filepath.Join(out, renderLockFile) + "\n"

	code, stdout, stderr := renderReadOnly(t, repo, "render", "--repo", repo, "--out", out)
	if code != exitOK || stderr != note {
		t.Fatalf("render: exit %d, stderr %q; want 0 and only %q\n%s", code, stderr, note, stdout)
	}
	want, err := treeio.Read(filepath.Join(repo, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := treeio.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if d := treeDiff(want, got); len(d) > 0 || len(got) != len(want) {
		t.Errorf("--out differs from the committed regions/: %v", d)
	}
	if _, err := os.Lstat(filepath.Join(repo, stateDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the read-only repository got %s: %v", stateDir, err)
	}
	if _, err := os.Stat(filepath.Join(out, treeio.StateFile)); err != nil {
		t.Errorf("no render state beside the output: %v", err)
	}
	if h := lock.ReadHolder(filepath.Join(out, renderLockFile)); h != nil {
		t.Errorf("the lock file still names %v", h)
	}

	code, stdout, stderr = renderReadOnly(t, repo, "render", "--repo", repo, "--out", out)
	if code != exitOK || stderr != note || !strings.Contains(stdout, "rendered 0 region(s) into "+out+" (3 skipped: inputs unchanged)") {
		t.Errorf("second render: exit %d\n%s%s", code, stdout, stderr)
	}
}

// yamlArgs is args as childArgsEnv carries them.
func yamlArgs(t *testing.T, args []string) string {
	t.Helper()
	data, err := yaml.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
