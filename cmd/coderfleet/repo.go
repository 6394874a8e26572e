package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
)

// addRepoFlag registers --repo, the fleet repository's root, on a verb.
// Left out, the root is found by findRepo before the verb runs.
func addRepoFlag(c *cobra.Command, repo *string) {
	c.Flags().StringVar(repo, "repo", "", "the fleet repository's root (default: the nearest folder holding "+config.FleetFile+", from the working directory up)")
}

// resolveRepoFlag sets a verb's --repo, when not given, to the repository
// root found from the working directory (relative to it), as git and Tanka
// find theirs.
func resolveRepoFlag(c *cobra.Command) error {
	f := c.Flags().Lookup("repo")
	if f == nil || f.Changed {
		return nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return &exitError{code: exitRuntime, err: fmt.Errorf("finding the repository root: %w", err)}
	}
	root, err := findRepo(wd, isRegularFile)
	if err != nil {
		return err
	}
	// Relative to the working directory, as reports show it ("." at the
	// root, so messages read as they did before the search).
	if rel, err := filepath.Rel(wd, root); err == nil {
		root = rel
	}
	return f.Value.Set(root)
}

// findRepo returns the first folder, from dir (absolute) up to the
// filesystem root, that holds overlays/fleet.yaml (isFile reports whether a
// path is a regular file). None is a usage error naming the file looked for
// and where.
func findRepo(dir string, isFile func(string) bool) (string, error) {
	for d := filepath.Clean(dir); ; {
		if isFile(filepath.Join(d, filepath.FromSlash(config.FleetFile))) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", &usageError{err: fmt.Errorf("no %s in %s or any folder above it: not inside a fleet repository (hint: run coderfleet inside the repository, or pass --repo DIR)", config.FleetFile, dir)}
		}
		d = parent
	}
}

// isRegularFile reports whether p is a regular file on disk.
func isRegularFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
