// Package awsstate defines the versioned desired-state format of the AWS pieces
// of a coderfleet region: ACM certificates, Route53 health checks and Route53
// records, IAM roles for service accounts and Secrets Manager secrets. The
// templates build the lists (templates/main.jsonnet returns them as `aws`);
// the renderer checks each with Parse and writes it under
// regions/<region>/aws/ with Marshal; coderfleet sync reads them back with
// Parse and applies them. Nothing here knows a component, Service or
// certificate name.
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
