package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// gitRepo makes a git repository in a temporary folder holding a copy of
// the example fleet in the sub-folder platform/, commits it, and returns
// the git root and the fleet's folder.
func gitRepo(t *testing.T) (root, fleetDir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is not on PATH: diff --base needs it, install git to run this test (%v)", err)
	}
	root = t.TempDir()
	fleetDir = filepath.Join(root, "platform")
	src := testfleet.RepoRoot(t)
	for _, d := range []string{"overlays", "templates", "regions"} {
		testfleet.WriteDisk(t, fleetDir, testfleet.ReadDir(t, src, d))
	}
	git(t, root, "init", "-q", "-b", "main")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "the fleet")
	return root, fleetDir
}

// git runs git in dir with a fixed identity and no user configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func replaceInFile(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiffAgainstGitRevision(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	root, repo := gitRepo(t)

	code, out, errs := cli(t, "diff", "--repo", repo, "--base", "HEAD", "--exit-code")
	if code != exitOK || out != "Summary: no differences\n" {
		t.Fatalf("unchanged fleet: exit %d\n%s%s", code, out, errs)
	}

	fleetFile := filepath.Join(repo, "overlays/fleet.yaml")
	replaceInFile(t, fleetFile, "signInText: Sign in with Example SSO", "signInText: Sign in with Okta")
	edited, _ := os.ReadFile(fleetFile)
	statusBefore := git(t, root, "status", "--porcelain")

	code, out, errs = cli(t, "diff", "--repo", repo, "--base", "HEAD", "--exit-code")
	if code != exitDiffers {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitDiffers, out, errs)
	}
	want := `Summary: 1 region differs (changed: us-east-2); objects: 1 changed

Region us-east-2 (changed)
  Component coder (changed)
    ~ Deployment coder/coder
        ~ spec.template.spec.containers[coder].env[CODER_OIDC_SIGN_IN_TEXT].value: "Sign in with Example SSO" -> "Sign in with Okta"
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	// The working tree, the index and HEAD are as they were.
	if got := git(t, root, "status", "--porcelain"); got != statusBefore || !strings.Contains(got, "platform/overlays/fleet.yaml") {
		t.Errorf("git status changed:\nbefore %q\nafter  %q", statusBefore, got)
	}
	if now, _ := os.ReadFile(fleetFile); !bytes.Equal(now, edited) {
		t.Error("diff --base changed the working tree's fleet.yaml")
	}

	// Without --exit-code a difference is not a failure.
	if code, _, _ := cli(t, "diff", "--repo", repo, "--base", "HEAD"); code != exitOK {
		t.Errorf("without --exit-code: exit %d", code)
	}

	// JSON and Markdown carry the same change.
	code, out, _ = cli(t, "diff", "--repo", repo, "--base", "HEAD", "-o", "json")
	var js struct {
		SchemaVersion string `json:"schemaVersion"`
		Regions       []struct {
			Name       string `json:"name"`
			Components []struct {
				Objects []struct {
					Fields []struct {
						Path string `json:"path"`
						Old  string `json:"old"`
						New  string `json:"new"`
					} `json:"fields"`
				} `json:"objects"`
			} `json:"components"`
		} `json:"regions"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != exitOK {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	f := js.Regions[0].Components[0].Objects[0].Fields[0]
	if js.SchemaVersion != "coderfleet.io/diff/v2" || f.Path != "spec.template.spec.containers[coder].env[CODER_OIDC_SIGN_IN_TEXT].value" || f.New != "Sign in with Okta" {
		t.Errorf("json: %+v", js)
	}
	_, out, _ = cli(t, "diff", "--repo", repo, "--base", "HEAD", "-o", "markdown")
	if !strings.Contains(out, "<summary><b>us-east-2</b> (changed)") || !strings.Contains(out, "`\"Sign in with Okta\"`") {
		t.Errorf("markdown:\n%s", out)
	}

	// Committing the change moves the base along.
	git(t, root, "commit", "-q", "-am", "okta")
	if code, out, _ := cli(t, "diff", "--repo", repo, "--base", "HEAD", "--exit-code"); code != exitOK {
		t.Errorf("after commit: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "diff", "--repo", repo, "--base", "HEAD~1", "--exit-code"); code != exitDiffers || !strings.Contains(out, "CODER_OIDC_SIGN_IN_TEXT") {
		t.Errorf("HEAD~1: exit %d\n%s", code, out)
	}
}

// Outside a git repository, diff without --base reads regions/ on disk.
func TestDiffAgainstRegionsOnDiskOutsideGit(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	if code, out, errs := cli(t, "diff", "--repo", repo, "--exit-code"); code != exitOK || out != "Summary: no differences\n" || !strings.Contains(errs, "is not a git repository") {
		t.Fatalf("current tree: exit %d\n%s%s", code, out, errs)
	}
	replaceInFile(t, filepath.Join(repo, "overlays/fleet.yaml"), "  exposure: public", "  exposure: internal")
	code, out, errs := cli(t, "diff", "--repo", repo, "--exit-code")
	if code != exitDiffers {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitDiffers, out, errs)
	}
	for _, want := range []string{
		"Summary: 1 region differs (changed: us-east-2)",
		"~ spec.type: \"LoadBalancer\" -> \"ClusterIP\"",
		"- certificate litellm (llm.coder.example.com)",
		"- record llm.coder.example.com A",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// After render, nothing is left to show.
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := cli(t, "diff", "--repo", repo, "--exit-code"); code != exitOK {
		t.Errorf("after render: exit %d\n%s", code, out)
	}
}

func TestDiffErrors(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	_, repo := gitRepo(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--base", "no-such-branch"}, exitUsage, `--base: "no-such-branch" is not a commit`},
		{[]string{"-o", "yaml"}, exitUsage, `unknown --output "yaml": use text, markdown or json`},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		code, _, errs := cli(t, append([]string{"diff", "--repo", repo}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// --base outside a git repository.
	if code, _, errs := cli(t, "diff", "--repo", exampleCopy(t), "--base", "HEAD"); code != exitUsage || !strings.Contains(errs, "is not inside a git repository") {
		t.Errorf("no git repository: exit %d\n%s", code, errs)
	}
	// A broken overlay in the working tree is invalid input (exit 3).
	replaceInFile(t, filepath.Join(repo, "overlays/us-west-2/region.yaml"), "role: proxy", "role: primary")
	if code, _, errs := cli(t, "diff", "--repo", repo, "--base", "HEAD"); code != exitInput || !strings.Contains(errs, "a second region has role: primary") {
		t.Errorf("broken head: exit %d\n%s", code, errs)
	}
}

// Without --base the base is regions/ as committed at HEAD, read from git:
// a render on disk that was not committed is still a difference, and an
// edit of regions/ on disk alone is none.
func TestDiffWithoutBaseComparesWithHEAD(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	root, repo := gitRepo(t)
	replaceInFile(t, filepath.Join(repo, "overlays/fleet.yaml"), "  exposure: public", "  exposure: internal")
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(git(t, root, "status", "--porcelain"), "platform/regions/us-east-2/") {
		t.Fatal("render changed nothing under regions/: the test needs a working tree that differs from HEAD")
	}
	code, out, errs := cli(t, "diff", "--repo", repo, "--exit-code")
	if code != exitDiffers || !strings.Contains(out, "~ spec.type: \"LoadBalancer\" -> \"ClusterIP\"") {
		t.Fatalf("rendered but not committed: exit %d, want %d and the Service's type\n%s%s", code, exitDiffers, out, errs)
	}
	if errs != "" {
		t.Errorf("stderr: %s", errs)
	}

	// Committing moves the base; then an edit of regions/ alone is no change.
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "internal litellm")
	if err := os.RemoveAll(filepath.Join(repo, "regions/us-west-2")); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(t, "diff", "--repo", repo, "--exit-code"); code != exitOK || out != "Summary: no differences\n" {
		t.Errorf("regions/ edited on disk only: exit %d\n%s%s", code, out, errs)
	}
}

func TestDiffWithoutBaseBeforeFirstCommit(t *testing.T) {
	repo := exampleCopy(t)
	git(t, repo, "init", "-q", "-b", "main")
	code, _, errs := cli(t, "diff", "--repo", repo)
	if code != exitUsage || !strings.Contains(errs, "has no commit yet") || !strings.Contains(errs, "hint:") {
		t.Errorf("exit %d, want %d\n%s", code, exitUsage, errs)
	}
}

// A Markdown diff longer than a pull-request comment allows is cut after an
// object, within the limit, with a note saying what was left out and how
// to see everything.
func TestDiffMarkdownFitsAPullRequestComment(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	_, repo := gitRepo(t)
	var ns strings.Builder
	for i := range 60 {
		fmt.Fprintf(&ns, "  - name: team-%02d\n    organization: coder\n    replicas: 1\n", i)
	}
	replaceInFile(t, filepath.Join(repo, "overlays/fleet.yaml"), "workspaceNamespaces:\n", "workspaceNamespaces:\n"+ns.String())

	code, text, errs := cli(t, "diff", "--repo", repo, "-o", "text")
	if code != exitOK || !strings.Contains(text, "team-59") {
		t.Fatalf("text: exit %d\n%s", code, errs)
	}
	_, js, _ := cli(t, "diff", "--repo", repo, "-o", "json")
	var sum struct {
		Summary struct {
			Objects, AWS, Files struct{ Added, Removed, Changed int }
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &sum); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range []struct{ Added, Removed, Changed int }{sum.Summary.Objects, sum.Summary.AWS, sum.Summary.Files} {
		total += c.Added + c.Removed + c.Changed
	}

	code, md, errs := cli(t, "diff", "--repo", repo, "-o", "markdown")
	if code != exitOK {
		t.Fatalf("markdown: exit %d\n%s", code, errs)
	}
	if len(md) > 65536 || len(md) < 60000 {
		t.Fatalf("markdown is %d characters, want at most 65,536 and close to it", len(md))
	}
	body, note, ok := strings.Cut(md, "\n> [!NOTE]\n")
	if !ok {
		t.Fatalf("no note about the cut at the end:\n%s", md[len(md)-500:])
	}
	var left, all int
	if _, err := fmt.Sscanf(note, "> **Cut to fit a pull-request comment** (GitHub allows 65,536 characters): %d of %d changed objects", &left, &all); err != nil {
		t.Fatalf("note %q: %v", note, err)
	}
	shown := 0
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "- _") {
			shown++
		}
	}
	if all != total || left != total-shown || left == 0 {
		t.Errorf("note says %d of %d left out; the report has %d items, %d shown", left, all, total, shown)
	}
	for _, want := range []string{"`coderfleet diff -o text`", "CI job's diff artifact"} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q: %s", want, note)
		}
	}
	if !strings.Contains(note, "the rest of `") && !strings.Contains(note, "whole region") {
		t.Errorf("note names no region left out: %s", note)
	}
	// Cut at an item: every section and code block is closed.
	if o, c := strings.Count(body, "<details>"), strings.Count(body, "</details>"); o != c {
		t.Errorf("%d <details> opened, %d closed", o, c)
	}
	if n := strings.Count(body, "```"); n%2 != 0 {
		t.Errorf("an unclosed code block (%d fences)", n)
	}
	if !strings.HasSuffix(body, "</details>\n") {
		t.Errorf("the kept part does not end with a closed region section:\n%s", body[len(body)-300:])
	}
}
