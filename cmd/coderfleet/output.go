package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/jsonout"
)

// Output formats of -o/--output.
const (
	outputText = "text"
	outputJSON = "json"
)

// textOrJSON are the formats of a verb that prints text or one JSON
// document (docs/json.md).
var textOrJSON = []string{outputText, outputJSON}

// checkOutput refuses an -o value that is not one of allowed (usage error).
func checkOutput(output string, allowed []string) error {
	if slices.Contains(allowed, output) {
		return nil
	}
	list := strings.Join(allowed, " or ")
	if len(allowed) > 2 {
		list = strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	}
	hint := ""
	if strings.HasPrefix(output, "ut") {
		hint = " (hint: -out is read as -o ut; write the plan file with --out FILE)"
	}
	return &usageError{err: fmt.Errorf("unknown --output %q: use %s%s", output, list, hint)}
}

// jsonReported marks an error whose JSON document, with its diagnostics,
// the verb has already printed on stdout (sync apply's failed result), so
// run prints no error document after it.
type jsonReported struct{ err error }

func (e *jsonReported) Error() string { return e.err.Error() }
func (e *jsonReported) Unwrap() error { return e.err }

// wantsJSON reports whether the command ran with -o json.
func wantsJSON(c *cobra.Command) bool {
	if c == nil {
		return false
	}
	f := c.Flags().Lookup("output")
	return f != nil && f.Value.String() == outputJSON
}

// writeErrorDocument prints, for a verb run with -o json that failed with
// err (exit code), the error document of docs/json.md on stdout, unless
// the verb printed its own document about the failure.
func writeErrorDocument(c *cobra.Command, stdout io.Writer, code int, err error) {
	var done *jsonReported
	if !wantsJSON(c) || errors.As(err, &done) {
		return
	}
	_ = jsonout.Encode(stdout, jsonout.NewErrorDocument(c.CommandPath(), code, err))
}
