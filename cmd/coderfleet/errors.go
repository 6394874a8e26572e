package main

import (
	"errors"

	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/render"
)

// Exit codes shared by every verb, documented in README.md ("Exit codes").
const (
	exitOK      = 0  // success, nothing to report
	exitDiffers = 1  // check found a stale tree, diff --exit-code found differences
	exitChanges = 2  // sync plan --detailed-exitcode: changes are pending
	exitInput   = 3  // invalid input: a configuration, template or desired-state file must be fixed
	exitRuntime = 4  // runtime failure: I/O, AWS API, network
	exitUsage   = 64 // bad flags or arguments
)

// exitError carries the process exit code a verb wants, next to the error
// (nil for codes that are outcomes rather than failures, like "stale").
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode maps an error returned by a verb to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ur *render.UnknownRegionError
	if errors.As(err, &ur) {
		return exitUsage
	}
	var in *diag.Error
	if errors.As(err, &in) {
		return exitInput
	}
	return exitRuntime
}
