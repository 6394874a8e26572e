// Package scaffold writes the files a person would otherwise start by hand:
// today the region.yaml of a new region (`coderfleet region add`).
//
// RegionFile is a pure function from a RegionSpec to the commented YAML.
// AddRegion checks the request against the fleet (the name is free, the AWS
// region exists, there is at most one primary) and writes the file through
// a kyaml filesys.FileSystem, so tests run in memory.
package scaffold
