package golden_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// TestFluxBuildsEveryComponent builds every component folder of the example
// fleet and of every golden case exactly as Flux's kustomize-controller
// does (fluxcd/pkg/kustomize SecureBuild, no remote bases), and checks that
// the flux/ folder has one Kustomization per component, pointing at it.
func TestFluxBuildsEveryComponent(t *testing.T) {
	root := testfleet.RepoRoot(t)
	trees := []string{filepath.Join(root, "regions")}
	for _, c := range cases(t) {
		abs, _ := filepath.Abs(filepath.Join(c, "regions"))
		trees = append(trees, abs)
	}
	for _, tree := range trees {
		regions, err := os.ReadDir(tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regions {
			if !r.IsDir() || strings.HasPrefix(r.Name(), ".") {
				continue
			}
			rel, _ := filepath.Rel(root, filepath.Join(tree, r.Name()))
			t.Run(rel, func(t *testing.T) {
				checkRegion(t, tree, filepath.Join(tree, r.Name()), r.Name())
			})
		}
	}
}

func checkRegion(t *testing.T, tree, dir, region string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var components []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != render.AWSDir && e.Name() != render.ReviewDir {
			components = append(components, e.Name())
		}
	}
	sort.Strings(components)
	fluxPaths := map[string]bool{}
	for _, comp := range components {
		res, err := fluxkustomize.SecureBuild(filepath.Dir(tree), filepath.Join(dir, comp), false)
		if err != nil {
			t.Errorf("flux build of %s/%s: %v", region, comp, err)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, comp, "*.yaml"))
		if got, want := res.Size(), len(files)-1; got != want {
			t.Errorf("%s/%s: flux built %d objects from %d object files", region, comp, got, want)
		}
		for _, r := range res.Resources() {
			if got := r.GetAnnotations()[render.AnnotationComponent]; got != comp {
				t.Errorf("%s/%s: %s carries component %q", region, comp, r.CurId(), got)
			}
			if comp == "flux" && r.GetKind() == "Kustomization" {
				m, _ := r.Map()
				spec, _ := m["spec"].(map[string]any)
				p, _ := spec["path"].(string)
				fluxPaths[p] = true
			}
		}
	}
	for _, comp := range components {
		if comp == "flux" {
			continue
		}
		want := "./regions/" + region + "/" + comp
		if !fluxPaths[want] {
			b, _ := yaml.Marshal(fluxPaths)
			t.Errorf("no Flux Kustomization points at %s; paths: %s", want, b)
		}
	}
	if len(fluxPaths) != len(components)-1 {
		t.Errorf("%d Flux Kustomizations for %d component folders", len(fluxPaths), len(components)-1)
	}
}
