// Command coderfleet-bench is the harness behind `make bench` (issue 7). It
// is a developer tool, not part of the user-facing CLI.
//
// For each fleet size (default 1, 10 and 100 regions, made by
// internal/synth from the example fleet) it runs the built coderfleet
// binary as a child process and measures wall time and peak RSS of a cold
// render (empty regions/), a no-op re-render, a re-render after one
// region's overlay changed, and `check`. Side by side it measures the same
// work done the way users do it without coderfleet, one process per step:
// the go-jsonnet CLI evaluating templates/main.jsonnet per region (input as
// a top-level argument, one file per object with -m) and `kubectl
// kustomize` applying each region's overlay. It prints a Markdown report
// with ratios and the targets marked met or missed, and writes it
// to -out (bench/results.md).
//
// For issue 16 (items 1 and 2) it also runs the one-changed-region renders
// with CODERFLEET_TRACE=1 and reports the median time of each step the
// binary prints (internal/phasetime) plus process start and package
// initialisation (the wall time the binary's own total leaves out), times
// `cp -r` of the rendered regions/ (the kernel's cost of creating the same
// tree) beside the cold render's CPU time, and marks "one changed region ≤
// one go-jsonnet process" and "cold CPU ≥ 3× less than the pipeline's" met
// or missed (render_report.go).
//
//	coderfleet-bench -coderfleet bin/coderfleet -jsonnet bin/jsonnet -out bench/results.md
package main
