package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/repofs"
)

// openRepo opens dir as every verb opens the repository.
func openRepo(t *testing.T, dir string) *repofs.FS {
	t.Helper()
	fsys, err := repofs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// linkOutside moves the file or folder rel of repo to a folder outside the
// repository and puts a symbolic link to it in its place (relative when
// relative is set), so that without confinement the verb would read the
// same content as before. It returns the link's target as written.
func linkOutside(t *testing.T, repo, rel string, relative bool) string {
	t.Helper()
	link := filepath.Join(repo, filepath.FromSlash(rel))
	moved := filepath.Join(t.TempDir(), filepath.Base(link))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, moved); err != nil {
		t.Fatal(err)
	}
	target := moved
	if relative {
		var err error
		if target, err = filepath.Rel(filepath.Dir(link), moved); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return target
}

// TestEveryVerbRefusesLinksLeavingTheRepository runs each verb that reads
// the repository over a copy of the example fleet in which one file (or
// folder) it reads is a symbolic link to a copy outside the repository:
// each must exit 3 naming the file, the link's target and a hint, and
// change nothing.
func TestEveryVerbRefusesLinksLeavingTheRepository(t *testing.T) {
	// sync must not reach AWS: a request fails fast on a closed port.
	fake := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fake",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(fake, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(fake, "credentials"), "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
	} {
		t.Setenv(k, v)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		link     string // the path made a link
		relative bool   // a relative link (climbing out with ..) instead of an absolute one
		file     string // the path the error names (link, or a file below a linked folder)
		setup    func(t *testing.T, repo string)
		kept     string // a path the verb must leave in place
	}{
		{name: "render", args: []string{"render"}, link: "templates/main.jsonnet", kept: "regions/us-east-2/.coderfleet.yaml"},
		{name: "render-folder", args: []string{"render"}, link: "overlays/us-west-2", relative: true, file: "overlays/us-west-2/region.yaml"},
		{name: "check", args: []string{"check"}, link: "templates/lib/k.libsonnet", relative: true},
		{name: "check-output", args: []string{"check"}, link: "regions/us-west-2/aws/records.yaml"},
		{name: "diff", args: []string{"diff"}, link: "templates/main.jsonnet"},
		{name: "diff-output", args: []string{"diff"}, link: "regions/eu-west-2/coder-proxy", relative: true},
		{name: "vendor", args: []string{"vendor"}, link: "templates/charts/charts.yaml", setup: writeCharts},
		{name: "vendor-check", args: []string{"vendor", "--check"}, link: "templates/charts/charts.yaml", relative: true, setup: writeCharts},
		{name: "region-add", args: []string{"region", "add", "ap-south-1", "--aws-region", "ap-south-1"}, link: "overlays/fleet.yaml"},
		{name: "region-list", args: []string{"region", "list"}, link: "overlays/eu-west-2/region.yaml", relative: true},
		{name: "region-remove", args: []string{"region", "remove", "eu-west-2"}, link: "overlays/us-west-2/outputs.yaml", kept: "overlays/eu-west-2/region.yaml"},
		{name: "sync-plan", args: []string{"sync", "plan"}, link: "regions/us-west-2/aws/records.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := exampleCopy(t)
			if tc.setup != nil {
				tc.setup(t, repo)
			}
			target := linkOutside(t, repo, tc.link, tc.relative)
			file := tc.file
			if file == "" {
				file = tc.link
			}
			code, out, errs := cli(t, append(tc.args, "--repo", repo)...)
			if code != exitInput {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitInput, out, errs)
			}
			for _, want := range []string{file + ": ", "symbolic link to " + `"` + target + `"`, "outside the repository", "hint: "} {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
			if tc.kept != "" {
				if _, err := os.Stat(filepath.Join(repo, filepath.FromSlash(tc.kept))); err != nil {
					t.Errorf("%s: %v", tc.kept, err)
				}
			}
			if _, err := os.Stat(filepath.Join(repo, "overlays/ap-south-1")); err == nil {
				t.Error("region add wrote overlays/ap-south-1")
			}
		})
	}
}

// writeCharts gives the repository an empty chart list, which vendor and
// vendor --check accept.
func writeCharts(t *testing.T, repo string) {
	t.Helper()
	dir := filepath.Join(repo, "templates", "charts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "charts.yaml"), []byte("charts: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDiffBaseFromGitIsConfined checks that the base diff --base renders
// from git follows symbolic links as the working tree does: a link inside
// the repository is followed, one leaving it is refused with exit 3.
func TestDiffBaseFromGitIsConfined(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	root, repo := gitRepo(t)
	main := filepath.Join(repo, "templates", "main.jsonnet")
	original, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	relink := func(target string) {
		t.Helper()
		if err := os.Remove(main); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, main); err != nil {
			t.Fatal(err)
		}
		git(t, root, "add", "-A")
		git(t, root, "commit", "-q", "-m", "link "+target)
		// The working tree renders the real file again: only the base has
		// the link.
		if err := os.Remove(main); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(main, original, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A link inside the repository: followed.
	if err := os.WriteFile(filepath.Join(repo, "templates", "entry.jsonnet"), original, 0o644); err != nil {
		t.Fatal(err)
	}
	relink("entry.jsonnet")
	code, out, errs := cli(t, "diff", "--repo", repo, "--base", "HEAD", "--exit-code")
	if code != exitOK || out != "Summary: no differences\n" {
		t.Fatalf("a base with a link inside the repository: exit %d\n%s%s", code, out, errs)
	}

	// A link leaving it: refused, although the file outside is the same.
	outside := filepath.Join(t.TempDir(), "main.jsonnet")
	if err := os.WriteFile(outside, original, 0o644); err != nil {
		t.Fatal(err)
	}
	relink(outside)
	code, out, errs = cli(t, "diff", "--repo", repo, "--base", "HEAD")
	if code != exitInput {
		t.Fatalf("a base with a link leaving the repository: exit %d, want %d\n%s%s", code, exitInput, out, errs)
	}
	for _, want := range []string{"rendering the fleet at HEAD", `templates/main.jsonnet: is a symbolic link to "` + outside + `", outside the repository`, "hint: "} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}
