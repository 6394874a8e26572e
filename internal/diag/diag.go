// Package diag is the one type of problem coderfleet reports about a
// user's input: a configuration, template, overlay, rendered object or
// desired-state file that must be fixed. Every package that reads input
// returns its problems as *Error values (alone, in a List, or wrapped with
// %w), so the CLI tells an input problem (exit 3) from a runtime failure
// with a single errors.As.
//
// An Error prints as
//
//	file:line:col: key "k": region r, component c, object o, field f: msg: cause (hint: h)
//
// where every part that is not set is left out.
package diag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem with one place of the user's input. It names what it
// can: the file and position, the key path inside the file, or the region,
// component, object and field of a rendered object; and it carries a hint
// the user can act on.
type Error struct {
	// File is the repository-relative path, e.g. "overlays/fleet.yaml";
	// empty when the problem has no file.
	File string
	// Line and Col are 1-based; 0 when not known.
	Line, Col int
	// Key is the dotted key path inside File, e.g. "coder.replicas" or
	// "workspaceNamespaces[1].name".
	Key string
	// BareKey prints Key as `k: ` instead of `key "k": `, the form the
	// AWS desired-state files' messages have always had.
	BareKey bool
	// Region, Component, Object (Kind/namespace/name, or Kind/name when
	// cluster-scoped) and Field (a field path inside the object or file)
	// place a problem found in rendered output.
	Region, Component, Object, Field string
	// Msg says what is wrong.
	Msg string
	// Hint says what the user can do about it.
	Hint string
	// Err is the underlying cause, printed after Msg (or alone when Msg is
	// empty) and returned by Unwrap.
	Err error
	// Check names the check that found the problem (see validate.Check);
	// it is not printed.
	Check string
	// Locate is text of the offending value (for a credential, the
	// suspected secret) that callers may search their inputs for to name
	// the file and line behind the problem; Error never prints it.
	Locate string
}

// Error formats the problem on one line (unless the cause has several),
// most specific place first.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		if e.BareKey {
			b.WriteString(e.Key + ": ")
		} else {
			fmt.Fprintf(&b, "key %q: ", e.Key)
		}
	}
	var where []string
	for _, kv := range [][2]string{{"region", e.Region}, {"component", e.Component}, {"object", e.Object}, {"field", e.Field}} {
		if kv[1] != "" {
			where = append(where, kv[0]+" "+kv[1])
		}
	}
	if len(where) > 0 {
		b.WriteString(strings.Join(where, ", "))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is and errors.As see through.
func (e *Error) Unwrap() error { return e.Err }

// Wrap marks err, a problem in the user's input that has no place of its
// own (or whose message already names it), as an input problem; nil stays
// nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// List is several problems, printed one per line.
type List []*Error

// Error joins the problems one per line.
func (l List) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes the individual problems to errors.As and errors.Is.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Sorted sorts the list in place by file and line, keeping the order of
// problems at the same place, so a user can fix them top to bottom in one
// pass; it returns the list.
func (l List) Sorted() List {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File < l[j].File
		}
		return l[i].Line < l[j].Line
	})
	return l
}

// Err returns the list as an error, or nil when it is empty (a nil List in
// an error variable is not a nil error).
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// All returns every *Error in err's tree (through Unwrap() error and
// Unwrap() []error), outermost first; an *Error's own cause is not
// searched. It is how a caller takes over the problems of a package it
// calls, for example to add a hint.
func All(err error) List {
	var out List
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// IsInput reports whether err is, or wraps, a problem with the user's
// input (an *Error) rather than an I/O or runtime failure.
func IsInput(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
