package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
)

// cli runs coderfleet with args and returns exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	if transcript != nil {
		transcript.WriteString(out.String() + errb.String())
	}
	return code, out.String(), errb.String()
}

// exampleCopy copies the example fleet (inputs and committed output) to a
// temporary repository.
func exampleCopy(t *testing.T) string {
	return testfleet.CopyRepo(t, "overlays", "templates", "regions")
}

func TestExampleFleetIsCurrent(t *testing.T) {
	code, out, errs := cli(t, "check", "--repo", testfleet.RepoRoot(t))
	if code != exitOK {
		t.Fatalf("committed regions/ is stale (exit %d): run `coderfleet render` and commit.\n%s%s", code, out, errs)
	}
}

func TestRenderOfCommittedInputsChangesNothing(t *testing.T) {
	repo := exampleCopy(t)
	before, err := treeio.Read(filepath.Join(repo, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "render", "--repo", repo)
	if code != exitOK || strings.Contains(out, "written:") {
		t.Fatalf("exit %d, want 0 with nothing written:\n%s%s", code, out, errs)
	}
	after, _ := treeio.Read(filepath.Join(repo, "regions"))
	if len(before) != len(after) {
		t.Fatalf("regions changed: %d -> %d", len(before), len(after))
	}
}

func TestEditedTemplateMakesCheckFail(t *testing.T) {
	repo := exampleCopy(t)
	p := filepath.Join(repo, "templates/components/proxy.libsonnet")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(data, []byte("periodSeconds: 10"), []byte("periodSeconds: 11"), 1), 0o644)
	code, out, _ := cli(t, "check", "--repo", repo)
	if code != exitDiffers {
		t.Fatalf("exit %d, want %d:\n%s", code, exitDiffers, out)
	}
	for _, want := range []string{
		"regions/us-west-2/coder-proxy/deployment-coder-proxy-coder-proxy.yaml",
		"regions/eu-west-2/coder-proxy/deployment-coder-proxy-coder-proxy.yaml",
		"-          periodSeconds: 10", "+          periodSeconds: 11", "is stale: 2 changed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "us-east-2/coder/") {
		t.Errorf("unrelated file reported:\n%s", out)
	}
}

func TestDeletedOverlayRemovesOnlyItsRegion(t *testing.T) {
	repo := exampleCopy(t)
	before, _ := treeio.Read(filepath.Join(repo, "regions"))
	if err := os.RemoveAll(filepath.Join(repo, "overlays/eu-west-2")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "render", "--repo", repo)
	if code != exitOK || !strings.Contains(out, "removed:   eu-west-2") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	after, _ := treeio.Read(filepath.Join(repo, "regions"))
	if _, ok := after["eu-west-2"]; ok {
		t.Fatal("regions/eu-west-2 still exists")
	}
	for _, r := range []string{"us-east-2", "us-west-2"} {
		if len(after[r]) != len(before[r]) {
			t.Errorf("region %s changed: %d -> %d files", r, len(before[r]), len(after[r]))
		}
		for p, data := range before[r] {
			if !bytes.Equal(after[r][p], data) {
				t.Errorf("%s/%s changed", r, p)
			}
		}
	}
}

func TestFailingRenderWritesNothing(t *testing.T) {
	repo := exampleCopy(t)
	before, _ := treeio.Read(filepath.Join(repo, "regions"))
	// Break only the proxy regions, and change the primary, so a partial
	// write would show.
	testfleet.WriteDisk(t, repo, map[string]string{
		"overlays/us-west-2/kustomization.yaml": "resources:\n- https://example.com/remote.yaml\n",
	})
	fleet, _ := os.ReadFile(filepath.Join(repo, "overlays/fleet.yaml"))
	os.WriteFile(filepath.Join(repo, "overlays/fleet.yaml"), bytes.Replace(fleet, []byte("signInText: Sign in with Example SSO"), []byte("signInText: Changed"), 1), 0o644)
	code, _, errs := cli(t, "render", "--repo", repo)
	if code != exitInput || !strings.Contains(errs, "overlays/us-west-2/kustomization.yaml:2: region us-west-2: remote resource") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	after, _ := treeio.Read(filepath.Join(repo, "regions"))
	for r, files := range before {
		for p, data := range files {
			if !bytes.Equal(after[r][p], data) {
				t.Errorf("%s/%s was written by a failing render", r, p)
			}
		}
	}
}

func TestBadConfigExitCodeAndMessage(t *testing.T) {
	repo := exampleCopy(t)
	testfleet.WriteDisk(t, repo, map[string]string{
		"overlays/us-west-2/region.yaml": "apiVersion: coderfleet.io/v1alpha1\nkind: Region\nname: us-west-2\nawsRegion: us-west-2\nrole: primary\nclusterName: c\n",
	})
	for _, verb := range []string{"render", "check"} {
		code, _, errs := cli(t, verb, "--repo", repo)
		if code != exitInput {
			t.Errorf("%s: exit %d, want %d", verb, code, exitInput)
		}
		if !strings.Contains(errs, `overlays/us-west-2/region.yaml:5:1: key "role": a second region has role: primary`) {
			t.Errorf("%s: stderr lacks file:line:key:\n%s", verb, errs)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"render", "--nope"}, {"check", "extra-arg"}, {"frobnicate"}} {
		if code, _, errs := cli(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errs)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "coderfleet ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() && strings.TrimSpace(sub.Example) == "" {
				t.Errorf("%q has no example in its --help", sub.CommandPath())
			}
			if sub.Short == "" {
				t.Errorf("%q has no short description", sub.CommandPath())
			}
			visit(sub)
		}
	}
	visit(newRootCommand(io.Discard, io.Discard))
}

// TestSyncSecretGuardAllowances checks that sync reads the secret guard's
// allowances as render does: a region's effective secretGuard.allow (its
// overrides included), fleet.yaml's for a region folder without overlay,
// none without overlays/fleet.yaml, and a configuration error as exit 3.
func TestSyncSecretGuardAllowances(t *testing.T) {
	repo := exampleCopy(t)
	fleet, err := os.ReadFile(filepath.Join(repo, "overlays/fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	testfleet.WriteDisk(t, repo, map[string]string{
		"overlays/fleet.yaml": string(fleet) + "\nsecretGuard:\n  allow:\n    - {object: aws/healthchecks.yaml, field: \"healthChecks[proxy].tags.owner-key\", reason: fleet}\n",
		"overlays/us-west-2/region.yaml": "apiVersion: coderfleet.io/v1alpha1\nkind: Region\nname: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: coderdemo-usw2\n" +
			"overrides:\n  secretGuard:\n    allow:\n      - {object: aws/records.yaml, field: \"records[0].values[0]\", reason: region}\n",
	})
	allow, err := secretGuardAllow(openRepo(t, repo))
	if err != nil || allow == nil {
		t.Fatalf("secretGuardAllow = %v, %v", allow, err)
	}
	for region, want := range map[string]string{"us-west-2": "region", "eu-west-2": "fleet", "ap-south-1": "fleet"} {
		if got := allow(region); len(got) != 1 || got[0].Reason != want {
			t.Errorf("allowances of %s = %+v, want the %s's", region, got, want)
		}
	}
	if allow, err := secretGuardAllow(openRepo(t, t.TempDir())); allow != nil || err != nil {
		t.Errorf("without overlays: %v, %v; want no allowances and no error", allow, err)
	}
	testfleet.WriteDisk(t, repo, map[string]string{"overlays/fleet.yaml": string(fleet) + "\nsecretGuard: {allow: [{object: x}]}\n"})
	code, _, errs := cli(t, "sync", "plan", "--repo", repo)
	if code != exitInput || !strings.Contains(errs, "overlays/fleet.yaml:") {
		t.Errorf("sync plan with a broken fleet.yaml: exit %d, %s", code, errs)
	}
}
