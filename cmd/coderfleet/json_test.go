package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/coderfleet/coderfleet/charts/chartstest"
)

// schemaDir holds the JSON Schema of every -o json document (docs/json.md).
var schemaDir = filepath.Join("..", "..", "docs", "schemas")

// jsonDoc runs coderfleet with args (which include -o json), checks the exit
// code and that stdout is exactly one JSON document valid against
// docs/schemas/<schema>.json, whose summary holds only integers, and
// returns it decoded (numbers as json.Number).
func jsonDoc(t *testing.T, schema string, wantCode int, args ...string) map[string]any {
	t.Helper()
	code, out, errs := cli(t, args...)
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errs)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	if dec.More() {
		t.Fatalf("%s: stdout holds more than one JSON document:\n%s", strings.Join(args, " "), out)
	}
	c := jsonschema.NewCompiler()
	entries, err := os.ReadDir(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(schemaDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := c.AddResource("https://coderfleet.io/schemas/"+e.Name(), s); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("https://coderfleet.io/schemas/" + schema + ".json")
	if err != nil {
		t.Fatalf("compiling %s: %v", schema, err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("%s: output does not match docs/schemas/%s.json: %v\n%s", strings.Join(args, " "), schema, err, out)
	}
	m := doc.(map[string]any)
	assertIntegers(t, "summary", m["summary"])
	return m
}

// assertIntegers fails unless v is an integer or an object of them.
func assertIntegers(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Int64(); err != nil {
			t.Errorf("%s is %s, not an integer", path, v)
		}
	case map[string]any:
		for k, x := range v {
			assertIntegers(t, path+"."+k, x)
		}
	default:
		t.Errorf("%s is %T (%v), not a count", path, v, v)
	}
}

// count is the integer at a path of dot-separated keys.
func count(t *testing.T, doc map[string]any, path string) int {
	t.Helper()
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		v = v.(map[string]any)[k]
	}
	n, err := v.(json.Number).Int64()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return int(n)
}

// list is the array under key of m.
func list(m any, key string) []any { return m.(map[string]any)[key].([]any) }

// countWhere counts the items of items whose key equals value.
func countWhere(items []any, key, value string) int {
	n := 0
	for _, it := range items {
		if it.(map[string]any)[key] == value {
			n++
		}
	}
	return n
}

func TestJSONVersion(t *testing.T) {
	doc := jsonDoc(t, "version", exitOK, "version", "-o", "json")
	if doc["version"] == "" {
		t.Error("no version")
	}
}

func TestJSONRenderAndCheck(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	doc := jsonDoc(t, "check", exitOK, "check", "--repo", repo, "-o", "json")
	if doc["status"] != "current" || count(t, doc, "summary.regions") != len(list(doc, "regions")) || count(t, doc, "summary.regions") != 3 {
		t.Errorf("current tree: %v", doc)
	}

	replaceInFile(t, filepath.Join(repo, "templates/components/proxy.libsonnet"), "periodSeconds: 10", "periodSeconds: 11")
	doc = jsonDoc(t, "check", exitDiffers, "check", "--repo", repo, "-o", "json")
	changed := list(doc, "changed")
	if doc["status"] != "stale" || len(changed) == 0 || count(t, doc, "summary.changed") != len(changed) ||
		count(t, doc, "summary.missing") != len(list(doc, "missing")) || count(t, doc, "summary.extra") != len(list(doc, "extra")) {
		t.Errorf("stale tree: %v", doc)
	}
	if d := changed[0].(map[string]any)["diff"].(string); !strings.Contains(d, "+") {
		t.Errorf("changed file without its diff: %q", d)
	}

	doc = jsonDoc(t, "render", exitOK, "render", "--repo", repo, "-o", "json")
	regions := list(doc, "regions")
	for key, state := range map[string]string{"written": "written", "unchanged": "unchanged", "skipped": "skipped", "removed": "removed", "leftAlone": "left-alone"} {
		if got := count(t, doc, "summary."+key); got != countWhere(regions, "state", state) {
			t.Errorf("summary.%s = %d, regions in state %s: %d", key, got, state, countWhere(regions, "state", state))
		}
	}
	if count(t, doc, "summary.written") != 2 || count(t, doc, "summary.rendered") != 3 { // the two proxies
		t.Errorf("render after a proxy template edit: %v", doc)
	}
	doc = jsonDoc(t, "render", exitOK, "render", "--repo", repo, "-o", "json")
	if count(t, doc, "summary.skipped") != 3 || count(t, doc, "summary.rendered") != 0 {
		t.Errorf("second render skips every region: %v", doc["summary"])
	}
}

func TestJSONDiff(t *testing.T) {
	repo := exampleCopy(t)
	replaceInFile(t, filepath.Join(repo, "templates/components/proxy.libsonnet"), "periodSeconds: 10", "periodSeconds: 11")
	doc := jsonDoc(t, "diff", exitDiffers, "diff", "--repo", repo, "-o", "json", "--exit-code")
	regions := list(doc, "regions")
	if count(t, doc, "summary.regions.changed") != countWhere(regions, "change", "changed") || len(regions) != 2 {
		t.Errorf("regions: %v", doc["summary"])
	}
	objects := 0
	var value any
	for _, r := range regions {
		for _, c := range list(r, "components") {
			objects += countWhere(list(c, "objects"), "change", "changed")
			for _, o := range list(c, "objects") {
				for _, f := range list(o, "fields") {
					if strings.HasSuffix(f.(map[string]any)["path"].(string), "periodSeconds") {
						value = f.(map[string]any)["new"]
					}
				}
			}
		}
	}
	if count(t, doc, "summary.objects.changed") != objects || objects == 0 {
		t.Errorf("summary.objects.changed = %d, changed objects: %d", count(t, doc, "summary.objects.changed"), objects)
	}
	if value != json.Number("11") {
		t.Errorf("periodSeconds new value is %T %v, want the number 11", value, value)
	}
}

func TestJSONSync(t *testing.T) {
	motoWithZone(t, "json-test", "MOTO_ACM_VALIDATION_WAIT=86400")
	repo := exampleCopy(t)

	plan := jsonDoc(t, "sync-plan", exitChanges, "sync", "plan", "--repo", repo, "--region", "us-west-2", "-o", "json", "--detailed-exitcode")
	changes := list(plan, "changes")
	for key, action := range map[string]string{"add": "create", "change": "update", "destroy": "delete"} {
		if got := count(t, plan, "summary."+key); got != countWhere(changes, "action", action) {
			t.Errorf("summary.%s = %d, %s changes: %d", key, got, action, countWhere(changes, "action", action))
		}
	}
	for key, l := range map[string]string{"waiting": "waiting", "conflicts": "conflicts", "notes": "notes", "outputs": "outputs", "knownAfterApply": "knownAfterApply"} {
		if count(t, plan, "summary."+key) != len(list(plan, l)) {
			t.Errorf("summary.%s disagrees with %s", key, l)
		}
	}
	if plan["status"] != "changes-pending" || len(changes) == 0 || len(list(plan, "knownAfterApply")) == 0 {
		t.Fatalf("fresh plan (changes and the validation CNAMEs known after apply): %v", plan)
	}
	var sawCert, sawPort bool
	for _, c := range changes {
		res := c.(map[string]any)["resource"].(map[string]any)
		kind, name, region := res["kind"].(string), res["name"].(string), res["region"]
		if region != nil && res["address"] != region.(string)+"/"+kind+"/"+name {
			t.Errorf("address %v of %v", res["address"], res)
		}
		if kind == "certificate" {
			sawCert = true
			if res["id"] != nil {
				t.Errorf("a certificate to create has an id: %v", res)
			}
		}
		for _, f := range list(c, "fields") {
			if fm := f.(map[string]any); fm["name"] == "port" {
				sawPort = true
				if _, ok := fm["new"].(json.Number); !ok {
					t.Errorf("health check port is %T %v, not a number", fm["new"], fm["new"])
				}
			}
		}
	}
	if !sawCert || !sawPort {
		t.Errorf("plan lacks a certificate or a health check port: %v", changes)
	}

	// Apply gives up on the certificates after 1s: one document, status
	// failed, its diagnostics; no error document after it.
	apply := jsonDoc(t, "sync-apply", exitRuntime, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2", "--timeout", "1s", "-o", "json")
	applied := list(apply, "applied")
	if apply["status"] != "failed" || len(applied) == 0 ||
		count(t, apply, "summary.added")+count(t, apply, "summary.addedKnownAfterApply") != countWhere(applied, "action", "create") {
		t.Errorf("failed apply: %v", apply["summary"])
	}
	// The validation CNAMEs are made before the wait: the plan's counts are
	// the apply's, each apart.
	if count(t, apply, "summary.added") != count(t, plan, "summary.add") ||
		count(t, apply, "summary.addedKnownAfterApply") != count(t, plan, "summary.knownAfterApply") {
		t.Errorf("apply added %v, the plan said %v", apply["summary"], plan["summary"])
	}
	diags := list(apply, "diagnostics")
	if len(diags) != 1 || !strings.Contains(diags[0].(map[string]any)["message"].(string), "certificates not ISSUED after 1s") {
		t.Errorf("diagnostics: %v", diags)
	} else if hint, _ := diags[0].(map[string]any)["hint"].(string); !strings.HasPrefix(hint, "ACM usually validates within 30 minutes; check that the validation CNAMEs exist with coderfleet sync plan") ||
		!strings.HasSuffix(hint, "or with a longer --timeout") {
		t.Errorf("the certificate timeout's hint is %q", diags[0].(map[string]any)["hint"])
	}

	plan = jsonDoc(t, "sync-plan", exitOK, "sync", "plan", "--repo", repo, "--region", "us-west-2", "-o", "json")
	if plan["status"] != "waiting" || count(t, plan, "summary.waiting") != len(list(plan, "waiting")) || count(t, plan, "summary.waiting") == 0 {
		t.Errorf("plan after apply: %v", plan["summary"])
	}
	w := list(plan, "waiting")[0].(map[string]any)["resource"].(map[string]any)
	if w["kind"] != "record" || w["region"] != "us-west-2" || w["id"] != nil {
		t.Errorf("waiting record: %v", w)
	}
}

func TestJSONRegionAddAndList(t *testing.T) {
	repo := exampleCopy(t)
	doc := jsonDoc(t, "region-add", exitOK, "region", "add", "ap-south-1", "--aws-region", "ap-south-1", "--repo", repo, "-o", "json")
	steps := list(doc, "nextSteps")
	if count(t, doc, "summary.nextSteps") != len(steps) || doc["file"] != "overlays/ap-south-1/region.yaml" ||
		doc["region"].(map[string]any)["displayName"] != "Mumbai" {
		t.Errorf("region add: %v", doc)
	}
	if _, err := os.Stat(filepath.Join(repo, "overlays/ap-south-1/region.yaml")); err != nil {
		t.Error(err)
	}
	if cmd := steps[0].(map[string]any)["command"]; cmd != "coderfleet render" {
		t.Errorf("first step's command: %v", cmd)
	}

	doc = jsonDoc(t, "region-list", exitOK, "region", "list", "--repo", repo, "-o", "json")
	regions := list(doc, "regions")
	synced := 0
	for _, r := range regions {
		if r.(map[string]any)["synced"] == true {
			synced++
		}
	}
	if count(t, doc, "summary.regions") != 4 || len(regions) != 4 || count(t, doc, "summary.primary") != countWhere(regions, "role", "primary") ||
		count(t, doc, "summary.proxies") != countWhere(regions, "role", "proxy") || count(t, doc, "summary.synced") != synced ||
		count(t, doc, "summary.rendered") != len(regions)-countWhere(regions, "rendered", "no") {
		t.Errorf("region list: %v", doc)
	}
}

func TestJSONVendor(t *testing.T) {
	chartRepo := chartstest.NewRepo(t)
	chartRepo.Add(t, chartstest.Package(t, filepath.Join("..", "..", "charts", "testdata", "charts", "demo"), "1.0.0"))
	repo := t.TempDir()
	chartsDir := filepath.Join(repo, "templates", "charts")
	if err := os.MkdirAll(chartsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := jsonDoc(t, "vendor", exitOK, "vendor", "--repo", repo, "-o", "json")
	if doc["status"] != "nothing-listed" || doc["lock"] != nil {
		t.Errorf("nothing listed: %v", doc)
	}
	list := "charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: 1.0.0\n"
	if err := os.WriteFile(filepath.Join(chartsDir, "charts.yaml"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	doc = jsonDoc(t, "vendor", exitOK, "vendor", "--repo", repo, "-o", "json")
	charts := doc["charts"].([]any)
	if doc["status"] != "vendored" || count(t, doc, "summary.charts") != len(charts) || count(t, doc, "summary.added") != countWhere(charts, "status", "added") ||
		count(t, doc, "summary.added") != 1 || doc["lock"] != "templates/charts/charts.lock" {
		t.Errorf("vendor: %v", doc)
	}
	if err := os.WriteFile(filepath.Join(chartsDir, "demo", "1.0.0", "values.yaml"), []byte("edited: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc = jsonDoc(t, "vendor", exitDiffers, "vendor", "--check", "--repo", repo, "-o", "json")
	if doc["status"] != "mismatch" || count(t, doc, "summary.problems") != len(doc["problems"].([]any)) || count(t, doc, "summary.problems") == 0 {
		t.Errorf("vendor --check after an edit: %v", doc)
	}
}

// TestJSONErrors: a verb that fails in JSON mode prints the error document
// on stdout, with the diagnostics' file, line, key and hint, and the same
// message on stderr as in text mode.
func TestJSONErrors(t *testing.T) {
	repo := exampleCopy(t)
	replaceInFile(t, filepath.Join(repo, "overlays/us-west-2/region.yaml"), "role: proxy", "role: primary")
	for _, args := range [][]string{{"check"}, {"render"}, {"diff"}, {"region", "list"}} {
		args = append(args, "--repo", repo, "-o", "json")
		doc := jsonDoc(t, "error", exitInput, args...)
		d := list(doc, "diagnostics")[0].(map[string]any)
		if count(t, doc, "summary.diagnostics") != len(list(doc, "diagnostics")) || count(t, doc, "exitCode") != exitInput ||
			doc["command"] != "coderfleet "+strings.Join(args[:slices.Index(args, "--repo")], " ") {
			t.Errorf("%v: %v", args, doc)
		}
		if d["key"] != "role" || d["hint"] == nil || d["line"] == nil || !strings.HasPrefix(d["file"].(string), "overlays/") {
			t.Errorf("%v: diagnostic lacks key, hint, line or file: %v", args, d)
		}
		_, _, textErr := cli(t, args[:len(args)-2]...)
		_, _, jsonErr := cli(t, args...)
		if textErr != jsonErr {
			t.Errorf("%v: stderr differs in JSON mode:\n%s\n%s", args, textErr, jsonErr)
		}
	}
	doc := jsonDoc(t, "error", exitUsage, "render", "--repo", exampleCopy(t), "--region", "nowhere", "-o", "json")
	if d := list(doc, "diagnostics")[0].(map[string]any); !strings.Contains(d["message"].(string), "nowhere") || d["hint"] == nil {
		t.Errorf("unknown region (message and hint): %v", d)
	}
	doc = jsonDoc(t, "error", exitUsage, "render", "--repo", exampleCopy(t), "--region", "eu-wset-2", "-o", "json")
	if d := list(doc, "diagnostics")[0].(map[string]any); d["hint"] != `did you mean "eu-west-2"?` {
		t.Errorf("a near miss's did-you-mean is the diagnostic's hint: %v", d)
	}
}
