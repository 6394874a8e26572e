package bench_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go/logging"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/awscalls"
	"github.com/coderfleet/coderfleet/internal/motoserver"
	"github.com/coderfleet/coderfleet/internal/synth"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// statusRegions is the size of the fleet BenchmarkStatus reads (issue 14:
// 100 regions in under 2 s, median).
const statusRegions = 100

// BenchmarkStatus measures sync.ReadStatus, what coderfleet status runs,
// over a synthetic fleet of statusRegions regions against moto_server in
// the state after onboarding (see onboardedFleet). Setting the state up is
// not timed.
func BenchmarkStatus(b *testing.B) {
	ctx := context.Background()
	f := newAWSFleet(b, statusRegions, 0)
	f.onboard(b)
	opts := f.opts
	serving := 0
	var took []time.Duration
	f.calls.reset()
	cpu := f.startCPU(b)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		st, err := fleetsync.ReadStatus(ctx, opts)
		took = append(took, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Regions) != statusRegions {
			b.Fatalf("status of %d regions, want %d", len(st.Regions), statusRegions)
		}
		serving = 0
		for _, r := range st.Regions {
			if r.Verdict == fleetsync.VerdictServing {
				serving++
			}
		}
	}
	cpu.report(b, len(took))
	f.calls.logOps(b, len(took))
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(serving), "serving-regions")
	b.ReportMetric(float64(f.calls.n.Load())/float64(len(took)), "aws-calls/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/statusRegions/1e6, "ms/region")
}

// cpuMeter holds the CPU times at the start of a measurement: moto_server's
// (one Python process) and this process's (coderfleet's code and the SDK).
type cpuMeter struct {
	moto            *motoserver.Server
	motoCPU, ownCPU time.Duration
}

// startCPU starts measuring the CPU time of f's moto_server and of this
// process.
func (f *awsFleet) startCPU(b *testing.B) *cpuMeter {
	m := &cpuMeter{moto: f.moto}
	m.motoCPU, m.ownCPU = m.read(b)
	return m
}

func (m *cpuMeter) read(b *testing.B) (motoCPU, ownCPU time.Duration) {
	motoCPU, err := m.moto.CPUTime()
	if err != nil {
		b.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return motoCPU, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report reports moto-cpu-ms/op and go-cpu-ms/op: the CPU each side used
// per iteration since startCPU. With both on one machine, their sum over
// the number of cores bounds the wall time from below, and moto's alone
// (one Python process, one core at most) does too.
func (m *cpuMeter) report(b *testing.B, n int) {
	motoCPU, ownCPU := m.read(b)
	b.ReportMetric(float64((motoCPU-m.motoCPU).Milliseconds())/float64(n), "moto-cpu-ms/op")
	b.ReportMetric(float64((ownCPU-m.ownCPU).Milliseconds())/float64(n), "go-cpu-ms/op")
}

// awsFleet is a synthetic fleet on disk (internal/synth) with its own
// moto_server, for the benchmarks of the AWS side: status, sync and
// Terraform. With a delay, every AWS call goes through an awscalls.Proxy
// that adds it (a CI runner far from AWS).
type awsFleet struct {
	dir     string
	moto    *motoserver.Server
	proxy   *awscalls.Proxy // nil without a delay
	cfg     aws.Config      // the SDK's configuration: region us-east-1, the endpoint, the counting transport
	opts    fleetsync.Options
	desired *fleetsync.Desired
	calls   *countingTransport
	// subnets caches moto's default subnet per AWS region ("" where moto
	// has no EC2).
	subnets map[string]string
	// nlbs are the load balancers createNLBs made, by LBRef.String().
	nlbs map[string]nlbTarget
}

// nlbTarget is what an alias record needs of a load balancer.
type nlbTarget struct {
	dnsName, zoneID string
}

// benchRegions is the fleet size of the sync and Terraform benchmarks
// (issue 16: 100 regions); CODERFLEET_BENCH_REGIONS sets another size (at
// least 2: a primary and a proxy) for a quick look by hand.
func benchRegions(b *testing.B) int {
	s := os.Getenv("CODERFLEET_BENCH_REGIONS")
	if s == "" {
		return 100
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 {
		b.Fatalf("CODERFLEET_BENCH_REGIONS=%q: want a number of regions, at least 2", s)
	}
	return n
}

// benchDelay is what the proxy adds to every AWS call in the sync and
// Terraform benchmarks: the round trip of a CI runner far from AWS (issue 16).
const benchDelay = 50 * time.Millisecond

// newAWSFleet writes a synthetic fleet of n regions, renders it, starts
// moto_server (with a proxy adding delay to every call when delay > 0) and
// creates what exists before coderfleet's first sync: the hosted zone, the
// EKS clusters and their IAM OIDC providers.
func newAWSFleet(b testing.TB, n int, delay time.Duration) *awsFleet {
	ctx := context.Background()
	moto := motoserver.StartForTest(b, motoserver.CommonEnv...)
	f := &awsFleet{dir: b.TempDir(), moto: moto, subnets: map[string]string{}}
	endpoint := moto.URL
	var err error
	if delay > 0 {
		if f.proxy, err = awscalls.NewProxy(moto.URL, delay); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(f.proxy.Close)
		endpoint = f.proxy.URL
	}
	files, err := synth.Fleet(os.DirFS(testfleet.RepoRoot(b)), n)
	if err != nil {
		b.Fatal(err)
	}
	// moto serves ACM, EC2 and EKS only in the older AWS regions: the
	// proxies cycle through those instead of every known code.
	i := 0
	for _, name := range synth.Names(n)[1:] {
		p := "overlays/" + name + "/region.yaml"
		files[p] = awsRegionLine.ReplaceAll(files[p], []byte("awsRegion: "+motoRegions[i%len(motoRegions)]))
		i++
	}
	if err := synth.Write(filesys.MakeFsOnDisk(), f.dir, files); err != nil {
		b.Fatal(err)
	}
	f.render(b)
	b.Setenv("AWS_CA_BUNDLE", "") // the counting client below has no transport options for it
	f.calls = &countingTransport{next: http.DefaultTransport}
	f.cfg, err = config.LoadDefaultConfig(ctx, config.WithLogger(logging.Nop{}), config.WithRegion("us-east-1"), config.WithHTTPClient(&http.Client{Transport: f.calls}),
		config.WithBaseEndpoint(endpoint), config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", "")))
	if err != nil {
		b.Fatal(err)
	}
	repo := os.DirFS(f.dir)
	f.opts = fleetsync.Options{Repo: repo, Clients: fleetsync.NewClients(f.cfg), Progress: io.Discard,
		WriteFile: func(p string, data []byte) error {
			return os.WriteFile(filepath.Join(f.dir, filepath.FromSlash(p)), data, 0o644)
		}}
	if f.desired, err = fleetsync.LoadDesired(repo, nil, nil); err != nil {
		b.Fatal(err)
	}
	f.createBase(b)
	return f
}

// createBase creates in moto what exists before coderfleet's first sync:
// the hosted zone, the EKS clusters and their IAM OIDC providers.
func (f *awsFleet) createBase(b testing.TB) {
	ctx := context.Background()
	if _, err := route53.NewFromConfig(f.cfg).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(f.desired.Regions[0].HostedZone), CallerReference: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	clusters := map[string]fleetsync.LBRef{}
	for _, r := range f.desired.Regions {
		for _, role := range r.Roles {
			clusters[role.Cluster.AWSRegion+"/"+role.Cluster.Name] = fleetsync.LBRef{AWSRegion: role.Cluster.AWSRegion, Cluster: role.Cluster.Name}
		}
	}
	// moto has no EC2 in the newest AWS regions: their clusters and NLBs
	// are left out (those regions read as not yet serving).
	for _, c := range clusters {
		if f.subnet(c.AWSRegion) == "" {
			continue
		}
		out, err := eks.NewFromConfig(f.cfg, func(o *eks.Options) { o.Region = c.AWSRegion }).CreateCluster(ctx, &eks.CreateClusterInput{
			Name: aws.String(c.Cluster), RoleArn: aws.String("arn:aws:iam::123456789012:role/eks-cluster"),
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{f.subnet(c.AWSRegion)}}})
		if err != nil {
			b.Fatalf("creating EKS cluster %s: %v", c.Cluster, err)
		}
		if _, err := iam.NewFromConfig(f.cfg).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: out.Cluster.Identity.Oidc.Issuer,
			ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}}); err != nil &&
			!strings.Contains(err.Error(), "EntityAlreadyExists") { // moto can give two clusters one issuer
			b.Fatal(err)
		}
	}
}

// subnet is moto's default subnet in awsRegion, "" where moto has no EC2.
func (f *awsFleet) subnet(awsRegion string) string {
	if _, ok := f.subnets[awsRegion]; !ok {
		f.subnets[awsRegion], _ = f.moto.DefaultSubnet(awsRegion)
	}
	return f.subnets[awsRegion]
}

// render renders the fleet into its regions/ (cold, as the CLI does).
func (f *awsFleet) render(b testing.TB) {
	res, err := renderCold(filesys.MakeFsOnDisk(), f.dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := (&treeio.Writer{Dir: filepath.Join(f.dir, "regions")}).Write(res); err != nil {
		b.Fatal(err)
	}
}

// createNLBs creates the load balancer the AWS Load Balancer Controller
// would make for each Service a record aliases, tagged as it tags them.
func (f *awsFleet) createNLBs(b testing.TB) {
	ctx := context.Background()
	lbs := map[string]fleetsync.LBRef{}
	for _, r := range f.desired.Regions {
		for _, rec := range r.Records {
			ref := fleetsync.LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			lbs[ref.String()] = ref
		}
	}
	f.nlbs = map[string]nlbTarget{}
	for i, ref := range lbs {
		if f.subnet(ref.AWSRegion) == "" {
			continue
		}
		ns, name, _ := strings.Cut(ref.Service, "/")
		out, err := elbv2.NewFromConfig(f.cfg, func(o *elbv2.Options) { o.Region = ref.AWSRegion }).CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
			Name: aws.String(fmt.Sprintf("k8s-%.8s-%.8s-%08x", ns, name, hash(i))), Type: elbtypes.LoadBalancerTypeEnumNetwork,
			Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Subnets: []string{f.subnet(ref.AWSRegion)},
			Tags: []elbtypes.Tag{{Key: aws.String("service.k8s.aws/stack"), Value: aws.String(ref.Service)}, {Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String(ref.Cluster)}},
		})
		if err != nil {
			b.Fatalf("creating the NLB of %s: %v", i, err)
		}
		lb := out.LoadBalancers[0]
		f.nlbs[i] = nlbTarget{dnsName: aws.ToString(lb.DNSName), zoneID: aws.ToString(lb.CanonicalHostedZoneId)}
	}
}

// apply runs sync apply (fleetsync.Apply) and fails the benchmark on an error.
func (f *awsFleet) apply(b testing.TB) *fleetsync.Result {
	res, err := fleetsync.Apply(context.Background(), f.opts)
	if err != nil {
		b.Fatalf("sync apply: %v", err)
	}
	return res
}

// onboard brings the fleet to the state after onboarding: sync apply
// (certificates, health checks, roles), a render that picks up the issued
// certificates (outputs.yaml), the controller's NLBs, and sync apply again
// (the alias records).
func (f *awsFleet) onboard(b testing.TB) {
	f.apply(b)
	f.render(b)
	f.createNLBs(b)
	f.apply(b)
}

// countingTransport counts the HTTP requests that reach moto, in all and
// by "service operation" (the SDK's names, from the request's context).
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
	mu   gosync.Mutex
	ops  map[string]int
	took map[string]time.Duration
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	op := awsmiddleware.GetServiceID(r.Context()) + " " + awsmiddleware.GetOperationName(r.Context())
	start := time.Now()
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	if c.ops == nil {
		c.ops, c.took = map[string]int{}, map[string]time.Duration{}
	}
	c.ops[op]++
	c.took[op] += time.Since(start)
	c.mu.Unlock()
	return resp, err
}

// reset sets the counts to zero.
func (c *countingTransport) reset() {
	c.n.Store(0)
	c.mu.Lock()
	c.ops, c.took = nil, nil
	c.mu.Unlock()
}

// logOps logs the calls per operation and the time until their response
// headers (summed over calls in flight at once), divided by reads, most
// calls first.
func (c *countingTransport) logOps(b *testing.B, reads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := slices.Collect(maps.Keys(c.ops))
	slices.SortFunc(ops, func(x, y string) int { return cmp.Or(c.ops[y]-c.ops[x], strings.Compare(x, y)) })
	for _, op := range ops {
		b.Logf("%-50s %8.1f calls/read %8.0f ms/read %6.1f ms/call", op, float64(c.ops[op])/float64(reads),
			float64(c.took[op].Milliseconds())/float64(reads), float64(c.took[op].Microseconds())/1e3/float64(c.ops[op]))
	}
}

// motoRegions are AWS regions in which moto_server serves ACM, EC2, ELBv2
// and EKS.
var motoRegions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "sa-east-1"}

var awsRegionLine = regexp.MustCompile(`(?m)^awsRegion: .*$`)

// hash is a short stable number for an NLB name (32 characters at most).
func hash(s string) uint32 {
	var h uint32 = 2166136261
	for i := range len(s) {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
