package charts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Archive is a chart archive as fetched from its repository.
type Archive struct {
	// Data is the .tgz as served.
	Data []byte
	// ManifestDigest is the OCI manifest digest ("sha256:..."), for charts
	// pulled from a registry; empty for chart repositories.
	ManifestDigest string
}

// Fetcher fetches one chart version's archive. [NewHelmFetcher] returns the
// real one, built on Helm's getters and registry client. An implementation
// must verify whatever digest the source publishes (the index.yaml digest,
// the OCI layer digest) before returning.
type Fetcher interface {
	Fetch(ctx context.Context, ch Chart) (*Archive, error)
}

// VendorOptions configures [Vendor].
type VendorOptions struct {
	// FS is where the templates directory lives (on disk in the CLI).
	FS filesys.FileSystem
	// TemplatesDir is the templates directory; charts go to
	// <TemplatesDir>/charts/.
	TemplatesDir string
	// Fetcher fetches the archives; required.
	Fetcher Fetcher
}

// VendorStatus says what Vendor did with one chart.
type VendorStatus string

// What Vendor did with one chart.
const (
	// StatusAdded is a chart that was not vendored before.
	StatusAdded VendorStatus = "added"
	// StatusUpdated is a chart whose version or repository changed.
	StatusUpdated VendorStatus = "updated"
	// StatusUnchanged is a chart pulled again with the same archive digest
	// (its files are rewritten, which repairs a hand edit).
	StatusUnchanged VendorStatus = "unchanged"
)

// VendoredChart reports one vendored chart.
type VendoredChart struct {
	Name    string
	Version string
	// Previous is the version in the old lock, if any.
	Previous string
	Status   VendorStatus
	// Dir is the folder the chart was unpacked into.
	Dir string
}

// VendorResult reports what [Vendor] did.
type VendorResult struct {
	// Charts lists the vendored charts, sorted by name.
	Charts []VendoredChart
	// Removed lists the folders removed (stale versions, unlisted charts), sorted.
	Removed []string
	// LockPath is the path of the lock written; empty when no chart is
	// listed and none was vendored before (nothing is written then).
	LockPath string
}

// Vendor pulls every chart listed in charts.yaml through opts.Fetcher,
// verifies it (archive digest, chart name and version in Chart.yaml, safe
// paths), unpacks it under templates/charts/<name>/<version>/ and writes
// charts.lock. Every chart is pulled on every run: nothing is cached by name,
// so a version changed in charts.yaml is always the one vendored. Folders of
// other versions and of charts no longer listed are removed. Nothing is
// written unless every chart was fetched and verified.
//
// A repository that now serves a different archive for a version the lock
// already records is an error: published chart versions must not change.
func Vendor(ctx context.Context, opts VendorOptions) (*VendorResult, error) {
	if opts.FS == nil || opts.Fetcher == nil {
		return nil, fmt.Errorf("vendoring charts: FS and Fetcher are required")
	}
	cfg, err := LoadConfig(opts.FS, opts.TemplatesDir)
	if err != nil {
		return nil, err
	}
	old, err := loadLock(opts.FS, opts.TemplatesDir)
	if err != nil {
		return nil, err
	}
	if old == nil {
		if len(cfg.Charts) == 0 {
			// Nothing listed and nothing vendored: leave the tree alone.
			return &VendorResult{}, nil
		}
		old = &Lock{}
	}

	type pulled struct {
		ch     Chart
		files  []file
		locked LockedChart
	}
	var all []pulled
	for _, ch := range cfg.Charts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vendoring charts: %w", err)
		}
		arc, err := opts.Fetcher.Fetch(ctx, ch)
		if err != nil {
			return nil, fmt.Errorf("fetching chart %q %s from %s: %w", ch.Name, ch.Version, ch.Repository, err)
		}
		files, err := unpack(ch, arc.Data)
		if errors.Is(err, errIncompleteArchive) {
			// Pulling again never helps: the version charts.yaml names is
			// the input to change.
			return nil, &ConfigError{File: ConfigPath(opts.TemplatesDir), Line: ch.Line, Key: "charts[" + ch.Name + "].version",
				Msg:  fmt.Sprintf("chart %q %s from %s: %v", ch.Name, ch.Version, ch.Repository, err),
				Hint: "vendor a chart version that packages its dependencies (its publisher runs helm dependency build before helm package), or vendor the dependency as a chart of its own"}
		}
		if err != nil {
			return nil, fmt.Errorf("verifying chart %q %s from %s: %w", ch.Name, ch.Version, ch.Repository, err)
		}
		td, err := treeDigest(files)
		if err != nil {
			return nil, fmt.Errorf("hashing chart %q: %w", ch.Name, err)
		}
		lc := LockedChart{
			Name:           ch.Name,
			Repository:     ch.Repository,
			Version:        ch.Version,
			ArchiveDigest:  sha256Digest(arc.Data),
			TreeDigest:     td,
			ManifestDigest: arc.ManifestDigest,
		}
		// A locked name and version keep their archive whatever the
		// repository is called now: a trailing slash, another spelling or a
		// mirror must not slip a different archive in.
		if prev, ok := old.Lookup(ch.Name); ok && prev.Version == lc.Version && prev.ArchiveDigest != lc.ArchiveDigest {
			from := ""
			if prev.Repository != lc.Repository {
				from = fmt.Sprintf(" (locked from %s)", prev.Repository)
			}
			return nil, &ConfigError{File: path.Join(displayFolder(opts.TemplatesDir), LockFile),
				Msg: fmt.Sprintf("chart %q %s: %s now serves archive %s but the lock records %s%s: a published version changed and must not; if you trust the new archive, delete the chart's entry from %s and run \"coderfleet vendor\" again",
					ch.Name, ch.Version, ch.Repository, lc.ArchiveDigest, prev.ArchiveDigest, from, LockFile)}
		}
		all = append(all, pulled{ch: ch, files: files, locked: lc})
	}

	res := &VendorResult{LockPath: LockPath(opts.TemplatesDir)}
	root := path.Join(opts.TemplatesDir, Dir)
	if err := opts.FS.MkdirAll(root); err != nil {
		return nil, fmt.Errorf("creating %q: %w", root, err)
	}

	// Remove what no longer belongs: folders of unlisted charts and other
	// versions of listed ones.
	entries, err := opts.FS.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", root, err)
	}
	for _, name := range entries {
		p := path.Join(root, name)
		if !opts.FS.IsDir(p) {
			continue
		}
		ch, listed := cfg.Lookup(name)
		if !listed {
			if err := opts.FS.RemoveAll(p); err != nil {
				return nil, fmt.Errorf("removing unlisted chart %q: %w", p, err)
			}
			res.Removed = append(res.Removed, p)
			continue
		}
		versions, err := opts.FS.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("listing %q: %w", p, err)
		}
		for _, v := range versions {
			if v == ch.Version {
				continue
			}
			vp := path.Join(p, v)
			if err := opts.FS.RemoveAll(vp); err != nil {
				return nil, fmt.Errorf("removing stale version %q: %w", vp, err)
			}
			res.Removed = append(res.Removed, vp)
		}
	}

	lock := &Lock{HelmVersion: HelmVersion()}
	for _, p := range all {
		dir := ChartDir(opts.TemplatesDir, p.ch.Name, p.ch.Version)
		// Rewrite the folder from scratch so a stray or edited file never survives.
		if err := opts.FS.RemoveAll(dir); err != nil && opts.FS.Exists(dir) {
			return nil, fmt.Errorf("clearing %q: %w", dir, err)
		}
		for _, f := range p.files {
			fp := path.Join(dir, f.Name)
			if err := opts.FS.MkdirAll(path.Dir(fp)); err != nil {
				return nil, fmt.Errorf("creating %q: %w", path.Dir(fp), err)
			}
			if err := opts.FS.WriteFile(fp, f.Data); err != nil {
				return nil, fmt.Errorf("writing %q: %w", fp, err)
			}
		}
		lock.Charts = append(lock.Charts, p.locked)
		vc := VendoredChart{Name: p.ch.Name, Version: p.ch.Version, Dir: dir, Status: StatusAdded}
		if prev, ok := old.Lookup(p.ch.Name); ok {
			vc.Previous = prev.Version
			vc.Status = StatusUpdated
			if prev.Version == p.ch.Version && prev.Repository == p.ch.Repository {
				vc.Status = StatusUnchanged
			}
		}
		res.Charts = append(res.Charts, vc)
	}
	data, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	if err := opts.FS.WriteFile(res.LockPath, data); err != nil {
		return nil, fmt.Errorf("writing %q: %w", res.LockPath, err)
	}
	sort.Slice(res.Charts, func(i, j int) bool { return res.Charts[i].Name < res.Charts[j].Name })
	sort.Strings(res.Removed)
	return res, nil
}

// errIncompleteArchive marks an archive whose Chart.yaml names dependencies
// it does not package.
var errIncompleteArchive = errors.New("the archive is incomplete")

// unpack reads a chart archive with Helm's loader (which refuses absolute
// paths, parent references and oversized files), checks that it is the chart
// and version asked for, and returns its files relative to the chart root.
func unpack(ch Chart, data []byte) ([]file, error) {
	bfs, err := loader.LoadArchiveFiles(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	c, err := loader.LoadFiles(bfs)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	if c.Metadata == nil || c.Metadata.Name != ch.Name {
		got := ""
		if c.Metadata != nil {
			got = c.Metadata.Name
		}
		return nil, fmt.Errorf("the archive holds chart %q, not %q", got, ch.Name)
	}
	if err := checkDependencies(c); err != nil {
		return nil, fmt.Errorf("%w: %w and would fail at every render", err, errIncompleteArchive)
	}
	want, _ := semver.NewVersion(ch.Version)
	got, err := semver.NewVersion(c.Metadata.Version)
	if err != nil || want == nil || !got.Equal(want) || got.Metadata() != want.Metadata() {
		return nil, fmt.Errorf("the archive holds version %q of the chart, not %q", c.Metadata.Version, ch.Version)
	}
	seen := map[string]bool{}
	files := make([]file, 0, len(bfs))
	for _, bf := range bfs {
		if !cleanRel(bf.Name) {
			return nil, fmt.Errorf("the archive has an unsafe path %q", bf.Name)
		}
		if seen[bf.Name] {
			return nil, fmt.Errorf("the archive has %q twice", bf.Name)
		}
		seen[bf.Name] = true
		files = append(files, file{Name: bf.Name, Data: bf.Data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// sha256Digest returns "sha256:<hex>" of data.
func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sameDigest compares a published digest (with or without the "sha256:"
// prefix, as index.yaml and OCI spell it) with data's.
func sameDigest(published string, data []byte) bool {
	return strings.TrimPrefix(strings.ToLower(published), "sha256:") == strings.TrimPrefix(sha256Digest(data), "sha256:")
}
