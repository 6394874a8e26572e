package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/phasetime"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"github.com/coderfleet/coderfleet/render"
)

// renderOptions are the flags of render and check.
type renderOptions struct {
	repo    string
	out     string
	regions []string
	force   bool
	output  string
	// lockTimeout is how long render waits for the repository's lock.
	lockTimeout time.Duration
	// Evaluation limits.
	maxStack    int
	evalTimeout time.Duration
}

func (o *renderOptions) bind(c *cobra.Command, withRegions bool) {
	addRepoFlag(c, &o.repo)
	c.Flags().StringVar(&o.out, "out", "", "output folder (default <repo>/regions)")
	c.Flags().IntVar(&o.maxStack, "max-stack", fleet.DefaultMaxStack, "Jsonnet evaluation depth limit (stops endless recursion)")
	c.Flags().DurationVar(&o.evalTimeout, "eval-timeout", fleet.DefaultEvalTimeout, "time limit of one region's template evaluation")
	addOutputFlag(c, &o.output, textOrJSON)
	if withRegions {
		addRegionFlag(c, &o.regions, "render only this region; others are left as they are")
		c.Flags().BoolVar(&o.force, "force", false, "render every region, even those whose inputs did not change")
	}
}

// displayDir is the output folder as reports show it: relative to the
// repository when it is the default.
func (o *renderOptions) displayDir() string {
	if o.out != "" {
		return o.out
	}
	return "regions"
}

func (o *renderOptions) outDir() string {
	if o.out != "" {
		return o.out
	}
	return filepath.Join(o.repo, "regions")
}

// outOutside reports whether --out names a folder outside the repository.
func (o *renderOptions) outOutside() bool {
	return o.out != "" && !within(o.repo, o.out)
}

// stateRoot is the folder whose .coderfleet/ holds render's lock file and
// render state: the repository, or the --out folder when that is outside
// the repository (the state is about what is written, as Terraform keeps
// its lock with its state, not with the configuration).
func (o *renderOptions) stateRoot() string {
	if o.outOutside() {
		return o.out
	}
	return o.repo
}

// tracePhases times render's steps when CODERFLEET_TRACE asks for it
// (internal/phasetime); nil otherwise. Set as the main package initialises,
// after every package it imports: its total leaves out process start and
// package initialisation.
var tracePhases = phasetime.FromEnv()

// renderFleet renders the fleet as the options say, in memory. previous
// holds the inputs digests of intact committed regions, which are skipped
// (nil renders everything).
func renderFleet(ctx context.Context, o *renderOptions, previous map[string]string) (*render.Result, error) {
	return renderFleetChecked(ctx, o, previous, nil)
}

// renderFleetChecked is renderFleet where previous holds recorded inputs
// digests whose folders intact (when not nil) confirms beside the
// evaluation (render.Options.Intact).
func renderFleetChecked(ctx context.Context, o *renderOptions, previous map[string]string, intact func(region string) bool) (*render.Result, error) {
	end := tracePhases.Start("open repository and charts")
	fsys, err := repofs.Open(o.repo)
	if err != nil {
		end()
		return nil, err
	}
	defer fsys.Close()
	opts, err := fleet.Prepare(fsys, fsys.Dir(), o.regions)
	end()
	if err != nil {
		return nil, err
	}
	opts.Previous, opts.Intact = previous, intact
	opts.Phases = tracePhases
	opts.MaxStack, opts.EvalTimeout = o.maxStack, o.evalTimeout
	return render.Render(ctx, opts)
}

func newRenderCommand() *cobra.Command {
	o := &renderOptions{}
	c := &cobra.Command{
		Use:   "render",
		Short: "Render overlays/ and templates/ into regions/",
		Long: `render evaluates templates/ for every region under overlays/ (or only those
named with --region), applies each region's kustomization.yaml, and replaces
regions/<region>/ atomically. Folders of regions whose overlay was deleted are
removed, but only folders coderfleet owns (they carry a .coderfleet.yaml marker).
Nothing is written when any region fails to render.

Rendering is incremental: a region whose inputs (its configuration, the
templates it imports, its overlay folder, coderfleet's version) hash the same
as at the last render on this machine, and whose folder still holds exactly
what that render wrote, is skipped without evaluation. The digests live in
.coderfleet/render-state.json (git-ignored). --force renders everything.
CODERFLEET_TRACE=1 prints how long each step took to stderr (lines starting
"coderfleet-trace:").

-o json prints one document, schema ` + renderSchema + ` (docs/json.md):
each region's state (written, unchanged, skipped, removed, left-alone) and
their counts. Warnings go to stderr in both formats.

One render at a time writes a repository: render holds the lock file
.coderfleet/render.lock (git-ignored) while it runs, and records in it its
pid, host, command and start time. A second render fails at once naming that
holder (exit 4), or waits for it with --lock-timeout. The lock ends with its
process, however it ends, so a killed render never leaves one behind.

With --out outside the repository, the lock file and the render state live in
<out>/.coderfleet/ instead, beside what is written, and render also holds the
repository's .coderfleet/render.lock (so vendor and region verbs wait for it)
unless the repository is read-only, which a one-line note then says: a
read-only checkout renders to a writable --out and is never written.`,
		Example: `  # Render every region of the fleet in the current directory
  coderfleet render

  # Render one region of a fleet elsewhere
  coderfleet render --repo ~/src/platform --region eu-west-2

  # In CI: which regions did the render rewrite?
  coderfleet render -o json | jq -r '.regions[] | select(.state == "written") | .name'

  # Wait up to two minutes for a render that is still running
  coderfleet render --lock-timeout 2m

  # Render a read-only checkout into a folder elsewhere
  coderfleet render --repo /src/platform --out /tmp/regions`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			release, err := lockRender(c.Context(), c.CommandPath(), o, c.ErrOrStderr())
			if err != nil {
				return err
			}
			defer release()
			return runRender(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	o.bind(c, true)
	addLockTimeoutFlag(c, &o.lockTimeout, renderLockFile)
	return c
}

func runRender(ctx context.Context, o *renderOptions, out, warn io.Writer) error {
	if err := checkOutput(o.output, textOrJSON); err != nil {
		return err
	}
	defer tracePhases.Write(warn)
	statePath := filepath.Join(o.stateRoot(), treeio.StateFile)
	end := tracePhases.Start("state")
	state := treeio.LoadState(statePath)
	var previous map[string]string
	var intact func(string) bool
	if !o.force {
		// The folders are checked (stamped) only for regions whose inputs
		// still hash the same, beside the evaluation of the others.
		previous = state.Recorded()
		intact = func(region string) bool { return state.Intact(o.outDir(), region) }
	}
	end()
	res, err := renderFleetChecked(ctx, o, previous, intact)
	if err != nil {
		return err
	}
	end = tracePhases.Start("write")
	w := &treeio.Writer{Dir: o.outDir()}
	sum, err := w.Write(res)
	end()
	if err != nil {
		return err
	}
	end = tracePhases.Start("save state")
	state.Update(o.outDir(), res)
	err = state.Save(statePath)
	end()
	if err != nil {
		// Only the next render's speed depends on it.
		fmt.Fprintf(warn, "warning: cannot save %s: %v\n", statePath, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(warn, "warning: %s\n", w)
	}
	if o.output == outputJSON {
		return jsonout.Encode(out, newRenderDocument(o.outDir(), res, sum))
	}
	line := func(label string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(out, "%-10s %s\n", label, strings.Join(names, ", "))
		}
	}
	// The states -o json prints: unchanged (rendered, identical) apart
	// from skipped (not evaluated).
	states := regionStates(res, sum)
	line("written:", regionsIn(states, regionWritten))
	line("unchanged:", regionsIn(states, regionUnchanged))
	line("skipped:", regionsIn(states, regionSkipped))
	line("removed:", regionsIn(states, regionRemoved))
	if len(sum.Foreign) > 0 {
		fmt.Fprintf(out, "left alone: %s (no %s marker: not coderfleet's)\n", strings.Join(sum.Foreign, ", "), render.MarkerFile)
	}
	fmt.Fprintf(out, "rendered %d region(s) into %s (%d skipped: inputs unchanged)\n", len(res.Regions), o.outDir(), len(res.Skipped))
	if len(sum.Written)+len(sum.Removed) > 0 {
		fmt.Fprintln(out, "next: review the change with `git diff -- regions/`, then commit it; Flux applies what is committed.")
	}
	return nil
}

func newCheckCommand() *cobra.Command {
	o := &renderOptions{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Verify that the committed regions/ tree is what render would write",
		Long: `check renders the fleet in memory and compares it with regions/ on disk. It
prints a unified diff for each differing file and lists missing and extra files.
Exit code 0: current; 1: stale (run coderfleet render and commit); 3: invalid input.
-o json prints one document, schema ` + checkSchema + ` (docs/json.md), with
the same exit codes.`,
		Example: `  # In CI, fail the build when someone forgot to render
  coderfleet check

  # The same, for a program: the stale files and their diffs
  coderfleet check -o json | jq -r '.changed[].path'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCheck(c.Context(), o, c.OutOrStdout())
		},
	}
	o.bind(c, false)
	return c
}

func runCheck(ctx context.Context, o *renderOptions, out io.Writer) error {
	if err := checkOutput(o.output, textOrJSON); err != nil {
		return err
	}
	res, err := renderFleet(ctx, o, nil)
	if err != nil {
		return err
	}
	have, err := treeio.Read(o.outDir())
	if err != nil {
		return err
	}
	rep := render.Compare(o.displayDir(), res.Regions, have, res.Complete)
	if o.output == outputJSON {
		if err := jsonout.Encode(out, newCheckDocument(o.displayDir(), res, rep)); err != nil {
			return err
		}
		if rep.Stale() {
			return &exitError{code: exitDiffers}
		}
		return nil
	}
	if !rep.Stale() {
		fmt.Fprintf(out, "%s is current (%d regions)\n", o.displayDir(), len(res.Regions))
		return nil
	}
	for _, d := range rep.Changed {
		fmt.Fprint(out, d.Diff)
	}
	for _, p := range rep.Missing {
		fmt.Fprintf(out, "missing: %s\n", p)
	}
	for _, p := range rep.Extra {
		fmt.Fprintf(out, "extra:   %s\n", p)
	}
	fmt.Fprintf(out, "%s is stale: %d changed, %d missing, %d extra file(s); run `coderfleet render` and commit the result\n",
		o.displayDir(), len(rep.Changed), len(rep.Missing), len(rep.Extra))
	return &exitError{code: exitDiffers}
}
