package render

import (
	"bytes"
	"maps"
	"path"
	"slices"

	"github.com/pmezard/go-difflib/difflib"
)

// FileDiff is one file whose committed content differs from a fresh render.
type FileDiff struct {
	Path string // e.g. "regions/us-east-2/coder/deployment-coder-coder.yaml"
	Diff string // unified diff, committed -> rendered
}

// Report compares a fresh render with the committed tree.
type Report struct {
	Changed []FileDiff
	Missing []string // rendered but not committed
	Extra   []string // committed but no longer rendered
}

// Stale reports whether the committed tree differs from the render.
func (r *Report) Stale() bool {
	return len(r.Changed)+len(r.Missing)+len(r.Extra) > 0
}

// Compare compares the rendered regions (want) with the committed ones
// (have), both keyed by region name; outDir prefixes the reported paths.
// When complete is false only the rendered regions are compared.
func Compare(outDir string, want, have map[string]Tree, complete bool) *Report {
	rep := &Report{}
	regions := map[string]bool{}
	for r := range want {
		regions[r] = true
	}
	if complete {
		for r := range have {
			regions[r] = true
		}
	}
	for _, r := range slices.Sorted(maps.Keys(regions)) {
		w, h := want[r], have[r]
		files := map[string]bool{}
		for p := range w {
			files[p] = true
		}
		for p := range h {
			files[p] = true
		}
		for _, p := range slices.Sorted(maps.Keys(files)) {
			full := path.Join(outDir, r, p)
			wd, inWant := w[p]
			hd, inHave := h[p]
			switch {
			case !inHave:
				rep.Missing = append(rep.Missing, full)
			case !inWant:
				rep.Extra = append(rep.Extra, full)
			case !bytes.Equal(wd, hd):
				rep.Changed = append(rep.Changed, FileDiff{Path: full, Diff: unifiedDiff(full, hd, wd)})
			}
		}
	}
	return rep
}

func unifiedDiff(name string, from, to []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(from)),
		B:        difflib.SplitLines(string(to)),
		FromFile: name + " (on disk)",
		ToFile:   name + " (rendered)",
		Context:  3,
	})
	if err != nil {
		return err.Error()
	}
	return d
}
