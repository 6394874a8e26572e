package jsonout

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/coderfleet/coderfleet/internal/diag"
)

// ErrorSchema is the schema version of the document a verb run with
// -o json prints on stdout when it fails (exit 3, 4 or 64).
var ErrorSchema = Schema("error")

// ErrorDocument is what a failed verb prints on stdout in JSON mode, in
// place of its own document; the exit code is the process's.
type ErrorDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	Summary       struct {
		Diagnostics int `json:"diagnostics"`
	} `json:"summary"`
	// Command is the command line's verb, such as "coderfleet sync plan".
	Command string `json:"command"`
	// ExitCode is the process exit code (README "Exit codes").
	ExitCode int `json:"exitCode"`
	// Diagnostics are the problems, one per error line, in the order the
	// text output lists them.
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// NewErrorDocument builds the error document of command exiting with code
// because of err (see FromError).
func NewErrorDocument(command string, code int, err error) ErrorDocument {
	d := ErrorDocument{SchemaVersion: ErrorSchema, Command: command, ExitCode: code, Diagnostics: FromError(err)}
	d.Summary.Diagnostics = len(d.Diagnostics)
	return d
}

// Diagnostic is one problem, with where it is and how to fix it. Every
// key is present; a piece the error does not name is null.
type Diagnostic struct {
	// Message is the problem as the text output prints it, whole (the
	// pieces below included).
	Message string `json:"message"`
	// File is relative to the repository (or as given on the command
	// line); Line and Column count from 1.
	File   *string `json:"file"`
	Line   *int    `json:"line"`
	Column *int    `json:"column"`
	// Key is the configuration key, such as "keySync.keyLifetime".
	Key *string `json:"key"`
	// Region, Component, Object and Field locate a problem of a rendered
	// object ("Deployment coder/coder", "spec.template...").
	Region    *string `json:"region"`
	Component *string `json:"component"`
	Object    *string `json:"object"`
	Field     *string `json:"field"`
	// Hint says how to fix it.
	Hint *string `json:"hint"`
}

// The pieces of coderfleet's one error line format (config.Error,
// render.Error and the errors written like them):
// "<file>[:<line>[:<col>]]: [key "<key>": ][region R, component C, object O, field F: ]<message>[ (hint: <hint>)]".
var (
	locLine = regexp.MustCompile(`^([^\s:]+):(\d+)(?::(\d+))?: `)
	locFile = regexp.MustCompile(`^([\w.\-/]+\.(?:ya?ml|jsonnet|libsonnet|json|lock)): `)
	keyPart = regexp.MustCompile(`^key ("(?:[^"\\]|\\.)*"): `)
)

// FromError returns the diagnostics of err. The input problems it holds
// (*diag.Error, alone, in a diag.List or joined) give one diagnostic each,
// built from their fields; when err is a single problem wrapped by words
// of its own ("rendering at HEAD: …"), the message is err's whole text. An
// error holding no *diag.Error (a runtime failure) is read from its text
// (Diagnostics).
func FromError(err error) []Diagnostic {
	list := diag.All(err)
	if len(list) == 0 {
		return fromText(err)
	}
	if len(list) > 1 && list.Error() != err.Error() && !joinedOnly(err) {
		return Diagnostics(err.Error()) // several problems under words of its own
	}
	out := make([]Diagnostic, 0, len(list))
	for _, e := range list {
		out = append(out, fromDiag(e))
	}
	if len(list) == 1 {
		out[0].Message = err.Error()
	}
	return out
}

// fromText is the diagnostics of an error without *diag.Error: one per
// joined error when err joins several through wrappers that add no words,
// else those of its text.
func fromText(err error) []Diagnostic {
	if joinedOnly(err) {
		var out []Diagnostic
		for e := err; e != nil; e = errors.Unwrap(e) {
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				for _, c := range j.Unwrap() {
					out = append(out, Diagnostics(c.Error())...)
				}
				return out
			}
		}
	}
	return Diagnostics(err.Error())
}

// joinedOnly reports whether err's text is that of the errors it joins
// (errors.Join, render.Errors), reached through wrappers that add no words.
func joinedOnly(err error) bool {
	for e := err; e != nil; {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			return errors.Join(j.Unwrap()...).Error() == err.Error()
		}
		w, ok := e.(interface{ Unwrap() error })
		if !ok || w.Unwrap() == nil || w.Unwrap().Error() != e.Error() {
			return false
		}
		e = w.Unwrap()
	}
	return false
}

// fromDiag is e's fields as a Diagnostic; an empty field is null.
func fromDiag(e *diag.Error) Diagnostic {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return ptr(s)
	}
	num := func(n int) *int {
		if n <= 0 {
			return nil
		}
		return &n
	}
	return Diagnostic{Message: e.Error(), File: opt(e.File), Line: num(e.Line), Column: num(e.Col), Key: opt(e.Key),
		Region: opt(e.Region), Component: opt(e.Component), Object: opt(e.Object), Field: opt(e.Field), Hint: opt(e.Hint)}
}

// Diagnostics splits an error's text into diagnostics: one per line when
// every line names its own file and line (a list of configuration
// errors), else one for the whole text. The location, key, object and hint
// are taken from the text's fixed format; what it does not name is null.
func Diagnostics(msg string) []Diagnostic {
	msg = strings.TrimRight(msg, "\n")
	lines := strings.Split(msg, "\n")
	if len(lines) > 1 {
		all := true
		for _, l := range lines {
			all = all && locLine.MatchString(l)
		}
		if all {
			out := make([]Diagnostic, 0, len(lines))
			for _, l := range lines {
				out = append(out, parseDiagnostic(l))
			}
			return out
		}
	}
	return []Diagnostic{parseDiagnostic(msg)}
}

func parseDiagnostic(msg string) Diagnostic {
	d := Diagnostic{Message: msg}
	rest := msg
	if m := locLine.FindStringSubmatch(rest); m != nil {
		d.File, d.Line = ptr(m[1]), atoiPtr(m[2])
		if m[3] != "" {
			d.Column = atoiPtr(m[3])
		}
		rest = rest[len(m[0]):]
	} else if m := locFile.FindStringSubmatch(rest); m != nil {
		d.File = ptr(m[1])
		rest = rest[len(m[0]):]
	}
	if m := keyPart.FindStringSubmatch(rest); m != nil {
		if k, err := strconv.Unquote(m[1]); err == nil {
			d.Key = ptr(k)
			rest = rest[len(m[0]):]
		}
	}
	// "region R, component C, object O, field F: ", each part optional.
	for _, part := range []struct {
		label string
		dst   **string
	}{{"region ", &d.Region}, {"component ", &d.Component}, {"object ", &d.Object}, {"field ", &d.Field}} {
		if !strings.HasPrefix(rest, part.label) {
			continue
		}
		v := rest[len(part.label):]
		end := strings.Index(v, ", ")
		if colon := strings.Index(v, ": "); colon >= 0 && (end < 0 || colon < end) {
			end = colon
		}
		if end < 0 {
			break
		}
		*part.dst = ptr(v[:end])
		rest = strings.TrimPrefix(v[end:], ", ")
		rest = strings.TrimPrefix(rest, ": ")
	}
	// The hint ends the message, after a space or on a line of its own.
	if i := strings.LastIndex(rest, "(hint: "); i > 0 && strings.ContainsRune(" \n", rune(rest[i-1])) && strings.HasSuffix(rest, ")") {
		d.Hint = ptr(rest[i+len("(hint: ") : len(rest)-1])
	}
	return d
}

func ptr(s string) *string { return &s }

func atoiPtr(s string) *int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &n
}
