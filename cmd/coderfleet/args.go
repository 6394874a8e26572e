package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// usageArgs wraps a cobra argument validator so its errors are usage
// errors (exit 64).
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := v(c, args); err != nil {
			return &usageError{err: err}
		}
		return nil
	}
}

// isCobraArgError recognises cobra's own errors for unknown commands.
func isCobraArgError(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag")
}
