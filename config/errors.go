package config

import "github.com/coderfleet/coderfleet/internal/diag"

// Error is a problem with one place of one input file. It names the file,
// the line (0 when the file has no lines, like a missing file), the column
// and the key path ("coder.replicas" or "workspaceNamespaces[1].name"), and
// carries a hint the user can act on. It prints as
// "file:line:col: key "k": msg (hint: ...)".
type Error = diag.Error

// ErrorList is every problem found in the inputs, sorted by file and line so
// a user can fix them top to bottom in one pass.
type ErrorList = diag.List

// IsInputError reports whether err is (or wraps) a problem with the user's
// input files, as opposed to an I/O or runtime failure.
func IsInputError(err error) bool { return diag.IsInput(err) }
