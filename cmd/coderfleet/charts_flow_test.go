package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/coderfleet/coderfleet/charts/chartstest"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// TestChartFlowThroughTheCLI lists a chart, vendors it from a chart
// repository on loopback, uses it from a template and renders, all through
// the CLI; then shows that every render (and vendor --check) refuses a
// vendored file that no longer matches charts.lock.
func TestChartFlowThroughTheCLI(t *testing.T) {
	chartRepo := chartstest.NewRepo(t)
	chartRepo.Add(t, chartstest.Package(t, filepath.Join("..", "..", "charts", "testdata", "charts", "demo"), "1.0.0"))

	root := testfleet.RepoRoot(t)
	lib, err := os.ReadFile(filepath.Join(root, "templates", "lib", "helm.libsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	awsLib, err := os.ReadFile(filepath.Join(root, "templates", "lib", "aws.libsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	testfleet.WriteDisk(t, repo, testfleet.With(testfleet.Fleet(), map[string]string{
		"templates/lib/helm.libsonnet": string(lib),
		"templates/lib/aws.libsonnet":  string(awsLib),
		"templates/charts/charts.yaml": "charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: 1.0.0\n",
		"templates/main.jsonnet": `local helm = import 'lib/helm.libsonnet';
function(config)
  local demo = helm.release('web', 'demo', { replicaCount: 2, customResources: false },
    { namespace: 'apps', kubeVersion: config.settings.kubernetes.version, hooks: 'exclude' });
  // No AWS desired state of its own: the region's names only.
  { components: { 'demo-crds': demo.crds, demo: demo.objects }, aws: (import 'lib/aws.libsonnet').gather(config, {}) }
`,
	}))

	if code, out, errs := cli(t, "vendor", "--repo", repo); code != exitOK {
		t.Fatalf("vendor: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(repo, "templates/charts/charts.lock")); err != nil {
		t.Fatalf("no lock written: %v", err)
	}
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	dep, err := os.ReadFile(filepath.Join(repo, "regions/us-east-2/demo/deployment-apps-web.yaml"))
	if err != nil {
		entries, _ := os.ReadDir(filepath.Join(repo, "regions/us-east-2/demo"))
		t.Fatalf("the chart's Deployment was not rendered (%v); demo/ holds %v", err, entries)
	}
	if !strings.Contains(string(dep), "replicas: 2") {
		t.Errorf("values not applied:\n%s", dep)
	}
	if code, _, _ := cli(t, "vendor", "--repo", repo, "--check"); code != exitOK {
		t.Fatalf("vendor --check on a fresh vendor: exit %d", code)
	}

	// Tamper with a vendored template: vendor --check and render refuse.
	matches, _ := filepath.Glob(filepath.Join(repo, "templates/charts/demo/1.0.0/*/templates/deployment.yaml"))
	if len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(repo, "templates/charts/demo/1.0.0/templates/deployment.yaml"))
	}
	if len(matches) != 1 {
		t.Fatalf("vendored deployment.yaml not found: %v", matches)
	}
	f, _ := os.OpenFile(matches[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n# tampered\n")
	f.Close()
	if code, out, errs := cli(t, "vendor", "--repo", repo, "--check"); code != exitDiffers {
		t.Errorf("vendor --check after tampering: exit %d, want %d\n%s%s", code, exitDiffers, out, errs)
	}
	before, _ := os.ReadFile(filepath.Join(repo, "regions/us-east-2/demo/deployment-apps-web.yaml"))
	code, _, errs := cli(t, "render", "--repo", repo, "--force")
	if code != exitInput || !strings.Contains(errs, "charts") {
		t.Errorf("render after tampering: exit %d, want %d, stderr:\n%s", code, exitInput, errs)
	}
	after, _ := os.ReadFile(filepath.Join(repo, "regions/us-east-2/demo/deployment-apps-web.yaml"))
	if string(before) != string(after) {
		t.Error("a refused render changed regions/")
	}
}

// TestChartCRDsComeFirst renders a chart whose CRDs go to one component
// and whose custom resources (Widget, Gadget) go to another, with the
// repository's own flux.libsonnet: the custom resources pass validation
// because the region renders their CRDs, and the Flux Kustomization of the
// component using them depends on the component carrying the CRDs. The
// chart also renders an APIService, as metrics-server does, with delivery
// render.
func TestChartCRDsComeFirst(t *testing.T) {
	chartRepo := chartstest.NewRepo(t)
	chartRepo.Add(t, chartstest.PackageModified(t, filepath.Join("..", "..", "charts", "testdata", "charts", "demo"), "1.0.0", func(c *chart.Chart) {
		c.Templates = append(c.Templates, &chart.File{Name: "templates/apiservice.yaml", Data: []byte(`apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  groupPriorityMinimum: 100
  insecureSkipTLSVerify: true
  service: {name: {{ .Release.Name }}, namespace: {{ .Release.Namespace }}, port: 443}
  version: v1beta1
  versionPriority: 100
`)})
	}))
	root := testfleet.RepoRoot(t)
	files := map[string]string{
		"templates/charts/charts.yaml": "charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: 1.0.0\n",
		"templates/main.jsonnet": `local flux = import 'components/flux.libsonnet';
local helm = import 'lib/helm.libsonnet';
function(config)
  local demo = helm.release('web', 'demo', { customResources: true },
    { namespace: 'apps', kubeVersion: config.settings.kubernetes.version, hooks: 'exclude' });
  local components = { demo: { objects: demo.objects, dependsOn: [] }, 'demo-crds': { objects: demo.crds, dependsOn: [] } };
  {
    components: { [c]: components[c].objects for c in std.objectFields(components) } { flux: flux(config, components).objects },
    aws: (import 'lib/aws.libsonnet').gather(config, components),
  }
`,
	}
	for _, f := range []string{"templates/lib/helm.libsonnet", "templates/lib/aws.libsonnet", "templates/components/flux.libsonnet"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(b)
	}
	repo := t.TempDir()
	testfleet.WriteDisk(t, repo, testfleet.With(testfleet.Fleet(), files))
	if code, out, errs := cli(t, "vendor", "--repo", repo); code != exitOK {
		t.Fatalf("vendor: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render of a chart's custom resources beside their CRDs: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(repo, "regions/us-east-2/demo/apiservice-v1beta1.metrics.k8s.io.yaml")); err != nil {
		t.Errorf("the chart's APIService was not rendered: %v", err)
	}
	ks, err := os.ReadFile(filepath.Join(repo, "regions/us-east-2/flux/kustomization-flux-system-demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ks), "dependsOn:\n  - name: demo-crds\n") {
		t.Errorf("the component using the chart's custom resources must depend on the one carrying the CRDs:\n%s", ks)
	}
	crds, err := os.ReadFile(filepath.Join(repo, "regions/us-east-2/flux/kustomization-flux-system-demo-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(crds), "- name: demo\n") {
		t.Errorf("the CRD component must not depend on its users:\n%s", crds)
	}
}
