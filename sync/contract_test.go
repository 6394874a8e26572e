package sync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/sync/internal/r53fake"
)

// env is one AWS to run the contract against: Route53 is moto's or the
// stateful fake; ACM and ELBv2 are always moto's.
type env struct {
	name    string
	url     string
	zoneID  string
	r53     Route53API
	direct  Route53API // no faults, not counted: for the test's own reads
	fake    *r53fake.Route53
	counter *counter
	clients Clients
}

type envMaker func(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *env

func motoEnv(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *env {
	srv := moto(t)
	var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if wrap != nil {
		rt = wrap(rt)
	}
	e := &env{name: "moto", url: srv.URL, counter: newCounter(rt)}
	e.clients = NewClients(awsConfig(srv.URL, e.counter))
	e.r53 = e.clients.Route53
	// The zone is created outside the counted transport.
	setup := route53.NewFromConfig(awsConfig(srv.URL, http.DefaultTransport))
	out, err := setup.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{Name: aws.String("coderdemo.io"), CallerReference: aws.String("zone")})
	if err != nil {
		t.Fatal(err)
	}
	e.zoneID = strings.TrimPrefix(*out.HostedZone.Id, "/hostedzone/")
	createZoneRecords(t, setup, e.zoneID)
	e.direct = setup
	return e
}

func fakeEnv(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *env {
	e := motoEnv(t, wrap)
	e.name = "fake"
	e.fake = r53fake.New()
	e.fake.PendingPolls = 2
	e.zoneID = e.fake.AddZone("coderdemo.io")
	createZoneRecords(t, e.fake, e.zoneID)
	e.fake.Calls = map[string]int{}
	e.r53, e.direct = e.fake, e.fake
	e.clients.Route53 = e.fake
	return e
}

func (e *env) mutating() int {
	n := e.counter.Mutating()
	if e.fake != nil {
		n += e.fake.Mutating()
	}
	return n
}

func (e *env) options(r *repo, clock Clock) Options {
	return Options{Repo: r.fs, Clients: e.clients, Clock: clock, WriteFile: r.WriteFile, PollInterval: 200e6, CertificateTimeout: 60e9}
}

// zoneRecords lists the zone raw, as Route53 (or the fake) returns it.
func (e *env) zoneRecords(t *testing.T) []r53types.ResourceRecordSet {
	t.Helper()
	var all []r53types.ResourceRecordSet
	seen := map[string]bool{}
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(e.zoneID)}
	for {
		out, err := e.direct.ListResourceRecordSets(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range out.ResourceRecordSets {
			k := fromRoute53(rr).Key()
			if !seen[k] {
				seen[k] = true
				all = append(all, rr)
			}
		}
		if !out.IsTruncated {
			return all
		}
		in = &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(e.zoneID), StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType, StartRecordIdentifier: out.NextRecordIdentifier}
	}
}

// foreignSnapshot serialises the foreign records exactly as the API returns them.
func (e *env) foreignSnapshot(t *testing.T) string {
	t.Helper()
	want := map[string]bool{}
	for _, rr := range foreignRecords() {
		want[fromRoute53(rr).Key()] = true
	}
	var parts []string
	for _, rr := range e.zoneRecords(t) {
		if want[fromRoute53(rr).Key()] {
			b, err := json.Marshal(rr)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, string(b))
		}
	}
	sort.Strings(parts)
	if len(parts) != len(want) {
		t.Fatalf("found %d of the %d foreign records", len(parts), len(want))
	}
	return strings.Join(parts, "\n")
}

var envs = []struct {
	name string
	make envMaker
}{{"fake", fakeEnv}, {"moto", motoEnv}}

// TestContract runs the same behaviour against moto and the fake.
func TestContract(t *testing.T) {
	for _, ev := range envs {
		t.Run(ev.name, func(t *testing.T) {
			t.Run("ApplyCreatesEverythingThenPlanIsEmpty", func(t *testing.T) { contractApply(t, ev.make(t, nil)) })
			t.Run("PaginationWithSetIdentifiers", func(t *testing.T) { contractPaging(t, ev.make(t, nil)) })
			t.Run("PruneDeletesOnlyOwnedObjects", func(t *testing.T) { contractPrune(t, ev.make(t, nil)) })
			t.Run("ForeignRecordIsAConflictNotAChange", func(t *testing.T) { contractConflict(t, ev.make(t, nil)) })
		})
	}
}

func contractApply(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	before := e.foreignSnapshot(t)
	r := newRepo(t, exampleFleet()...)
	clock := &realShortClock{*newFakeClock()}
	var progress strings.Builder
	opts := e.options(r, clock)
	opts.Progress = &progress

	res, err := Apply(ctx, opts)
	if err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, progress.String())
	}
	add, _, destroy := res.Plan.Counts()
	// The registry of AWS regions + 4 certificates + 3 health checks + 9
	// alias records planned up front.
	if add != 17 || destroy != 0 {
		var b strings.Builder
		_ = WritePlan(&b, res.Plan, FormatText)
		t.Errorf("first plan: %d to add, %d to destroy, want 17 and 0\n%s", add, destroy, b.String())
	}
	if !res.Final.Converged() {
		t.Errorf("state after apply is not converged: %+v", res.Final)
	}

	// Every record is there, with its ownership record.
	recs := map[string]Record{}
	for _, rr := range e.zoneRecords(t) {
		rec := fromRoute53(rr)
		recs[rec.Key()] = rec
	}
	for _, k := range []string{
		"coderdemo.io A [us-east-2]", "*.coderdemo.io A [us-east-2]", "us-east-2.coderdemo.io A", "*.us-east-2.coderdemo.io A",
		"llm.coderdemo.io A", "us-west-2.coderdemo.io A", "*.us-west-2.coderdemo.io A", "eu-west-2.coderdemo.io A", "*.eu-west-2.coderdemo.io A",
		"_cf-a.coderdemo.io TXT [us-east-2]", "_cf-a._wildcard.coderdemo.io TXT [us-east-2]", "_cf-a._wildcard.eu-west-2.coderdemo.io TXT",
	} {
		if _, ok := recs[k]; !ok {
			t.Errorf("record %s missing", k)
		}
	}
	apex := recs["coderdemo.io A [us-east-2]"]
	if apex.Region != "us-east-2" || apex.HealthCheckID == "" || apex.Alias == nil || !apex.Alias.EvaluateTargetHealth || !strings.Contains(apex.Alias.DNSName, "k8s-coder-coder") {
		t.Errorf("apex record = %+v", apex)
	}
	if px := recs["us-west-2.coderdemo.io A"]; px.Alias == nil || !strings.Contains(px.Alias.DNSName, "k8s-coder-proxy-coder-proxy") || px.SetIdentifier != "" {
		t.Errorf("proxy record = %+v", px)
	}
	if owner := recs["_cf-a.coderdemo.io TXT [us-east-2]"]; owner.Region != "us-east-2" || len(owner.Values) != 1 || owner.Values[0] != ownerValue("demo", "us-east-2") {
		t.Errorf("owner record = %+v", owner)
	}
	cnames := 0
	for _, rec := range recs {
		if rec.Type == "CNAME" && strings.HasPrefix(rec.Name, "_") {
			cnames++
		}
	}
	// coderdemo.io and *.coderdemo.io share one validation name; so do each
	// <region>.coderdemo.io and its wildcard.
	if cnames != 5 {
		t.Errorf("%d validation CNAMEs, want 5 (deduplicated)", cnames)
	}

	// Outputs hold the ARN of each issued certificate.
	for region, names := range map[string][]string{"us-east-2": {"coder", "litellm"}, "us-west-2": {"proxy"}, "eu-west-2": {"proxy"}} {
		f := r.fs["overlays/"+region+"/outputs.yaml"]
		if f == nil {
			t.Fatalf("overlays/%s/outputs.yaml not written", region)
		}
		o, err := awsstate.ParseOutputs("outputs.yaml", f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.HasPrefix(o.Certificates[n], "arn:aws:acm:"+region+":") {
				t.Errorf("%s outputs: certificate %s = %q", region, n, o.Certificates[n])
			}
			arn := o.Certificates[n]
			// Every certificate gets its line, however fast ACM issued it.
			if line := "certificate " + region + "/" + n + " is ISSUED: " + arn + "\n"; !strings.Contains(progress.String(), line) {
				t.Errorf("progress lacks %q:\n%s", line, progress.String())
			}
			d, err := e.clients.ACM(region).DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})
			if err != nil || d.Certificate.Status != "ISSUED" {
				t.Errorf("certificate %s: %v %v", arn, err, d)
			}
		}
	}

	// Plan is now empty, and the foreign records are byte-for-byte unchanged.
	p, err := PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Converged() {
		var b strings.Builder
		_ = WritePlan(&b, p, FormatText)
		t.Errorf("plan after apply is not empty:\n%s", b.String())
	}
	if after := e.foreignSnapshot(t); after != before {
		t.Errorf("foreign records changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A second apply makes no mutating call, writes no file and reads AWS
	// once (one lookup of the hosted zone per read), as plan does.
	lookups := func() int {
		if e.fake != nil {
			return e.fake.Calls["ListHostedZonesByName"]
		}
		return e.counter.Count("ListHostedZonesByName")
	}
	writes, mut, looked := r.writes, e.mutating(), lookups()
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if n := e.mutating() - mut; n != 0 {
		t.Errorf("second apply made %d mutating calls, want 0 (calls: %v)", n, e.counter.Calls())
	}
	if n := lookups() - looked; n != 1 {
		t.Errorf("second apply read the state %d times, want once", n)
	}
	if r.writes != writes {
		t.Errorf("second apply rewrote outputs")
	}
}

func contractPaging(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	opts.RecordPageSize = 2
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	p, err := PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Converged() {
		t.Errorf("with 2 records a page the plan after apply is not empty: %+v", p.Changes)
	}
	if e.counter.Count("ListResourceRecordSets") < 10 && (e.fake == nil || e.fake.Calls["ListResourceRecordSets"] < 10) {
		t.Errorf("listing did not page")
	}
}

func contractPrune(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	before := e.foreignSnapshot(t)
	fleet := exampleFleet()
	r := newRepo(t, fleet...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// LiteLLM is no longer exposed: its certificate and record leave the desired state.
	fleet[0].LiteLLMExposed = false
	r2 := newRepo(t, fleet...)
	for _, region := range []string{"us-east-2", "us-west-2", "eu-west-2"} {
		r2.fs[outputsPath(region)] = r.fs[outputsPath(region)]
	}
	opts.Repo, opts.WriteFile = r2.fs, r2.WriteFile
	p, err := PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// us-east-2's outputs.yaml still names the litellm certificate: apply rewrites it.
	if len(p.Changes) != 0 || len(p.Notes) != 4 || strings.Join(p.Outputs, " ") != "overlays/us-east-2/outputs.yaml" || p.Status() != StatusChangesPending {
		t.Fatalf("without --prune want no changes, 4 notes (certificate, record, validation record, outputs.yaml) and us-east-2's outputs.yaml to write, got %+v / %q / %q", p.Changes, p.Notes, p.Outputs)
	}
	opts.Prune = true
	p, err = PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, c := range p.Changes {
		a := string(c.Action) + " " + c.Resource + " " + c.Address
		if strings.HasSuffix(a, ".llm.coderdemo.io CNAME") {
			a = "delete record coderdemo.io: <validation>.llm.coderdemo.io CNAME"
		}
		addrs = append(addrs, a)
	}
	want := []string{"delete record coderdemo.io: <validation>.llm.coderdemo.io CNAME", "delete record coderdemo.io: llm.coderdemo.io A", "delete certificate us-east-2/litellm"}
	if strings.Join(addrs, "|") != strings.Join(want, "|") {
		t.Errorf("prune plan = %q, want %q", addrs, want)
	}
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	p, err = PlanChanges(ctx, opts)
	if err != nil || !p.Converged() || len(p.Notes) != 0 {
		t.Errorf("after prune: %v %+v", err, p)
	}
	for _, rr := range e.zoneRecords(t) {
		if n := fromRoute53(rr).Name; strings.Contains(n, "llm.") {
			t.Errorf("record %s left after prune", n)
		}
	}
	o, _ := awsstate.ParseOutputs("o", r2.fs["overlays/us-east-2/outputs.yaml"].Data)
	if _, ok := o.Certificates["litellm"]; ok || o.Certificates["coder"] == "" {
		t.Errorf("outputs after prune = %v", o.Certificates)
	}
	if after := e.foreignSnapshot(t); after != before {
		t.Errorf("foreign records changed by prune")
	}
}

func contractConflict(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	foreign := r53types.ResourceRecordSet{Name: aws.String("us-west-2.coderdemo.io."), Type: r53types.RRTypeA, TTL: aws.Int64(300),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.99")}}}
	if _, err := e.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: &e.zoneID,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: &foreign}}}}); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	_, err := Apply(ctx, opts)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Record != "us-west-2.coderdemo.io A" {
		t.Fatalf("apply error = %v, want one conflict on us-west-2.coderdemo.io A", err)
	}
	for _, rr := range e.zoneRecords(t) {
		rec := fromRoute53(rr)
		if rec.Key() == "us-west-2.coderdemo.io A" && (rec.Alias != nil || len(rec.Values) != 1 || rec.Values[0] != "192.0.2.99") {
			t.Errorf("foreign record was changed: %+v", rec)
		}
		if rec.Name == ownerName("us-west-2.coderdemo.io", "A") {
			t.Errorf("an ownership record was written for a foreign record")
		}
	}
	p, err := PlanChanges(ctx, opts)
	if err != nil || len(p.Changes) != 0 || len(p.Conflicts) != 1 {
		t.Errorf("plan after conflicting apply: %v %+v", err, p)
	}
}

// pendingACM reports every certificate as PENDING_VALIDATION until the
// certificate wait has slept once (a sleep of exactly poll on clock; the
// other waits of an apply sleep other durations), whatever the real ACM says:
// the wait's first round then always finds every certificate pending, however
// fast moto issues and however many reads came before.
type pendingACM struct {
	ACMAPI
	clock *fakeClock
	poll  time.Duration
}

func (p *pendingACM) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	out, err := p.ACMAPI.DescribeCertificate(ctx, in, optFns...)
	if err != nil || out.Certificate == nil {
		return out, err
	}
	if !slices.Contains(p.clock.slept(), p.poll) {
		out.Certificate.Status = acmtypes.CertificateStatusPendingValidation
	}
	return out, err
}

// TestApplyReportsEachCertificateWait checks the progress of the certificate
// wait: a line per pending certificate and round, then one "is ISSUED" line
// per certificate with its ARN, and the wait's sleeps on the injected clock.
func TestApplyReportsEachCertificateWait(t *testing.T) {
	ctx := context.Background()
	e := motoEnv(t, nil)
	r := newRepo(t, exampleFleet()...)
	// Moto issues after a second of wall-clock time, which the clock's
	// short real sleeps let pass within the bound.
	clock := &realShortClock{*newFakeClock()}
	opts := e.options(r, clock)
	real := e.clients.ACM
	opts.Clients.ACM = func(region string) ACMAPI {
		return &pendingACM{ACMAPI: real(region), clock: &clock.fakeClock, poll: opts.PollInterval}
	}
	var progress strings.Builder
	opts.Progress = &progress
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, progress.String())
	}
	out := progress.String()
	for region, names := range map[string][]string{"us-east-2": {"coder", "litellm"}, "us-west-2": {"proxy"}, "eu-west-2": {"proxy"}} {
		o, err := awsstate.ParseOutputs("outputs.yaml", r.fs["overlays/"+region+"/outputs.yaml"].Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.Contains(out, "waiting for certificate "+region+"/"+n+" to be ISSUED: PENDING_VALIDATION") {
				t.Errorf("no waiting line for %s/%s:\n%s", region, n, out)
			}
			line := "certificate " + region + "/" + n + " is ISSUED: " + o.Certificates[n] + "\n"
			if strings.Count(out, line) != 1 {
				t.Errorf("want exactly one %q:\n%s", line, out)
			}
		}
	}
}
