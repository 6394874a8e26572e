package main

import (
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// complete runs cobra's hidden __complete command through run and returns
// the candidates (cobra's last line, the directive, left out).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errs := cli(t, append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("__complete %q: exit %d\n%s%s", args, code, out, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %q: no directive line:\n%s", args, out)
	}
	return lines[:len(lines)-1]
}

func TestCompletions(t *testing.T) {
	repo := testfleet.RepoRoot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"render", "--repo", repo, "--region", ""}, "eu-west-2|us-east-2|us-west-2"},
		{[]string{"render", "--repo", repo, "--region", "us-"}, "us-east-2|us-west-2"},
		{[]string{"sync", "plan", "--repo", repo, "--region", "us-east-2,"}, "us-east-2,eu-west-2|us-east-2,us-west-2"},
		{[]string{"region", "remove", "--repo", repo, "eu"}, "eu-west-2"},
		{[]string{"region", "remove", "--repo", repo, "eu-west-2", ""}, ""},
		{[]string{"diff", "-o", ""}, "text|markdown|json"},
		{[]string{"sync", "apply", "--output", ""}, "text|json"},
		{[]string{"region", "list", "-o", ""}, "text|json"},
		{[]string{"region", "add", "x", "--aws-region", "ap-south-"}, "ap-south-1\tMumbai|ap-south-2\tHyderabad"},
		{[]string{"region", "add", "x", "--role", ""}, "proxy|primary"},
	} {
		if got := strings.Join(complete(t, tc.args...), "|"); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
	// Every AWS region code is offered.
	if got := complete(t, "region", "add", "x", "--aws-region", ""); len(got) < 30 || !strings.HasPrefix(got[0], "af-south-1\t") {
		t.Errorf("--aws-region: %q", got)
	}
	// Without --repo the repository is found from the working directory.
	t.Chdir(repo + "/overlays/us-west-2")
	if got := strings.Join(complete(t, "render", "--region", "eu"), "|"); got != "eu-west-2" {
		t.Errorf("from a subfolder: %q", got)
	}
	// Outside any repository there is nothing to offer, and no error.
	t.Chdir(t.TempDir())
	if got := complete(t, "render", "--region", ""); len(got) != 0 {
		t.Errorf("outside a repository: %q", got)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := cli(t, "completion", shell)
		if code != exitOK || !strings.Contains(out, "coderfleet") {
			t.Errorf("completion %s: exit %d\n%s", shell, code, errs)
		}
	}
}
