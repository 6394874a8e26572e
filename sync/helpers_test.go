package sync

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/internal/awscalls"
	"github.com/coderfleet/coderfleet/internal/motoserver"
)

// The example fleet: us-east-2 primary with LiteLLM exposed, two proxies.
func exampleFleet() []regionInput {
	base := regionInput{FleetName: "demo", Domain: "coderdemo.io", HostedZone: "coderdemo.io"}
	p := base
	p.Region, p.AWSRegion, p.Role, p.ClusterName, p.CoderService = "us-east-2", "us-east-2", rolePrimary, "coder-us-east-2", "coder/coder"
	p.LiteLLMExposed, p.LiteLLMService = true, "litellm/litellm"
	w := base
	w.Region, w.AWSRegion, w.Role, w.ClusterName, w.CoderService = "us-west-2", "us-west-2", roleProxy, "coder-us-west-2", "coder-proxy/coder-proxy"
	e := w
	e.Region, e.AWSRegion, e.ClusterName = "eu-west-2", "eu-west-2", "coder-eu-west-2"
	return []regionInput{p, w, e}
}

// repo is an in-memory repository that Apply can write outputs into.
type repo struct {
	mu     gosync.Mutex
	fs     fstest.MapFS
	writes int
}

func newRepo(t *testing.T, inputs ...regionInput) *repo {
	t.Helper()
	r := &repo{fs: fstest.MapFS{}}
	for _, in := range inputs {
		files, err := buildAWS(in)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			r.fs["regions/"+in.Region+"/aws/"+name] = &fstest.MapFile{Data: b}
		}
	}
	return r
}

func (r *repo) WriteFile(p string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	r.fs[p] = &fstest.MapFile{Data: append([]byte(nil), data...)}
	return nil
}

// fakeClock advances only when slept on; it records every sleep.
type fakeClock struct {
	mu     gosync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

// slept returns the durations slept so far.
func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// realShortClock really sleeps, but at most 50ms, so moto's ACM validation
// wait (wall-clock seconds) can pass while the sync code believes it waits longer.
type realShortClock struct{ fakeClock }

func (c *realShortClock) Sleep(ctx context.Context, d time.Duration) error {
	_ = c.fakeClock.Sleep(ctx, d)
	return RealClock{}.Sleep(ctx, min(d, 50*time.Millisecond))
}

var (
	motoOnce gosync.Once
	motoSrv  *motoserver.Server
	motoErr  error
)

// moto returns the package's moto_server, started on first use and reset for
// every test, with AWS's managed IAM policies loaded (the rendered roles
// attach some). A missing moto_server fails the test.
func moto(t *testing.T) *motoserver.Server {
	t.Helper()
	motoOnce.Do(func() {
		motoSrv, motoErr = motoserver.Start(motoserver.CommonEnv...)
	})
	if motoErr != nil {
		t.Fatalf("moto_server is required: %v", motoErr)
	}
	if err := motoSrv.Reset(); err != nil {
		t.Fatal(err)
	}
	return motoSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if motoSrv != nil {
		motoSrv.Stop()
	}
	os.Exit(code)
}

// counter counts the requests that reach AWS, by operation.
type counter = awscalls.Counter

func newCounter(next http.RoundTripper) *counter { return awscalls.New(next) }

// awsConfig points the SDK at url with rt as transport, no SDK retries (sync
// retries itself) and dummy credentials.
func awsConfig(url string, rt http.RoundTripper) aws.Config {
	return aws.Config{
		Region:       "us-east-2",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   &http.Client{Transport: rt, Timeout: 30 * time.Second},
	}
}

var nlbSeq atomic.Int64

// createNLB makes an NLB in moto tagged as the AWS Load Balancer Controller
// tags the NLB of a Service.
func createNLB(t *testing.T, url, awsRegion, cluster, service string) *elbtypes.LoadBalancer {
	t.Helper()
	subnet := defaultSubnet(t, url, awsRegion)
	c := elbv2.NewFromConfig(awsConfig(url, http.DefaultTransport), func(o *elbv2.Options) { o.Region = awsRegion })
	ns, name, _ := strings.Cut(service, "/")
	out, err := c.CreateLoadBalancer(context.Background(), &elbv2.CreateLoadBalancerInput{
		Name: aws.String(fmt.Sprintf("k8s-%s-%s-%d", ns, name, nlbSeq.Add(1))), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Subnets: []string{subnet},
		Tags: []elbtypes.Tag{
			{Key: aws.String(tagStack), Value: aws.String(service)},
			{Key: aws.String(tagCluster), Value: aws.String(cluster)},
			{Key: aws.String("service.k8s.aws/resource"), Value: aws.String("LoadBalancer")},
		},
	})
	if err != nil {
		t.Fatalf("creating NLB in moto: %v", err)
	}
	return &out.LoadBalancers[0]
}

// defaultSubnet asks moto's EC2 (a query API; moto does not check signatures)
// for a default subnet of the region.
func defaultSubnet(t *testing.T, url, awsRegion string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader("Action=DescribeSubnets&Version=2016-11-15"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/"+awsRegion+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`<subnetId>([^<]+)</subnetId>`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no default subnet in moto's %s: %s", awsRegion, b)
	}
	return string(m[1])
}

// createExampleNLBs creates the NLBs of every Service of the example fleet.
func createExampleNLBs(t *testing.T, url string) {
	for _, in := range exampleFleet() {
		createNLB(t, url, in.AWSRegion, in.ClusterName, in.CoderService)
		if in.LiteLLMExposed {
			createNLB(t, url, in.AWSRegion, in.ClusterName, in.LiteLLMService)
		}
	}
}

// foreignRecords are records someone else manages in the zone coderdemo.io.
func foreignRecords() []r53types.ResourceRecordSet { return foreignRecordsIn("coderdemo.io") }

// foreignRecordsIn are records someone else manages in zone.
func foreignRecordsIn(zone string) []r53types.ResourceRecordSet {
	rr := func(name string, typ r53types.RRType, vals ...string) r53types.ResourceRecordSet {
		r := r53types.ResourceRecordSet{Name: aws.String(name), Type: typ, TTL: aws.Int64(300)}
		for _, v := range vals {
			r.ResourceRecords = append(r.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
		}
		return r
	}
	return []r53types.ResourceRecordSet{
		rr(zone+".", r53types.RRTypeTxt, `"v=spf1 include:_spf.google.com ~all"`, `"google-site-verification=abc"`),
		rr(zone+".", r53types.RRTypeMx, "1 aspmx.l.google.com."),
		rr("www."+zone+".", r53types.RRTypeCname, zone+"."),
		rr("docs."+zone+".", r53types.RRTypeA, "192.0.2.10"),
		{Name: aws.String("status." + zone + "."), Type: r53types.RRTypeA, SetIdentifier: aws.String("us-east-2"), Region: r53types.ResourceRecordSetRegionUsEast2,
			TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.20")}}},
	}
}

// createZone makes the hosted zone and its foreign records through api.
func createZoneRecords(t *testing.T, api Route53API, zoneID string) {
	t.Helper()
	createForeign(t, api, zoneID, foreignRecords())
}

func createForeign(t *testing.T, api Route53API, zoneID string, recs []r53types.ResourceRecordSet) {
	t.Helper()
	var changes []r53types.Change
	for _, rr := range recs {
		// UPSERT, not CREATE: the SDK retries a call whose answer did not
		// come back in the client's time (a busy machine), and a CREATE
		// that moto already made would then fail as "already exists".
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rr})
	}
	if _, err := api.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes}}); err != nil {
		t.Fatalf("creating foreign records: %v", err)
	}
}
