// Package synth builds synthetic fleets of any size from the example fleet,
// for benchmarks and scale tests: one primary region and n-1 workspace-proxy
// regions with realistic overlays (region overrides, strategic-merge and
// JSON 6902 patches in kustomization.yaml). The fleet-wide settings
// (overlays/fleet.yaml) and templates/ are copied from the example
// repository, so a synthetic fleet renders exactly what the real templates
// render. Generation is deterministic: the same n and the same example give
// the same files.
package synth
