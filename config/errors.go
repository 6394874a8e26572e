package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is a problem with one place of one input file. It names the file,
// the line (0 when the file has no lines, like a missing file) and the key
// path, and carries a hint the user can act on.
type Error struct {
	File string // path relative to the repository, e.g. "overlays/fleet.yaml"
	Line int    // 1-based; 0 when not known
	Col  int    // 1-based; 0 when not known
	Key  string // dotted key path, e.g. "coder.replicas" or "workspaceNamespaces[1].name"
	Msg  string
	Hint string
}

// Error formats the problem as "file:line:col: key "k": msg (hint: ...)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

// ErrorList is every problem found in the inputs, sorted by file and line so
// a user can fix them top to bottom in one pass.
type ErrorList []*Error

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the individual problems to errors.As and errors.Is.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File < l[j].File
		}
		return l[i].Line < l[j].Line
	})
	return l
}

// errOrNil returns the list as an error, or nil when it is empty.
func (l ErrorList) errOrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l.sorted()
}

// IsInputError reports whether err is (or wraps) a problem with the user's
// input files, as opposed to an I/O or runtime failure.
func IsInputError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
