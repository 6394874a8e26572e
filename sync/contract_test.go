package sync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	gosync "sync"
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

// waitWatch is the progress writer of a certificate wait test: it notes
// how many times clock had slept when the wait printed its first line, so
// pendingACM can tell the wait's sleeps from the other waits of an apply
// (validation records, INSYNC), whose number and lengths are not fixed.
type waitWatch struct {
	mu    gosync.Mutex
	clock *fakeClock
	out   strings.Builder
	// mark is the number of sleeps before the wait's first line; -1
	// until then.
	mark int
	// issueAfter is the number of the wait's sleeps after which ACM
	// reports ISSUED.
	issueAfter int
}

func (w *waitWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mark < 0 && strings.HasPrefix(string(p), "waiting for certificate ") {
		w.mark = len(w.clock.slept())
	}
	return w.out.Write(p)
}

// waitSleeps returns the sleeps of the certificate wait so far.
func (w *waitWatch) waitSleeps() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mark < 0 {
		return nil
	}
	return w.clock.slept()[w.mark:]
}

func (w *waitWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// pendingACM reports every certificate as PENDING_VALIDATION until the
// certificate wait has slept watch.issueAfter times, then as ISSUED,
// whatever moto says: the wait's first round always finds every
// certificate pending, however fast moto issues, and the rounds that follow
// do not depend on the wall clock.
type pendingACM struct {
	ACMAPI
	watch *waitWatch
}

func (p *pendingACM) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	out, err := p.ACMAPI.DescribeCertificate(ctx, in, optFns...)
	if err != nil || out.Certificate == nil {
		return out, err
	}
	out.Certificate.Status = acmtypes.CertificateStatusPendingValidation
	if len(p.watch.waitSleeps()) >= p.watch.issueAfter {
		out.Certificate.Status = acmtypes.CertificateStatusIssued
	}
	return out, err
}

// certWaitApply applies the example fleet on a clock that never really
// sleeps, with ACM reporting every certificate pending until the
// certificate wait has slept issueAfter times.
func certWaitApply(t *testing.T, poll, timeout time.Duration, issueAfter int) (*repo, *waitWatch, error) {
	t.Helper()
	e := motoEnv(t, nil)
	r := newRepo(t, exampleFleet()...)
	clock := newFakeClock()
	opts := e.options(r, clock)
	opts.PollInterval, opts.CertificateTimeout = poll, timeout
	watch := &waitWatch{clock: clock, mark: -1, issueAfter: issueAfter}
	real := e.clients.ACM
	opts.Clients.ACM = func(region string) ACMAPI { return &pendingACM{ACMAPI: real(region), watch: watch} }
	opts.Progress = watch
	_, err := Apply(context.Background(), opts)
	return r, watch, err
}

// exampleCerts are the certificates of exampleFleet, region/name.
var exampleCerts = []string{"eu-west-2/proxy", "us-east-2/coder", "us-east-2/litellm", "us-west-2/proxy"}

// TestApplyReportsEachCertificateWait checks the certificate wait: a first
// check without waiting, then waits on the injected clock that start at one
// second and double up to PollInterval (15s by default), a line per pending
// certificate and wait saying how long it has waited and the next wait,
// then one "is ISSUED" line per certificate with its ARN.
func TestApplyReportsEachCertificateWait(t *testing.T) {
	r, watch, err := certWaitApply(t, 0, time.Minute, 6)
	out := watch.String()
	if err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, out)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second}
	if got := watch.waitSleeps(); !slices.Equal(got, want) {
		t.Errorf("the certificate wait slept %v, want %v\nprogress:\n%s", got, want, out)
	}
	waits := []string{"0s of 1m0s; next check in 1s", "1s of 1m0s; next check in 2s", "3s of 1m0s; next check in 4s",
		"7s of 1m0s; next check in 8s", "15s of 1m0s; next check in 15s", "30s of 1m0s; next check in 15s"}
	for _, cert := range exampleCerts {
		region, name, _ := strings.Cut(cert, "/")
		o, err := awsstate.ParseOutputs("outputs.yaml", r.fs["overlays/"+region+"/outputs.yaml"].Data)
		if err != nil {
			t.Fatal(err)
		}
		prefix := "waiting for certificate " + cert + " to be ISSUED: PENDING_VALIDATION ("
		if n := strings.Count(out, prefix); n != len(waits) {
			t.Errorf("%d waiting lines for %s, want %d:\n%s", n, cert, len(waits), out)
		}
		for _, w := range waits {
			if !strings.Contains(out, prefix+w+")\n") {
				t.Errorf("no line %q:\n%s", prefix+w+")", out)
			}
		}
		line := "certificate " + cert + " is ISSUED: " + o.Certificates[name] + "\n"
		if o.Certificates[name] == "" || strings.Count(out, line) != 1 {
			t.Errorf("want exactly one %q:\n%s", line, out)
		}
	}
	// The lines of each round come in the order of the certificates.
	var order []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "waiting for certificate "); ok {
			order = append(order, strings.Fields(rest)[0])
		}
	}
	for i := 0; i < len(order); i += len(exampleCerts) {
		if got := order[i:min(i+len(exampleCerts), len(order))]; !slices.Equal(got, exampleCerts) {
			t.Errorf("a round's waiting lines come in the order %v, want %v:\n%s", got, exampleCerts, out)
		}
	}
}

// TestApplyCertificateWaitEndsAtTheBound checks that the waits of the
// certificate wait stay within CertificateTimeout, the last one ending at
// it, and that the certificates still pending then are named in a
// *CertificateTimeoutError after the outputs of the others are written.
func TestApplyCertificateWaitEndsAtTheBound(t *testing.T) {
	_, watch, err := certWaitApply(t, 5*time.Second, 20*time.Second, 1000)
	out := watch.String()
	var te *CertificateTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("apply: %v, want a *CertificateTimeoutError\nprogress:\n%s", err, out)
	}
	if !slices.Equal(te.Pending, exampleCerts) || te.Timeout != 20*time.Second {
		t.Errorf("pending %v after %s, want %v after 20s", te.Pending, te.Timeout, exampleCerts)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 3 * time.Second}
	if got := watch.waitSleeps(); !slices.Equal(got, want) {
		t.Errorf("the certificate wait slept %v, want %v (doubling from 1s, at most PollInterval 5s, the last ending at 20s)\nprogress:\n%s", got, want, out)
	}
	if !strings.Contains(out, "waiting for certificate us-east-2/coder to be ISSUED: PENDING_VALIDATION (17s of 20s; next check in 3s)\n") {
		t.Errorf("no last waiting line ending at the bound:\n%s", out)
	}
}
