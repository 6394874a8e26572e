package kubetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ToolsModuleDir is the tools module that builds the binaries, relative to the
// repository root.
const ToolsModuleDir = "tools/kube"

// ToolsInputs are the files of the tools module that decide what gets built,
// relative to [ToolsModuleDir]. Changing any of them changes the cache key.
var ToolsInputs = []string{
	"go.mod",
	"go.sum",
	"kube-apiserver/main.go",
	"etcd/main.go",
}

// buildRecipe describes how EnsureBinaries builds; it is part of the cache
// key, so changing the build flags below must change it too.
const buildRecipe = "go build -trimpath -buildvcs=false -mod=readonly CGO_ENABLED=0 GOWORK=off"

// Binaries are the paths of the two programs a [Server] runs.
type Binaries struct {
	// APIServer is the kube-apiserver executable.
	APIServer string
	// Etcd is the etcd executable.
	Etcd string
}

// BuildOptions say where the tools module is, where built binaries are cached
// and how to report progress.
type BuildOptions struct {
	// ToolsDir is the directory of the tools module (tools/kube).
	ToolsDir string
	// CacheRoot is the directory that holds one subdirectory per cache key,
	// usually from [DefaultCacheRoot].
	CacheRoot string
	// GoCommand is the go tool to build with; empty means "go" from PATH.
	GoCommand string
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// Toolchain identifies the Go toolchain and target a build is made with; it is
// part of the cache key because binaries for another toolchain or platform
// must not be reused.
type Toolchain struct {
	// GoVersion is `go env GOVERSION`.
	GoVersion string
	// GOOS is `go env GOOS`.
	GOOS string
	// GOARCH is `go env GOARCH`.
	GOARCH string
}

// CacheKey hashes the tools module's inputs (see [ToolsInputs]) read from
// fsys, which is rooted at the tools module, together with the toolchain. It is
// pure: the same files and toolchain always give the same key.
func CacheKey(fsys fs.FS, tc Toolchain) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\ntoolchain %s %s/%s\n", buildRecipe, tc.GoVersion, tc.GOOS, tc.GOARCH)
	for _, name := range ToolsInputs {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("reading tools module input %q: %w", name, err)
		}
		fmt.Fprintf(h, "file %s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// DefaultCacheRoot returns $XDG_CACHE_HOME/coderfleet/kube, or
// $HOME/.cache/coderfleet/kube when XDG_CACHE_HOME is unset. getenv is
// usually os.Getenv.
func DefaultCacheRoot(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_CACHE_HOME"); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("resolving the kube binary cache: XDG_CACHE_HOME %q is not an absolute path", dir)
		}
		return filepath.Join(dir, "coderfleet", "kube"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("resolving the kube binary cache: neither XDG_CACHE_HOME nor HOME is set; set XDG_CACHE_HOME to a writable directory")
	}
	return filepath.Join(home, ".cache", "coderfleet", "kube"), nil
}

// FindToolsDir walks up from start to the first directory that holds
// tools/kube/go.mod and returns that tools module directory.
func FindToolsDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", ToolsModuleDir, err)
	}
	for {
		candidate := filepath.Join(dir, filepath.FromSlash(ToolsModuleDir))
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding %s: no %s/go.mod in %q or any parent; run from inside the coderfleet repository", ToolsModuleDir, ToolsModuleDir, start)
		}
		dir = parent
	}
}

// EnsureBinaries returns cached kube-apiserver and etcd binaries for the tools
// module, building them first when the cache has none for the current key.
// Concurrent callers (parallel test packages) share one build through a lock
// file; a build is written to a temporary directory and renamed into place, so
// a half-finished build is never used.
func EnsureBinaries(ctx context.Context, opts BuildOptions) (Binaries, error) {
	goCmd := opts.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if _, err := exec.LookPath(goCmd); err != nil {
		return Binaries{}, fmt.Errorf("building kube-apiserver and etcd: the go tool %q is not available: %w; install Go 1.26 or put it on PATH", goCmd, err)
	}
	tc, err := goToolchain(ctx, goCmd, opts.ToolsDir)
	if err != nil {
		return Binaries{}, err
	}
	key, err := CacheKey(os.DirFS(opts.ToolsDir), tc)
	if err != nil {
		return Binaries{}, err
	}
	dir := filepath.Join(opts.CacheRoot, key)
	bins := Binaries{APIServer: filepath.Join(dir, "kube-apiserver"), Etcd: filepath.Join(dir, "etcd")}
	if complete(bins) {
		return bins, nil
	}
	if err := os.MkdirAll(opts.CacheRoot, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("creating the kube binary cache %q: %w", opts.CacheRoot, err)
	}
	unlock, err := lockFile(filepath.Join(opts.CacheRoot, key+".lock"))
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if complete(bins) { // another process built it while we waited
		return bins, nil
	}
	tmp, err := os.MkdirTemp(opts.CacheRoot, key+".building-")
	if err != nil {
		return Binaries{}, fmt.Errorf("creating a build directory in %q: %w", opts.CacheRoot, err)
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(progress, "kubetest: building kube-apiserver and etcd from %q into %q (first run only; about 10-15 minutes on 2 cores)\n", opts.ToolsDir, dir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-mod=readonly", "-o", tmp+string(filepath.Separator), "./kube-apiserver", "./etcd")
	cmd.Dir = opts.ToolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	// An interrupted go build stops its compilers; what they finished stays
	// in the Go build cache, so the next attempt resumes.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return Binaries{}, fmt.Errorf("building kube-apiserver and etcd in %q: stopped after %s (%w) before it finished; the finished part is cached by Go, so run `make kube-bins` (no time limit) and then the tests again, or raise `go test -timeout`", opts.ToolsDir, time.Since(start).Round(time.Second), context.Cause(ctx))
	}
	if err != nil {
		return Binaries{}, fmt.Errorf("building kube-apiserver and etcd in %q: %w\n%s\nhint: run `make kube-bins` to see the build on its own", opts.ToolsDir, err, out)
	}
	if err := os.RemoveAll(dir); err != nil {
		return Binaries{}, fmt.Errorf("replacing incomplete cache entry %q: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Binaries{}, fmt.Errorf("moving built binaries into %q: %w", dir, err)
	}
	fmt.Fprintf(progress, "kubetest: built kube-apiserver and etcd in %s\n", time.Since(start).Round(time.Second))
	if !complete(bins) {
		return Binaries{}, fmt.Errorf("building kube-apiserver and etcd: the build succeeded but %q or %q is missing", bins.APIServer, bins.Etcd)
	}
	return bins, nil
}

func complete(b Binaries) bool {
	for _, p := range []string{b.APIServer, b.Etcd} {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o100 == 0 {
			return false
		}
	}
	return true
}

func goToolchain(ctx context.Context, goCmd, dir string) (Toolchain, error) {
	cmd := exec.CommandContext(ctx, goCmd, "env", "GOVERSION", "GOOS", "GOARCH")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Toolchain{}, fmt.Errorf("asking %q for its version: %w\n%s", goCmd, err, stderr.Bytes())
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return Toolchain{}, fmt.Errorf("asking %q for its version: unexpected `go env` output %q", goCmd, out)
	}
	return Toolchain{GoVersion: f[0], GOOS: f[1], GOARCH: f[2]}, nil
}

// lockFile takes an exclusive advisory lock on path, waiting for it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock %q: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %q: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
