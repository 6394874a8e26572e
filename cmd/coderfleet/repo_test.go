package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRepoFoundFromSubfolder checks that, without --repo, every verb finds
// the repository root above the working directory, and that outside any
// fleet repository the error names what was looked for.
func TestRepoFoundFromSubfolder(t *testing.T) {
	repo := exampleCopy(t)
	t.Chdir(filepath.Join(repo, "overlays", "us-west-2"))
	if code, out, errs := cli(t, "check"); code != exitOK || !strings.Contains(out, "regions is current (3 regions)") {
		t.Fatalf("check from overlays/us-west-2: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "render", "--region", "us-west-2", "--force"); code != exitOK || !strings.Contains(out, "into ../../regions") {
		t.Fatalf("render from overlays/us-west-2: exit %d\n%s%s", code, out, errs)
	}

	outside := t.TempDir()
	t.Chdir(outside)
	for _, args := range [][]string{{"check"}, {"render"}, {"diff"}, {"vendor", "--check"}, {"sync", "plan"}, {"region", "add", "x", "--aws-region", "eu-west-1"}} {
		code, _, errs := cli(t, args...)
		if code != exitUsage || !strings.Contains(errs, "no overlays/fleet.yaml in "+outside+" or any folder above it") || !strings.Contains(errs, "pass --repo DIR") {
			t.Errorf("%v outside a repository: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestFindRepoStopsAtFilesystemRoot(t *testing.T) {
	var looked []string
	_, err := findRepo("/a/b", func(p string) bool { looked = append(looked, p); return false })
	if err == nil || strings.Join(looked, " ") != "/a/b/overlays/fleet.yaml /a/overlays/fleet.yaml /overlays/fleet.yaml" {
		t.Fatalf("looked at %v, err %v", looked, err)
	}
	if root, err := findRepo("/a/b/c", func(p string) bool { return p == "/a/overlays/fleet.yaml" }); root != "/a" || err != nil {
		t.Fatalf("root %q, err %v; want /a", root, err)
	}
}
