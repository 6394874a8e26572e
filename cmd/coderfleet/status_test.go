package main

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/internal/goldenfile"
	"github.com/coderfleet/coderfleet/internal/motoserver"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// stepClock is a fake clock: Sleep advances it at once and runs onSleep.
type stepClock struct {
	mu      gosync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func()
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	f := c.onSleep
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return ctx.Err()
}

// failingChecks reports health check observations in which checkers fail,
// while fail() is true: moto always reports one healthy checker.
type failingChecks struct {
	fleetsync.Route53API
	fail func() bool
}

func (f failingChecks) GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, opts ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	out, err := f.Route53API.GetHealthCheckStatus(ctx, in, opts...)
	if err != nil || !f.fail() {
		return out, err
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	obs := func(region r53types.HealthCheckRegion, status string, t time.Time) r53types.HealthCheckObservation {
		return r53types.HealthCheckObservation{Region: region, StatusReport: &r53types.StatusReport{Status: aws.String(status), CheckedTime: aws.Time(t)}}
	}
	out.HealthCheckObservations = []r53types.HealthCheckObservation{
		obs(r53types.HealthCheckRegionUsEast1, "Success: HTTP Status Code 200, OK", at),
		obs(r53types.HealthCheckRegionEuWest1, "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall.", at.Add(-time.Minute)),
		obs(r53types.HealthCheckRegionUsWest1, "Failure: HTTP Status Code 503, Service Unavailable", at),
	}
	return out, nil
}

// failHealthChecks makes every health check fail (two of three checkers)
// while fail() is true, through the statusClients seam.
func failHealthChecks(t *testing.T, fail func() bool) {
	t.Cleanup(func() { statusClients = nil })
	statusClients = func(c fleetsync.Clients) fleetsync.Clients {
		c.Route53 = failingChecks{Route53API: c.Route53, fail: fail}
		return c
	}
}

// uuidRE matches the random IDs moto gives certificates and health checks.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// goldenStatus compares stdout of status, with moto's random IDs replaced,
// with cmd/coderfleet/testdata/status/<name>.
func goldenStatus(t *testing.T, name, out string) {
	t.Helper()
	out = uuidRE.ReplaceAllString(out, "<id>")
	goldenfile.File(t, filepath.Join("testdata", "status", name), []byte(out))
}

// statusRun runs coderfleet status with args and checks its exit code.
func statusRun(t *testing.T, wantCode int, args ...string) (string, string) {
	t.Helper()
	code, out, errs := cli(t, append([]string{"status"}, args...)...)
	if code != wantCode {
		t.Fatalf("status %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errs)
	}
	return out, errs
}

// TestStatusAgainstMoto follows the example fleet from before sync to
// serving, then a failing health check, each with its golden text and JSON.
func TestStatusAgainstMoto(t *testing.T) {
	ctx := context.Background()
	moto, err := motoserver.Start("MOTO_ACM_VALIDATION_WAIT=1", "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	if err != nil {
		t.Fatalf("moto_server is required: %v", err)
	}
	t.Cleanup(moto.Stop)
	awsEnv(t, moto.URL)
	// Whole seconds: moto's NotAfter is the issue time in whole seconds plus
	// 365 days, so a certificate issued after this instant has at least
	// 365 days left on this clock, whatever the sub-second timing.
	clock := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	statusClock = clock
	t.Cleanup(func() { statusClock = fleetsync.RealClock{} })
	repo := exampleCopy(t)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := route53.NewFromConfig(cfg).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("status-test")}); err != nil {
		t.Fatal(err)
	}
	both := func(name string, code int) {
		t.Helper()
		out, _ := statusRun(t, code, "--repo", repo)
		goldenStatus(t, name+".txt", out)
		jsonDoc(t, "status", code, "status", "--repo", repo, "-o", "json") // valid against docs/schemas/status.json
		out, _ = statusRun(t, code, "--repo", repo, "-o", "json")
		goldenStatus(t, name+".json", out)
	}

	// Before sync: nothing exists; the next step is sync apply.
	both("before-sync", exitChanges)

	// One cluster exists without its IAM OIDC provider: that region's
	// verdict names the step; the others are judged as before (exit 2, not 4).
	clusters := fleetClusters(t, repo)
	first := clusters[0]
	issuer := createCluster(t, ctx, cfg, moto.URL, first)
	out, _ := statusRun(t, exitChanges, "--repo", repo)
	want := first.region + ": not yet serving (create the cluster's IAM OIDC provider: eksctl utils associate-iam-oidc-provider --cluster " +
		first.name + " --region " + first.awsRegion + " --approve)\n"
	if !strings.HasPrefix(out, want) || strings.Count(out, "not yet serving (run coderfleet sync apply)") != len(clusters)-1 {
		t.Errorf("status with cluster %s lacking its IAM OIDC provider:\n%s", first.name, out)
	}
	createProvider(t, ctx, cfg, first, issuer)

	// The clusters exist (so the IAM roles can be made) and sync apply
	// issues the certificates; the records wait for the NLBs.
	for _, c := range clusters[1:] {
		createClusterWithProvider(t, ctx, cfg, moto.URL, c)
	}
	if code, out, errs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo); code != exitOK {
		t.Fatalf("sync apply: exit %d\n%s%s", code, out, errs)
	}
	both("after-certificates", exitChanges)

	// The controller makes the NLBs and sync apply the records: serving.
	for _, s := range loadBalancerServices(t, repo) {
		createControllerNLB(t, ctx, cfg, moto.URL, s)
	}
	if code, out, errs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo); code != exitOK {
		t.Fatalf("sync apply (records): exit %d\n%s%s", code, out, errs)
	}
	// The committed Services still name the certificates of the example
	// render, not those sync issued (outputs.yaml): degraded until render.
	out, _ = statusRun(t, exitChanges, "--repo", repo, "--region", "us-east-2")
	if !strings.HasPrefix(out, "us-east-2: degraded (Service coder/coder is committed with another certificate, not certificate coder (run coderfleet render and commit regions/); Service litellm/litellm is committed with another certificate, not certificate litellm (run coderfleet render and commit regions/))\n") ||
		!strings.Contains(out, ", in outputs.yaml, Service coder/coder uses arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-000000000001\n") {
		t.Errorf("status before rendering the issued certificates:\n%s", out)
	}
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	both("serving", exitOK)

	// A role given AdministratorAccess by hand is degraded, with the field.
	role := first.name + "-ebs-csi"
	admin := "arn:aws:iam::aws:policy/AdministratorAccess"
	iamc := iam.NewFromConfig(cfg)
	if _, err := iamc.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(admin)}); err != nil {
		t.Fatal(err)
	}
	out, _ = statusRun(t, exitChanges, "--repo", repo, "--region", first.region)
	if !strings.HasPrefix(out, first.region+": degraded (iam-role "+role+" drifted)\n") || !strings.Contains(out, "  iam-role "+role+": drift\n      managed-policies: ") || !strings.Contains(out, admin) {
		t.Errorf("status with %s attached to %s:\n%s", admin, role, out)
	}
	jsonDoc(t, "status", exitChanges, "status", "--repo", repo, "--region", first.region, "-o", "json") // role drift valid against docs/schemas/status.json
	if out, _ = statusRun(t, exitChanges, "--repo", repo, "--region", first.region, "-o", "json"); !strings.Contains(out, `"name": "managed-policies"`) {
		t.Errorf("status -o json with %s attached to %s has no managed-policies drift:\n%s", admin, role, out)
	}
	if _, err := iamc.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(admin)}); err != nil {
		t.Fatal(err)
	}

	// A failing health check degrades its regions.
	failHealthChecks(t, func() bool { return true })
	both("degraded", exitChanges)
	out, _ = statusRun(t, exitChanges, "--repo", repo, "--region", "us-east-2")
	if !strings.HasPrefix(out, "us-east-2: degraded (health check coder: 1/3 checkers healthy: Failure: HTTP Status Code 503, Service Unavailable)\n") {
		t.Errorf("status --region us-east-2:\n%s", out)
	}

	// --watch: failing in the first round, healthy from the second.
	rounds := 0
	failHealthChecks(t, func() bool { return rounds == 0 })
	clock.onSleep = func() { rounds++ }
	start := clock.Now()
	out, errs := statusRun(t, exitOK, "--repo", repo, "--watch")
	clock.onSleep = nil
	goldenStatus(t, "watch.txt", errs)
	if !strings.HasSuffix(out, "Status: 3 of 3 regions serving, 0 degraded, 0 not yet serving.\n") {
		t.Errorf("status --watch printed:\n%s", out)
	}
	if got := clock.Now().Sub(start); got != statusInterval {
		t.Errorf("--watch waited %s on the clock, want one interval %s", got, statusInterval)
	}

	// --watch gives up at the bound: exit 2, the progress of each round.
	failHealthChecks(t, func() bool { return true })
	clock.mu.Lock()
	clock.sleeps = nil
	clock.mu.Unlock()
	_, errs = statusRun(t, exitChanges, "--repo", repo, "--watch", "--watch-timeout", "40s")
	if n := strings.Count(errs, "status round "); n != 4 {
		t.Errorf("--watch --watch-timeout 40s: %d rounds, want 4 (at 0s, 15s, 30s, 40s):\n%s", n, errs)
	}
	if !strings.Contains(errs, "status: --watch-timeout 40s passed before every region served") {
		t.Errorf("--watch --watch-timeout 40s does not say the timeout ended it:\n%s", errs)
	}
	if !slices.Equal(clock.sleeps, []time.Duration{15 * time.Second, 15 * time.Second, 10 * time.Second}) {
		t.Errorf("--watch slept %v", clock.sleeps)
	}

	// Reading fails: exit 4.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	if _, errs := statusRun(t, exitRuntime, "--repo", repo); !strings.Contains(errs, "cannot reach the AWS endpoint") {
		t.Errorf("status against a closed port: %s", errs)
	}
	statusRun(t, exitUsage, "--repo", repo, "--watch", "--watch-timeout", "0s")
}
