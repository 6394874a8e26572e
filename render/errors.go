package render

import "github.com/coderfleet/coderfleet/internal/diag"

// Error is a problem with a template, an overlay or a rendered object. It
// names what it can: the region, the file and line, the component and the
// object (Kind/namespace/name) and the field path inside it, and carries a
// hint the user can act on. It prints on one line, most specific place
// first.
type Error = diag.Error

// Errors is several problems found in one render, one per line.
type Errors = diag.List

// IsInputError reports whether err is a problem with the repository's
// inputs (configuration, templates, overlays or what they render) that the
// user must fix, rather than an I/O or runtime failure.
func IsInputError(err error) bool { return diag.IsInput(err) }
