// Package awsstate defines the versioned desired-state format of the AWS pieces
// of a coderfleet region: ACM certificates, Route53 health checks and Route53
// records. The renderer writes these files under regions/<region>/aws/ with
// Build; coderfleet sync reads them back with Parse and applies them.
//
// The package also owns the outputs file that sync writes back
// (overlays/<region>/outputs.yaml): the ARNs of the issued certificates, which
// the renderer reads with ParseOutputs.
//
// Parse and ParseOutputs decode with internal/strictyaml, the decoder of the
// configuration: the types' yaml tags name the keys (the same names Marshal
// writes), `cf:"required"` marks required ones, and every problem is a
// diag.Error naming file, line, column and key path.
//
// Everything here is pure: functions take bytes and return bytes or values,
// and the same input always gives byte-identical output.
package awsstate
