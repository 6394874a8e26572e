package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegionFlagOneWay checks that every verb taking --region refuses an
// unknown region the same way (exit 64, the known regions, a did-you-mean),
// before reading anything else, and accepts repeated flags and comma lists
// alike.
func TestRegionFlagOneWay(t *testing.T) {
	repo := exampleCopy(t)
	const known = "(regions of this fleet: eu-west-2, us-east-2, us-west-2) (hint: "
	for _, verb := range [][]string{{"render"}, {"sync", "plan"}, {"sync", "apply", "--auto-approve"}} {
		for _, tc := range []struct{ flag, want string }{
			{"nope", `unknown region "nope" in --region ` + known + "name one of them, or leave --region out for every region)"},
			{"us-west-2,us-wset-2", `unknown region "us-wset-2" in --region ` + known + `did you mean "us-west-2"?)`},
		} {
			args := append(append([]string{}, verb...), "--repo", repo, "--region", tc.flag)
			code, out, errs := cli(t, args...)
			if code != exitUsage || !strings.Contains(errs, tc.want) || out != "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", args, code, out, errs, exitUsage, tc.want)
			}
		}
	}

	// Certificates issue after 1 s, not moto's default 60 s.
	motoWithZone(t, "region-flag-test", "MOTO_ACM_VALIDATION_WAIT=1")
	plan := func(regions ...string) string {
		t.Helper()
		args := []string{"sync", "plan", "--repo", repo}
		for _, r := range regions {
			args = append(args, "--region", r)
		}
		code, out, errs := cli(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	repeated := plan("us-west-2", "eu-west-2")
	if comma := plan("eu-west-2,us-west-2", "us-west-2"); comma != repeated {
		t.Errorf("--region eu-west-2,us-west-2 plans otherwise than --region us-west-2 --region eu-west-2:\n%s\n---\n%s", comma, repeated)
	}
	if !strings.Contains(repeated, "eu-west-2") || !strings.Contains(repeated, "us-west-2") || strings.Contains(repeated, "us-east-2") {
		t.Errorf("plan of us-west-2 and eu-west-2:\n%s", repeated)
	}
}

// TestSyncRegionNotRenderedYet checks that sync --region naming a region
// of the fleet whose folder was never rendered says so (exit 3, its
// overlay, a hint to render) instead of calling it unknown, before any AWS
// call, for plan and apply alike.
func TestSyncRegionNotRenderedYet(t *testing.T) {
	repo := exampleCopy(t)
	if err := os.RemoveAll(filepath.Join(repo, "regions", "eu-west-2")); err != nil {
		t.Fatal(err)
	}
	const want = "error: overlays/eu-west-2/region.yaml: region eu-west-2 is not rendered yet: its overlay exists but regions/eu-west-2/aws/ does not (hint: run coderfleet render first, then coderfleet sync plan --region eu-west-2)"
	for _, verb := range [][]string{{"sync", "plan"}, {"sync", "apply", "--auto-approve"}} {
		args := append(append([]string{}, verb...), "--repo", repo, "--region", "us-west-2,eu-west-2")
		code, out, errs := cli(t, args...)
		if code != exitInput || !strings.Contains(errs, want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", args, code, out, errs, exitInput, want)
		}
	}
}
