package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// machine describes where the numbers were measured.
type machine struct {
	cpu, kernel, memory, goVersion, jsonnet, kubectl string
	cpus                                             int
}

func readMachine(ctx context.Context, o *options) machine {
	m := machine{cpu: "unknown", kernel: "unknown", memory: "unknown", goVersion: runtime.Version(), cpus: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v := procField(data, "model name"); v != "" {
			m.cpu = v
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseFloat(strings.Fields(procField(data, "MemTotal") + " 0")[0], 64); err == nil && kb > 0 {
			m.memory = fmt.Sprintf("%.1f GiB", kb/1024/1024)
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(data))
	}
	m.jsonnet = firstLine(ctx, o.jsonnet, "--version")
	m.kubectl = strings.ReplaceAll(oneLine(ctx, o.kubectl, "version", "--client"), "\n", ", ")
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(data []byte, key string) string {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func oneLine(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(ctx context.Context, name string, args ...string) string {
	l, _, _ := strings.Cut(oneLine(ctx, name, args...), "\n")
	return l
}

// dur formats a duration for the tables.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

// cell is a median with its range.
func cell(s series) string {
	if len(s) == 0 {
		return "–"
	}
	if len(s) == 1 {
		return dur(s.median())
	}
	return fmt.Sprintf("%s (%s–%s)", dur(s.median()), dur(s.min()), dur(s.max()))
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// target is one of the targets and whether it was met.
type target struct {
	name     string
	measured string
	// verdict is "met", "missed" or "not measured".
	verdict string
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func (r *results) size(n int) *sizeResult {
	for i := range r.sizes {
		if r.sizes[i].n == n {
			return &r.sizes[i]
		}
	}
	return nil
}

// targets evaluates issue 7's targets on the medians.
func (r *results) targets() []target {
	none := func(name string) target { return target{name: name, measured: "–", verdict: "not measured"} }
	var out []target
	s100, s1 := r.size(100), r.size(1)
	if s100 != nil {
		c := s100.cold.median()
		out = append(out, target{"100 regions cold render ≤ 5 s", dur(c), verdict(c <= 5*time.Second)})
		rss := s100.cold.peakRSSKB()
		out = append(out, target{"100 regions cold render peak RSS ≤ 300 MB", mb(rss), verdict(rss <= 300*1024)})
	} else {
		out = append(out, none("100 regions cold render ≤ 5 s"), none("100 regions cold render peak RSS ≤ 300 MB"))
	}
	if len(r.example) > 0 {
		c := r.example.median()
		out = append(out, target{fmt.Sprintf("example fleet (%d regions) cold render ≤ 0.5 s", r.exampleN), dur(c), verdict(c <= 500*time.Millisecond)})
	} else {
		out = append(out, none("example fleet cold render ≤ 0.5 s"))
	}
	if s100 != nil {
		q := ratio(s100.noop.median(), s100.cold.median())
		out = append(out, target{"no-op re-render of 100 regions ≤ 5 % of cold", fmt.Sprintf("%s = %.1f %%", dur(s100.noop.median()), 100*q), verdict(q <= 0.05)})
	} else {
		out = append(out, none("no-op re-render of 100 regions ≤ 5 % of cold"))
	}
	if s100 != nil && s1 != nil {
		q := ratio(s100.changed.median(), s1.cold.median())
		out = append(out, target{"one changed region (of 100) ≤ 2× cold render of 1 region", fmt.Sprintf("%s = %.2f×", dur(s100.changed.median()), q), verdict(q <= 2)})
	} else {
		out = append(out, none("one changed region (of 100) ≤ 2× cold render of 1 region"))
	}
	if s100 != nil {
		q := ratio(s100.pipeline.median(), s100.cold.median())
		out = append(out, target{"≥ 10× faster than the CLI pipeline at 100 regions", fmt.Sprintf("%.1f×", q), verdict(q >= 10)})
	} else {
		out = append(out, none("≥ 10× faster than the CLI pipeline at 100 regions"))
	}
	return out
}

// report renders the results as Markdown.
func report(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# coderfleet benchmark results\n\n")
	p("Written by `make bench` (`cmd/coderfleet-bench`) down to the line that says the rest is written by hand; re-run it rather than edit this part. The hand-written part below that line is kept.\n")
	p("Measured %s – %s", r.started.Format("2006-01-02 15:04 UTC"), r.finished.Format("15:04 UTC"))
	if r.commit != "" {
		p(" at commit `%s`", r.commit)
	}
	p(".\n\n")

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPU | %s |\n| CPUs (nproc) | %d |\n| memory | %s |\n| kernel | %s |\n| Go | %s |\n", r.machine.cpu, r.machine.cpus, r.machine.memory, r.machine.kernel, r.machine.goVersion)
	p("| go-jsonnet CLI | %s |\n| kubectl | %s |\n", r.machine.jsonnet, r.machine.kubectl)
	p("| load average (1, 5, 15 min) before | %s |\n| load average after | %s |\n\n", r.loadBefore, r.loadAfter)
	if l1 := max(loadOne(r.loadBefore), loadOne(r.loadAfter)); l1 >= float64(r.machine.cpus)/2 {
		p("Other work ran on the machine during the measurement (1-minute load average up to %.2f on %d CPUs): wall times are pessimistic and spread out; the CPU columns are steadier.\n\n", l1, r.machine.cpus)
	}

	p("## Results\n\n")
	p("Wall time: median of %d runs (min–max); CLI pipeline: median of %d runs. CPU: median user + system time of the process(es), less sensitive to other load than wall time. Peak RSS: the largest over the runs (for the pipeline: its largest single process).\n\n", r.reps, r.pipelineReps)
	p("| regions | objects | cold render | cold CPU | peak RSS | no-op re-render | one region changed | check | check RSS | CLI pipeline | pipeline CPU | pipeline processes | pipeline peak RSS |\n")
	p("|---:|---:|---|---:|---:|---|---|---|---:|---|---:|---:|---:|\n")
	for _, s := range r.sizes {
		p("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", s.n, s.objects, cell(s.cold), dur(s.cold.medianCPU()), mb(s.cold.peakRSSKB()), cell(s.noop), cell(s.changed),
			cell(s.check), mb(s.check.peakRSSKB()), cell(s.pipeline), dur(s.pipeline.medianCPU()), s.pipelineProcs, mb(s.pipeline.peakRSSKB()))
	}
	if len(r.example) > 0 {
		p("\nThe example fleet (`overlays/` as committed, %d regions): cold render %s, peak RSS %s.\n", r.exampleN, cell(r.example), mb(r.example.peakRSSKB()))
	}

	p("\nWhere the CLI pipeline spends its time (medians of the per-run sums; per process: sum ÷ processes):\n\n")
	p("| regions | jsonnet processes | jsonnet total | per jsonnet process | peak RSS | kubectl kustomize processes | kustomize total | per kustomize process | peak RSS |\n")
	p("|---:|---:|---|---|---:|---:|---|---|---:|\n")
	for _, s := range r.sizes {
		per := func(t series, n int) string {
			if n == 0 {
				return "–"
			}
			return dur(t.median() / time.Duration(n))
		}
		p("| %d | %d | %s | %s | %s | %d | %s | %s | %s |\n", s.n, s.jsonnetProcs, cell(s.jsonnetTime), per(s.jsonnetTime, s.jsonnetProcs), mb(s.jsonnetTime.peakRSSKB()),
			s.kustomizeProcs, cell(s.kustomizeTime), per(s.kustomizeTime, s.kustomizeProcs), mb(s.kustomizeTime.peakRSSKB()))
	}

	p("\n## Ratios (medians)\n\n")
	p("| regions | CLI pipeline ÷ coderfleet cold | same, CPU time | no-op ÷ cold | one changed ÷ cold of 1 region | one changed ÷ cold | check ÷ cold |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|\n")
	var cold1 time.Duration
	if s1 := r.size(1); s1 != nil {
		cold1 = s1.cold.median()
	}
	for _, s := range r.sizes {
		c := s.cold.median()
		one := "–"
		if cold1 > 0 {
			one = fmt.Sprintf("%.2f×", ratio(s.changed.median(), cold1))
		}
		p("| %d | %.1f× | %.1f× | %.1f %% | %s | %.1f %% | %.2f× |\n", s.n, ratio(s.pipeline.median(), c), ratio(s.pipeline.medianCPU(), s.cold.medianCPU()), 100*ratio(s.noop.median(), c), one,
			100*ratio(s.changed.median(), c), ratio(s.check.median(), c))
	}

	p("\n## Targets of issue 7\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range r.targets() {
		p("| %s | %s | **%s** |\n", t.name, t.measured, t.verdict)
	}
	renderSections(r, p)

	if len(r.gobench) > 0 {
		p("\n## In-process Go benchmarks\n\n")
		p("`go test -bench '^BenchmarkRender' -run '^$' -count 5 ./bench/` (raw output: `%s`, for benchstat); medians over the counts. ", r.gobenchFile)
		p("render.Render on an in-memory filesystem, no process start and no disk writes.\n\n")
		p("| benchmark | runs | time/op | ms/region | B/op | allocs/op |\n|---|---:|---:|---:|---:|---:|\n")
		for _, g := range r.gobench {
			p("| %s | %d | %s | %s | %s | %s |\n", g.name, g.runs, dur(time.Duration(g.med("ns/op"))), num(g.med("ms/region"), "%.1f"),
				bytesCell(g.med("B/op")), num(g.med("allocs/op"), "%.0f"))
		}
	}

	b.WriteString(awsSection(r.aws, r.awsFile))

	p("\n## How it was measured\n\n")
	p("- Fleets of N regions come from `internal/synth`: one primary and N−1 workspace proxies made from the example fleet's `overlays/fleet.yaml` and `templates/`; every third proxy has a `kustomization.yaml` with a strategic-merge and a JSON 6902 patch, some have `overrides` (fewer or no workspace namespaces, more proxy replicas); AWS regions cycle through every known code.\n")
	p("- coderfleet is the built binary, run as a child process (`coderfleet render --repo <fleet>`, `coderfleet check --repo <fleet>`); wall time is measured around the process, peak RSS is the child's `ru_maxrss`.\n")
	p("- Cold: `regions/` and the local render state (`.coderfleet/`) removed before each run, never `--force`. No-op: the same command again, nothing changed. One region changed: ")
	if len(r.sizes) > 0 {
		p("the last region's overlay file (e.g. `%s`) alternates between a changed and the original content, one render after each edit. ", r.sizes[len(r.sizes)-1].changedFile)
	}
	p("After those, `check` must find `regions/` current (so a re-render that skipped the change would fail the run), and `check` must exit 1 after an overlay edit.\n")
	p("- CLI pipeline, the way a team scripts it without coderfleet, sequential as a shell loop: per region `jsonnet -J templates --tla-code-file config=<region>.json -S -m <dir>/ split.jsonnet` (split.jsonnet imports the same `main.jsonnet` and writes one YAML file per object plus a kustomization.yaml), then, for regions with a `kustomization.yaml`, `kubectl kustomize` over a copy of the overlay with the jsonnet output as its base. Each region's input JSON is made once beforehand with coderfleet's own `render.TemplateInputJSON` (not timed). The run fails unless both tools produce the same number of objects for every region.\n")
	p("- The pipeline does less than coderfleet: no schema validation or policy checks, no provenance labels, no stable ordering, no AWS desired state, no atomic swap of `regions/`, no ownership marker.\n")
	return b.String()
}

func loadOne(s string) float64 {
	f, err := strconv.ParseFloat(strings.Fields(s + " x")[0], 64)
	if err != nil {
		return 0
	}
	return f
}

func num(v float64, format string) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func bytesCell(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", v/(1<<10))
	}
}

// goBench is one benchmark of `go test -bench` output over its counts.
type goBench struct {
	name   string
	runs   int
	values map[string][]float64 // by unit
}

// med is the median of a unit's values (0 when absent).
func (g goBench) med(unit string) float64 {
	v := append([]float64(nil), g.values[unit]...)
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// parseGoBench reads the result lines of `go test -bench` output
// ("BenchmarkX-2  10  123 ns/op  45 B/op ..."), in order of first appearance.
func parseGoBench(data []byte) []goBench {
	var out []goBench
	idx := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		i, ok := idx[f[0]]
		if !ok {
			i = len(out)
			idx[f[0]] = i
			out = append(out, goBench{name: f[0], values: map[string][]float64{}})
		}
		out[i].runs++
		for j := 2; j+1 < len(f); j += 2 {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				continue
			}
			out[i].values[f[j+1]] = append(out[i].values[f[j+1]], v)
		}
	}
	return out
}
