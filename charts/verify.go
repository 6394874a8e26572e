package charts

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/diag"
)

// MismatchError says that the vendored charts do not match charts.lock or
// charts.yaml. Its remedy is always the same: run "coderfleet vendor" (and
// review what changed).
type MismatchError struct {
	// Problems lists each mismatch as one sentence, sorted.
	Problems []string
	// Folder is the charts folder as the repository names it
	// ("templates/charts"), so the message names the lock's real path.
	Folder string
}

// Error implements error.
func (e *MismatchError) Error() string {
	folder := e.Folder
	if folder == "" {
		folder = path.Join("templates", Dir)
	}
	return "vendored charts do not match " + path.Join(folder, LockFile) + ":\n  - " +
		strings.Join(e.Problems, "\n  - ") +
		"\nrun \"coderfleet vendor\" to vendor the charts listed in " + path.Join(folder, ConfigFile) + " again, then review the diff"
}

// displayFolder is the charts folder under templatesDir as a repository's
// user knows it: "templates/charts" (the templates folder's own name, not
// the absolute path it was read from).
func displayFolder(templatesDir string) string {
	return path.Join(path.Base(filepath.ToSlash(templatesDir)), Dir)
}

// Vendored is the verified state of templates/charts: the chart list, the
// lock and the files of every vendored chart, read once.
type Vendored struct {
	// Config is the parsed charts.yaml.
	Config *Config
	// Lock is the parsed charts.lock (empty when no chart is listed).
	Lock *Lock

	trees map[string][]file
}

// Check compares the vendored charts under templatesDir with charts.lock and
// charts.yaml without any network access, and returns every mismatch it
// finds (none means the vendored files are exactly what the lock records).
// It returns an error only when a file cannot be read or parsed.
func Check(fsys filesys.FileSystem, templatesDir string) ([]string, error) {
	_, problems, err := inspect(fsys, templatesDir)
	return problems, err
}

// Verify is [Check] for renders: it returns the verified state, or a
// *MismatchError listing every mismatch. It is the check every render runs, so
// a tampered file, a version changed in charts.yaml without "coderfleet
// vendor", or a lock written by another Helm version stops the render.
func Verify(fsys filesys.FileSystem, templatesDir string) (*Vendored, error) {
	v, problems, err := inspect(fsys, templatesDir)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &diag.Error{Err: &MismatchError{Problems: problems, Folder: displayFolder(templatesDir)}}
	}
	return v, nil
}

func inspect(fsys filesys.FileSystem, templatesDir string) (*Vendored, []string, error) {
	cfg, err := LoadConfig(fsys, templatesDir)
	if err != nil {
		return nil, nil, err
	}
	lock, err := loadLock(fsys, templatesDir)
	if err != nil {
		return nil, nil, err
	}
	v := &Vendored{Config: cfg, Lock: lock, trees: map[string][]file{}}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if lock == nil {
		v.Lock = &Lock{HelmVersion: HelmVersion()}
		if len(cfg.Charts) > 0 {
			add("%s lists %d chart(s) but there is no %s", path.Join(Dir, ConfigFile), len(cfg.Charts), path.Join(Dir, LockFile))
		}
	} else if len(lock.Charts) > 0 && lock.HelmVersion != HelmVersion() {
		add("%s was written with Helm %s but this coderfleet renders with Helm %s", path.Join(Dir, LockFile), lock.HelmVersion, HelmVersion())
	}

	listed := map[string]bool{}
	for _, ch := range cfg.Charts {
		listed[ch.Name] = true
		if lock == nil {
			continue
		}
		lc, ok := lock.Lookup(ch.Name)
		if !ok {
			add("chart %q (%s line %d) is not in %s", ch.Name, ConfigFile, ch.Line, LockFile)
			continue
		}
		if lc.Version != ch.Version {
			add("chart %q: %s asks for version %s but %s has %s", ch.Name, ConfigFile, ch.Version, LockFile, lc.Version)
			continue
		}
		if lc.Repository != ch.Repository {
			add("chart %q: %s names repository %s but %s has %s", ch.Name, ConfigFile, ch.Repository, LockFile, lc.Repository)
			continue
		}
		dir := ChartDir(templatesDir, ch.Name, ch.Version)
		shown := path.Join(displayFolder(templatesDir), ch.Name, ch.Version)
		if !fsys.IsDir(dir) {
			add("chart %q %s: folder %q is missing", ch.Name, ch.Version, shown)
			continue
		}
		files, err := readTree(fsys, dir)
		if err != nil {
			return nil, nil, err
		}
		got, err := treeDigest(files)
		if err != nil {
			return nil, nil, fmt.Errorf("hashing %q: %w", dir, err)
		}
		if got != lc.TreeDigest {
			add("chart %q %s: the files under %q do not match the lock (tree digest %s, locked %s): a vendored file was edited, added or removed", ch.Name, ch.Version, shown, got, lc.TreeDigest)
			continue
		}
		v.trees[ch.Name] = files
	}
	if lock != nil {
		for _, lc := range lock.Charts {
			if !listed[lc.Name] {
				add("%s has chart %q that %s does not list", LockFile, lc.Name, ConfigFile)
			}
		}
	}

	// Anything else under templates/charts/ is stale: an unlisted chart, or
	// another version of a listed one.
	root := path.Join(templatesDir, Dir)
	if fsys.IsDir(root) {
		entries, err := fsys.ReadDir(root)
		if err != nil {
			return nil, nil, fmt.Errorf("listing %q: %w", root, err)
		}
		for _, name := range entries {
			p := path.Join(root, name)
			if !fsys.IsDir(p) {
				continue // charts.yaml, charts.lock, a README
			}
			ch, ok := cfg.Lookup(name)
			if !ok {
				add("folder %q holds chart %q, which %s does not list", p, name, ConfigFile)
				continue
			}
			versions, err := fsys.ReadDir(p)
			if err != nil {
				return nil, nil, fmt.Errorf("listing %q: %w", p, err)
			}
			for _, ver := range versions {
				if ver != ch.Version {
					add("%q is not the listed version %s of chart %q (stale or stray)", path.Join(p, ver), ch.Version, name)
				}
			}
		}
	}
	sort.Strings(problems)
	return v, problems, nil
}
