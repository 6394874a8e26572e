package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root; this package lives in <root>/e2e.
const repoRoot = ".."

// crdsEnv names a folder of CRD YAML files to install instead of the default.
const crdsEnv = "CODERFLEET_CRDS_DIR"

// crdDir returns the CRD folder to install and whether it exists. A folder
// named by the environment that does not exist is a test failure: the user
// asked for it explicitly.
func crdDir(t *testing.T) (string, bool) {
	t.Helper()
	if dir := os.Getenv(crdsEnv); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Fatalf("%s=%q is not a readable folder (%v); point it at a folder of CustomResourceDefinition YAML files", crdsEnv, dir, err)
		}
		return dir, true
	}
	dir := filepath.Join(repoRoot, "..", "shared", "crds")
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// report logs the per-region counts and summary (also on stdout, so `go
// test -v` and CI logs show them), warns loudly about unchecked kinds and
// fails on rejections.
func report(t *testing.T, r *Report) {
	t.Helper()
	for _, line := range r.Lines() {
		t.Log(line)
		fmt.Println("e2e:", line)
	}
	for obj, ws := range r.Warnings {
		for _, w := range ws {
			t.Logf("server warning for %s: %s", obj, w)
		}
	}
	if kinds := r.UncheckedKinds(); len(kinds) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "WARNING: %d kind(s) could NOT be checked against the API server because their CRDs are not installed (set %s to a folder with their CRDs):", len(kinds), crdsEnv)
		for _, k := range kinds {
			fmt.Fprintf(&b, "\n  %s (%d object(s), e.g. %s)", k, len(r.Unchecked[k]), r.Unchecked[k][0])
		}
		t.Log(b.String())
		fmt.Println("e2e:", b.String())
	}
	if err := r.Err(); err != nil {
		t.Error(err)
	}
}
