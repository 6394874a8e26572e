package treeio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/lock"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/render"
)

// Prefixes of the work folders Write leaves only when it is killed; the
// next Write removes them (or restores an old folder a crash left aside).
const (
	tmpPrefix = repofs.TempPrefix
	oldPrefix = ".coderfleet-old-"
)

// Summary says what Write did to each region folder.
type Summary struct {
	Written   []string // replaced or created
	Unchanged []string // already identical, left alone
	Removed   []string // owned folders of regions that no longer exist
	Foreign   []string // folders without the marker, left alone
}

// Writer replaces region folders under Dir.
type Writer struct {
	Dir string
	// afterFile, when set, runs after each file is written (tests use it
	// to kill the process half-way).
	afterFile func()
}

// State is what the last render on this machine recorded about each
// region folder it wrote. It lives outside the committed tree (see
// StateFile), so it never shows in a pull request.
type State struct {
	Regions map[string]RegionState `json:"regions"`

	mu      sync.Mutex      // guards restamp
	restamp map[string]bool // intact folders whose stamp is out of date
}

// RegionState is what a region folder was rendered from and what it holds:
// render's digests, plus a stamp of the files' sizes and modification times
// so an untouched folder is recognised without reading it.
type RegionState struct {
	render.Digest
	Stamp string `json:"stamp,omitempty"`
}

// StateFile is where the CLI keeps State, relative to the repository; the
// folder is git-ignored.
const StateFile = ".coderfleet/render-state.json"

// LoadState reads the state file; a missing or unreadable one is an empty
// state (everything renders).
func LoadState(path string) *State {
	st := &State{Regions: map[string]RegionState{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return st
	}
	if json.Unmarshal(data, st) != nil || st.Regions == nil {
		return &State{Regions: map[string]RegionState{}}
	}
	return st
}

// Stamp summarises the files of a folder by path, size and modification
// time (as git's index does), without reading them.
func Stamp(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", filepath.ToSlash(rel), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Previous returns the inputs digest of every region folder under dir that
// holds exactly what the last render wrote (so neither a hand edit nor a git
// checkout changed it since): what render.Options.Previous wants when
// Options.Intact is nil. It checks every folder (see Intact).
func (st *State) Previous(dir string) map[string]string {
	rec := st.Recorded()
	regions := slices.Sorted(maps.Keys(rec))
	// Stamping is one lstat per file: spread the regions over the CPUs.
	intact := make([]bool, len(regions))
	forEach(len(regions), func(i int) { intact[i] = st.Intact(dir, regions[i]) })
	out := map[string]string{}
	for i, r := range regions {
		if intact[i] {
			out[r] = rec[r]
		}
	}
	return out
}

// Recorded returns the inputs digest the last render recorded for each
// region, without checking the folders: render.Options.Previous, with
// Intact as render.Options.Intact to check only the folders whose inputs
// still hash the same, beside the evaluation of the others.
func (st *State) Recorded() map[string]string {
	out := make(map[string]string, len(st.Regions))
	for r, rs := range st.Regions {
		out[r] = rs.Inputs
	}
	return out
}

// Intact reports whether the folder of region under dir holds exactly what
// the last render wrote there. An unchanged stamp proves it without reading
// the files; otherwise their content is compared with the recorded outputs
// digest (and a match is restamped by Update). A region the state does not
// know is not intact. Safe for concurrent use.
func (st *State) Intact(dir, region string) bool {
	rs, ok := st.Regions[region]
	if !ok {
		return false
	}
	folder := filepath.Join(dir, region)
	if stamp, err := Stamp(folder); err == nil && rs.Stamp != "" && stamp == rs.Stamp {
		return true
	}
	if t, err := readTree(folder); err == nil && len(t) > 0 && render.OutputsDigest(t) == rs.Outputs {
		st.mu.Lock()
		if st.restamp == nil {
			st.restamp = map[string]bool{}
		}
		st.restamp[region] = true
		st.mu.Unlock()
		return true
	}
	return false
}

// forEach calls f(0..n-1) on GOMAXPROCS goroutines and waits for them.
func forEach(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// Update records a render's digests and the stamps of the folders under
// dir it wrote or kept, and forgets regions that are gone.
func (st *State) Update(dir string, res *render.Result) {
	for r, d := range res.Digests {
		st.Regions[r] = RegionState{Digest: d}
	}
	if res.Complete {
		for r := range st.Regions {
			if res.Regions[r] == nil && !slices.Contains(res.Skipped, r) {
				delete(st.Regions, r)
			}
		}
	}
	for r, rs := range st.Regions {
		if res.Regions[r] == nil && !st.restamp[r] {
			continue // skipped with a current stamp, or not rendered
		}
		if stamp, err := Stamp(filepath.Join(dir, r)); err == nil {
			rs.Stamp = stamp
			st.Regions[r] = rs
		}
	}
}

// Save writes the state file atomically (see repofs.WriteFile).
func (st *State) Save(path string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return repofs.WriteFile(path, append(data, '\n'))
}

// Read returns every region folder under dir (any sub-folder that does not
// start with "."), with all its files; a missing dir reads as empty. Each
// folder is read confined to itself (see readTree).
func Read(dir string) (map[string]render.Tree, error) {
	out := map[string]render.Tree{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		t, err := readTree(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = t
	}
	return out, nil
}

// readTree reads every file under the folder root through repofs, so a
// symbolic link leaving the folder (render writes none) is a *config.Error
// naming the file, root included, and the link's target, not a read of
// whatever it points to.
func readTree(root string) (render.Tree, error) {
	t := render.Tree{}
	dir, err := repofs.Open(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fsys := dir.IOFS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t[p] = data
		return nil
	})
	var ce *config.Error
	if errors.As(err, &ce) {
		ce.File = filepath.ToSlash(filepath.Join(root, filepath.FromSlash(ce.File)))
		return nil, ce
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", root, err)
	}
	return t, nil
}

// Owned reports whether the folder carries coderfleet's ownership marker
// (a readable .coderfleet.yaml that says coderfleet generated it).
func Owned(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, render.MarkerFile))
	if err != nil {
		return false
	}
	_, err = render.ParseMarker(data)
	return err == nil
}

// Write replaces the folder of each region in res. When res is complete
// (every region rendered), owned folders of regions that are gone are
// removed. Folders without the marker are never touched; one in the way
// of a rendered region is an error.
func (w *Writer) Write(res *render.Result) (*Summary, error) {
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %q: %w", w.Dir, err)
	}
	if err := w.recover(); err != nil {
		return nil, err
	}
	sum := &Summary{}
	regions := make([]string, 0, len(res.Regions))
	for r := range res.Regions {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	sum.Unchanged = append(sum.Unchanged, res.Skipped...)
	// Refuse before writing anything when a folder in the way is not ours.
	for _, r := range regions {
		dst := filepath.Join(w.Dir, r)
		if _, err := os.Stat(dst); err == nil && !Owned(dst) {
			return sum, fmt.Errorf("%q exists but is not owned by coderfleet (no valid %s in it): move it away, then render again", dst, render.MarkerFile)
		}
	}
	// Regions are independent folders: write them in parallel (creating
	// files is syscall-bound), each still swapped in atomically.
	written := make([]bool, len(regions))
	errs := make([]error, len(regions))
	forEach(len(regions), func(i int) {
		r := regions[i]
		same, err := equalTree(filepath.Join(w.Dir, r), res.Regions[r])
		if err == nil && !same {
			err = w.replace(r, res.Regions[r])
			written[i] = err == nil
		}
		errs[i] = err
	})
	for i, r := range regions {
		if errs[i] != nil {
			return sum, errs[i]
		}
		if written[i] {
			sum.Written = append(sum.Written, r)
		} else {
			sum.Unchanged = append(sum.Unchanged, r)
		}
	}
	sort.Strings(sum.Unchanged)
	if len(sum.Written) > 0 {
		// The swaps are renames in w.Dir: flush them too.
		if err := syncPath(w.Dir); err != nil {
			return sum, err
		}
	}
	if !res.Complete {
		return sum, nil
	}
	entries, err := os.ReadDir(w.Dir)
	if err != nil {
		return sum, fmt.Errorf("reading %q: %w", w.Dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || res.Regions[name] != nil || slices.Contains(res.Skipped, name) {
			continue
		}
		dir := filepath.Join(w.Dir, name)
		if !Owned(dir) {
			sum.Foreign = append(sum.Foreign, name)
			continue
		}
		if err := w.remove(name); err != nil {
			return sum, err
		}
		sum.Removed = append(sum.Removed, name)
	}
	if len(sum.Removed) > 0 {
		return sum, syncPath(w.Dir)
	}
	return sum, nil
}

// remove deletes the region folder name: it is renamed aside first, so it
// disappears in one step, and locked while it is (see hold), so recover
// leaves it alone.
func (w *Writer) remove(name string) error {
	dir := filepath.Join(w.Dir, name)
	held, err := hold(dir)
	if err != nil {
		return err
	}
	defer held.Release()
	aside := filepath.Join(w.Dir, oldPrefix+name)
	if err := os.Rename(dir, aside); err != nil {
		return fmt.Errorf("removing %q: %w", dir, err)
	}
	if err := os.RemoveAll(aside); err != nil {
		return fmt.Errorf("removing %q: %w", aside, err)
	}
	return nil
}

// hold locks the folder dir (lock.TryFolder) for a writer that is about to
// put it under a work name; recover skips folders whose lock is held. A
// folder another writer holds is an error.
func hold(dir string) (*lock.Lock, error) {
	l, ok, err := lock.TryFolder(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%q is being written by another coderfleet process (hint: let it finish, then render again; see the lock in .coderfleet/render.lock)", dir)
	}
	return l, nil
}

// replace writes tree aside and swaps it in for the region's folder. The
// work folder and the folder it replaces are locked (see hold) for as long
// as either exists under a work name.
func (w *Writer) replace(region string, tree render.Tree) (err error) {
	tmp, err := os.MkdirTemp(w.Dir, tmpPrefix+region+"-")
	if err != nil {
		return fmt.Errorf("creating a work folder in %q: %w", w.Dir, err)
	}
	held, err := hold(tmp)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	var old *lock.Lock // the replaced folder's lock, once taken
	defer func() {
		// Whatever tmp holds now (the new tree after a failure, or the
		// old folder after the exchange) goes before the locks do.
		if rerr := os.RemoveAll(tmp); err == nil && rerr != nil {
			err = fmt.Errorf("removing %q: %w", tmp, rerr)
		}
		held.Release()
		old.Release()
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	made := map[string]bool{tmp: true}
	files := make([]string, 0, len(tree))
	for _, p := range tree.Paths() {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		if dir := filepath.Dir(full); !made[dir] {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			made[dir] = true
		}
		if err := createFile(full, tree[p]); err != nil {
			return err
		}
		files = append(files, full)
		if w.afterFile != nil {
			w.afterFile()
		}
	}
	// Flush the files and folders before the swap, so the folder swapped
	// in is complete on disk, not only in the page cache.
	if err := flushTree(tmp, files, slices.Collect(maps.Keys(made))); err != nil {
		return err
	}
	dst := filepath.Join(w.Dir, region)
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("moving %q into place: %w", dst, err)
		}
		return nil
	}
	if old, err = hold(dst); err != nil {
		return err
	}
	if err := exchange(tmp, dst); err == nil {
		return nil // tmp now holds the old folder; the deferred RemoveAll drops it
	}
	// Two renames where the exchange is not supported; recover() repairs
	// the window between them after a crash.
	aside := filepath.Join(w.Dir, oldPrefix+region)
	if err := os.Rename(dst, aside); err != nil {
		return fmt.Errorf("moving %q aside: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Rename(aside, dst)
		return fmt.Errorf("moving %q into place: %w", dst, err)
	}
	return os.RemoveAll(aside)
}

// recover cleans up after a Write that was killed: work folders are
// dropped, and an old folder moved aside whose replacement never arrived
// is put back. A work folder whose lock is held belongs to a writer that
// is still running (another render, or another Writer of this process)
// and is left alone.
func (w *Writer) recover() error {
	entries, err := os.ReadDir(w.Dir)
	if err != nil {
		return fmt.Errorf("reading %q: %w", w.Dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, tmpPrefix) && !strings.HasPrefix(name, oldPrefix) {
			continue
		}
		full := filepath.Join(w.Dir, name)
		l, ok, err := lock.TryFolder(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue // its writer finished meanwhile
		}
		if err != nil {
			return err
		}
		if !ok {
			continue // its writer is alive
		}
		err = w.recoverOne(name)
		l.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// recoverOne drops or restores the work folder name, which no writer holds.
func (w *Writer) recoverOne(name string) error {
	full := filepath.Join(w.Dir, name)
	if orig, ok := strings.CutPrefix(name, oldPrefix); ok {
		orig = filepath.Join(w.Dir, orig)
		if _, err := os.Stat(orig); errors.Is(err, fs.ErrNotExist) {
			return os.Rename(full, orig)
		}
	}
	return os.RemoveAll(full)
}

// equalTree reports whether the folder dir holds exactly tree.
func equalTree(dir string, tree render.Tree) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	have, err := readTree(dir)
	if err != nil {
		return false, err
	}
	if len(have) != len(tree) {
		return false, nil
	}
	for p, data := range tree {
		if !bytes.Equal(have[p], data) {
			return false, nil
		}
	}
	return true, nil
}
