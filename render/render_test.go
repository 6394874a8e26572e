package render_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// miniTemplates is a small template set exercising imports.
var miniTemplates = map[string]string{
	"templates/lib/ns.libsonnet": `{ ns(name):: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: name } } }`,
	"templates/main.jsonnet": `local lib = import 'lib/ns.libsonnet';
function(config) {
  components: {
    namespaces: [lib.ns('coder'), lib.ns(config.region.name)],
    app: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'coder' },
            data: { domain: config.fleet.domain, role: config.region.role } }],
  },
}
`,
}

func renderFiles(t *testing.T, files map[string]string, opts render.Options) (*render.Result, error) {
	t.Helper()
	fsys, repo := testfleet.MemFS(t, files)
	opts.FS, opts.Repo, opts.Version = fsys, repo, "test"
	return render.Render(context.Background(), opts)
}

func miniFleet(changes map[string]string) map[string]string {
	return testfleet.With(testfleet.With(testfleet.Fleet(), miniTemplates), changes)
}

func TestRenderLayout(t *testing.T) {
	res, err := renderFiles(t, miniFleet(nil), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Regions) != 2 {
		t.Fatalf("complete=%v regions=%d", res.Complete, len(res.Regions))
	}
	tree := res.Regions["us-west-2"]
	want := []string{".coderfleet.yaml", "app/configmap-coder-settings.yaml", "app/kustomization.yaml",
		"namespaces/kustomization.yaml", "namespaces/namespace-coder.yaml", "namespaces/namespace-us-west-2.yaml"}
	if got := tree.Paths(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("paths:\n got %v\nwant %v", got, want)
	}
	cm := string(tree["app/configmap-coder-settings.yaml"])
	for _, s := range []string{"coderfleet.io/component: app", "coderfleet.io/region: us-west-2", "app.kubernetes.io/managed-by: coderfleet", "role: proxy", "domain: coder.example.com"} {
		if !strings.Contains(cm, s) {
			t.Errorf("configmap lacks %q:\n%s", s, cm)
		}
	}
	if k := string(tree["namespaces/kustomization.yaml"]); !strings.Contains(k, "resources:\n- namespace-coder.yaml\n- namespace-us-west-2.yaml\n") {
		t.Errorf("kustomization:\n%s", k)
	}
}

func TestRenderSelectedRegions(t *testing.T) {
	res, err := renderFiles(t, miniFleet(nil), render.Options{Regions: []string{"us-west-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete || len(res.Regions) != 1 || res.Regions["us-west-2"] == nil {
		t.Fatalf("complete=%v regions=%v", res.Complete, len(res.Regions))
	}
	_, err = renderFiles(t, miniFleet(nil), render.Options{Regions: []string{"mars-1"}})
	var ur *render.UnknownRegionError
	if !errors.As(err, &ur) || !strings.Contains(err.Error(), `unknown region "mars-1"`) || !strings.Contains(err.Error(), "us-east-2, us-west-2") {
		t.Fatalf("want unknown region error listing regions, got %v", err)
	}
}

func TestRenderIsDeterministicAcrossGOMAXPROCS(t *testing.T) {
	var outputs []map[string]render.Tree
	for _, procs := range []int{1, 8} {
		prev := runtime.GOMAXPROCS(procs)
		files := miniFleet(nil)
		for i := 0; i < 12; i++ {
			files[fmt.Sprintf("overlays/proxy-%02d/region.yaml", i)] = fmt.Sprintf(
				"apiVersion: coderfleet.io/v1alpha1\nkind: Region\nname: proxy-%02d\nawsRegion: eu-west-1\nrole: proxy\nclusterName: c%d\n", i, i)
		}
		res, err := renderFiles(t, files, render.Options{Parallelism: procs})
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, res.Regions)
	}
	rep := render.Compare("regions", outputs[0], outputs[1], true)
	if rep.Stale() {
		t.Fatalf("GOMAXPROCS=1 and 8 differ: %+v", rep)
	}
}

// renderErr renders and returns the *render.Error it must fail with.
func renderErr(t *testing.T, files map[string]string) *render.Error {
	t.Helper()
	_, err := renderFiles(t, files, render.Options{MaxStack: 200})
	if err == nil {
		t.Fatal("render succeeded, want an error")
	}
	if !render.IsInputError(err) {
		t.Fatalf("not an input error: %v", err)
	}
	var e *render.Error
	if !errors.As(err, &e) {
		t.Fatalf("no *render.Error in %v", err)
	}
	return e
}

func TestTemplateErrors(t *testing.T) {
	cases := []struct {
		name   string
		main   string
		extra  map[string]string
		file   string
		line   int
		phrase string
	}{
		{name: "syntax error", main: "function(config) {\n  components: {\n    a: [\n}\n", file: "templates/main.jsonnet", line: 4, phrase: "template evaluation failed"},
		{name: "runtime error", main: "function(config) {\n  components: { a: [error 'boom'] },\n}\n", file: "templates/main.jsonnet", line: 2, phrase: "boom"},
		{name: "runtime error in a library", main: "local l = import 'lib/bad.libsonnet';\nfunction(config) { components: { a: [l.x] } }\n",
			extra: map[string]string{"templates/lib/bad.libsonnet": "{\n  x: std.parseInt('nope'),\n}\n"}, file: "templates/lib/bad.libsonnet", line: 2, phrase: "nope"},
		{name: "import escaping templates", main: "local p = importstr '../../etc/passwd';\nfunction(config) { components: { a: [p] } }\n", file: "templates/main.jsonnet", line: 1, phrase: `escapes templates/`},
		{name: "import of absolute path", main: "local p = importstr '/etc/passwd';\nfunction(config) { components: { a: [p] } }\n", file: "templates/main.jsonnet", line: 1, phrase: "absolute path"},
		{name: "import of missing file", main: "local p = import 'nope.libsonnet';\nfunction(config) { components: { a: [p] } }\n", file: "templates/main.jsonnet", line: 1, phrase: `cannot read "templates/nope.libsonnet"`},
		{name: "endless recursion", main: "local f(n) = f(n + 1) + 1;\nfunction(config) { components: { a: [f(0)] } }\n", file: "templates/main.jsonnet", line: 1, phrase: "max stack frames exceeded"},
		{name: "wrong result shape", main: "function(config) { objects: [] }\n", file: "templates/main.jsonnet", phrase: "wrong shape"},
		{name: "object without name", main: "function(config) { components: { a: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }] } }\n", file: "templates/main.jsonnet", phrase: "metadata.name"},
		{name: "bad component name", main: "function(config) { components: { Coder_Server: [] } }\n", file: "templates/main.jsonnet", phrase: `invalid component name "Coder_Server"`},
		{name: "two objects one file", main: "local o = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'n' } };\nfunction(config) { components: { a: [o, o { apiVersion: 'v2' }] } }\n", file: "templates/main.jsonnet", phrase: `maps to the same file "configmap-n-x.yaml"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := miniFleet(map[string]string{"templates/main.jsonnet": tc.main})
			for k, v := range tc.extra {
				files[k] = v
			}
			e := renderErr(t, files)
			if e.File != tc.file || (tc.line != 0 && e.Line != tc.line) {
				t.Errorf("error at %s:%d, want %s:%d\n%v", e.File, e.Line, tc.file, tc.line, e)
			}
			if !strings.Contains(e.Error(), tc.phrase) {
				t.Errorf("error %q does not contain %q", e, tc.phrase)
			}
		})
	}
}

func TestOverlay(t *testing.T) {
	files := miniFleet(map[string]string{
		"overlays/us-west-2/kustomization.yaml": "patches:\n- path: patch.yaml\n- target: {kind: ConfigMap, name: settings}\n  patch: |-\n    - op: add\n      path: /data/extra\n      value: json6902\nresources:\n- extra/cm.yaml\n",
		"overlays/us-west-2/patch.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: coder}\ndata: {role: patched}\n",
		"overlays/us-west-2/extra/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: coder\n  annotations: {coderfleet.io/component: app}\ndata: {a: b}\n",
	})
	res, err := renderFiles(t, files, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tree := res.Regions["us-west-2"]
	cm := string(tree["app/configmap-coder-settings.yaml"])
	if !strings.Contains(cm, "role: patched") || !strings.Contains(cm, "extra: json6902") {
		t.Errorf("strategic merge and JSON 6902 patches not applied:\n%s", cm)
	}
	if _, ok := tree["app/configmap-coder-extra.yaml"]; !ok {
		t.Errorf("extra resource not written; paths %v", tree.Paths())
	}
	if east := string(res.Regions["us-east-2"]["app/configmap-coder-settings.yaml"]); !strings.Contains(east, "role: primary") {
		t.Errorf("overlay leaked into another region:\n%s", east)
	}
}

func TestOverlayRefusals(t *testing.T) {
	cases := []struct {
		name, kust string
		extra      map[string]string
		line       int
		phrase     string
	}{
		{name: "remote base", kust: "resources:\n- github.com/evil/repo//base?ref=main\n", line: 2, phrase: "remote resource"},
		{name: "https resource", kust: "resources:\n- https://example.com/x.yaml\n", line: 2, phrase: "remote resource"},
		{name: "patch escaping the folder", kust: "patches:\n- path: ../us-east-2/region.yaml\n", line: 2, phrase: "outside the overlay folder"},
		{name: "absolute path", kust: "resources:\n- /etc/passwd\n", line: 2, phrase: "outside the overlay folder"},
		{name: "helm charts", kust: "helmCharts:\n- name: x\n", line: 1, phrase: "helmCharts is not allowed"},
		{name: "secret generator", kust: "secretGenerator:\n- name: s\n  literals: [a=b]\n", line: 1, phrase: "secretGenerator is not allowed"},
		{name: "plugin transformers", kust: "transformers:\n- t.yaml\n", line: 1, phrase: "transformers is not allowed"},
		{name: "unknown field", kust: "patchez: []\n", phrase: "invalid kustomization"},
		{name: "patch of a missing object", kust: "patches:\n- path: p.yaml\n", extra: map[string]string{"overlays/us-west-2/p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nope, namespace: coder}\ndata: {a: b}\n"}, phrase: "applying the overlay"},
		{name: "extra object without component", kust: "resources:\n- cm.yaml\n", extra: map[string]string{"overlays/us-west-2/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: coder}\n"}, phrase: "has no component"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := miniFleet(map[string]string{"overlays/us-west-2/kustomization.yaml": tc.kust})
			for k, v := range tc.extra {
				files[k] = v
			}
			e := renderErr(t, files)
			if !strings.Contains(e.Error(), tc.phrase) {
				t.Errorf("error %q does not contain %q", e, tc.phrase)
			}
			if e.Region != "us-west-2" {
				t.Errorf("region = %q", e.Region)
			}
			if tc.line != 0 && (e.File != "overlays/us-west-2/kustomization.yaml" || e.Line != tc.line) {
				t.Errorf("error at %s:%d, want overlays/us-west-2/kustomization.yaml:%d", e.File, e.Line, tc.line)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	want := map[string]render.Tree{"a": {"x.yaml": []byte("one\n"), "y.yaml": []byte("new\n")}}
	have := map[string]render.Tree{"a": {"x.yaml": []byte("two\n"), "z.yaml": []byte("old\n")}, "gone": {"f": []byte("f")}}
	rep := render.Compare("regions", want, have, true)
	if len(rep.Changed) != 1 || rep.Changed[0].Path != "regions/a/x.yaml" || !strings.Contains(rep.Changed[0].Diff, "-two\n+one\n") {
		t.Errorf("changed = %+v", rep.Changed)
	}
	if strings.Join(rep.Missing, ",") != "regions/a/y.yaml" || strings.Join(rep.Extra, ",") != "regions/a/z.yaml,regions/gone/f" {
		t.Errorf("missing = %v, extra = %v", rep.Missing, rep.Extra)
	}
	if partial := render.Compare("regions", want, have, false); len(partial.Extra) != 1 {
		t.Errorf("an incomplete render must not report other regions as extra: %v", partial.Extra)
	}
}

func TestPatchMatchingNothingIsAnError(t *testing.T) {
	files := miniFleet(map[string]string{
		"overlays/us-west-2/kustomization.yaml": "patches:\n- target:\n    kind: ConfigMap\n    name: setings\n  patch: |-\n    - op: add\n      path: /data/x\n      value: y\n",
	})
	e := renderErr(t, files)
	if !strings.Contains(e.Error(), `matches no object (target kind="ConfigMap" name="setings"`) || e.Line != 4 {
		t.Fatalf("got %v (line %d)", e, e.Line)
	}
	// A target inside the overlay's own resources is fine.
	files["overlays/us-west-2/kustomization.yaml"] = "resources:\n- cm.yaml\npatches:\n- target: {kind: ConfigMap, name: mine}\n  patch: |-\n    - op: add\n      path: /data/x\n      value: patched\n"
	files["overlays/us-west-2/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine, namespace: coder, annotations: {coderfleet.io/component: app}}\ndata: {a: b}\n"
	res, err := renderFiles(t, files, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cm := string(res.Regions["us-west-2"]["app/configmap-coder-mine.yaml"]); !strings.Contains(cm, "x: patched") {
		t.Errorf("patch not applied to the overlay's own resource:\n%s", cm)
	}
}

func TestEvaluationTimeLimit(t *testing.T) {
	files := miniFleet(map[string]string{"templates/main.jsonnet": "function(config) { components: { a: [std.foldl(function(acc, x) acc + x, std.range(0, 100000000), 0)] } }\n"})
	_, err := renderFiles(t, files, render.Options{EvalTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") {
		t.Fatalf("want the time limit, got %v", err)
	}
}

func TestValidationProblemsNameTheInputAndTheRenderedLine(t *testing.T) {
	files := miniFleet(map[string]string{"templates/main.jsonnet": `function(config) { components: { app: [{
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'coder' },
  spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: {
    securityContext: { runAsNonRoot: true },
    containers: [{ name: 'web', image: 'nginx:latest',
      securityContext: { allowPrivilegeEscalation: false },
      resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
      readinessProbe: { tcpSocket: { port: 80 } }, livenessProbe: { tcpSocket: { port: 80 } } }] } } },
}] } }
`})
	_, err := renderFiles(t, files, render.Options{})
	var e *render.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a render.Error, got %v", err)
	}
	// Blamed on the template line that wrote the value, and placed in
	// the file render would have written.
	if e.File != "templates/main.jsonnet" || e.Line != 5 || e.Field != "spec.template.spec.containers[web].image" {
		t.Fatalf("got %s:%d field %q: %v", e.File, e.Line, e.Field, e)
	}
	if !strings.Contains(err.Error(), "latest") || !strings.Contains(err.Error(), "(rendered at regions/us-east-2/app/deployment-coder-web.yaml:22)") {
		t.Errorf("message: %v", err)
	}
}

func TestTailstrictIsRefused(t *testing.T) {
	files := miniFleet(map[string]string{"templates/lib/spin.libsonnet": "{\n  spin(n):: if n == 0 then {} else self.spin(n - 1) tailstrict,\n}\n",
		"templates/main.jsonnet": "local s = import 'lib/spin.libsonnet';\nfunction(config) { components: s.spin(1000000000) }\n"})
	e := renderErr(t, files)
	if e.File != "templates/lib/spin.libsonnet" || e.Line != 2 || !strings.Contains(e.Msg, "tailstrict") {
		t.Fatalf("got %v", e)
	}
}

// TestReviewManifestsPassTheSecretGuard: manifests written for reviewers
// (regions/<region>/review/) are committed like the rest, so a credential
// in one is refused, placed at the template line and the review file.
func TestReviewManifestsPassTheSecretGuard(t *testing.T) {
	files := miniFleet(map[string]string{"templates/main.jsonnet": `function(config) {
  components: { app: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'coder' } }] },
  review: { 'chart.yaml': [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chart-values', namespace: 'coder' },
    data: { 'values.yaml': 'auth:\n  apiKey: zzz-literal-key\n' } }] },
}
`})
	_, err := renderFiles(t, files, render.Options{})
	var e *render.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a render.Error, got %v", err)
	}
	if e.File != "templates/main.jsonnet" || e.Line != 4 || e.Component != "review/chart.yaml" || e.Field != `data["values.yaml"]` {
		t.Fatalf("got %s:%d component %q field %q: %v", e.File, e.Line, e.Component, e.Field, e)
	}
	if !strings.Contains(err.Error(), `key "apiKey" in the text`) || !strings.Contains(err.Error(), "(rendered at regions/us-east-2/review/chart.yaml") {
		t.Errorf("message: %v", err)
	}
}

// TestIntactDecidesWhichUnchangedRegionsAreSkipped: a region whose inputs
// digest equals Previous is skipped only when Intact confirms its folder,
// and evaluated (with the same tree as a full render) when Intact says no;
// a region whose digest changed is evaluated without asking Intact.
func TestIntactDecidesWhichUnchangedRegionsAreSkipped(t *testing.T) {
	files := miniFleet(nil)
	full, err := renderFiles(t, files, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	previous := map[string]string{}
	for r, d := range full.Digests {
		previous[r] = d.Inputs
	}
	previous["us-east-2"] = "a digest of other inputs"
	var asked []string
	var mu sync.Mutex
	res, err := renderFiles(t, files, render.Options{Previous: previous, Intact: func(region string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, region)
		return region != "us-west-2"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, ",") != "us-west-2" {
		t.Errorf("Intact asked about [%s], want only us-west-2 (the region whose digest is unchanged)", strings.Join(asked, ","))
	}
	if len(res.Skipped) != 0 || len(res.Regions) != 2 {
		t.Fatalf("skipped %v, rendered %d regions; want both rendered (one changed, one not intact)", res.Skipped, len(res.Regions))
	}
	if rep := render.Compare("regions", full.Regions, res.Regions, true); rep.Stale() {
		t.Fatalf("the trees differ from a full render: %+v", rep)
	}
	res, err = renderFiles(t, files, render.Options{Previous: previous, Intact: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Skipped, ",") != "us-west-2" || len(res.Regions) != 1 || res.Regions["us-east-2"] == nil {
		t.Fatalf("skipped %v, rendered %d; want us-west-2 skipped and us-east-2 rendered", res.Skipped, len(res.Regions))
	}
}
