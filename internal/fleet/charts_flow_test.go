package fleet_test

// The whole chart flow (list, vendor, use from a template, render) through
// the project's renderer: the wiring this package does for the CLI, kept
// out of package charts so that charts' own tests build without the
// renderer.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"

	"github.com/coderfleet/coderfleet/charts"
	"github.com/coderfleet/coderfleet/charts/chartstest"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

var (
	demoDir  = filepath.Join("..", "..", "charts", "testdata", "charts", "demo")
	stackDir = filepath.Join("..", "..", "charts", "testdata", "charts", "stack")
)

// fleetMain uses both delivery modes through the real helm.libsonnet.
const fleetMain = `
local helm = import 'lib/helm.libsonnet';
function(config)
  local opts = { namespace: 'apps', kubeVersion: '1.31.0' };
  local demo = helm.release('web', 'demo', { replicaCount: 2, customResources: false }, opts + { hooks: 'exclude' });
  local stack = helm.release('stack', 'stack', { message: config.region.name }, opts { namespace: 'data' });
  {
    components: { 'demo-crds': demo.crds, demo: demo.objects, stack: stack.objects },
    review: stack.review,
  }
`

// TestFleetListVendorTemplateRender is the whole flow on a small fleet, from
// a chart repository and a registry on loopback: list, vendor, use from a
// template, render with the project's renderer.
func TestFleetListVendorTemplateRender(t *testing.T) {
	chartRepo := chartstest.NewRepo(t)
	chartRepo.Add(t, chartstest.Package(t, demoDir, "1.0.0"))
	reg := chartstest.NewRegistry(t)
	reg.Push(t, chartstest.Package(t, stackDir, ""))
	lib, err := os.ReadFile(filepath.Join("..", "..", "templates", "lib", "helm.libsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	files := testfleet.With(testfleet.Fleet(), map[string]string{
		"templates/main.jsonnet":       fleetMain,
		"templates/lib/helm.libsonnet": string(lib),
		"templates/charts/charts.yaml": "charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: 1.0.0\n" +
			"  - name: stack\n    repository: " + reg.URL + "\n    version: 0.3.0\n    delivery: helmrelease\n",
	})
	fsys, repo := testfleet.MemFS(t, files)
	templates := filepath.Join(repo, "templates")
	fetcher, err := charts.NewHelmFetcher(charts.FetcherOptions{PlainHTTP: true, RegistryConfig: filepath.Join(t.TempDir(), "r.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: fsys, TemplatesDir: templates, Fetcher: fetcher}); err != nil {
		t.Fatal(err)
	}

	renderOnce := func() *render.Result {
		t.Helper()
		r, err := charts.NewRenderer(fsys, templates)
		if err != nil {
			t.Fatal(err)
		}
		res, err := render.Render(context.Background(), render.Options{
			FS: fsys, Repo: repo, Version: "test", NativeFunctions: []*jsonnet.NativeFunction{r.NativeFunction()},
		})
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		// Two regions, same inputs for demo: rendered once; stack differs per region.
		if n := r.Renders(); n != 3 {
			t.Errorf("renders = %d, want 3", n)
		}
		return res
	}
	res := renderOnce()
	for _, region := range []string{"us-east-2", "us-west-2"} {
		tree := res.Regions[region]
		var paths []string
		for _, p := range tree.Paths() {
			if strings.HasPrefix(p, "demo/") || strings.HasPrefix(p, "demo-crds/") || strings.HasPrefix(p, "stack/") || strings.HasPrefix(p, "review/") {
				paths = append(paths, p)
			}
		}
		joined := strings.Join(paths, "\n")
		for _, want := range []string{"demo-crds/", "demo/", "stack/", "review/stack.yaml"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: no %s in\n%s", region, want, joined)
			}
		}
		review := string(tree["review/stack.yaml"])
		if !strings.Contains(review, "message: "+region) || !strings.Contains(review, "name: stack-sub") {
			t.Errorf("%s review file:\n%s", region, review)
		}
		var stackFiles string
		for _, p := range tree.Paths() {
			if strings.HasPrefix(p, "stack/") {
				stackFiles += string(tree[p])
			}
		}
		if !strings.Contains(stackFiles, "kind: HelmRelease") || !strings.Contains(stackFiles, "kind: OCIRepository") {
			t.Errorf("%s stack component lacks the Flux objects:\n%s", region, stackFiles)
		}
	}

	// Byte-identical output from a second, independent render.
	again := renderOnce()
	for region, tree := range res.Regions {
		for _, p := range tree.Paths() {
			if string(again.Regions[region][p]) != string(tree[p]) {
				t.Errorf("%s/%s differs between renders", region, p)
			}
		}
	}

	// A hand edit of a vendored file stops the render.
	p := filepath.Join(templates, "charts", "demo", "1.0.0", "templates", "deployment.yaml")
	if err := fsys.WriteFile(p, []byte("kind: Edited\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := charts.NewRenderer(fsys, templates); err == nil || !strings.Contains(err.Error(), "do not match the lock") {
		t.Fatalf("render over an edited chart: %v", err)
	}
}
