package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
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
	moto := motoPool.ForTest(t, motoserver.CommonEnv...)
	awsEnv(t, moto.URL)
	t.Setenv("CODER_URL", "") // Coder is read only in statusCoder
	t.Setenv("CODER_SESSION_TOKEN", "")
	// The clock is set again once the certificates are issued (see
	// clockAfterIssue), so that days to expiry do not depend on how long
	// the machine took to get there.
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
	clockAfterIssue(t, ctx, cfg, clusters, clock)
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

	statusCoder(t, repo, clusters, clock)

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

// statusCoder gives the serving example fleet its desired Coder objects
// (written as render will: workspaceproxies.yaml in each proxy region,
// provisionerkeys.yaml with one key per workspace namespace) and a fake
// coderd: proxies registered but not started keep their regions from
// serving; once coderd reports them ok, the namespace without a connected
// provisioner daemon is what degrades its region.
func statusCoder(t *testing.T, repo string, clusters []fleetCluster, clock *stepClock) {
	t.Helper()
	ctx := context.Background()
	namespaces := map[string][]string{"us-east-2": {"coder-ws", "coder-ws-demo", "coder-ws-experiment"}, "us-west-2": {"coder-ws"}, "eu-west-2": {"coder-ws"}}
	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "owner-token-status", Premium: true, Version: "v2.24.1"})
	url, stop := fakecoderd.New(fakecoderd.Options{OwnerToken: "x"}).Start()
	stop() // a closed port, for the failure below
	closed := url
	url, stop = fake.Start()
	t.Cleanup(stop)
	client, err := coderapi.New(url, "owner-token-status", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clusters {
		token := func(name string) awsstate.Secret {
			return awsstate.Secret{Name: "coderdemo/" + c.region + "/" + name, AWSRegion: c.awsRegion, Tags: awsstate.OwnedTags("coderdemo", c.region, name)}
		}
		if c.region != "us-east-2" {
			writeAWSState(t, repo, c.region, awsstate.File{Kind: awsstate.KindWorkspaceProxyList, Fleet: "coderdemo", Region: c.region,
				WorkspaceProxies: []awsstate.WorkspaceProxy{{Name: c.region, DisplayName: c.region, Icon: "/emojis/1f310.png", TokenSecret: token("coder-proxy-token")}}})
			if _, err := client.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: c.region, DisplayName: c.region, Icon: "/emojis/1f310.png"}); err != nil {
				t.Fatal(err)
			}
		}
		keys := awsstate.File{Kind: awsstate.KindProvisionerKeyList, Fleet: "coderdemo", Region: c.region}
		for _, ns := range namespaces[c.region] {
			tags := map[string]string{"region": c.awsRegion, "namespace": ns}
			keys.ProvisionerKeys = append(keys.ProvisionerKeys, awsstate.ProvisionerKey{Name: c.region + "-" + ns, Organization: "coder", Tags: tags, TokenSecret: token("provisioner-key-" + ns)})
			if ns != "coder-ws-demo" { // its provisioner never connected
				if err := fake.AddProvisionerDaemon("coder", tags, "v2.24.1"); err != nil {
					t.Fatal(err)
				}
			}
		}
		writeAWSState(t, repo, c.region, keys)
	}
	t.Setenv("CODER_URL", url)
	t.Setenv("CODER_SESSION_TOKEN", "owner-token-status")
	coderBoth := func(name string) {
		t.Helper()
		out, _ := statusRun(t, exitChanges, "--repo", repo)
		goldenStatus(t, name+".txt", strings.ReplaceAll(out, url, "<coder-url>"))
		jsonDoc(t, "status", exitChanges, "status", "--repo", repo, "-o", "json")
		out, _ = statusRun(t, exitChanges, "--repo", repo, "-o", "json")
		goldenStatus(t, name+".json", strings.ReplaceAll(out, url, "<coder-url>"))
	}
	coderBoth("coder-unregistered")
	for _, c := range clusters {
		if c.region != "us-east-2" {
			if err := fake.SetProxyStatus(c.region, "ok", "v2.24.1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	coderBoth("coder-ok")
	// --watch until the namespace's provisioner connects: the end of the
	// README's onboarding flow (TestReadmeStatus checks it against these).
	clock.onSleep = func() {
		if err := fake.AddProvisionerDaemon("coder", map[string]string{"region": "us-east-2", "namespace": "coder-ws-demo"}, "v2.24.1"); err != nil {
			t.Error(err)
		}
	}
	out, errs := statusRun(t, exitOK, "--repo", repo, "--watch")
	clock.onSleep = nil
	goldenStatus(t, "coder-watch.txt", errs)
	goldenStatus(t, "coder-serving.txt", strings.ReplaceAll(out, url, "<coder-url>"))
	for _, r := range fake.MutatingRequests() {
		if !strings.HasSuffix(r.Path, "/workspaceproxies") || r.Method != "POST" { // the test's own creates
			t.Errorf("status changed something in Coder: %s %s", r.Method, r.Path)
		}
	}
	// A token coderd does not accept: exit 4 with the hint.
	t.Setenv("CODER_SESSION_TOKEN", "wrong")
	if _, errs := statusRun(t, exitRuntime, "--repo", repo); !strings.Contains(errs, "coder tokens create") || strings.Contains(errs, "wrong") {
		t.Errorf("status with a token coderd refuses: %s", errs)
	}
	t.Setenv("CODER_URL", closed)
	t.Setenv("CODER_SESSION_TOKEN", "owner-token-status")
	statusRun(t, exitRuntime, "--repo", repo)
	t.Setenv("CODER_SESSION_TOKEN", "")
	if _, errs := statusRun(t, exitUsage, "--repo", repo); !strings.Contains(errs, "CODER_SESSION_TOKEN") {
		t.Errorf("CODER_URL without CODER_SESSION_TOKEN: %s", errs)
	}
	t.Setenv("CODER_URL", "")
	for _, c := range clusters {
		for _, f := range []string{awsstate.WorkspaceProxiesFile, awsstate.ProvisionerKeysFile} {
			_ = os.Remove(filepath.Join(repo, "regions", c.region, "aws", f))
		}
	}
}

// writeAWSState writes f into regions/<region>/aws/ of repo.
func writeAWSState(t *testing.T, repo, region string, f awsstate.File) {
	t.Helper()
	data, err := awsstate.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	name := awsstate.WorkspaceProxiesFile
	if f.Kind == awsstate.KindProvisionerKeyList {
		name = awsstate.ProvisionerKeysFile
	}
	if err := os.WriteFile(filepath.Join(repo, "regions", region, "aws", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clockAfterIssue sets clock to one hour after the latest certificate of
// the account was issued (its NotAfter less moto's 365 days): every
// certificate then has 364 whole days left on the clock, and keeps them
// through the watch rounds the test sleeps, however long the machine took
// to issue them in real time.
func clockAfterIssue(t *testing.T, ctx context.Context, cfg aws.Config, clusters []fleetCluster, clock *stepClock) {
	t.Helper()
	var latest time.Time
	for _, cl := range clusters {
		c := acm.NewFromConfig(cfg, func(o *acm.Options) { o.Region = cl.awsRegion })
		list, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.CertificateSummaryList {
			d, err := c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: s.CertificateArn})
			if err != nil {
				t.Fatal(err)
			}
			if na := d.Certificate.NotAfter; na != nil && na.After(latest) {
				latest = *na
			}
		}
	}
	if latest.IsZero() {
		t.Fatal("no issued certificate in moto after sync apply")
	}
	clock.mu.Lock()
	clock.now = latest.AddDate(0, 0, -365).Add(time.Hour).UTC()
	clock.mu.Unlock()
}
