// Package config loads and validates a fleet's configuration:
// overlays/fleet.yaml (fleet-wide identity and settings) and one
// overlays/<region>/region.yaml per region, whose `overrides` are merged
// over the fleet's settings.
//
// Decoding is strict: unknown keys, duplicate keys, wrong types, YAML
// anchors and missing required keys are errors, and every error names the
// file, the line and the key with a hint (see Error). The package reads
// through a kyaml filesys.FileSystem, so tests run entirely in memory.
package config
