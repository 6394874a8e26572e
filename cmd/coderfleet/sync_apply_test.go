package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// TestSyncApplyTimeoutMustBePositive: --timeout bounds the certificate wait
// and must be a positive duration, or it is a usage error before any call.
func TestSyncApplyTimeoutMustBePositive(t *testing.T) {
	repo := exampleCopy(t)
	noAWSEnv(t)
	for _, tc := range []struct{ arg, shown string }{{"0s", "0s"}, {"-5m", "-5m0s"}} {
		code, out, errs := cli(t, "sync", "apply", "--repo", repo, "--timeout", tc.arg)
		want := "--timeout " + tc.shown + ": the wait for certificates must be positive (hint: pass a duration such as --timeout 30m"
		if code != exitUsage || out != "" || !strings.Contains(errs, want) {
			t.Errorf("--timeout %s: exit %d, stdout %q, stderr %q; want %d and %q", tc.arg, code, out, errs, exitUsage, want)
		}
	}
}

// TestSyncApplyFailureAndWaitingPlan runs against a moto_server that keeps
// certificates PENDING_VALIDATION: apply --timeout 1s gives up after one
// second and says what it did before failing, never "Apply complete"; the
// plan that follows (records wait for load balancers, IAM roles for the EKS
// cluster no one created here, nothing else to do) says so alike in its
// summary, its JSON and its exit code.
func TestSyncApplyFailureAndWaitingPlan(t *testing.T) {
	motoWithZone(t, "sync-apply-test", "MOTO_ACM_VALIDATION_WAIT=86400")
	repo := exampleCopy(t)

	code, out, errs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2", "--timeout", "1s")
	if code != exitRuntime {
		t.Fatalf("apply: exit %d, want %d\n%s%s", code, exitRuntime, out, errs)
	}
	if strings.Contains(out, "Apply complete") {
		t.Errorf("a failed apply printed a completion line:\n%s", out)
	}
	mustContain(t, "apply stderr", errs,
		"error: apply failed after 3 added, 0 changed, 0 destroyed, 1 validation record(s) known after apply added: certificates not ISSUED after 1s: us-west-2/proxy;",
		"(hint: ACM usually validates within 30 minutes; check that the validation CNAMEs exist with coderfleet sync plan, then run coderfleet sync apply again later, or with a longer --timeout)\n")

	code, out, errs = cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2", "--detailed-exitcode")
	if code != exitChanges {
		t.Errorf("plan with only waiting records: exit %d, want %d\n%s%s", code, exitChanges, out, errs)
	}
	// 2 records and the region's 10 roles.
	mustContain(t, "plan", out,
		"iam-role us-west-2/coderdemo-usw2-karpenter: no EKS cluster coderdemo-usw2 in us-west-2 yet; trust policy for ServiceAccount karpenter/karpenter (known after apply)",
		"Nothing to apply now; records wait for their load balancers, IAM roles wait for their EKS clusters; 12 waiting, 0 conflicts.")
	if strings.Contains(out, "No changes") {
		t.Errorf("plan with waiting records says there is nothing left:\n%s", out)
	}
	code, out, errs = cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2", "-o", "json")
	if code != exitOK {
		t.Fatalf("plan -o json: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "plan -o json", out, `"status": "waiting"`)
}

// motoWithZone takes a moto_server of the package (fresh or reset) with the extra environment env, points
// the AWS environment at it (awsEnv) and creates the example fleet's hosted
// zone, example.com, with the caller reference ref.
func motoWithZone(t *testing.T, ref string, env ...string) {
	t.Helper()
	moto := motoPool.ForTest(t, env...)
	awsEnv(t, moto.URL)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := route53.NewFromConfig(cfg).CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String("example.com"), CallerReference: aws.String(ref)}); err != nil {
		t.Fatalf("creating the hosted zone in moto: %v", err)
	}
}
