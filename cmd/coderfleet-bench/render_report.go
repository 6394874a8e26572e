package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coderfleet/coderfleet/internal/phasetime"
)

// Issue 16 items 1 and 2: where one changed region's render spends its
// time, and the cold render's CPU time beside the pipeline's and beside
// copying the rendered tree.

// tracedRun is one render run with CODERFLEET_TRACE=1: the phases the
// binary printed, and the process's wall time.
type tracedRun struct {
	phases []phasetime.Phase
	total  time.Duration // the binary's own total, from its main package
	wall   time.Duration
}

// startup is what the binary's phases leave out: process start, package
// initialisation, and what runs after the trace is printed (exit).
func (t tracedRun) startup() time.Duration { return max(t.wall-t.total, 0) }

// parseTrace reads the phase lines a render printed with CODERFLEET_TRACE=1
// (internal/phasetime.Recorder.Write); other lines are ignored. A run
// without a total line is an error: the binary does not trace.
func parseTrace(out []byte, wall time.Duration) (tracedRun, error) {
	t := tracedRun{wall: wall}
	seenTotal := false
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, phasetime.Prefix)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, " ms")
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			return t, fmt.Errorf("unreadable trace line %q", line)
		}
		ms, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return t, fmt.Errorf("unreadable trace line %q: %v", line, err)
		}
		d := time.Duration(ms * float64(time.Millisecond))
		if name := rest[:i]; name == "total" {
			t.total, seenTotal = d, true
		} else {
			t.phases = append(t.phases, phasetime.Phase{Name: name, D: d})
		}
	}
	if !seenTotal {
		return t, fmt.Errorf("the render printed no %stotal line with %s=1: the binary predates the trace (build it again)", phasetime.Prefix, phasetime.EnvVar)
	}
	return t, nil
}

// phaseRow is one row of the breakdown: a phase's median over the runs.
type phaseRow struct {
	name   string
	median time.Duration
}

// breakdown is the median of each phase over runs, in the order the phases
// first appear, with process start and initialisation first.
func breakdown(runs []tracedRun) []phaseRow {
	if len(runs) == 0 {
		return nil
	}
	var names []string
	by := map[string][]time.Duration{}
	for _, r := range runs {
		for _, p := range r.phases {
			if _, ok := by[p.Name]; !ok {
				names = append(names, p.Name)
			}
			by[p.Name] = append(by[p.Name], p.D)
		}
	}
	var start, walls []time.Duration
	for _, r := range runs {
		start = append(start, r.startup())
		walls = append(walls, r.wall)
	}
	rows := []phaseRow{{"process start, package init, exit (wall − the binary's total)", medianOf(start)}}
	for _, n := range names {
		rows = append(rows, phaseRow{n, medianOf(by[n])})
	}
	return append(rows, phaseRow{"wall time of the process", medianOf(walls)})
}

func medianOf(ds []time.Duration) time.Duration {
	s := make(series, len(ds))
	for i, d := range ds {
		s[i] = sample{wall: d}
	}
	return s.median()
}

// measureCopy times `cp -r` of the rendered regions/ folder of dir into a
// fresh folder, reps times: the kernel's cost of creating the same tree.
func measureCopy(r *runner, dir string, reps int) (series, error) {
	var out series
	dst := filepath.Join(dir, ".copy-of-regions")
	for range reps {
		if err := os.RemoveAll(dst); err != nil {
			return nil, err
		}
		s, err := r.must(0, "cp", "-r", filepath.Join(dir, "regions"), dst)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, os.RemoveAll(dst)
}

// perJsonnet is the pipeline's median time per go-jsonnet process: what one
// region costs a team that evaluates only the region it changed.
func (s *sizeResult) perJsonnet() time.Duration {
	if s.jsonnetProcs == 0 {
		return 0
	}
	return s.jsonnetTime.median() / time.Duration(s.jsonnetProcs)
}

// targets16 evaluates issue 16's items 1 and 2 on the medians.
func (r *results) targets16() []target {
	var out []target
	const one, cold = "one changed region (of 100) ≤ one go-jsonnet CLI process evaluating one region", "cold render of 100 regions: ≥ 3× less CPU than the CLI pipeline"
	s := r.size(100)
	if s == nil {
		return []target{{one, "–", "not measured"}, {cold, "–", "not measured"}}
	}
	if per := s.perJsonnet(); per > 0 {
		q := ratio(s.changed.median(), per)
		out = append(out, target{one, fmt.Sprintf("%s vs %s = %.2f×", dur(s.changed.median()), dur(per), q), verdict(q <= 1)})
	} else {
		out = append(out, target{one, "–", "not measured"})
	}
	q := ratio(s.pipeline.medianCPU(), s.cold.medianCPU())
	m := fmt.Sprintf("%s vs %s = %.1f×", dur(s.cold.medianCPU()), dur(s.pipeline.medianCPU()), q)
	if len(s.copyTree) > 0 {
		m += fmt.Sprintf("; `cp -r regions/` takes %s CPU (%.1f %% of the cold render's)", dur(s.copyTree.medianCPU()), 100*ratio(s.copyTree.medianCPU(), s.cold.medianCPU()))
	}
	return append(out, target{cold, m, verdict(q >= 3)})
}

// renderSections writes the issue 16 sections of the report.
func renderSections(r *results, p func(format string, args ...any)) {
	p("\n## One changed region and the cold render's CPU (issue 16, items 1 and 2)\n\n")
	p("Where a render after one overlay edit spends its time: the binary run with `%s=1`, which prints each step's time to stderr; medians over the runs. Steps marked \"summed\" run on several workers at once.\n\n", phasetime.EnvVar)
	var sizes []sizeResult
	for _, s := range r.sizes {
		if len(s.changedTrace) > 0 {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) > 0 {
		p("| step |")
		for _, s := range sizes {
			p(" %d regions |", s.n)
		}
		p("\n|---|%s\n", strings.Repeat("---:|", len(sizes)))
		var names []string
		rows := map[int]map[string]time.Duration{}
		for _, s := range sizes {
			rows[s.n] = map[string]time.Duration{}
			for _, row := range breakdown(s.changedTrace) {
				if !slices.Contains(names, row.name) {
					names = append(names, row.name)
				}
				rows[s.n][row.name] = row.median
			}
		}
		for _, n := range names {
			p("| %s |", n)
			for _, s := range sizes {
				if d, ok := rows[s.n][n]; ok {
					p(" %s |", durMS(d))
				} else {
					p(" – |")
				}
			}
			p("\n")
		}
	}
	p("\nCold render beside copying the tree it writes (`cp -r regions/` into a new folder, %d runs) and beside the CLI pipeline; CPU is user + system time.\n\n", r.reps)
	p("| regions | files | cold render CPU | `cp -r` wall | `cp -r` CPU | pipeline CPU | pipeline CPU ÷ cold CPU | one changed | per go-jsonnet process | one changed ÷ per jsonnet |\n")
	p("|---:|---:|---:|---|---:|---:|---:|---|---:|---:|\n")
	for _, s := range r.sizes {
		per := s.perJsonnet()
		q := "–"
		if per > 0 {
			q = fmt.Sprintf("%.2f×", ratio(s.changed.median(), per))
		}
		p("| %d | %d | %s | %s | %s | %s | %.1f× | %s | %s | %s |\n", s.n, s.outFiles, dur(s.cold.medianCPU()), cell(s.copyTree), dur(s.copyTree.medianCPU()),
			dur(s.pipeline.medianCPU()), ratio(s.pipeline.medianCPU(), s.cold.medianCPU()), cell(s.changed), dur(per), q)
	}
	p("\n## Targets of issue 16 (items 1 and 2)\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range r.targets16() {
		p("| %s | %s | **%s** |\n", t.name, t.measured, t.verdict)
	}
}

// durMS writes d in milliseconds with one decimal, for the breakdown.
func durMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
