package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coderfleet/coderfleet/config"
)

// Error is a problem with a template, an overlay or a rendered object. It
// names what it can: the region, the file and line, the component and the
// object, and carries a hint the user can act on.
type Error struct {
	Region    string
	File      string // repository-relative; empty when the problem has no file
	Line      int
	Component string
	Object    string // Kind/namespace/name
	Field     string // field path inside the object
	Msg       string
	Hint      string
}

// Error formats the problem on one line, most specific place first.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	var where []string
	if e.Region != "" {
		where = append(where, "region "+e.Region)
	}
	if e.Component != "" {
		where = append(where, "component "+e.Component)
	}
	if e.Object != "" {
		where = append(where, "object "+e.Object)
	}
	if e.Field != "" {
		where = append(where, "field "+e.Field)
	}
	if len(where) > 0 {
		b.WriteString(strings.Join(where, ", "))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

// Errors is several problems found in one render, one per line.
type Errors []*Error

func (l Errors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the problems to errors.As.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// IsInputError reports whether err is a problem with the repository's
// inputs (configuration, templates, overlays or what they render) that the
// user must fix, rather than an I/O or runtime failure.
func IsInputError(err error) bool {
	var e *Error
	return errors.As(err, &e) || config.IsInputError(err)
}
