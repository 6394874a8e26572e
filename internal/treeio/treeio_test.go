package treeio

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderfleet/coderfleet/render"
)

func tree(region, gen string, files int) render.Tree {
	t := render.Tree{render.MarkerFile: render.Marker{Region: region, Version: "test"}.Bytes()}
	for i := 0; i < files; i++ {
		t[fmt.Sprintf("comp%d/file-%03d.yaml", i%3, i)] = []byte(fmt.Sprintf("%s %s %d\n", region, gen, i))
	}
	return t
}

func result(complete bool, trees map[string]render.Tree) *render.Result {
	return &render.Result{Regions: trees, Complete: complete}
}

func mustWrite(t *testing.T, w *Writer, res *render.Result) *Summary {
	t.Helper()
	sum, err := w.Write(res)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func mustEqual(t *testing.T, dir string, want render.Tree) {
	t.Helper()
	ok, err := equalTree(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		got, _ := readTree(dir)
		t.Fatalf("%s holds %v, want %v", dir, got.Paths(), want.Paths())
	}
}

func TestWriteReplacesAndRemovesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	w := &Writer{Dir: dir}
	mustWrite(t, w, result(true, map[string]render.Tree{"a": tree("a", "v1", 9), "b": tree("b", "v1", 3)}))
	sum := mustWrite(t, w, result(true, map[string]render.Tree{"a": tree("a", "v2", 4), "b": tree("b", "v1", 3)}))
	if strings.Join(sum.Written, ",") != "a" || strings.Join(sum.Unchanged, ",") != "b" {
		t.Errorf("summary %+v", sum)
	}
	mustEqual(t, filepath.Join(dir, "a"), tree("a", "v2", 4)) // files 4..8 are gone
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("work folder left behind: %s", e.Name())
		}
	}
}

func TestWriteRemovesOnlyOwnedRegions(t *testing.T) {
	dir := t.TempDir()
	w := &Writer{Dir: dir}
	mustWrite(t, w, result(true, map[string]render.Tree{"a": tree("a", "v1", 2), "b": tree("b", "v1", 2)}))
	if err := os.MkdirAll(filepath.Join(dir, "handmade"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "handmade", "x.yaml"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("notes"), 0o644)

	// A partial render (one region) never removes anything.
	sum := mustWrite(t, w, result(false, map[string]render.Tree{"a": tree("a", "v1", 2)}))
	if len(sum.Removed) != 0 {
		t.Fatalf("partial render removed %v", sum.Removed)
	}
	sum = mustWrite(t, w, result(true, map[string]render.Tree{"a": tree("a", "v1", 2)}))
	if strings.Join(sum.Removed, ",") != "b" || strings.Join(sum.Foreign, ",") != "handmade" {
		t.Fatalf("summary %+v", sum)
	}
	for _, p := range []string{"handmade/x.yaml", "README.md", "a/.coderfleet.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s should remain: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Errorf("owned folder b should be gone: %v", err)
	}
}

func TestWriteRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "keep.yaml"), []byte("mine"), 0o644)
	_, err := (&Writer{Dir: dir}).Write(result(true, map[string]render.Tree{"a": tree("a", "v1", 2)}))
	if err == nil || !strings.Contains(err.Error(), "not owned by coderfleet") {
		t.Fatalf("want refusal, got %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a", "keep.yaml")); string(data) != "mine" {
		t.Fatal("foreign file touched")
	}
}

func TestRecoverRestoresFolderMovedAside(t *testing.T) {
	dir := t.TempDir()
	w := &Writer{Dir: dir}
	mustWrite(t, w, result(true, map[string]render.Tree{"a": tree("a", "v1", 2)}))
	// Simulate a crash between the two renames of the fallback path.
	if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, oldPrefix+"a")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, tmpPrefix+"a-123"), 0o755)
	mustWrite(t, w, result(false, map[string]render.Tree{}))
	mustEqual(t, filepath.Join(dir, "a"), tree("a", "v1", 2))
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"a-123")); !os.IsNotExist(err) {
		t.Error("work folder not cleaned")
	}
}

// TestRecoverLeavesALiveWritersFolder: a second Writer's crash recovery
// runs while the first is half-way through writing its work folder; the
// folder is locked, so recovery leaves it, and both writes complete.
func TestRecoverLeavesALiveWritersFolder(t *testing.T) {
	dir := t.TempDir()
	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := &Writer{Dir: dir, afterFile: func() {
		once.Do(func() {
			close(paused)
			<-resume
		})
	}}
	done := make(chan error)
	go func() {
		_, err := first.Write(result(false, map[string]render.Tree{"a": tree("a", "v1", 9)}))
		done <- err
	}()
	<-paused
	work, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"a-*"))
	if len(work) != 1 {
		t.Fatalf("want the first writer's work folder, found %v", work)
	}
	// A work folder a killed writer left is not locked: it goes.
	dead := filepath.Join(dir, tmpPrefix+"b-dead")
	if err := os.MkdirAll(filepath.Join(dead, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, &Writer{Dir: dir}, result(false, map[string]render.Tree{"b": tree("b", "v1", 2)}))
	if _, err := os.Stat(work[0]); err != nil {
		t.Errorf("recovery removed a live writer's work folder: %v", err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("recovery left a dead writer's work folder: %v", err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatalf("the first writer failed: %v", err)
	}
	mustEqual(t, filepath.Join(dir, "a"), tree("a", "v1", 9))
	mustEqual(t, filepath.Join(dir, "b"), tree("b", "v1", 2))
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("leftovers: %v", entries)
	}
}

const crashEnv = "CODERFLEET_TREEIO_CRASH_CHILD"

// TestCrashChild is the child process of TestKilledWriteLeavesEachRegionIntact:
// it writes generation v2 slowly until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestKilledWriteLeavesEachRegionIntact; runs only as its child")
	}
	// Report every file written, so the parent can kill at a chosen point.
	var mu sync.Mutex
	w := &Writer{Dir: dir, afterFile: func() {
		mu.Lock()
		fmt.Println("wrote")
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
	}}
	fmt.Println("ready")
	if _, err := w.Write(result(true, crashTrees("v2"))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func crashTrees(gen string) map[string]render.Tree {
	return map[string]render.Tree{"r1": tree("r1", gen, 60), "r2": tree("r2", gen, 60), "r3": tree("r3", gen, 60)}
}

func TestKilledWriteLeavesEachRegionIntact(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for i := 0; i < 24; i++ {
		dir := t.TempDir()
		mustWrite(t, &Writer{Dir: dir}, result(true, crashTrees("v1")))
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child has written 8*i files, then kill it, so
		// kills land before, during and after the writes (180 files).
		rd := bufio.NewReader(stdout)
		line, _ := rd.ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("child did not start writing: %q %s", line, stderr.String())
		}
		for n := 0; n < 8*i; n++ {
			if _, err := rd.ReadString('\n'); err != nil {
				break // finished (or died) before that point
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// Each region is entirely v1 or entirely v2, never a mix.
		for r, v1 := range crashTrees("v1") {
			old, err := equalTree(filepath.Join(dir, r), v1)
			if err != nil {
				t.Fatal(err)
			}
			neu, _ := equalTree(filepath.Join(dir, r), crashTrees("v2")[r])
			if !old && !neu {
				got, _ := readTree(filepath.Join(dir, r))
				t.Fatalf("kill %d: region %s is neither old nor new (%d files); child stderr: %s", i, r, len(got), stderr.String())
			}
			if old {
				states["old"]++
			} else {
				states["new"]++
			}
		}
		// The next write completes and cleans up.
		mustWrite(t, &Writer{Dir: dir}, result(true, crashTrees("v2")))
		for r, v2 := range crashTrees("v2") {
			mustEqual(t, filepath.Join(dir, r), v2)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 3 {
			t.Fatalf("kill %d: leftovers after the next write: %d entries", i, len(entries))
		}
	}
	if states["old"] == 0 || states["new"] == 0 {
		t.Errorf("kills did not land mid-write (states %v); the test proves nothing", states)
	}
	t.Logf("region states seen right after kills: %v", states)
}
