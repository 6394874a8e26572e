package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// cliConsole runs the CLI as cli does, with a console whose input is
// answer and which is a terminal when terminal is true.
func cliConsole(t *testing.T, terminal bool, answer string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := withConsole(context.Background(), console{in: strings.NewReader(answer), isTerminal: func() bool { return terminal }})
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestSyncApplyConfirmation: on a terminal apply shows the plan and goes on
// only for "yes"; without one it needs --auto-approve (else 64 naming it).
func TestSyncApplyConfirmation(t *testing.T) {
	// Certificates issue after 1 s, not moto's default 60 s.
	motoWithZone(t, "sync-confirm-test", "MOTO_ACM_VALIDATION_WAIT=1")
	repo := exampleCopy(t)
	planOf := func(region string) string {
		t.Helper()
		code, out, errs := cli(t, "sync", "plan", "--repo", repo, "--region", region)
		if code != exitOK {
			t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
		}
		return out
	}
	before := planOf("us-west-2")

	code, out, errs := cliConsole(t, false, "yes\n", "sync", "apply", "--repo", repo, "--region", "us-west-2")
	if code != exitUsage || out != "" || !strings.Contains(errs, "standard input is not a terminal (hint: pass --auto-approve") {
		t.Errorf("no terminal, no --auto-approve: exit %d, stdout %q, stderr %q; want %d naming --auto-approve", code, out, errs, exitUsage)
	}

	code, out, errs = cliConsole(t, true, "no\n", "sync", "apply", "--repo", repo, "--region", "us-west-2")
	if code != exitDiffers {
		t.Errorf("terminal, answer no: exit %d, want %d\n%s%s", code, exitDiffers, out, errs)
	}
	mustContain(t, "cancelled apply stdout", out, "+ certificate us-west-2/proxy")
	mustContain(t, "cancelled apply stderr", errs, "Apply the changes above to AWS?", "Type yes to apply them",
		`error: apply cancelled: the answer was "no", not "yes"; nothing was changed`)
	if after := planOf("us-west-2"); after != before {
		t.Errorf("a cancelled apply changed AWS; plan before:\n%s\nafter:\n%s", before, after)
	}

	code, out, errs = cliConsole(t, true, "yes\n", "sync", "apply", "--repo", repo, "--region", "us-west-2")
	if code != exitOK {
		t.Fatalf("terminal, answer yes: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "confirmed apply", out, "Apply complete: 3 added, 0 changed, 0 destroyed, 1 validation record(s) known after apply added.")

	code, out, errs = cliConsole(t, false, "", "sync", "apply", "--auto-approve", "--repo", repo, "--region", "eu-west-2")
	if code != exitOK || strings.Contains(errs, "Apply the changes above to AWS?") {
		t.Fatalf("no terminal, --auto-approve: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "auto-approved apply", out, "Apply complete: 2 added, 1 changed, 0 destroyed, 1 validation record(s) known after apply added.")
}

// TestConfirmApplyListsPruneDeletions: the prompt names every deletion
// --prune makes, so a reviewer cannot miss one in a long plan.
func TestConfirmApplyListsPruneDeletions(t *testing.T) {
	p := &fleetsync.Plan{Changes: []fleetsync.Change{
		{Action: fleetsync.Create, Resource: fleetsync.ResourceRecord, Address: "example.com: new.example.com A"},
		{Action: fleetsync.Delete, Resource: fleetsync.ResourceCertificate, Address: "ap-south-1/proxy", Reason: "an orphan: its region folder regions/ap-south-1 no longer exists"},
		{Action: fleetsync.Delete, Resource: fleetsync.ResourceRecord, Address: "example.com: ap-south-1.coder.example.com A", Reason: "an orphan: its region folder regions/ap-south-1 no longer exists"},
	}}
	var w strings.Builder
	if err := confirmApply(strings.NewReader("yes\n"), &w, p); err != nil {
		t.Fatalf("yes: %v", err)
	}
	want := "Apply the changes above to AWS?\n" +
		"  --prune DELETES these 2 owned object(s):\n" +
		"    - certificate ap-south-1/proxy (an orphan: its region folder regions/ap-south-1 no longer exists)\n" +
		"    - record example.com: ap-south-1.coder.example.com A (an orphan: its region folder regions/ap-south-1 no longer exists)\n" +
		"  Type yes to apply them; any other answer cancels and changes nothing.\n\n  Answer: "
	if w.String() != want {
		t.Errorf("prompt:\n%s\nwant:\n%s", w.String(), want)
	}
	for _, answer := range []string{"y\n", "YES\n", ""} {
		if err := confirmApply(strings.NewReader(answer), &strings.Builder{}, p); err == nil {
			t.Errorf("answer %q approved the apply", answer)
		}
	}
}

var (
	planCounts  = regexp.MustCompile(`Plan: (\d+) to add, (\d+) to change, (\d+) to destroy, (\d+) validation record\(s\) known after apply to add;`)
	applyCounts = regexp.MustCompile(`Apply complete: (\d+) added, (\d+) changed, (\d+) destroyed, (\d+) validation record\(s\) known after apply added\.`)
)

// TestSyncSavedPlan: on a fresh moto, a plan saved with --out is the same
// bytes twice, apply FILE makes it without a prompt and reports the counts
// the plan announced; a saved plan made stale by an out-of-band Route53
// change, or by an edited desired-state file, is refused and nothing is
// applied.
func TestSyncSavedPlan(t *testing.T) {
	// Certificates issue after 1 s, not moto's default 60 s.
	motoWithZone(t, "sync-saved-plan-test", "MOTO_ACM_VALIDATION_WAIT=1")
	repo := exampleCopy(t)
	file := filepath.Join(t.TempDir(), "sync.plan")

	code, planOut, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2", "--out", file)
	if code != exitOK {
		t.Fatalf("plan --out: exit %d\n%s%s", code, planOut, errs)
	}
	mustContain(t, "plan --out stderr", errs, "Saved the plan to "+file)
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "plan file", string(first), `"format": "coderfleet-sync-plan"`, `"version": 1`, `"regions/us-west-2/aws/records.yaml"`)
	if code, _, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2", "--out", file); code != exitOK {
		t.Fatalf("second plan --out: exit %d\n%s", code, errs)
	}
	if second, _ := os.ReadFile(file); !bytes.Equal(first, second) {
		t.Errorf("two plans of the same state differ:\n%s\n---\n%s", first, second)
	}

	// No prompt, even on a terminal: the plan was reviewed. --auto-approve
	// is accepted with it and changes nothing, as in terraform apply
	// -auto-approve FILE.
	code, applyOut, errs := cliConsole(t, true, "", "sync", "apply", "--auto-approve", "--repo", repo, file)
	if code != exitOK || strings.Contains(errs, "Apply the changes above to AWS?") {
		t.Fatalf("apply FILE: exit %d\n%s%s", code, applyOut, errs)
	}
	p, a := planCounts.FindStringSubmatch(planOut), applyCounts.FindStringSubmatch(applyOut)
	if p == nil || a == nil || strings.Join(p[1:], " ") != strings.Join(a[1:], " ") {
		t.Errorf("plan counts %q differ from apply's report %q\nplan:\n%s\napply:\n%s", p, a, planOut, applyOut)
	}

	// The same file again: refused, and said to be applied already.
	code, _, errs = cli(t, "sync", "apply", "--repo", repo, file)
	if code != exitRuntime || !strings.Contains(errs, "already hold what it would do, so it was most likely applied already") {
		t.Errorf("apply FILE twice: exit %d, want %d saying it was applied\n%s", code, exitRuntime, errs)
	}

	// A plan for eu-west-2 updates the registry record; change that record
	// out of band and the plan is stale.
	if code, out, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "eu-west-2", "--out", file); code != exitOK {
		t.Fatalf("plan --out eu-west-2: exit %d\n%s%s", code, out, errs)
	}
	upsertTXT(t, "_coderfleet.coderdemo.example.com", `"heritage=coderfleet,coderfleet/fleet=coderdemo,coderfleet/aws-region=us-west-2"`, `"heritage=coderfleet,coderfleet/fleet=coderdemo,coderfleet/aws-region=sa-east-1"`)
	code, out, errs := cli(t, "sync", "apply", "--repo", repo, file)
	if code != exitRuntime {
		t.Fatalf("stale apply FILE: exit %d, want %d\n%s%s", code, exitRuntime, out, errs)
	}
	mustContain(t, "stale apply stderr", errs, "error: saved plan "+file+" is stale, nothing was applied:",
		"AWS object record example.com: _coderfleet.coderdemo.example.com TXT changed since the plan was made",
		"(hint: run coderfleet sync plan --out "+file+" again")
	_, out, _ = cli(t, "sync", "plan", "--repo", repo, "--region", "eu-west-2")
	mustContain(t, "plan after the refused apply", out, "+ certificate eu-west-2/proxy", "+ health-check eu-west-2/proxy")

	// An edited desired-state file makes the plan stale too.
	if code, out, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "eu-west-2", "--out", file); code != exitOK {
		t.Fatalf("plan --out eu-west-2: exit %d\n%s%s", code, out, errs)
	}
	hc := filepath.Join(repo, "regions", "eu-west-2", "aws", "healthchecks.yaml")
	data, err := os.ReadFile(hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hc, bytes.Replace(data, []byte("failureThreshold: 3"), []byte("failureThreshold: 4"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "sync", "apply", "--repo", repo, file)
	if code != exitRuntime || !strings.Contains(errs, "file regions/eu-west-2/aws/healthchecks.yaml changed since the plan was made") {
		t.Errorf("apply FILE after an edit: exit %d, want %d naming the file\n%s", code, exitRuntime, errs)
	}

	code, _, errs = cli(t, "sync", "apply", "--repo", repo, "--prune", file)
	if code != exitUsage || !strings.Contains(errs, "--prune cannot be given with a saved plan") {
		t.Errorf("apply --prune FILE: exit %d, want %d\n%s", code, exitUsage, errs)
	}
}

// upsertTXT replaces the TXT record name of the example zone with values,
// as someone editing the zone by hand would.
func upsertTXT(t *testing.T, name string, values ...string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(cfg)
	zones, err := r53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.com")})
	if err != nil || len(zones.HostedZones) == 0 {
		t.Fatalf("finding example.com: %v", err)
	}
	var rrs []r53types.ResourceRecord
	for _, v := range values {
		rrs = append(rrs, r53types.ResourceRecord{Value: aws.String(v)})
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zones.HostedZones[0].Id,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert,
			ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(300), ResourceRecords: rrs}}}}}); err != nil {
		t.Fatalf("changing %s out of band: %v", name, err)
	}
}

// TestSyncApplyPlanFileErrors: a plan file that cannot be read is an I/O
// failure (4); one that is not a plan is invalid input (3) naming it.
func TestSyncApplyPlanFileErrors(t *testing.T) {
	repo := exampleCopy(t)
	missing := filepath.Join(t.TempDir(), "missing.plan")
	if code, _, errs := cli(t, "sync", "apply", "--repo", repo, missing); code != exitRuntime || !strings.Contains(errs, "reading the saved plan") {
		t.Errorf("missing plan file: exit %d, want %d\n%s", code, exitRuntime, errs)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.plan")
	if err := os.WriteFile(garbage, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "sync", "apply", "--repo", repo, garbage); code != exitInput || !strings.Contains(errs, garbage+": not a coderfleet sync plan file") {
		t.Errorf("garbage plan file: exit %d, want %d\n%s", code, exitInput, errs)
	}
}
