// Package render turns a fleet's configuration and the Jsonnet templates in
// templates/ into the file tree Flux applies: one folder per region under
// regions/, one folder per component, one Kubernetes object per file.
//
// Rendering is a pure function of the repository's inputs. The package
// reads through a kyaml filesys.FileSystem passed in by the caller and
// returns trees of bytes; it never writes to disk, reads the clock or the
// network (writing regions/ atomically is internal/treeio's job). The same
// inputs give byte-identical output at any GOMAXPROCS.
//
// The pipeline per region: load (package config) -> evaluate
// templates/main.jsonnet with the region's settings as the top-level
// argument `config` -> apply overlays/<region>/kustomization.yaml with
// kustomize's krusty on an in-memory filesystem -> add provenance
// annotations, validate -> serialise with sorted keys.
package render
