package config

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/internal/strictyaml"
)

// Pos is where a key was written: its file, line and column.
type Pos = strictyaml.Pos

// positions maps a key path ("coder.replicas") to where it was written, so
// checks that run after decoding can still point at a line.
type positions = strictyaml.Positions

// newDecoder returns the strict decoder of config's files: struct fields
// are named by their `json` tag (the same names the templates see) and
// marked required with `cf:"required"`.
func newDecoder(file string) *strictyaml.Decoder { return strictyaml.NewDecoder(file) }

// parseDocument parses one YAML document into its root node (nil when
// empty), refusing anchors, aliases and a second document.
func parseDocument(file string, data []byte) (*yaml.Node, error) { return strictyaml.Parse(file, data) }

func join(path, key string) string { return strictyaml.Join(path, key) }

// unknownKeyHint suggests the closest valid key, or lists them all.
func unknownKeyHint(key string, valid []string) string { return strictyaml.UnknownKeyHint(key, valid) }
