package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
)

// evaluated renders incrementally (as `render` does) and returns the
// regions that were evaluated rather than skipped.
func evaluated(t *testing.T, repo string) []string {
	t.Helper()
	o := &renderOptions{repo: repo}
	res, err := renderFleet(context.Background(), o, treeio.LoadState(filepath.Join(repo, treeio.StateFile)).Previous(o.outDir()))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r := range res.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// TestIncrementalRenderFollowsDependencies changes each input file of the
// example fleet and checks that exactly the regions depending on
// it are evaluated, and that the incremental result is never stale.
//
// Every case starts from its own copy of one freshly rendered repository
// (rather than undoing the previous case's edit and rendering again), so the
// cases share nothing and run in parallel.
func TestIncrementalRenderFollowsDependencies(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	rendered := exampleCopy(t)
	if code, out, errs := cli(t, "render", "--repo", rendered, "--force"); code != 0 {
		t.Fatalf("render: %d %s %s", code, out, errs)
	}
	if got := evaluated(t, rendered); len(got) != 0 {
		t.Fatalf("no-op render evaluated %v", got)
	}
	// copyRendered gives a case its own copy of the rendered repository. The
	// copies' files are new, so the first incremental run finds the regions
	// intact by their digests rather than their stamps; the case then checks
	// as before.
	copyRendered := func(t *testing.T) string {
		t.Helper()
		repo := t.TempDir()
		if err := os.CopyFS(repo, os.DirFS(rendered)); err != nil {
			t.Fatal(err)
		}
		if got := evaluated(t, repo); len(got) != 0 {
			t.Fatalf("no-op render of a copy evaluated %v", got)
		}
		return repo
	}
	repo := rendered
	all := "eu-west-2,us-east-2,us-west-2"
	inputs := testfleet.ReadDir(t, repo, "templates")
	for p, data := range testfleet.ReadDir(t, repo, "overlays") {
		inputs[p] = data
	}
	var paths []string
	for p := range inputs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var want, edit string
		switch {
		case strings.HasPrefix(p, "templates/charts/") || p == "templates/lib/helm.libsonnet":
			edit, want = "\n// edited\n", "" // not imported by main.jsonnet
		case strings.HasPrefix(p, "templates/"):
			edit, want = "\n// edited\n", all
		case p == "overlays/fleet.yaml":
			edit, want = "\n# a comment changes no setting\n", ""
		case p == "overlays/README.md":
			edit, want = "\nedited\n", ""
		default: // overlays/<region>/...
			edit, want = "\n# edited\n", strings.Split(p, "/")[1]
		}
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			repo := copyRendered(t)
			full := filepath.Join(repo, p)
			if err := os.WriteFile(full, []byte(inputs[p]+edit), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(evaluated(t, repo), ","); got != want {
				t.Errorf("editing %s evaluated [%s], want [%s]", p, got, want)
			}
			if code, out, errs := cli(t, "render", "--repo", repo); code != 0 {
				t.Fatalf("render: %d %s %s", code, out, errs)
			}
			if code, out, _ := cli(t, "check", "--repo", repo); code != 0 {
				t.Errorf("incremental render left a stale tree:\n%s", out)
			}
		})
	}

	t.Run("semantic change of fleet.yaml", func(t *testing.T) {
		t.Parallel()
		repo := copyRendered(t)
		p := filepath.Join(repo, "overlays/fleet.yaml")
		data, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.Replace(string(data), "tag: v2.26.3", "tag: v2.26.4", 1)), 0o644)
		if got := strings.Join(evaluated(t, repo), ","); got != all {
			t.Errorf("a new Coder version evaluated [%s], want every region", got)
		}
	})

	t.Run("hand-edited output is re-rendered", func(t *testing.T) {
		t.Parallel()
		repo := copyRendered(t)
		cli(t, "render", "--repo", repo)
		f := filepath.Join(repo, "regions/us-west-2/coder-proxy/deployment-coder-proxy-coder-proxy.yaml")
		data, _ := os.ReadFile(f)
		os.WriteFile(f, append(data, []byte("# hand edit\n")...), 0o644)
		if got := strings.Join(evaluated(t, repo), ","); got != "us-west-2" {
			t.Errorf("hand edit: evaluated [%s], want [us-west-2]", got)
		}
		cli(t, "render", "--repo", repo)
		if code, out, _ := cli(t, "check", "--repo", repo); code != 0 {
			t.Errorf("hand edit survived a render:\n%s", out)
		}
	})

	t.Run("deleted region folder is re-rendered", func(t *testing.T) {
		t.Parallel()
		repo := copyRendered(t)
		os.RemoveAll(filepath.Join(repo, "regions/eu-west-2"))
		if got := strings.Join(evaluated(t, repo), ","); got != "eu-west-2" {
			t.Errorf("evaluated [%s], want [eu-west-2]", got)
		}
	})
}

// TestRenderTextNamesSkippedApartFromUnchanged: a region whose inputs did
// not change is "skipped" (not evaluated), one rendered to identical files
// is "unchanged", as the summary line and -o json say.
func TestRenderTextNamesSkippedApartFromUnchanged(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	code, out, errs := cli(t, "render", "--repo", repo, "--force")
	if code != 0 || !strings.Contains(out, "unchanged: eu-west-2, us-east-2, us-west-2\n") || strings.Contains(out, "skipped:   ") {
		t.Fatalf("forced render of a current tree: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli(t, "render", "--repo", repo)
	if code != 0 || !strings.Contains(out, "skipped:   eu-west-2, us-east-2, us-west-2\n") || strings.Contains(out, "unchanged:") ||
		!strings.Contains(out, "(3 skipped: inputs unchanged)") {
		t.Fatalf("no-op render: exit %d\n%s%s", code, out, errs)
	}
}
