package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegionAddThenRenderAndCheck(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	code, out, errs := cli(t, "region", "add", "ap-south-1", "--aws-region", "ap-south-1", "--repo", repo)
	if code != exitOK {
		t.Fatalf("region add: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"wrote overlays/ap-south-1/region.yaml (proxy ap-south-1 in ap-south-1, cluster coderdemo-ap-south-1)",
		"coderfleet render", "coderfleet sync apply --region ap-south-1",
		"once cluster coderdemo-ap-south-1 and its IAM OIDC provider exist, set CODER_URL and CODER_SESSION_TOKEN",
		"register its workspace proxy and provisioner keys; their tokens go to Secrets Manager",
		"./regions/ap-south-1/flux",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// No Coder step by hand: sync apply registers the proxy.
	if strings.Contains(out, "coder wsproxy") || strings.Contains(out, "Secret coder-proxy") {
		t.Errorf("region add prints a manual Coder or Secret step:\n%s", out)
	}
	// The steps come in onboarding order: render, certificates, render, commit, DNS.
	first := strings.Index(out, "coderfleet render")
	certs := strings.Index(out, "coderfleet sync apply")
	second := strings.LastIndex(out, "coderfleet render")
	dns := strings.LastIndex(out, "coderfleet sync apply")
	commit := strings.Index(out, "commit overlays/ap-south-1")
	if !(first < certs && certs < second && second < commit && commit < dns) {
		t.Errorf("steps out of order:\n%s", out)
	}

	// check sees the new region as missing, render writes it, check passes.
	if code, out, _ := cli(t, "check", "--repo", repo); code != exitDiffers || !strings.Contains(out, "missing: regions/ap-south-1/coder-proxy/deployment-coder-proxy-coder-proxy.yaml") {
		t.Fatalf("check before render: exit %d\n%s", code, out)
	}
	code, out, errs = cli(t, "render", "--repo", repo)
	if code != exitOK || !strings.Contains(out, "written:   ap-south-1") {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "check", "--repo", repo); code != exitOK {
		t.Fatalf("check after render: exit %d\n%s%s", code, out, errs)
	}
	dep, err := os.ReadFile(filepath.Join(repo, "regions/ap-south-1/coder-proxy/deployment-coder-proxy-coder-proxy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"value: https://ap-south-1.coder.example.com", "value: https://coder.example.com"} {
		if !strings.Contains(string(dep), want) {
			t.Errorf("proxy Deployment lacks %q", want)
		}
	}
	records, err := os.ReadFile(filepath.Join(repo, "regions/ap-south-1/aws/records.yaml"))
	if err != nil || !strings.Contains(string(records), "name: ap-south-1.coder.example.com") || strings.Contains(string(records), "name: coder.example.com") {
		t.Errorf("records.yaml (%v):\n%s", err, records)
	}
}

func TestRegionAddRefusals(t *testing.T) {
	repo := exampleCopy(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"us-west-2", "--aws-region", "us-west-2"}, `region "us-west-2" already exists (overlays/us-west-2/region.yaml)`},
		{[]string{"Bad_Name", "--aws-region", "us-west-2"}, `"Bad_Name" is not a valid region name (hint: did you mean "bad-name"?)`},
		{[]string{"tokyo", "--aws-region", "ap-northeast-l"}, `unknown AWS region "ap-northeast-l" (hint: did you mean ap-northeast-1, ap-northeast-2 or ap-northeast-3?)`},
		{[]string{"frankfurt", "--aws-region", "eu-central-1", "--role", "primary"}, `region "us-east-2" is already the primary`},
		{[]string{"frankfurt"}, "--aws-region is required"},
		{[]string{"--aws-region", "eu-central-1"}, "accepts 1 arg(s)"},
	} {
		code, out, errs := cli(t, append([]string{"region", "add", "--repo", repo}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
		if out != "" {
			t.Errorf("%v: refused, yet printed %q", tc.args, out)
		}
	}
	for _, d := range []string{"Bad_Name", "tokyo", "frankfurt"} {
		if _, err := os.Stat(filepath.Join(repo, "overlays", d)); err == nil {
			t.Errorf("a refused region add created overlays/%s", d)
		}
	}
	// A repository without a fleet is invalid input.
	empty := t.TempDir()
	os.MkdirAll(filepath.Join(empty, "overlays"), 0o755)
	if code, _, errs := cli(t, "region", "add", "x", "--aws-region", "us-east-1", "--repo", empty); code != exitInput || !strings.Contains(errs, "overlays/fleet.yaml") {
		t.Errorf("no fleet: exit %d, %s", code, errs)
	}
}

func TestRegionAddShowsInDiff(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	_, repo := gitRepo(t)
	if code, out, errs := cli(t, "region", "add", "sa-east-1", "--aws-region", "sa-east-1", "--repo", repo, "--cluster-name", "coderdemo-sae1"); code != exitOK {
		t.Fatalf("region add: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := cli(t, "diff", "--repo", repo, "--base", "HEAD", "--exit-code")
	if code != exitDiffers {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"Summary: 1 region differs (added: sa-east-1)", "Region sa-east-1 (added)", "+ Deployment coder-proxy/coder-proxy", "+ certificate proxy"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
}
