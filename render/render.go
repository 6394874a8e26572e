package render

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/agnivade/levenshtein"
	jsonnet "github.com/google/go-jsonnet"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/internal/phasetime"
	"github.com/coderfleet/coderfleet/validate"
)

// Tree is a rendered region folder: file contents by path relative to
// regions/<region>/, slash-separated.
type Tree map[string][]byte

// Paths returns the tree's file paths, sorted.
func (t Tree) Paths() []string {
	out := make([]string, 0, len(t))
	for p := range t {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Options say what to render and how.
type Options struct {
	// FS is where the repository is read from.
	FS filesys.FileSystem
	// Repo is the repository's root inside FS.
	Repo string
	// Regions limits the render to these regions; empty means all.
	Regions []string
	// Version is coderfleet's version, recorded in each region's marker.
	Version string
	// MaxStack bounds Jsonnet's evaluation depth (0: go-jsonnet's default),
	// so a template that recurses without end fails instead of hanging.
	MaxStack int
	// EvalTimeout bounds one region's template evaluation (0: no bound),
	// for templates that loop without deep recursion.
	EvalTimeout time.Duration
	// Parallelism bounds how many regions render at once (0: GOMAXPROCS).
	Parallelism int
	// NativeFunctions are extra Jsonnet native functions (e.g. helmTemplate).
	NativeFunctions []*jsonnet.NativeFunction
	// ParseOutputs reads overlays/<region>/outputs.yaml (see config).
	ParseOutputs config.OutputsParser
	// AWS writes regions/<region>/aws/ from the templates' `aws` result
	// (then required: see README, "Template input"), checked strictly and
	// cross-checked with the rendered objects; false ignores it.
	AWS bool
	// Previous maps a region to the inputs digest its committed folder was
	// rendered from (when that folder is intact, see Digest); regions whose
	// inputs still hash the same are skipped without evaluation.
	Previous map[string]string
	// Intact, when not nil, confirms that the committed folder of a region
	// whose inputs digest equals Previous[region] still holds what was
	// rendered (see treeio.State.Intact); the region is skipped only when it
	// says so, and evaluated otherwise. It runs beside the evaluation of the
	// regions whose digest changed, so an incremental run does not wait for
	// it; it must be safe for concurrent use. Nil trusts Previous as it is.
	Intact func(region string) bool
	// Force renders every selected region, ignoring Previous.
	Force bool
	// Phases, when not nil, records how long each step of the render
	// takes (CODERFLEET_TRACE).
	Phases *phasetime.Recorder
	// ExtraDigest is mixed into every region's inputs digest: the digest of
	// inputs the renderer cannot see, such as the vendored charts' lock.
	ExtraDigest string
}

// Result is a render's output.
type Result struct {
	Config *config.Config
	// Regions holds the tree of each rendered region.
	Regions map[string]Tree
	// Complete is true when every region of the fleet was rendered, so
	// region folders without an overlay may be removed.
	Complete bool
	// Warnings are things to act on that do not stop the render, such as
	// a load balancer whose certificate is not issued yet; sorted.
	Warnings []string
	// Skipped are the regions left out because their inputs digest equals
	// the one their committed folder was rendered from.
	Skipped []string
	// Digests holds the digests of every rendered region, for the next
	// incremental render.
	Digests map[string]Digest
}

// Render loads the fleet's configuration and renders the selected regions.
// Regions render in parallel; the result does not depend on scheduling.
// A region whose inputs digest equals Options.Previous[region] is skipped
// (listed in Result.Skipped) unless Options.Force is set.
func Render(ctx context.Context, opts Options) (*Result, error) {
	// The fleet's configuration and the templates are independent: parse
	// the templates beside the configuration's load. Errors are reported in
	// a fixed order (configuration, region selection, templates), whichever
	// step finishes first.
	var (
		first   *evaluator
		deps    []string
		depsErr error
		tplErr  error
		parsed  = make(chan struct{})
	)
	imp := newImporter(opts.FS, opts.Repo)
	// The trace lists the phases in this order, whichever ends first.
	opts.Phases.Add("load config", 0)
	opts.Phases.Add("templates (beside load config)", 0)
	go func() {
		defer close(parsed)
		end := opts.Phases.Start("templates (beside load config)")
		defer end()
		first = &evaluator{imp: imp, maxStack: opts.MaxStack, timeout: opts.EvalTimeout, natives: opts.NativeFunctions}
		deps, depsErr = first.dependencies()
		tplErr = first.refuseTailstrict("")
	}()
	end := opts.Phases.Start("load config")
	cfg, err := config.Load(opts.FS, opts.Repo, config.LoadOptions{ParseOutputs: opts.ParseOutputs})
	end()
	var selected []*config.RegionConfig
	if err == nil {
		selected, err = selectedRegions(cfg, opts.Regions)
	}
	<-parsed
	if err != nil {
		return nil, err
	}
	if tplErr != nil {
		return nil, tplErr
	}
	rr := &regionRenderer{cfg: cfg, opts: opts, imp: imp, deps: deps, depsErr: depsErr, spare: first}
	// First every region's inputs digest (cheap), then the evaluation of
	// those whose digest changed: an incremental run pays only for those.
	end = opts.Phases.Start("digest")
	outcomes, err := inParallel(ctx, len(selected), opts.Parallelism, func() func(i int) outcome {
		return func(i int) outcome { return rr.digest(selected[i]) }
	})
	end()
	if err != nil {
		return nil, err
	}
	// Regions whose digest changed are evaluated at once; those whose
	// digest matches wait for Options.Intact (when set), which checks their
	// folders beside the evaluation, and are evaluated only when it says no.
	var todo, unsure []int
	for i, o := range outcomes {
		switch {
		case o.err != nil || o.skipped:
		case o.unsure:
			unsure = append(unsure, i)
		default:
			todo = append(todo, i)
		}
	}
	end = opts.Phases.Start("evaluate")
	rendered, err := evaluate(ctx, opts.Phases, opts.Parallelism, todo, unsure, func(i int) bool {
		return opts.Intact(selected[i].Region.Name)
	}, func() func(i int) outcome {
		ev := rr.newEvaluator() // one per worker: a VM is not safe for concurrent use
		return func(i int) outcome { return rr.render(selected[i], ev, outcomes[i]) }
	})
	end()
	if err != nil {
		return nil, err
	}
	for _, i := range unsure {
		outcomes[i] = outcome{skipped: true} // intact unless evaluated below
	}
	for i, o := range rendered {
		outcomes[i] = o
	}
	res, err := collect(cfg, selected, outcomes, len(opts.Regions) == 0)
	if err != nil {
		return nil, err
	}
	end = opts.Phases.Start("secret cross-check")
	err = crossCheckSecrets(cfg, opts, selected, outcomes)
	end()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// crossCheckSecrets reports the secrets the rendered regions' ExternalSecrets
// read that neither their own region nor any other lists (see
// checkSecretRefs): regions not rendered in this run are read from their
// committed folders.
func crossCheckSecrets(cfg *config.Config, opts Options, selected []*config.RegionConfig, outcomes []outcome) error {
	fleet := secretIndex{}
	rendered := map[string]bool{}
	var pending []secretRef
	for i, r := range selected {
		if outcomes[i].skipped {
			continue
		}
		rendered[r.Region.Name] = true
		maps.Copy(fleet, outcomes[i].secrets.listed)
		pending = append(pending, outcomes[i].secrets.pending...)
	}
	errs, err := checkSecretRefs(cfg, fleet, rendered, pending, func(rel string) ([]byte, error) {
		p := filepath.Join(opts.Repo, filepath.FromSlash(rel))
		if !opts.FS.Exists(p) {
			return nil, nil
		}
		return opts.FS.ReadFile(p)
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// selectedRegions returns the regions named by requested (see
// SelectRegions), in the order asked, or every region when none is.
func selectedRegions(cfg *config.Config, requested []string) ([]*config.RegionConfig, error) {
	if len(requested) == 0 {
		return cfg.Regions, nil
	}
	var known []string
	for _, r := range cfg.Regions {
		known = append(known, r.Region.Name)
	}
	names, err := SelectRegions(requested, known)
	if err != nil {
		return nil, err
	}
	selected := make([]*config.RegionConfig, len(names))
	for i, name := range names {
		selected[i] = cfg.Region(name)
	}
	return selected, nil
}

// outcome is what rendering one region gave.
type outcome struct {
	tree     Tree
	input    []byte // the template input (between digest and render)
	digest   string // inputs digest; "" when the template files could not be listed
	warnings []string
	skipped  bool // the inputs digest equals Options.Previous
	unsure   bool // it does, but Options.Intact has not confirmed the folder yet
	secrets  regionSecrets
	err      error
}

// regionRenderer holds what every region's render shares.
type regionRenderer struct {
	cfg  *config.Config
	opts Options
	imp  *importer
	// deps are the template files every region depends on, for the inputs
	// digest; depsErr is why they could not be listed (a broken import),
	// in which case no region is skipped and evaluation reports the problem.
	deps    []string
	depsErr error

	// spare is the evaluator that listed deps: its VM has parsed every
	// template, so the first worker takes it instead of parsing them again.
	spareMu sync.Mutex
	spare   *evaluator
}

// newEvaluator returns an evaluator for one worker: the one that listed
// the templates, once, then new ones.
func (rr *regionRenderer) newEvaluator() *evaluator {
	rr.spareMu.Lock()
	ev := rr.spare
	rr.spare = nil
	rr.spareMu.Unlock()
	if ev != nil {
		return ev
	}
	return &evaluator{imp: rr.imp, maxStack: rr.opts.MaxStack, timeout: rr.opts.EvalTimeout, natives: rr.opts.NativeFunctions}
}

// digest builds region r's template input and inputs digest, and says
// whether the committed folder is current (the incremental skip); the
// outcome is what render needs.
func (rr *regionRenderer) digest(r *config.RegionConfig) outcome {
	input, err := templateInput(rr.cfg, r, rr.opts.Version)
	if err != nil {
		return outcome{err: fmt.Errorf("region %s: building template input: %w", r.Region.Name, err)}
	}
	o := outcome{input: input}
	if rr.depsErr == nil {
		if o.digest, err = inputsDigest(rr.opts, rr.imp, rr.deps, r, input); err != nil {
			return outcome{err: err}
		}
	}
	if !rr.opts.Force && o.digest != "" && rr.opts.Previous[r.Region.Name] == o.digest {
		if rr.opts.Intact == nil {
			return outcome{skipped: true}
		}
		o.unsure = true
	}
	return o
}

// render renders region r with ev from d, its digest's outcome.
func (rr *regionRenderer) render(r *config.RegionConfig, ev *evaluator, d outcome) outcome {
	// Kustomize parses its OpenAPI schema, and the secret guard compiles
	// gitleaks' rules, on first use; start both now, beside the template
	// evaluation.
	warmValidation.Do(func() { go validate.Warm() })
	if rr.opts.FS.Exists(filepath.Join(rr.opts.Repo, filepath.FromSlash(r.Dir), KustomizationFile)) {
		warmKustomize.Do(func() { go openapi.Schema() })
	}
	o := outcome{digest: d.digest}
	o.tree, o.warnings, o.secrets, o.err = renderRegion(rr.cfg, r, ev, rr.opts, d.input)
	return o
}

// inParallel runs n jobs on at most par workers (0: GOMAXPROCS) and
// returns their outcomes by job index. Each worker calls newWorker once
// for its job function. Jobs not started when ctx ends are not run, and
// ctx's error is returned.
func inParallel(ctx context.Context, n, par int, newWorker func() func(i int) outcome) ([]outcome, error) {
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	par = min(par, max(n, 1))
	outcomes := make([]outcome, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			job := newWorker()
			for i := range next {
				outcomes[i] = job(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return outcomes, nil
}

// evaluate runs job (from newWorker, once per worker) on the regions todo
// and on those of unsure that intact rejects, on at most par workers (0:
// GOMAXPROCS), and returns the outcomes by region index. The regions of todo
// start at once; intact checks unsure beside them, on the workers todo leaves
// idle (at least one), so that checking unchanged folders does not delay
// evaluating changed ones. Regions not started when ctx ends are not run,
// and ctx's error is returned.
func evaluate(ctx context.Context, phases *phasetime.Recorder, par int, todo, unsure []int, intact func(i int) bool, newWorker func() func(i int) outcome) (map[int]outcome, error) {
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	var (
		mu      sync.Mutex
		out     = map[int]outcome{}
		workers int
		wg      sync.WaitGroup
	)
	next := make(chan int, len(todo)+len(unsure))
	// enqueue hands region i to a worker, starting one while fewer than par
	// run and fewer than the regions queued so far.
	queued := 0
	enqueue := func(i int) {
		mu.Lock()
		queued++
		start := workers < par && workers < queued
		if start {
			workers++
		}
		mu.Unlock()
		next <- i
		if start {
			wg.Go(func() {
				job := newWorker()
				for i := range next {
					if ctx.Err() != nil {
						continue
					}
					o := job(i)
					mu.Lock()
					out[i] = o
					mu.Unlock()
				}
			})
		}
	}
	for _, i := range todo {
		enqueue(i)
	}
	// Check the unsure regions on the workers todo leaves idle.
	endCheck := phases.Start("check unchanged folders (beside evaluate)")
	var checkers errgroup.Group
	checkers.SetLimit(max(1, par-len(todo)))
	for _, i := range unsure {
		if ctx.Err() != nil {
			break
		}
		checkers.Go(func() error {
			if !intact(i) {
				enqueue(i)
			}
			return nil
		})
	}
	_ = checkers.Wait() // the checks fail nothing: a folder not intact is evaluated
	if len(unsure) > 0 {
		endCheck()
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// collect turns the outcomes, in region order, into the Result, or into
// every input error found: a fleet.yaml setting refused by the templates
// of several regions is reported once, and refused settings are reported
// before the other problems. Any other error is returned as it is.
func collect(cfg *config.Config, selected []*config.RegionConfig, outcomes []outcome, complete bool) (*Result, error) {
	res := &Result{Config: cfg, Regions: map[string]Tree{}, Complete: complete, Digests: map[string]Digest{}}
	var all Errors
	var settings config.ErrorList // settings refused by a region's templates
	seen := map[string]bool{}
	for i, r := range selected {
		o := outcomes[i]
		switch e := o.err.(type) {
		case nil:
		case *Error:
			all = append(all, e)
			continue
		case Errors:
			all = append(all, e...)
			continue
		case refusedSettings:
			// A fleet.yaml setting is refused by every region it reaches;
			// say it once.
			for _, ce := range e.List {
				if !seen[ce.Error()] {
					seen[ce.Error()] = true
					settings = append(settings, ce)
				}
			}
			continue
		default:
			return nil, o.err
		}
		if o.skipped {
			res.Skipped = append(res.Skipped, r.Region.Name)
			continue
		}
		res.Regions[r.Region.Name] = o.tree
		if o.digest != "" {
			res.Digests[r.Region.Name] = Digest{Inputs: o.digest, Outputs: OutputsDigest(o.tree)}
		}
		res.Warnings = append(res.Warnings, o.warnings...)
	}
	if len(settings) > 0 {
		slices.SortStableFunc(settings, func(a, b *config.Error) int {
			return cmp.Or(strings.Compare(a.File, b.File), a.Line-b.Line)
		})
		return nil, settings
	}
	if len(all) > 0 {
		return nil, all
	}
	return res, nil
}

// SelectRegions checks the regions asked for (--region, repeated or as
// comma lists: each entry may hold several names separated by commas)
// against the known ones and returns them without blanks or duplicates, in
// the order first asked. A name not known is an *UnknownRegionError.
func SelectRegions(requested, known []string) ([]string, error) {
	var names []string
	for _, entry := range requested {
		for name := range strings.SplitSeq(entry, ",") {
			name = strings.TrimSpace(name)
			if name == "" || slices.Contains(names, name) {
				continue
			}
			if !slices.Contains(known, name) {
				return nil, &UnknownRegionError{Name: name, Known: slices.Sorted(slices.Values(known))}
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// refusedSettings are settings of overlays/ refused while rendering one
// region, each placed at the file and line where it was written. Render
// reports each once, however many regions refuse it.
type refusedSettings struct{ diag.List }

// UnknownRegionError is a region asked for (--region) that the fleet does
// not have: a usage problem, not a problem in a file. Known holds the
// fleet's regions, sorted.
type UnknownRegionError struct {
	Name  string
	Known []string
}

func (e *UnknownRegionError) Error() string {
	hint := "name one of them, or leave --region out for every region"
	best, bestDist := "", len(e.Name)/2+2
	for _, k := range e.Known {
		if d := levenshtein.ComputeDistance(e.Name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		hint = fmt.Sprintf("did you mean %q?", best)
	}
	if len(e.Known) == 0 {
		return fmt.Sprintf("unknown region %q: --region names a region folder, and there is none (hint: run coderfleet render first)", e.Name)
	}
	return fmt.Sprintf("unknown region %q in --region (regions of this fleet: %s) (hint: %s)", e.Name, strings.Join(e.Known, ", "), hint)
}

// warmKustomize starts kustomize's one-time schema parse at most once,
// warmValidation validate.Warm.
var warmKustomize, warmValidation sync.Once

// TemplateInput is the top-level argument `config` of templates/main.jsonnet.
// It holds what one region depends on: its own settings and the primary
// region's facts, deliberately not the list of every region, so adding or
// removing a proxy region leaves the other regions' inputs (and their
// incremental-render digests) unchanged.
type TemplateInput struct {
	Version  string          `json:"version"`
	Fleet    FleetInfo       `json:"fleet"`
	Region   RegionInfo      `json:"region"`
	Primary  RegionInfo      `json:"primary"`
	Settings config.Settings `json:"settings"`
}

// FleetInfo is the fleet's identity as templates see it.
type FleetInfo struct {
	Name         string `json:"name"`
	Domain       string `json:"domain"`
	HostedZone   string `json:"hostedZone"`
	AWSAccountID string `json:"awsAccountID"`
}

// RegionInfo is a region as templates see it.
type RegionInfo struct {
	Name         string            `json:"name"`
	AWSRegion    string            `json:"awsRegion"`
	Role         string            `json:"role"`
	ClusterName  string            `json:"clusterName"`
	DisplayName  string            `json:"displayName"`
	Icon         string            `json:"icon"`
	VPCID        string            `json:"vpcID"`
	Certificates map[string]string `json:"certificates"`
}

func regionInfo(r *config.RegionConfig) RegionInfo {
	certs := r.Certificates
	if certs == nil {
		certs = map[string]string{}
	}
	return RegionInfo{Name: r.Region.Name, AWSRegion: r.Region.AWSRegion, Role: r.Region.Role, ClusterName: r.Region.ClusterName,
		DisplayName: r.Region.DisplayName, Icon: r.Region.Icon, VPCID: r.Region.VPCID, Certificates: certs}
}

// templateInput builds the JSON handed to the templates for region r.
func templateInput(cfg *config.Config, r *config.RegionConfig, version string) ([]byte, error) {
	in := TemplateInput{
		Version:  version,
		Fleet:    FleetInfo{Name: cfg.Fleet.Name, Domain: cfg.Fleet.Domain, HostedZone: cfg.Fleet.HostedZone, AWSAccountID: cfg.Fleet.AWSAccountID},
		Region:   regionInfo(r),
		Primary:  regionInfo(cfg.Primary()),
		Settings: r.Settings,
	}
	fillEmpty(reflect.ValueOf(&in))
	return json.Marshal(in)
}

func renderRegion(cfg *config.Config, r *config.RegionConfig, ev *evaluator, opts Options, input []byte) (Tree, []string, regionSecrets, error) {
	tree, secrets, err := renderRegionTree(cfg, r, ev, opts, input)
	if err != nil {
		return nil, nil, regionSecrets{}, err
	}
	tree[MarkerFile] = Marker{Region: r.Region.Name, Version: opts.Version}.Bytes()
	return tree, pendingCertificates(r.Region.Name, tree), secrets, nil
}

// renderRegionTree evaluates region r's templates, applies its overlay,
// validates the result and lays it out as the region's folder (without the
// marker). Each step is one function below; the first error stops it.
func renderRegionTree(cfg *config.Config, r *config.RegionConfig, ev *evaluator, opts Options, input []byte) (Tree, regionSecrets, error) {
	out, err := ev.evaluate(r.Region.Name, input)
	if err != nil {
		return nil, regionSecrets{}, err
	}
	if err := checkOwned(r, input, out.Owned); err != nil {
		return nil, regionSecrets{}, err
	}
	objs, err := componentObjects(r.Region.Name, out)
	if err != nil {
		return nil, regionSecrets{}, err
	}
	rt := &regionTree{cfg: cfg, r: r, opts: opts, out: out,
		bl: &blamer{opts: opts, ev: ev, region: r, changed: map[string]bool{}}}
	if objs, err = rt.applyOverlay(objs); err != nil {
		return nil, regionSecrets{}, err
	}
	if err := rt.groupByComponent(objs); err != nil {
		return nil, regionSecrets{}, err
	}
	if err := rt.prepareReview(); err != nil {
		return nil, regionSecrets{}, err
	}
	tree, err := rt.layOut()
	return tree, rt.secrets, err
}

// componentObjects checks the component names and object shapes the
// templates returned and returns every object, tagged with its component,
// in component order.
func componentObjects(name string, out *Output) ([]map[string]any, error) {
	var objs []map[string]any
	for _, comp := range slices.Sorted(maps.Keys(out.Components)) {
		if !componentRE.MatchString(comp) || comp == AWSDir || comp == ReviewDir {
			return nil, &Error{Region: name, File: EntryPoint, Component: comp, Msg: fmt.Sprintf("invalid component name %q", comp),
				Hint: "component names are lower-case DNS labels and not \"aws\" or \"review\""}
		}
		for _, m := range out.Components[comp] {
			if err := checkShape(name, comp, m); err != nil {
				return nil, err
			}
			tagComponent(m, comp)
			objs = append(objs, m)
		}
	}
	return objs, nil
}

// regionTree is one region's render after evaluation: what its steps
// share.
type regionTree struct {
	cfg  *config.Config
	r    *config.RegionConfig
	opts Options
	out  *Output
	bl   *blamer
	// origin maps an object ref to the component that rendered it, before
	// the overlay.
	origin map[string]string
	// byComp holds the objects after the overlay, by component.
	byComp map[string][]map[string]any
	// secrets are the secrets the region's AWS desired state lists and
	// those its ExternalSecrets read that it does not list.
	secrets regionSecrets
}

// applyOverlay refuses an object rendered by two components, then runs
// the region's overlay (if any) over objs and returns its result,
// recording which objects it changed (for blame).
func (rt *regionTree) applyOverlay(objs []map[string]any) ([]map[string]any, error) {
	name := rt.r.Region.Name
	// One object rendered by two components is refused before the overlay,
	// which would otherwise fail on the duplicate or keep only one of them.
	if err := refuseSharedObjects(name, rt.out.Components, rt.out.Review); err != nil {
		rt.bl.blameObject(err)
		return nil, err
	}
	rt.origin = map[string]string{}
	for _, m := range objs {
		rt.origin[ref(m)] = str(m, "metadata", "annotations", AnnotationComponent)
	}
	overlaid, ran, err := overlay(rt.opts.FS, rt.opts.Repo, name, rt.r.Dir, objs)
	if err != nil {
		return nil, err
	}
	if ran {
		rt.bl.changed = overlayChanges(objs, overlaid)
	}
	return overlaid, nil
}

// groupByComponent files each object after the overlay under the
// component its annotation names (rt.byComp), with provenance added. An
// annotation the overlay removed, added without one, naming an unknown
// component, or a provenance annotation the overlay changed, is refused,
// placed at the overlay line that did it when it can be found.
func (rt *regionTree) groupByComponent(objs []map[string]any) error {
	name, bl := rt.r.Region.Name, rt.bl
	rt.byComp = map[string][]map[string]any{}
	for _, m := range objs {
		comp := str(m, "metadata", "annotations", AnnotationComponent)
		if comp == "" && rt.origin[ref(m)] != "" {
			return rt.removedAnnotation(m)
		}
		if comp == "" {
			return &Error{Region: name, File: rt.r.Dir + "/" + KustomizationFile, Object: ref(m),
				Msg:  "object added by the overlay has no component",
				Hint: fmt.Sprintf("add the annotation %s: <component> (e.g. coder) so it is written to that component's folder", AnnotationComponent)}
		}
		if _, ok := rt.out.Components[comp]; !ok {
			return &Error{Region: name, Object: ref(m), Msg: fmt.Sprintf("annotation %s names unknown component %q", AnnotationComponent, comp),
				Hint: "use one of: " + strings.Join(slices.Sorted(maps.Keys(rt.out.Components)), ", ")}
		}
		if e, key := provenanceClash(m, name, rt.origin[ref(m)]); e != nil {
			if e.File, e.Line = bl.find(bl.candidates(e.Object), key); e.File == "" {
				bl.blameObject(e)
			}
			return e
		}
		addProvenance(m, name)
		rt.byComp[comp] = append(rt.byComp[comp], m)
	}
	return nil
}

// removedAnnotation is the error of a rendered object m whose component
// annotation the overlay removed: it would have no folder to go to.
func (rt *regionTree) removedAnnotation(m map[string]any) error {
	bl := rt.bl
	e := &Error{Region: rt.r.Region.Name, Object: ref(m), Field: "metadata.annotations." + AnnotationComponent,
		Msg:  fmt.Sprintf("the overlay removed the annotation %s (it was %q): coderfleet writes each object to its component's folder", AnnotationComponent, rt.origin[ref(m)]),
		Hint: "do not patch coderfleet's provenance annotations; to drop the object, use a $patch: delete patch"}
	for _, needle := range []string{AnnotationComponent, strings.ReplaceAll(AnnotationComponent, "/", "~1")} { // a JSON patch path escapes "/"
		if e.File, e.Line = bl.find(bl.candidates(e.Object), needle); e.File != "" {
			break
		}
	}
	if e.File == "" {
		bl.blameObject(e)
	}
	return e
}

// prepareReview checks the review file names, adds provenance to their
// objects and sorts them, and refuses an object that both a component
// (after the overlay) and a review file hold.
func (rt *regionTree) prepareReview() error {
	name := rt.r.Region.Name
	for _, file := range slices.Sorted(maps.Keys(rt.out.Review)) {
		if !componentRE.MatchString(strings.TrimSuffix(file, ".yaml")) || !strings.HasSuffix(file, ".yaml") {
			return &Error{Region: name, File: EntryPoint, Msg: fmt.Sprintf("invalid review file name %q", file), Hint: "use <name>.yaml with a lower-case DNS label as name"}
		}
		for _, m := range rt.out.Review[file] {
			addProvenance(m, name)
		}
		sortObjects(rt.out.Review[file])
	}
	if err := refuseSharedObjects(name, rt.byComp, rt.out.Review); err != nil {
		rt.bl.blameObject(err)
		return err
	}
	return nil
}

// validationOptions are the validate options of the region's settings.
func (rt *regionTree) validationOptions() validate.Options {
	s := rt.r.Settings
	return validate.Options{Allow: s.SecretGuard.Allow, AllowKinds: s.Validation.AllowKinds, AWSRegion: rt.r.Region.AWSRegion, AWSAccountID: rt.cfg.Fleet.AWSAccountID}
}

// validateObjects sorts each component's objects and validates them with
// the review files' objects: what a HelmRelease will install is checked as
// strictly as what is rendered, since the review file shows it and the
// cluster gets it.
func (rt *regionTree) validateObjects(vopts validate.Options) []*validate.Problem {
	var vobjs []validate.Object
	for _, comp := range slices.Sorted(maps.Keys(rt.byComp)) {
		sortObjects(rt.byComp[comp])
		for _, m := range rt.byComp[comp] {
			vobjs = append(vobjs, validate.Object{Component: comp, Obj: m})
		}
	}
	for _, file := range slices.Sorted(maps.Keys(rt.out.Review)) {
		for _, m := range rt.out.Review[file] {
			vobjs = append(vobjs, validate.Object{Component: ReviewDir + "/" + file, Obj: m})
		}
	}
	return validate.Objects(rt.r.Region.Name, vobjs, vopts)
}

// layOut validates the objects and writes the tree: each component's
// files, the review files and the AWS desired state (itself validated).
// Validation problems are reported together, placed in the tree.
func (rt *regionTree) layOut() (Tree, error) {
	name := rt.r.Region.Name
	vopts := rt.validationOptions()
	problems := rt.validateObjects(vopts)
	tree := Tree{}
	for _, comp := range slices.Sorted(maps.Keys(rt.byComp)) {
		if err := componentFiles(name, comp, rt.byComp[comp], tree); err != nil {
			var e *Error
			if errors.As(err, &e) && e.File == "" {
				rt.bl.blameObject(e)
			}
			return nil, err
		}
	}
	for _, file := range slices.Sorted(maps.Keys(rt.out.Review)) {
		data, err := multiDoc(rt.out.Review[file])
		if err != nil {
			return nil, &Error{Region: name, Msg: "serialising review file " + file, Err: err}
		}
		tree[ReviewDir+"/"+file] = data
	}
	awsProblems, awsErrs, err := rt.awsFiles(tree, vopts)
	if err != nil {
		return nil, err
	}
	if problems = append(problems, awsProblems...); len(problems) > 0 || len(awsErrs) > 0 {
		// The objects' problems first, then those of the AWS desired state.
		var errs Errors
		if len(problems) > 0 {
			errs = problemErrors(name, problems, rt.byComp, rt.out.Review, tree, rt.bl)
		}
		return nil, append(errs, awsErrs...)
	}
	return tree, nil
}

// awsFiles adds the region's AWS desired state (the templates' `aws`,
// when Options.AWS), checked strictly and cross-checked with the rendered
// objects (crossCheck), to tree under aws/ and returns its validation
// problems, or the input errors of the check and cross-check; err is a
// runtime failure.
func (rt *regionTree) awsFiles(tree Tree, vopts validate.Options) ([]*validate.Problem, Errors, error) {
	if !rt.opts.AWS {
		return nil, nil, nil
	}
	name := rt.r.Region.Name
	state, err := parseAWS(rt.cfg.Fleet.Name, name, rt.out.AWS)
	if err != nil {
		if IsInputError(err) {
			return nil, diag.All(err), nil
		}
		return nil, nil, err
	}
	errs, pending := crossCheck(rt.cfg.Fleet.AWSAccountID, rt.r, state, regionObjects{rt.byComp, rt.out.Review}, rt.bl)
	if len(errs) > 0 {
		return nil, errs, nil
	}
	rt.secrets = regionSecrets{listed: state.secrets(name), pending: pending}
	files, err := state.files()
	if err != nil {
		return nil, nil, &Error{Region: name, Msg: "writing the AWS desired state", Err: err}
	}
	var problems []*validate.Problem
	for _, f := range slices.Sorted(maps.Keys(files)) {
		tree[AWSDir+"/"+f] = files[f]
		problems = append(problems, validate.AWSFile(name, "regions/"+name+"/"+AWSDir+"/"+f, files[f], vopts)...)
		if f == awsstate.RolesFile {
			problems = append(problems, validate.RolePolicies(name, "regions/"+name+"/"+AWSDir+"/"+f, files[f], rt.r.Settings.IAM.AllowWildcards)...)
		}
	}
	return problems, nil, nil
}

// problemErrors turns validation problems into Errors. A problem in an
// object is placed at the file and line where the object would have been
// written (regions/<region>/<component>/<file>), so the user can find the
// field in what the templates and overlay produced.
func problemErrors(region string, problems []*validate.Problem, byComp, review map[string][]map[string]any, tree Tree, bl *blamer) Errors {
	type placed struct {
		rel string
		obj map[string]any
	}
	objects := map[string]placed{} // component + "/" + object ref
	for comp, objs := range byComp {
		for _, m := range objs {
			objects[comp+"/"+ref(m)] = placed{comp + "/" + FileName(m), m}
		}
	}
	for file, objs := range review {
		for _, m := range objs {
			objects[ReviewDir+"/"+file+"/"+ref(m)] = placed{ReviewDir + "/" + file, m}
		}
	}
	errs := make(Errors, len(problems))
	for i, p := range problems {
		e := &Error{Region: p.Region, File: p.File, Line: p.Line, Component: p.Component, Object: p.Object,
			Field: p.Field, Msg: p.Msg, Hint: p.Hint}
		if o, ok := objects[p.Component+"/"+p.Object]; ok && e.File == "" {
			bl.blame(e, o.obj, p.Locate)
			at := "regions/" + region + "/" + o.rel
			// A review file holds many objects: a line found in it could
			// belong to another one.
			if line := lineOfField(tree[o.rel], p.Field); line > 0 && !strings.HasPrefix(o.rel, ReviewDir+"/") {
				at = fmt.Sprintf("%s:%d", at, line)
			}
			e.Msg += " (rendered at " + at + ")"
		}
		errs[i] = e
	}
	return errs
}
