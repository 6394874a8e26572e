package charts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-jsonnet"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/coderfleet/coderfleet/charts"
	"github.com/coderfleet/coderfleet/charts/chartstest"
)

// vendored returns a fixture with demo (render) and stack (helmrelease) vendored.
func vendored(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.standardConfig(t, "1.0.0")
	f.vendor(t)
	return f
}

func renderer(t *testing.T, f *fixture) *charts.Renderer {
	t.Helper()
	r, err := charts.NewRenderer(f.fs, tdir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		md := o["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		out = append(out, fmt.Sprintf("%s %s/%s", o["kind"], ns, md["name"]))
	}
	return out
}

func find(objs []map[string]any, kind, name string) map[string]any {
	for _, o := range objs {
		if o["kind"] == kind && o["metadata"].(map[string]any)["name"] == name {
			return o
		}
	}
	return nil
}

func TestTemplateRulesNamespaceHooksCRDs(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	res, err := r.Template(charts.Request{
		ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.2",
		APIVersions: []string{"monitoring.coreos.com/v1"},
		Values:      map[string]any{"replicaCount": 3.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ClusterRole /web-reader",
		"ClusterRoleBinding /web-reader",
		"ConfigMap apps/web-capabilities",
		"Deployment apps/web",
		"Gadget /web-gadget", // its CRD is cluster-scoped: no namespace
		"Job apps/web-migrate",
		"Service apps/web",
		"ServiceAccount kube-system/web-elsewhere", // its own namespace is kept
		"Widget apps/web-widget",
	}
	if got := ids(res.Resources); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resources (sorted by kind, namespace, name):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := ids(res.CRDs); strings.Join(got, ",") != "CustomResourceDefinition /gadgets.demo.example.com,CustomResourceDefinition /widgets.demo.example.com" {
		t.Errorf("crds: %v", got)
	}
	// The install hook is kept without Helm's annotations; other annotations stay.
	job := find(res.Resources, "Job", "web-migrate")
	ann := job["metadata"].(map[string]any)["annotations"].(map[string]any)
	if _, ok := ann["helm.sh/hook"]; ok || ann["demo.example.com/kept"] != "yes" || len(ann) != 1 {
		t.Errorf("hook annotations: %v", ann)
	}
	if find(res.Resources, "Pod", "web-test") != nil || find(res.Resources, "Job", "web-cleanup") != nil {
		t.Error("test hook or delete hook kept")
	}
	cm := find(res.Resources, "ConfigMap", "web-capabilities")["data"].(map[string]any)
	wantData := map[string]any{
		"kubeVersion": "v1.31.2", "helmVersion": "v3.22", "goVersion": "", "hasMonitoring": "true",
		"namespace": "apps", "lookupEmpty": "true", "dns": "",
	}
	for k, v := range wantData {
		if cm[k] != v {
			t.Errorf("capabilities configmap %s = %v, want %v", k, cm[k], v)
		}
	}
	if got := find(res.Resources, "Deployment", "web")["spec"].(map[string]any)["replicas"]; got != 3.0 {
		t.Errorf("replicas %v", got)
	}
	if res.Chart.Name != "demo" || res.Chart.Delivery != charts.DeliveryRender || res.Chart.OCI || res.Chart.ArchiveDigest != sha(f.demo1) {
		t.Errorf("chart info %+v", res.Chart)
	}

	// hooks: exclude drops the install hook too; includeCRDs false drops crds/.
	res, err = r.Template(charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.2", Hooks: charts.HooksExclude, ExcludeCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	if find(res.Resources, "Job", "web-migrate") != nil || len(res.CRDs) != 0 {
		t.Errorf("exclude: %v crds %v", ids(res.Resources), ids(res.CRDs))
	}
	// Without the CRD, Gadget is taken as namespaced unless told otherwise.
	if find(res.Resources, "Gadget", "web-gadget")["metadata"].(map[string]any)["namespace"] != "apps" {
		t.Error("gadget namespace")
	}
	res, err = r.Template(charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.2", ExcludeCRDs: true, ClusterScopedKinds: []string{"Gadget"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := find(res.Resources, "Gadget", "web-gadget")["metadata"].(map[string]any)["namespace"]; ok {
		t.Error("clusterScopedKinds ignored")
	}
}

func TestTemplateSubchartsFromOCI(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	res, err := r.Template(charts.Request{ReleaseName: "s", Chart: "stack", Namespace: "ns", KubeVersion: "1.30.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(res.Resources), ","); got != "ConfigMap ns/s-stack,Service ns/s-sub" {
		t.Errorf("got %s", got)
	}
	if port := find(res.Resources, "Service", "s-sub")["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"]; port != 9090.0 {
		t.Errorf("parent values not passed to subchart: port %v", port)
	}
	if !res.Chart.OCI || res.Chart.Delivery != charts.DeliveryHelmRelease || !strings.HasPrefix(res.Chart.ManifestDigest, "sha256:") {
		t.Errorf("chart info %+v", res.Chart)
	}
	// The subchart's condition switches it off.
	res, err = r.Template(charts.Request{ReleaseName: "s", Chart: "stack", Namespace: "ns", KubeVersion: "1.30.0", Values: map[string]any{"sub": map[string]any{"enabled": false}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(res.Resources), ","); got != "ConfigMap ns/s-stack" {
		t.Errorf("disabled subchart rendered: %s", got)
	}
}

func TestSchemaErrorsNameChartAndValuePath(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	cases := []struct {
		chart  string
		values map[string]any
		want   []string
	}{
		{"demo", map[string]any{"replicaCount": "three"}, []string{`chart "demo" (release "x")`, "replicaCount: got string, want integer"}},
		{"demo", map[string]any{"replicaCount": 0.0}, []string{"replicaCount: minimum: got 0, want 1"}},
		{"demo", map[string]any{"image": map[string]any{"tag": "latest"}}, []string{"image.tag: 'latest' does not match pattern"}},
		{"demo", map[string]any{"image": map[string]any{"digest": "sha256:abc"}}, []string{"image: additional properties 'digest' not allowed"}},
		{"demo", map[string]any{"extraEnv": []any{map[string]any{"value": "v"}}}, []string{"extraEnv[0]: missing property 'name'"}},
		{"stack", map[string]any{"sub": map[string]any{"port": 70000.0}}, []string{`chart "stack"`, "sub.port: maximum: got 70,000, want 65,535"}},
	}
	for _, tc := range cases {
		_, err := r.Template(charts.Request{ReleaseName: "x", Chart: tc.chart, Namespace: "ns", KubeVersion: "1.31.0", Values: tc.values})
		var se *charts.SchemaError
		if !errors.As(err, &se) {
			t.Errorf("%v: %v, want a *SchemaError", tc.values, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error does not contain %q:\n%v", tc.values, w, err)
			}
		}
		if !charts.IsInputError(err) {
			t.Error("schema error is not an input error")
		}
	}
}

func TestTemplateRefusals(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	base := charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.0"}
	cases := []struct {
		name string
		edit func(*charts.Request)
		want string
	}{
		{"kube version below the chart's constraint", func(q *charts.Request) { q.KubeVersion = "1.20.0" }, "requires Kubernetes >=1.25.0-0, but the region's version is v1.20.0"},
		{"random output", func(q *charts.Request) { q.Values = map[string]any{"generatePassword": true} }, "renders differently each time"},
		{"unknown chart", func(q *charts.Request) { q.Chart = "nope" }, `chart "nope" is not vendored (vendored: demo, stack)`},
		{"no namespace", func(q *charts.Request) { q.Namespace = "" }, "the namespace is empty"},
		{"no kube version", func(q *charts.Request) { q.KubeVersion = "" }, "the Kubernetes version is empty"},
		{"bad hooks mode", func(q *charts.Request) { q.Hooks = "maybe" }, `hooks "maybe" is not`},
		{"bad release name", func(q *charts.Request) { q.ReleaseName = "Web_1" }, `release name "Web_1"`},
	}
	for _, tc := range cases {
		q := base
		tc.edit(&q)
		if _, err := r.Template(q); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestMemoizedAcrossRegionsAndGoroutines(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	values := func() map[string]any { // a fresh map each time, same content
		return map[string]any{"replicaCount": 2.0, "image": map[string]any{"tag": "1.27.1", "repository": "nginx"}}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Template(charts.Request{
				ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.0",
				Values: values(), APIVersions: []string{"b/v1", "a/v1", "b/v1"}[i%2:],
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two distinct API version sets (["a/v1","b/v1"] and ["b/v1","a/v1","b/v1"]
	// are the same set) -> one render.
	if n := r.Renders(); n != 1 {
		t.Errorf("32 identical requests ran %d renders, want 1", n)
	}
	q := charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.0", Values: values(), APIVersions: []string{"a/v1", "b/v1"}}
	for _, edit := range []func(*charts.Request){
		func(q *charts.Request) { q.KubeVersion = "1.32.0" },
		func(q *charts.Request) { q.Values = map[string]any{"replicaCount": 5.0} },
		func(q *charts.Request) { q.Namespace = "other" },
		func(q *charts.Request) { q.ReleaseName = "web2" },
		func(q *charts.Request) { q.APIVersions = nil },
	} {
		c := q
		edit(&c)
		if _, err := r.Template(c); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Renders(); n != 6 {
		t.Errorf("renders = %d, want 6 (one per distinct request)", n)
	}
	// A returned result is the caller's: editing it does not poison the memo.
	a, _ := r.Template(q)
	a.Resources[0]["kind"] = "Mangled"
	b, _ := r.Template(q)
	if b.Resources[0]["kind"] == "Mangled" || r.Renders() != 6 {
		t.Error("memoized result shared with the caller")
	}
}

// jsonnetFleet evaluates a fleet-like template over three regions through
// the native function and the real templates/lib/helm.libsonnet.
const jsonnetFleet = `
local helm = import 'lib/helm.libsonnet';
local region(kube) = {
  demo: helm.release('web', 'demo', { replicaCount: 2, extraEnv: [{ name: 'A', value: 'b' }] }, { namespace: 'apps', kubeVersion: kube }),
  stack: helm.release('stack', 'stack', { message: 'hi' }, { namespace: 'data', kubeVersion: kube, retries: 5 }),
};
{ 'us-east-2': region('1.31.0'), 'us-west-2': region('1.31.0'), 'eu-west-2': region('1.30.4') }
`

func evalFleet(t *testing.T, f *fixture) (string, *charts.Renderer) {
	t.Helper()
	r := renderer(t, f)
	vm := jsonnet.MakeVM()
	vm.NativeFunction(r.NativeFunction())
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../templates"}})
	out, err := vm.EvaluateAnonymousSnippet("fleet.jsonnet", jsonnetFleet)
	if err != nil {
		t.Fatal(err)
	}
	return out, r
}

func TestJsonnetDeliveryModesAndDeterminism(t *testing.T) {
	f := vendored(t)
	out, r := evalFleet(t, f)
	// Three regions, two kube versions, two charts: four renders.
	if n := r.Renders(); n != 4 {
		t.Errorf("renders = %d, want 4", n)
	}
	var fleet map[string]map[string]struct {
		Chart   map[string]any              `json:"chart"`
		Objects []map[string]any            `json:"objects"`
		CRDs    []map[string]any            `json:"crds"`
		Review  map[string][]map[string]any `json:"review"`
	}
	if err := json.Unmarshal([]byte(out), &fleet); err != nil {
		t.Fatal(err)
	}
	demo := fleet["us-east-2"]["demo"]
	if len(demo.Review) != 0 || len(demo.CRDs) != 2 || find(demo.Objects, "Deployment", "web") == nil {
		t.Errorf("render delivery: review %v crds %d objects %v", demo.Review, len(demo.CRDs), ids(demo.Objects))
	}
	stack := fleet["us-east-2"]["stack"]
	if len(stack.CRDs) != 0 || len(stack.Objects) != 2 {
		t.Fatalf("helmrelease delivery objects: %v", ids(stack.Objects))
	}
	src, hr := stack.Objects[0], stack.Objects[1]
	digest := stack.Chart["manifestDigest"].(string)
	wantSrc := fmt.Sprintf(`{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"OCIRepository","metadata":{"name":"stack","namespace":"flux-system"},"spec":{"interval":"10m","layerSelector":{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","operation":"copy"},"ref":{"digest":%q,"tag":"0.3.0"},"url":%q}}`, digest, f.reg.URL+"/stack")
	if got, _ := json.Marshal(src); string(got) != wantSrc {
		t.Errorf("source:\n%s\nwant:\n%s", got, wantSrc)
	}
	wantHR := `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"stack","namespace":"flux-system"},"spec":{"chartRef":{"kind":"OCIRepository","name":"stack","namespace":"flux-system"},"install":{"crds":"Create","createNamespace":true,"remediation":{"retries":5}},"interval":"10m","releaseName":"stack","storageNamespace":"data","targetNamespace":"data","timeout":"5m","upgrade":{"crds":"CreateReplace","remediation":{"remediateLastFailure":true,"retries":5}},"values":{"message":"hi"}}}`
	if got, _ := json.Marshal(hr); string(got) != wantHR {
		t.Errorf("HelmRelease:\n%s\nwant:\n%s", got, wantHR)
	}
	if rev := stack.Review["stack.yaml"]; strings.Join(ids(rev), ",") != "ConfigMap data/stack-stack,Service data/stack-sub" {
		t.Errorf("review file: %v", ids(rev))
	}

	// Byte-identical across runs, fresh renderers and GOMAXPROCS.
	prev := runtime.GOMAXPROCS(1)
	again, _ := evalFleet(t, f)
	runtime.GOMAXPROCS(prev)
	if again != out {
		t.Error("a second evaluation differs")
	}
}

func TestJsonnetHelmRepositoryRelease(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(t, "charts:\n  - name: demo\n    repository: "+f.repo.URL+"\n    version: 1.0.0\n    delivery: helmrelease\n")
	f.vendor(t)
	r := renderer(t, f)
	vm := jsonnet.MakeVM()
	vm.NativeFunction(r.NativeFunction())
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../templates"}})
	out, err := vm.EvaluateAnonymousSnippet("x.jsonnet", `
local helm = import 'lib/helm.libsonnet';
helm.release('web', 'demo', {}, { namespace: 'apps', kubeVersion: '1.31.0', fluxNamespace: 'flux', reviewFile: 'demo-web.yaml', includeCRDs: false })`)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Objects []map[string]any            `json:"objects"`
		Review  map[string][]map[string]any `json:"review"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	wantSrc := fmt.Sprintf(`{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"HelmRepository","metadata":{"name":"demo","namespace":"flux"},"spec":{"interval":"10m","url":%q}}`, f.repo.URL)
	if b, _ := json.Marshal(got.Objects[0]); string(b) != wantSrc {
		t.Errorf("source:\n%s\nwant:\n%s", b, wantSrc)
	}
	spec := got.Objects[1]["spec"].(map[string]any)
	wantChart := `{"spec":{"chart":"demo","interval":"10m","sourceRef":{"kind":"HelmRepository","name":"demo","namespace":"flux"},"version":"1.0.0"}}`
	if b, _ := json.Marshal(spec["chart"]); string(b) != wantChart {
		t.Errorf("chart: %s", b)
	}
	if _, ok := spec["values"]; ok {
		t.Error("empty values written")
	}
	if spec["install"].(map[string]any)["crds"] != "Skip" {
		t.Error("includeCRDs false not honoured by the HelmRelease")
	}
	rev := got.Review["demo-web.yaml"]
	if len(rev) == 0 || find(rev, "CustomResourceDefinition", "widgets.demo.example.com") != nil {
		t.Errorf("review: %v", ids(rev))
	}
}

func TestJsonnetErrors(t *testing.T) {
	f := vendored(t)
	r := renderer(t, f)
	cases := map[string]string{
		`(import 'lib/helm.libsonnet').release('web', 'demo', {}, { namespace: 'a', kubeVersion: '1.31.0', colour: 'red' })`: "helm.release: unknown option(s) colour",
		`std.native('helmTemplate')('web', 'demo', {}, { namespace: 'a', kubeVersion: '1.31.0', colour: 'red' })`:            `unknown option "colour"`,
		`std.native('helmTemplate')('web', 'demo', [], { namespace: 'a', kubeVersion: '1.31.0' })`:                           "values must be an object or null, got a list",
		`std.native('helmTemplate')('web', 'demo', {}, { namespace: 'a', kubeVersion: '1.31.0', includeCRDs: 'yes' })`:       "opts.includeCRDs must be a boolean",
		`std.native('helmTemplate')('web', 'demo', { replicaCount: 'x' }, { namespace: 'a', kubeVersion: '1.31.0' })`:        "replicaCount: got string, want integer",
		`std.native('helmTemplate')('web', 'demo', {}, { namespace: 'a', kubeVersion: '1.31.0', apiVersions: ['a/v1', 1] })`: "opts.apiVersions[1] must be a string",
	}
	for snippet, want := range cases {
		vm := jsonnet.MakeVM()
		vm.NativeFunction(r.NativeFunction())
		vm.Importer(&jsonnet.FileImporter{JPaths: []string{"../templates"}})
		_, err := vm.EvaluateAnonymousSnippet("x.jsonnet", snippet)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n%v\nwant %q", snippet, err, want)
		}
	}
}

// TestErrorsNameVendoredFiles: a chart's template error names the vendored
// file (templates/charts/<chart>/<version>/templates/<file>) a user can
// open, and a lock mismatch names templates/charts/charts.lock.
func TestErrorsNameVendoredFiles(t *testing.T) {
	f := newFixture(t)
	f.repo.Add(t, chartstest.PackageModified(t, demoDir, "3.0.0", func(c *chart.Chart) {
		c.Templates = append(c.Templates, &chart.File{Name: "templates/broken.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.here }}\n")})
	}))
	f.writeConfig(t, "charts:\n  - name: demo\n    repository: "+f.repo.URL+"\n    version: 3.0.0\n")
	f.vendor(t)
	_, err := renderer(t, f).Template(charts.Request{ReleaseName: "web", Chart: "demo", Namespace: "apps", KubeVersion: "1.31.2"})
	if err == nil || !strings.Contains(err.Error(), "templates/charts/demo/3.0.0/templates/broken.yaml:4") {
		t.Errorf("a template error must name the vendored file and line, got %v", err)
	}

	if err := f.fs.WriteFile(tdir+"/charts/demo/3.0.0/templates/broken.yaml", []byte("# edited\n")); err != nil {
		t.Fatal(err)
	}
	_, err = charts.NewRenderer(f.fs, tdir)
	var me *charts.MismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "do not match templates/charts/charts.lock") ||
		!strings.Contains(err.Error(), "listed in templates/charts/charts.yaml") {
		t.Errorf("a tampered chart must name templates/charts/charts.lock, got %v", err)
	}
}
