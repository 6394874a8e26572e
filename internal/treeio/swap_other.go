//go:build !linux

package treeio

import "errors"

// exchange is not available here; Write falls back to two renames.
func exchange(a, b string) error { return errors.ErrUnsupported }
