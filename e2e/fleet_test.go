package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/coderfleet/coderfleet/internal/kubetest"
)

// TestRenderedFleetDryRun server-side dry-runs every object of every region of
// the committed regions/ tree and of each golden case's expected output
// against a real API server with the CRDs installed.
func TestRenderedFleetDryRun(t *testing.T) {
	trees := fleetTrees(t)
	dir, ok := crdDir(t)

	srv := kubetest.Start(t)
	c, err := NewChecker(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		crds, err := LoadCRDs(os.DirFS(dir))
		if err != nil {
			t.Fatalf("CRD folder %q: %v", dir, err)
		}
		if err := c.InstallCRDs(t.Context(), crds); err != nil {
			t.Fatal(err)
		}
		t.Logf("installed %d CRDs from %q", len(crds), dir)
	} else {
		t.Logf("WARNING: no CRD folder at %q and %s is unset; kinds defined by CRDs (Flux, External Secrets, ...) will NOT be checked", dir, crdsEnv)
	}

	// What `flux bootstrap` leaves on every cluster before it applies
	// regions/<r>/flux: its namespace (the CRDs above are its other part).
	if err := c.EnsureNamespaces(t.Context(), clusterBaselineNamespaces...); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster baseline: namespaces %v (created by flux bootstrap on a real cluster)", clusterBaselineNamespaces)

	total := &Report{Accepted: map[string]int{}, Unchecked: map[string][]Object{}, Warnings: map[string][]string{}}
	for _, tree := range trees {
		objs, err := LoadTree(os.DirFS(filepath.Join(repoRoot, filepath.FromSlash(tree))), tree)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) == 0 {
			t.Errorf("%s holds no Kubernetes objects; a rendered tree always has some", tree)
			continue
		}
		r, err := c.Check(t.Context(), objs)
		if err != nil {
			t.Fatal(err)
		}
		merge(total, r)
	}
	report(t, total)
}

// clusterBaselineNamespaces exist on a Flux-bootstrapped cluster besides the
// built-in ones (default, kube-system, kube-public, kube-node-lease).
var clusterBaselineNamespaces = []string{"flux-system"}

// fleetTrees lists regions/ and golden/<case>/regions, slash-separated and
// relative to the repository root. The committed fleet must exist: without
// it there is nothing to check, which is a failure, not a pass.
func fleetTrees(t *testing.T) []string {
	t.Helper()
	regions := filepath.Join(repoRoot, "regions")
	entries, err := os.ReadDir(regions)
	if err != nil {
		t.Fatalf("reading the committed fleet %q: %v; run `coderfleet render` and commit regions/", regions, err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("the committed fleet %q has no region folders; run `coderfleet render`", regions)
	}
	trees := []string{"regions"}
	cases, err := filepath.Glob(filepath.Join(repoRoot, "golden", "*", "regions"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(cases)
	for _, c := range cases {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			rel, err := filepath.Rel(repoRoot, c)
			if err != nil {
				t.Fatal(err)
			}
			trees = append(trees, filepath.ToSlash(rel))
		}
	}
	t.Logf("checking %d trees: %v", len(trees), trees)
	return trees
}

func merge(into, r *Report) {
	for k, v := range r.Accepted {
		into.Accepted[k] += v
	}
	into.Rejected = append(into.Rejected, r.Rejected...)
	for k, v := range r.Unchecked {
		into.Unchecked[k] = append(into.Unchecked[k], v...)
	}
	for k, v := range r.Warnings {
		into.Warnings[k] = append(into.Warnings[k], v...)
	}
}
