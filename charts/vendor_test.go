package charts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/charts"
	"github.com/coderfleet/coderfleet/charts/chartstest"
)

const tdir = "/repo/templates"

var demoDir = filepath.Join("testdata", "charts", "demo")
var stackDir = filepath.Join("testdata", "charts", "stack")

// fixture is a repository, a registry and an in-memory fleet repo.
type fixture struct {
	repo    *chartstest.Repo
	reg     *chartstest.Registry
	fs      filesys.FileSystem
	fetcher charts.Fetcher
	demo1   []byte
	stack   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{repo: chartstest.NewRepo(t), reg: chartstest.NewRegistry(t), fs: filesys.MakeFsInMemory()}
	f.demo1 = chartstest.Package(t, demoDir, "1.0.0")
	f.repo.Add(t, f.demo1)
	f.stack = chartstest.Package(t, stackDir, "")
	f.reg.Push(t, f.stack)
	fetcher, err := charts.NewHelmFetcher(charts.FetcherOptions{PlainHTTP: true, RegistryConfig: filepath.Join(t.TempDir(), "registry.json")})
	if err != nil {
		t.Fatal(err)
	}
	f.fetcher = fetcher
	return f
}

func (f *fixture) writeConfig(t *testing.T, body string) {
	t.Helper()
	if err := f.fs.MkdirAll(tdir + "/charts"); err != nil {
		t.Fatal(err)
	}
	if err := f.fs.WriteFile(charts.ConfigPath(tdir), []byte(body)); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) standardConfig(t *testing.T, demoVersion string) {
	f.writeConfig(t, "charts:\n"+
		"  - name: demo\n    repository: "+f.repo.URL+"\n    version: "+demoVersion+"\n"+
		"  - name: stack\n    repository: "+f.reg.URL+"\n    version: 0.3.0\n    delivery: helmrelease\n")
}

func (f *fixture) vendor(t *testing.T) *charts.VendorResult {
	t.Helper()
	res, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err != nil {
		t.Fatalf("vendor: %v", err)
	}
	return res
}

func (f *fixture) read(t *testing.T, p string) string {
	t.Helper()
	b, err := f.fs.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestVendorFromHTTPRepositoryAndOCIRegistry(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	res := f.vendor(t)

	if len(res.Charts) != 2 || res.Charts[0].Name != "demo" || res.Charts[0].Status != charts.StatusAdded || res.Charts[1].Name != "stack" {
		t.Fatalf("vendor result: %+v", res.Charts)
	}
	// Unpacked without the archive's top folder, subcharts included.
	for _, p := range []string{
		"charts/demo/1.0.0/Chart.yaml", "charts/demo/1.0.0/templates/deployment.yaml",
		"charts/demo/1.0.0/crds/widgets.yaml", "charts/demo/1.0.0/values.schema.json",
		"charts/stack/0.3.0/Chart.yaml", "charts/stack/0.3.0/charts/sub/values.schema.json",
	} {
		if !f.fs.Exists(tdir + "/" + p) {
			t.Errorf("%s was not vendored", p)
		}
	}
	if strings.Contains(f.read(t, tdir+"/charts/demo/1.0.0/templates/deployment.yaml"), "demo/templates") {
		t.Error("unexpected content")
	}

	lockBytes := f.read(t, charts.LockPath(tdir))
	lock, err := charts.ParseLock("charts.lock", []byte(lockBytes))
	if err != nil {
		t.Fatal(err)
	}
	if lock.HelmVersion != "v3.22.0" {
		t.Errorf("lock records Helm %q, want v3.22.0 (the version in go.mod)", lock.HelmVersion)
	}
	demo, _ := lock.Lookup("demo")
	if demo.ArchiveDigest != sha(f.demo1) {
		t.Errorf("demo archive digest %s, want %s", demo.ArchiveDigest, sha(f.demo1))
	}
	if !strings.HasPrefix(demo.TreeDigest, "h1:") || demo.ManifestDigest != "" {
		t.Errorf("demo lock entry: %+v", demo)
	}
	stack, _ := lock.Lookup("stack")
	if stack.ArchiveDigest != sha(f.stack) || !strings.HasPrefix(stack.ManifestDigest, "sha256:") || stack.Repository != f.reg.URL {
		t.Errorf("stack lock entry: %+v (archive digest want %s)", stack, sha(f.stack))
	}

	if problems, err := charts.Check(f.fs, tdir); err != nil || len(problems) != 0 {
		t.Fatalf("check after vendor: %v %v", problems, err)
	}
	if _, err := charts.Verify(f.fs, tdir); err != nil {
		t.Fatalf("verify after vendor: %v", err)
	}

	// A second vendor pulls again (nothing is cached by name) and writes
	// the same lock, byte for byte.
	before := f.repo.Requests("demo-1.0.0.tgz")
	res = f.vendor(t)
	if got := f.repo.Requests("demo-1.0.0.tgz"); got != before+1 {
		t.Errorf("second vendor fetched the archive %d times, want 1", got-before)
	}
	if res.Charts[0].Status != charts.StatusUnchanged {
		t.Errorf("second vendor status %q", res.Charts[0].Status)
	}
	if again := f.read(t, charts.LockPath(tdir)); again != lockBytes {
		t.Errorf("lock changed between identical vendors:\n%s\n---\n%s", lockBytes, again)
	}
}

func TestVendorRepairsHandEditAndRemovesUnlisted(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	f.vendor(t)
	p := tdir + "/charts/demo/1.0.0/templates/service.yaml"
	if err := f.fs.WriteFile(p, []byte("edited")); err != nil {
		t.Fatal(err)
	}
	if err := f.fs.WriteFile(tdir+"/charts/demo/1.0.0/templates/extra.yaml", []byte("kind: Extra")); err != nil {
		t.Fatal(err)
	}
	// Drop stack from the list.
	f.writeConfig(t, "charts:\n  - name: demo\n    repository: "+f.repo.URL+"\n    version: 1.0.0\n")
	res := f.vendor(t)
	if strings.Contains(f.read(t, p), "edited") || f.fs.Exists(tdir+"/charts/demo/1.0.0/templates/extra.yaml") {
		t.Error("vendor did not restore the chart's files")
	}
	if f.fs.Exists(tdir+"/charts/stack") || len(res.Removed) != 1 || !strings.HasSuffix(res.Removed[0], "charts/stack") {
		t.Errorf("unlisted chart not removed: %v", res.Removed)
	}
	lock, _ := charts.ParseLock("x", []byte(f.read(t, charts.LockPath(tdir))))
	if _, ok := lock.Lookup("stack"); ok {
		t.Error("lock still has stack")
	}
	if _, err := charts.Verify(f.fs, tdir); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCatchesMismatches(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		want   string
	}{
		{"edited template", func(t *testing.T, f *fixture) {
			p := tdir + "/charts/demo/1.0.0/templates/deployment.yaml"
			b, _ := f.fs.ReadFile(p)
			f.fs.WriteFile(p, append(b, []byte("\n# sneaky\n")...))
		}, `chart "demo" 1.0.0: the files under "templates/charts/demo/1.0.0" do not match the lock`},
		{"added file", func(t *testing.T, f *fixture) {
			f.fs.WriteFile(tdir+"/charts/stack/0.3.0/templates/evil.yaml", []byte("kind: Pod"))
		}, `chart "stack" 0.3.0: the files under`},
		{"removed file", func(t *testing.T, f *fixture) {
			f.fs.RemoveAll(tdir + "/charts/demo/1.0.0/values.schema.json")
		}, `chart "demo" 1.0.0: the files under`},
		{"tampered lock digest", func(t *testing.T, f *fixture) {
			p := charts.LockPath(tdir)
			b, _ := f.fs.ReadFile(p)
			lock, _ := charts.ParseLock(p, b)
			lock.Charts[0].TreeDigest = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			out, _ := lock.Marshal()
			f.fs.WriteFile(p, out)
		}, `locked h1:AAAA`},
		{"version changed without vendor", func(t *testing.T, f *fixture) {
			f.standardConfig(t, "2.0.0")
		}, `chart "demo": charts.yaml asks for version 2.0.0 but charts.lock has 1.0.0`},
		{"chart added without vendor", func(t *testing.T, f *fixture) {
			b, _ := f.fs.ReadFile(charts.ConfigPath(tdir))
			f.writeConfig(t, string(b)+"  - name: other\n    repository: https://example.com/charts\n    version: 1.0.0\n")
		}, `chart "other" (charts.yaml line 9) is not in charts.lock`},
		{"lock deleted", func(t *testing.T, f *fixture) {
			f.fs.RemoveAll(charts.LockPath(tdir))
		}, `charts/charts.yaml lists 2 chart(s) but there is no charts/charts.lock`},
		{"stale version folder", func(t *testing.T, f *fixture) {
			f.fs.MkdirAll(tdir + "/charts/demo/0.9.0")
			f.fs.WriteFile(tdir+"/charts/demo/0.9.0/Chart.yaml", []byte("name: demo"))
		}, `"/repo/templates/charts/demo/0.9.0" is not the listed version 1.0.0 of chart "demo"`},
		{"unlisted chart folder", func(t *testing.T, f *fixture) {
			f.fs.MkdirAll(tdir + "/charts/ghost/1.0.0")
		}, `folder "/repo/templates/charts/ghost" holds chart "ghost", which charts.yaml does not list`},
		{"other helm version", func(t *testing.T, f *fixture) {
			p := charts.LockPath(tdir)
			b, _ := f.fs.ReadFile(p)
			f.fs.WriteFile(p, []byte(strings.Replace(string(b), "helmVersion: v3.22.0", "helmVersion: v3.15.4", 1)))
		}, `charts/charts.lock was written with Helm v3.15.4 but this coderfleet renders with Helm v3.22.0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.standardConfig(t, "1.0.0")
			f.vendor(t)
			tc.mutate(t, f)
			problems, err := charts.Check(f.fs, tdir)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) == 0 {
				t.Fatal("check found no problem")
			}
			_, err = charts.Verify(f.fs, tdir)
			var me *charts.MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("verify: %v, want a *MismatchError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `run "coderfleet vendor"`) {
				t.Errorf("error does not say %q and how to fix it:\n%v", tc.want, err)
			}
			if _, err := charts.NewRenderer(f.fs, tdir); !errors.As(err, &me) {
				t.Errorf("NewRenderer accepted mismatched charts: %v", err)
			}
			if !charts.IsInputError(err) {
				t.Error("a mismatch is not classed as an input error")
			}
		})
	}
}

func TestVendorRejectsTamperedArchive(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	// The mirror serves other bytes than index.yaml's digest says.
	f.repo.Tamper("demo-1.0.0.tgz", chartstest.Package(t, demoDir, "1.0.0")[:200])
	_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), "does not match the digest") {
		t.Fatalf("vendor of a tampered archive: %v", err)
	}
	if f.fs.Exists(charts.LockPath(tdir)) || f.fs.Exists(tdir+"/charts/demo") {
		t.Error("vendor wrote files although a chart failed verification")
	}
}

func TestVendorRefusesRepublishedVersion(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	f.vendor(t)
	lockBefore := f.read(t, charts.LockPath(tdir))
	// Same version, different content, with a matching index digest.
	changed := chartstest.PackageModified(t, demoDir, "1.0.0", func(c *chart.Chart) { c.Metadata.Description = "republished" })
	f.repo.Republish(t, changed)
	_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), "a published version changed") {
		t.Fatalf("vendor after a republish: %v", err)
	}
	if f.read(t, charts.LockPath(tdir)) != lockBefore {
		t.Error("lock changed although vendor failed")
	}
}

func TestVersionChangeIsReVendoredNeverStale(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	f.vendor(t)
	f.repo.Add(t, chartstest.Package(t, demoDir, "2.0.0"))

	f.standardConfig(t, "2.0.0")
	res := f.vendor(t)
	if f.repo.Requests("demo-2.0.0.tgz") != 1 {
		t.Errorf("version 2.0.0 fetched %d times, want 1", f.repo.Requests("demo-2.0.0.tgz"))
	}
	if res.Charts[0].Status != charts.StatusUpdated || res.Charts[0].Previous != "1.0.0" {
		t.Errorf("result: %+v", res.Charts[0])
	}
	if f.fs.Exists(tdir+"/charts/demo/1.0.0") || !f.fs.Exists(tdir+"/charts/demo/2.0.0/Chart.yaml") {
		t.Error("old version not replaced by the new one")
	}
	if len(res.Removed) != 1 || !strings.HasSuffix(res.Removed[0], "charts/demo/1.0.0") {
		t.Errorf("removed: %v", res.Removed)
	}
	r, err := charts.NewRenderer(f.fs, tdir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Template(charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.0"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Chart.Version != "2.0.0" {
		t.Errorf("rendered chart version %s", out.Chart.Version)
	}
	for _, o := range out.Resources {
		if o["kind"] == "Deployment" {
			labels := o["metadata"].(map[string]any)["labels"].(map[string]any)
			if labels["app.kubernetes.io/version"] != "2.0.0" {
				t.Errorf("rendered labels %v: stale chart", labels)
			}
		}
	}
}

func TestVendorRefusesRangesBeforeAnyRequest(t *testing.T) {
	for _, v := range []string{"^1.0.0", ">=1", "1.x", "~1.0", "1.0", "latest", "*"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t)
			f.writeConfig(t, "charts:\n  - name: demo\n    repository: "+f.repo.URL+"\n    version: \""+v+"\"\n")
			_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
			var ce *charts.ConfigError
			if !errors.As(err, &ce) || ce.Line != 4 || !strings.Contains(err.Error(), "exact") {
				t.Fatalf("version %q: %v", v, err)
			}
			if n := f.repo.Requests("index.yaml"); n != 0 {
				t.Errorf("the repository was asked %d times", n)
			}
		})
	}
}

func TestVendorUnknownChartOrVersion(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(t, "charts:\n  - name: demo\n    repository: "+f.repo.URL+"\n    version: 9.9.9\n")
	_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), `has no chart "demo" at version 9.9.9`) {
		t.Fatalf("got %v", err)
	}
	f.writeConfig(t, "charts:\n  - name: stack\n    repository: "+f.reg.URL+"\n    version: 9.9.9\n")
	_, err = charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), "stack:9.9.9") {
		t.Fatalf("got %v", err)
	}
}

func TestVendorWithoutChartsWritesNothing(t *testing.T) {
	fsys := filesys.MakeFsInMemory()
	if err := fsys.MkdirAll(tdir); err != nil {
		t.Fatal(err)
	}
	fetcher, err := charts.NewHelmFetcher(charts.FetcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: fsys, TemplatesDir: tdir, Fetcher: fetcher})
	if err != nil || res.LockPath != "" || len(res.Charts) != 0 {
		t.Fatalf("vendor without charts.yaml: %+v %v", res, err)
	}
	if fsys.Exists(tdir + "/charts") {
		t.Error("vendor created templates/charts although no chart is listed")
	}
	if _, err := charts.NewRenderer(fsys, tdir); err != nil {
		t.Errorf("a fleet without charts does not render: %v", err)
	}
}

// TestVendorLockedArchiveWhateverTheRepositorySpelling keeps the archive
// locked for a name and version when only the spelling of the repository
// changes (a trailing slash): it must not let a republished archive in.
func TestVendorLockedArchiveWhateverTheRepositorySpelling(t *testing.T) {
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	f.vendor(t)
	lockBefore := f.read(t, charts.LockPath(tdir))
	f.repo.Republish(t, chartstest.PackageModified(t, demoDir, "1.0.0", func(c *chart.Chart) { c.Metadata.Description = "republished" }))
	f.writeConfig(t, "charts:\n"+
		"  - name: demo\n    repository: "+f.repo.URL+"/\n    version: 1.0.0\n"+
		"  - name: stack\n    repository: "+f.reg.URL+"\n    version: 0.3.0\n    delivery: helmrelease\n")
	_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), "a published version changed") || !strings.Contains(err.Error(), "locked from "+f.repo.URL) {
		t.Fatalf("vendor of a republished archive under a respelt repository: %v", err)
	}
	if !charts.IsInputError(err) || !strings.Contains(err.Error(), "templates/charts/charts.lock") {
		t.Errorf("want an input error naming templates/charts/charts.lock, got %v", err)
	}
	if f.read(t, charts.LockPath(tdir)) != lockBefore {
		t.Error("lock changed although vendor failed")
	}
}

// TestVendorRefusesMissingDependency refuses, at vendor time, an archive
// whose Chart.yaml names a dependency it does not package: it would vendor
// fine and fail at every render.
func TestVendorRefusesMissingDependency(t *testing.T) {
	f := newFixture(t)
	f.reg.Push(t, chartstest.PackageModified(t, stackDir, "0.4.0", func(c *chart.Chart) { c.SetDependencies() }))
	f.writeConfig(t, "charts:\n  - name: stack\n    repository: "+f.reg.URL+"\n    version: 0.4.0\n")
	_, err := charts.Vendor(context.Background(), charts.VendorOptions{FS: f.fs, TemplatesDir: tdir, Fetcher: f.fetcher})
	if err == nil || !strings.Contains(err.Error(), "dependencies sub are in Chart.yaml but not in the chart's charts/ folder") ||
		!charts.IsInputError(err) || !strings.Contains(err.Error(), "charts.yaml:2") || !strings.Contains(err.Error(), "(hint: vendor a chart version that packages its dependencies") {
		t.Fatalf("vendor of a chart missing its dependency: want an input error at charts.yaml:2 with a hint, got %v", err)
	}
	if f.fs.Exists(charts.LockPath(tdir)) || f.fs.Exists(tdir+"/charts/stack") {
		t.Error("vendor wrote files although a chart failed verification")
	}
}
