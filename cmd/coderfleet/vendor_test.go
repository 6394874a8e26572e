package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/charts/chartstest"
)

// TestVendorCommand drives `coderfleet vendor` on a repository on disk
// against a chart repository and an OCI registry on loopback, and checks
// the exit code of each outcome.
func TestVendorCommand(t *testing.T) {
	chartRepo := chartstest.NewRepo(t)
	chartRepo.Add(t, chartstest.Package(t, filepath.Join("..", "..", "charts", "testdata", "charts", "demo"), "1.0.0"))
	reg := chartstest.NewRegistry(t)
	reg.Push(t, chartstest.Package(t, filepath.Join("..", "..", "charts", "testdata", "charts", "stack"), ""))

	repo := t.TempDir()
	chartsDir := filepath.Join(repo, "templates", "charts")
	if err := os.MkdirAll(chartsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeList := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(chartsDir, "charts.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeList("charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: 1.0.0\n" +
		"  - name: stack\n    repository: " + reg.URL + "\n    version: 0.3.0\n    delivery: helmrelease\n")
	registryConfig := filepath.Join(t.TempDir(), "registry.json")

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := cli("vendor", "--repo", repo, "--plain-http", "--registry-config", registryConfig)
	if code != 0 {
		t.Fatalf("vendor: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"added      demo 1.0.0", "added      stack 0.3.0", "wrote templates/charts/charts.lock (2 chart(s))", "next: run `coderfleet render`"} {
		if !strings.Contains(out, want) {
			t.Errorf("vendor output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(chartsDir, "demo", "1.0.0", "templates", "deployment.yaml")); err != nil {
		t.Fatal(err)
	}

	if code, out, _ := cli("vendor", "--check", "--repo", repo); code != 0 || !strings.Contains(out, "match") {
		t.Fatalf("check after vendor: exit %d\n%s", code, out)
	}

	// A hand edit is a difference: exit 1, and the file is named.
	tpl := filepath.Join(chartsDir, "demo", "1.0.0", "templates", "service.yaml")
	if err := os.WriteFile(tpl, []byte("# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli("vendor", "--check", "--repo", repo)
	if code != 1 || !strings.Contains(out, `chart "demo" 1.0.0: the files under`) || !strings.Contains(out, "run `coderfleet vendor`") {
		t.Fatalf("check after an edit: exit %d\n%s", code, out)
	}
	// Vendoring again repairs it.
	if code, out, errOut := cli("vendor", "--repo", repo, "--plain-http", "--registry-config", registryConfig); code != 0 || !strings.Contains(out, "unchanged  demo 1.0.0") {
		t.Fatalf("re-vendor: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := cli("vendor", "--check", "--repo", repo); code != 0 {
		t.Fatalf("check after re-vendor: exit %d", code)
	}

	// A version range is invalid input: exit 3, with file and line.
	writeList("charts:\n  - name: demo\n    repository: " + chartRepo.URL + "\n    version: ^1.0.0\n")
	code, _, errOut = cli("vendor", "--repo", repo, "--plain-http")
	if code != 3 || !strings.Contains(errOut, "charts.yaml:4: chart \"demo\": version \"^1.0.0\" is a range") {
		t.Fatalf("range: exit %d\n%s", code, errOut)
	}
	if code, _, _ := cli("vendor", "--check", "--repo", repo); code != 3 {
		t.Fatalf("check with an invalid list: exit %d, want 3", code)
	}

	// An unreachable repository is a runtime failure: exit 4.
	writeList("charts:\n  - name: demo\n    repository: http://127.0.0.1:1/charts\n    version: 1.0.0\n")
	if code, _, errOut := cli("vendor", "--repo", repo); code != 4 || !strings.Contains(errOut, "fetching chart \"demo\" 1.0.0") {
		t.Fatalf("unreachable: exit %d\n%s", code, errOut)
	}

	// Usage errors: exit 64.
	if code, _, _ := cli("vendor", "--no-such-flag"); code != 64 {
		t.Fatalf("bad flag: exit %d", code)
	}
	if code, _, _ := cli("vendor", "extra-arg"); code != 64 {
		t.Fatalf("extra argument: exit %d", code)
	}
}
