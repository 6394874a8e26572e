package main

import (
	"maps"
	"slices"

	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"github.com/coderfleet/coderfleet/render"
)

// The schema versions of `render -o json` and `check -o json`.
var (
	renderSchema = jsonout.Schema("render")
	checkSchema  = jsonout.Schema("check")
)

// States of a region folder in `render -o json`.
const (
	regionWritten   = "written"    // rendered and replaced
	regionUnchanged = "unchanged"  // rendered, identical to what was there
	regionSkipped   = "skipped"    // inputs unchanged since the last render: not evaluated
	regionRemoved   = "removed"    // its overlay is gone: the owned folder was deleted
	regionLeftAlone = "left-alone" // a folder without the ownership marker
)

type renderDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	Summary       struct {
		Rendered  int `json:"rendered"`
		Written   int `json:"written"`
		Unchanged int `json:"unchanged"`
		Skipped   int `json:"skipped"`
		Removed   int `json:"removed"`
		LeftAlone int `json:"leftAlone"`
		Warnings  int `json:"warnings"`
	} `json:"summary"`
	// OutDir is the folder rendered into, as the text output names it.
	OutDir string `json:"outDir"`
	// Regions are the region folders by name, each with its state.
	Regions  []renderedRegion `json:"regions"`
	Warnings []string         `json:"warnings"`
}

type renderedRegion struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// regionStates is the state of every region folder a render touched or
// looked at (written, unchanged, skipped, removed, left-alone), the one
// classification the text and JSON outputs print.
func regionStates(res *render.Result, sum *treeio.Summary) map[string]string {
	state := map[string]string{}
	for _, n := range sum.Written {
		state[n] = regionWritten
	}
	for _, n := range sum.Unchanged {
		state[n] = regionUnchanged
	}
	for _, n := range res.Skipped {
		state[n] = regionSkipped // the writer counts them as unchanged
	}
	for _, n := range sum.Removed {
		state[n] = regionRemoved
	}
	for _, n := range sum.Foreign {
		state[n] = regionLeftAlone
	}
	return state
}

// regionsIn returns the regions of state s, sorted.
func regionsIn(state map[string]string, s string) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(state)) {
		if state[n] == s {
			out = append(out, n)
		}
	}
	return out
}

func newRenderDocument(outDir string, res *render.Result, sum *treeio.Summary) renderDocument {
	d := renderDocument{SchemaVersion: renderSchema, OutDir: outDir, Warnings: append([]string{}, res.Warnings...)}
	state := regionStates(res, sum)
	d.Regions = make([]renderedRegion, 0, len(state))
	for _, n := range slices.Sorted(maps.Keys(state)) {
		d.Regions = append(d.Regions, renderedRegion{Name: n, State: state[n]})
		switch state[n] {
		case regionWritten:
			d.Summary.Written++
		case regionUnchanged:
			d.Summary.Unchanged++
		case regionSkipped:
			d.Summary.Skipped++
		case regionRemoved:
			d.Summary.Removed++
		case regionLeftAlone:
			d.Summary.LeftAlone++
		}
	}
	d.Summary.Rendered, d.Summary.Warnings = len(res.Regions), len(d.Warnings)
	return d
}

type checkDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	// Status is "current" (exit 0) or "stale" (exit 1).
	Status  string `json:"status"`
	Summary struct {
		Regions int `json:"regions"`
		Changed int `json:"changed"`
		Missing int `json:"missing"`
		Extra   int `json:"extra"`
	} `json:"summary"`
	// Dir is the committed tree compared, as the text output names it.
	Dir string `json:"dir"`
	// Regions are the regions rendered and compared, sorted.
	Regions []string      `json:"regions"`
	Changed []changedFile `json:"changed"`
	Missing []string      `json:"missing"`
	Extra   []string      `json:"extra"`
}

type changedFile struct {
	Path string `json:"path"`
	// Diff is the unified diff, on disk -> rendered, as text prints it.
	Diff string `json:"diff"`
}

func newCheckDocument(dir string, res *render.Result, rep *render.Report) checkDocument {
	d := checkDocument{SchemaVersion: checkSchema, Status: "current", Dir: dir,
		Regions: slices.Sorted(maps.Keys(res.Regions)), Changed: make([]changedFile, 0, len(rep.Changed)),
		Missing: append([]string{}, rep.Missing...), Extra: append([]string{}, rep.Extra...)}
	if rep.Stale() {
		d.Status = "stale"
	}
	for _, c := range rep.Changed {
		d.Changed = append(d.Changed, changedFile{Path: c.Path, Diff: c.Diff})
	}
	d.Summary.Regions, d.Summary.Changed, d.Summary.Missing, d.Summary.Extra = len(d.Regions), len(d.Changed), len(d.Missing), len(d.Extra)
	return d
}
