package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/phasetime"
	"github.com/coderfleet/coderfleet/internal/synth"
	"github.com/coderfleet/coderfleet/internal/treeio"
)

// sample is one measured run: wall time and the peak resident set size of
// the child process (of the largest child, for a pipeline).
type sample struct {
	wall  time.Duration
	rssKB int64
	// cpu is user + system time of the child (summed over a pipeline's
	// processes): less sensitive than wall time to other load on the
	// machine.
	cpu time.Duration
}

// series holds the repetitions of one measurement.
type series []sample

func (s series) walls() []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.wall
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// median is the median wall time (the mean of the middle two for an even
// count); zero for no samples.
func (s series) median() time.Duration {
	w := s.walls()
	switch {
	case len(w) == 0:
		return 0
	case len(w)%2 == 1:
		return w[len(w)/2]
	default:
		return (w[len(w)/2-1] + w[len(w)/2]) / 2
	}
}

func (s series) min() time.Duration {
	if w := s.walls(); len(w) > 0 {
		return w[0]
	}
	return 0
}

func (s series) max() time.Duration {
	if w := s.walls(); len(w) > 0 {
		return w[len(w)-1]
	}
	return 0
}

// medianCPU is the median CPU time.
func (s series) medianCPU() time.Duration {
	c := make(series, len(s))
	for i, x := range s {
		c[i] = sample{wall: x.cpu}
	}
	return c.median()
}

// peakRSSKB is the largest peak RSS over the repetitions.
func (s series) peakRSSKB() int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.rssKB)
	}
	return m
}

// sizeResult is everything measured for one fleet size.
type sizeResult struct {
	n             int
	outFiles      int // files coderfleet writes under regions/
	changedFile   string
	cold          series
	noop          series
	changed       series
	check         series
	pipeline      series
	pipelineProcs int // child processes per pipeline run
	// The pipeline's time in each tool (sum over its processes, per run)
	// and how many processes of each one run starts.
	jsonnetTime, kustomizeTime   series
	jsonnetProcs, kustomizeProcs int
	objects                      int         // Kubernetes objects of the fleet (both tools agree)
	changedTrace                 []tracedRun // the changed renders' steps (render_report.go)
	copyTree                     series      // `cp -r regions/` (render_report.go)
}

// results is one run of the harness.
type results struct {
	machine      machine
	commit       string
	started      time.Time
	finished     time.Time
	loadBefore   string
	loadAfter    string
	reps         int
	pipelineReps int
	example      series
	exampleN     int
	sizes        []sizeResult
	gobench      []goBench
	gobenchFile  string
	aws          []goBench // the AWS benchmarks (aws_report.go)
	awsFile      string
}

// runner runs child processes and measures them.
type runner struct {
	ctx context.Context
	log io.Writer
	env []string // added to the environment of every child
}

// run runs name with args and returns its measurement and exit code. A
// process that cannot start, or is killed, is an error.
func (r *runner) run(name string, args ...string) (sample, int, []byte, error) {
	cmd := exec.CommandContext(r.ctx, name, args...)
	if r.env != nil {
		cmd.Env = append(os.Environ(), r.env...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		return sample{}, 0, out.Bytes(), fmt.Errorf("running %s: %w", filepath.Base(name), err)
	}
	var s sample
	s.wall = wall
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssKB = ru.Maxrss // kilobytes on Linux
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	code := cmd.ProcessState.ExitCode()
	if code < 0 {
		return s, code, out.Bytes(), fmt.Errorf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return s, code, out.Bytes(), nil
}

// must runs a process that has to exit with want.
func (r *runner) must(want int, name string, args ...string) (sample, error) {
	s, code, out, err := r.run(name, args...)
	if err != nil {
		return s, err
	}
	if code != want {
		return s, fmt.Errorf("%s %s exited with %d, want %d; its output:\n%s", filepath.Base(name), strings.Join(args, " "), code, want, tail(out, 40))
	}
	return s, nil
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// measureAll runs every measurement of the report.
func measureAll(ctx context.Context, o *options, log io.Writer) (*results, error) {
	work := o.work
	if work == "" {
		dir, err := os.MkdirTemp("", "coderfleet-bench-")
		if err != nil {
			return nil, fmt.Errorf("creating a scratch folder: %w", err)
		}
		defer os.RemoveAll(dir)
		work = dir
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("creating %q: %w", work, err)
	}
	r := &runner{ctx: ctx, log: log}
	res := &results{machine: readMachine(ctx, o), commit: o.commit, started: time.Now().UTC(), loadBefore: loadAvg(),
		reps: o.reps, pipelineReps: o.pipelineReps}

	// Warm the binaries into the page cache: "cold" is about the fleet
	// (no rendered output yet), not about reading the program from disk.
	for _, c := range [][]string{{o.coderfleet, "--help"}, {o.jsonnet, "--version"}, {o.kubectl, "version", "--client"}} {
		if _, err := r.must(0, c[0], c[1:]...); err != nil {
			return nil, err
		}
	}

	split := filepath.Join(work, "split.jsonnet")
	if err := os.WriteFile(split, splitJsonnet, 0o644); err != nil {
		return nil, err
	}

	// The example fleet as committed: the 0.5 s target.
	ex := filepath.Join(work, "example")
	if err := os.RemoveAll(ex); err != nil {
		return nil, err
	}
	for _, d := range []string{"overlays", "templates"} {
		if err := os.CopyFS(filepath.Join(ex, d), os.DirFS(filepath.Join(o.src, d))); err != nil {
			return nil, fmt.Errorf("copying the example fleet's %s/: %w", d, err)
		}
	}
	fmt.Fprintf(log, "example fleet: %d cold renders\n", o.reps)
	for range o.reps {
		if err := clean(ex); err != nil {
			return nil, err
		}
		s, err := r.must(0, o.coderfleet, "render", "--repo", ex)
		if err != nil {
			return nil, err
		}
		res.example = append(res.example, s)
	}
	if entries, err := os.ReadDir(filepath.Join(ex, "regions")); err == nil {
		res.exampleN = len(entries)
	}

	for _, n := range o.sizes {
		sr, err := measureSize(r, o, work, split, n)
		if err != nil {
			return nil, fmt.Errorf("fleet of %d regions: %w", n, err)
		}
		res.sizes = append(res.sizes, *sr)
	}
	res.finished = time.Now().UTC()
	res.loadAfter = loadAvg()
	return res, nil
}

// measureSize measures coderfleet and the CLI pipeline on a fresh
// synthetic fleet of n regions.
func measureSize(r *runner, o *options, work, split string, n int) (*sizeResult, error) {
	sr := &sizeResult{n: n}
	dir := filepath.Join(work, fmt.Sprintf("fleet-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	files, err := synth.Fleet(os.DirFS(o.src), n)
	if err != nil {
		return nil, err
	}
	if err := synth.Write(filesys.MakeFsOnDisk(), dir, files); err != nil {
		return nil, err
	}
	regions := filepath.Join(dir, "regions")
	render := func() (sample, error) { return r.must(0, o.coderfleet, "render", "--repo", dir) }
	check := func(want int) (sample, error) { return r.must(want, o.coderfleet, "check", "--repo", dir) }
	logf := func(format string, args ...any) {
		fmt.Fprintf(r.log, "N=%d: "+format+"\n", append([]any{n}, args...)...)
	}

	logf("%d cold renders", o.reps)
	for range o.reps {
		if err := clean(dir); err != nil {
			return nil, err
		}
		s, err := render()
		if err != nil {
			return nil, err
		}
		sr.cold = append(sr.cold, s)
	}
	if sr.outFiles, err = countFiles(regions); err != nil {
		return nil, err
	}
	logf("%d copies of regions/ (cp -r)", o.reps)
	if sr.copyTree, err = measureCopy(r, dir, o.reps); err != nil {
		return nil, err
	}

	logf("%d no-op re-renders", o.reps)
	for range o.reps {
		s, err := render()
		if err != nil {
			return nil, err
		}
		sr.noop = append(sr.noop, s)
	}

	// One region changed: alternate between the changed and the original
	// file so that every repetition is a real change.
	p, changed, err := synth.Change(files["overlays/fleet.yaml"], n)
	if err != nil {
		return nil, err
	}
	sr.changedFile = p
	full := filepath.Join(dir, filepath.FromSlash(p))
	logf("%d re-renders after changing %s", o.reps, p)
	current := files[p]
	for i := range o.reps {
		current = changed
		if i%2 == 1 {
			current = files[p]
		}
		if err := os.WriteFile(full, current, 0o644); err != nil {
			return nil, err
		}
		traced := &runner{ctx: r.ctx, log: r.log, env: []string{phasetime.EnvVar + "=1"}}
		s, code, out, err := traced.run(o.coderfleet, "render", "--repo", dir)
		if err == nil && code != 0 {
			err = fmt.Errorf("coderfleet render --repo %s exited with %d; its output:\n%s", dir, code, tail(out, 40))
		}
		if err != nil {
			return nil, err
		}
		t, err := parseTrace(out, s.wall)
		if err != nil {
			return nil, err
		}
		sr.changed = append(sr.changed, s)
		sr.changedTrace = append(sr.changedTrace, t)
	}
	// The re-rendered tree must be what a full render gives.
	if _, err := check(0); err != nil {
		return nil, fmt.Errorf("after re-rendering a changed region, check finds regions/ stale (the re-render missed the change): %w", err)
	}
	if !bytes.Equal(current, files[p]) {
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return nil, err
		}
		if _, err := render(); err != nil {
			return nil, err
		}
	}

	logf("%d checks", o.reps)
	for range o.reps {
		s, err := check(0)
		if err != nil {
			return nil, err
		}
		sr.check = append(sr.check, s)
	}
	// check must notice a change, or its timings mean nothing.
	if err := os.WriteFile(full, changed, 0o644); err != nil {
		return nil, err
	}
	if _, err := check(1); err != nil {
		return nil, fmt.Errorf("check did not report a changed overlay: %w", err)
	}
	if err := os.WriteFile(full, files[p], 0o644); err != nil {
		return nil, err
	}

	logf("%d runs of the CLI pipeline (jsonnet + kubectl kustomize, one process per step)", o.pipelineReps)
	if err := measurePipeline(r, o, sr, dir, split); err != nil {
		return nil, err
	}
	runtime.GC()
	return sr, nil
}

// clean removes what a render leaves in the fleet at dir: regions/ and
// the CLI's local render state, so the next render is cold.
func clean(dir string) error {
	for _, p := range []string{"regions", treeio.StateFile} {
		if err := os.RemoveAll(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			return fmt.Errorf("cleaning the fleet for a cold render: %w", err)
		}
	}
	return nil
}

// countFiles counts the regular files under dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("counting the files of %q: %w", dir, err)
	}
	return n, nil
}

// loadAvg is the system's 1, 5 and 15 minute load averages.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
