package synth_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/synth"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// memFleet generates a fleet of n regions from the real repository into an
// in-memory filesystem.
func memFleet(t *testing.T, n int) (filesys.FileSystem, map[string][]byte) {
	t.Helper()
	files, err := synth.Fleet(os.DirFS(testfleet.RepoRoot(t)), n)
	if err != nil {
		t.Fatal(err)
	}
	fsys := filesys.MakeFsInMemory()
	if err := synth.Write(fsys, "/repo", files); err != nil {
		t.Fatal(err)
	}
	return fsys, files
}

func renderMem(t *testing.T, fsys filesys.FileSystem) *render.Result {
	t.Helper()
	opts, err := fleet.Prepare(fsys, "/repo", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(context.Background(), opts)
	if err != nil {
		t.Fatalf("rendering the synthetic fleet: %v", err)
	}
	return res
}

// field reads a nested field of the YAML object at path p of region r.
func field(t *testing.T, res *render.Result, r, p string, keys ...string) any {
	t.Helper()
	data, ok := res.Regions[r][p]
	if !ok {
		t.Fatalf("region %s has no %s; files: %v", r, p, res.Regions[r].Paths())
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s/%s: %v", r, p, err)
	}
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

const (
	proxyDeployment = "coder-proxy/deployment-coder-proxy-coder-proxy.yaml"
	proxyService    = "coder-proxy/service-coder-proxy-coder-proxy.yaml"
)

// TestFleetRenders renders a generated fleet of 5 regions through the real
// renderer and checks that overrides and both kinds of patches took effect.
func TestFleetRenders(t *testing.T) {
	fsys, files := memFleet(t, 5)
	res := renderMem(t, fsys)

	var got []string
	for r := range res.Regions {
		got = append(got, r)
	}
	want := []string{"primary", "proxy-001", "proxy-002", "proxy-003", "proxy-004"}
	if !sameSet(got, want) {
		t.Fatalf("rendered regions %v, want %v", got, want)
	}
	if _, ok := res.Regions["primary"]["coder/deployment-coder-coder.yaml"]; !ok {
		t.Errorf("the primary has no coderd Deployment; files: %v", res.Regions["primary"].Paths())
	}
	// proxy-003 has a kustomization: strategic merge and JSON 6902 patch.
	if _, ok := files["overlays/proxy-003/kustomization.yaml"]; !ok {
		t.Fatal("proxy-003 has no kustomization.yaml")
	}
	if v := field(t, res, "proxy-003", proxyDeployment, "spec", "replicas"); v != float64(3) {
		t.Errorf("proxy-003: coder-proxy replicas = %v, want 3 (strategic-merge patch)", v)
	}
	if v := field(t, res, "proxy-003", proxyService, "spec", "externalTrafficPolicy"); v != "Local" {
		t.Errorf("proxy-003: externalTrafficPolicy = %v, want Local (JSON 6902 patch)", v)
	}
	if v := field(t, res, "proxy-004", proxyService, "spec", "externalTrafficPolicy"); v != nil {
		t.Errorf("proxy-004 has no patches but externalTrafficPolicy = %v", v)
	}
	// proxy-001 overrides the workspace namespaces (only coder-ws),
	// proxy-002 the proxy replicas, proxy-003 has no workspaces at all.
	for p := range res.Regions["proxy-001"] {
		if strings.Contains(p, "coder-ws-demo") {
			t.Errorf("proxy-001 renders %s, but its override keeps only coder-ws", p)
		}
	}
	if _, ok := res.Regions["proxy-001"]["provisioners/deployment-coder-ws-coder-provisioner.yaml"]; !ok {
		t.Errorf("proxy-001 has no coder-ws provisioner; files: %v", res.Regions["proxy-001"].Paths())
	}
	if v := field(t, res, "proxy-002", proxyDeployment, "spec", "replicas"); v != float64(3) {
		t.Errorf("proxy-002: coder-proxy replicas = %v, want 3 (override)", v)
	}
	if v := field(t, res, "proxy-004", proxyDeployment, "spec", "replicas"); v != float64(2) {
		t.Errorf("proxy-004: coder-proxy replicas = %v, want the default 2", v)
	}
	for p := range res.Regions["proxy-003"] {
		if strings.HasPrefix(p, "provisioners/") {
			t.Errorf("proxy-003 renders %s, but its override has no workspace namespaces", p)
		}
	}

	// Change touches one file and re-renders exactly one region differently.
	p, data, err := synth.Change(files["overlays/fleet.yaml"], 5)
	if err != nil {
		t.Fatal(err)
	}
	if p != "overlays/proxy-004/region.yaml" || bytes.Equal(data, files[p]) {
		t.Fatalf("Change = %s (same content: %v), want a new overlays/proxy-004/region.yaml", p, bytes.Equal(data, files[p]))
	}
	if err := fsys.WriteFile(filepath.Join("/repo", p), data); err != nil {
		t.Fatal(err)
	}
	after := renderMem(t, fsys)
	for r, tree := range res.Regions {
		same := reflect.DeepEqual(tree, after.Regions[r])
		if same == (r == "proxy-004") {
			t.Errorf("after Change, region %s changed: %v (want only proxy-004 to change)", r, !same)
		}
	}
	if v := field(t, after, "proxy-004", proxyDeployment, "spec", "replicas"); v != float64(4) {
		t.Errorf("after Change, proxy-004 replicas = %v, want 4", v)
	}
}

// TestChangePatchedRegion checks Change on a fleet whose last region has
// patches (n = 10, 100 in the benchmark): it edits the patch file.
func TestChangePatchedRegion(t *testing.T) {
	for _, n := range []int{10, 100} {
		p, data, err := synth.Change([]byte("name: demo\n"), n)
		if err != nil {
			t.Fatal(err)
		}
		want := "overlays/" + synth.RegionName(n-1) + "/" + synth.ReplicasPatchFile
		if p != want || !strings.Contains(string(data), "replicas: 4") {
			t.Errorf("n=%d: Change = %s with\n%s\nwant %s with replicas: 4", n, p, data, want)
		}
	}
	p, _, err := synth.Change([]byte("name: demo\n"), 1)
	if err != nil || p != "overlays/primary/region.yaml" {
		t.Errorf("n=1: Change = %s, %v; want overlays/primary/region.yaml", p, err)
	}
}

// TestFleetIsValidAtScale loads a fleet that cycles through every AWS
// region code with the strict configuration loader: names, cluster names
// and region codes must all be accepted.
func TestFleetIsValidAtScale(t *testing.T) {
	n := 2*len(config.AWSRegions) + 3
	fsys, _ := memFleet(t, n)
	cfg, err := config.Load(fsys, "/repo", config.LoadOptions{ParseOutputs: fleet.ParseOutputs})
	if err != nil {
		t.Fatalf("loading a synthetic fleet of %d regions: %v", n, err)
	}
	if len(cfg.Regions) != n {
		t.Fatalf("loaded %d regions, want %d", len(cfg.Regions), n)
	}
	used := map[string]bool{}
	for _, r := range cfg.Regions {
		used[r.Region.AWSRegion] = true
	}
	for _, code := range config.AWSRegions {
		if !used[code] {
			t.Errorf("AWS region %s is never used", code)
		}
	}
	if p := cfg.Primary(); p == nil || p.Region.Name != synth.PrimaryName {
		t.Errorf("primary = %v, want %s", p, synth.PrimaryName)
	}
}

// TestFleetDeterministic generates twice and compares.
func TestFleetDeterministic(t *testing.T) {
	src := os.DirFS(testfleet.RepoRoot(t))
	a, err := synth.Fleet(src, 12)
	if err != nil {
		t.Fatal(err)
	}
	b, err := synth.Fleet(src, 12)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations of the same fleet differ")
	}
	if _, ok := a["templates/main.jsonnet"]; !ok {
		t.Error("templates/main.jsonnet was not copied")
	}
	patched := 0
	for p := range a {
		if strings.HasSuffix(p, "/kustomization.yaml") && strings.HasPrefix(p, "overlays/") {
			patched++
		}
	}
	if patched != 3 { // proxy-003, -006, -009
		t.Errorf("%d regions with patches, want 3", patched)
	}
}

func TestFleetErrors(t *testing.T) {
	if _, err := synth.Fleet(os.DirFS(testfleet.RepoRoot(t)), 0); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("n=0: err = %v, want an error asking for at least 1 region", err)
	}
	if _, err := synth.Fleet(os.DirFS(t.TempDir()), 3); err == nil || !strings.Contains(err.Error(), "overlays/fleet.yaml") {
		t.Errorf("empty source: err = %v, want an error naming overlays/fleet.yaml", err)
	}
}

func TestGenerateOnDisk(t *testing.T) {
	dst := t.TempDir()
	if err := synth.Generate(dst, testfleet.RepoRoot(t), 4); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"overlays/fleet.yaml", "overlays/primary/region.yaml", "overlays/proxy-003/service-traffic.yaml", "templates/main.jsonnet"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "regions")); !os.IsNotExist(err) {
		t.Errorf("regions/ exists in a fresh fleet: %v", err)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return len(a) == len(b)
}
